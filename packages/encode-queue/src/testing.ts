// `@rg/encode-queue/testing`: a throwaway Redis for tests and benchmarks, kept out of the package's main API.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServer {
  port: number;
  /** redis://127.0.0.1:PORT/0 */
  url: string;
  /** Stops the server (SIGTERM; SIGKILL after 5 s) and removes its folder unless `keepDir`. */
  stop(options?: { keepDir?: boolean }): Promise<void>;
  dir: string;
}

/** The redis-server executable on PATH, or null (then tests that need one skip, saying so). */
export function redisServerPath(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

/** Why Redis tests skip here, or null when redis-server is installed. */
export function redisSkipReason(): string | null {
  return redisServerPath()
    ? null
    : 'redis-server is not installed: the Redis tests skip (as root: bash tools/install.sh, or apt-get install -y redis-server)';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A redis-server on a free loopback port with its files in a fresh temp folder (or `dir`): no RDB snapshots;
 * `appendonly` for tests that restart the server on the same folder. Resolves once it answers PING.
 */
export async function startRedisServer(options: { appendonly?: boolean; dir?: string; port?: number } = {}): Promise<RedisServer> {
  const exe = redisServerPath();
  if (!exe) throw new Error('redis-server is not on PATH (apt-get install -y redis-server)');
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'rg-redis-'));
  for (let attempt = 0; ; attempt++) {
    const port = options.port ?? (await freePort());
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      options.appendonly ? 'yes' : 'no',
    ];
    const child: ChildProcess = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let exited = false;
    child.on('exit', () => {
      exited = true;
    });
    const url = `redis://127.0.0.1:${port}/0`;
    const ready = await waitForPing(port, () => exited);
    if (ready) {
      return {
        port,
        url,
        dir,
        async stop({ keepDir = false } = {}) {
          if (!exited) {
            const gone = new Promise((r) => child.once('exit', r));
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
            await gone;
            clearTimeout(timer);
          }
          if (!keepDir && !options.dir) rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    child.kill('SIGKILL');
    // Another process can take the port between freePort() and redis-server's bind: try another.
    if (attempt >= 3 || options.port) throw new Error(`redis-server ${args.join(' ')} did not start`);
  }
}

async function waitForPing(port: number, exited: () => boolean): Promise<boolean> {
  const until = Date.now() + 10_000;
  while (Date.now() < until && !exited()) {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return true;
    } catch {
      // not listening yet
    } finally {
      client.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
