"""Write SmolLM2-135M-Instruct as a standard Hugging Face folder (config.json, model.safetensors fp32,
tokenizer.json, tokenizer_config.json, chat_template.jinja), as transformers saves it, from the GGUF.

It lets rg's Hugging Face folder loader be checked on a real transformers-written folder: with
RG_SMOLLM2_HF_DIR set to the output folder, packages/engine/src/model/hf-smollm2.test.ts loads both
and compares config, weights (bit for bit), tokenizer and chat template.

Usage: tools/.venv/bin/python tools/reference/export_smollm2_hf.py OUT_DIR [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
"""

import os
import sys

import torch
from tokenizers import pre_tokenizers
from transformers import AutoModelForCausalLM, AutoTokenizer

OUT = sys.argv[1]
GGUF = sys.argv[2] if len(sys.argv) > 2 else "/work/models/SmolLM2-135M-Instruct.Q4_1.gguf"


def main() -> None:
    folder, name = os.path.split(os.path.abspath(GGUF))
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # SmolLM2's own tokenizer.json splits digits one by one (see gguf_reference.py).
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # The weights are already dequantized to fp32; drop the GGUF quantizer so the folder is plain.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(OUT)
    tok.save_pretrained(OUT)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
