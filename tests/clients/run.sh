#!/usr/bin/env bash
# Installs the ComfyUI client packages pinned in package-lock.json from the npm registry (once),
# then runs clients.mjs against `sigmaflow serve`.
#   tests/clients/run.sh SIGMAFLOW_EXECUTABLE GRAPH.json
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "clients: node and npm are needed (scripts/install-deps.sh installs Debian's nodejs and npm)" >&2
  exit 1
fi
if [ ! -f "$here/node_modules/.package-lock.json" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
exec node "$here/clients.mjs" "$@"
