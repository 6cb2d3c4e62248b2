import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { median } from '@rg/bench-kit';
import type { RunningServer } from '../start.js';
import { type Ask, api, type BenchDocument, chat, ms, type Outcome, round2, waitForJob } from './http.js';

/** A PopQA paragraph of about `words` words (the closest in length), as a new document. */
export function popqaDocument(dataDir: string, words: number): BenchDocument {
  const file = join(dataDir, 'popqa', 'popqa.json');
  if (!existsSync(file)) throw new Error(`${file}: not found (--data-dir: the folder holding popqa/)`);
  const rows = JSON.parse(readFileSync(file, 'utf8')) as Array<{ paragraphs: Array<{ title: string; text: string }> }>;
  let best: { title: string; text: string } | undefined;
  const count = (t: string) => t.split(/\s+/).filter(Boolean).length;
  for (const row of rows) {
    for (const p of row.paragraphs) if (!best || Math.abs(count(p.text) - words) < Math.abs(count(best.text) - words)) best = p;
  }
  if (!best) throw new Error(`${file}: no paragraphs`);
  return { id: `bench-serve-add-${Date.now()}`, title: best.title, text: best.text };
}

export interface AddPartOptions {
  /** A server on the collection whose documents' training yields to answers for at most `trainingMaxPauseMs`. */
  serve: (trainingMaxPauseMs: number) => Promise<RunningServer>;
  model: string;
  document: BenchDocument;
  /** What a user asks while the document trains (explicit adapters, so every answer does the same work). */
  probe: Ask;
  maxNewTokens: number;
  /** The servers' --training-pause values compared, in seconds (0: training never waits, as before it could). */
  pauses: number[];
  maxSeconds: number;
  say: (line: string) => void;
}

/** One training pause of the add part. */
export interface AddRun {
  trainingPauseSeconds: number;
  jobDoneSeconds: number;
  firstAnswerSeconds: number;
  adapterApplied: boolean;
  status: number;
  idleAnswerMs: number;
  answersWhileTraining: { n: number; errors: number; p50?: number; p99?: number; max?: number };
}

export interface AddResult {
  words: number;
  title: string;
  runs: AddRun[];
}

/**
 * POST /v1/documents, then the first answer that retrieves and applies the new document's adapter; meanwhile one
 * user asks question after question. Once per training pause, each on a fresh server: what a user sees while a
 * document trains in the server's process (the answers' latency, against the same question asked before the POST)
 * and what it costs the document (the job's time).
 */
export async function measureAdd(o: AddPartOptions): Promise<AddResult> {
  const words = o.document.text.split(/\s+/).filter(Boolean).length;
  const runs: AddRun[] = [];
  for (const pause of o.pauses) {
    o.say(`rg: add: --training-pause ${pause}: POST /v1/documents of ${words} words, answering meanwhile ...`);
    const server = await o.serve(pause * 1000);
    const id = `${o.document.id}-p${pause}`;
    try {
      const idle: Outcome[] = [];
      for (let i = 0; i < 4; i++) idle.push(await chat(server.url, o.model, o.probe));
      const start = performance.now();
      const added = await api(server.url, '/v1/documents', { method: 'POST', body: JSON.stringify({ ...o.document, id }) });
      if (added.status !== 202) throw new Error(`adding ${id}: HTTP ${added.status} ${JSON.stringify(added.body)}`);
      let trained = false;
      const during: Outcome[] = [];
      const asking = (async () => {
        while (!trained) during.push(await chat(server.url, o.model, o.probe));
      })();
      try {
        await waitForJob(server.url, added.body.job_id as string, o.maxSeconds * 1000);
      } finally {
        trained = true;
        await asking;
      }
      const jobDoneSeconds = (performance.now() - start) / 1000;
      const answer = await chat(server.url, o.model, { question: `What is ${o.document.title}?`, maxNewTokens: o.maxNewTokens });
      const latencies = during.filter((x) => x.status === 200).map((x) => x.ms);
      runs.push({
        trainingPauseSeconds: pause,
        jobDoneSeconds: round2(jobDoneSeconds),
        firstAnswerSeconds: round2((performance.now() - start) / 1000),
        // Retrieved by its title and applied: the answer used the new document's adapter.
        adapterApplied: answer.body?.rg.adapters.some((a) => a.id === id) ?? false,
        status: answer.status,
        // The first idle answer warms the server's caches; the other three are the reference.
        idleAnswerMs: round2(median(idle.slice(1).map((x) => x.ms))),
        answersWhileTraining: {
          n: during.length,
          errors: during.length - latencies.length,
          ...(latencies.length > 0 ? { ...ms(latencies), max: round2(Math.max(...latencies)) } : {}),
        },
      });
    } finally {
      await api(server.url, `/v1/documents/${encodeURIComponent(id)}`, { method: 'DELETE' });
      await server.shutdown();
    }
  }
  return { words, title: o.document.title, runs };
}
