import { describe, expect, it } from 'vitest';
import { checkIndexSettings, IndexSettingsError } from './build-index.js';
import { checkEncodeSettings, TrainerSettingsError } from './training-settings.js';

describe('checkIndexSettings', () => {
  it('takes what the backend uses', () => {
    expect(() => checkIndexSettings('hnsw', { hnsw: { M: 8, efConstruction: 100 } })).not.toThrow();
    expect(() => checkIndexSettings('sqlite', { fieldWeights: { tags: 0.5 }, fields: 'aug.jsonl' })).not.toThrow();
    expect(() => checkIndexSettings('dense', {})).not.toThrow();
  });

  it('refuses what the backend would ignore or refuse late, naming the flag', () => {
    expect(() => checkIndexSettings('dense', { hnsw: { M: 8 } })).toThrow(IndexSettingsError);
    expect(() => checkIndexSettings('dense', { hnsw: { efConstruction: 8 } })).toThrow(/--hnsw-m and --hnsw-ef-construction apply/);
    expect(() => checkIndexSettings('hnsw', { hnsw: { M: 1 } })).toThrow(/--hnsw-m 1: expected an integer >= 2/);
    expect(() => checkIndexSettings('dense', { fields: new Map() })).toThrow(/--augmented applies to --backend sqlite, hybrid/);
    expect(() => checkIndexSettings('hnsw', { fieldWeights: { tags: 1 } })).toThrow(/--field-weights applies .* \(hnsw embeds title/);
  });
});

describe('checkEncodeSettings', () => {
  it('takes the ways of spreading the work that go together', () => {
    for (const s of [{}, { docsPerPass: 4 }, { dapt: true }, { queue: 'redis://h:1/0' }, { warmup: true, docsPerPass: 2 }]) {
      expect(() => checkEncodeSettings(s)).not.toThrow();
    }
    expect(() => checkEncodeSettings({ objective: 'distill', distillTopk: 8 })).not.toThrow();
  });

  it('refuses the ones that do not, naming the flag', () => {
    const refused: Array<[Parameters<typeof checkEncodeSettings>[0], RegExp]> = [
      [{ distillTopk: 8 }, /--distill-topk: only with --objective distill or both/],
      [{ objective: 'both', docsPerPass: 4 }, /--docs-per-pass: --objective both trains one passage per pass/],
      [{ dapt: true, docsPerPass: 2 }, /--docs-per-pass: --dapt trains one adapter/],
      [{ objective: 'distill', queue: 'redis://h:1/0' }, /--queue: the queue workers train --objective lm only/],
      [{ dapt: true, queue: 'redis://h:1/0' }, /--queue: --dapt trains one adapter/],
      [{ docsPerPass: 2, queue: 'redis://h:1/0' }, /--queue: --docs-per-pass applies to one process/],
      [{ warmup: true, queue: 'redis://h:1/0' }, /--warmup: the queue workers train on the base model alone/],
    ];
    for (const [settings, message] of refused) {
      expect(() => checkEncodeSettings(settings), JSON.stringify(settings)).toThrow(TrainerSettingsError);
      expect(() => checkEncodeSettings(settings), JSON.stringify(settings)).toThrow(message);
    }
  });
});
