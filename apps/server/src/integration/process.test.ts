import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTinyModel } from '@rg/engine/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseData } from '../test-helpers/harness.js';

const HELPERS = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-helpers');

let dir: string;
let model: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rg-server-proc-'));
  model = writeTinyModel(join(dir, 'tiny-llama'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts rg-server from the sources; resolves with its URL once it said its listen line. */
function startProcess(
  args: string[],
  env: Record<string, string> = {},
  nodeFlags: string[] = [],
): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(
    process.execPath,
    [...nodeFlags, '--conditions=development', '--import', join(HELPERS, 'register-ts.mjs'), join(HELPERS, 'server-process.ts'), ...args],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      const m = /rg-server listening on (http:\/\/\S+):/.exec(err);
      if (m) resolve({ child, url: m[1], stderr: () => err });
    });
    child.once('exit', (code) => reject(new Error(`rg-server exited ${code} before listening:\n${err}`)));
  });
}

/** What a stream still sends after its first chunk, with that chunk, as text. */
async function readRest(reader: ReadableStreamDefaultReader<Uint8Array>, first: Uint8Array | undefined): Promise<string> {
  let body = new TextDecoder().decode(first);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return body;
    body += new TextDecoder().decode(value);
  }
}

const exited = (child: ChildProcess) => new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

describe('the rg-server process', () => {
  it('creates a missing collection, serves, and on SIGTERM finishes the stream in flight and exits 0', async () => {
    const { child, url, stderr } = await startProcess(
      ['--collection', join(dir, 'notes'), '--model', model, '--home', join(dir, 'home'), '--threads', '1', '--port', '0'],
      { RG_SERVER_API_KEY: 'sk-proc-key' },
    );
    const exit = exited(child);
    // A new collection: its documents counted, and where it is said, so that a mistyped --collection shows. (The two
    // lines are two writes: the second may reach the pipe after the first.)
    for (let i = 0; i < 100 && !stderr().includes('adds them'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(stderr()).toMatch(
      /^rg-server listening on http:\/\/127\.0\.0\.1:\d+: rg:notes \(default, 0 documents\) on tiny-llama, API key required\nrg-server: rg:notes has no documents yet \(\S+notes\): POST \/v1\/documents adds them\n$/,
    );
    const headers = { authorization: 'Bearer sk-proc-key', 'content-type': 'application/json' };
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hello' }], max_tokens: 24, stream: true }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    child.kill('SIGTERM');
    const body = await readRest(reader, first.value);
    expect(sseData(body).at(-1)).toBe('[DONE]');
    expect(await exit).toBe(0);
    expect(stderr()).toContain('SIGTERM: draining');
    expect(stderr()).not.toContain('sk-proc-key');
  });

  it('says in /healthz that it runs with --single-threaded-gc; a second SIGTERM while draining does not cut the drain short', async () => {
    const args = ['--collection', join(dir, 'gc'), '--model', model, '--home', join(dir, 'home'), '--threads', '1', '--port', '0'];
    const { child, url, stderr } = await startProcess(args, {}, ['--single-threaded-gc']);
    const exit = exited(child);
    expect((await (await fetch(`${url}/healthz`)).json()).gc).toBe('single-threaded');
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hello' }], max_tokens: 24, stream: true }),
    });
    const reader = res.body!.getReader();
    const first = await reader.read();
    // As a supervisor that signals every process of the group, or twice: Node's default for the second would kill it.
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGTERM');
    const body = await readRest(reader, first.value);
    expect(sseData(body).at(-1)).toBe('[DONE]');
    expect(await exit).toBe(0);
    expect(stderr()).toContain('SIGTERM: draining');
  });

  it('exits 2 naming a bad flag', async () => {
    const child = spawn(
      process.execPath,
      ['--conditions=development', '--import', join(HELPERS, 'register-ts.mjs'), join(HELPERS, 'server-process.ts'), '--port', 'x'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    expect(await exited(child)).toBe(2);
    expect(err).toContain('--port: expected a non-negative integer, got "x"');
  });
});
