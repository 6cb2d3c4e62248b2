import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readFileHashed } from './fsutil.js';

const dir = mkdtempSync(join(tmpdir(), 'rg-fsutil-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readFileHashed', () => {
  // Sizes around the 256 KiB read chunk: empty, small, exactly one chunk, one byte over, several chunks and a tail.
  it.each([0, 1, 1000, 256 * 1024, 256 * 1024 + 1, 1_543_934])('reads %i bytes and their sha256', async (size) => {
    const data = randomBytes(size);
    const path = join(dir, `f${size}`);
    writeFileSync(path, data);
    const { bytes, sha256 } = await readFileHashed(path);
    expect(bytes.equals(data)).toBe(true);
    expect(sha256).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('rejects a missing file with its path', async () => {
    await expect(readFileHashed(join(dir, 'nope'))).rejects.toThrow(/ENOENT.*nope/);
  });
});
