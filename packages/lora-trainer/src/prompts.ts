import type { ChatMessage } from '@rg/engine';

// One chat message type for the house: the engine's, which its chat template renders.
export type { ChatMessage };

/**
 * What the recipe needs from a tokenizer: the model's chat template, rendered and encoded, and (for the `passage`
 * layout only) plain text encoded as the tokenizer does by default (engine's Tokenizer fits).
 */
export interface ChatEncoder {
  encodeChat(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): number[];
  encode?(text: string): number[];
}

/** The user turn with a context text: the wording is ours (the method only fixes the layout). */
export function contextPrompt(context: string, question: string): string {
  return `Read the passage, then answer the question.\n\nPassage: ${context}\n\nQuestion: ${question}`;
}

/** The user turn without context: what a user of the adapter will ask. */
export function closedBookPrompt(question: string): string {
  return `Question: ${question}`;
}
