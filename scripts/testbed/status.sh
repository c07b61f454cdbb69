#!/bin/bash
# Print one line per testbed service: name, up/down, pid, ports (each port must listen on
# 127.0.0.1). Exits 1 if any service is down. Does not need root.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SS_CACHE=$(ss -Hltn 2>/dev/null)
down=0
for name in "${SERVICES[@]}"; do
  state=up
  pid=$(pid_of "$name") || { pid=-; state=down; }
  ports=${PORTS[$name]:-socket}
  for port in ${PORTS[$name]}; do
    listening_on "$port" || { state=down; ports=${ports/$port/$port(closed)}; }
  done
  [ "$state" = up ] || down=1
  printf '%-13s %-5s pid %-7s port %s\n' "$name" "$state" "$pid" "$ports"
done
# a testbed port listening on anything but loopback is an error too
bad=$(awk '{print $4}' <<<"$SS_CACHE" | grep -E ":($(tr ' ' '|' <<<"$ALL_PORTS"))\$" | grep -vE '^(127\.0\.0\.1|\[::1\]):' || true)
if [ -n "$bad" ]; then
  echo "NON-LOOPBACK LISTENER(S): $bad"
  down=1
fi
if [ -f "$TB/testbed.env" ]; then echo "env file: $TB/testbed.env"; else echo "env file: missing ($TB/testbed.env)"; down=1; fi
exit $down
