import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../main.js';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'rg-serve-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('rg serve', () => {
  it('serves a collection on the global --model/--home/--threads until SIGTERM, then exits 0', async () => {
    const model = writeTinyModel(join(root, 'tiny-llama'));
    let stderr = '';
    const listeners = process.listenerCount('SIGTERM');
    const running = main(
      ['--model', model, '--home', join(root, 'home'), '--threads', '1', 'serve', '--collection', join(root, 'kb'), '--port', '0'],
      {
        stdout: () => {},
        stderr: (s) => {
          stderr += s;
        },
        isTTY: false,
        env: {},
        cwd: root,
        loadavg: () => [0, 0, 0],
      },
    );
    const end = Date.now() + 60_000;
    let url: string | undefined;
    while (!url && Date.now() < end) {
      url = /rg-server listening on (http:\/\/\S+):/.exec(stderr)?.[1];
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(url, stderr).toBeDefined();
    expect(stderr).toContain('rg:kb (default, 0 documents) on tiny-llama');
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    expect(models.data.map((m) => m.id)).toEqual(['rg:kb']);
    process.emit('SIGTERM');
    expect(await running).toBe(0);
    expect(process.listenerCount('SIGTERM')).toBe(listeners);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('refuses a bad --log-level with exit 2, naming the flag', async () => {
    const r = await runCli(['serve', '--log-level', 'chatty']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--log-level: expected one of silent, error, warn, info, debug, got "chatty"');
  });
});
