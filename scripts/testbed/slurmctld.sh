#!/bin/bash
# Stop or start only slurmctld (by its PID file), to simulate "scheduler daemon down" in tests:
#   bash scripts/testbed/slurmctld.sh stop     # squeue/sbatch/scontrol then fail (connection refused)
#   bash scripts/testbed/slurmctld.sh start    # back up; waits until both nodes are usable again (~5 s)
#   bash scripts/testbed/slurmctld.sh status   # exit 0 if running
# Running jobs survive (slurmd keeps them; slurmctld recovers its state on start).
# Note: any up.sh run (e.g. another test run's globalSetup) starts slurmctld again. Run as root.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case ${1:-} in
  stop)
    [ "$(id -u)" = 0 ] || die "slurmctld.sh stop must run as root"
    stop_service slurmctld
    ;;
  start)
    [ "$(id -u)" = 0 ] || die "slurmctld.sh start must run as root"
    mkdir -p "$TB/logs"
    install -d -o slurm -g slurm -m 0755 /run/slurm
    start slurmctld 0 /usr/sbin/slurmctld
    for _ in $(seq 1 100); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.1; done
    scontrol ping | grep -q 'is UP' || die "slurmctld started but scontrol ping does not report UP"
    # the slurmd register again within a few seconds; jobs submitted before that would pend
    for _ in $(seq 1 300); do slurm_ready && break; sleep 0.1; done
    slurm_ready || die "slurmctld is up but the nodes did not register within 30 s"
    phase "slurmctld up, nodes ready"
    ;;
  status)
    if pid=$(pid_of slurmctld); then echo "slurmctld up pid $pid"; else echo "slurmctld down"; exit 1; fi
    ;;
  *)
    echo "usage: $0 stop|start|status" >&2
    exit 2
    ;;
esac
