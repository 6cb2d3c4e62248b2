#!/usr/bin/env node
// The compiled CLI lives in dist/ (pnpm build). Without it, say how to build rather than print
// Node's ERR_MODULE_NOT_FOUND stack; any other import error is rethrown as it is.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    `rg: not built yet: ${entry.pathname} is missing.\n` +
      'Run `pnpm build` in the repository root (or `bash tools/install.sh` for a fresh clone) first.\n',
  );
  process.exit(1);
}
// A reader that stops early (\`rg ... | head\`) closes the pipe: stop quietly, as other Unix tools do, not with a stack.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
