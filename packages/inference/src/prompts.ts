import type { CorpusDocument } from './datasets/types.js';
import type { ChatMessage } from './model.js';

/** Bumped whenever the wording below changes: recorded in config.json so results name the prompts they used. */
export const PROMPT_VERSION = 1;

const SYSTEM = 'You are a helpful assistant. Answer the question briefly, with the answer only.';

/**
 * The chat messages for one question. With passages (icl, combine) they come first, numbered, and the model is
 * told to rely on them; without, the question stands alone, as in the adapters' training examples.
 */
export function buildMessages(question: string, options: { instruction?: string; passages?: CorpusDocument[] } = {}): ChatMessage[] {
  const parts: string[] = [];
  if (options.instruction) parts.push(options.instruction);
  if (options.passages && options.passages.length > 0) {
    const listed = options.passages.map((p, i) => `[${i + 1}] ${p.title ? `${p.title}: ` : ''}${p.text}`).join('\n');
    parts.push(`Use these passages to answer.\n${listed}`);
  }
  parts.push(`Question: ${question}`);
  return [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: parts.join('\n\n') },
  ];
}
