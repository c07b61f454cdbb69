/**
 * Slurm commands and parsers: `sbatch --parsable`, `squeue -t all -O ...`
 * (live jobs and those still in slurmctld's memory, with their exit status)
 * and `sacct -X -P` (history, for jobs that have left the queue).
 *
 * @since 0.1.0
 */
import type { JobInfo, JobStatus } from "@cerulean/core"
import { Shell } from "@cerulean/core"
import type { RunResult } from "@cerulean/core"
import type { SchedulerError } from "@cerulean/core/Scheduler"
import * as Effect from "effect/Effect"
import { message, parseError, submitFailed } from "./command.ts"
import { finalExit, fromEpochSeconds, makeInfo } from "./jobInfo.ts"

const waiting = new Set([
  "PENDING",
  "CONFIGURING",
  "REQUEUED",
  "REQUEUE_HOLD",
  "REQUEUE_FED",
  "RESV_DEL_HOLD",
  "SPECIAL_EXIT",
  "POWER_UP_NODE"
])
const running = new Set(["RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"])
const done = new Set([
  "BOOT_FAIL",
  "CANCELLED",
  "COMPLETED",
  "DEADLINE",
  "FAILED",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "PREEMPTED",
  "REVOKED",
  "TIMEOUT"
])

/**
 * Cerulean's status for a Slurm state. States this library does not know
 * (a newer Slurm) count as `Running`: never "done" by accident, as the
 * original's `except KeyError: DONE` did.
 *
 * @since 0.1.0
 * @category constructors
 */
export const slurmStatus = (state: string): JobStatus =>
  waiting.has(state) ? "Waiting" : done.has(state) ? "Done" : "Running"

/**
 * Whether this library knows the Slurm state.
 *
 * @since 0.1.0
 * @category guards
 */
export const isKnownSlurmState = (state: string): boolean => waiting.has(state) || running.has(state) || done.has(state)

/**
 * The job id printed by `sbatch --parsable` (`123` or `123;cluster`), or the
 * scheduler's message as `SubmitFailed`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseSbatch = (result: RunResult): Effect.Effect<string, SchedulerError> => {
  if (result.exitCode !== 0) return Effect.fail(submitFailed(message(result)))
  const lines = result.stdout.split("\n").map((line) => line.trim()).filter((line) => line !== "")
  const id = (lines.at(-1) ?? "").split(";")[0]!.trim()
  return isSlurmJobId(id) ? Effect.succeed(id) : Effect.fail(parseError("sbatch printed no job id", result.stdout))
}

/**
 * Whether a string looks like a Slurm job id (`123`, `123_4` for an array element, `123+1` for a het job).
 *
 * @since 0.1.0
 * @category guards
 */
export const isSlurmJobId = (id: string): boolean => /^\d+([_+]\d+)?$/.test(id)

/**
 * The `squeue` query of a poll tick: every state (`-t all`, so finished jobs
 * still in slurmctld's memory show up with their exit status), one line per
 * job, `|`-separated.
 *
 * @since 0.1.0
 * @category constructors
 */
export const squeueCommand = (ids: ReadonlyArray<string>): string =>
  `${epochTimes} squeue -h -t all -O ${Shell.quote(squeueFields)} ${Shell.quote(`--jobs=${ids.join(",")}`)}`

/**
 * Slurm prints times in the cluster's local time zone, which the client does
 * not know; `SLURM_TIME_FORMAT` (a `strftime` format) makes them seconds
 * since the epoch. Through `env`, so that any command prefix still works.
 */
const epochTimes = "env SLURM_TIME_FORMAT=%s"

const squeueFields = "JobID:|,State:|,Reason:|,exit_code:|,SubmitTime:|,StartTime:|,EndTime:|"

/**
 * The `sacct` query for jobs that have left the queue.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sacctCommand = (ids: ReadonlyArray<string>): string =>
  `${epochTimes} sacct -X -P -n -o JobID,State,ExitCode,Submit,Start,End,Reason ${Shell.quote(`--jobs=${ids.join(",")}`)}`

/**
 * One job as `squeue` or `sacct` listed it.
 *
 * @since 0.1.0
 * @category models
 */
export interface SlurmRow {
  readonly id: string
  /** The state's first word (`CANCELLED by 1001` is `CANCELLED`). */
  readonly state: string
  /** The rest of the state text and the reason, if any. */
  readonly reason: string | undefined
  readonly code: number | undefined
  readonly signal: number | undefined
  /** Seconds since the epoch, where the output has them (a running job's `EndTime` is its limit, not an end). */
  readonly submit?: number | undefined
  readonly start?: number | undefined
  readonly end?: number | undefined
}

/** A time column: seconds since the epoch, or nothing for `N/A`, `Unknown`, `None` and the like. */
const epochOf = (text: string | undefined): number | undefined => {
  const trimmed = text?.trim() ?? ""
  return /^\d+$/.test(trimmed) && Number(trimmed) > 0 ? Number(trimmed) : undefined
}

/**
 * Whether `squeue` failed only because it knows none of the ids (a single
 * unknown id makes it exit 1; several make it print nothing).
 *
 * @since 0.1.0
 * @category guards
 */
export const isInvalidJobId = (result: RunResult): boolean => /Invalid job id specified/i.test(result.stderr)

/**
 * Whether `sacct` failed because accounting is switched off on this cluster.
 *
 * @since 0.1.0
 * @category guards
 */
export const isAccountingDisabled = (result: RunResult): boolean =>
  /accounting storage is disabled/i.test(result.stderr + result.stdout)

const reasonOf = (...parts: Array<string | undefined>): string | undefined => {
  const kept = parts.map((p) => p?.trim() ?? "").filter((p) => p !== "" && p !== "None" && p !== "(null)")
  return kept.length === 0 ? undefined : kept.join("; ")
}

/**
 * Reads `squeue -O JobID:|,State:|,Reason:|,exit_code:|` output, and the
 * times after them when present (`SubmitTime:|,StartTime:|,EndTime:|` as
 * epoch seconds); `exit_code` is a raw wait status (`768` = exit 3, `15` =
 * killed by SIGTERM).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseSqueue = (output: string): Effect.Effect<ReadonlyArray<SlurmRow>, SchedulerError> =>
  Effect.suspend(() => {
    const rows: Array<SlurmRow> = []
    for (const line of output.split("\n")) {
      if (line.trim() === "") continue
      const fields = line.split("|")
      if (fields.length < 4) return Effect.fail(parseError("unexpected squeue line", line))
      const [id, state, reason, exit, submit, start, end] = fields as [string, string, string, string, ...Array<string>]
      const status = parseExit(exit.trim())
      if (status === null) return Effect.fail(parseError("unexpected squeue exit_code", line))
      rows.push({
        id: id.trim(),
        state: state.trim(),
        reason: reasonOf(reason),
        ...status,
        submit: epochOf(submit),
        start: epochOf(start),
        end: epochOf(end)
      })
    }
    return Effect.succeed(rows)
  })

/**
 * Reads `sacct -X -P -n -o JobID,State,ExitCode,Reason` output, or with
 * `times` that of {@link sacctCommand} (`Submit,Start,End` as epoch seconds
 * before `Reason`); `ExitCode` is `code:signal`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseSacct = (
  output: string,
  options: { readonly times?: boolean } = {}
): Effect.Effect<ReadonlyArray<SlurmRow>, SchedulerError> =>
  Effect.suspend(() => {
    const rows: Array<SlurmRow> = []
    const before = options.times === true ? 6 : 3
    for (const line of output.split("\n")) {
      if (line.trim() === "") continue
      const fields = line.split("|")
      if (fields.length < before) return Effect.fail(parseError("unexpected sacct line", line))
      const [id, stateText, exit] = fields as [string, string, string]
      const [submit, start, end] = options.times === true ? fields.slice(3, 6) : []
      // the reason is free text: whatever follows the fixed columns, bars included
      const reason = fields.slice(before)
      const status = parseExit(exit.trim())
      if (status === null) return Effect.fail(parseError("unexpected sacct ExitCode", line))
      const [state, ...detail] = stateText.trim().split(/\s+/)
      rows.push({
        id: id.trim(),
        state: state ?? "",
        reason: reasonOf(detail.join(" "), reason.join("|")),
        ...status,
        submit: epochOf(submit),
        start: epochOf(start),
        end: epochOf(end)
      })
    }
    return Effect.succeed(rows)
  })

const parseExit = (text: string): { code: number | undefined; signal: number | undefined } | null => {
  if (text === "") return { code: undefined, signal: undefined }
  const pair = /^(\d+):(\d+)$/.exec(text)
  if (pair !== null) return { code: Number(pair[1]), signal: Number(pair[2]) }
  if (/^\d+$/.test(text)) {
    const raw = Number(text)
    // a wait(2) status: low 7 bits = terminating signal, next byte = exit code
    return (raw & 0x7f) !== 0 ? { code: 0, signal: raw & 0x7f } : { code: (raw >> 8) & 0xff, signal: 0 }
  }
  return null
}

/**
 * The `JobInfo` of one row, with the exit-code rules: a signal gives
 * `128 + signal`, and any finished state but `COMPLETED` never reports 0.
 *
 * @since 0.1.0
 * @category constructors
 */
export const slurmInfo = (row: SlurmRow, marker?: number): JobInfo => {
  const status = slurmStatus(row.state)
  const times = {
    submitTime: fromEpochSeconds(row.submit),
    // a pending job's StartTime is the scheduler's forecast, a running job's EndTime its time limit
    startTime: status === "Waiting" ? undefined : fromEpochSeconds(row.start),
    endTime: status === "Done" ? fromEpochSeconds(row.end) : undefined
  }
  if (status !== "Done") return makeInfo({ id: row.id, status, state: row.state, reason: row.reason, ...times })
  const exit = finalExit({ code: row.code, signal: row.signal, marker, killed: row.state !== "COMPLETED" })
  return makeInfo({ id: row.id, status, state: row.state, reason: row.reason, ...exit, ...times })
}
