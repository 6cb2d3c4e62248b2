import { describe, expect, it } from 'vitest';
import { currentGc, SINGLE_THREADED_GC } from './gc.js';

describe('currentGc', () => {
  it('reads the flag the process was started with', () => {
    expect(currentGc([SINGLE_THREADED_GC])).toBe('single-threaded');
    expect(currentGc(['--max-old-space-size=4096'])).toBe('parallel');
  });
});
