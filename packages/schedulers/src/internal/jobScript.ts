/**
 * Job scripts built from a `JobDescription`. Every value is quoted with
 * `Shell.quote` or validated; only `command` is shell text, as in Cerulean.
 * Values that a scheduler would parse itself (Slurm's `#SBATCH` lines, Torque's
 * `qsub -o host:path`) go on the submit command line, quoted, or are checked.
 *
 * @since 0.1.0
 */
import type { JobDescription } from "@cerulean/core"
import { Shell } from "@cerulean/core"
import type { SchedulerError } from "@cerulean/core/Scheduler"
import * as Effect from "effect/Effect"
import { invalidJob } from "./command.ts"

/**
 * Where job scripts write their exit-code markers, as shell text expanded on
 * the machine that runs the job (home directories are shared on clusters).
 *
 * @since 0.1.0
 * @category constants
 */
export const markerDirectory = `"$HOME"/.cerulean/jobs`

/**
 * A job description that passed {@link validateCommon}: defaults filled in,
 * `command` present (trailing whitespace removed, so arguments stay on its line).
 *
 * @since 0.1.0
 * @category models
 */
export interface Job {
  readonly name: string
  readonly command: string
  readonly arguments: ReadonlyArray<string>
  readonly environment: Readonly<Record<string, string>>
  readonly workingDirectory?: string | undefined
  readonly stdoutFile?: string | undefined
  readonly stderrFile?: string | undefined
  readonly queueName?: string | undefined
  readonly timeReserved?: number | undefined
  readonly numNodes?: number | undefined
  readonly mpiProcessesPerNode?: number | undefined
  readonly systemOutFile?: string | undefined
  readonly systemErrFile?: string | undefined
  readonly extraSchedulerOptions?: string | undefined
}

/**
 * Checks what every scheduler needs: a command, valid environment names,
 * positive numbers, no NUL bytes (no shell can pass them) and a one-line
 * `extraSchedulerOptions` (a newline there would add shell lines to the script).
 *
 * @since 0.1.0
 * @category guards
 */
export const validateCommon = (job: JobDescription): Effect.Effect<Job, SchedulerError> =>
  Effect.gen(function*() {
    const name = job.name ?? "cerulean"
    const args = job.arguments ?? []
    const environment = job.environment ?? {}
    const command = job.command?.trimEnd() ?? ""
    if (command.trim() === "") return yield* invalidJob("Job description is missing a command")
    const texts: Array<[string, string | undefined]> = [
      ["name", name],
      ["command", command],
      ["workingDirectory", job.workingDirectory],
      ["stdoutFile", job.stdoutFile],
      ["stderrFile", job.stderrFile],
      ["queueName", job.queueName],
      ["systemOutFile", job.systemOutFile],
      ["systemErrFile", job.systemErrFile],
      ["extraSchedulerOptions", job.extraSchedulerOptions],
      ...args.map((arg, i): [string, string] => [`arguments[${i}]`, arg]),
      ...Object.entries(environment).flatMap(([k, v]): Array<[string, string]> => [
        [`environment name ${JSON.stringify(k)}`, k],
        [`environment[${JSON.stringify(k)}]`, v]
      ])
    ]
    for (const [field, value] of texts) {
      if (value !== undefined && value.includes("\0")) return yield* invalidJob(`${field} contains a NUL byte`)
    }
    for (const key of Object.keys(environment)) {
      if (!Shell.isValidEnvName(key)) {
        return yield* invalidJob(`environment variable name ${JSON.stringify(key)} is not a valid shell name`)
      }
    }
    const positive: Array<[string, number | undefined]> = [
      ["timeReserved", job.timeReserved],
      ["numNodes", job.numNodes],
      ["mpiProcessesPerNode", job.mpiProcessesPerNode]
    ]
    for (const [field, value] of positive) {
      if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0)) {
        return yield* invalidJob(`${field} must be a positive whole number, got ${value}`)
      }
    }
    if (job.extraSchedulerOptions !== undefined && /[\r\n]/.test(job.extraSchedulerOptions)) {
      return yield* invalidJob("extraSchedulerOptions must be one line (it becomes one scheduler directive)")
    }
    for (const [field, value] of [["stdoutFile", job.stdoutFile], ["stderrFile", job.stderrFile]] as const) {
      if (value === "") return yield* invalidJob(`${field} is empty`)
    }
    return { ...job, command, name, arguments: args, environment }
  })

/**
 * The user's part of every job script: the job name as `CERULEAN_JOB_NAME`,
 * the environment, the working directory (the job stops if it cannot enter
 * it) and the command with its quoted arguments and redirections.
 *
 * @since 0.1.0
 * @category constructors
 */
export const jobBody = (job: Job): string => {
  const lines: Array<string> = [`export CERULEAN_JOB_NAME=${Shell.quote(job.name)}`]
  for (const [key, value] of Object.entries(job.environment)) lines.push(`export ${key}=${Shell.quote(value)}`)
  if (job.workingDirectory !== undefined) lines.push(`cd -- ${Shell.quote(job.workingDirectory)} || exit 1`)
  const call = [job.command, ...job.arguments.map(Shell.quote)].join(" ")
  const redirects = [
    job.stdoutFile === undefined ? "" : ` >${Shell.quote(job.stdoutFile)}`,
    job.stderrFile === undefined ? "" : ` 2>${Shell.quote(job.stderrFile)}`
  ].join("")
  // braces make the redirections cover all of `command` even when it is several commands
  if (redirects === "") lines.push(call)
  else lines.push("{", call, `}${redirects}`)
  return lines.join("\n")
}

/**
 * The part of a batch script that runs the body in a subshell and records its
 * exit code in a marker file, also when the scheduler stops it with SIGTERM
 * (cancel, time limit): the fallback where the scheduler keeps no exit status.
 *
 * @since 0.1.0
 * @category constructors
 */
export const markedBody = (markerName: string, body: string): string =>
  [
    `__cerulean_dir=${markerDirectory}`,
    `__cerulean_marker="$__cerulean_dir"/${markerName}`,
    "__cerulean_finish() {",
    "  trap - TERM INT",
    `  mkdir -p "$__cerulean_dir" 2>/dev/null`,
    `  printf '%s\\n' "$1" >"$__cerulean_marker.tmp$$" 2>/dev/null && mv -f "$__cerulean_marker.tmp$$" "$__cerulean_marker" 2>/dev/null`,
    // markers are only a fallback: a week is long enough for anyone to ask
    `  find "$__cerulean_dir" -maxdepth 1 -name '*.exit' -mtime +7 -exec rm -f {} + 2>/dev/null`,
    `  exit "$1"`,
    "}",
    "trap '__cerulean_finish 143' TERM",
    "trap '__cerulean_finish 130' INT",
    "(",
    body,
    ")",
    "__cerulean_finish $?"
  ].join("\n")

/**
 * Slurm `--time` value: `DD-HH:MM:SS`, as in Cerulean.
 *
 * @since 0.1.0
 * @category constructors
 */
export const slurmTime = (seconds: number): string => {
  const d = Math.floor(seconds / 86400)
  const h = Math.floor((seconds % 86400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return `${pad(d)}-${pad(h)}:${pad(m)}:${pad(s)}`
}

/**
 * Torque/PBS `walltime` value: `HH:MM:SS` with as many hours as needed (the
 * original's `DD:HH:MM:SS` joined to `nodes=` with `:` was not a valid `-l`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const torqueWalltime = (seconds: number): string => {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return `${pad(h)}:${pad(m)}:${pad(s)}`
}

const pad = (n: number): string => n.toString().padStart(2, "0")

/**
 * A Slurm submission: the `sbatch` arguments (each one word, quoted when the
 * command line is built) and the script for its standard input. Options go on
 * the command line rather than into `#SBATCH` lines, which cannot be quoted.
 *
 * @since 0.1.0
 * @category models
 */
export interface Submission {
  readonly args: ReadonlyArray<string>
  readonly script: string
}

/**
 * Builds the Slurm submission for a job.
 *
 * @since 0.1.0
 * @category constructors
 */
export const slurmSubmission = (description: JobDescription): Effect.Effect<Submission, SchedulerError> =>
  Effect.map(validateCommon(description), (job) => {
    const args: Array<string> = ["--parsable", `--job-name=${job.name}`]
    if (job.queueName !== undefined) args.push(`--partition=${job.queueName}`)
    if (job.timeReserved !== undefined) args.push(`--time=${slurmTime(job.timeReserved)}`)
    if (job.numNodes !== undefined) args.push(`--nodes=${job.numNodes}`)
    if (job.mpiProcessesPerNode !== undefined) args.push(`--ntasks-per-node=${job.mpiProcessesPerNode}`, "--overcommit")
    if (job.systemOutFile !== undefined) args.push(`--output=${job.systemOutFile}`)
    if (job.systemErrFile !== undefined) args.push(`--error=${job.systemErrFile}`)
    const lines = ["#!/bin/bash"]
    if (job.extraSchedulerOptions !== undefined) lines.push(`#SBATCH ${job.extraSchedulerOptions}`)
    lines.push(markedBody(`slurm-"\${SLURM_JOB_ID:-$$}".exit`, jobBody(job)))
    return { args, script: lines.join("\n") + "\n" }
  })

/**
 * The name Torque shows for a job: Torque and PBS accept only a letter
 * followed by letters, digits, `_`, `.` and `-`, and the slurm-wlm-torque
 * wrappers pass `-N` through a shell unquoted. Other characters become `_`;
 * the verbatim name reaches the job as `CERULEAN_JOB_NAME`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const torqueJobName = (name: string): string => {
  const cleaned = name.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 230)
  if (cleaned === "") return "cerulean"
  return /^[A-Za-z]/.test(cleaned) ? cleaned : `j${cleaned}`
}

const torqueSafe = /^[A-Za-z0-9_./%@+=,-]+$/

/**
 * Builds the Torque/PBS submission for a job: `qsub` arguments (without the
 * script file) and the script.
 *
 * @since 0.1.0
 * @category constructors
 */
export const torqueSubmission = (description: JobDescription): Effect.Effect<Submission, SchedulerError> =>
  Effect.gen(function*() {
    const job = yield* validateCommon(description)
    if (job.queueName !== undefined && !/^[A-Za-z0-9_.@-]+$/.test(job.queueName)) {
      return yield* invalidJob(`queueName ${JSON.stringify(job.queueName)} is not a valid Torque queue name`)
    }
    for (const [field, value] of [["systemOutFile", job.systemOutFile], ["systemErrFile", job.systemErrFile]]) {
      if (value !== undefined && !torqueSafe.test(value)) {
        return yield* invalidJob(
          `${field} ${JSON.stringify(value)}: Torque reads qsub -o/-e as [host:]path (and the slurm-wlm-torque ` +
            "wrappers re-parse it through a shell), so only letters, digits and _ . / % @ + = , - are accepted"
        )
      }
    }
    const args: Array<string> = ["-N", torqueJobName(job.name)]
    if (job.queueName !== undefined) args.push("-q", job.queueName)
    if (job.timeReserved !== undefined) args.push("-l", `walltime=${torqueWalltime(job.timeReserved)}`)
    if (job.numNodes !== undefined || job.mpiProcessesPerNode !== undefined) {
      const ppn = job.mpiProcessesPerNode === undefined ? "" : `:ppn=${job.mpiProcessesPerNode}`
      args.push("-l", `nodes=${job.numNodes ?? 1}${ppn}`)
    }
    if (job.systemOutFile !== undefined) args.push("-o", job.systemOutFile)
    if (job.systemErrFile !== undefined) args.push("-e", job.systemErrFile)
    const lines = ["#!/bin/bash"]
    if (job.extraSchedulerOptions !== undefined) lines.push(`#PBS ${job.extraSchedulerOptions}`)
    lines.push(markedBody(`torque-"\${PBS_JOBID:-\${SLURM_JOB_ID:-$$}}".exit`, jobBody(job)))
    return { args, script: lines.join("\n") + "\n" }
  })

/**
 * The marker file name of a Slurm job.
 *
 * @since 0.1.0
 * @category constructors
 */
export const slurmMarkerName = (id: string): string => `slurm-${id}.exit`

/**
 * The marker file name of a Torque/PBS job.
 *
 * @since 0.1.0
 * @category constructors
 */
export const torqueMarkerName = (id: string): string => `torque-${id}.exit`

/**
 * Shell text (to run after a status command) that prints
 * `@@cerulean-section <exit code of the command before>`, then
 * `<file>|<content>` for each marker file that exists.
 *
 * @since 0.1.0
 * @category constructors
 */
export const readMarkers = (files: ReadonlyArray<string>): string =>
  [
    `printf '%s %s\\n' '@@cerulean-section' "$?"`,
    files.length === 0
      ? "true"
      : `cd ${markerDirectory} 2>/dev/null && for __f in ${
        files.map(Shell.quote).join(" ")
      }; do [ -f "$__f" ] && printf '%s|%s\\n' "$__f" "$(cat -- "$__f")"; done; true`
  ].join("; ")

/**
 * Reads `<file>|<code>` lines printed by {@link readMarkers}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseMarkers = (text: string): ReadonlyMap<string, number> => {
  const out = new Map<string, number>()
  for (const line of text.split("\n")) {
    const bar = line.indexOf("|")
    if (bar < 0) continue
    const code = line.slice(bar + 1).trim()
    if (/^-?\d+$/.test(code)) out.set(line.slice(0, bar), Number.parseInt(code, 10))
  }
  return out
}
