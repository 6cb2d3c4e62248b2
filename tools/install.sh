#!/usr/bin/env bash
# Install everything the workspace needs from its own files (lockfile), on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

want_pnpm=$(node -p "require('./package.json').packageManager.split('@')[1]")
if [ "$(pnpm --version 2>/dev/null || true)" != "$want_pnpm" ]; then
  npm install -g -E "pnpm@$want_pnpm"
fi

# better-sqlite3 builds from source when its prebuilt binary cannot be fetched; pnpm's node-gyp
# needs to be told where this node's headers are, or it tries to download them.
node_prefix=$(dirname "$(dirname "$(command -v node)")")
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node.h" ]; then
  export npm_config_nodedir="$node_prefix"
fi

pnpm install --frozen-lockfile
pnpm build
