import { writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

// Issue 17 cases 4 and 7 on `rg augment`: an unreachable endpoint fails fast; a run whose every passage failed exits 1.
let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function passages(): Promise<{ dir: string; input: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'rg-cli-augment-faults-'));
  const input = join(dir, 'p.jsonl');
  const texts = ['The Rhine flows 1,230 km to the North Sea.', 'Babbage designed the Analytical Engine in 1837.'];
  writeFileSync(input, `${texts.map((text, i) => JSON.stringify({ id: `p${i}`, text })).join('\n')}\n`);
  return { dir, input };
}

const openai = (input: string, output: string, url: string, ...more: string[]) => [
  'augment',
  '--input',
  input,
  '--output',
  output,
  '--generator',
  'openai',
  '--llm-url',
  url,
  '--llm-model',
  'm',
  ...more,
];

describe('fault: rg augment', () => {
  it('an endpoint that refuses connections fails at the start, naming it (not minutes of retries, not exit 0)', async () => {
    const tcp = createTcpServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(tcp.address() as AddressInfo).port}/v1`;
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    const { dir, input } = await passages();
    const started = Date.now();
    const r = await runCli(openai(input, join(dir, 'o.jsonl'), url));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`LLM endpoint ${url} is unreachable`);
    expect(r.stderr).toMatch(/ECONNREFUSED.*check --llm-url/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('an endpoint that accepts and never answers fails within --llm-timeout', async () => {
    const sockets = new Set<Socket>();
    const tcp = createTcpServer((s) => sockets.add(s));
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(tcp.address() as AddressInfo).port}/v1`;
    try {
      const { dir, input } = await passages();
      const started = Date.now();
      const r = await runCli(openai(input, join(dir, 'o.jsonl'), url, '--llm-timeout', '0.5'));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/is unreachable \(.*no response within 500 ms\)/);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    }
  });

  it('a run in which every passage failed exits 1 (the records are kept)', async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ message: { content: 'I cannot help with that.' } }] }));
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const { dir, input } = await passages();
    const r = await runCli(openai(input, join(dir, 'o.jsonl'), url, '--qa', '1', '--max-attempts', '1'));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/2 passages augmented .*0 ok, 2 failed/);
    expect(r.stderr).toContain(`all 2 passages failed (reasons above; records kept in ${join(dir, 'o.jsonl')}`);
  });
});
