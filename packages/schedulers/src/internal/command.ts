/**
 * Running scheduler commands through a `Terminal`: the site prefix, timeouts,
 * and the mapping of terminal failures to `SchedulerError` reasons.
 *
 * @since 0.1.0
 */
import type { Terminal } from "@cerulean/core"
import { RunResult } from "@cerulean/core"
import { InvalidJob, ParseError, SchedulerError, SubmitFailed, Unavailable, UnknownJob } from "@cerulean/core/Scheduler"
import type { RunOptions } from "@cerulean/core/Terminal"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * Prepends the site prefix (shell text such as `module load slurm;`, used as
 * given, as in Cerulean) to one scheduler command.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withPrefix = (prefix: string, command: string): string => {
  const trimmed = prefix.trim()
  return trimmed === "" ? command : `${trimmed} ${command}`
}

/**
 * Default time limit of one scheduler command. The original's fixed 10 s made a
 * slow but successful `sbatch` look failed (and orphaned the job).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultCommandTimeout: Duration.Duration = Duration.seconds(120)

/**
 * A `SchedulerError` with this reason.
 *
 * @since 0.1.0
 * @category errors
 */
export const invalidJob = (description: string): SchedulerError =>
  new SchedulerError({ reason: new InvalidJob({ description }) })

/**
 * A `SchedulerError` with this reason.
 *
 * @since 0.1.0
 * @category errors
 */
export const submitFailed = (description: string): SchedulerError =>
  new SchedulerError({ reason: new SubmitFailed({ description }) })

/**
 * A `SchedulerError` with this reason.
 *
 * @since 0.1.0
 * @category errors
 */
export const unknownJob = (jobId: string, description: string): SchedulerError =>
  new SchedulerError({ reason: new UnknownJob({ jobId, description }) })

/**
 * A `SchedulerError` with this reason.
 *
 * @since 0.1.0
 * @category errors
 */
export const unavailable = (description: string, cause?: unknown): SchedulerError =>
  new SchedulerError({
    reason: cause === undefined ? new Unavailable({ description }) : new Unavailable({ description, cause })
  })

/**
 * A `SchedulerError` with this reason.
 *
 * @since 0.1.0
 * @category errors
 */
export const parseError = (description: string, output: string): SchedulerError =>
  new SchedulerError({ reason: new ParseError({ description, output }) })

/**
 * Runs shell text on the terminal. A terminal failure (timeout, lost
 * connection, no shell) means the scheduler could not be asked: `Unavailable`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const runText = (
  terminal: Terminal,
  text: string,
  options: { readonly stdin?: string | undefined; readonly timeout?: Duration.Input | undefined } = {}
): Effect.Effect<RunResult, SchedulerError> => {
  const runOptions: RunOptions = {
    timeout: options.timeout ?? defaultCommandTimeout,
    ...(options.stdin === undefined ? {} : { stdin: options.stdin })
  }
  return terminal.run(text, [], runOptions).pipe(
    Effect.mapError((error) => unavailable(`${firstLine(text)}: ${error.message}`, error)),
    Effect.tap((result) =>
      Effect.logDebug("scheduler command").pipe(
        Effect.annotateLogs({ command: firstLine(text), exitCode: result.exitCode })
      )
    )
  )
}

/**
 * For submit commands: a command that timed out or lost its connection may
 * still have submitted the job, and it is never re-run automatically (that
 * could submit it twice); the error says so.
 *
 * @since 0.1.0
 * @category combinators
 */
export const submitting = <A>(effect: Effect.Effect<A, SchedulerError>): Effect.Effect<A, SchedulerError> =>
  Effect.mapError(effect, (error) =>
    error.reason._tag === "Unavailable"
      ? unavailable(
        `${error.reason.description} (the job may have been submitted: check the queue before submitting again)`,
        error.reason.cause
      )
      : error)

/**
 * The first line of some text, shortened, for messages and logs.
 *
 * @since 0.1.0
 * @category combinators
 */
export const firstLine = (text: string, max = 200): string => {
  const line = text.split("\n", 1)[0] ?? ""
  return line.length > max ? `${line.slice(0, max)}...` : line
}

/**
 * What a command printed to explain itself: stderr, else stdout, trimmed.
 *
 * @since 0.1.0
 * @category combinators
 */
export const message = (result: RunResult): string => {
  const err = result.stderr.trim()
  const out = result.stdout.trim()
  if (err !== "" && out !== "") return `${err}\n${out}`
  return err !== "" ? err : out !== "" ? out : `exit code ${result.exitCode}`
}

/**
 * The separator between a scheduler's own output and the exit markers in a
 * status command's stdout (followed by the scheduler command's exit code).
 *
 * @since 0.1.0
 * @category constants
 */
export const sectionMark = "@@cerulean-section"

/**
 * Splits a status command's stdout at {@link sectionMark}: the scheduler's
 * output, the exit code of the scheduler command, and what came after.
 *
 * @since 0.1.0
 * @category combinators
 */
export const splitSections = (
  stdout: string
): { readonly head: string; readonly headExit: number | undefined; readonly tail: string } => {
  const lines = stdout.split("\n")
  const at = lines.findIndex((line) => line.startsWith(sectionMark))
  if (at < 0) return { head: stdout, headExit: undefined, tail: "" }
  const code = Number.parseInt(lines[at]!.slice(sectionMark.length).trim(), 10)
  return {
    head: lines.slice(0, at).join("\n"),
    headExit: Number.isNaN(code) ? undefined : code,
    tail: lines.slice(at + 1).join("\n")
  }
}

/**
 * A result with new stdout (the scheduler command's own section).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withStdout = (result: RunResult, stdout: string, exitCode: number): RunResult =>
  new RunResult({ exitCode, stdout, stderr: result.stderr })
