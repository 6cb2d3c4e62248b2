"""Reference fixtures for packages/adapter-store: real PEFT LoRA saves, and PEFT loading what rg wrote.

Step 1 (always): build a tiny random LlamaForCausalLM, wrap it in PEFT LoRA adapters "one" (r=4, alpha=8),
"two" (r=2, alpha=4) and "three" (r=4, alpha=16) with non-trivial random A/B, save them with save_pretrained, and
record in expected.json the values PEFT holds (some tensors in full, each tensor's sum) and the delta W of
PEFT's own add_weighted_adapter "cat" (one*0.7 + two*-0.3) and "linear" (one*0.6 + three*0.4) combinations.

Step 2 (when rg has written its fixtures, see packages/lora/src/peft.test.ts with RG_WRITE_FIXTURES=1):
load each rg-written folder with PeftModel.from_pretrained and check its tensors and logits against PEFT's;
the outcome goes to rg-written-check.json (committed; the TS test asserts it says ok for the current fixtures).

Run: tools/.venv/bin/python tools/reference/adapter_store_peft.py
"""

import hashlib
import json
import os
import shutil

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "adapter-store")
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# Names must not occur inside "lora_" (PEFT warns it may reinitialise such adapters on load).
ADAPTERS = {"one": (4, 8), "two": (2, 4), "three": (4, 16)}
PROMPT = torch.tensor([[1, 5, 9, 13, 2, 7]])


def tiny_model():
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(cfg).eval()


def module_name(layer, target):
    block = "mlp" if target in ("gate_proj", "up_proj", "down_proj") else "self_attn"
    return f"base_model.model.model.layers.{layer}.{block}.{target}"


def lora_layer(model, layer, target):
    block = "mlp" if target in ("gate_proj", "up_proj", "down_proj") else "self_attn"
    return getattr(getattr(model.base_model.model.model.layers[layer], block), target)


def build_peft():
    model = get_peft_model(
        tiny_model(),
        LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, lora_dropout=0.0, task_type="CAUSAL_LM"),
        adapter_name="one",
    )
    for name, (r, alpha) in ADAPTERS.items():
        if name != "one":
            model.add_adapter(name, LoraConfig(r=r, lora_alpha=alpha, target_modules=TARGETS, lora_dropout=0.0, task_type="CAUSAL_LM"))
    # PEFT initialises B to zero; random B makes every check non-trivial.
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for layer in range(2):
            for t in TARGETS:
                m = lora_layer(model, layer, t)
                for name in ADAPTERS:
                    m.lora_A[name].weight.copy_(torch.randn(m.lora_A[name].weight.shape, generator=gen) * 0.5)
                    m.lora_B[name].weight.copy_(torch.randn(m.lora_B[name].weight.shape, generator=gen) * 0.5)
    return model


def delta(model, adapter, layer, target):
    m = lora_layer(model, layer, target)
    return (m.lora_B[adapter].weight @ m.lora_A[adapter].weight * m.scaling[adapter]).detach()


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def step1():
    model = build_peft()
    expected = {"prompt": PROMPT[0].tolist(), "adapters": {}, "compositions": {}}
    for name, (r, alpha) in ADAPTERS.items():
        folder = os.path.join(OUT, f"peft-{name}")
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        model.set_adapter(name)
        model.save_pretrained(OUT, selected_adapters=[name])
        # save_pretrained puts a non-default adapter in a subfolder named after it.
        saved = os.path.join(OUT, name)
        for f in os.listdir(saved):
            shutil.move(os.path.join(saved, f), os.path.join(folder, f))
        os.rmdir(saved)
        os.remove(os.path.join(OUT, "README.md"))  # PEFT's model card template: noise in a fixture
        tensors = {}
        sums = {}
        for layer in range(2):
            for t in TARGETS:
                m = lora_layer(model, layer, t)
                a = m.lora_A[name].weight.detach()
                b = m.lora_B[name].weight.detach()
                sums[f"{module_name(layer, t)}.lora_A.weight"] = float(a.double().sum())
                sums[f"{module_name(layer, t)}.lora_B.weight"] = float(b.double().sum())
                if (layer, t) in ((0, "q_proj"), (1, "down_proj")):
                    tensors[f"{module_name(layer, t)}.lora_A.weight"] = {"shape": list(a.shape), "values": a.flatten().tolist()}
                    tensors[f"{module_name(layer, t)}.lora_B.weight"] = {"shape": list(b.shape), "values": b.flatten().tolist()}
        with torch.no_grad():
            logits = model(PROMPT).logits[0, -1]
        expected["adapters"][name] = {
            "r": r,
            "lora_alpha": alpha,
            "tensors": tensors,
            "sums": sums,
            "last_logits": logits.tolist(),
            "sha256": sha256(os.path.join(folder, "adapter_model.safetensors")),
        }
    model.add_weighted_adapter(["one", "two"], [0.7, -0.3], "cat_one_two", combination_type="cat")
    model.add_weighted_adapter(["one", "three"], [0.6, 0.4], "linear_one_three", combination_type="linear")
    for comp, parts in (("cat_one_two", {"one": 0.7, "two": -0.3}), ("linear_one_three", {"one": 0.6, "three": 0.4})):
        model.set_adapter(comp)
        with torch.no_grad():
            logits = model(PROMPT).logits[0, -1]
        expected["compositions"][comp] = {
            "weights": parts,
            "r": model.peft_config[comp].r,
            "lora_alpha": model.peft_config[comp].lora_alpha,
            "delta": {
                f"{layer}.{t}": {"shape": list(delta(model, comp, layer, t).shape), "values": delta(model, comp, layer, t).flatten().tolist()}
                for layer, t in ((0, "q_proj"), (1, "down_proj"))
            },
            "last_logits": logits.tolist(),
        }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f)
    return model


def step2(model):
    """Load every rg-written folder with PEFT and compare with what PEFT itself holds."""
    cases = {
        # folder: (PEFT adapter it must equal, tolerance on delta W, tolerance on logits). Tensors of "one" must be
        # bit-identical (to torch's .half() rounding for fp16); fp16's delta/logit tolerances come from that rounding.
        "rg-one-fp32": ("one", 0.0, 0.0),
        "rg-one-fp16": ("one", 1e-2, 1e-3),
        "rg-cat-one-two": ("cat_one_two", 1e-6, 1e-5),
    }
    results = {}
    for folder, (ref, delta_tol, logit_tol) in cases.items():
        path = os.path.join(OUT, folder)
        if not os.path.isdir(path):
            results[folder] = {"ok": False, "error": "missing: run the adapter-store tests with RG_WRITE_FIXTURES=1 first"}
            continue
        loaded = PeftModel.from_pretrained(tiny_model(), path, adapter_name="rg").eval()
        worst_delta = 0.0
        worst_tensor = 0.0
        for layer in range(2):
            for t in TARGETS:
                d_rg = delta(loaded, "rg", layer, t)
                d_ref = delta(model, ref, layer, t)
                worst_delta = max(worst_delta, float((d_rg - d_ref).abs().max()))
                if ref == "one":
                    for which in ("lora_A", "lora_B"):
                        got = getattr(lora_layer(loaded, layer, t), which)["rg"].weight
                        want = getattr(lora_layer(model, layer, t), which)["one"].weight
                        if folder.endswith("fp32"):
                            same = torch.equal(got, want)
                        else:
                            same = torch.equal(got, want.half().float())
                        worst_tensor = max(worst_tensor, 0.0 if same else float((got - want).abs().max()))
        model.set_adapter(ref)
        with torch.no_grad():
            want_logits = model(PROMPT).logits[0, -1]
            got_logits = loaded(PROMPT).logits[0, -1]
        logit_diff = float((got_logits - want_logits).abs().max())
        ok = worst_tensor == 0.0 and worst_delta <= delta_tol and logit_diff <= logit_tol
        results[folder] = {
            "ok": ok,
            "reference": ref,
            "sha256": sha256(os.path.join(path, "adapter_model.safetensors")),
            "config_sha256": sha256(os.path.join(path, "adapter_config.json")),
            "max_tensor_mismatch": worst_tensor,
            "max_delta_abs_diff": worst_delta,
            "max_logit_abs_diff": logit_diff,
        }
    with open(os.path.join(OUT, "rg-written-check.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    step2(step1())
