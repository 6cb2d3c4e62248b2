import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// tools/faults/cases.json maps each case of issue 17 to the tests that reproduce it; CI fails when it names a
// test that no longer exists (renamed or deleted), so the catalogue cannot silently rot.
describe('fault suite catalogue (tools/faults)', () => {
  it('every listed test exists in its file', async () => {
    const runner = pathToFileURL(join(import.meta.dirname, '../../../tools/faults/run.mjs')).href;
    const { missingTests } = (await import(runner)) as { missingTests: () => string[] };
    expect(missingTests()).toEqual([]);
  });
});
