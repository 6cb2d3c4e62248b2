import { mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClusters } from '@rg/clustering';
import { CorpusStore } from '@rg/corpus';
import { openRetriever } from '@rg/retriever';
import { registerQdrant } from '@rg/retriever-qdrant';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

// The real sentence encoder (all-MiniLM-L6-v2); first use fetches it into RG_HOME like the engine's own tests.
const HOME = process.env.RG_HOME || join(homedir(), '.cache', 'rg');

const heart = [
  ['h1', 'Beta blockers lower blood pressure and heart rate in patients with hypertension.'],
  ['h2', 'Atrial fibrillation raises the risk of stroke; anticoagulants reduce it.'],
  ['h3', 'Statins reduce LDL cholesterol and cardiovascular events after myocardial infarction.'],
  ['h4', 'Heart failure patients benefit from ACE inhibitors and diuretics.'],
];
const space = [
  ['s1', 'The telescope observed a distant galaxy whose light left it billions of years ago.'],
  ['s2', 'Jupiter has dozens of moons; Europa may hide an ocean beneath its ice.'],
  ['s3', 'A supernova is the explosion of a massive star at the end of its life.'],
  ['s4', 'Astronomers found an exoplanet orbiting in the habitable zone of a red dwarf star.'],
];

describe('rg cluster on a real store with the real encoder', () => {
  it('embeds, clusters by topic, writes cluster ids to the dense index, and assigns later documents', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cluster-e2e-'));
    const store = CorpusStore.open(dir);
    store.add([...heart, ...space].map(([id, text]) => ({ id, text })));
    store.close();
    const env = { RG_HOME: HOME };

    const r = await runCli(['cluster', '--store', dir, '--k', '2', '--representatives', '2', '--seed', '1', '--json'], { env });
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ k: 2, documents: 8, fitted: true, added: 8 });
    expect(out.embedding).toMatchObject({ embedded: 8, model: 'all-minilm-l6-v2' });
    expect(out.vectorBackend).toMatchObject({ backend: 'embedded', documents: 8 });
    const model = loadClusters(join(dir, 'clusters.json'));
    const topicOf = (id: string) => model.assignments.get(id);
    // The two topics land in two different clusters, each whole.
    expect(new Set(heart.map(([id]) => topicOf(id))).size).toBe(1);
    expect(new Set(space.map(([id]) => topicOf(id))).size).toBe(1);
    expect(topicOf('h1')).not.toBe(topicOf('s1'));
    for (const c of out.clusters) expect(c.representatives).toHaveLength(2);

    // The dense index carries the cluster ids: a search filtered on one cluster only returns its documents.
    const dense = await openRetriever('dense', { storeDir: dir, home: HOME });
    try {
      const hits = await dense.search('cholesterol and heart attacks', { k: 8, filter: { cluster_id: topicOf('s1') as number } });
      expect(hits.map((h) => h.id).sort()).toEqual(['s1', 's2', 's3', 's4']);
    } finally {
      await dense.close();
    }

    // Re-running changes nothing and embeds nothing; new documents join the existing clusters.
    const again = JSON.parse(
      (await runCli(['cluster', '--store', dir, '--k', '2', '--representatives', '2', '--seed', '1', '--json'], { env })).stdout,
    );
    expect(again).toMatchObject({ fitted: false, added: 0, embedding: { embedded: 0 }, vectorBackend: null });
    const reopened = CorpusStore.open(dir);
    reopened.add([
      { id: 'h5', text: 'Aspirin is given after a heart attack to prevent blood clots in the coronary arteries.' },
      { id: 's5', text: 'The Hubble space telescope photographed colliding galaxies and nebulae.' },
    ]);
    reopened.close();
    const more = JSON.parse(
      (await runCli(['cluster', '--store', dir, '--k', '2', '--representatives', '2', '--seed', '1', '--json'], { env })).stdout,
    );
    expect(more).toMatchObject({ fitted: false, added: 2, documents: 10, embedding: { embedded: 2 } });
    const after = loadClusters(join(dir, 'clusters.json'));
    expect(after.centroids).toEqual(model.centroids);
    expect(after.assignments.get('h5')).toBe(topicOf('h1'));
    expect(after.assignments.get('s5')).toBe(topicOf('s1'));

    const range = JSON.parse((await runCli(['cluster', '--store', dir, '--k-range', '2,3', '--json'], { env })).stdout);
    expect(range.reports.map((x: { k: number }) => x.k)).toEqual([2, 3]);
    expect(range.reports[0].silhouette).toBeGreaterThan(0);
  });

  // No Qdrant server can be installed on the project's machines: this runs only where RG_QDRANT_URL points at one.
  const qdrant = process.env.RG_QDRANT_URL;
  if (!qdrant) console.info('skipping the live Qdrant run of rg cluster: RG_QDRANT_URL is not set');
  it.skipIf(!qdrant)('writes document ids and cluster ids into Qdrant (live server)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cluster-qdrant-'));
    const store = CorpusStore.open(dir);
    store.add([...heart, ...space].map(([id, text]) => ({ id, text })));
    store.close();
    const env = { RG_HOME: HOME, RG_QDRANT_URL: qdrant, RG_QDRANT_API_KEY: process.env.RG_QDRANT_API_KEY };
    const r = await runCli(['cluster', '--store', dir, '--k', '2', '--backend', 'qdrant', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).vectorBackend).toMatchObject({ backend: 'qdrant', documents: 8 });
    const space1 = loadClusters(join(dir, 'clusters.json')).assignments.get('s1') as number;
    registerQdrant(); // rg registered it in runCli's main; this test opens it itself
    const q = await openRetriever('qdrant', { storeDir: dir, home: HOME, env });
    try {
      const hits = await q.search('cholesterol and heart attacks', { k: 8, filter: { cluster_id: space1 } });
      expect(hits.map((h) => h.id).sort()).toEqual(['s1', 's2', 's3', 's4']);
    } finally {
      await q.close();
    }
  });
});
