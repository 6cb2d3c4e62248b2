import { percentile } from '@rg/bench-kit';

// The HTTP side of the serving benchmark: a chat request as the load generator sees it, closed-loop clients, jobs.

export interface RgTimings {
  retrieve_ms: number;
  fetch_ms: number;
  compose_ms: number;
  prefill_ms: number;
  decode_ms: number;
}

export interface ChatResponse {
  choices: Array<{ message: { content: string }; finish_reason: string }>;
  usage: { prompt_tokens: number; completion_tokens: number };
  rg: { adapters: Array<{ id: string; weight: number }>; missing_adapters: string[]; timings: RgTimings };
}

/** One HTTP request as the load generator saw it. */
export interface Outcome {
  status: number;
  /** From sending the request to the parsed response body. */
  ms: number;
  body?: ChatResponse;
  /** A network error (no status), or the error message of a non-2xx answer. */
  error?: string;
}

export interface Ask {
  question: string;
  maxNewTokens: number;
  /** Explicit adapters (document ids); none: the k = 3 retrieved documents' adapters. */
  adapters?: string[];
}

/** A document the benchmark adds to its collection through the API. */
export interface BenchDocument {
  id: string;
  title: string;
  text: string;
}

const jsonHeaders = { 'content-type': 'application/json' };

function chatBody(model: string, ask: Ask): string {
  return JSON.stringify({
    model,
    messages: [{ role: 'user', content: ask.question }],
    max_tokens: ask.maxNewTokens,
    temperature: 0,
    rg: ask.adapters ? { method: 'cat_all_one', adapters: ask.adapters.map((id) => ({ id })) } : { method: 'cat_all_one', k: 3 },
  });
}

export async function chat(url: string, model: string, ask: Ask): Promise<Outcome> {
  const start = performance.now();
  try {
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: jsonHeaders, body: chatBody(model, ask) });
    const body = (await res.json()) as ChatResponse & { error?: { message: string } };
    const ms = performance.now() - start;
    return res.ok ? { status: res.status, ms, body } : { status: res.status, ms, error: body.error?.message };
  } catch (e) {
    return { status: 0, ms: performance.now() - start, error: (e as Error).message };
  }
}

/**
 * `clients` concurrent clients, each sending its next request as soon as its previous one is answered, until `count`
 * requests were sent or `deadline` (performance.now() ms) passed: a closed loop, what concurrent users of a chat
 * endpoint do. Requests take seconds here, so plain fetch is an instrument with nothing to hide.
 */
export async function drive(clients: number, count: number, deadline: number, send: (i: number) => Promise<Outcome>): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let next = 0;
  const client = async () => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      outcomes[i] = await send(i);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return outcomes.filter(Boolean);
}

export const round2 = (x: number) => Math.round(x * 100) / 100;
/** Median and 99th percentile of a set of milliseconds, rounded. */
export type Latency = { p50: number; p99: number };
export const ms = (xs: number[]): Latency => ({ p50: round2(percentile(xs, 0.5)), p99: round2(percentile(xs, 0.99)) });

export async function api(url: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, { ...init, headers: init.body ? jsonHeaders : {} });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Polls a job until it is done; a failed or cancelled job is an error naming its step. */
export async function waitForJob(url: string, jobId: string, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const { body } = await api(url, `/v1/jobs/${jobId}`);
    if (body.state === 'done') return;
    if (body.state === 'failed' || body.state === 'cancelled') throw new Error(`job ${jobId} ${body.state}: ${body.error}`);
    if (performance.now() > end) throw new Error(`job ${jobId} still ${body.state} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
