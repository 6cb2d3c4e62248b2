import type { AddressInfo } from 'node:net';
import { buildApp, type RgApp } from '../app.js';
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from '../deps.js';
import { FakeCollection } from './fake-collection.js';

export interface Harness extends RgApp {
  a: FakeCollection;
  b: FakeCollection;
  logs: string[];
}

/** An app over two fake collections (a: default, b), not listening: for app.inject tests. */
export function harness(options: Partial<ServerOptions> = {}): Harness {
  const a = new FakeCollection('a');
  const b = new FakeCollection('b', ['Berlin', '.']);
  const logs: string[] = [];
  const built = buildApp(
    { collections: new Map([['a', a] as const, ['b', b] as const]), defaultCollection: 'a', modelName: 'smollm2-135m-instruct' },
    { ...DEFAULT_SERVER_OPTIONS, logLevel: 'silent', ...options, logStream: { write: (line: string) => void logs.push(line) } },
  );
  return { ...built, a, b, logs };
}

/** Listens on a free loopback port; for tests that need a real socket (streams, disconnects). */
export async function listening(h: Harness): Promise<string> {
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = h.app.server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

/** The `data:` payloads of a server-sent-events body, in order. */
export function sseData(body: string): string[] {
  return body
    .split('\n\n')
    .filter((event) => event.trim() !== '')
    .map((event) => {
      if (!event.startsWith('data: ')) throw new Error(`not an SSE data event: ${JSON.stringify(event)}`);
      return event.slice('data: '.length);
    });
}

export const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'rg:a',
  messages: [{ role: 'user', content }],
  ...extra,
});

export interface ErrorJson {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** The OpenAI-shaped error body of a fetch response. */
export async function errorOf(res: Response): Promise<ErrorJson['error']> {
  return ((await res.json()) as ErrorJson).error;
}
