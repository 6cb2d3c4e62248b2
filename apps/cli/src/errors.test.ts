import { DatasetError } from '@rg/inference';
import { BenchInputError } from '@rg/pipeline/bench';
import { describe, expect, it } from 'vitest';
import { isUsageError, UsageError } from './errors.js';

describe('isUsageError', () => {
  it('takes the CLI’s own and the packages’ input errors (exit 2), not other failures (exit 1)', () => {
    expect(isUsageError(new UsageError('--k: expected a number'))).toBe(true);
    expect(isUsageError(new DatasetError('q.jsonl', 'line 3: no question'))).toBe(true);
    expect(isUsageError(new BenchInputError('no gold document in the store'))).toBe(true);
    expect(isUsageError(new Error('ENOSPC'))).toBe(false);
    expect(isUsageError(new RangeError('k out of range'))).toBe(false);
    expect(isUsageError('a string')).toBe(false);
  });
});
