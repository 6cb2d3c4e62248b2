import { checkMetaOutput, checkQaOutput, checkQuestion, checkRewrite, type QaCheckOptions } from './checks.js';
import {
  type Augmenter,
  type AugmentOptions,
  type ChatMessage,
  FatalGeneratorError,
  type Passage,
  type TextGenerator,
} from './generator.js';
import {
  metaMessages,
  PROMPT_VERSION,
  qaMessages,
  questionMessages,
  rewriteMessages,
  SENTENCE_PROMPT_VERSION,
  sentenceRewriteMessages,
} from './prompts.js';
import type { AugmentedRecord, QaPair } from './record.js';
import { answerCandidates } from './template.js';
import { normalizeText, splitSentences, wordCount } from './text.js';

/**
 * What one generator call works on.
 * - 'passage': the whole passage per task (a rewrite, N pairs in one JSON list): for models that can hold an abstract.
 * - 'sentence': a rewrite sentence by sentence, and one question per call for an answer span picked from a sentence:
 *   for small models (SmolLM2-135M), which drop numbers and invent answers over a whole abstract.
 */
export type AugmentUnit = 'passage' | 'sentence';

type CallResult = { text: string } | { error: string };
type Call = (messages: ChatMessage[], attempt: number, maxTokens: number, stop?: string[]) => Promise<CallResult>;

interface QaResult {
  qa: QaPair[];
  proposed: number;
  grounded: number;
  reason: string;
}

export interface LlmAugmenterOptions extends QaCheckOptions {
  /** Question/answer pairs wanted per passage (default 3). */
  qaCount?: number;
  /**
   * Generator calls per task before giving up on it (default 3 for 'passage', 2 for 'sentence', where the task is one
   * sentence's rewrite and a question budget of qaCount × maxAttempts); each retry uses the next seed.
   */
  maxAttempts?: number;
  /**
   * Sampling temperature (default 0.7 for 'passage', 0 for 'sentence'; 0 = greedy, in which case retries raise it to
   * 0.7 so they can differ). Greedy first suits small models: their samples drift more than their best guess.
   */
  temperature?: number;
  /** Token budget of one answer; the rewrite gets more, scaled to the passage length. */
  maxTokens?: number;
  /** Passage-level or sentence-level prompts (default 'passage'). */
  unit?: AugmentUnit;
}

/** Sentences shorter than this ("A cohort study.") have nothing to reword: they are kept as they are. */
const MIN_REWRITE_WORDS = 6;

/**
 * Augmentation by a chat model: a rewrite, QA pairs and a description + tags per passage, each output checked, with
 * passage-level or sentence-level prompts (`unit`).
 */
export class LlmAugmenter implements Augmenter {
  readonly generator: string;
  readonly promptVersion: string;
  private readonly unit: AugmentUnit;
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
    this.unit = options.unit ?? 'passage';
    this.maxAttempts = options.maxAttempts ?? (this.unit === 'sentence' ? 2 : 3);
    this.temperature = options.temperature ?? (this.unit === 'sentence' ? 0 : 0.7);
    this.maxTokens = options.maxTokens ?? 256;
    this.promptVersion = this.unit === 'sentence' ? SENTENCE_PROMPT_VERSION : PROMPT_VERSION;
  }

  async augment(passage: Passage, options: AugmentOptions = {}): Promise<AugmentedRecord> {
    const seed = options.seed ?? 0;
    let calls = 0;
    const call: Call = async (messages, attempt, maxTokens, stop) => {
      calls++;
      try {
        const temperature = attempt > 0 && this.temperature === 0 ? 0.7 : this.temperature;
        const text = await this.model.generate(messages, { seed: seed + attempt, temperature, maxTokens, stop, signal: options.signal });
        return { text };
      } catch (e) {
        if (e instanceof FatalGeneratorError || options.signal?.aborted) throw e;
        return { error: `generator error: ${(e as Error).message}` };
      }
    };

    const { rewrite, reason: rewriteReason } =
      this.unit === 'sentence' ? await this.rewriteBySentence(passage, call) : await this.rewritePassage(passage, call);
    const {
      qa,
      proposed: qaProposed,
      grounded: qaGrounded,
      reason: qaReason,
    } = this.unit === 'sentence' ? await this.qaBySpan(passage, call) : await this.qaForPassage(passage, call);

    let meta = { description: '', tags: [] as string[] };
    // Description and tags do not decide a passage's status; the sentence pipeline, made for slow small models,
    // spends one call on them.
    const metaAttempts = this.unit === 'sentence' ? 1 : this.maxAttempts;
    for (let attempt = 0; attempt < metaAttempts; attempt++) {
      const out = await call(metaMessages(passage.text, passage.title), attempt, 128);
      if ('error' in out) continue;
      const checked = checkMetaOutput(out.text, passage.text);
      if (checked.description.length > meta.description.length || checked.tags.length > meta.tags.length) meta = checked;
      if (checked.reason === undefined) break;
    }

    const reasons: string[] = [];
    if (rewrite === null) reasons.push(`rewrite: ${rewriteReason}`);
    if (qa.length === 0) reasons.push(`qa: ${qaReason}`);
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

  private async rewritePassage(passage: Passage, call: Call): Promise<{ rewrite: string | null; reason: string }> {
    // The rewrite is as long as the passage: budget ~1.8 tokens per word (technical text splits into more tokens).
    const maxTokens = Math.max(this.maxTokens, Math.ceil(passage.text.split(/\s+/).length * 1.8));
    let reason = '';
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const out = await call(rewriteMessages(passage.text, passage.title), attempt, maxTokens);
      if ('error' in out) {
        reason = out.error;
        continue;
      }
      const checked = checkRewrite(out.text, passage.text);
      if (checked.rewrite !== null) return { rewrite: checked.rewrite, reason: '' };
      reason = checked.reason ?? '';
    }
    return { rewrite: null, reason: `${reason} (after ${this.maxAttempts} attempts)` };
  }

  /**
   * Each sentence rewritten on its own and checked strictly (every number kept); a sentence that fails every attempt
   * stays as written, which is faithful but not reworded. The rewrite counts when at least half of the sentences that
   * can be reworded were. Paragraph breaks are kept.
   */
  private async rewriteBySentence(passage: Passage, call: Call): Promise<{ rewrite: string | null; reason: string }> {
    let eligible = 0;
    let rewritten = 0;
    let reason = '';
    const paragraphs: string[] = [];
    for (const paragraph of passage.text.split(/\n+/)) {
      const out: string[] = [];
      for (const sentence of splitSentences(paragraph)) {
        if (wordCount(sentence) < MIN_REWRITE_WORDS) {
          out.push(sentence);
          continue;
        }
        eligible++;
        let done: string | null = null;
        for (let attempt = 0; attempt < this.maxAttempts && done === null; attempt++) {
          const res = await call(sentenceRewriteMessages(sentence), attempt, Math.ceil(wordCount(sentence) * 2.5) + 16, ['\n']);
          if ('error' in res) reason = res.error;
          else {
            const checked = checkRewrite(res.text, sentence, { strict: true });
            done = checked.rewrite;
            if (checked.reason) reason = checked.reason;
          }
        }
        if (done !== null) rewritten++;
        out.push(done ?? sentence);
      }
      paragraphs.push(out.join(' '));
    }
    if (eligible === 0) return { rewrite: null, reason: `no sentence of ${MIN_REWRITE_WORDS}+ words to reword` };
    if (rewritten * 2 < eligible) return { rewrite: null, reason: `${rewritten} of ${eligible} sentences reworded (last: ${reason})` };
    return { rewrite: paragraphs.join('\n'), reason: '' };
  }

  private async qaForPassage(passage: Passage, call: Call): Promise<QaResult> {
    const result: QaResult = { qa: [], proposed: 0, grounded: 0, reason: '' };
    for (let attempt = 0; attempt < this.maxAttempts && result.qa.length < this.qaCount; attempt++) {
      const out = await call(qaMessages(passage.text, this.qaCount, passage.title), attempt, this.maxTokens);
      if ('error' in out) {
        result.reason = out.error;
        continue;
      }
      const checked = checkQaOutput(out.text, passage.text, this.options);
      result.proposed += checked.proposed;
      result.grounded += checked.grounded;
      for (const pair of checked.valid) {
        const key = normalizeText(pair.question);
        if (result.qa.length < this.qaCount && !result.qa.some((p) => normalizeText(p.question) === key)) result.qa.push(pair);
      }
      if (checked.reasons.length > 0) result.reason = checked.reasons[0];
    }
    if (result.qa.length === 0) result.reason = `no valid pair after ${this.maxAttempts} attempts (last: ${result.reason})`;
    return result;
  }

  /**
   * One call per answer span (numbers and names first, across sentences): the model writes the question, the span
   * is the answer and its sentence the full answer. A rejected question moves on to the next span rather than
   * resampling the same one; at most qaCount × maxAttempts calls.
   */
  private async qaBySpan(passage: Passage, call: Call): Promise<QaResult> {
    const result: QaResult = { qa: [], proposed: 0, grounded: 0, reason: '' };
    // A lone letter ("N" of "N = 44") makes no answer, nor does a capitalised word opening a clause after a colon
    // ("...the question: Compared to usual care"), which is a sentence start, not a name.
    const candidates = answerCandidates(passage.text).filter(
      ({ sentence, span }) => span.replace(/\W/g, '').length >= 2 && !(/^\p{Lu}\p{Ll}+$/u.test(span) && sentence.includes(`: ${span}`)),
    );
    if (candidates.length === 0) return { ...result, reason: 'no answer span (number, name or term) in the passage' };
    let tries = 0;
    for (const { sentence, span } of candidates) {
      if (result.qa.length >= this.qaCount || tries >= this.qaCount * this.maxAttempts) break;
      const out = await call(questionMessages(sentence, span), 0, 48, ['\n']);
      tries++;
      if ('error' in out) {
        result.reason = out.error;
        continue;
      }
      result.proposed++;
      result.grounded++;
      const checked = checkQuestion(out.text, span, sentence, passage.text);
      const key = checked.question === null ? '' : normalizeText(checked.question);
      if (checked.question === null) result.reason = checked.reason ?? '';
      else if (result.qa.some((p) => normalizeText(p.question) === key)) result.reason = 'duplicate question';
      else result.qa.push({ question: checked.question, answer: span, fullAnswer: sentence });
    }
    if (result.qa.length === 0) result.reason = `no valid question for ${tries} answer spans (last: ${result.reason})`;
    return result;
  }

  async close(): Promise<void> {
    await this.model.close?.();
  }
}
