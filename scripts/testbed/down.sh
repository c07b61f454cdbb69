#!/bin/bash
# Stop the testbed services that up.sh started, in reverse start order, by their PID files only
# (never by process name). Each PID is checked against the expected process name first, so a
# stale pid file never kills an unrelated process. Keeps packages, keys, configs and data:
# the next up.sh restarts everything in a few seconds. Run as root.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$(id -u)" = 0 ] || die "down.sh must run as root"
exec 9>"$LOCK_FILE"
flock -w 900 9 || die "timed out waiting for $LOCK_FILE (up.sh running?)"

for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
  stop_service "${SERVICES[$i]}"
done
stop_apache_orphans
log "testbed down"
