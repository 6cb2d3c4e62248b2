import type { AdapterSet, CausalLM, TeacherBatch, TrainingBatch } from '@rg/engine';
import type { TrainingExample } from './batching.js';
import { type ChatEncoder, type ChatMessage, closedBookPrompt } from './prompts.js';

/**
 * Context distillation (Knowledge Modules / Deep Context Distillation, arXiv 2503.08727): the teacher is the base
 * model with the passage in its prompt, the student the model with the adapter and no passage; the adapter is trained
 * to make the student's next-token distribution at each answer position match the teacher's (KL on the teacher's
 * top-k, see the engine's distill-loss.ts).
 */

/** The teacher's system turn: the passage it answers from. The wording is ours; the method fixes only the layout. */
export function teacherSystemPrompt(context: string): string {
  return `Answer from this passage.\n\nPassage: ${context}`;
}

/**
 * Generic prompts about the passage (besides the record's questions), each answered with a text the teacher reads in
 * its prompt: the passage itself and, when augmentation made one, the rewrite. With the passage in context the teacher
 * copies, so these teach the student the passage's own wording, token by token, without it.
 */
export const PASSAGE_PROMPTS = {
  passage: 'What does the passage say?',
  rewrite: 'Tell me what the passage says, in other words.',
} as const;

/** The teacher's top-k at each answer position of a distillation example. */
export interface TeacherTargets {
  k: number;
  /** [answerLength · k]: row j is the teacher's top-k ids for the j-th answer token, most probable first. */
  ids: Int32Array;
  /** [answerLength · k]: their probabilities under the teacher's full softmax (not renormalised: 1 − Σ is its tail). */
  probs: Float32Array | Float64Array;
}

/** What the student trains on, and what the teacher is asked for it. */
export interface DistillPlan {
  /** The teacher's sequence: system (passage), user, assistant (the same answer tokens as the student's). */
  teacherInputIds: number[];
  /** The answer tokens ending both sequences: the positions distilled. */
  answerLength: number;
  /** Filled by computeTeacherTargets (once per example: every epoch reuses them). */
  targets?: TeacherTargets;
}

/** A student sequence (no passage) whose answer positions are distilled; `labels` stay -100 (no hard targets). */
export interface DistillExample extends TrainingExample {
  distill: DistillPlan;
}

export function isDistillExample(e: TrainingExample): e is DistillExample {
  return (e as Partial<DistillExample>).distill !== undefined;
}

/**
 * One distillation example: the student sees `user` → `answer`, the teacher `[system: context]` + `user` → `answer`,
 * both in the model's chat template. The answer tokens (assistant turn and the template's end of turn) must be the
 * same in both renderings, since position j of one is aligned with position j of the other.
 */
export function distillExample(encoder: ChatEncoder, context: string, user: string, answer: string, where = 'example'): DistillExample {
  const render = (messages: ChatMessage[]) => {
    const full = encoder.encodeChat([...messages, { role: 'assistant', content: answer }], { addGenerationPrompt: false });
    const prompt = encoder.encodeChat(messages, { addGenerationPrompt: true });
    if (full.length <= prompt.length || prompt.some((id, i) => full[i] !== id))
      throw new Error(`${where}: the chat template's prompt tokens are not a prefix of the full conversation's`);
    return { full, answer: full.slice(prompt.length) };
  };
  const student = render([{ role: 'user', content: user }]);
  const teacher = render([
    { role: 'system', content: teacherSystemPrompt(context) },
    { role: 'user', content: user },
  ]);
  if (student.answer.length !== teacher.answer.length || student.answer.some((id, i) => teacher.answer[i] !== id))
    throw new Error(`${where}: the answer's tokens differ with and without the passage in the prompt, so they cannot be aligned`);
  return {
    inputIds: student.full,
    labels: student.full.map(() => -100),
    distill: { teacherInputIds: teacher.full, answerLength: student.answer.length },
  };
}

/** What a record offers for distillation (the recipe's RecipeRecord fits). */
export interface DistillRecord {
  passageId: string;
  passage: string;
  rewrite: string | null;
  qa: Array<{ question: string; answer: string }>;
}

/**
 * A record's distillation examples: each QA pair asked closed-book (the student) and with the passage (the teacher),
 * then the generic prompts (PASSAGE_PROMPTS) answered with the passage and the rewrite. Students longer than
 * `maxTokens` are left out and counted.
 */
export function distillExamples(
  record: DistillRecord,
  encoder: ChatEncoder,
  maxTokens?: number,
): { examples: DistillExample[]; dropped: number } {
  const turns = record.qa.map((p) => ({ user: closedBookPrompt(p.question), answer: p.answer }));
  turns.push({ user: PASSAGE_PROMPTS.passage, answer: record.passage });
  if (record.rewrite) turns.push({ user: PASSAGE_PROMPTS.rewrite, answer: record.rewrite });
  const examples: DistillExample[] = [];
  let dropped = 0;
  for (const t of turns) {
    const e = distillExample(encoder, record.passage, t.user, t.answer, record.passageId);
    if (maxTokens !== undefined && e.inputIds.length > maxTokens) dropped++;
    else examples.push(e);
  }
  return { examples, dropped };
}

/**
 * The teacher's top-k at each answer position: one forward of the teacher's sequence on the inference graph (batch 1,
 * no adapter), its last token left out so that the last `answerLength` logits rows are the ones that predict the
 * answer tokens. Softmax in float64 over the whole vocabulary; ties keep the lower id.
 */
export async function teacherTargets(
  teacher: CausalLM,
  teacherInputIds: readonly number[],
  answerLength: number,
  k: number,
): Promise<TeacherTargets> {
  const vocab = teacher.config.vocabSize;
  if (!Number.isInteger(k) || k < 1 || k >= vocab) throw new Error(`distill: topK ${k} must be an integer in 1..${vocab - 1}`);
  if (answerLength < 1 || answerLength >= teacherInputIds.length)
    throw new Error(`distill: answerLength ${answerLength} must be in 1..${teacherInputIds.length - 1}`);
  const { logits, cache } = await teacher.forward({ ids: teacherInputIds.slice(0, -1), numLogits: answerLength });
  teacher.release(cache);
  const ids = new Int32Array(answerLength * k);
  const probs = new Float32Array(answerLength * k);
  for (let j = 0; j < answerLength; j++) {
    const row = logits.subarray(j * vocab, (j + 1) * vocab);
    let max = Number.NEGATIVE_INFINITY;
    for (let v = 0; v < vocab; v++) if (row[v] > max) max = row[v];
    let sum = 0;
    for (let v = 0; v < vocab; v++) sum += Math.exp(row[v] - max);
    const top = topK(row, k);
    top.forEach((id, i) => {
      ids[j * k + i] = id;
      probs[j * k + i] = Math.exp(row[id] - max) / sum;
    });
  }
  return { k, ids, probs };
}

/** Indices of the k largest values, largest first (lower index first on ties); one pass with a sorted buffer. */
function topK(row: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let v = 0; v < row.length; v++) {
    if (best.length === k && row[v] <= row[best[k - 1]]) continue;
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && row[best[at - 1]] < row[v]) at--;
    best.splice(at, 0, v);
    if (best.length > k) best.pop();
  }
  return best;
}

/**
 * Fills the teacher targets of every distillation example that has none, once (an example's targets are deterministic,
 * so the epochs reuse them; examples with the same teacher sequence share one forward). Returns how many forwards ran.
 */
export async function computeTeacherTargets(
  examples: readonly TrainingExample[],
  teacher: CausalLM | undefined,
  k: number,
): Promise<number> {
  const pending = examples.filter(isDistillExample).filter((e) => !e.distill.targets || e.distill.targets.k !== k);
  if (pending.length === 0) return 0;
  if (!teacher) throw new Error('distill: the examples need teacher targets and no teacher model was given (openTrainingRun with distill)');
  const seen = new Map<string, TeacherTargets>();
  for (const e of pending) {
    const key = `${e.distill.answerLength}:${e.distill.teacherInputIds.join(',')}`;
    let t = seen.get(key);
    if (!t) {
      t = await teacherTargets(teacher, e.distill.teacherInputIds, e.distill.answerLength, k);
      seen.set(key, t);
    }
    e.distill.targets = t;
  }
  return seen.size;
}

/**
 * The teacher part of a collated batch (collate's right padding: row r's tokens at r·seq ...): each distillation
 * example's answer positions carry its targets, every other position (prompts, padding, LM examples) mask 0.
 */
export function teacherBatch(batch: TrainingBatch, rows: readonly TrainingExample[], k: number, weight: number): TeacherBatch {
  const n = batch.batch * batch.seq;
  const ids = new Int32Array(n * k);
  // float64 so that a float64 graph (gradient checks) gets the targets as given.
  const probs = new Float64Array(n * k);
  const mask = new Uint8Array(n);
  rows.forEach((e, r) => {
    if (!isDistillExample(e)) return;
    const t = e.distill.targets;
    if (!t) throw new Error(`distill: example ${r} of the batch has no teacher targets (computeTeacherTargets first)`);
    if (t.k !== k) throw new Error(`distill: example ${r} has teacher targets of k ${t.k}, the run asks for ${k}`);
    const from = e.inputIds.length - e.distill.answerLength;
    for (let j = 0; j < e.distill.answerLength; j++) {
      const at = r * batch.seq + from + j;
      mask[at] = 1;
      ids.set(t.ids.subarray(j * k, (j + 1) * k), at * k);
      probs.set(t.probs.subarray(j * k, (j + 1) * k), at * k);
    }
  });
  return { k, ids, probs, mask, weight };
}

/**
 * KL(teacher ‖ student) on the teacher's top-k + tail bins (the training objective's measure), averaged over the answer
 * positions of distillation examples with targets: the student is `student` (no passage in the prompt) with `adapters`
 * (null = the base model). What a distilled adapter should lower.
 */
export async function distillDivergence(
  student: CausalLM,
  adapters: AdapterSet | null,
  examples: readonly TrainingExample[],
): Promise<number> {
  const vocab = student.config.vocabSize;
  let total = 0;
  let positions = 0;
  for (const e of examples) {
    if (!isDistillExample(e) || !e.distill.targets) continue;
    const { answerLength, targets } = e.distill;
    const { logits, cache } = await student.forward({ ids: e.inputIds.slice(0, -1), numLogits: answerLength, adapters });
    student.release(cache);
    for (let j = 0; j < answerLength; j++) {
      const row = logits.subarray(j * vocab, (j + 1) * vocab);
      let max = Number.NEGATIVE_INFINITY;
      for (let v = 0; v < vocab; v++) if (row[v] > max) max = row[v];
      let sum = 0;
      for (let v = 0; v < vocab; v++) sum += Math.exp(row[v] - max);
      let mass = 0;
      let studentMass = 0;
      for (let i = 0; i < targets.k; i++) {
        const p = targets.probs[j * targets.k + i];
        const q = Math.exp(row[targets.ids[j * targets.k + i]] - max) / sum;
        studentMass += q;
        mass += p;
        if (p > 0) total += p * (Math.log(p) - Math.log(q));
      }
      const tail = Math.max(1 - mass, 0);
      if (tail > 0) total += tail * (Math.log(tail) - Math.log(Math.max(1 - studentMass, Number.MIN_VALUE)));
      positions++;
    }
  }
  if (positions === 0) throw new Error('distill: no distillation example with teacher targets to measure');
  return total / positions;
}
