import { Template } from '@huggingface/jinja';
import { ModelFileError } from '../model/errors.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export interface ChatTemplateOptions {
  /** End with the header of an assistant turn, so the model writes the answer next. Default true. */
  addGenerationPrompt?: boolean;
}

/**
 * A model's own Jinja chat template (GGUF `tokenizer.chat_template`, or `chat_template` of
 * tokenizer_config.json), rendered as transformers' `apply_chat_template` does: the template sees
 * `messages`, `add_generation_prompt` and the special tokens by name (`bos_token`, `eos_token`, ...);
 * @huggingface/jinja provides `raise_exception` and `strftime_now`.
 */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: string,
    private readonly specialTokens: Record<string, string>,
    /** Where the template came from, for error messages. */
    private readonly origin: string,
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new ModelFileError(origin, `chat template does not parse (${(e as Error).message})`);
    }
  }

  render(messages: ChatMessage[], options: ChatTemplateOptions = {}): string {
    const origin = this.origin;
    try {
      return this.template.render({
        ...this.specialTokens,
        messages,
        add_generation_prompt: options.addGenerationPrompt ?? true,
      });
    } catch (e) {
      const message = (e as Error).message;
      throw new Error(message.startsWith(origin) ? message : `${origin}: chat template failed (${message})`);
    }
  }
}
