"""Peer for `rg bench store`: PEFT's own adapter loader on the same adapter folders and requests.

Reads a JSON file {"requests": [[dir, dir, dir], ...], "drop_page_cache": bool}; for each request loads the k
adapters with peft.utils.load_peft_weights (safetensors -> torch tensors on CPU, what PeftModel.from_pretrained
and load_adapter call). With drop_page_cache, each request's files are first evicted from the OS page cache with
posix_fadvise(DONTNEED), outside the timing, as rg's cold run does. PEFT keeps no cache of its own and checks no
hash, so this is the "cold" path of rg (which also verifies sha256s). Prints one JSON line with p50/p99 in ms.

Usage: tools/.venv/bin/python tools/bench/adapter_store_peer.py requests.json
"""

import json
import os
import sys
import time

import torch
from peft.utils import load_peft_weights

from bench_stats import percentile  # beside this script: python puts its folder on sys.path


def drop(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def main() -> None:
    spec = json.load(open(sys.argv[1]))
    torch.set_num_threads(1)
    times = []
    for i, request in enumerate(spec["requests"]):
        if spec.get("drop_page_cache"):
            for d in request:
                for f in os.listdir(d):
                    drop(os.path.join(d, f))
        t0 = time.perf_counter()
        for d in request:
            load_peft_weights(d, device="cpu")
        ms = (time.perf_counter() - t0) * 1000
        if i > 0:  # first request warms up the imports and allocator
            times.append(ms)
    print(json.dumps({"peer": f"peft {__import__('peft').__version__} load_peft_weights", "requests": len(times), "p50Ms": percentile(times, 0.5), "p99Ms": percentile(times, 0.99)}))


if __name__ == "__main__":
    main()
