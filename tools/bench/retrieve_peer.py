"""Peer for `rg bench retrieve`: the Python stack on the same PubMedQA PQA-L task.

- BM25: bm25s 0.3.16 (sparse-matrix BM25, k1 1.5 b 0.75 defaults: its own scoring, not FTS5's) with English
  stopwords and the PyStemmer English (Porter2) stemmer, over title-less abstracts (CONTEXTS joined by newlines,
  as rg stores them).
- Dense: all-MiniLM-L6-v2 with transformers (PyTorch, CPU), mean pooling + L2 normalisation, 256-token cut,
  batches of 32 sorted by length (as rg does), exact dot-product search with numpy.

Gold for a question is its own abstract. One query at a time for latency; indexing timed as a whole.
Prints one JSON line. Extra packages: bm25s==0.3.16 pystemmer==3.1.0 (on top of tools/reference/requirements.txt).

Usage: tools/.venv/bin/python tools/bench/retrieve_peer.py ori_pqal.json MODEL_DIR THREADS
"""

import json
import resource
import sys
import time

import bm25s
import numpy as np
import Stemmer
import torch
from transformers import AutoModel, AutoTokenizer

from bench_stats import percentile  # beside this script: python puts its folder on sys.path


def recall(ranked, gold):
    out = {}
    for k in (1, 3, 10):
        out[f"@{k}"] = sum(1 for r, g in zip(ranked, gold) if g in r[:k]) / len(gold)
    return out


def main() -> None:
    path, model_dir, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(threads)
    data = json.load(open(path))
    ids = list(data.keys())
    docs = ["\n".join(data[i]["CONTEXTS"]) for i in ids]
    questions = [data[i]["QUESTION"] for i in ids]

    stemmer = Stemmer.Stemmer("english")
    t0 = time.perf_counter()
    index = bm25s.BM25()
    index.index(bm25s.tokenize(docs, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    bm25_index_s = time.perf_counter() - t0
    ranked, times = [], []
    for q in questions[:20]:
        index.retrieve(bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False), k=10, show_progress=False)
    for q in questions:
        t = time.perf_counter()
        res, _ = index.retrieve(bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False), k=10, show_progress=False)
        times.append((time.perf_counter() - t) * 1000)
        ranked.append([ids[j] for j in res[0]])
    bm25 = {
        "name": "bm25s 0.3.16 + PyStemmer",
        "indexDocsPerSecond": len(docs) / bm25_index_s,
        "recall": recall(ranked, ids),
        "latencyMs": {"p50": percentile(times, 0.5), "p99": percentile(times, 0.99), "mean": sum(times) / len(times)},
    }

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()

    def embed(texts):
        batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()

    order = sorted(range(len(docs)), key=lambda i: len(tokenizer(docs[i], truncation=True, max_length=256)["input_ids"]))
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    vectors = np.zeros((len(docs), 384), dtype=np.float32)
    for s in range(0, len(order), 32):
        chunk = order[s : s + 32]
        vectors[chunk] = embed([docs[i] for i in chunk])
    dense_index_s = time.perf_counter() - t0
    dense_cpu_s = time.process_time() - cpu0
    for q in questions[:20]:
        embed([q])
    ranked, times = [], []
    for q in questions:
        t = time.perf_counter()
        scores = vectors @ embed([q])[0]
        top = np.argsort(-scores)[:10]
        times.append((time.perf_counter() - t) * 1000)
        ranked.append([ids[j] for j in top])
    dense = {
        "name": "transformers (PyTorch) all-MiniLM-L6-v2 + numpy",
        "indexDocsPerSecond": len(docs) / dense_index_s,
        "indexSeconds": dense_index_s,
        "indexCpuSeconds": dense_cpu_s,
        "recall": recall(ranked, ids),
        "latencyMs": {"p50": percentile(times, 0.5), "p99": percentile(times, 0.99), "mean": sum(times) / len(times)},
    }
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": threads,
                "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                "sqlite": bm25,
                "dense": dense,
            }
        )
    )


if __name__ == "__main__":
    main()
