#!/usr/bin/env bash
# The README's first command: runs the main job on this machine with no server at all
# (local terminal, local file system, direct process scheduler). Brings Node 24 and the
# locked dependencies first, like scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-fund --no-audit >&2
fi
exec node examples/local-job.ts "$@"
