# shellcheck shell=bash
# Shared definitions for up.sh, down.sh, status.sh and slurmctld.sh (sourced, not executed).
#
# The testbed is machine-wide (fixed loopback ports, /etc/slurm, /run/slurm ...). Per-checkout
# state (keys, host keys, configs, logs, our own pid files, testbed.env) lives in the state dir:
# $CERULEAN_TESTBED_DIR, default <repo>/.testbed (git-ignored).

TESTBED_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$TESTBED_SCRIPTS/../.." && pwd)
TB=${CERULEAN_TESTBED_DIR:-$REPO_ROOT/.testbed}
H=$(hostname -s)

# Server-side data that unprivileged daemons must read lives outside the state dir, which may sit
# in a folder www-data cannot enter.
WEBDAV_ROOT=/srv/cerulean-testbed/webdav
APACHE_RUN=/run/apache2-testbed
BIND_SHIM=/usr/local/lib/cerulean-bind-loopback.so
# serialises concurrent up.sh / down.sh runs (several vitest runs may start at once)
LOCK_FILE=/run/lock/cerulean-testbed.lock

# Services in start order: name -> pid file, expected /proc/PID/comm, TCP ports.
SERVICES=(sshd sshd-limited dropbear munged mariadbd slurmdbd slurmctld slurmd slurmd-node2 apache2)
declare -A PIDFILE=(
  [sshd]=$TB/run/sshd.pid
  [sshd-limited]=$TB/run/sshd-limited.pid
  [dropbear]=$TB/run/dropbear.pid
  [munged]=/run/munge/munged.pid
  [mariadbd]=/run/mysqld/mysqld.pid
  [slurmdbd]=/run/slurm/slurmdbd.pid
  [slurmctld]=/run/slurm/slurmctld.pid
  [slurmd]=/run/slurm/slurmd.$H.pid
  [slurmd-node2]=/run/slurm/slurmd.node2.pid
  [apache2]=$APACHE_RUN/httpd.pid
)
declare -A COMM=(
  [sshd]=sshd [sshd-limited]=sshd [dropbear]=dropbear [munged]=munged [mariadbd]=mariadbd
  [slurmdbd]=slurmdbd [slurmctld]=slurmctld [slurmd]=slurmd [slurmd-node2]=slurmd [apache2]=apache2
)
declare -A PORTS=(
  [sshd]=2222 [sshd-limited]=2224 [dropbear]=2223 [munged]="" [mariadbd]=""
  [slurmdbd]=6819 [slurmctld]=6817 [slurmd]=6818 [slurmd-node2]=6820 [apache2]="8080 8443"
)
ALL_PORTS="2222 2223 2224 6817 6818 6819 6820 8080 8443"

log() { echo "[testbed] $*" >&2; }
T0=$(date +%s%N)
# phase MSG: log with the milliseconds since the script started
phase() { log "$(printf '%6d' $(( ($(date +%s%N) - T0) / 1000000 ))) ms  $*"; }
die() { echo "[testbed] ERROR: $*" >&2; exit 1; }

# pid_of NAME: print the PID of a running service, from its pid file. The process name must match
# too, so a stale pid file whose PID was reused by an unrelated process is never trusted (or killed).
pid_of() {
  local f=${PIDFILE[$1]} pid
  [ -r "$f" ] || return 1
  pid=$(tr -dc '0-9' <"$f")
  [ -n "$pid" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "${COMM[$1]}" ] || return 1
  alive "$pid" || return 1
  echo "$pid"
}

# alive PID: the process exists and is not a zombie. (Daemons here are reaped by PID 1 only
# every ~2 s; `kill -0` would report a zombie as alive and make every stop take 2 s.)
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# stop_service NAME: TERM the PID from its pid file, wait up to 10 s, then KILL. Never by name.
stop_service() {
  local name=$1 pid
  if pid=$(pid_of "$name"); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do alive "$pid" || break; sleep 0.05; done
    if alive "$pid"; then
      log "$name ($pid) did not stop in 10 s, sending KILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
    log "stopped $name ($pid)"
  fi
  rm -f "${PIDFILE[$name]}"
}

# stop_apache_orphans: Apache workers whose parent died (kill -9, crash) keep 8080/8443 open.
# They are ours if they listen on our ports and their command line names our config file; they are
# stopped by PID. Called only when the parent is not running.
stop_apache_orphans() {
  local p pids
  pids=$(ss -Hltnp 2>/dev/null | grep -E ':(8080|8443) ' | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u || true)
  for p in $pids; do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = apache2 ] || continue
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "-f $TB/etc/apache/httpd.conf " || continue
    # workers ignore TERM without their parent; they hold no state worth a graceful stop
    log "killing orphaned Apache worker $p"
    kill -9 "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$p" || break; sleep 0.05; done
  done
}

# listening_on PORT: true if something listens on 127.0.0.1:PORT (uses the cached `ss` output in
# $SS_CACHE if set, else asks ss).
listening_on() {
  local out=${SS_CACHE:-$(ss -Hltn 2>/dev/null)}
  awk '{print $4}' <<<"$out" | grep -qx "127.0.0.1:$1"
}

# wait_tcp HOST PORT [TRIES]: wait (0.1 s steps, default 10 s) until a TCP connect succeeds.
wait_tcp() {
  for _ in $(seq 1 "${3:-100}"); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  log "timeout waiting for $1:$2"
  return 1
}

# slurm_ready: both slurmd registered and usable (the first node appears once per partition: 3 lines;
# busy nodes count too). Right after a slurmctld (re)start they are "unknown" for ~4 s.
slurm_ready() { [ "$(sinfo -h -N -o '%N %T' 2>/dev/null | grep -cE ' (idle|mixed|allocated|completing)$')" -ge 3 ]; }

# start NAME RESTART CMD...: run CMD to start service NAME unless it already runs; if it runs and
# RESTART=1 (its configuration changed), stop it by PID first. Then wait for its pid file and ports.
start() {
  local name=$1 restart=$2 port pid
  shift 2
  if pid_of "$name" >/dev/null; then
    [ "$restart" = 1 ] || return 0
    log "$name: configuration changed, restarting"
    stop_service "$name"
  fi
  rm -f "${PIDFILE[$name]}"
  for port in ${PORTS[$name]}; do
    if listening_on "$port"; then
      die "port $port is in use, but not by $name of this testbed (pid file ${PIDFILE[$name]}).
  Another testbed state dir? Stop it with its own down.sh. Who listens: ss -ltnp 'sport = :$port'"
    fi
  done
  # daemons get no terminal fds (a pipe reader such as `up.sh | tee` would otherwise never see EOF)
  "$@" 9>&- </dev/null >>"$TB/logs/$name.out" 2>&1 || die "$name failed to start; see $TB/logs/$name.out"
  for _ in $(seq 1 100); do pid_of "$name" >/dev/null && break; sleep 0.1; done
  pid=$(pid_of "$name") || die "$name did not write ${PIDFILE[$name]}; see $TB/logs/$name.out"
  for port in ${PORTS[$name]}; do wait_tcp 127.0.0.1 "$port" 300 || die "$name (pid $pid) does not listen on 127.0.0.1:$port"; done
  phase "started $name pid $pid ${PORTS[$name]:+port ${PORTS[$name]}}"
}
