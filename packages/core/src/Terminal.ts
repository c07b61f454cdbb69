/**
 * The terminal contract: run shell text on some machine and collect what it
 * printed. `LocalTerminal` runs it here, `SshTerminal` on a remote host.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * What a finished command left behind. A command killed by a signal reports
 * `128 + signal number` as its exit code, as shells do, and names the signal.
 *
 * @since 0.1.0
 * @category models
 */
export class RunResult extends Schema.Class<RunResult>("@cerulean/core/RunResult")({
  exitCode: Schema.Number,
  stdout: Schema.String,
  stderr: Schema.String,
  signal: Schema.optional(Schema.String)
}) {}

/**
 * Options of {@link Terminal.run}.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** Sent to the command's standard input, which is then closed. Without it, stdin is closed at once. */
  readonly stdin?: string | Uint8Array | undefined
  /** Directory to run in; if it cannot be entered the command does not run and the exit code is non-zero. */
  readonly workdir?: string | { readonly path: string } | undefined
  /** Kill the command (and its children) and fail with a `Timeout` reason after this long. */
  readonly timeout?: Duration.Input | undefined
  /** Environment variables to set for the command (names must be valid shell names). */
  readonly env?: Readonly<Record<string, string>> | undefined
}

const reasonFields = {
  /** The command as given. */
  command: Schema.String,
  description: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect())
}

/**
 * The command ran longer than its timeout and was killed; carries the output so far.
 *
 * @since 0.1.0
 * @category errors
 */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {
  ...reasonFields,
  stdout: Schema.String,
  stderr: Schema.String
}) {
  override get message() {
    return `Timeout: ${this.command}${this.description ? `: ${this.description}` : ""}`
  }
}

/**
 * The command could not be started at all (no shell, no channel).
 *
 * @since 0.1.0
 * @category errors
 */
export class SpawnFailed extends Schema.TaggedError<SpawnFailed>()("SpawnFailed", reasonFields) {
  override get message() {
    return `SpawnFailed: ${this.command}${this.description ? `: ${this.description}` : ""}`
  }
}

/**
 * The connection carrying the command was lost while it ran. The command is
 * never re-run automatically: it may have had an effect already.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionLost extends Schema.TaggedError<ConnectionLost>()("ConnectionLost", reasonFields) {
  override get message() {
    return `ConnectionLost: ${this.command}${this.description ? `: ${this.description}` : ""}`
  }
}

/**
 * The arguments of `run` were unusable (an invalid environment variable name).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>()("InvalidArgument", reasonFields) {
  override get message() {
    return `InvalidArgument: ${this.command}${this.description ? `: ${this.description}` : ""}`
  }
}

/**
 * Reading the command's output or writing its input failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class Io extends Schema.TaggedError<Io>()("Io", reasonFields) {
  override get message() {
    return `Io: ${this.command}${this.description ? `: ${this.description}` : ""}`
  }
}

/**
 * The error of {@link Terminal.run}.
 *
 * @since 0.1.0
 * @category errors
 */
export class TerminalError extends Schema.TaggedError<TerminalError>()("TerminalError", {
  reason: Schema.Union([Timeout, SpawnFailed, ConnectionLost, InvalidArgument, Io])
}) {
  override get message(): string {
    return this.reason.message
  }
}

/**
 * Runs commands on one machine.
 *
 * @since 0.1.0
 * @category models
 */
export interface Terminal {
  /** `"local"`, `"ssh"`, `"test"`, ... */
  readonly protocol: string
  /** Identifies the machine and account (e.g. `user@host:22`); equal terminals have equal protocol and location. */
  readonly location: string
  /**
   * Runs `command` as shell text (so `"export A=1; echo $A"` works) with each
   * of `args` quoted as one literal argument. Resolves with the exit code and
   * the captured stdout and stderr, whatever the exit code.
   */
  readonly run: (
    command: string,
    args?: ReadonlyArray<string>,
    options?: RunOptions
  ) => Effect.Effect<RunResult, TerminalError>
}

/**
 * The terminal a program works with, for dependency injection.
 *
 * @since 0.1.0
 * @category services
 */
export const Terminal: Context.Service<Terminal, Terminal> = Context.Service<Terminal>("@cerulean/core/Terminal")
