import { Redis, type RedisOptions } from 'ioredis';

/** Where the queue lives: a Redis server and database, and the queue's name in it. */
export interface QueueTarget {
  /** ioredis options (host, port, db, credentials). */
  redis: RedisOptions;
  /** BullMQ queue name (default `rg-encode`). */
  name: string;
  /** BullMQ key prefix (default `rg`): every key of the queue starts with `{prefix}:{name}:`. */
  prefix: string;
  /** The URL without its password, for messages and summaries. */
  display: string;
}

export const DEFAULT_QUEUE_NAME = 'rg-encode';
export const DEFAULT_QUEUE_PREFIX = 'rg';

export class QueueUrlError extends Error {
  override name = 'QueueUrlError';
}

/** No Redis answers at the queue's address (a typo, a server not started, a firewall): said once, at start. */
export class QueueUnreachableError extends Error {
  override name = 'QueueUnreachableError';
}

/**
 * A client of the queue's Redis that has answered: the first connection is tried once (`timeoutMs`), so a wrong
 * address fails at once with QueueUnreachableError naming it instead of ioredis retrying forever. Once connected it
 * reconnects as ioredis does (a Redis restart mid-run is waited out, as BullMQ's own connections wait it out), without
 * ioredis printing each failed retry as an unhandled error event with its stack.
 */
export async function connectRedis(target: QueueTarget, timeoutMs = 5000): Promise<Redis> {
  let connected = false;
  let failure: Error | undefined;
  const client = new Redis({
    ...target.redis,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    retryStrategy: (times) => (connected ? Math.min(times * 200, 2000) : null),
  });
  client.on('error', (e: Error) => {
    if (!connected) failure ??= e;
  });
  try {
    await client.connect();
  } catch (e) {
    client.disconnect();
    // connect() itself rejects with "Connection is closed."; the socket's error says why.
    const cause = (failure ?? e) as NodeJS.ErrnoException;
    const why = cause.code ?? cause.message;
    throw new QueueUnreachableError(`--queue ${target.display}: no Redis answers there (${why})`);
  }
  connected = true;
  return client;
}

/**
 * `redis://[user:password@]HOST:PORT/N[?queue=NAME]` (or `rediss://` for TLS): N is the Redis database (default 0),
 * NAME the queue (default rg-encode). Anything else is refused naming what was expected, before any connection is
 * tried, so a typo fails at once instead of as a connection retry loop.
 */
export function parseQueueUrl(url: string): QueueTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new QueueUrlError(`--queue ${url}: not a URL (expected redis://HOST:PORT/N)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new QueueUrlError(`--queue ${url}: scheme ${u.protocol} (expected redis:// or rediss://)`);
  if (!u.hostname) throw new QueueUrlError(`--queue ${url}: no host (expected redis://HOST:PORT/N)`);
  const port = u.port ? Number(u.port) : 6379;
  const dbText = u.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) throw new QueueUrlError(`--queue ${url}: database "${dbText}" (expected a number, e.g. /0)`);
  const db = dbText === '' ? 0 : Number(dbText);
  const name = u.searchParams.get('queue') ?? DEFAULT_QUEUE_NAME;
  // BullMQ joins its keys with ':'; a name holding one would read another queue's keys.
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name))
    throw new QueueUrlError(`--queue ${url}: queue name "${name}" (expected 1-64 of A-Z a-z 0-9 _ . -)`);
  const redis: RedisOptions = {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port,
    db,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    // BullMQ's blocking commands must not give up after a few retries (it refuses connections set otherwise).
    maxRetriesPerRequest: null,
  };
  const shown = new URL(u.href);
  if (shown.password) shown.password = '***';
  return { redis, name, prefix: DEFAULT_QUEUE_PREFIX, display: shown.href };
}

/**
 * Closes a client we own: QUIT lets the replies of commands still in flight arrive first. `disconnect()` instead
 * rejects them with "Connection is closed." from a socket event, where no caller can catch it (an unhandled
 * rejection, seen intermittently in the test run when a coordinator stopped on an error).
 */
export async function closeClient(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
