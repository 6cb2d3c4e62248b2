import type { AdapterStore } from '@rg/adapter-store';
import type { EncodeOptions } from '@rg/lora-trainer';
import { describe, expect, it } from 'vitest';
import { parseQueueUrl } from './connection.js';
import { documentGroups, runCoordinator } from './coordinator.js';

describe('runCoordinator before it connects', () => {
  it('refuses a recipe the workers would train differently from rg encode, naming the field', async () => {
    const options = { mode: 'lora', lr: 1e-3, epochs: 1, batchSize: 1, recipe: { examples: 'qa', loss: 'answer', objective: 'distill' } };
    await expect(
      runCoordinator({
        // Nothing listens there: the refusal must come before any connection or store access.
        queue: parseQueueUrl('redis://127.0.0.1:1/0'),
        store: {} as AdapterStore,
        scope: { model: 'm', rank: 2, alpha: 32, dataset: 'd', lr: 1e-3, epochs: 1 },
        modelFingerprint: 'm:0',
        groups: [],
        options: options as unknown as EncodeOptions,
      }),
    ).rejects.toThrow('recipe objective "distill": not supported by the encode queue');
  });

  it('documentGroups refuses reserved ids with encodeDocuments’ words and keeps the rest in order', () => {
    const record = (passageId: string) => ({ passageId, passage: 'p', rewrite: null, qa: [] });
    const { groups, refused } = documentGroups([record('a'), record('_dapt'), record('cluster-k4-1'), record('b')]);
    expect(groups.map((g) => g.adapterId)).toEqual(['a', 'b']);
    expect(refused.map((o) => o.id)).toEqual(['_dapt', 'cluster-k4-1']);
    expect(refused[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('is reserved for the DAPT adapter') });
  });
});
