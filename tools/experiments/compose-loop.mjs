// Times composeCat of k stored adapters in a loop (no model): is the adapter work itself under 10 ms?
// node tools/experiments/compose-loop.mjs STORE_DIR [N]
import { AdapterStore } from '../../packages/adapter-store/dist/index.js';
import { ComposeBuffers, composeCat } from '../../packages/lora/dist/index.js';

const [dir, n = '400'] = process.argv.slice(2);
const store = AdapterStore.open(dir);
const entries = store.list().slice(0, 3);
const buffers = new ComposeBuffers();
const times = { lease: [], compose: [], release: [] };
for (let i = 0; i < Number(n); i++) {
  const t0 = performance.now();
  const lease = await store.lease(entries.map((e) => e.key));
  const t1 = performance.now();
  const c = composeCat(
    lease.adapters.map((adapter) => ({ adapter })),
    [1 / 3, 1 / 3, 1 / 3],
    buffers,
  );
  const t2 = performance.now();
  lease.release();
  buffers.release(c);
  const t3 = performance.now();
  times.lease.push(t1 - t0);
  times.compose.push(t2 - t1);
  times.release.push(t3 - t2);
}
const q = (xs, p) => {
  const s = [...xs].slice(20).sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(2);
};
for (const [k, v] of Object.entries(times)) console.log(k, 'p50', q(v, 0.5), 'p99', q(v, 0.99), 'max', q(v, 1));
console.log(buffers.stats());
const probe = await store.lease(entries.map((e) => e.key));
const ad = probe.adapters[0];
let na = 0,
  nb = 0;
for (const m of ad.modules.values()) {
  na += m.a.length;
  nb += m.b.length;
}
console.log(
  'rank',
  ad.config.rank,
  'modules',
  ad.modules.size,
  'A floats',
  na,
  'B floats',
  nb,
  ad.modules.values().next().value.b.constructor.name,
);
const big = new Float32Array(na * 3 + nb * 3),
  src = new Float32Array(na * 3 + nb * 3);
const tc = [];
for (let i = 0; i < 200; i++) {
  const t = performance.now();
  big.set(src);
  tc.push(performance.now() - t);
}
console.log('memcpy of the same bytes p50', q(tc, 0.5));
