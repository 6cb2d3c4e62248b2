import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BusyMachineError, startRun } from '@rg/bench-kit';
import { ADAPTER_DTYPES, type AdapterDtype } from '@rg/lora';
import { STORE_BENCH_DEFAULTS, storeBench } from './store.js';

// `nx run adapter-store:bench` (node dist/bench/main.js): the store benchmark without the CLI; `rg bench store` runs
// the same function. Paths default to the repository's, whatever folder Nx runs this in.
const root = resolve(import.meta.dirname, '../../../..');
const usage = (message: string): never => {
  process.stderr.write(`bench store: ${message}\n`);
  process.exit(2);
};
const positive = (name: string, raw: string | undefined, fallback: number) => {
  if (raw === undefined) return fallback;
  if (!/^[1-9]\d*$/.test(raw)) usage(`--${name}: expected a positive integer, got "${raw}"`);
  return Number(raw);
};

function parse() {
  try {
    return parseArgs({
      options: {
        count: { type: 'string' },
        k: { type: 'string' },
        requests: { type: 'string' },
        rank: { type: 'string' },
        dtype: { type: 'string' },
        dir: { type: 'string' },
        keep: { type: 'boolean' },
        reuse: { type: 'boolean' },
        'in-process': { type: 'boolean' },
        unleased: { type: 'boolean' },
        'no-peer': { type: 'boolean' },
        'allow-busy': { type: 'boolean' },
        json: { type: 'boolean' },
      },
    }).values;
  } catch (e) {
    return usage((e as Error).message);
  }
}
const values = parse();
const dtype = (values.dtype ?? STORE_BENCH_DEFAULTS.dtype) as AdapterDtype;
if (!ADAPTER_DTYPES.includes(dtype)) usage(`--dtype: one of ${ADAPTER_DTYPES.join(', ')}, got "${dtype}"`);

try {
  const run = startRun({ cwd: process.cwd(), allowBusy: values['allow-busy'] ?? false });
  const result = await storeBench(
    {
      count: positive('count', values.count, STORE_BENCH_DEFAULTS.count),
      k: positive('k', values.k, STORE_BENCH_DEFAULTS.k),
      requests: positive('requests', values.requests, STORE_BENCH_DEFAULTS.requests),
      rank: positive('rank', values.rank, STORE_BENCH_DEFAULTS.rank),
      dtype,
      dir: values.dir === undefined ? undefined : resolve(values.dir),
      keep: values.keep,
      reuse: values.reuse,
      inProcess: values['in-process'],
      unleased: values.unleased,
      peer: values['no-peer']
        ? undefined
        : { python: resolve(root, 'tools/.venv/bin/python'), script: resolve(root, 'tools/bench/adapter_store_peer.py') },
    },
    (line) => process.stderr.write(`${line}\n`),
  );
  const out = { bench: 'store', ...run.finish(), ...result };
  process.stdout.write(`${values.json ? JSON.stringify(out) : JSON.stringify(out, null, 2)}\n`);
} catch (e) {
  if (e instanceof BusyMachineError || e instanceof RangeError) usage(e.message);
  throw e;
}
