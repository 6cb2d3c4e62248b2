import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TemplateAugmenter } from '@rg/augment';
import { CorpusStore } from '@rg/corpus';
import { writeTinyModel } from '@rg/engine/testing';
import { DAPT_ADAPTER_ID, WARMUP_ADAPTER_ID } from '@rg/lora-trainer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { augmentCorpus } from './augment-corpus.js';
import { clusterStore } from './cluster-store.js';
import { encodeClusterFile } from './cluster-train.js';
import { encodeDaptFile } from './encode-dapt.js';
import { type EncodeFileOptions, withTrainingRun } from './encode-file.js';
import { DOCUMENTS } from './test-helpers/fixtures.js';
import { trainWarmupAdapter } from './warmup-adapter.js';

// The trainers beside encodeAugmentedFile, on a tiny random model: what each stores, and that a second run keeps it.
const dir = mkdtempSync(join(tmpdir(), 'rg-pipeline-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let options: EncodeFileOptions;
beforeAll(async () => {
  const corpus = CorpusStore.open(join(dir, 'corpus'), { create: true });
  corpus.add(DOCUMENTS);
  const input = join(dir, 'augmented.jsonl');
  await augmentCorpus(corpus, { augmenter: new TemplateAugmenter({ qaCount: 2 }), outputPath: input });
  corpus.close();
  options = {
    model: writeTinyModel(join(dir, 'tiny-llama')),
    home: join(dir, 'home'),
    threads: 1,
    input,
    store: join(dir, 'adapters'),
    dataset: 'train-steps',
    rank: 2,
    alpha: 4,
    training: { mode: 'lora', lr: 1e-3, epochs: 1, batchSize: 1, seed: 0 },
  };
}, 120_000);

describe('encodeDaptFile', () => {
  it('trains one adapter on every record under the DAPT id; a second run skips it', async () => {
    const started: number[] = [];
    const first = await encodeDaptFile(options, { onStart: (i) => started.push(i.passages) });
    expect(first).toMatchObject({ id: DAPT_ADAPTER_ID, status: 'trained', passages: 3 });
    expect(first.steps).toBeGreaterThan(0);
    expect(first.bytes).toBeGreaterThan(0);
    expect(started).toEqual([3]);
    const second = await encodeDaptFile(options);
    expect(second).toMatchObject({ status: 'skipped', steps: 0, examples: first.examples });
  }, 120_000);
});

describe('encodeClusterFile', () => {
  it('trains one adapter per cluster on its representatives, names the members without a record, and resumes', async () => {
    const axis = (i: number) => Float32Array.from([i === 0 ? 1 : 0, i === 0 ? 0 : 1]);
    const vectors = [...DOCUMENTS.map((d, i) => ({ id: d.id, vector: axis(i) })), { id: 'unaugmented', vector: axis(0) }];
    mkdirSync(join(dir, 'clusters'));
    const clusters = (
      await clusterStore(join(dir, 'clusters'), vectors, {
        k: 2,
        seed: 0,
        representatives: 2,
        pick: 'centroid',
        maxIterations: 100,
        tolerance: 1e-6,
        refit: false,
      })
    ).model;
    const missing: string[][] = [];
    const first = await encodeClusterFile({ ...options, clusters, on: 'representatives' }, { onMissing: (ids) => missing.push(ids) });
    expect(first).toMatchObject({ k: 2, on: 'representatives', trained: 2, skipped: 0, failed: 0, missingRecords: 1 });
    expect(missing).toEqual([['unaugmented']]);
    const second = await encodeClusterFile({ ...options, clusters, on: 'representatives' });
    expect(second).toMatchObject({ trained: 0, skipped: 2 });
  }, 120_000);
});

describe('trainWarmupAdapter', () => {
  it('trains the warm-up on question -> answer pairs and keeps it when the same pairs and settings come again', async () => {
    const pairs = [
      { id: 'q1', prompt: 'Who keeps the lighthouse?', answer: 'Edda Quist' },
      { id: 'q2', prompt: 'Where is the fair?', answer: 'Zanforth' },
    ];
    const warmup = {
      ...options,
      store: join(dir, 'warmup-adapters'),
      dataset: 'train-steps',
      training: { lr: 1e-3, epochs: 1, seed: 0, batchSize: 1, gradAccumulation: 1, maxTokens: 1024 },
      pairs,
      source: { dataset: 'train-steps', split: 'dev' },
    };
    const first = await trainWarmupAdapter(warmup);
    expect(first).toMatchObject({ status: 'trained', pairs: 2, trainedPairs: 2, droppedPairs: 0 });
    expect(first.key).toMatchObject({ id: WARMUP_ADAPTER_ID, dataset: 'train-steps' });
    const again = await trainWarmupAdapter(warmup);
    expect(again).toMatchObject({ status: 'skipped', sha256: first.sha256 });
    const other = await trainWarmupAdapter({ ...warmup, pairs: pairs.slice(0, 1) });
    expect(other.status).toBe('trained');
  }, 120_000);
});

describe('withTrainingRun', () => {
  it('builds the training session with gradient checkpointing when asked, and without it by default', async () => {
    const checkpointed = (gradientCheckpointing?: boolean) =>
      withTrainingRun(
        { ...options, dataset: 'train-steps', gradientCheckpointing },
        () => {},
        { batchedAdapters: false, distill: false },
        async (c) => c.session.graph.checkpoint,
      );
    expect(await checkpointed(true)).toBe(true);
    expect(await checkpointed(undefined)).toBe(false);
  }, 120_000);
});
