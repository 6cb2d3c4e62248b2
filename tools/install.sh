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

# System packages some tests need, from Debian, only where missing. Without root they are not installed: the
# tests that need them skip and say so.
need_apt() { # need_apt COMMAND PACKAGE WHAT-SKIPS
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    [ -n "${apt_updated:-}" ] || { apt-get update -qq >/dev/null; apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else
    echo "install.sh: $1 not found and not root: $3 skip (install with: sudo apt-get install -y $2)" >&2
  fi
}
# redis-server: the encode queue's tests (@rg/encode-queue, rg worker) start their own on a loopback port.
need_apt redis-server redis-server "the Redis tests"
# chromium: the server's playground test drives Debian's /usr/bin/chromium through playwright-core (which never
# downloads a browser of its own).
need_apt chromium chromium "the browser tests (apps/server playground)"

pnpm install --frozen-lockfile
pnpm build
