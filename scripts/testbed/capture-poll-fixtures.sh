#!/bin/bash
# Record the exact status queries @cerulean/schedulers runs (its poll formats), from the running
# testbed, into packages/schedulers/test/fixtures/slurm-poll/ with a generated README.md listing
# each command and its exit code. Complements capture-scheduler-fixtures.sh (other formats).
# Takes ~90 s (one job must hit its 1-minute time limit). Needs the testbed up.
#   bash scripts/testbed/capture-poll-fixtures.sh [OUT_DIR]
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=${1:-$REPO_ROOT/packages/schedulers/test/fixtures/slurm-poll}
[ -f "$TB/testbed.env" ] || die "testbed not up: run bash scripts/testbed/up.sh"
env_get() { sed -n "s/^$1=//p" "$TB/testbed.env"; }
KEY=$(env_get CERULEAN_TB_KEY_ED25519)
KH=$(env_get CERULEAN_TB_KNOWN_HOSTS)
U=$(env_get CERULEAN_TB_USER)
S() { ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KH" -i "$KEY" -p 2222 "$U@127.0.0.1" "$@"; }
mkdir -p "$OUT"
ROWS=""
cap() { # NAME NOTE COMMAND
  local name=$1 note=$2 cmd=$3 rc=0 files
  S "$cmd" >"$OUT/$name.txt" 2>"$OUT/$name.stderr.txt" </dev/null || rc=$?
  files="\`$name.txt\`"
  if [ -s "$OUT/$name.stderr.txt" ]; then files="$files, \`$name.stderr.txt\`"; else rm -f "$OUT/$name.stderr.txt"; fi
  ROWS+="| $files | \`${cmd//|/\\|}\` | $rc | $note |"$'\n'
  log "captured $name (exit $rc)"
}
submit() { printf '#!/bin/bash\n%s\n' "$3" | S "sbatch --parsable -J $1 -o /dev/null $2"; }
state() { S "scontrol show job -o $1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
wait_state() { # JOBID REGEX TIMEOUT_S
  for _ in $(seq 1 $(($3 * 2))); do [[ "$(state "$1")" =~ $2 ]] && return 0; sleep 0.5; done
  die "job $1 did not reach state $2 within $3 s (now: $(state "$1"))"
}
# the commands of packages/schedulers/src/internal/slurm.ts (squeueCommand, sacctCommand), times as epoch seconds
FMT="'JobID:|,State:|,Reason:|,exit_code:|,SubmitTime:|,StartTime:|,EndTime:|'"
SQ="env SLURM_TIME_FORMAT=%s squeue -h -t all -O $FMT"
SA="env SLURM_TIME_FORMAT=%s sacct -X -P -n -o JobID,State,ExitCode,Submit,Start,End,Reason"

T=$(submit px-timeout "-p debug --time=1" "sleep 300")
R=$(submit px-running "-p debug" "sleep 300")
Hd=$(submit px-held "-p debug --hold" "sleep 2")
F=$(submit px-exit3 "-p debug" "exit 3")
C=$(submit px-ok "-p debug" "true")
K=$(submit px-kill9 "-p debug" 'kill -9 $$')
wait_state "$R" '^RUNNING$' 30
wait_state "$F" '^FAILED$' 30
wait_state "$C" '^COMPLETED$' 30
wait_state "$K" '^FAILED$' 30
cap squeue-poll-live "R running, H held, T running; F exit 3, C ok, K kill -9 of the batch shell (finished, in slurmctld memory)" \
  "$SQ --jobs=$R,$Hd,$T,$F,$C,$K"
cap sacct-poll-live "the same jobs in accounting" "$SA --jobs=$R,$Hd,$T,$F,$C,$K"
S "scancel $R $Hd"
wait_state "$R" '^CANCELLED$' 30
cap squeue-poll-cancelled "R cancelled while running, H cancelled while held" "$SQ --jobs=$R,$Hd"
cap squeue-poll-unknown-one "one unknown id" "$SQ --jobs=999999"
cap squeue-poll-unknown-two "two unknown ids" "$SQ --jobs=999998,999999"
cap squeue-poll-mixed "a known and an unknown id" "$SQ --jobs=$F,999999"
cap qstat-version-wrappers "slurm-wlm-torque: no --version" "qstat --version"
log "waiting for the TIMEOUT of job $T"
wait_state "$T" '^TIMEOUT$' 150
ALL="$T,$R,$Hd,$F,$C,$K"
cap squeue-poll-final "all six finished: TIMEOUT, CANCELLED x2, FAILED x2, COMPLETED" "$SQ --jobs=$ALL"
cap sacct-poll-final "the same in accounting" "$SA --jobs=$ALL"
{
  echo "# Slurm 22.05 output of the exact poll commands of @cerulean/schedulers (recorded)"
  echo
  echo "Captured on $(date -u +%Y-%m-%d) from the project testbed ($(S 'sbatch --version'), slurmdbd accounting,"
  echo "MinJobAge=300) by \`scripts/testbed/capture-poll-fixtures.sh\`, over ssh as user \`$U\`."
  echo "\`NAME.txt\` is stdout, \`NAME.stderr.txt\` stderr. squeue's \`exit_code\` is a raw wait status"
  echo "(768 = exit 3; 15 = SIGTERM; 9 = SIGKILL)."
  echo
  echo "| file(s) | command | exit code | what |"
  echo "| --- | --- | --- | --- |"
  printf '%s' "$ROWS"
} >"$OUT/README.md"
log "fixtures written to $OUT"
