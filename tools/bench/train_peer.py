"""Peer for `rg bench train`: PyTorch + PEFT LoRA training steps on the same GGUF-loaded model.

Same config as rg's side: fp32 weights dequantized from the GGUF by transformers, LoRA rank R / alpha on the
given targets, dropout 0, AdamW (torch defaults, lr 3e-4), random token ids (seeded), labels = input_ids,
the same thread count. Prints one JSON line: median ms per step after warm-up, tokens/s, peak RSS.

Usage: tools/.venv/bin/python tools/bench/train_peer.py --gguf FILE --seq 256 --batch 1 --rank 2 --steps 20 --threads 2
"""

import argparse
import json
import os
import resource
import statistics
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--gguf", required=True)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--rank", type=int, default=2)
    p.add_argument("--alpha", type=float, default=32)
    p.add_argument("--targets", default="gate_proj,up_proj,down_proj")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    folder, name = os.path.split(os.path.abspath(a.gguf))
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    torch.manual_seed(0)
    model = get_peft_model(model, LoraConfig(r=a.rank, lora_alpha=a.alpha, lora_dropout=0.0, target_modules=a.targets.split(","), task_type="CAUSAL_LM"))
    model.train()
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=3e-4)
    ids = torch.randint(0, model.config.vocab_size, (a.batch, a.seq), generator=torch.Generator().manual_seed(1))
    times = []
    for step in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        if step >= a.warmup:
            times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    print(json.dumps({
        "peer": f"torch {torch.__version__} + peft {__import__('peft').__version__} (eager, fp32)",
        "msPerStep": ms,
        "tokensPerSecond": a.batch * a.seq / (ms / 1000),
        "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": a.threads,
    }))


if __name__ == "__main__":
    main()
