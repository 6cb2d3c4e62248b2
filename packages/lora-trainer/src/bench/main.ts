import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BusyMachineError, startRun } from '@rg/bench-kit';
import { DEFAULT_MODEL, defaultHome, LORA_TARGETS, type LoraTarget } from '@rg/engine';
import { PeerSetupError } from '@rg/engine/bench';
import { TRAIN_BENCH_DEFAULTS, trainBench } from './train.js';

// `nx run lora-trainer:bench` (node dist/bench/main.js): the training benchmark without the CLI; `rg bench train` runs
// the same function. The peer defaults to the repository's, whatever folder Nx runs this in.
const root = resolve(import.meta.dirname, '../../../..');
const usage = (message: string): never => {
  process.stderr.write(`bench train: ${message}\n`);
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
        model: { type: 'string' },
        threads: { type: 'string' },
        seq: { type: 'string' },
        batch: { type: 'string' },
        rank: { type: 'string' },
        alpha: { type: 'string' },
        targets: { type: 'string' },
        steps: { type: 'string' },
        warmup: { type: 'string' },
        python: { type: 'string' },
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
const d = TRAIN_BENCH_DEFAULTS;
const alpha = values.alpha === undefined ? d.alpha : Number(values.alpha);
if (!(alpha > 0)) usage(`--alpha: expected a number greater than 0, got "${values.alpha}"`);
const targets = values.targets === undefined ? d.targets : values.targets.split(',').map((t) => t.trim());
for (const t of targets)
  if (!(LORA_TARGETS as readonly string[]).includes(t))
    usage(`--targets: a comma-separated subset of ${LORA_TARGETS.join(', ')}, got "${t}"`);
// As the rg CLI: RG_MODEL, RG_HOME and RG_THREADS when set (an empty value is unset), else its defaults.
const threads = positive('threads', values.threads ?? (process.env.RG_THREADS || undefined), 2);
const python = values.python === undefined ? resolve(root, 'tools/.venv/bin/python') : resolve(values.python);

try {
  const run = startRun({ cwd: root, threads, allowBusy: values['allow-busy'] ?? false });
  const result = await trainBench({
    model: values.model ?? (process.env.RG_MODEL || DEFAULT_MODEL),
    home: defaultHome(),
    threads,
    seq: positive('seq', values.seq, d.seq),
    batch: positive('batch', values.batch, d.batch),
    rank: positive('rank', values.rank, d.rank),
    alpha,
    targets: targets as LoraTarget[],
    steps: positive('steps', values.steps, d.steps),
    warmup: positive('warmup', values.warmup, d.warmup),
    peer: values['no-peer'] ? null : { python, script: resolve(root, 'tools/bench/train_peer.py') },
  });
  const out = { bench: 'train', ...run.finish(), ...result };
  process.stdout.write(`${values.json ? JSON.stringify(out) : JSON.stringify(out, null, 2)}\n`);
} catch (e) {
  if (e instanceof BusyMachineError || e instanceof PeerSetupError) usage(e.message);
  throw e;
}
