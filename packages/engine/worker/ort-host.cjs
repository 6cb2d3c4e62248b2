// An ONNX Runtime session host: one session, constant feeds (weights), and stored feed sets
// (KV caches, adapters) referred to by id, so big tensors never cross the thread boundary per step.
// Plain CommonJS on purpose: the same file runs in-process (required from the engine's TS or JS)
// and as a worker_threads entry, both from the sources (tests) and from dist.
'use strict';
const { isMainThread, parentPort, workerData } = require('node:worker_threads');

function createHost(ort) {
  // The first session is the default; more (another graph over the same weights) share the constants and stored sets.
  const sessions = new Map();
  let constants = {};
  const stored = new Map();
  let nextId = 1;
  const toTensors = (feeds) => {
    const out = {};
    for (const [name, t] of Object.entries(feeds)) out[name] = new ort.Tensor(t.type, t.data, t.dims);
    return out;
  };
  const plain = (t) => ({ type: t.type, data: t.data, dims: Array.from(t.dims) });
  // A new stored set whose tensors stack rows of stored tensors along a new leading batch axis. `rows`: { id, row,
  // length }: `row` picks a row of a tensor that has a batch axis (absent: the whole tensor is the row); `length`
  // (absent: all) is how much of the ragged axis is the row's own. `axes`: tensor name -> its ragged axis within a row.
  // Rows are zero-padded along it to the longest (at least `minLength`): at the end (align 'start') or at the front
  // (align 'end').
  function stack({ rows, axes, align, minLength = 0 }) {
    const sets = rows.map(({ id }) => {
      const set = stored.get(id);
      if (!set) throw new Error(`ort-host: unknown or released handle ${id}`);
      return set;
    });
    const out = {};
    for (const [name, axis] of Object.entries(axes)) {
      const parts = rows.map((r, i) => {
        const t = sets[i][name];
        if (!t) throw new Error(`ort-host: stored set ${r.id} has no tensor '${name}'`);
        const dims = r.row === undefined ? Array.from(t.dims) : Array.from(t.dims).slice(1);
        const rowSize = dims.reduce((a, b) => a * b, 1);
        return { data: t.data, dims, offset: r.row === undefined ? 0 : r.row * rowSize, length: r.length ?? dims[axis] };
      });
      const width = Math.max(minLength, ...parts.map((p) => p.length));
      const rowDims = parts[0].dims.slice();
      rowDims[axis] = width;
      const outer = rowDims.slice(0, axis).reduce((a, b) => a * b, 1);
      const inner = rowDims.slice(axis + 1).reduce((a, b) => a * b, 1);
      const rowSize = outer * width * inner;
      const data = new Float32Array(rows.length * rowSize);
      parts.forEach((p, i) => {
        if (p.dims.some((d, k) => k !== axis && d !== rowDims[k]))
          throw new Error(`ort-host: '${name}' row ${i} has dims [${p.dims}], the first row [${parts[0].dims}]`);
        const n = p.length * inner;
        const srcSkip = align === 'end' ? (p.dims[axis] - p.length) * inner : 0;
        const dstSkip = align === 'end' ? (width - p.length) * inner : 0;
        for (let o = 0; o < outer; o++) {
          const src = p.offset + o * p.dims[axis] * inner + srcSkip;
          const dst = i * rowSize + o * width * inner + dstSkip;
          // Whole blocks (a head's cache rows) go through memcpy; a rank's few columns are cheaper as a loop.
          if (n >= 64) data.set(p.data.subarray(src, src + n), dst);
          else for (let k = 0; k < n; k++) data[dst + k] = p.data[src + k];
        }
      });
      out[name] = new ort.Tensor('float32', data, [rows.length, ...rowDims]);
    }
    const id = nextId++;
    stored.set(id, out);
    return id;
  }

  return {
    async create(model, options, feeds) {
      sessions.set('', await ort.InferenceSession.create(model, options));
      constants = toTensors(feeds);
    },
    async addSession(name, model, options) {
      sessions.set(name, await ort.InferenceSession.create(model, options));
    },
    store(feeds) {
      const id = nextId++;
      stored.set(id, toTensors(feeds));
      return id;
    },
    // `use`: stored feed sets to add; `keep`: output name -> input name, stored as a new set.
    async run({ session = '', feeds, use, keep, outputs }) {
      const all = { ...constants };
      for (const id of use) {
        const set = stored.get(id);
        if (!set) throw new Error(`ort-host: unknown or released handle ${id}`);
        Object.assign(all, set);
      }
      Object.assign(all, toTensors(feeds));
      const result = await sessions.get(session).run(all);
      let kept;
      if (keep) {
        const set = {};
        for (const [output, input] of Object.entries(keep)) set[input] = result[output];
        kept = nextId++;
        stored.set(kept, set);
      }
      const picked = {};
      for (const name of outputs) picked[name] = plain(result[name]);
      return { outputs: picked, kept };
    },
    stack,
    release(id) {
      stored.delete(id);
    },
    async dispose() {
      stored.clear();
      for (const session of sessions.values()) await session.release();
      sessions.clear();
    },
  };
}

module.exports = { createHost };

if (!isMainThread && workerData && workerData.rgOrtHost) {
  const host = createHost(require(workerData.ortPath));
  parentPort.on('message', async ({ id, method, args }) => {
    try {
      const value = await host[method](...args);
      const transfer = new Set();
      if (value?.outputs) for (const t of Object.values(value.outputs)) transfer.add(t.data.buffer);
      parentPort.postMessage({ id, value }, [...transfer]);
    } catch (e) {
      parentPort.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
    }
  });
}
