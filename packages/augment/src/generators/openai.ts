/**
 * Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp server, Ollama, ...). Bounded concurrency,
 * a timeout per request, retries with exponential backoff on 429, 5xx, timeouts and network errors. The API key is
 * sent in the Authorization header only and scrubbed from every error message. An endpoint that cannot be reached
 * fails the run: once at the start (`probe`), and after a bounded number of consecutive connection failures, instead
 * of costing every passage its full budget of timed-out tries.
 */
import { type ChatMessage, FatalGeneratorError, type GenerateOptions, type TextGenerator } from '../generator.js';

export interface OpenAiGeneratorOptions {
  /** Base URL (`http://host:8080/v1`) or the full `/chat/completions` URL. */
  url: string;
  model: string;
  /** Read by the caller from env RG_LLM_API_KEY; optional for local servers. */
  apiKey?: string;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Per-request timeout (default 120 s). */
  timeoutMs?: number;
  /** Retries after the first try on retryable failures (default 4). */
  maxRetries?: number;
  /** First backoff delay; doubles each retry, with jitter (default 1000 ms). */
  backoffMs?: number;
  /**
   * Requests in a row (tries included, across passages) that got no HTTP response at all (refused, reset, DNS,
   * timeout) before the endpoint is taken to be down and the run stops (default 6). Any HTTP response resets it.
   */
  maxConsecutiveConnectionFailures?: number;
  /** Timeout of the start-up probe (default: the smaller of timeoutMs and 10 s). */
  probeTimeoutMs?: number;
}

/** A request that failed; `retryable` says whether trying again may help. */
export class HttpGeneratorError extends Error {
  override name = 'HttpGeneratorError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
    /** No HTTP response came back (refused, reset, DNS, timeout): the endpoint itself may be down. */
    readonly connection = false,
  ) {
    super(message);
  }
}

const ENDPOINT_HINT = 'check --llm-url and that the server is running and reachable from here';

export function chatCompletionsUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return trimmed.endsWith('/chat/completions') ? trimmed : `${trimmed}/chat/completions`;
}

/** A counting semaphore: at most `limit` holders at once, FIFO. */
class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class OpenAiGenerator implements TextGenerator {
  readonly id: string;
  private readonly endpoint: string;
  private readonly slots: Semaphore;
  private connectionFailures = 0;
  private down: FatalGeneratorError | undefined;

  constructor(private readonly options: OpenAiGeneratorOptions) {
    if (!/^https?:\/\//.test(options.url)) throw new FatalGeneratorError(`LLM URL must start with http:// or https://: ${options.url}`);
    this.endpoint = chatCompletionsUrl(options.url);
    this.id = `openai:${options.model}`;
    this.slots = new Semaphore(options.concurrency ?? 4);
  }

  /**
   * One cheap request before the run (GET {base}/models): any HTTP answer, even 404 from a server without that
   * route, shows the endpoint is there; no answer at all fails at once, naming the URL and the cause. A refused key
   * (401/403) fails here too, before any passage is tried.
   */
  async probe(signal?: AbortSignal): Promise<void> {
    const url = this.endpoint.replace(/\/chat\/completions$/, '/models');
    const timeoutMs = this.options.probeTimeoutMs ?? Math.min(this.options.timeoutMs ?? 120_000, 10_000);
    const timeout = AbortSignal.timeout(timeoutMs);
    const headers: Record<string, string> = {};
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
      await response.arrayBuffer();
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      const cause = timeout.aborted ? `no response within ${timeoutMs} ms` : causeOf(e);
      throw new FatalGeneratorError(this.scrub(`LLM endpoint ${this.options.url} is unreachable (${url}: ${cause}): ${ENDPOINT_HINT}`));
    }
    if (response.status === 401 || response.status === 403) {
      throw new FatalGeneratorError(
        `LLM endpoint ${url}: HTTP ${response.status}: the API key was refused (check --llm-url, --llm-model and RG_LLM_API_KEY)`,
      );
    }
  }

  async generate(messages: ChatMessage[], options: GenerateOptions = {}): Promise<string> {
    const maxRetries = this.options.maxRetries ?? 4;
    const backoffMs = this.options.backoffMs ?? 1000;
    for (let attempt = 0; ; attempt++) {
      if (this.down) throw this.down;
      await this.slots.acquire();
      let error: HttpGeneratorError;
      try {
        const text = await this.request(messages, options);
        this.connectionFailures = 0;
        return text;
      } catch (e) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (!(e instanceof HttpGeneratorError)) throw e;
        error = e;
        this.noteFailure(e);
      } finally {
        this.slots.release();
      }
      if (this.down) throw this.down;
      if (!error.retryable || attempt >= maxRetries) {
        throw new HttpGeneratorError(`${error.message}${attempt > 0 ? ` (after ${attempt + 1} tries)` : ''}`, false, error.status);
      }
      const delay = error.retryAfterMs ?? backoffMs * 2 ** attempt * (0.5 + Math.random());
      await sleep(Math.min(delay, 60_000), options.signal);
    }
  }

  private async request(messages: ChatMessage[], options: GenerateOptions): Promise<string> {
    const timeoutMs = this.options.timeoutMs ?? 120_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const body = {
      model: this.options.model,
      messages,
      ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.maxTokens !== undefined ? { max_tokens: options.maxTokens } : {}),
      ...(options.stop && options.stop.length > 0 ? { stop: options.stop } : {}),
    };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.endpoint, { method: 'POST', headers, body: JSON.stringify(body), signal });
      text = await response.text();
    } catch (e) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (timeout.aborted)
        throw new HttpGeneratorError(`${this.endpoint}: no response within ${timeoutMs} ms`, true, undefined, undefined, true);
      throw new HttpGeneratorError(this.scrub(`${this.endpoint}: request failed: ${causeOf(e)}`), true, undefined, undefined, true);
    }
    if (!response.ok) {
      const status = response.status;
      const detail = this.scrub(text.slice(0, 300).replace(/\s+/g, ' '));
      const message = `${this.endpoint}: HTTP ${status}${detail ? `: ${detail}` : ''}`;
      if (status === 401 || status === 403 || status === 404) {
        throw new FatalGeneratorError(`${message} (check --llm-url, --llm-model and RG_LLM_API_KEY)`);
      }
      const retryAfter = Number(response.headers.get('retry-after'));
      const retryAfterMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined;
      throw new HttpGeneratorError(message, status === 429 || status >= 500, status, retryAfterMs);
    }
    let content: unknown;
    try {
      content = (JSON.parse(text) as { choices?: Array<{ message?: { content?: unknown } }> }).choices?.[0]?.message?.content;
    } catch {
      throw new HttpGeneratorError(`${this.endpoint}: response is not JSON`, true);
    }
    if (typeof content !== 'string') throw new HttpGeneratorError(`${this.endpoint}: response has no choices[0].message.content`, false);
    return content;
  }

  /** Count connection failures in a row; past the limit the endpoint is down and every caller stops. */
  private noteFailure(e: HttpGeneratorError): void {
    if (!e.connection) {
      this.connectionFailures = 0;
      return;
    }
    this.connectionFailures++;
    const limit = this.options.maxConsecutiveConnectionFailures ?? 6;
    if (this.connectionFailures >= limit && !this.down) {
      this.down = new FatalGeneratorError(
        `LLM endpoint ${this.endpoint}: ${this.connectionFailures} requests in a row got no response (last: ${e.message}); stopping the run: ${ENDPOINT_HINT}`,
      );
    }
  }

  /** Servers sometimes echo the key back ("Incorrect API key provided: sk-..."): never let it reach a log. */
  private scrub(text: string): string {
    const key = this.options.apiKey;
    return key ? text.split(key).join('[redacted]') : text;
  }
}

/** fetch's "fetch failed" hides the reason in `cause` (ECONNREFUSED, ENOTFOUND, ...). */
function causeOf(e: unknown): string {
  const err = e as Error & { cause?: Error & { code?: string } };
  return err.cause?.code ? `${err.cause.code}: ${err.cause.message}` : (err.cause?.message ?? err.message);
}
