import { median } from '@rg/bench-kit';
import type { RunningServer } from '../start.js';
import { type Ask, type BenchDocument, chat, drive, type Latency, ms, round2 } from './http.js';

export interface BatchRun {
  batch: number;
  concurrency: number;
  completionTokens: number;
  seconds: number;
  completionTokensPerSecond: number;
  latencyMs: Latency;
  errors: number;
}

export interface BatchingResult {
  clients: number;
  decodeTokens: number;
  rounds: number;
  runs: BatchRun[];
  /** Every client's own tokens/s summed, batched over sequential (prefills included on both sides). */
  speedup: number | null;
  outputsIdentical: boolean;
}

export interface BatchingOptions {
  /** Starts a server decoding `batch` rows together (concurrency the same); `stop` shuts it down. */
  serve: (batch: number) => Promise<RunningServer>;
  stop: () => Promise<void>;
  model: string;
  documents: BenchDocument[];
  questions: string[];
  /** The batch sizes compared; 1 is sequential serving, the baseline. */
  compare: number[];
  clients: number;
  decodeTokens: number;
  rounds: number;
  /** The deadline of a measurement started now: no request is sent after it. */
  within: () => number;
  say: (line: string) => void;
}

/**
 * Batched against unbatched decoding across adapter sets: `clients` concurrent clients, each with its own three
 * documents' adapters, served at each batch size after a warm-up round; the outputs must be the same at every size.
 */
export async function measureBatching(o: BatchingOptions): Promise<BatchingResult> {
  const { documents: docs, questions } = o;
  const clientAsk = (c: number, maxNewTokens: number): Ask => ({
    question: questions[(3 * c) % questions.length],
    maxNewTokens,
    // Client c's own three documents: every client a different adapter set.
    adapters: [0, 1, 2].map((j) => docs[(c + j) % docs.length].id),
  });
  const runs: BatchRun[] = [];
  let reference: string[] | undefined;
  let outputsIdentical = true;
  for (const batch of o.compare) {
    const server = await o.serve(batch);
    try {
      await drive(o.clients, o.clients, o.within(), (c) => chat(server.url, o.model, clientAsk(c, 4)));
      const rounds = [];
      for (let r = 0; r < o.rounds; r++) {
        o.say(`rg: batching: --batch ${batch}, ${o.clients} clients, round ${r + 1}/${o.rounds} ...`);
        const start = performance.now();
        const outcomes = await drive(o.clients, o.clients, o.within(), (c) => chat(server.url, o.model, clientAsk(c, o.decodeTokens)));
        const seconds = (performance.now() - start) / 1000;
        const texts = outcomes.map((x) => x.body?.choices[0].message.content ?? `HTTP ${x.status}`);
        reference ??= texts;
        outputsIdentical &&= texts.length === reference.length && texts.every((t, i) => t === reference![i]);
        const tokens = outcomes.reduce((s, x) => s + (x.body?.usage.completion_tokens ?? 0), 0);
        rounds.push({ seconds, tokens, errors: outcomes.filter((x) => x.status !== 200).length, latency: outcomes.map((x) => x.ms) });
      }
      runs.push({
        batch,
        concurrency: batch,
        completionTokens: rounds[0].tokens,
        seconds: round2(median(rounds.map((r) => r.seconds))),
        completionTokensPerSecond: round2(median(rounds.map((r) => r.tokens / r.seconds))),
        latencyMs: ms(rounds.flatMap((r) => r.latency)),
        errors: rounds.reduce((s, r) => s + r.errors, 0),
      });
    } finally {
      await o.stop();
    }
  }
  const base = runs.find((r) => r.batch === 1);
  const top = runs.find((r) => r.batch === Math.max(...o.compare));
  return {
    clients: o.clients,
    decodeTokens: o.decodeTokens,
    rounds: o.rounds,
    runs,
    speedup: base && top && top !== base ? round2(top.completionTokensPerSecond / base.completionTokensPerSecond) : null,
    outputsIdentical,
  };
}
