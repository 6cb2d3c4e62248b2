import { checkMetaOutput, checkQaOutput, checkRewrite, type QaCheckOptions } from './checks.js';
import {
  type Augmenter,
  type AugmentOptions,
  type ChatMessage,
  FatalGeneratorError,
  type Passage,
  type TextGenerator,
} from './generator.js';
import { metaMessages, PROMPT_VERSION, qaMessages, rewriteMessages } from './prompts.js';
import type { AugmentedRecord, QaPair } from './record.js';
import { normalizeText } from './text.js';

export interface LlmAugmenterOptions extends QaCheckOptions {
  /** Question/answer pairs wanted per passage (default 3). */
  qaCount?: number;
  /** Generator calls per task before giving up on it (default 3); each retry uses the next seed. */
  maxAttempts?: number;
  /** Sampling temperature (default 0.7; 0 = greedy, in which case retries raise it so they can differ). */
  temperature?: number;
  /** Token budget of one answer; the rewrite gets more, scaled to the passage length. */
  maxTokens?: number;
}

/** Augmentation by a chat model: three prompts per passage (rewrite, QA, description + tags), each output checked. */
export class LlmAugmenter implements Augmenter {
  readonly generator: string;
  readonly promptVersion = PROMPT_VERSION;
  private readonly qaCount: number;
  private readonly maxAttempts: number;
  private readonly temperature: number;
  private readonly maxTokens: number;

  constructor(
    private readonly model: TextGenerator,
    private readonly options: LlmAugmenterOptions = {},
  ) {
    this.generator = model.id;
    this.qaCount = options.qaCount ?? 3;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.temperature = options.temperature ?? 0.7;
    this.maxTokens = options.maxTokens ?? 256;
  }

  async augment(passage: Passage, options: AugmentOptions = {}): Promise<AugmentedRecord> {
    const seed = options.seed ?? 0;
    let calls = 0;
    const call = async (messages: ChatMessage[], attempt: number, maxTokens: number): Promise<{ text: string } | { error: string }> => {
      calls++;
      try {
        const temperature = attempt > 0 && this.temperature === 0 ? 0.7 : this.temperature;
        return { text: await this.model.generate(messages, { seed: seed + attempt, temperature, maxTokens, signal: options.signal }) };
      } catch (e) {
        if (e instanceof FatalGeneratorError || options.signal?.aborted) throw e;
        return { error: `generator error: ${(e as Error).message}` };
      }
    };

    // The rewrite is as long as the passage: budget ~1.8 tokens per word (technical text splits into more tokens).
    const rewriteTokens = Math.max(this.maxTokens, Math.ceil(passage.text.split(/\s+/).length * 1.8));
    let rewrite: string | null = null;
    let rewriteReason = '';
    for (let attempt = 0; attempt < this.maxAttempts && rewrite === null; attempt++) {
      const out = await call(rewriteMessages(passage.text, passage.title), attempt, rewriteTokens);
      if ('error' in out) rewriteReason = out.error;
      else {
        const checked = checkRewrite(out.text, passage.text);
        rewrite = checked.rewrite;
        rewriteReason = checked.reason ?? '';
      }
    }

    const qa: QaPair[] = [];
    let qaProposed = 0;
    let qaGrounded = 0;
    let qaReason = '';
    for (let attempt = 0; attempt < this.maxAttempts && qa.length < this.qaCount; attempt++) {
      const out = await call(qaMessages(passage.text, this.qaCount, passage.title), attempt, this.maxTokens);
      if ('error' in out) {
        qaReason = out.error;
        continue;
      }
      const checked = checkQaOutput(out.text, passage.text, this.options);
      qaProposed += checked.proposed;
      qaGrounded += checked.grounded;
      for (const pair of checked.valid) {
        const key = normalizeText(pair.question);
        if (qa.length < this.qaCount && !qa.some((p) => normalizeText(p.question) === key)) qa.push(pair);
      }
      if (checked.reasons.length > 0) qaReason = checked.reasons[0];
    }

    let meta = { description: '', tags: [] as string[] };
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const out = await call(metaMessages(passage.text, passage.title), attempt, 128);
      if ('error' in out) continue;
      const checked = checkMetaOutput(out.text, passage.text);
      if (checked.description.length > meta.description.length || checked.tags.length > meta.tags.length) meta = checked;
      if (checked.reason === undefined) break;
    }

    const reasons: string[] = [];
    if (rewrite === null) reasons.push(`rewrite: ${rewriteReason} (after ${this.maxAttempts} attempts)`);
    if (qa.length === 0) reasons.push(`qa: no valid pair after ${this.maxAttempts} attempts (last: ${qaReason})`);
    const record: AugmentedRecord = {
      passageId: passage.id,
      ...(passage.title !== undefined ? { title: passage.title } : {}),
      passage: passage.text,
      rewrite,
      qa,
      tags: meta.tags,
      description: meta.description,
      generator: this.generator,
      promptVersion: this.promptVersion,
      status: reasons.length === 0 ? 'ok' : 'failed',
      diagnostics: { calls, qaProposed, qaGrounded },
    };
    if (reasons.length > 0) record.failureReason = reasons.join('; ');
    return record;
  }

  async close(): Promise<void> {
    await this.model.close?.();
  }
}
