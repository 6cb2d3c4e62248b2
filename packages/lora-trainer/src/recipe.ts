import { seededRandom } from '@rg/engine';
import { shuffled, type TrainingExample } from './batching.js';

/** The fields of an augmented record (see @rg/augment) the recipe reads. */
export interface RecipeRecord {
  passageId: string;
  passage: string;
  /** Same facts in other words; null when augmentation produced none. */
  rewrite: string | null;
  qa: Array<{ question: string; answer: string }>;
}

export interface ChatMessage {
  role: string;
  content: string;
}

/** What the recipe needs from a tokenizer: the model's chat template, rendered and encoded (engine's Tokenizer fits). */
export interface ChatEncoder {
  encodeChat(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): number[];
}

export interface RecipeOptions {
  /** Which QA pairs go into the with-context half. */
  seed?: number;
  /** Examples longer than this are left out (and counted). */
  maxTokens?: number;
}

export interface RecipeResult {
  examples: TrainingExample[];
  /** Examples left out for exceeding maxTokens. */
  dropped: number;
}

/** The user turn with a context text: the wording is ours (the method only fixes the layout). */
export function contextPrompt(context: string, question: string): string {
  return `Read the passage, then answer the question.\n\nPassage: ${context}\n\nQuestion: ${question}`;
}

/** The user turn without context: what a user of the adapter will ask. */
export function closedBookPrompt(question: string): string {
  return `Question: ${question}`;
}

/**
 * One document's training examples. The QA pairs are split in two halves (seeded): the first half is
 * asked with the passage in the prompt and, separately, with its rewrite; the second half is asked
 * with no context, which is what makes the adapter carry the facts. With an odd count the closed-book
 * half gets the extra pair. Every example is the model's chat template around (user, assistant); the
 * loss covers the assistant turn only (the answer and the template's end-of-turn tokens).
 */
export function recipeExamples(record: RecipeRecord, encoder: ChatEncoder, options: RecipeOptions = {}): RecipeResult {
  const pairs = shuffled(record.qa, seededRandom(options.seed ?? 0));
  const withContext = pairs.slice(0, Math.floor(pairs.length / 2));
  const closedBook = pairs.slice(withContext.length);
  const turns: Array<{ user: string; answer: string }> = [];
  for (const p of withContext) {
    turns.push({ user: contextPrompt(record.passage, p.question), answer: p.answer });
    if (record.rewrite) turns.push({ user: contextPrompt(record.rewrite, p.question), answer: p.answer });
  }
  for (const p of closedBook) turns.push({ user: closedBookPrompt(p.question), answer: p.answer });

  const examples: TrainingExample[] = [];
  let dropped = 0;
  for (const t of turns) {
    const example = chatExample(encoder, t.user, t.answer, record.passageId);
    if (options.maxTokens !== undefined && example.inputIds.length > options.maxTokens) dropped++;
    else examples.push(example);
  }
  return { examples, dropped };
}

/** Token ids of (user, assistant) with labels on the assistant turn only. */
export function chatExample(encoder: ChatEncoder, user: string, answer: string, where = 'example'): TrainingExample {
  const prompt = encoder.encodeChat([{ role: 'user', content: user }], { addGenerationPrompt: true });
  const full = encoder.encodeChat(
    [
      { role: 'user', content: user },
      { role: 'assistant', content: answer },
    ],
    { addGenerationPrompt: false },
  );
  // Token boundaries could in principle merge across the prompt/answer seam: refuse rather than mislabel.
  if (full.length <= prompt.length || prompt.some((id, i) => full[i] !== id)) {
    throw new Error(`${where}: the chat template's prompt tokens are not a prefix of the full conversation's`);
  }
  return { inputIds: full, labels: full.map((id, i) => (i < prompt.length ? -100 : id)) };
}
