"""Peer for `rg bench generate`: transformers generate (PyTorch CPU, fp32) on the same GGUF and prompt ids.

Prefill: one forward over the prompt (use_cache=True, logits of the last position only), tokens/s. Decode: greedy `generate` of exactly N new
tokens (min_new_tokens = max_new_tokens, so EOS cannot end it early); decode time = generate time minus the
prefill time, tokens/s = (N - 1) / decode time (the first new token comes from the prefill). Median over runs
after a warm-up. Same thread count as rg. Prints one JSON line.

Usage: tools/.venv/bin/python tools/bench/generate_peer.py --gguf FILE --ids-file IDS.json --new 128 --runs 3 --threads 2
"""

import argparse
import json
import os
import resource
import statistics
import time

import torch
import transformers
from transformers import AutoModelForCausalLM


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--gguf", required=True)
    p.add_argument("--ids-file", required=True, help="JSON list of prompt token ids")
    p.add_argument("--new", type=int, default=128)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    folder, name = os.path.split(os.path.abspath(a.gguf))
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model.eval()
    with open(a.ids_file) as f:
        ids = torch.tensor([json.load(f)], dtype=torch.long)
    mask = torch.ones_like(ids)

    def prefill() -> float:
        t0 = time.perf_counter()
        # Logits of the last position only, as generate itself asks for (and as rg's prefill computes).
        model(input_ids=ids, attention_mask=mask, use_cache=True, logits_to_keep=1)
        return time.perf_counter() - t0

    def gen() -> tuple[float, list[int]]:
        t0 = time.perf_counter()
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=a.new, min_new_tokens=a.new,
                             pad_token_id=model.config.eos_token_id)
        return time.perf_counter() - t0, out[0, ids.shape[1]:].tolist()

    with torch.inference_mode():
        prefill()
        gen()
        pre = statistics.median(prefill() for _ in range(a.runs))
        gens = [gen() for _ in range(a.runs)]
    total = statistics.median(t for t, _ in gens)
    print(json.dumps({
        "peer": f"transformers {transformers.__version__} generate, torch {torch.__version__} (CPU, fp32)",
        "prefillTokensPerSecond": ids.shape[1] / pre,
        "decodeTokensPerSecond": (a.new - 1) / max(total - pre, 1e-9),
        "requestSeconds": total,
        "generatedIds": gens[0][1],
        "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": a.threads,
    }))


if __name__ == "__main__":
    main()
