import { resolve } from 'node:path';
import type { BenchSpec } from '@rg/bench-kit';
import { LORA_TARGETS, type LoraTarget } from '@rg/engine';
import { PeerSetupError } from '@rg/engine/bench';
import { TRAIN_BENCH_DEFAULTS as d, trainBench } from './train.js';

/** `rg bench train` and `nx run lora-trainer:bench`: LoRA training steps against PyTorch + PEFT. */
export const TRAIN_BENCH: BenchSpec = {
  name: 'train',
  description:
    'LoRA training steps (forward + backward + AdamW) on random tokens: tokens/s, ms/step, peak RSS, ORT vs JS share; peer PyTorch + PEFT',
  flags: [
    { name: 'seq', kind: 'int', help: 'tokens per sequence', default: d.seq },
    { name: 'batch', kind: 'int', help: 'sequences per step', default: d.batch },
    { name: 'rank', kind: 'int', help: 'LoRA rank', value: '<r>', default: d.rank },
    { name: 'alpha', kind: 'number', help: 'LoRA alpha', value: '<a>', default: d.alpha },
    { name: 'targets', kind: 'list', help: `target modules (of ${LORA_TARGETS.join(', ')})`, default: d.targets },
    { name: 'steps', kind: 'int', help: 'timed steps (median reported)', default: d.steps },
    { name: 'warmup', kind: 'int', help: 'untimed steps first', default: d.warmup },
    { name: 'no-peer', kind: 'switch', help: 'skip the PyTorch + PEFT peer' },
    { name: 'python', kind: 'path', help: 'Python with torch, transformers, peft', default: 'tools/.venv/bin/python' },
  ],
  usageErrors: [PeerSetupError],
  async run(a) {
    const targets = a.strs('targets') ?? [];
    for (const t of targets)
      if (!(LORA_TARGETS as readonly string[]).includes(t))
        a.usage(`--targets: expected a comma-separated subset of ${LORA_TARGETS.join(', ')}, got "${t}"`);
    const run = a.start();
    const result = await trainBench({
      model: a.model,
      home: a.home,
      threads: a.threads,
      seq: a.num('seq'),
      batch: a.num('batch'),
      rank: a.num('rank'),
      alpha: a.num('alpha'),
      targets: targets as LoraTarget[],
      steps: a.num('steps'),
      warmup: a.num('warmup'),
      peer: a.flag('no-peer') ? null : { python: a.str('python')!, script: resolve(a.root, 'tools/bench/train_peer.py') },
    });
    return { bench: 'train', ...run.finish(), ...result };
  },
};
