import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BusyMachineError, startRun } from '@rg/bench-kit';
import { popqaDocument } from './add.js';
import { readDemo, SERVE_BENCH_DEFAULTS, SERVE_BENCH_PARTS, type ServeBenchPart, serveBench } from './serve.js';

// `nx run server:bench` (node dist/bench/main.js): the serving benchmark without the CLI; `rg bench serve` runs the
// same function. Paths default to the repository's, whatever folder Nx runs this in: the documents are `rg demo`'s.
const root = resolve(import.meta.dirname, '../../../..');
const d = SERVE_BENCH_DEFAULTS;
const usage = (message: string): never => {
  process.stderr.write(`bench serve: ${message}\n`);
  process.exit(2);
};
const int = (name: string, raw: string | undefined, fallback: number, min = 1) => {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) usage(`--${name}: expected an integer >= ${min}, got "${raw}"`);
  return Number(raw);
};

function parse() {
  const text = { type: 'string' } as const;
  try {
    return parseArgs({
      options: {
        model: text,
        home: text,
        threads: text,
        collection: text,
        'demo-dir': text,
        'data-dir': text,
        requests: text,
        'max-new-tokens': text,
        batch: text,
        worker: { type: 'boolean' },
        'training-pause': text,
        'compare-batch': text,
        clients: text,
        'decode-tokens': text,
        rounds: text,
        'max-seconds': text,
        parts: text,
        'allow-busy': { type: 'boolean' },
        json: { type: 'boolean' },
      },
    }).values;
  } catch (e) {
    return usage((e as Error).message);
  }
}
const values = parse();
const parts = values.parts ? (values.parts.split(',').map((p) => p.trim()) as ServeBenchPart[]) : d.parts;
for (const p of parts) if (!SERVE_BENCH_PARTS.includes(p)) usage(`--parts: unknown part "${p}" (${SERVE_BENCH_PARTS.join(', ')})`);
const env = process.env;
const threads = int('threads', values.threads ?? env.RG_THREADS, 2);

try {
  const demo = readDemo(resolve(values['demo-dir'] ?? join(root, 'apps/cli/demo')));
  const newDocument = parts.includes('add') ? popqaDocument(resolve(values['data-dir'] ?? join(root, '../shared/data')), 200) : undefined;
  let run: ReturnType<typeof startRun> | undefined;
  const result = await serveBench(
    {
      model: values.model ?? (env.RG_MODEL || 'smollm2-135m-instruct'),
      home: values.home ?? (env.RG_HOME || join(homedir(), '.cache', 'rg')),
      threads,
      collection: values.collection === undefined ? undefined : resolve(values.collection),
      ...demo,
      newDocument,
      requests: int('requests', values.requests, d.requests),
      maxNewTokens: int('max-new-tokens', values['max-new-tokens'], d.maxNewTokens),
      batch: int('batch', values.batch, d.batch),
      worker: values.worker,
      trainingPause: int('training-pause', values['training-pause'], d.trainingPause, 0),
      compareBatch: values['compare-batch']?.split(',').map((b) => int('compare-batch', b.trim(), 1)),
      clients: int('clients', values.clients, d.clients),
      decodeTokens: int('decode-tokens', values['decode-tokens'], d.decodeTokens),
      rounds: int('rounds', values.rounds, d.rounds),
      maxSeconds: int('max-seconds', values['max-seconds'], d.maxSeconds),
      parts,
      onReady: () => {
        run = startRun({ cwd: process.cwd(), threads, allowBusy: values['allow-busy'] ?? false });
      },
    },
    (line) => process.stderr.write(`${line}\n`),
  );
  // The order rg bench serve prints: the figures, the run record, the peak RSS.
  const { peakRssMb, ...figures } = result;
  const out = { bench: 'serve', ...figures, ...run!.finish(), peakRssMb };
  process.stdout.write(`${values.json ? JSON.stringify(out) : JSON.stringify(out, null, 2)}\n`);
} catch (e) {
  if (e instanceof BusyMachineError || e instanceof RangeError) usage(e.message);
  throw e;
}
