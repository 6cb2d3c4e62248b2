"""Reference numbers for rg's GGUF dequantizers and GGUF tokenizer, from the Python `gguf` and `tokenizers` packages.

Usage: tools/.venv/bin/python tools/reference/gguf_reference.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
Writes packages/engine/fixtures/gguf-reference.json (see tools/reference/README.md).
"""

import hashlib
import json
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGML_QUANT_SIZES, GGUFReader, quants
from tokenizers import Tokenizer, pre_tokenizers
from transformers import AutoTokenizer

GGUF = sys.argv[1] if len(sys.argv) > 1 else "/work/models/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "engine", "fixtures", "gguf-reference.json")

# Strings that exercise the byte-level BPE: unicode (accents, CJK, emoji, combining marks), runs of
# whitespace, digits (split one per token by SmolLM's pre-tokenizer), code, and special tokens.
STRINGS = [
    "Hello, world!",
    "The year 2024 had 366 days; π ≈ 3.14159.",
    "  leading spaces,\ttabs\tand\n\nnew lines   ",
    "naïve café — Über, São Paulo, 東京, 北京大学, 🙂👍🏽, e\u0301",
    "def f(x):\n    return x ** 2  # square",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "don't, won't, I'LL, y'all're",
]

CHAT = [
    {"role": "system", "content": "You answer in one word."},
    {"role": "user", "content": "Capital of Italy?"},
    {"role": "assistant", "content": "Rome."},
    {"role": "user", "content": "And of Spain?"},
]


def random_blocks(qtype: T, n_blocks: int, rng: np.random.Generator) -> np.ndarray:
    """Random block bytes whose f16 scale fields hold ordinary values (no inf/NaN)."""
    block_elems, block_bytes = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    half = lambda v: np.array([v], dtype=np.float16).view(np.uint8)  # noqa: E731
    for b in range(n_blocks):
        if qtype in (T.Q8_0, T.Q4_0):
            raw[b, 0:2] = half(rng.uniform(-0.1, 0.1))
        elif qtype == T.Q4_1:
            raw[b, 0:2] = half(rng.uniform(0, 0.1))
            raw[b, 2:4] = half(rng.uniform(-0.5, 0))
        elif qtype == T.Q4_K:
            raw[b, 0:2] = half(rng.uniform(0, 0.01))
            raw[b, 2:4] = half(rng.uniform(0, 0.01))
        elif qtype == T.Q6_K:
            raw[b, 208:210] = half(rng.uniform(-0.01, 0.01))
    return raw


def row_check(row: np.ndarray) -> dict:
    """The first 64 values, and the sha256 of the whole row's fp32 bytes (exact equality, small fixture)."""
    row = np.ascontiguousarray(row, dtype=np.float32)
    return {"first": [float(v) for v in row[:64]], "sha256": hashlib.sha256(row.tobytes()).hexdigest(), "length": len(row)}


def main() -> None:
    rng = np.random.default_rng(1234)
    blocks = {}
    for qtype in (T.Q8_0, T.Q4_0, T.Q4_1, T.Q4_K, T.Q6_K):
        raw = random_blocks(qtype, 2, rng)
        values = quants.dequantize(raw, qtype).reshape(-1)
        blocks[qtype.name] = {"hex": raw.tobytes().hex(), "values": [float(v) for v in values]}
    for qtype, dtype in ((T.F16, np.float16), (T.BF16, None)):
        x = rng.standard_normal(16).astype(np.float32)
        raw = x.astype(dtype).view(np.uint8) if dtype else quants.quantize(x, T.BF16)
        blocks[qtype.name] = {"hex": raw.tobytes().hex(), "values": [float(v) for v in quants.dequantize(raw, qtype).reshape(-1)]}

    # A few rows of real tensors, in GGUF (llama.cpp) row order: no Q/K un-permute here.
    reader = GGUFReader(GGUF)
    by_name = {t.name: t for t in reader.tensors}
    rows = {}
    for name, picks in (
        ("token_embd.weight", [0, 1, 1000, 49151]),
        ("blk.0.ffn_down.weight", [0, 7, 575]),
        ("blk.29.attn_v.weight", [0, 191]),
        ("blk.0.attn_q.weight", [0, 1, 64]),
        ("output_norm.weight", None),
    ):
        t = by_name[name]
        full = quants.dequantize(t.data, t.tensor_type)
        full = full.reshape(1, -1) if picks is None else full
        rows[name] = {"type": t.tensor_type.name, "rows": {str(r): row_check(full[r]) for r in picks or [0]}}

    # transformers' GGUF tokenizer, with the pre-tokenizer of SmolLM2's own tokenizer.json (digits
    # split one by one, then byte-level); transformers' GGUF converter has no entry for
    # tokenizer.ggml.pre = "smollm" and would keep digit runs whole.
    folder, name = os.path.split(os.path.abspath(GGUF))
    hf = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    backend: Tokenizer = hf.backend_tokenizer
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    tokenizer = [{"text": s, "ids": backend.encode(s, add_special_tokens=False).ids} for s in STRINGS]
    chat_text = hf.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    chat_no_prompt = hf.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=False)

    fixture = {
        "source": f"gguf package dequantize + transformers tokenizer; file {name}",
        "blocks": blocks,
        "rows": rows,
        "tokenizer": tokenizer,
        "chat": {
            "messages": CHAT,
            "withGenerationPrompt": chat_text,
            "withoutGenerationPrompt": chat_no_prompt,
            "ids": backend.encode(chat_text, add_special_tokens=False).ids,
        },
    }
    with open(OUT, "w") as f:
        json.dump(fixture, f, ensure_ascii=False)
        f.write("\n")
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
