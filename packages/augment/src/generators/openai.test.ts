import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FatalGeneratorError } from '../generator.js';
import { chatCompletionsUrl, HttpGeneratorError, OpenAiGenerator } from './openai.js';

const KEY = 'sk-test-SECRET-0123456789';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse, n: number) => void;

interface Scripted {
  url: string;
  requests: Array<{ headers: IncomingMessage['headers']; body: Record<string, unknown> }>;
  maxInFlight: number;
}

let server: Server | undefined;

/** A local chat-completions server whose n-th response is decided by the test. */
async function scriptedServer(handler: Handler): Promise<Scripted> {
  const state: Scripted = { url: '', requests: [], maxInFlight: 0 };
  let inFlight = 0;
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      res.on('close', () => {
        inFlight--;
      });
      state.requests.push({ headers: req.headers, body: JSON.parse(body) });
      handler(req, body, res, state.requests.length);
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return state;
}

function reply(res: ServerResponse, content: string, delayMs = 0): void {
  setTimeout(() => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content } }] }));
  }, delayMs);
}

function status(res: ServerResponse, code: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

const MESSAGES = [{ role: 'user' as const, content: 'Say hi' }];

describe('OpenAiGenerator', () => {
  it('posts a chat completion with model, seed, temperature and the key, and returns the content', async () => {
    const s = await scriptedServer((_req, _body, res) => reply(res, 'hi there'));
    const gen = new OpenAiGenerator({ url: s.url, model: 'tiny-chat', apiKey: KEY });
    expect(gen.id).toBe('openai:tiny-chat');
    const text = await gen.generate(MESSAGES, { seed: 7, temperature: 0.2, maxTokens: 32 });
    expect(text).toBe('hi there');
    expect(s.requests).toHaveLength(1);
    expect(s.requests[0].body).toEqual({ model: 'tiny-chat', messages: MESSAGES, temperature: 0.2, seed: 7, max_tokens: 32 });
    expect(s.requests[0].headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it('builds the endpoint from a base URL or takes the full one', () => {
    expect(chatCompletionsUrl('http://h:1/v1/')).toBe('http://h:1/v1/chat/completions');
    expect(chatCompletionsUrl('http://h:1/v1/chat/completions')).toBe('http://h:1/v1/chat/completions');
  });

  it('retries a 429 (honouring Retry-After) and then succeeds', async () => {
    const s = await scriptedServer((_req, _body, res, n) =>
      n === 1 ? status(res, 429, '{"error":"slow down"}', { 'retry-after': '0.05' }) : reply(res, 'ok'),
    );
    const gen = new OpenAiGenerator({ url: s.url, model: 'm', backoffMs: 5000 });
    const started = Date.now();
    expect(await gen.generate(MESSAGES)).toBe('ok');
    expect(s.requests).toHaveLength(2);
    // Retry-After (50 ms) replaced the 5 s backoff.
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('gives up on a persistent 500 after maxRetries, with the status in the error', async () => {
    const s = await scriptedServer((_req, _body, res) => status(res, 500, '{"error":"boom"}'));
    const gen = new OpenAiGenerator({ url: s.url, model: 'm', maxRetries: 2, backoffMs: 1 });
    const err = await gen.generate(MESSAGES).catch((e) => e);
    expect(err).toBeInstanceOf(HttpGeneratorError);
    expect(err.status).toBe(500);
    expect(err.message).toMatch(/HTTP 500: \{"error":"boom"\} \(after 3 tries\)/);
    expect(s.requests).toHaveLength(3);
  });

  it('does not retry a 400 (a problem with this request, not the server)', async () => {
    const s = await scriptedServer((_req, _body, res) => status(res, 400, '{"error":"context too long"}'));
    const gen = new OpenAiGenerator({ url: s.url, model: 'm', backoffMs: 1 });
    await expect(gen.generate(MESSAGES)).rejects.toThrow(/HTTP 400/);
    expect(s.requests).toHaveLength(1);
  });

  it('times out a request that hangs, retries it, and succeeds when the server answers', async () => {
    const s = await scriptedServer((_req, _body, res, n) => (n === 1 ? undefined : reply(res, 'late but fine')));
    const gen = new OpenAiGenerator({ url: s.url, model: 'm', timeoutMs: 150, backoffMs: 1 });
    expect(await gen.generate(MESSAGES)).toBe('late but fine');
    expect(s.requests).toHaveLength(2);
  });

  it('reports a timeout when every try hangs', async () => {
    const s = await scriptedServer(() => undefined);
    const gen = new OpenAiGenerator({ url: s.url, model: 'm', timeoutMs: 100, maxRetries: 1, backoffMs: 1 });
    await expect(gen.generate(MESSAGES)).rejects.toThrow(/no response within 100 ms \(after 2 tries\)/);
  });

  it('stops the run on a refused key (fatal), never showing the key even when the server echoes it', async () => {
    const s = await scriptedServer((req, _body, res) =>
      status(res, 401, JSON.stringify({ error: `Incorrect API key provided: ${req.headers.authorization}` })),
    );
    const gen = new OpenAiGenerator({ url: s.url, model: 'm', apiKey: KEY, backoffMs: 1 });
    const err = await gen.generate(MESSAGES).catch((e) => e);
    expect(err).toBeInstanceOf(FatalGeneratorError);
    expect(err.message).toContain('HTTP 401');
    expect(err.message).toContain('[redacted]');
    expect(err.message).not.toContain(KEY);
    expect(String(err.stack)).not.toContain(KEY);
    expect(s.requests).toHaveLength(1);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    const s = await scriptedServer((_req, _body, res) => reply(res, 'x', 40));
    const gen = new OpenAiGenerator({ url: s.url, model: 'm', concurrency: 2 });
    await Promise.all(Array.from({ length: 6 }, () => gen.generate(MESSAGES)));
    expect(s.requests).toHaveLength(6);
    expect(s.maxInFlight).toBe(2);
  });

  it('retries a connection refused and then reports it', async () => {
    const gen = new OpenAiGenerator({ url: 'http://127.0.0.1:9/v1', model: 'm', maxRetries: 1, backoffMs: 1 });
    await expect(gen.generate(MESSAGES)).rejects.toThrow(/request failed: .*\(after 2 tries\)/);
  });

  it('rejects a response without content', async () => {
    const s = await scriptedServer((_req, _body, res) => status(res, 200, '{"choices": []}'));
    const gen = new OpenAiGenerator({ url: s.url, model: 'm' });
    await expect(gen.generate(MESSAGES)).rejects.toThrow(/no choices\[0\]\.message\.content/);
  });
});

/** A TCP server on loopback that accepts connections and never answers (a hung backend). */
async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const tcp: TcpServer = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(tcp.address() as AddressInfo).port}/v1`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

/** A loopback port nothing listens on (bound, then released): connections to it are refused. */
async function refusedUrl(): Promise<string> {
  const tcp = createTcpServer();
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const port = (tcp.address() as AddressInfo).port;
  await new Promise<void>((resolve) => tcp.close(() => resolve()));
  return `http://127.0.0.1:${port}/v1`;
}

describe('fault: unreachable LLM endpoint', () => {
  it('probe fails at once on a refused port, naming the URL and the cause', async () => {
    const url = await refusedUrl();
    const started = Date.now();
    const err = await new OpenAiGenerator({ url, model: 'm' }).probe().catch((e) => e);
    expect(err).toBeInstanceOf(FatalGeneratorError);
    expect(err.message).toMatch(new RegExp(`LLM endpoint ${url} is unreachable \\(.*/models: ECONNREFUSED`));
    expect(err.message).toContain('check --llm-url');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('probe gives up on a server that accepts and never answers within its timeout', async () => {
    const silent = await silentServer();
    try {
      const started = Date.now();
      const err = await new OpenAiGenerator({ url: silent.url, model: 'm', probeTimeoutMs: 300 }).probe().catch((e) => e);
      expect(err).toBeInstanceOf(FatalGeneratorError);
      expect(err.message).toMatch(/is unreachable \(.*no response within 300 ms\)/);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await silent.close();
    }
  });

  it('probe accepts any HTTP answer (a server without /models) and refuses a rejected key', async () => {
    // A plain server (the scripted one parses a JSON body, a GET has none).
    server = createServer((req, res) => status(res, req.headers.authorization ? 401 : 404, '{}'));
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    await expect(new OpenAiGenerator({ url, model: 'm' }).probe()).resolves.toBeUndefined();
    await expect(new OpenAiGenerator({ url, model: 'm', apiKey: KEY }).probe()).rejects.toThrow(/HTTP 401: the API key was refused/);
  });

  it('stops after a bounded number of consecutive connection failures, across calls', async () => {
    const url = await refusedUrl();
    const gen = new OpenAiGenerator({ url, model: 'm', maxRetries: 10, backoffMs: 1, maxConsecutiveConnectionFailures: 3 });
    const err = await gen.generate(MESSAGES).catch((e) => e);
    expect(err).toBeInstanceOf(FatalGeneratorError);
    expect(err.message).toMatch(/3 requests in a row got no response .*ECONNREFUSED.*stopping the run/);
    // Every later call fails at once, without trying the endpoint again.
    const started = Date.now();
    await expect(gen.generate(MESSAGES)).rejects.toBe(err);
    expect(Date.now() - started).toBeLessThan(50);
  });

  it('an HTTP answer resets the count: a flaky but alive server is not taken for a dead one', async () => {
    const s = await scriptedServer((_req, _body, res, n) => (n % 2 === 1 ? res.destroy() : reply(res, 'ok')));
    const gen = new OpenAiGenerator({ url: s.url, model: 'm', backoffMs: 1, maxConsecutiveConnectionFailures: 2 });
    for (let i = 0; i < 3; i++) expect(await gen.generate(MESSAGES)).toBe('ok');
  });
});
