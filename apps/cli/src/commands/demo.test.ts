import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';
import { DEMO_STEPS } from './demo.js';

describe('rg demo', () => {
  it('does not pretend: while steps are missing it names them and exits non-zero', async () => {
    const missing = DEMO_STEPS.filter((s) => !s.built);
    if (missing.length === 0) return; // the full demo is covered by its own end-to-end test
    const r = await runCli(['demo'], { env: {} });
    expect(r.code).toBe(3);
    for (const s of missing) expect(r.stderr).toContain(s.step);
  });
});
