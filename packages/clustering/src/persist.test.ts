import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assignDocuments, fitClusters } from './clusters.js';
import { loadClusters, saveClusters } from './persist.js';
import { makeBlobs } from './test-data.js';

describe('saveClusters / loadClusters', () => {
  const { items } = makeBlobs(3, 20, 6, { seed: 3 });

  it('round-trips every field and leaves no temp file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-clusters-'));
    const path = join(dir, 'clusters.json');
    const model = await fitClusters(items, { k: 3, seed: 5, representatives: 2, pick: 'sample', sampleSize: 30 });
    saveClusters(path, model);
    expect(readdirSync(dir)).toEqual(['clusters.json']);
    const loaded = loadClusters(path);
    expect(loaded).toEqual(model);
    // Saving again overwrites in place.
    saveClusters(path, loaded);
    expect(loadClusters(path)).toEqual(model);
  });

  it('a reloaded model assigns new documents exactly as the original would', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-clusters-'));
    const path = join(dir, 'clusters.json');
    const original = await fitClusters(items.slice(0, 40), { k: 3, seed: 5, representatives: 2 });
    saveClusters(path, original);
    const reloaded = loadClusters(path);
    await assignDocuments(original, items);
    await assignDocuments(reloaded, items);
    expect(reloaded).toEqual(original);
  });

  it('names the file and the field that is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-clusters-'));
    const path = join(dir, 'clusters.json');
    saveClusters(path, await fitClusters(items, { k: 3, seed: 5 }));
    const good = JSON.parse(readFileSync(path, 'utf8'));
    const broken = (patch: Record<string, unknown>) => {
      writeFileSync(path, JSON.stringify({ ...good, ...patch }));
      return () => loadClusters(path);
    };
    expect(broken({ k: 4 })).toThrow(`${path}: field 'centroids' is invalid, expected an array of 4 entries`);
    expect(broken({ centroids: [good.centroids[0], good.centroids[1], [1, 2]] })).toThrow(
      "field 'centroids[2]' is invalid, expected 6 finite numbers",
    );
    expect(broken({ sizes: [1, 2, 3] })).toThrow("field 'members[0]' is invalid");
    expect(broken({ pick: 'nearest' })).toThrow("field 'pick' is invalid, expected 'centroid' or 'sample'");
    expect(broken({ format: 'other' })).toThrow("field 'format' is invalid");
    writeFileSync(path, '{"format": "rg-clu');
    expect(() => loadClusters(path)).toThrow(`${path}: not a readable JSON clusters file`);
  });
});
