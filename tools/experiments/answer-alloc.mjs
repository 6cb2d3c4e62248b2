// Where serving allocates: answers N questions in-process on a collection (as rg bench serve's overhead part does)
// under V8's sampling heap profiler, counting objects later collected too, and prints the top allocation sites.
// node tools/experiments/answer-alloc.mjs COLLECTION_DIR [N]
import { Session } from 'node:inspector/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadRuntime, openCollection } from '../../packages/pipeline/dist/index.js';

const [dir, n = '16'] = process.argv.slice(2);
const runtime = await loadRuntime({ model: 'smollm2-135m-instruct', home: join(homedir(), '.cache/rg'), threads: 2 });
const collection = await openCollection(dir, runtime, {});
const docs = collection.listDocuments({ limit: 10 }).documents;
const ask = (i) =>
  collection.answer({
    question: 'Who keeps the lighthouse?',
    messages: [{ role: 'user', content: 'Who keeps the lighthouse?' }],
    method: 'cat_all_one',
    adapters: [0, 1, 2].map((j) => ({ id: docs[(i + j) % docs.length].id })),
    maxNewTokens: 16,
    temperature: 0,
  });
for (let i = 0; i < 2; i++) await ask(i);
const session = new Session();
session.connect();
await session.post('HeapProfiler.startSampling', {
  samplingInterval: 4096,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
const t0 = performance.now();
for (let i = 0; i < Number(n); i++) await ask(i);
const seconds = (performance.now() - t0) / 1000;
const { profile } = await session.post('HeapProfiler.stopSampling');
const sites = new Map();
const walk = (node, stack) => {
  const f = node.callFrame;
  const here = `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  const path = [here, ...stack].slice(0, 4);
  if (node.selfSize > 0) sites.set(path.join(' < '), (sites.get(path.join(' < ')) ?? 0) + node.selfSize);
  for (const c of node.children) walk(c, path);
};
walk(profile.head, []);
const total = [...sites.values()].reduce((a, b) => a + b, 0);
console.log(
  `${n} answers in ${seconds.toFixed(1)} s; sampled JS-heap allocation ${(total / 1e6).toFixed(1)} MB (${(total / 1e6 / Number(n)).toFixed(2)} MB/answer)`,
);
for (const [k, v] of [...sites].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${(v / 1e6).toFixed(2)} MB  ${k}`);
console.log('memoryUsage', process.memoryUsage());
await collection.close();
await runtime.dispose();
