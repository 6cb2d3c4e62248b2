import { resolve } from 'node:path';
import { benchFlags, benchMain } from '@rg/bench-kit';
import { LORA_TARGETS, type LoraTarget } from '@rg/engine';
import { PeerSetupError } from '@rg/engine/bench';
import { TRAIN_BENCH_DEFAULTS, trainBench } from './train.js';

// `nx run lora-trainer:bench` (node dist/bench/main.js): the training benchmark without the CLI; `rg bench train` runs
// the same function.
await benchMain({
  benches: ['train'],
  options: benchFlags(['seq', 'batch', 'rank', 'alpha', 'targets', 'steps', 'warmup', 'python'], ['no-peer']),
  usageErrors: [PeerSetupError],
  async run(bench, a) {
    const d = TRAIN_BENCH_DEFAULTS;
    const targets =
      a
        .string('targets')
        ?.split(',')
        .map((t) => t.trim()) ?? d.targets;
    for (const t of targets)
      if (!(LORA_TARGETS as readonly string[]).includes(t))
        a.usage(`--targets: a comma-separated subset of ${LORA_TARGETS.join(', ')}, got "${t}"`);
    const python = a.path('python') ?? resolve(a.root, 'tools/.venv/bin/python');
    const options = {
      model: a.model,
      home: a.home,
      threads: a.threads,
      seq: a.int('seq', d.seq),
      batch: a.int('batch', d.batch),
      rank: a.int('rank', d.rank),
      alpha: a.positive('alpha', d.alpha),
      targets: targets as LoraTarget[],
      steps: a.int('steps', d.steps),
      warmup: a.int('warmup', d.warmup),
      peer: a.flag('no-peer') ? null : { python, script: resolve(a.root, 'tools/bench/train_peer.py') },
    };
    const run = a.start();
    const result = await trainBench(options);
    return { bench, ...run.finish(), ...result };
  },
});
