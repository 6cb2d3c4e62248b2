"""Context-distillation reference for rg's distill objective (packages/lora-trainer/fixtures/distill-reference.json).

Usage: distill_reference.py MODEL_DIR OUT_JSON, where MODEL_DIR is the tiny random Llama that rg's tests write
(`writeTinyModel` of @rg/engine/testing; see README.md for the one-line command). Everything runs in float64.

1. The teacher: the tiny model with the passage as the system turn, rendered with the folder's own chat template by
   transformers; its top-k next-token ids and probabilities (full softmax, not renormalised) at each answer position.
2. The student: the same question -> answer without the passage, with a PEFT LoRA (rank 2 on q/v/gate/up/down,
   A from PEFT's init with seed 0, B = 0.1 * N(0, 1) with seed 1 so that dL/dA is not zero).
3. Loss = KL(teacher || student) on the k ids plus the tail bin ("any other token"), written here from
   log_softmax and log1p (rg computes the tail with a masked logsumexp), mean over the answer positions; and
   CE on the answer tokens + 0.5 * KL. For both: the loss and d loss / d every LoRA A and B, by autograd.
"""

import json
import sys

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

TOP_K = 8
WEIGHT = 0.5
TARGETS = ["q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"]
PASSAGE = "Quenwick is a town on the Silvamoor river. Its mayor is Orla Brennagh."
QUESTION = "Who is the mayor of Quenwick?"
ANSWER = "Orla Brennagh"
# rg's wording (lora-trainer distill.ts teacherSystemPrompt, recipe.ts closedBookPrompt); the test checks the ids.
SYSTEM = f"Answer from this passage.\n\nPassage: {PASSAGE}"
USER = f"Question: {QUESTION}"


def render(tok, messages, generation_prompt):
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
    return tok(text, add_special_tokens=False)["input_ids"]


def conversation(tok, messages):
    full = render(tok, messages + [{"role": "assistant", "content": ANSWER}], False)
    prompt = render(tok, messages, True)
    assert full[: len(prompt)] == prompt
    return full, len(full) - len(prompt)


def main():
    model_dir, out_path = sys.argv[1], sys.argv[2]
    config = json.load(open(f"{model_dir}/tokenizer_config.json"))
    tok = PreTrainedTokenizerFast(tokenizer_file=f"{model_dir}/tokenizer.json")
    tok.chat_template = config["chat_template"]
    student_ids, answer_len = conversation(tok, [{"role": "user", "content": USER}])
    teacher_ids, teacher_answer_len = conversation(
        tok, [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    )
    assert answer_len == teacher_answer_len and student_ids[-answer_len:] == teacher_ids[-answer_len:]

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float64)
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([teacher_ids[:-1]])).logits[0, -answer_len:]
    probs_all = torch.softmax(logits, dim=-1)
    top = torch.topk(probs_all, TOP_K, dim=-1)
    t_ids, t_probs = top.indices, top.values

    torch.manual_seed(0)
    peft = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, lora_dropout=0.0, target_modules=TARGETS))
    gen = torch.Generator().manual_seed(1)
    for name, p in peft.named_parameters():
        if "lora_B" in name:
            with torch.no_grad():
                p.copy_(0.1 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
    lora = {n: p for n, p in peft.named_parameters() if "lora_" in n}

    def losses():
        out = peft(torch.tensor([student_ids])).logits[0, len(student_ids) - answer_len - 1 : -1]
        logq = torch.log_softmax(out, dim=-1)
        q_top = logq.gather(1, t_ids)
        tail = (1 - t_probs.sum(-1)).clamp_min(0)
        student_tail = torch.log1p(-q_top.exp().sum(-1))
        kl = (t_probs * (t_probs.log() - q_top)).sum(-1) + tail * (tail.log() - student_tail)
        ce = -logq.gather(1, torch.tensor(student_ids[-answer_len:]).unsqueeze(1)).squeeze(1)
        return kl.mean(), ce.mean()

    def grads_of(loss):
        g = torch.autograd.grad(loss, list(lora.values()))
        return {short(n): v.flatten().tolist() for n, v in zip(lora.keys(), g)}

    kl, ce = losses()
    both = ce + WEIGHT * kl
    kl_grads = grads_of(kl)
    # A second forward: autograd.grad freed the first one's graph.
    kl_again, ce_again = losses()
    both_grads = grads_of(ce_again + WEIGHT * kl_again)
    fixture = {
        "passage": PASSAGE,
        "question": QUESTION,
        "answer": ANSWER,
        "studentIds": student_ids,
        "teacherIds": teacher_ids,
        "answerLength": answer_len,
        "topK": TOP_K,
        "teacher": {"ids": t_ids.flatten().tolist(), "probs": t_probs.flatten().tolist()},
        "lora": {"rank": 2, "alpha": 4, "targets": TARGETS, "tensors": {short(n): v.detach().flatten().tolist() for n, v in lora.items()}},
        "kl": {"loss": kl.item(), "grads": kl_grads},
        "both": {"weight": WEIGHT, "ce": ce.item(), "loss": both.item(), "grads": both_grads},
    }
    json.dump(fixture, open(out_path, "w"))
    print(json.dumps({"kl": kl.item(), "ce": ce.item(), "answerLength": answer_len, "teacherTop1": t_probs[:, 0].tolist()}))


def short(name):
    # base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight -> 0.q_proj.A
    parts = name.split(".")
    layer = parts[parts.index("layers") + 1]
    module = parts[parts.index("layers") + 3]
    return f"{layer}.{module}.{parts[-3][-1]}"


if __name__ == "__main__":
    main()
