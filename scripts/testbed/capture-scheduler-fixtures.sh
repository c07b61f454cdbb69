#!/bin/bash
# Record real Slurm 22.05 and slurm-wlm-torque (qsub/qstat) output from the running testbed, for
# the parser tests in packages/schedulers/test/fixtures/{slurm,torque-wrappers}/. Every command runs
# over ssh as the test user, exactly as a Cerulean scheduler would run it; each output file is
# listed with its command and exit code in the generated README.md of its folder.
# Takes ~90 s (one job must hit its 1-minute time limit for TIMEOUT). Needs the testbed up.
#   bash scripts/testbed/capture-scheduler-fixtures.sh [OUT_DIR]
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=${1:-$REPO_ROOT/packages/schedulers/test/fixtures}
[ -f "$TB/testbed.env" ] || die "testbed not up: run bash scripts/testbed/up.sh"
env_get() { sed -n "s/^$1=//p" "$TB/testbed.env"; }
KEY=$(env_get CERULEAN_TB_KEY_ED25519)
KH=$(env_get CERULEAN_TB_KNOWN_HOSTS)
U=$(env_get CERULEAN_TB_USER)
S() { ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KH" -i "$KEY" -p 2222 "$U@127.0.0.1" "$@"; }

SL=$OUT/slurm
TW=$OUT/torque-wrappers
mkdir -p "$SL" "$TW"
declare -A ROWS=([slurm]="" [torque-wrappers]="")

# cap DIR NAME NOTE COMMAND: run COMMAND remotely; stdout -> NAME.txt, stderr -> NAME.stderr.txt
# (only if not empty); one README row with the exact command and its exit code.
cap() {
  local dir=$1 name=$2 note=$3 cmd=$4 rc=0 files
  S "$cmd" >"$OUT/$dir/$name.txt" 2>"$OUT/$dir/$name.stderr.txt" </dev/null || rc=$?
  files="\`$name.txt\`"
  if [ -s "$OUT/$dir/$name.stderr.txt" ]; then files="$files, \`$name.stderr.txt\`"; else rm -f "$OUT/$dir/$name.stderr.txt"; fi
  ROWS[$dir]+="| $files | \`${cmd//|/\\|}\` | $rc | $note |"$'\n'
  log "captured $dir/$name (exit $rc)"
}
# submit NAME SBATCH_ARGS BODY: sbatch a script from stdin, print the job id
submit() { printf '#!/bin/bash\n%s\n' "$3" | S "sbatch --parsable -J $1 -o /dev/null $2"; }
# live state from slurmctld (sacct lags: a short job can show PENDING there until it ends)
state() { S "scontrol show job -o $1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
wait_state() { # JOBID REGEX TIMEOUT_S
  for _ in $(seq 1 $(($3 * 2))); do [[ "$(state "$1")" =~ $2 ]] && return 0; sleep 0.5; done
  die "job $1 did not reach state $2 within $3 s (now: $(state "$1"))"
}

log "submitting jobs (the node '$H' of partition debug has 8 CPUs)"
T=$(submit fx-timeout "-p debug --time=1" "sleep 300")                  # 1 min limit -> TIMEOUT
R=$(submit fx-running "-p debug -c 7" "sleep 300")                      # fills the node -> RUNNING, cancelled later
P=$(submit fx-pending "-p debug -c 1" "sleep 2")                        # no CPU left -> PENDING (Resources) -> COMPLETED
Hd=$(submit fx-held "-p debug --hold" "sleep 2")                        # PENDING (JobHeldUser) -> cancelled
D=$(submit fx-dependent "-p debug --dependency=afterok:$R" "sleep 2")   # PENDING (Dependency) -> never satisfied -> cancelled
wait_state "$R" '^RUNNING$' 30
wait_state "$T" '^RUNNING$' 30
sleep 1

cap slurm squeue-pending-running "T=$T timeout job running, R=$R running, P=$P pending (Resources), H=$Hd held, D=$D pending (Dependency)" \
  "squeue -h -o '%i|%T|%r' --jobs=$T,$R,$P,$Hd,$D"
cap slurm squeue-long "same jobs, wider format" "squeue -h -o '%i|%T|%P|%j|%u|%M|%l|%D|%R' --jobs=$T,$R,$P,$Hd,$D"
cap slurm squeue-default "same jobs, default format with header" "squeue --jobs=$T,$R,$P,$Hd,$D"
cap slurm scontrol-show-job-running "R running" "scontrol show job $R"
cap slurm scontrol-show-job-pending "P pending, reason Resources" "scontrol show job $P"
cap slurm scontrol-show-job-held "H held by the user" "scontrol show job $Hd"
cap slurm scontrol-show-job-oneliner-running "R running, one line" "scontrol show job -o $R"
cap slurm sacct-running-pending "states while running/pending" "sacct -X -P -n -o JobID,State,ExitCode,Reason%40 -j $T,$R,$P,$Hd,$D"
cap torque-wrappers qstat-running-queued "R running (R), P pending (Q), H held (also Q: the wrappers have no H)" "qstat $R $P $Hd"
cap torque-wrappers qstat-f-running "R running" "qstat -f $R"
cap torque-wrappers qstat-f-queued "P pending" "qstat -f $P"

S "scancel $R"                                                           # CANCELLED while running
wait_state "$D" '^PENDING$' 5
sleep 2                                                                  # D's dependency is now never satisfiable
cap slurm squeue-dependency-never-satisfied "D after R was cancelled" "squeue -h -o '%i|%T|%r' --jobs=$D"
S "scancel $Hd $D"                                                       # CANCELLED while pending
F=$(submit fx-exit3 "-p debug" "exit 3")                                 # FAILED, exit code 3
B=$(printf '#!/bin/bash\n#SBATCH -J fx-batch2\n#SBATCH -p batch\n#SBATCH --nodes=2\n#SBATCH -o /dev/null\nsrun hostname >/dev/null\n' | S "sbatch --parsable")
wait_state "$P" '^COMPLETED$' 30
wait_state "$F" '^FAILED$' 30
wait_state "$B" '^COMPLETED$' 30

cap slurm sbatch-submitted "success; Cerulean reads the last word" "sbatch -J fx-submit -o /dev/null -p debug --wrap 'exit 0'"
cap slurm sbatch-parsable "success, --parsable" "sbatch --parsable -J fx-submit -o /dev/null -p debug --wrap 'exit 0'"
cap slurm sbatch-bad-partition "failure: unknown partition" "sbatch -J fx-bad -o /dev/null -p nosuch --wrap 'exit 0'"
cap slurm sbatch-bad-time "failure: time limit over the partition MaxTime (EnforcePartLimits=ALL)" "sbatch -J fx-bad -o /dev/null -p debug --time=01:00:00 --wrap 'exit 0'"
cap slurm squeue-finished "P finished (still within MinJobAge): empty output" "squeue -h -o '%i|%T|%r' --jobs=$P"
cap slurm squeue-invalid-job "unknown job id" "squeue -h -o '%i|%T|%r' --jobs=999999"
cap slurm scontrol-show-job-completed "P COMPLETED" "scontrol show job $P"
cap slurm scontrol-show-job-failed "F exit 3" "scontrol show job $F"
cap slurm scontrol-show-job-cancelled-running "R cancelled while running" "scontrol show job $R"
cap slurm scontrol-show-job-cancelled-pending "H cancelled while held" "scontrol show job $Hd"
cap slurm scontrol-show-job-two-nodes "B: 2 nodes in partition batch" "scontrol show job $B"
cap slurm scontrol-show-job-invalid "unknown job id" "scontrol show job 999999"
cap slurm sacct-exitcode-cerulean "Cerulean's exact call (job + .batch step lines)" "sacct -j $F --noheader --format=ExitCode"
cap torque-wrappers qstat-finished "R cancelled, P completed, F failed: all C; no exit status anywhere" "qstat $R $P $F"
cap torque-wrappers qstat-f-finished-failed "F exit 3: job_state = C, no exit_status line" "qstat -f $F"
cap torque-wrappers qstat-f-finished-completed "P completed" "qstat -f $P"
cap torque-wrappers qstat-x-unsupported "the wrappers have no qstat -x (XML)" "qstat -x $F"
cap torque-wrappers qstat-unknown-job "unknown job id" "qstat 999999"

# a job submitted through the wrapper, as the Torque scheduler would
printf '#!/bin/bash\n#PBS -N fx-pbs\n#PBS -q batch\n#PBS -l walltime=00:05:00\nsleep 8\nexit 3\n' | S "cat > fx-pbs.sh"
Q=$(S "qsub -o /dev/null -e /dev/null fx-pbs.sh")
echo "$Q" >"$TW/qsub.txt"
ROWS[torque-wrappers]+="| \`qsub.txt\` | \`qsub -o /dev/null -e /dev/null fx-pbs.sh\` (script: \`#PBS -N fx-pbs\`, \`-q batch\`, \`-l walltime=00:05:00\`, \`sleep 4; exit 3\`) | 0 | bare job id |"$'\n'
wait_state "$Q" '^RUNNING$' 30
cap torque-wrappers qstat-pbs-running "Q: qsub job running" "qstat $Q"
cap torque-wrappers qstat-f-pbs-running "Q running" "qstat -f $Q"
wait_state "$Q" '^FAILED$' 30
cap torque-wrappers qstat-pbs-finished "Q exited with 3" "qstat $Q"
cap torque-wrappers qstat-f-pbs-finished "Q exited with 3" "qstat -f $Q"
cap torque-wrappers sacct-pbs-exitcode "exit status of a qsub job, from Slurm accounting" "sacct -j $Q -X -n -P -o JobID,State,ExitCode"
S "rm -f fx-pbs.sh"

log "waiting for the TIMEOUT of job $T (time limit 1 min, checked every ~30 s)"
wait_state "$T" '^TIMEOUT$' 150
cap slurm scontrol-show-job-timeout "T killed at its time limit" "scontrol show job $T"
ALL="$T,$R,$P,$Hd,$D,$F,$B"
cap slurm sacct-final "COMPLETED (P, B), FAILED exit 3 (F), CANCELLED running (R) / pending (H, D), TIMEOUT (T)" \
  "sacct -X -P -n -o JobID,State,ExitCode,Reason%40 -j $ALL"
cap slurm sacct-final-steps "the same with job steps (.batch, .extern, srun steps)" "sacct -P -n -o JobID,JobName,Partition,State,ExitCode -j $ALL"
cap slurm sacct-final-default "default format with header" "sacct -j $ALL"
cap slurm sacct-invalid-job "unknown job id: header only" "sacct -j 999999"

readme() { # DIR TITLE
  {
    echo "# $2"
    echo
    echo "Real output captured on $(date -u +%Y-%m-%d) from the project testbed (\`scripts/testbed/up.sh\`: Debian 12,"
    echo "$(S 'sbatch --version'), slurmdbd accounting, MinJobAge=300, node \`$H\` (8 CPUs) in partition \`debug\`,"
    echo "nodes \`$H,node2\` in partition \`batch\`) by \`scripts/testbed/capture-scheduler-fixtures.sh\`."
    echo "Every command ran over ssh as user \`$U\` (\`ssh -p 2222 $U@127.0.0.1 'COMMAND'\`). Job ids are real and"
    echo "differ between captures; timestamps are of the capture. \`NAME.txt\` is stdout, \`NAME.stderr.txt\` stderr."
    echo
    echo "| file(s) | command | exit code | what |"
    echo "| --- | --- | --- | --- |"
    printf '%s' "${ROWS[$1]}"
  } >"$OUT/$1/README.md"
}
readme slurm "Slurm 22.05 output (recorded)"
readme torque-wrappers "slurm-wlm-torque wrapper output (recorded) — NOT real Torque"
log "fixtures written to $OUT/slurm and $OUT/torque-wrappers"
