import { defineConfig } from 'vitest/config';

// Tests run against the sources of sibling packages (the "development" export), not their dist.
export default defineConfig({
  resolve: { conditions: ['development'] },
  ssr: { resolve: { conditions: ['development'] } },
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    // The JSON report feeds the one-line summary that tools/run-tests.mjs prints for CI.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest/results.json' },
  },
});
