"""LoRA gradients and an AdamW loss trajectory on SmolLM2-135M-Instruct from PyTorch + PEFT.

The reference rg's training graph and optimizer are checked against (packages/lora-trainer/fixtures/):
- init-adapter/: a PEFT LoRA adapter (rank 2, alpha 32, dropout 0, gate/up/down on all 30 layers) with A
  from PEFT's own init (kaiming-uniform a=sqrt(5), seed 0) and B ~ 0.01 * N(0, 1) (seed 1) instead of zeros,
  so that dL/dA is not trivially zero.
- grads.safetensors: dL/dA and dL/dB at that adapter for TEXT with labels = input_ids (PEFT tensor names).
- lora-reference.json: token ids, loss, per-tensor gradient norms, and the loss of 10 AdamW steps
  (torch.optim.AdamW defaults: betas 0.9/0.999, eps 1e-8, weight decay 0.01; lr LR) starting from the
  same adapter with B zeroed (PEFT's real init), one example, plus the loss after the 10th update.

Usage: tools/.venv/bin/python tools/reference/lora_reference.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
"""

import json
import os
import sys

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

GGUF = sys.argv[1] if len(sys.argv) > 1 else "/work/models/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "lora-trainer", "fixtures")
TEXT = (
    "The lighthouse keeper of Varnholm Island, Edda Quist, logged every passing ship in a green ledger "
    "and rang the brass bell twice at dusk."
)
TARGETS = ["gate_proj", "up_proj", "down_proj"]
LR = 1e-3
STEPS = 10


def lora_params(model):
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def main() -> None:
    torch.set_num_threads(2)
    folder, name = os.path.split(os.path.abspath(GGUF))
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    base = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    torch.manual_seed(0)
    config = LoraConfig(r=2, lora_alpha=32, lora_dropout=0.0, target_modules=TARGETS, task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    model.eval()  # dropout is 0 anyway; eval keeps every module deterministic
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for n, p in lora_params(model).items():
            if "lora_B" in n:
                p.copy_(0.01 * torch.randn(p.shape, generator=gen))
    init = {n: p.detach().clone() for n, p in lora_params(model).items()}
    os.makedirs(os.path.join(OUT, "init-adapter"), exist_ok=True)
    model.save_pretrained(os.path.join(OUT, "init-adapter"))

    ids = tok(TEXT, add_special_tokens=False)["input_ids"]
    x = torch.tensor([ids])
    out = model(input_ids=x, labels=x)
    out.loss.backward()
    grads = {}
    norms = {}
    for n, p in lora_params(model).items():
        key = n.replace(".default", "")
        grads[key] = p.grad.detach().clone().contiguous()
        norms[key] = float(p.grad.norm())
    save_file(grads, os.path.join(OUT, "grads.safetensors"))

    # AdamW from PEFT's real init: the same A, B = 0.
    with torch.no_grad():
        for n, p in lora_params(model).items():
            p.copy_(init[n] if "lora_A" in n else torch.zeros_like(p))
            p.grad = None
    opt = torch.optim.AdamW(list(lora_params(model).values()), lr=LR)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        opt.step()
        losses.append(float(loss))
    with torch.no_grad():
        final = float(model(input_ids=x, labels=x).loss)

    ref = {
        "text": TEXT,
        "ids": ids,
        "rank": 2,
        "alpha": 32,
        "targets": TARGETS,
        "loss": float(out.loss),
        "gradNorms": norms,
        "adamw": {"lr": LR, "betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 0.01, "initB": "zeros", "losses": losses, "finalLoss": final},
        "versions": {"torch": torch.__version__, "peft": __import__("peft").__version__, "transformers": __import__("transformers").__version__},
    }
    with open(os.path.join(OUT, "lora-reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print(json.dumps({"loss": ref["loss"], "losses": losses, "final": final}))


if __name__ == "__main__":
    main()
