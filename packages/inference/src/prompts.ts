import type { CorpusDocument } from './datasets/types.js';
import type { ChatMessage } from './model.js';

/** Bumped whenever the wording below changes: recorded in config.json so results name the prompts they used. */
export const PROMPT_VERSION = 2;

/**
 * The chat messages for one question: a single user turn, worded as the adapters' training examples are
 * (@rg/lora-trainer's recipe: "Question: ..." closed-book, "Read the passage, then answer the question." with
 * context), so an adapter meets at question time the prompt it was trained on. No system turn: the model's
 * chat template adds its default one, as it did in training. The dataset's instruction, if any, comes first.
 */
export function buildMessages(question: string, options: { instruction?: string; passages?: CorpusDocument[] } = {}): ChatMessage[] {
  const parts: string[] = [];
  if (options.instruction) parts.push(options.instruction);
  const passages = options.passages ?? [];
  if (passages.length > 0) parts.push(passagesInstruction(passages));
  parts.push(`Question: ${question}`);
  return [{ role: 'user', content: parts.join('\n\n') }];
}

/** "Read the passage(s), then answer the question." and the passages, as buildMessages words them (at least one passage). */
export function passagesInstruction(passages: CorpusDocument[]): string {
  if (passages.length === 1) return `Read the passage, then answer the question.\n\nPassage: ${passages[0].text}`;
  return `Read the passages, then answer the question.\n\nPassages:\n${passages.map((p, i) => `[${i + 1}] ${p.text}`).join('\n')}`;
}
