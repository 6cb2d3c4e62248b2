import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { median } from '@rg/bench-kit';
import { type LoraParams, loadModel, seededRandom, TrainingSession } from '@rg/engine';
import { AdamW, DEFAULT_TARGETS, initAdapter } from '@rg/lora-trainer';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { positiveInt, positiveNumber } from '../parse.js';
import { targetList } from '../train/common.js';
import { allowBusyOption, benchCommand, benchRun } from './bench.js';

interface Flags {
  seq: number;
  batch: number;
  rank: number;
  alpha: number;
  targets: string[];
  steps: number;
  warmup: number;
  peer: boolean;
  python: string;
  allowBusy?: boolean;
  json?: boolean;
}

export function registerBenchTrain(program: Command, ctx: CliContext): void {
  benchCommand(program)
    .command('train')
    .description(
      'LoRA training steps (forward + backward + AdamW) on random tokens: tokens/s, ms/step, peak RSS, ORT vs JS share; peer PyTorch + PEFT',
    )
    .option('--seq <n>', 'tokens per sequence', positiveInt, 256)
    .option('--batch <n>', 'sequences per step', positiveInt, 1)
    .option('--rank <r>', 'LoRA rank', positiveInt, 2)
    .option('--alpha <a>', 'LoRA alpha', positiveNumber, 32)
    .option('--targets <list>', 'target modules', targetList, [...DEFAULT_TARGETS])
    .option('--steps <n>', 'timed steps (median reported)', positiveInt, 20)
    .option('--warmup <n>', 'untimed steps first', positiveInt, 2)
    .option('--no-peer', 'skip the PyTorch + PEFT peer')
    .option('--python <path>', 'Python with torch, transformers, peft (tools/.venv)', 'tools/.venv/bin/python')
    .addOption(allowBusyOption())
    .option('--json', 'print one JSON line')
    .action(async (flags: Flags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const run = benchRun(ctx, { threads: config.threads, allowBusy: flags.allowBusy ?? false });
      const model = await loadModel(config.model, { home: config.home, pull: true });
      const targets = flags.targets as typeof DEFAULT_TARGETS;
      const tCreate = performance.now();
      const session = await TrainingSession.create(model.config, model.weights, { targets, threads: config.threads });
      const sessionMs = performance.now() - tCreate;
      const adapter = initAdapter(model.config, { rank: flags.rank, alpha: flags.alpha, targets, seed: 0 });
      const params = new Map<string, LoraParams>([...adapter.modules].map(([k, p]) => [k, { a: p.a, b: p.b }]));
      const optimizer = new AdamW(
        [...params.values()].flatMap((p) => [p.a, p.b]),
        { lr: 3e-4 },
      );
      const random = seededRandom(1);
      const n = flags.batch * flags.seq;
      const ids = Array.from({ length: n }, () => Math.floor(random() * model.config.vocabSize));
      const batch = { batch: flags.batch, seq: flags.seq, inputIds: ids, attentionMask: ids.map(() => 1), labels: ids };
      const stepMs: number[] = [];
      const ortMs: number[] = [];
      try {
        for (let i = 0; i < flags.warmup + flags.steps; i++) {
          const t0 = performance.now();
          const r = await session.step(batch, params, flags.alpha / flags.rank);
          optimizer.step([...r.grads.values()].flatMap((g) => [g.a, g.b]));
          if (i >= flags.warmup) {
            stepMs.push(performance.now() - t0);
            ortMs.push(r.ortMs);
          }
        }
      } finally {
        await session.release();
      }
      const ms = median(stepMs);
      const ortShare = ortMs.reduce((a, b) => a + b, 0) / stepMs.reduce((a, b) => a + b, 0);
      const rg = {
        msPerStep: ms,
        tokensPerSecond: n / (ms / 1000),
        ortShare,
        jsShare: 1 - ortShare,
        sessionCreateMs: sessionMs,
        peakRssMb: process.resourceUsage().maxRSS / 1024,
      };
      let peer: Record<string, number | string> | null = null;
      if (flags.peer) {
        const python = resolve(ctx.io.cwd, flags.python);
        if (!existsSync(python))
          throw new UsageError(`--python ${python}: not found (create tools/.venv, see tools/reference/README.md, or pass --no-peer)`);
        const script = resolve(ctx.io.cwd, 'tools/bench/train_peer.py');
        if (!existsSync(script)) throw new UsageError(`${script}: not found (run from the repository root, or pass --no-peer)`);
        const args = [
          script,
          '--gguf',
          model.source.path,
          '--seq',
          String(flags.seq),
          '--batch',
          String(flags.batch),
          '--rank',
          String(flags.rank),
        ];
        args.push(
          '--alpha',
          String(flags.alpha),
          '--targets',
          flags.targets.join(','),
          '--steps',
          String(flags.steps),
          '--warmup',
          String(flags.warmup),
        );
        args.push('--threads', String(config.threads));
        if (model.source.kind !== 'gguf') throw new UsageError('the peer loads GGUF files only: use a .gguf model or --no-peer');
        const peerRun = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
        if (peerRun.status !== 0) throw new Error(`peer failed (exit ${peerRun.status}): ${peerRun.stderr.slice(-2000)}`);
        peer = JSON.parse(peerRun.stdout.trim().split('\n').pop() as string);
      }
      const result = {
        bench: 'train',
        ...run.finish(),
        model: config.model,
        seq: flags.seq,
        batch: flags.batch,
        rank: flags.rank,
        alpha: flags.alpha,
        targets: flags.targets,
        steps: flags.steps,
        rg,
        peer,
        speedup: peer ? rg.tokensPerSecond / Number(peer.tokensPerSecond) : null,
        memoryRatio: peer ? rg.peakRssMb / Number(peer.peakRssMb) : null,
      };
      if (flags.json) ctx.json(result);
      else ctx.print(JSON.stringify(result, null, 2));
    });
}
