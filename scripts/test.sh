#!/usr/bin/env bash
# The whole test suite, from a fresh clone: brings Node 24 (scripts/toolchain.sh), installs the
# locked dependencies, type-checks every package and test, then runs vitest. vitest's global setup
# (scripts/testbed/globalSetup.ts) installs and starts the testbed servers on loopback first, so
# run this as root on Debian; `CERULEAN_TESTBED=off npm run test:unit` runs the unit tests alone.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-fund --no-audit
fi
npx tsc -b tsconfig.json
npx vitest run "$@"
