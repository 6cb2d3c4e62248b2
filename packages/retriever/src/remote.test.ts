import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ElasticsearchRetriever } from './elasticsearch/elasticsearch.js';
import { abortBuild, openRetriever } from './open.js';
import { QdrantRetriever } from './qdrant/qdrant.js';
import { BackendUnavailableError, remoteOptionsFromEnv } from './remote.js';
import type { Embedder } from './types.js';

// Issue 17 case 6: server backends never hang and always name themselves. These are fault injectors on loopback
// (a refused port, a socket that never answers, a server that answers only its root), not stand-ins for
// Elasticsearch or Qdrant: the backends' behaviour is tested against real servers in their own suites.
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** Accepts TCP connections and never writes a byte. */
async function silent(): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port that was bound and released: connecting is refused. */
async function refused(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** Answers GET / (so the probe passes) and never answers anything else: a server that hangs mid-run. */
async function hangsAfterProbe(): Promise<string> {
  const server: HttpServer = createHttpServer((req, res) => {
    if (req.url === '/') res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const embedder: Embedder = { dim: 4, embed: async (t) => t.map(() => new Float32Array(4)) };
const fast = { connectTimeoutMs: 300, requestTimeoutMs: 400, backoffMs: 10 };

async function failure(p: Promise<unknown>): Promise<{ error: Error; ms: number }> {
  const started = Date.now();
  const error = await p.then(
    () => new Error('expected a failure'),
    (e: Error) => e,
  );
  return { error, ms: Date.now() - started };
}

const backends = [
  {
    name: 'elasticsearch',
    env: 'RG_ES_URL',
    open: (url: string) => ElasticsearchRetriever.open({ url, index: 'rg-fault', remote: fast }),
    midRun: /look up the index \(index rg-fault\): no answer in time/,
  },
  {
    name: 'qdrant',
    env: 'RG_QDRANT_URL',
    open: (url: string) => QdrantRetriever.open({ url, collection: 'rg-fault', embedder, remote: fast }),
    midRun: /look up the collection \(collection rg-fault\): no answer in time/,
  },
] as const;

describe.each(backends)('fault: $name server unreachable', ({ name, env, open, midRun }) => {
  it('a server that accepts and never answers fails within the connect timeout, naming backend, URL and variable', async () => {
    const url = await silent();
    const { error, ms } = await failure(open(url));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toContain(`${name} at ${url} (${env}): no answer to a first request: no answer in time, timeout 0.3 s`);
    expect(error.message).toContain(`check that the ${name} server is running and reachable, and that ${env} points at it`);
    expect(ms).toBeLessThan(2000);
  });

  it('a refused port fails after a bounded number of quick retries, with the cause', async () => {
    const url = await refused();
    const { error, ms } = await failure(open(url));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toMatch(new RegExp(`${name} at ${url} \\(${env}\\): no answer to a first request: ECONNREFUSED.* \\(3 tries\\)`));
    expect(ms).toBeLessThan(2000);
  });

  it('a server that stops answering after the probe fails the next call within the request timeout', async () => {
    const url = await hangsAfterProbe();
    const { error, ms } = await failure(open(url));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toMatch(midRun);
    expect(error.message).toContain('timeout 0.4 s');
    expect(ms).toBeLessThan(3000);
  });
});

describe('fault: remote settings', () => {
  it('openRetriever probes Qdrant before loading the encoder, and reads RG_REMOTE_* from the environment', async () => {
    const url = await silent();
    const env = { RG_QDRANT_URL: url, RG_REMOTE_CONNECT_TIMEOUT: '0.2' };
    // No RG_HOME with an encoder here: reaching the encoder would fail differently (and slowly).
    const { error, ms } = await failure(openRetriever('qdrant', { storeDir: '/nonexistent/store', home: '/nonexistent/home', env }));
    expect(error.message).toMatch(/qdrant at .* \(RG_QDRANT_URL\): no answer to a first request: no answer in time, timeout 0.2 s/);
    expect(ms).toBeLessThan(2000);
  });

  it('bad RG_REMOTE_* values and a URL without a scheme are named', async () => {
    expect(() => remoteOptionsFromEnv({ RG_REMOTE_TIMEOUT: 'soon' })).toThrow('RG_REMOTE_TIMEOUT="soon": expected a number of seconds');
    expect(() => remoteOptionsFromEnv({ RG_REMOTE_RETRIES: '-1' })).toThrow('RG_REMOTE_RETRIES="-1"');
    expect(remoteOptionsFromEnv({ RG_REMOTE_CONNECT_TIMEOUT: '1.5', RG_REMOTE_RETRIES: '0' })).toMatchObject({
      connectTimeoutMs: 1500,
      maxRetries: 0,
    });
    const { error } = await failure(openRetriever('elasticsearch', { storeDir: '/x', env: { RG_ES_URL: 'localhost:9200' } }));
    expect(error.message).toBe('RG_ES_URL="localhost:9200": expected an http:// or https:// URL of the elasticsearch server');
  });
});

describe('fault: failed builds', () => {
  it('abortBuild removes the half-built files of a backend and keeps the current index', () => {
    const store = mkdtempSync(join(tmpdir(), 'rg-abort-build-'));
    mkdirSync(join(store, 'index'));
    for (const f of [
      'dense.sqlite',
      'dense.sqlite.building',
      'dense.sqlite.building-wal',
      'dense.hnsw',
      'dense.hnsw.building',
      'bm25.sqlite',
    ])
      writeFileSync(join(store, 'index', f), 'x');
    abortBuild(store, 'hnsw');
    expect(readdirSync(join(store, 'index')).sort()).toEqual(['bm25.sqlite', 'dense.hnsw', 'dense.sqlite']);
  });
});
