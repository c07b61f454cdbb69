/**
 * Torque, PBS Pro and "minimal" qsub/qstat (the slurm-wlm-torque wrappers):
 * flavour detection and the parsers of `qsub`, Torque `qstat -x` (XML),
 * `qstat -f` (text) and PBS Pro `qstat -f -F json`.
 *
 * @since 0.1.0
 */
import type { JobInfo, JobStatus, RunResult } from "@cerulean/core"
import { Shell } from "@cerulean/core"
import type { SchedulerError } from "@cerulean/core/Scheduler"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { message, parseError, submitFailed, unavailable } from "./command.ts"
import { finalExit, makeInfo } from "./jobInfo.ts"

/**
 * Which qstat this is: real Torque (`qstat -x` is XML), PBS Pro / OpenPBS
 * (`qstat -f -F json -x`, `-x` = history) or a minimal one such as the
 * slurm-wlm-torque wrappers (`qstat -f` text only, no exit status).
 *
 * @since 0.1.0
 * @category models
 */
export type Flavor = "torque" | "pbspro" | "minimal"

/**
 * The flavour from `qstat --version`: PBS prints `pbs_version = 23.06.06`,
 * Torque `Version: 6.1.3`; the wrappers reject the option. A command that
 * could not run at all (no qstat, no shell) is `Unavailable`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseVersion = (result: RunResult): Effect.Effect<Flavor, SchedulerError> => {
  const text = `${result.stdout}\n${result.stderr}`
  if (/pbs_version\s*=/i.test(text)) return Effect.succeed("pbspro")
  if (result.exitCode === 0 && /^\s*Version:\s*\d/im.test(text)) return Effect.succeed("torque")
  if (result.exitCode === 126 || result.exitCode === 127) {
    return Effect.fail(unavailable(`qstat --version: ${message(result)}`))
  }
  return Effect.succeed("minimal")
}

/**
 * The status query of a poll tick for each flavour.
 *
 * @since 0.1.0
 * @category constructors
 */
export const qstatCommand = (flavor: Flavor, ids: ReadonlyArray<string>): string => {
  const list = ids.map(Shell.quote).join(" ")
  switch (flavor) {
    case "torque":
      return `qstat -x ${list}`
    case "pbspro":
      return `qstat -f -F json -x ${list}`
    case "minimal":
      return `qstat -f ${list}`
  }
}

/**
 * Whether a string looks like a Torque/PBS job id (`123`, `123.server`, `123[4].server`).
 *
 * @since 0.1.0
 * @category guards
 */
export const isTorqueJobId = (id: string): boolean => /^\d+(\[\d*\])?(\.[A-Za-z0-9_.-]+)?$/.test(id)

/**
 * The job id printed by `qsub` (`123.server`, or a bare `123` from the
 * wrappers), or the scheduler's message as `SubmitFailed` (the wrappers print
 * their errors on stdout).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseQsub = (result: RunResult): Effect.Effect<string, SchedulerError> => {
  if (result.exitCode !== 0) return Effect.fail(submitFailed(message(result)))
  const lines = result.stdout.split("\n").map((line) => line.trim()).filter((line) => line !== "")
  const id = (lines.at(-1) ?? "").split(/\s+/).at(-1) ?? ""
  return isTorqueJobId(id) ? Effect.succeed(id) : Effect.fail(parseError("qsub printed no job id", result.stdout))
}

/**
 * One job as qstat listed it.
 *
 * @since 0.1.0
 * @category models
 */
export interface QstatRow {
  readonly id: string
  readonly state: string
  readonly exitStatus: number | undefined
  readonly comment: string | undefined
}

const entities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'" }

const decodeXml = (text: string): string =>
  text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (all, name: string) => {
    if (name.startsWith("#x")) return String.fromCodePoint(Number.parseInt(name.slice(2), 16))
    if (name.startsWith("#")) return String.fromCodePoint(Number.parseInt(name.slice(1), 10))
    return entities[name] ?? all
  })

const xmlField = (block: string, name: string): string | undefined => {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(block)
  return match === null ? undefined : decodeXml(match[1]!)
}

const toInt = (text: string | undefined): number | undefined =>
  text !== undefined && /^\s*-?\d+\s*$/.test(text) ? Number.parseInt(text, 10) : undefined

/**
 * Reads Torque's `qstat -x` XML (`<Data><Job><Job_Id>…</Job_Id><job_state>…`).
 * Only leaf fields are read, so nested elements (`resources_used`) do not matter.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseQstatXml = (output: string): Effect.Effect<ReadonlyArray<QstatRow>, SchedulerError> =>
  Effect.suspend(() => {
    const text = output.trim()
    if (text === "") return Effect.succeed([])
    if (!/<Data\s*\/?>/.test(text)) return Effect.fail(parseError("qstat -x printed no <Data> document", output))
    const rows: Array<QstatRow> = []
    for (const match of text.matchAll(/<Job>([\s\S]*?)<\/Job>/g)) {
      const block = match[1]!
      const id = xmlField(block, "Job_Id")
      const state = xmlField(block, "job_state")
      if (id === undefined || state === undefined) {
        return Effect.fail(parseError("qstat -x job without Job_Id or job_state", block))
      }
      rows.push({ id, state, exitStatus: toInt(xmlField(block, "exit_status")), comment: xmlField(block, "comment") })
    }
    return Effect.succeed(rows)
  })

/**
 * Reads `qstat -f` text: `Job Id: 123.server` (a tab after the colon in the
 * wrappers) followed by indented `key = value` lines; longer values continue
 * on tab-indented lines.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseQstatFull = (output: string): Effect.Effect<ReadonlyArray<QstatRow>, SchedulerError> =>
  Effect.suspend(() => {
    const jobs: Array<{ id: string; fields: Map<string, string> }> = []
    let last: string | undefined
    for (const line of output.split("\n")) {
      if (line.trim() === "") continue
      const head = /^Job Id:\s*(\S+)\s*$/.exec(line)
      if (head !== null) {
        jobs.push({ id: head[1]!, fields: new Map() })
        last = undefined
        continue
      }
      const job = jobs.at(-1)
      if (job === undefined) return Effect.fail(parseError("qstat -f output does not start with 'Job Id:'", output))
      const field = /^\s+([A-Za-z_][A-Za-z0-9_.]*) = (.*)$/.exec(line)
      if (field !== null) {
        last = field[1]!
        job.fields.set(last, field[2]!)
      } else if (last !== undefined && /^\s/.test(line)) {
        job.fields.set(last, job.fields.get(last)! + line.trim())
      } else {
        return Effect.fail(parseError("unexpected qstat -f line", line))
      }
    }
    const rows: Array<QstatRow> = []
    for (const job of jobs) {
      const state = job.fields.get("job_state")
      if (state === undefined) return Effect.fail(parseError(`qstat -f job ${job.id} has no job_state`, output))
      rows.push({
        id: job.id,
        state: state.trim(),
        exitStatus: toInt(job.fields.get("exit_status") ?? job.fields.get("Exit_status")),
        comment: job.fields.get("comment")
      })
    }
    return Effect.succeed(rows)
  })

const PbsJob = Schema.Struct({
  job_state: Schema.String,
  Exit_status: Schema.optional(Schema.Number),
  comment: Schema.optional(Schema.String)
})

const PbsQstat = Schema.Struct({
  Jobs: Schema.optional(Schema.Record(Schema.String, PbsJob))
})

const decodePbs = Schema.decodeUnknownEffect(Schema.fromJsonString(PbsQstat))

/**
 * Reads PBS Pro's `qstat -f -F json` (with `-x`: finished jobs too), decoded
 * with a Schema of the fields used (`job_state`, `Exit_status`, `comment`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parsePbsJson = (output: string): Effect.Effect<ReadonlyArray<QstatRow>, SchedulerError> =>
  output.trim() === "" ? Effect.succeed([]) : decodePbs(output).pipe(
    Effect.mapError((error) => parseError(`qstat -F json: ${error.message}`, output)),
    Effect.map((data) =>
      Object.entries(data.Jobs ?? {}).map(([id, job]) => ({
        id,
        state: job.job_state,
        exitStatus: job.Exit_status,
        comment: job.comment
      }))
    )
  )

/**
 * Parses a status query's output for its flavour.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseQstat = (
  flavor: Flavor,
  output: string
): Effect.Effect<ReadonlyArray<QstatRow>, SchedulerError> =>
  flavor === "torque" ? parseQstatXml(output) : flavor === "pbspro" ? parsePbsJson(output) : parseQstatFull(output)

/**
 * Whether qstat failed only because it knows none of the ids (Torque and PBS
 * print "Unknown Job Id"; the wrappers exit 153 with no output; PBS Pro
 * without `-x` says "Job has finished").
 *
 * @since 0.1.0
 * @category guards
 */
export const isUnknownJobs = (result: RunResult, headExit: number): boolean =>
  headExit === 153 || /Unknown Job Id|Job has finished/i.test(result.stderr)

/**
 * Cerulean's status for a Torque/PBS state letter: `Q`, `W` (start time not
 * reached), `H` (held; the original said "running") and `T` (being moved) are
 * waiting; `C` (Torque), `F` (PBS), `X` (expired sub-job) and `M` (moved to
 * another server) are done; anything else (`R`, `E`, `S`, `B`, `U`) is running.
 *
 * @since 0.1.0
 * @category constructors
 */
export const torqueStatus = (state: string): JobStatus =>
  ["Q", "W", "H", "T"].includes(state) ? "Waiting" : ["C", "F", "X", "M"].includes(state) ? "Done" : "Running"

/**
 * The `JobInfo` of one qstat row. Torque and PBS report a job killed by a
 * signal as `exit_status = 256 + signal` and their own failures (the job
 * never ran properly) as negative numbers; the marker file fills in where
 * qstat has no exit status.
 *
 * @since 0.1.0
 * @category constructors
 */
export const torqueInfo = (row: QstatRow, marker?: number): JobInfo => {
  const status = torqueStatus(row.state)
  if (status !== "Done") return makeInfo({ id: row.id, status, state: row.state, reason: row.comment })
  const es = row.exitStatus
  const special = es !== undefined && es < 0
  const exit = finalExit({
    code: es === undefined || special || es >= 256 ? undefined : es,
    signal: es !== undefined && es > 256 ? es - 256 : undefined,
    marker,
    killed: special
  })
  const reason = special ? [row.comment, `exit_status ${es}: the scheduler could not run the job`] : [row.comment]
  return makeInfo({
    id: row.id,
    status,
    state: row.state,
    reason: reason.filter((r) => r !== undefined && r !== "").join("; "),
    ...exit
  })
}
