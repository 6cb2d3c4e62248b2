import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { abortBuild } from './open.js';
import { BackendUnavailableError, probeServer, REMOTE_DEFAULTS, remoteOptionsFromEnv, resolveRemote } from './remote.js';
import { FaultServers, timedFailure } from './testing/faults.js';

// Issue 17 case 6: server backends never hang and always name themselves. The probe and the settings are tested here;
// each server backend's package tests its client calls against the same fault injectors (@rg/retriever/testing).
const servers = new FaultServers();
afterEach(() => servers.close());

describe('fault: remote settings', () => {
  it('the start-up probe of a server that accepts and never answers fails within the connect timeout', async () => {
    const url = await servers.silent();
    const remote = resolveRemote(remoteOptionsFromEnv({ RG_REMOTE_CONNECT_TIMEOUT: '0.2' }));
    const { error, ms } = await timedFailure(probeServer({ backend: 'qdrant', url }, remote));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toContain(`qdrant at ${url} (RG_QDRANT_URL): no answer to a first request: no answer in time, timeout 0.2 s`);
    expect(ms).toBeLessThan(2000);
  });

  it('bad RG_REMOTE_* values and a URL without a scheme are named', async () => {
    expect(() => remoteOptionsFromEnv({ RG_REMOTE_TIMEOUT: 'soon' })).toThrow('RG_REMOTE_TIMEOUT="soon": expected a number of seconds');
    expect(() => remoteOptionsFromEnv({ RG_REMOTE_RETRIES: '-1' })).toThrow('RG_REMOTE_RETRIES="-1"');
    expect(remoteOptionsFromEnv({ RG_REMOTE_CONNECT_TIMEOUT: '1.5', RG_REMOTE_RETRIES: '0' })).toMatchObject({
      connectTimeoutMs: 1500,
      maxRetries: 0,
    });
    const { error } = await timedFailure(probeServer({ backend: 'elasticsearch', url: 'localhost:9200' }, REMOTE_DEFAULTS));
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
