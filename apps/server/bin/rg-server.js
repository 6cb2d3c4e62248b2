#!/bin/sh
//bin/true; exec node --single-threaded-gc "$0" "$@"
// Run as a command (./rg-server.js, or the rg-server bin), /bin/sh reads the line above (`//bin/true` is /bin/true)
// and replaces itself with Node started with V8's collector on this thread only: the same process, so signals and
// kill -9 reach the server itself. On few cores V8's background collector threads take the core that serves
// requests; the flag can only be given at start (see src/gc.ts). To Node the line is a comment:
// `node rg-server.js` runs with whatever flags the caller gave.
// The compiled server lives in dist/ (pnpm build). Without it, say how to build rather than print Node's
// ERR_MODULE_NOT_FOUND stack.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(`rg-server: not built yet: ${entry.pathname} is missing.\nRun \`pnpm build\` in the repository root first.\n`);
  process.exit(1);
}
// A reader that stops early (\`rg-server ... | head\`) closes the pipe: stop quietly, as other Unix tools do, not with a stack.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
