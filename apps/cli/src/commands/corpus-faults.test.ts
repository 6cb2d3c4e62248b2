import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

// Issue 17 faults on the corpus / index / retrieve commands (BM25 only: no model, no server).
function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'rg-cli-corpus-faults-'));
}

describe('fault: corpus commands', () => {
  it('re-ingest of a replaced file says it started over and keeps every record', async () => {
    const dir = tmp();
    const x = join(dir, 'x.jsonl');
    const store = join(dir, 's_x');
    writeFileSync(x, '{"id":"x1","text":"short one"}\n');
    expect((await runCli(['corpus', 'ingest', '--input', x, '--store', store])).code).toBe(0);
    writeFileSync(x, '{"id":"y1","text":"a completely different corpus, first line is longer"}\n{"id":"y2","text":"second"}\n');
    const r = await runCli(['corpus', 'ingest', '--input', x, '--store', store]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/x\.jsonl: read from the start: the file changed \(size 31 -> 101 bytes/);
    expect(r.stderr).not.toMatch(/skipped/);
    expect(r.stdout).toMatch(/^2 records read: 2 added, 0 duplicates, 0 skipped; 3 documents/);
  });

  it('warns about non-UTF-8 lines', async () => {
    const dir = tmp();
    const f = join(dir, 'l1.jsonl');
    writeFileSync(f, Buffer.from('{"id":"a","text":"caf\xe9"}\n', 'latin1'));
    const r = await runCli(['corpus', 'ingest', '--input', f, '--store', join(dir, 's')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${f}: warning: 1 records are not valid UTF-8 (lines 1); bad bytes were stored as U+FFFD`);
  });

  it('--store naming a file, or a corrupted store database, is a usage error naming the path', async () => {
    const dir = tmp();
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, '{"id":"a","text":"ok"}\n');
    const r = await runCli(['corpus', 'ingest', '--input', input, '--store', input]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--store ${input}: is a file, expected a store folder`);
    expect(r.stderr).not.toMatch(/EEXIST/);
    const s = join(dir, 's');
    await runCli(['corpus', 'ingest', '--input', input, '--store', s]);
    writeFileSync(join(s, 'corpus.sqlite'), 'garbage '.repeat(20));
    for (const f of ['-wal', '-shm']) writeFileSync(join(s, `corpus.sqlite${f}`), '');
    const bad = await runCli(['retrieve', '--store', s, '--query', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${join(s, 'corpus.sqlite')}: cannot open the corpus store (file is not a database)`);
  });

  it('corpus filter --out equal to the source store is refused; read-only commands create nothing', async () => {
    const dir = tmp();
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, '{"id":"a","text":"ok"}\n{"id":"b","text":"other"}\n');
    const s = join(dir, 's');
    await runCli(['corpus', 'ingest', '--input', input, '--store', s]);
    const q = join(dir, 'q.jsonl');
    writeFileSync(q, '{"id":"q1","question":"ok"}\n');
    const same = await runCli(['corpus', 'filter', '--store', s, '--questions', q, '--per-question', '1', '--out', `${s}/`]);
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/--out .* is the source store/);
    const typo = join(dir, 'typo');
    const missing = await runCli(['corpus', 'filter', '--store', typo, '--questions', q, '--per-question', '1', '--out', join(dir, 'o')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--store .*typo: no document store there/);
    expect(existsSync(typo)).toBe(false);
    expect((await runCli(['retrieve', '--store', typo, '--query', 'x'])).code).toBe(2);
    expect((await runCli(['index', 'build', '--store', typo])).code).toBe(2);
    expect(existsSync(typo)).toBe(false);
  });

  it('retrieve --filter without "=" says what was expected', async () => {
    const dir = tmp();
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, '{"id":"a","text":"ok"}\n');
    await runCli(['corpus', 'ingest', '--input', input, '--store', join(dir, 's')]);
    await runCli(['index', 'build', '--store', join(dir, 's')]);
    const r = await runCli(['retrieve', '--store', join(dir, 's'), '--query', 'ok', '--filter', 'nokv']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--filter nokv: expected key=value');
  });

  it('retrieve warns when documents were ingested after the index was built', async () => {
    const dir = tmp();
    const s = join(dir, 's');
    const a = join(dir, 'a.jsonl');
    writeFileSync(a, '{"id":"a","text":"aspirin lowers fever"}\n');
    await runCli(['corpus', 'ingest', '--input', a, '--store', s]);
    expect((await runCli(['index', 'build', '--store', s])).code).toBe(0);
    expect(readdirSync(join(s, 'index'))).toContain('sqlite.stamp.json');
    const fresh = await runCli(['retrieve', '--store', s, '--query', 'aspirin']);
    expect(fresh.stderr).toBe('');
    const b = join(dir, 'b.jsonl');
    writeFileSync(b, '{"id":"b","text":"aspirin thins blood"}\n');
    await runCli(['corpus', 'ingest', '--input', b, '--store', s]);
    const stale = await runCli(['retrieve', '--store', s, '--query', 'aspirin']);
    expect(stale.code).toBe(0);
    expect(stale.stderr).toMatch(/warning: the sqlite index of .* is stale: built from 1 documents, the store now holds 2/);
    expect(stale.stderr).toContain(`rg index build --store ${s} --backend sqlite`);
    await runCli(['index', 'build', '--store', s]);
    expect((await runCli(['retrieve', '--store', s, '--query', 'aspirin'])).stderr).toBe('');
  });

  it('server backends: a silent Qdrant and a refused Elasticsearch fail in seconds, naming backend and variable', async () => {
    const dir = tmp();
    const s = join(dir, 's');
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, '{"id":"a","text":"ok"}\n');
    await runCli(['corpus', 'ingest', '--input', input, '--store', s]);
    const sockets = new Set<Socket>();
    const silent = createServer((c) => sockets.add(c));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const refused = createServer();
    await new Promise<void>((resolve) => refused.listen(0, '127.0.0.1', resolve));
    const refusedUrl = `http://127.0.0.1:${(refused.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => refused.close(() => resolve()));
    try {
      const env = { RG_QDRANT_URL: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, RG_REMOTE_CONNECT_TIMEOUT: '0.5' };
      let started = Date.now();
      const qd = await runCli(['retrieve', '--store', s, '--backend', 'qdrant', '--query', 'x'], { env });
      expect(qd.code).toBe(1);
      expect(qd.stderr).toMatch(/qdrant at .* \(RG_QDRANT_URL\): no answer to a first request: no answer in time, timeout 0.5 s/);
      expect(Date.now() - started).toBeLessThan(3000);
      started = Date.now();
      const es = await runCli(['index', 'build', '--store', s, '--backend', 'elasticsearch'], { env: { RG_ES_URL: refusedUrl } });
      expect(es.code).toBe(1);
      expect(es.stderr).toMatch(/elasticsearch at .* \(RG_ES_URL\): .*ECONNREFUSED.*check that the elasticsearch server is running/);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      for (const c of sockets) c.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('index build --hnsw-m 1 is a usage error before any work, leaving no .building files', async () => {
    const dir = tmp();
    const s = join(dir, 's');
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, '{"id":"a","text":"ok"}\n');
    await runCli(['corpus', 'ingest', '--input', input, '--store', s]);
    const r = await runCli(['index', 'build', '--store', s, '--backend', 'hnsw', '--hnsw-m', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--hnsw-m 1: expected an integer >= 2');
    expect(existsSync(join(s, 'index')) ? readdirSync(join(s, 'index')).filter((f) => f.includes('.building')) : []).toEqual([]);
  });
});
