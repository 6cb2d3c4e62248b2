// An ONNX Runtime session host: one session, constant feeds (weights), and stored feed sets
// (KV caches, adapters) referred to by id, so big tensors never cross the thread boundary per step.
// Plain CommonJS on purpose: the same file runs in-process (required from the engine's TS or JS)
// and as a worker_threads entry, both from the sources (tests) and from dist.
'use strict';
const { isMainThread, parentPort, workerData } = require('node:worker_threads');

function createHost(ort) {
  let session = null;
  let constants = {};
  const stored = new Map();
  let nextId = 1;
  const toTensors = (feeds) => {
    const out = {};
    for (const [name, t] of Object.entries(feeds)) out[name] = new ort.Tensor(t.type, t.data, t.dims);
    return out;
  };
  const plain = (t) => ({ type: t.type, data: t.data, dims: Array.from(t.dims) });
  return {
    async create(model, options, feeds) {
      session = await ort.InferenceSession.create(model, options);
      constants = toTensors(feeds);
    },
    store(feeds) {
      const id = nextId++;
      stored.set(id, toTensors(feeds));
      return id;
    },
    // `use`: stored feed sets to add; `keep`: output name -> input name, stored as a new set.
    async run({ feeds, use, keep, outputs }) {
      const all = { ...constants };
      for (const id of use) {
        const set = stored.get(id);
        if (!set) throw new Error(`ort-host: unknown or released handle ${id}`);
        Object.assign(all, set);
      }
      Object.assign(all, toTensors(feeds));
      const result = await session.run(all);
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
    release(id) {
      stored.delete(id);
    },
    async dispose() {
      stored.clear();
      if (session) await session.release();
      session = null;
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
