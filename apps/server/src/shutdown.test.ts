import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_OPTIONS } from './deps.js';
import { listen, type RunningServer, untilSignal } from './start.js';
import { FakeCollection } from './test-helpers/fake-collection.js';
import { chat, sseData } from './test-helpers/harness.js';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.shutdown();
  server = undefined;
});

async function fakeServer(tokenDelayMs: number) {
  const a = new FakeCollection('a');
  a.tokenDelayMs = tokenDelayMs;
  let released = 0;
  const lines: string[] = [];
  server = await listen(
    { collections: new Map([['a', a]]), defaultCollection: 'a', modelName: 'm' },
    { ...DEFAULT_SERVER_OPTIONS, host: '127.0.0.1', port: 0, logLevel: 'warn', say: (l) => lines.push(l) },
    async () => {
      released++;
      await a.close();
    },
  );
  return { a, lines, released: () => released, url: server.url };
}

describe('listen and SIGTERM', () => {
  it('says on listen what it serves, each collection with its documents; an empty one with where it is', async () => {
    const { a, lines, url } = await fakeServer(0);
    expect(lines).toEqual([
      `rg-server listening on ${url}: rg:a (default, 0 documents) on m`,
      `rg-server: rg:a has no documents yet (${a.dir}): POST /v1/documents adds them`,
    ]);
    const b = new FakeCollection('b');
    b.addDocument({ text: 'one' });
    const c = new FakeCollection('c');
    for (const text of ['one', 'two']) c.addDocument({ text });
    const said: string[] = [];
    const other = await listen(
      {
        collections: new Map([
          ['b', b],
          ['c', c],
        ]),
        defaultCollection: 'c',
        modelName: 'm',
      },
      { ...DEFAULT_SERVER_OPTIONS, host: '127.0.0.1', port: 0, logLevel: 'warn', say: (l) => said.push(l) },
      async () => {},
    );
    await other.shutdown();
    expect(said).toEqual([`rg-server listening on ${other.url}: rg:b (1 document), rg:c (default, 2 documents) on m`]);
  });

  it('a port already taken is said as such, naming the flag', async () => {
    const { a, url } = await fakeServer(0);
    const port = Number(new URL(url).port);
    const taken = listen(
      { collections: new Map([['a', a]]), defaultCollection: 'a', modelName: 'm' },
      { ...DEFAULT_SERVER_OPTIONS, host: '127.0.0.1', port, logLevel: 'silent' },
      async () => {},
    );
    await expect(taken).rejects.toThrow(
      `--port ${port}: 127.0.0.1:${port} is already in use (another server?): stop it, or give another --port`,
    );
  });

  it('on SIGTERM lets a stream in flight finish, refuses new connections, closes the collections, and exits 0', async () => {
    const { a, released, url } = await fakeServer(80);
    const signals = new EventEmitter();
    const exitCode = untilSignal(server!, signals);
    const inFlight = fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chat('q', { stream: true })),
    });
    const res = await inFlight;
    const reader = res.body!.getReader();
    await reader.read();
    signals.emit('SIGTERM');
    // A second SIGTERM while draining is held by a listener (on a real process, Node's default would kill it).
    expect(signals.listenerCount('SIGTERM')).toBe(1);
    expect(signals.listenerCount('SIGINT')).toBe(0);
    signals.emit('SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    const data = sseData(rest);
    expect(data.at(-1)).toBe('[DONE]');
    expect(JSON.parse(data.at(-2)!).choices[0].finish_reason).toBe('stop');
    expect(a.signals[0].aborted).toBe(false);
    expect(await exitCode).toBe(0);
    expect(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT')).toBe(0);
    expect(released()).toBe(1);
    expect(a.closed).toBe(true);
  });
});
