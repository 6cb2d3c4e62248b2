import { BackendUnavailableError, openRetriever } from '@rg/retriever';
import { FaultServers, timedFailure } from '@rg/retriever/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ElasticsearchRetriever } from './elasticsearch.js';
import { registerElasticsearch } from './plugin.js';

// Issue 17 case 6: the backend never hangs and always names itself. Fault injectors on loopback, not stand-ins for
// Elasticsearch: the backend's behaviour is tested against a real server in elasticsearch.test.ts.
registerElasticsearch();
const servers = new FaultServers();
afterEach(() => servers.close());

const fast = { connectTimeoutMs: 300, requestTimeoutMs: 400, backoffMs: 10 };
const open = (url: string) => ElasticsearchRetriever.open({ url, index: 'rg-fault', remote: fast });

describe('fault: elasticsearch server unreachable', () => {
  it('a server that accepts and never answers fails within the connect timeout, naming backend, URL and variable', async () => {
    const url = await servers.silent();
    const { error, ms } = await timedFailure(open(url));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toContain(`elasticsearch at ${url} (RG_ES_URL): no answer to a first request: no answer in time, timeout 0.3 s`);
    expect(error.message).toContain('check that the elasticsearch server is running and reachable, and that RG_ES_URL points at it');
    expect(ms).toBeLessThan(2000);
  });

  it('a refused port fails after a bounded number of quick retries, with the cause', async () => {
    const url = await servers.refused();
    const { error, ms } = await timedFailure(open(url));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toMatch(
      new RegExp(`elasticsearch at ${url} \\(RG_ES_URL\\): no answer to a first request: ECONNREFUSED.* \\(3 tries\\)`),
    );
    expect(ms).toBeLessThan(2000);
  });

  it('a server that stops answering after the probe fails the next call within the request timeout', async () => {
    const url = await servers.hangsAfterProbe();
    const { error, ms } = await timedFailure(open(url));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toMatch(/look up the index \(index rg-fault\): no answer in time/);
    expect(error.message).toContain('timeout 0.4 s');
    expect(ms).toBeLessThan(3000);
  });
});

describe('fault: elasticsearch settings', () => {
  it('openRetriever names RG_ES_URL when it is unset or not a URL, and reads RG_REMOTE_* from the environment', async () => {
    const unset = await timedFailure(openRetriever('elasticsearch', { storeDir: '/x', env: {} }));
    expect(unset.error.message).toBe('the elasticsearch backend needs a server: set RG_ES_URL (e.g. http://localhost:9200)');
    const { error } = await timedFailure(openRetriever('elasticsearch', { storeDir: '/x', env: { RG_ES_URL: 'localhost:9200' } }));
    expect(error.message).toBe('RG_ES_URL="localhost:9200": expected an http:// or https:// URL of the elasticsearch server');
    const url = await servers.silent();
    const env = { RG_ES_URL: url, RG_REMOTE_CONNECT_TIMEOUT: '0.2' };
    const silent = await timedFailure(openRetriever('elasticsearch', { storeDir: '/x', env }));
    expect(silent.error.message).toContain(
      `elasticsearch at ${url} (RG_ES_URL): no answer to a first request: no answer in time, timeout 0.2 s`,
    );
    expect(silent.ms).toBeLessThan(2000);
  });
});
