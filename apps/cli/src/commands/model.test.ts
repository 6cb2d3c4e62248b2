import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureModel, KNOWN_MODELS } from '@rg/engine';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

describe('rg model', () => {
  it('pull: pulls on first use, then is a no-op; --json for scripts', async () => {
    const path = await ensureModel();
    const home = join(path, '..', '..', '..');
    const r = await runCli(['model', 'pull', 'smollm2-135m-instruct', '--json'], { env: { RG_HOME: home } });
    expect(r.code).toBe(0);
    const known = KNOWN_MODELS['smollm2-135m-instruct'];
    expect(JSON.parse(r.stdout)).toEqual({ name: known.name, path, sha256: known.sha256, bytes: known.bytes, downloaded: false });
  });

  it('pull: refuses an unknown name (exit 2)', async () => {
    const r = await runCli(['model', 'pull', 'llama-9000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"llama-9000" is not a known model name (known: smollm2-135m-instruct)');
  });

  it('info: prints the resolved config of the default model and of a .gguf path', async () => {
    const path = await ensureModel();
    const home = join(path, '..', '..', '..');
    const byName = await runCli(['model', 'info', '--json'], { env: { RG_HOME: home } });
    expect(byName.code).toBe(0);
    const info = JSON.parse(byName.stdout);
    expect(info.source).toEqual({ kind: 'gguf', path, name: 'smollm2-135m-instruct' });
    expect(info.config).toMatchObject({
      architecture: 'llama',
      numLayers: 30,
      hiddenSize: 576,
      numHeads: 9,
      numKvHeads: 3,
      tieWordEmbeddings: true,
    });
    const byPath = await runCli(['model', 'info', path, '--json']);
    expect(JSON.parse(byPath.stdout).config).toEqual(info.config);
  });

  it('info: a corrupt file is a usage error naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cli-model-'));
    const bad = join(dir, 'broken.gguf');
    writeFileSync(bad, 'GGUF but not really');
    const r = await runCli(['model', 'info', bad, '--json']);
    rmSync(dir, { recursive: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:`);
  });
});
