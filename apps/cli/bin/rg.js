#!/bin/sh
//bin/true; for a; do [ "$a" = serve ] && exec node --single-threaded-gc "$0" "$@"; done; exec node "$0" "$@"
// Run as a command (the rg bin, `pnpm rg`), /bin/sh reads the line above (`//bin/true` is /bin/true) and replaces
// itself with Node, the same process: for `rg serve` (and `rg bench serve`) with V8's collector on this thread only,
// which keeps the server's per-request adapter work under 10 ms at p99 on 2 cores (apps/server/src/gc.ts); other
// commands as Node starts by default. To Node the line is a comment: `node rg.js` keeps the caller's flags.
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
