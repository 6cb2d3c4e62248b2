import { BackendUnavailableError, type Embedder, openRetriever } from '@rg/retriever';
import { FaultServers, timedFailure } from '@rg/retriever/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { registerQdrant } from './plugin.js';
import { QdrantRetriever } from './qdrant.js';

// Issue 17 case 6: the backend never hangs and always names itself. Fault injectors on loopback, not stand-ins for
// Qdrant: the backend's behaviour is tested against a real server in qdrant.test.ts.
registerQdrant();
const servers = new FaultServers();
afterEach(() => servers.close());

const embedder: Embedder = { dim: 4, embed: async (t) => t.map(() => new Float32Array(4)) };
const fast = { connectTimeoutMs: 300, requestTimeoutMs: 400, backoffMs: 10 };
const open = (url: string) => QdrantRetriever.open({ url, collection: 'rg-fault', embedder, remote: fast });

describe('fault: qdrant server unreachable', () => {
  it('a server that accepts and never answers fails within the connect timeout, naming backend, URL and variable', async () => {
    const url = await servers.silent();
    const { error, ms } = await timedFailure(open(url));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toContain(`qdrant at ${url} (RG_QDRANT_URL): no answer to a first request: no answer in time, timeout 0.3 s`);
    expect(error.message).toContain('check that the qdrant server is running and reachable, and that RG_QDRANT_URL points at it');
    expect(ms).toBeLessThan(2000);
  });

  it('a refused port fails after a bounded number of quick retries, with the cause', async () => {
    const url = await servers.refused();
    const { error, ms } = await timedFailure(open(url));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toMatch(
      new RegExp(`qdrant at ${url} \\(RG_QDRANT_URL\\): no answer to a first request: ECONNREFUSED.* \\(3 tries\\)`),
    );
    expect(ms).toBeLessThan(2000);
  });

  it('a server that stops answering after the probe fails the next call within the request timeout', async () => {
    const url = await servers.hangsAfterProbe();
    const { error, ms } = await timedFailure(open(url));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toMatch(/look up the collection \(collection rg-fault\): no answer in time/);
    expect(error.message).toContain('timeout 0.4 s');
    expect(ms).toBeLessThan(3000);
  });
});

describe('fault: qdrant settings', () => {
  it('openRetriever probes Qdrant before loading the encoder, and reads RG_REMOTE_* from the environment', async () => {
    const url = await servers.silent();
    const env = { RG_QDRANT_URL: url, RG_REMOTE_CONNECT_TIMEOUT: '0.2' };
    let encoderLoaded = false;
    const encoder = async (): Promise<Embedder> => {
      encoderLoaded = true;
      return embedder;
    };
    const { error, ms } = await timedFailure(openRetriever('qdrant', { storeDir: '/nonexistent/store', embedder: encoder, env }));
    expect(error.message).toMatch(/qdrant at .* \(RG_QDRANT_URL\): no answer to a first request: no answer in time, timeout 0.2 s/);
    expect(ms).toBeLessThan(2000);
    expect(encoderLoaded).toBe(false);
  });

  it('openRetriever names RG_QDRANT_URL when it is unset', async () => {
    const { error } = await timedFailure(openRetriever('qdrant', { storeDir: '/x', env: {} }));
    expect(error.message).toBe('the qdrant backend needs a server: set RG_QDRANT_URL (e.g. http://localhost:6333)');
  });
});
