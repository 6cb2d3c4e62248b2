import type { AnswerRequest, ChatTurn, Collection } from '@rg/pipeline';
import { badRequest } from './errors.js';
import type { ChatCompletionBody, CompletionBody, ContentPart, RgExtension } from './schemas.js';

/** What a completion request asks of a collection, before streaming and abort are wired in. */
export type AnswerAsk = Omit<AnswerRequest, 'onDelta' | 'signal'>;

/** OpenAI fields this server does not implement: refused by name rather than silently ignored. */
function refuseUnsupported(body: ChatCompletionBody | CompletionBody): void {
  if (body.stop !== undefined && body.stop !== null && !(Array.isArray(body.stop) && body.stop.length === 0))
    throw badRequest(
      'stop',
      'stop sequences are not supported (generation ends at the model end-of-turn token or max_tokens)',
      'unsupported',
    );
  if (body.n !== undefined && body.n !== null && body.n > 1)
    throw badRequest('n', 'only n=1 is supported (one choice per request)', 'unsupported');
  for (const field of ['tools', 'tool_choice', 'functions', 'function_call'] as const) {
    if (body[field] !== undefined && body[field] !== null)
      throw badRequest(field, 'tool and function calling are not supported', 'unsupported');
  }
  if (body.logprobs !== undefined && body.logprobs !== null && body.logprobs !== false)
    throw badRequest('logprobs', 'log probabilities are not returned by this server', 'unsupported');
  const format = body.response_format as { type?: string } | undefined | null;
  if (format && format.type !== 'text') throw badRequest('response_format', 'only {"type": "text"} is supported', 'unsupported');
}

function rgKnobs(rg: RgExtension | undefined, collection: Collection): Partial<AnswerAsk> {
  if (!rg) return {};
  if (rg.backend !== undefined && rg.backend !== collection.settings.backend) {
    throw badRequest(
      'rg.backend',
      `collection "${collection.name}" is indexed with the "${collection.settings.backend}" backend only; "${rg.backend}" is not available`,
    );
  }
  const knobs: Partial<AnswerAsk> = {};
  if (rg.method !== undefined) knobs.method = rg.method;
  if (rg.k !== undefined) knobs.k = rg.k;
  if (rg.compose !== undefined) knobs.compose = rg.compose;
  const method = rg.method ?? collection.settings.answer.method;
  if (rg.adapters !== undefined && (method === 'wo_param' || method === 'icl')) {
    throw badRequest('rg.adapters', `method ${method} applies no adapters; explicit adapters need method cat_all_one or combine`);
  }
  if (rg.adapters !== undefined) knobs.adapters = rg.adapters.map((a) => ({ id: a.id, weight: a.weight }));
  return knobs;
}

function sampling(body: ChatCompletionBody | CompletionBody, maxTokens: number | null | undefined): Partial<AnswerAsk> {
  const out: Partial<AnswerAsk> = {};
  if (maxTokens !== undefined && maxTokens !== null) out.maxNewTokens = maxTokens;
  if (body.temperature !== undefined && body.temperature !== null) out.temperature = body.temperature;
  if (body.seed !== undefined && body.seed !== null) out.seed = body.seed;
  return out;
}

function text(content: string | ContentPart[]): string {
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

export function chatAsk(body: ChatCompletionBody, collection: Collection): AnswerAsk {
  refuseUnsupported(body);
  if (
    body.max_tokens !== undefined &&
    body.max_tokens !== null &&
    body.max_completion_tokens !== undefined &&
    body.max_completion_tokens !== null &&
    body.max_tokens !== body.max_completion_tokens
  ) {
    throw badRequest(
      'max_completion_tokens',
      `differs from max_tokens (${body.max_completion_tokens} vs ${body.max_tokens}); give one of them`,
    );
  }
  // The developer role is what newer OpenAI clients send for system instructions.
  const messages: ChatTurn[] = body.messages.map((m) => ({ role: m.role === 'developer' ? 'system' : m.role, content: text(m.content) }));
  const last = messages[messages.length - 1];
  if (last.role !== 'user') {
    throw badRequest(`messages[${messages.length - 1}].role`, `the last message must be the user's question (got "${last.role}")`);
  }
  return {
    question: last.content,
    messages,
    ...sampling(body, body.max_completion_tokens ?? body.max_tokens),
    ...rgKnobs(body.rg, collection),
  };
}

export function completionAsk(body: CompletionBody, collection: Collection): AnswerAsk {
  refuseUnsupported(body);
  if (body.echo) throw badRequest('echo', 'echoing the prompt is not supported', 'unsupported');
  if (body.best_of !== undefined && body.best_of !== null && body.best_of > 1)
    throw badRequest('best_of', 'only best_of=1 is supported', 'unsupported');
  if (body.suffix) throw badRequest('suffix', 'insertion (suffix) is not supported', 'unsupported');
  const prompt = Array.isArray(body.prompt) ? body.prompt[0] : body.prompt;
  return { question: prompt, raw: true, ...sampling(body, body.max_tokens), ...rgKnobs(body.rg, collection) };
}
