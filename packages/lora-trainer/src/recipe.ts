import { seededRandom } from '@rg/engine';
import { shuffled, type TrainingExample } from './batching.js';
import { distillExamples } from './distill.js';
import { type ChatEncoder, closedBookPrompt, contextPrompt } from './prompts.js';

/** The fields of an augmented record (see @rg/augment) the recipe reads. */
export interface RecipeRecord {
  passageId: string;
  passage: string;
  /** Same facts in other words; null when augmentation produced none. */
  rewrite: string | null;
  /** More wordings beyond `rewrite` (the template augmenter's phrasings > 1): the passage layout trains on them too. */
  rewrites?: readonly string[];
  qa: Array<{ question: string; answer: string }>;
}

export { type ChatEncoder, type ChatMessage, closedBookPrompt, contextPrompt } from './prompts.js';

/**
 * How a record becomes training sequences (rg encode --examples):
 * - qa: rg's layout, see recipeExamples;
 * - prag: the layout PRAG published (src/encode.py get_train_data): the first ceil(N/2) QA pairs in their order,
 *   each once with the passage and once with the rewrite in the prompt, the rest with no passage;
 * - passage: continued pretraining on the passage's tokens (no chat template), and the rewrite's when there is one.
 */
export const EXAMPLE_LAYOUTS = ['qa', 'prag', 'passage'] as const;
export type ExampleLayout = (typeof EXAMPLE_LAYOUTS)[number];

/** Which tokens the loss covers (rg encode --loss): the assistant turn, or every token (PRAG: labels = input_ids). */
export const LOSS_SPANS = ['answer', 'all'] as const;
export type LossSpan = (typeof LOSS_SPANS)[number];

/**
 * What the adapter is trained to do (rg encode --objective):
 * - lm: next-token cross-entropy on the layout's examples (`examples`, `loss`);
 * - distill: context distillation only (distill.ts): the student without the passage matches the teacher with it,
 *   KL on the teacher's top-k at each answer position of the record's questions and of the generic passage prompts;
 * - both: the layout's LM examples and the distillation examples together, loss = CE + distillWeight · KL.
 */
export const OBJECTIVES = ['lm', 'distill', 'both'] as const;
export type Objective = (typeof OBJECTIVES)[number];

/** Whether an objective trains on a teacher's soft targets (distill, both): it needs the teacher, one passage per pass. */
export const distills = (objective: Objective | undefined): boolean => objective === 'distill' || objective === 'both';

/** Teacher tokens kept per position when a recipe does not say (the method's papers use 16 to 32 or the full softmax). */
export const DEFAULT_TOP_K = 16;

export interface Recipe {
  examples: ExampleLayout;
  loss: LossSpan;
  /** Absent = 'lm' (every adapter stored before objectives existed). */
  objective?: Objective;
  /** distill / both: teacher tokens per position (default DEFAULT_TOP_K). */
  topK?: number;
  /** both: λ in CE + λ·KL (default 1); distill trains on the KL alone (λ = 1). */
  distillWeight?: number;
}

/** What rg trained with before the recipe could be chosen, so also what an adapter without a recorded recipe had. */
export const DEFAULT_RECIPE: Readonly<Recipe> = { examples: 'qa', loss: 'answer' };

/** The recipe as it is trained: defaults filled in, and `passage` always with loss on every token (it has no answer). */
export function resolveRecipe(recipe: Partial<Recipe> = {}): Recipe {
  const examples = recipe.examples ?? DEFAULT_RECIPE.examples;
  const lm: Recipe = { examples, loss: examples === 'passage' ? 'all' : (recipe.loss ?? DEFAULT_RECIPE.loss) };
  const objective = recipe.objective ?? 'lm';
  if (!OBJECTIVES.includes(objective)) throw new Error(`recipe.objective: '${objective}' is not one of ${OBJECTIVES.join(', ')}`);
  // An 'lm' recipe is recorded as before objectives existed, so stored adapters and new ones compare equal.
  if (objective === 'lm') return lm;
  const topK = recipe.topK ?? DEFAULT_TOP_K;
  if (!Number.isInteger(topK) || topK < 1) throw new Error(`recipe.topK: ${topK} must be a positive integer`);
  const distillWeight = objective === 'both' ? (recipe.distillWeight ?? 1) : 1;
  if (!(Number.isFinite(distillWeight) && distillWeight > 0))
    throw new Error(`recipe.distillWeight: ${recipe.distillWeight} must be a positive number`);
  return { ...lm, objective, topK, distillWeight };
}

export function formatRecipe(recipe: Recipe): string {
  const lm = `examples=${recipe.examples} loss=${recipe.loss}`;
  const objective = recipe.objective ?? 'lm';
  if (objective === 'lm') return lm;
  const distill = `objective=${objective} topK=${recipe.topK ?? DEFAULT_TOP_K}`;
  return objective === 'both' ? `${lm} ${distill} distillWeight=${recipe.distillWeight ?? 1}` : distill;
}

export interface RecipeOptions {
  /** Which QA pairs go into the with-context half (`qa` layout). */
  seed?: number;
  /** Examples longer than this are left out (and counted). */
  maxTokens?: number;
  /** Default: DEFAULT_RECIPE. */
  recipe?: Partial<Recipe>;
}

export interface RecipeResult {
  examples: TrainingExample[];
  /** Examples left out for exceeding maxTokens. */
  dropped: number;
}

/**
 * One document's training examples, in the layout and with the loss of `options.recipe` (default: `qa`, `answer`).
 * `qa`: the QA pairs are split in two halves (seeded): the first half is asked with the passage in the prompt and,
 * separately, with its rewrite; the second half is asked with no context, which is what makes the adapter carry the
 * facts. With an odd count the closed-book half gets the extra pair. `prag`: see EXAMPLE_LAYOUTS. Every chat example
 * is the model's chat template around (user, assistant); with loss `answer` the loss covers the assistant turn only
 * (the answer and the template's end-of-turn tokens), with `all` every token. `passage`: see EXAMPLE_LAYOUTS.
 * Objective `distill`: the record's distillation examples instead (distillExamples); `both`: the layout's and those.
 */
export function recipeExamples(record: RecipeRecord, encoder: ChatEncoder, options: RecipeOptions = {}): RecipeResult {
  const recipe = resolveRecipe(options.recipe);
  // Distillation examples carry their teacher sequence; the targets come later (computeTeacherTargets, async).
  const distilled = distills(recipe.objective) ? distillExamples(record, encoder, options.maxTokens) : null;
  if (recipe.objective === 'distill' && distilled) return distilled;
  const all =
    recipe.examples === 'passage'
      ? passageExamples(record, encoder, options.maxTokens)
      : chatTurns(record, recipe.examples, options.seed ?? 0).map((t) =>
          chatExample(encoder, t.user, t.answer, record.passageId, recipe.loss),
        );
  const examples: TrainingExample[] = [];
  let dropped = 0;
  for (const example of all) {
    if (options.maxTokens !== undefined && example.inputIds.length > options.maxTokens) dropped++;
    else examples.push(example);
  }
  if (distilled) return { examples: [...examples, ...distilled.examples], dropped: dropped + distilled.dropped };
  return { examples, dropped };
}

function chatTurns(record: RecipeRecord, layout: 'qa' | 'prag', seed: number): Array<{ user: string; answer: string }> {
  // PRAG takes the pairs in their order and gives the with-context half the extra pair; rg's qa layout draws them.
  const pairs = layout === 'prag' ? record.qa : shuffled(record.qa, seededRandom(seed));
  const half = layout === 'prag' ? Math.ceil(pairs.length / 2) : Math.floor(pairs.length / 2);
  const turns: Array<{ user: string; answer: string }> = [];
  for (const p of pairs.slice(0, half)) {
    turns.push({ user: contextPrompt(record.passage, p.question), answer: p.answer });
    if (record.rewrite) turns.push({ user: contextPrompt(record.rewrite, p.question), answer: p.answer });
  }
  for (const p of pairs.slice(half)) turns.push({ user: closedBookPrompt(p.question), answer: p.answer });
  return turns;
}

/**
 * The passage, the rewrite and any further rewrites as plain token sequences, every token labelled; one too short to score is left out.
 * A text longer than `maxTokens` is cut into consecutive windows of at most that many tokens: continued pretraining
 * reads plain text in pieces, and leaving a long document out whole would leave it with no adapter at all.
 */
function passageExamples(record: RecipeRecord, encoder: ChatEncoder, maxTokens = Number.POSITIVE_INFINITY): TrainingExample[] {
  const encode = encoder.encode?.bind(encoder);
  if (!encode) throw new Error(`${record.passageId}: the passage layout needs a tokenizer that encodes plain text`);
  const windows: number[][] = [];
  for (const text of [record.passage, record.rewrite, ...(record.rewrites ?? [])]) {
    if (!text) continue;
    const ids = encode(text);
    for (let at = 0; at < ids.length; at += maxTokens) windows.push(ids.slice(at, at + maxTokens));
  }
  return windows.filter((ids) => ids.length > 1).map((ids) => ({ inputIds: ids, labels: [...ids] }));
}

/** Token ids of (user, assistant), labelled on the assistant turn only (`answer`) or on every token (`all`). */
export function chatExample(
  encoder: ChatEncoder,
  user: string,
  answer: string,
  where = 'example',
  loss: LossSpan = 'answer',
): TrainingExample {
  const full = encoder.encodeChat(
    [
      { role: 'user', content: user },
      { role: 'assistant', content: answer },
    ],
    { addGenerationPrompt: false },
  );
  if (loss === 'all') return { inputIds: full, labels: [...full] };
  const prompt = encoder.encodeChat([{ role: 'user', content: user }], { addGenerationPrompt: true });
  // Token boundaries could in principle merge across the prompt/answer seam: refuse rather than mislabel.
  if (full.length <= prompt.length || prompt.some((id, i) => full[i] !== id)) {
    throw new Error(`${where}: the chat template's prompt tokens are not a prefix of the full conversation's`);
  }
  return { inputIds: full, labels: full.map((id, i) => (i < prompt.length ? -100 : id)) };
}
