/**
 * The shell side of `DirectGnuScheduler`. A job is a directory
 * `<jobs dir>/<id>/` (default `~/.cerulean/jobs`) holding the user's script,
 * a wrapper that runs it in its own session (`setsid`), the process group ids,
 * the submit and start times (`submitted`, `started`: epoch seconds) and
 * finally an `exit` record `<code> <STATE> <end time>`. Each script is fixed text run
 * as `bash -c <script> <name> <args...>`: values only travel as arguments.
 *
 * @since 0.1.0
 */
import type { JobInfo } from "@cerulean/core"
import { Shell } from "@cerulean/core"
import type { SchedulerError } from "@cerulean/core/Scheduler"
import * as Effect from "effect/Effect"
import { parseError } from "./command.ts"
import { fromEpochSeconds, makeInfo } from "./jobInfo.ts"

/**
 * Seconds between SIGTERM and SIGKILL when a job is cancelled or overruns its time.
 *
 * @since 0.1.0
 * @category constants
 */
export const killGraceSeconds = 5

/**
 * Shell functions: \`__snapshot\` takes one \`ps\` listing, and \`__alive SID\`
 * says whether that session (each job runs in two: the wrapper's and the
 * user's) had a process that is not a zombie in it. Orphaned zombies count
 * as gone (some containers' PID 1 never reaps them). Falls back to
 * \`kill -0\` where \`ps\` fails.
 *
 * @since 0.1.0
 * @category constants
 */
export const liveSessions = `__snapshot() { __live=$(ps -e -o sid=,stat= 2>/dev/null | awk '$2 !~ /^Z/ { print " " $1 " " }'); }
__alive() {
  if [ -n "$__live" ]; then case "$__live" in *" $1 "*) return 0 ;; esac; return 1; fi
  kill -0 -- "-$1" 2>/dev/null
}`

/**
 * Runs inside the job's own session (the launcher starts it with `setsid`).
 * It starts the user's script in a second session, so that cancel and the
 * time limit can kill the user's whole process group while the wrapper lives
 * on to write the exit record. `$1` = job dir, `$2` = time limit in seconds or "".
 *
 * @since 0.1.0
 * @category constants
 */
export const wrapperScript = `__d=$1
__limit=$2
printf '%(%s)T\\n' -1 >"$__d/started"
printf '%s\\n' "$$" >"$__d/wpid"
setsid bash "$__d/user.sh" </dev/null &
__pg=$!
printf '%s\\n' "$__pg" >"$__d/pgid.tmp" && mv -f "$__d/pgid.tmp" "$__d/pgid"
__wd=
if [ -n "$__limit" ]; then
  (
    sleep "$__limit" & __s=$!
    trap 'kill "$__s" 2>/dev/null; exit 0' TERM
    wait "$__s"
    : >"$__d/timedout"
    kill -TERM -- "-$__pg" 2>/dev/null
    sleep ${killGraceSeconds} & __s=$!
    wait "$__s"
    kill -KILL -- "-$__pg" 2>/dev/null
  ) </dev/null >/dev/null 2>&1 &
  __wd=$!
fi
wait "$__pg"
__code=$?
[ -n "$__wd" ] && kill "$__wd" 2>/dev/null
__state=COMPLETED
[ "$__code" -ne 0 ] && __state=FAILED
if [ -f "$__d/cancelled" ]; then
  __state=CANCELLED
  [ "$__code" -eq 0 ] && __code=143
elif [ -f "$__d/timedout" ]; then
  __state=TIMEOUT
  __code=124
fi
printf '%s %s %(%s)T\\n' "$__code" "$__state" -1 >"$__d/exit.tmp" && mv -f "$__d/exit.tmp" "$__d/exit"
rm -f "$__d/user.sh" "$__d/job.sh" "$__d/pgid" "$__d/wpid" "$__d/cancelled" "$__d/timedout"
`

/**
 * Creates the job directory, stores the user's script from stdin and the
 * wrapper, starts the wrapper with `setsid` (its own session: the terminal's
 * process group can be killed without touching it), waits until the process
 * group id is recorded and prints the job id. Also removes exit records older
 * than 7 days. `$1` = jobs dir ("" = `~/.cerulean/jobs`), `$2` = time limit
 * ("" = none), `$3`/`$4` = system out/err files ("" = /dev/null).
 *
 * @since 0.1.0
 * @category constants
 */
export const launcherScript = `__root=\${1:-$HOME/.cerulean/jobs}
__out=\${3:-/dev/null}
__err=\${4:-/dev/null}
(umask 077 && mkdir -p -- "$__root") || exit 1
{ : >>"$__out"; } || exit 1
{ : >>"$__err"; } || exit 1
__d=$(mktemp -d "$__root/job-XXXXXXXXXX") || exit 1
printf '%(%s)T\\n' -1 >"$__d/submitted"
cat >"$__d/user.sh" || exit 1
cat >"$__d/job.sh" <<'CERULEAN_WRAPPER_EOF'
${wrapperScript}CERULEAN_WRAPPER_EOF
: >"$__out"
if [ "$__err" = "$__out" ]; then
  setsid bash "$__d/job.sh" "$__d" "$2" </dev/null >>"$__out" 2>&1 &
else
  : >"$__err"
  setsid bash "$__d/job.sh" "$__d" "$2" </dev/null >>"$__out" 2>>"$__err" &
fi
__i=0
while [ ! -s "$__d/pgid" ] && [ ! -f "$__d/exit" ] && [ "$__i" -lt 1000 ]; do sleep 0.01; __i=$((__i + 1)); done
find "$__root" -mindepth 2 -maxdepth 2 -name exit -mtime +7 2>/dev/null | while IFS= read -r __f; do rm -rf -- "\${__f%/exit}"; done
printf '%s\\n' "\${__d##*/}"
`

/**
 * Prints `<id>|<STATE>|<code>|<submitted>|<started>|<ended>` per job id
 * (times in epoch seconds, empty when unknown): `RUNNING` while either
 * process group lives, the exit record once written, `CANCELLED`/`TIMEOUT`
 * for a job killed before its wrapper could write one, `LOST` for a job that
 * ended with no record (killed from outside), `UNKNOWN` for no such job.
 * `$1` = jobs dir, then the ids.
 *
 * @since 0.1.0
 * @category constants
 */
export const statusScript = `__root=\${1:-$HOME/.cerulean/jobs}
shift
${liveSessions}
__snapshot
__times() {
  { read -r __t0 <"$__d/submitted"; } 2>/dev/null || __t0=
  { read -r __t1 <"$__d/started"; } 2>/dev/null || __t1=
}
__record() { read -r __c __s __e <"$__d/exit"; printf '%s|%s|%s|%s|%s|%s\\n' "$__id" "$__s" "$__c" "$__t0" "$__t1" "$__e"; }
for __id in "$@"; do
  __d=$__root/$__id
  if [ ! -d "$__d" ]; then printf '%s|UNKNOWN||||\\n' "$__id"; continue; fi
  __times
  if [ -f "$__d/exit" ]; then __record; continue; fi
  __alive=
  for __p in $(cat "$__d/pgid" "$__d/wpid" 2>/dev/null); do __alive "$__p" && __alive=1; done
  if [ -n "$__alive" ]; then printf '%s|RUNNING||%s|%s|\\n' "$__id" "$__t0" "$__t1"; continue; fi
  if [ -f "$__d/exit" ]; then __record; continue; fi
  if [ -f "$__d/cancelled" ]; then printf '%s|CANCELLED|143|%s|%s|\\n' "$__id" "$__t0" "$__t1"
  elif [ -f "$__d/timedout" ]; then printf '%s|TIMEOUT|124|%s|%s|\\n' "$__id" "$__t0" "$__t1"
  else printf '%s|LOST||%s|%s|\\n' "$__id" "$__t0" "$__t1"; fi
done
`

/**
 * Cancels one job: marks it cancelled, sends SIGTERM to the user's process
 * group, SIGKILL after the grace period, then waits for the wrapper's exit
 * record (writing one if the wrapper died too). A finished job is left alone.
 * Exits 3 for an unknown job. `$1` = jobs dir, `$2` = id.
 *
 * @since 0.1.0
 * @category constants
 */
export const cancelScript = `__root=\${1:-$HOME/.cerulean/jobs}
${liveSessions}
__d=$__root/$2
[ -d "$__d" ] || { echo "no such job: $2" >&2; exit 3; }
[ -f "$__d/exit" ] && exit 0
: >"$__d/cancelled"
__pg=$(cat "$__d/pgid" 2>/dev/null)
if [ -n "$__pg" ]; then
  kill -TERM -- "-$__pg" 2>/dev/null
  __i=0
  while __snapshot && __alive "$__pg" && [ "$__i" -lt ${killGraceSeconds * 10} ]; do sleep 0.1; __i=$((__i + 1)); done
  kill -KILL -- "-$__pg" 2>/dev/null
fi
__i=0
while [ ! -f "$__d/exit" ] && [ "$__i" -lt 50 ]; do
  __alive=
  __snapshot
  for __p in $(cat "$__d/wpid" 2>/dev/null); do __alive "$__p" && __alive=1; done
  [ -z "$__alive" ] && break
  sleep 0.1; __i=$((__i + 1))
done
if [ ! -f "$__d/exit" ]; then
  printf '143 CANCELLED %(%s)T\\n' -1 >"$__d/exit.tmp" && mv -f "$__d/exit.tmp" "$__d/exit"
  rm -f "$__d/user.sh" "$__d/job.sh" "$__d/pgid" "$__d/wpid" "$__d/cancelled" "$__d/timedout"
fi
exit 0
`

/**
 * `bash -c <script> <name> <args...>` as one command line.
 *
 * @since 0.1.0
 * @category constructors
 */
export const bashCommand = (script: string, name: string, args: ReadonlyArray<string>): string =>
  ["bash", "-c", Shell.quote(script), name, ...args.map(Shell.quote)].join(" ")

/**
 * Whether a string is a DirectGnu job id (the name of its directory).
 *
 * @since 0.1.0
 * @category guards
 */
export const isDirectGnuJobId = (id: string): boolean => /^job-[A-Za-z0-9]+$/.test(id)

/**
 * One line of {@link statusScript}.
 *
 * @since 0.1.0
 * @category models
 */
export interface DirectGnuRow {
  readonly id: string
  readonly state: string
  readonly code: number | undefined
  /** Epoch seconds, where the job directory has them. */
  readonly submitted?: number | undefined
  readonly started?: number | undefined
  readonly ended?: number | undefined
}

/**
 * Reads the output of {@link statusScript}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseStatus = (output: string): Effect.Effect<ReadonlyArray<DirectGnuRow>, SchedulerError> =>
  Effect.suspend(() => {
    const rows: Array<DirectGnuRow> = []
    for (const line of output.split("\n")) {
      if (line.trim() === "") continue
      const match = /^([^|]+)\|([A-Z]+)\|(-?\d*)(?:\|(\d*)\|(\d*)\|(\d*))?$/.exec(line.trim())
      if (match === null) return Effect.fail(parseError("unexpected DirectGnu status line", line))
      const seconds = (text: string | undefined) => (text === undefined || text === "" ? undefined : Number(text))
      rows.push({
        id: match[1]!,
        state: match[2]!,
        code: seconds(match[3]),
        submitted: seconds(match[4]),
        started: seconds(match[5]),
        ended: seconds(match[6])
      })
    }
    return Effect.succeed(rows)
  })

/**
 * The `JobInfo` of a status line. There is no queue, so a DirectGnu job is
 * never `Waiting`; a cancelled job reports 143 (SIGTERM), a timed-out one 124
 * (as GNU `timeout`), and a job that vanished without a record (`LOST`) no code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const directGnuInfo = (row: DirectGnuRow): JobInfo => {
  const times = { submitTime: fromEpochSeconds(row.submitted), startTime: fromEpochSeconds(row.started) }
  if (row.state === "RUNNING") return makeInfo({ id: row.id, status: "Running", state: "RUNNING", ...times })
  const reason = row.state === "LOST" ? "the job ended without writing its exit record (killed from outside?)" : undefined
  const exitCode = (row.state === "CANCELLED" || row.state === "TIMEOUT") && row.code === 0 ? undefined : row.code
  return makeInfo({ id: row.id, status: "Done", state: row.state, reason, exitCode, ...times, endTime: fromEpochSeconds(row.ended) })
}
