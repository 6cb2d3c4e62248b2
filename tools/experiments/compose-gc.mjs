// Is the tail of a request's adapter work (fetch + compose) GC? Answers N questions in-process on a collection with
// three adapters each, records each answer's fetch and compose window, and the GC pauses V8 reports (PerformanceObserver)
// that overlap them. node tools/experiments/compose-gc.mjs COLLECTION_DIR [N]
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { loadRuntime, openCollection } from '../../packages/pipeline/dist/index.js';

const [dir, n = '64'] = process.argv.slice(2);
const runtime = await loadRuntime({ model: 'smollm2-135m-instruct', home: join(homedir(), '.cache/rg'), threads: 2 });
const collection = await openCollection(dir, runtime, {});
const docs = collection.listDocuments({ limit: 10 }).documents;
const gcs = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push({ start: e.startTime, end: e.startTime + e.duration, kind: e.detail?.kind });
}).observe({ entryTypes: ['gc'] });
const rows = [];
for (let i = 0; i < Number(n) + 2; i++) {
  const t0 = performance.now();
  const r = await collection.answer({
    question: 'Who keeps the lighthouse?',
    messages: [{ role: 'user', content: 'Who keeps the lighthouse?' }],
    method: 'cat_all_one',
    adapters: [0, 1, 2].map((j) => ({ id: docs[(i + j) % docs.length].id })),
    maxNewTokens: 16,
    temperature: 0,
  });
  if (i >= 2) rows.push({ t0, ...r.timings });
}
await new Promise((r) => setTimeout(r, 100));
const adapterMs = rows.map((r) => r.fetch_ms + r.compose_ms).sort((a, b) => a - b);
const q = (p) => adapterMs[Math.min(adapterMs.length - 1, Math.floor(p * adapterMs.length))].toFixed(1);
const kinds = {};
for (const g of gcs) kinds[g.kind] = (kinds[g.kind] ?? 0) + 1;
const major = gcs.filter((g) => g.kind === 4);
console.log(
  `fetch+compose p50 ${q(0.5)} p95 ${q(0.95)} p99 ${q(0.99)} max ${q(1)}; GC pauses by kind (1 minor, 4 major, 8 incremental, 16 weak callbacks) ${JSON.stringify(kinds)}; major pauses total ${major.reduce((s, g) => s + g.end - g.start, 0).toFixed(0)} ms`,
);
const slow = rows.filter((r) => r.fetch_ms + r.compose_ms > 8);
for (const r of slow) {
  const t1 = r.t0 + r.retrieve_ms + r.fetch_ms + r.compose_ms + 5;
  const hit = gcs.filter((g) => g.end > r.t0 && g.start < t1);
  console.log(
    `slow: fetch ${r.fetch_ms.toFixed(1)} compose ${r.compose_ms.toFixed(1)}; GC in window: ${hit.map((g) => `${g.kind}:${(g.end - g.start).toFixed(1)}ms`).join(' ') || 'none'}`,
  );
}
await collection.close();
await runtime.dispose();
