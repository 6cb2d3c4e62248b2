import { type Summary, summary } from '@rg/bench-kit';
import { type Latency, ms, type Outcome, round2 } from './http.js';

// The figures serveBench computes from the HTTP outcomes of its parts.

/** fetch + compose of the requests in one cache class. */
export type CacheSplit = { requests: number; fetchPlusComposeMs: Summary | null };

export interface LoadLevel {
  clients: number;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  completionTokensPerSecond: number;
  latencyMs: Latency | null;
  errors: number;
  status429: number;
  errorSamples: string[];
}

/** Latency, throughput and status counts of a batch of outcomes over `seconds` of wall time. */
export function loadFigures(clients: number, outcomes: Outcome[], seconds: number): LoadLevel {
  const ok = outcomes.filter((o) => o.status === 200);
  const tokens = ok.reduce((s, o) => s + (o.body?.usage.completion_tokens ?? 0), 0);
  return {
    clients,
    requests: outcomes.length,
    seconds: round2(seconds),
    requestsPerSecond: round2(ok.length / seconds),
    completionTokensPerSecond: round2(tokens / seconds),
    latencyMs: ok.length > 0 ? ms(ok.map((o) => o.ms)) : null,
    errors: outcomes.filter((o) => o.status !== 200 && o.status !== 429).length,
    status429: outcomes.filter((o) => o.status === 429).length,
    errorSamples: [...new Set(outcomes.filter((o) => o.status !== 200).map((o) => `${o.status}: ${o.error}`))].slice(0, 3),
  };
}

/** fetch + compose of each answered request, split by whether it read an adapter from disk. */
export function splitByCache(outcomes: Outcome[], missed: boolean[]): { inMemory: CacheSplit; readFromDisk: CacheSplit } {
  const split = (cold: boolean): CacheSplit => {
    const times = outcomes.flatMap((o, i) =>
      o.body && missed[i] === cold ? [o.body.rg.timings.fetch_ms + o.body.rg.timings.compose_ms] : [],
    );
    return { requests: times.length, fetchPlusComposeMs: times.length > 0 ? summary(times) : null };
  };
  return { inMemory: split(false), readFromDisk: split(true) };
}
