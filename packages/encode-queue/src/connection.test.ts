import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectRedis, parseQueueUrl, QueueUnreachableError, QueueUrlError } from './connection.js';

describe('parseQueueUrl', () => {
  it('reads host, port, database, credentials and queue name; hides the password when shown', () => {
    const t = parseQueueUrl('redis://rg:s%40cret@10.0.0.5:6380/3?queue=pubmed-1');
    expect(t.redis).toMatchObject({ host: '10.0.0.5', port: 6380, db: 3, username: 'rg', password: 's@cret', maxRetriesPerRequest: null });
    expect(t.name).toBe('pubmed-1');
    expect(t.display).toBe('redis://rg:***@10.0.0.5:6380/3?queue=pubmed-1');
    expect(parseQueueUrl('redis://localhost')).toMatchObject({ name: 'rg-encode', prefix: 'rg', redis: { port: 6379, db: 0 } });
  });

  it('refuses what is not a Redis URL, saying what was expected', () => {
    expect(() => parseQueueUrl('localhost:6379')).toThrow(QueueUrlError);
    expect(() => parseQueueUrl('http://localhost:6379/0')).toThrow(/scheme http: \(expected redis:\/\/ or rediss:\/\/\)/);
    expect(() => parseQueueUrl('redis://localhost:6379/x')).toThrow(/database "x" \(expected a number/);
    expect(() => parseQueueUrl('redis://localhost:6379/0?queue=a:b')).toThrow(/queue name "a:b"/);
  });
});

describe('connectRedis', () => {
  it('fails at once, naming the address, where no Redis answers (not a retry loop)', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const target = parseQueueUrl(`redis://127.0.0.1:${port}/0?queue=q`);
    const t0 = performance.now();
    await expect(connectRedis(target)).rejects.toThrow(QueueUnreachableError);
    await expect(connectRedis(target)).rejects.toThrow(
      `--queue redis://127.0.0.1:${port}/0?queue=q: no Redis answers there (ECONNREFUSED)`,
    );
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
