"""Reference logits and greedy continuations for SmolLM2-135M-Instruct (Q4_1 GGUF) from transformers.

transformers dequantizes the GGUF itself (through the `gguf` package) and un-permutes the Q/K rows,
so this is an implementation independent of rg's loader and graphs, on the same weights.

Usage: tools/.venv/bin/python tools/reference/smollm2_reference.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
Writes packages/engine/fixtures/smollm2-reference.json (see tools/reference/README.md).
"""

import hashlib
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

GGUF = sys.argv[1] if len(sys.argv) > 1 else "/work/models/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "engine", "fixtures", "smollm2-reference.json")
NEW_TOKENS = 32
TOP_K = 5

PROMPTS = [
    {"name": "capital", "text": "The capital of France is"},
    {"name": "code", "text": "def fibonacci(n):\n    "},
    {"name": "unicode", "text": "Über den Wolken — naïve café, 東京 and 🙂 emoji:"},
    {"name": "chat", "messages": [{"role": "user", "content": "What is the capital of France?"}]},
]


def sha256_f32(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().to(torch.float32).contiguous().numpy().tobytes()).hexdigest()


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)
    folder, name = os.path.split(os.path.abspath(GGUF))
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model.eval()

    cases = []
    for p in PROMPTS:
        if "messages" in p:
            text = tok.apply_chat_template(p["messages"], tokenize=False, add_generation_prompt=True)
        else:
            text = p["text"]
        # The GGUF says add_bos_token = false: the ids are the text's tokens only.
        ids = tok(text, add_special_tokens=False)["input_ids"]
        seq = list(ids)
        top = None
        margins = []
        with torch.no_grad():
            # Full recompute each step, no KV cache, no EOS stop: a plain argmax chain to compare token for token.
            for step in range(NEW_TOKENS):
                logits = model(torch.tensor([seq])).logits[0, -1]
                if step == 0:
                    values, indices = torch.topk(logits, TOP_K)
                    top = {"ids": indices.tolist(), "logits": [float(v) for v in values]}
                best2 = torch.topk(logits, 2).values
                margins.append(float(best2[0] - best2[1]))
                seq.append(int(torch.argmax(logits)))
        # The smallest top-1/top-2 gap on the greedy path: how close a step came to a tie.
        case = {"name": p["name"], "text": text, "ids": ids, "top5": top, "greedy": seq[len(ids) :], "greedyMinMargin": min(margins)}
        if "messages" in p:
            case["messages"] = p["messages"]
        case["greedyText"] = tok.decode(case["greedy"])
        cases.append(case)
        print(p["name"], top["ids"], repr(case["greedyText"]), flush=True)

    sd = model.state_dict()
    q = sd["model.layers.0.self_attn.q_proj.weight"]
    k = sd["model.layers.0.self_attn.k_proj.weight"]
    checks = {
        # sha256 of the fp32 little-endian bytes of whole tensors: exact equality with rg's un-permuted weights.
        "model.layers.0.self_attn.q_proj.weight": {"dims": list(q.shape), "sha256": sha256_f32(q), "row0": q[0, :8].tolist(), "row1": q[1, :8].tolist()},
        "model.layers.0.self_attn.k_proj.weight": {"dims": list(k.shape), "sha256": sha256_f32(k), "row0": k[0, :8].tolist(), "row1": k[1, :8].tolist()},
        "model.embed_tokens.weight": {"dims": list(sd["model.embed_tokens.weight"].shape), "sha256": sha256_f32(sd["model.embed_tokens.weight"])},
    }
    fixture = {
        "source": "transformers " + __import__("transformers").__version__ + ", torch " + torch.__version__ + ", fp32 CPU, gguf_file=" + name,
        "ggufSha256": hashlib.sha256(open(GGUF, "rb").read()).hexdigest(),
        "addSpecialTokens": False,
        "newTokens": NEW_TOKENS,
        "cases": cases,
        "weights": checks,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
