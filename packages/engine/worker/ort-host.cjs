// An ONNX Runtime session host: one session, constant feeds (weights), and stored feed sets
// (KV caches, adapters) referred to by id, so big tensors never cross the thread boundary per step.
//
// KV caches grow in place. A cache handle is { group, width }: the group holds one buffer per cache input,
// [rows, heads, capacity, headDim], of which the handle's first `width` columns are its tokens (the graph's attention
// mask hides the rest). A run appends the new tokens' K/V (the graph's outputs) at column `width` of the same buffers
// when no other handle has written there yet and there is room; otherwise into a new group (CHUNK columns more), after
// copying the handle's columns. So a decode step copies one token's K/V, not the whole cache, and allocates nothing.
// Plain CommonJS on purpose: the same file runs in-process (required from the engine's TS or JS)
// and as a worker_threads entry, both from the sources (tests) and from dist.
'use strict';
const { isMainThread, parentPort, workerData } = require('node:worker_threads');

const CHUNK = 128;
// Freed groups kept for reuse, at most this many bytes: a server's requests reuse each other's buffers instead of
// making garbage of tens of MB per request.
const POOL_BYTES = 256 * 1024 * 1024;

const roundUp = (columns) => Math.max(CHUNK, Math.ceil(columns / CHUNK) * CHUNK);

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

  // --- Stored sets in shared memory. A server that decodes in a worker composes adapters into SharedArrayBuffers, so
  // posting them here copies nothing on its thread. ORT does not take shared memory as input: the set is copied into
  // arrays of this thread (a memcpy, ~0.2 ms for three SmolLM2 adapters), which are reused once the set is released.
  const copies = new Map();
  const copiesOf = new Map();
  let copiedBytes = 0;
  const COPIES_BYTES = 64 * 1024 * 1024;
  function ownCopy(data) {
    let array = copies.get(data.length)?.pop();
    if (array) copiedBytes -= array.byteLength;
    else array = new data.constructor(data.length);
    array.set(data);
    return array;
  }
  function giveBack(arrays) {
    for (const array of arrays) {
      if (copiedBytes + array.byteLength > COPIES_BYTES) return;
      const free = copies.get(array.length) ?? [];
      free.push(array);
      copies.set(array.length, free);
      copiedBytes += array.byteLength;
    }
  }

  // --- KV cache groups (see the top of the file).
  const pool = new Map();
  let pooledBytes = 0;
  const groupKey = (names, rows, heads, capacity, headDim) => `${names.join(',')}|${rows}|${heads}|${capacity}|${headDim}`;
  function newGroup(names, rows, heads, capacity, headDim) {
    const key = groupKey(names, rows, heads, capacity, headDim);
    const reused = pool.get(key)?.pop();
    if (reused) {
      pooledBytes -= reused.bytes;
      reused.used = 0;
      reused.refs = 0;
      return reused;
    }
    const tensors = {};
    for (const name of names)
      tensors[name] = new ort.Tensor('float32', new Float32Array(rows * heads * capacity * headDim), [rows, heads, capacity, headDim]);
    return {
      key,
      names,
      rows,
      heads,
      capacity,
      headDim,
      tensors,
      used: 0,
      refs: 0,
      bytes: 4 * names.length * rows * heads * capacity * headDim,
    };
  }
  function dropGroup(group) {
    if (group.frozen || pooledBytes + group.bytes > POOL_BYTES) return;
    const list = pool.get(group.key) ?? [];
    list.push(group);
    pool.set(group.key, list);
    pooledBytes += group.bytes;
  }
  function kvHandle(id) {
    const handle = stored.get(id);
    if (!handle) throw new Error(`ort-host: unknown or released handle ${id}`);
    if (!handle.group) throw new Error(`ort-host: handle ${id} is not a KV cache`);
    return handle;
  }
  function keepHandle(group, width) {
    group.refs++;
    const id = nextId++;
    stored.set(id, { group, width });
    return id;
  }
  // Copy `length` columns per (row, head): from column `from` of row `srcRow` of `src` to column `to` of row `dstRow`.
  function copyColumns(src, srcRow, from, dst, dstRow, to, length) {
    if (length === 0) return;
    const d = src.headDim;
    for (const name of dst.names) {
      const a = src.tensors[name].data;
      const b = dst.tensors[name].data;
      for (let h = 0; h < dst.heads; h++) {
        const at = ((srcRow * src.heads + h) * src.capacity + from) * d;
        b.set(a.subarray(at, at + length * d), ((dstRow * dst.heads + h) * dst.capacity + to) * d);
      }
    }
  }
  // Append a run's new K/V (`append`: output name -> cache input name) to `handle`: a new handle, `width + seq` wide.
  function appendKv(handle, append, result) {
    const entries = Object.entries(append);
    const [rows, heads, seq, headDim] = result[entries[0][0]].dims.map(Number);
    const width = handle.width + seq;
    let group = handle.group;
    if (group.used !== handle.width || width > group.capacity) {
      const grown = newGroup(group.names, rows, heads, roundUp(width), headDim);
      for (let r = 0; r < rows; r++) copyColumns(group, r, 0, grown, r, 0, handle.width);
      group = grown;
    }
    for (const [output, input] of entries) {
      const src = result[output].data;
      const dst = group.tensors[input].data;
      for (let rh = 0; rh < rows * heads; rh++) {
        dst.set(src.subarray(rh * seq * headDim, (rh + 1) * seq * headDim), (rh * group.capacity + handle.width) * headDim);
      }
    }
    group.used = width;
    return keepHandle(group, width);
  }
  // An empty cache of `rows` rows: one zero column (a batched MatMul over 0 columns leaves its output uninitialized),
  // never appended to in place (so it can start any number of sequences).
  function emptyKv({ names, rows, heads, headDim }) {
    const group = newGroup(names, rows, heads, 1, headDim);
    group.frozen = true;
    group.used = -1;
    return keepHandle(group, 0);
  }
  // A new cache whose rows are rows of cache handles (`rows`: { id, row, length }: the last `length` of the handle's
  // columns), left-padded to the longest (align 'end'): every row then appends at the same column.
  function stackKv({ rows }) {
    const parts = rows.map((r) => ({ ...r, handle: kvHandle(r.id) }));
    const first = parts[0].handle.group;
    const width = Math.max(...parts.map((p) => p.length));
    const group = newGroup(first.names, parts.length, first.heads, roundUp(width), first.headDim);
    parts.forEach((p, i) => {
      const g = p.handle.group;
      if (p.row < 0 || p.row >= g.rows) throw new Error(`ort-host: row ${p.row} outside a cache of ${g.rows} rows`);
      if (p.length > p.handle.width) throw new Error(`ort-host: ${p.length} columns asked of a cache ${p.handle.width} wide`);
      copyColumns(g, p.row, p.handle.width - p.length, group, i, width - p.length, p.length);
    });
    group.used = width;
    return { id: keepHandle(group, width), capacity: group.capacity };
  }
  // A new stored set whose tensors stack stored sets (`rows`: { id }) along a new leading batch axis (adapter sets, one
  // per row). `axes`: tensor name -> its ragged axis (a LoRA rank): each row is zero-padded along it to the longest, and
  // to at least `minLength`.
  function stack({ rows, axes, minLength = 0 }) {
    const sets = rows.map(({ id }) => {
      const set = stored.get(id);
      if (!set || set.group) throw new Error(`ort-host: unknown or released handle ${id}`);
      return set;
    });
    const out = {};
    for (const [name, axis] of Object.entries(axes)) {
      const parts = sets.map((set, i) => {
        const t = set[name];
        if (!t) throw new Error(`ort-host: stored set ${rows[i].id} has no tensor '${name}'`);
        return { data: t.data, dims: Array.from(t.dims) };
      });
      const width = Math.max(minLength, ...parts.map((p) => p.dims[axis]));
      const rowDims = parts[0].dims.slice();
      rowDims[axis] = width;
      const outer = rowDims.slice(0, axis).reduce((a, b) => a * b, 1);
      const inner = rowDims.slice(axis + 1).reduce((a, b) => a * b, 1);
      const rowSize = outer * width * inner;
      const data = new Float32Array(rows.length * rowSize);
      parts.forEach((p, i) => {
        if (p.dims.some((d, k) => k !== axis && d !== rowDims[k]))
          throw new Error(`ort-host: '${name}' row ${i} has dims [${p.dims}], the first row [${parts[0].dims}]`);
        const n = p.dims[axis] * inner;
        for (let o = 0; o < outer; o++) {
          const src = o * n;
          const dst = i * rowSize + o * width * inner;
          // Whole blocks go through memcpy; a rank's few columns are cheaper as a loop.
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

  const profiled = (session, options) => Object.assign(session, { rgProfiling: Boolean(options.enableProfiling) });

  return {
    async create(model, options, feeds) {
      sessions.set('', profiled(await ort.InferenceSession.create(model, options), options));
      constants = toTensors(feeds);
    },
    async addSession(name, model, options) {
      sessions.set(name, profiled(await ort.InferenceSession.create(model, options), options));
    },
    store(feeds) {
      const id = nextId++;
      const owned = [];
      const local = {};
      for (const [name, t] of Object.entries(feeds)) {
        const shared = typeof SharedArrayBuffer !== 'undefined' && t.data.buffer instanceof SharedArrayBuffer;
        local[name] = shared ? { ...t, data: ownCopy(t.data) } : t;
        if (shared) owned.push(local[name].data);
      }
      if (owned.length > 0) copiesOf.set(id, owned);
      stored.set(id, toTensors(local));
      return id;
    },
    // `use`: stored feed sets to add; `cache`: a KV cache handle to feed, and the outputs to append to it (output name
    // -> input name) as a new handle.
    async run({ session = '', feeds, use, cache, outputs }) {
      const all = { ...constants };
      for (const id of use) {
        const set = stored.get(id);
        if (!set || set.group) throw new Error(`ort-host: unknown or released handle ${id}`);
        Object.assign(all, set);
      }
      const handle = cache ? kvHandle(cache.id) : null;
      if (handle) Object.assign(all, handle.group.tensors);
      Object.assign(all, toTensors(feeds));
      const result = await sessions.get(session).run(all);
      let kept;
      let capacity;
      if (handle) {
        kept = appendKv(handle, cache.append, result);
        capacity = stored.get(kept).group.capacity;
      }
      const picked = {};
      for (const name of outputs) picked[name] = plain(result[name]);
      return { outputs: picked, kept, capacity };
    },
    stack,
    emptyKv,
    stackKv,
    release(id) {
      const handle = stored.get(id);
      stored.delete(id);
      const owned = copiesOf.get(id);
      if (owned) {
        copiesOf.delete(id);
        giveBack(owned);
      }
      if (handle?.group && --handle.group.refs === 0) dropGroup(handle.group);
    },
    async dispose() {
      stored.clear();
      pool.clear();
      copies.clear();
      copiesOf.clear();
      for (const session of sessions.values()) {
        // A profiling session writes its trace file here (ORT names it; endProfiling returns nothing in Node).
        if (session.rgProfiling) session.endProfiling();
        await session.release();
      }
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
