/**
 * The scheduler contract: submit, watch and cancel batch jobs. Implementations
 * (`DirectGnuScheduler`, `SlurmScheduler`, `TorqueScheduler`) live in
 * `@cerulean/schedulers` and run over any `Terminal`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import type { JobDescription } from "./JobDescription.ts"
import type { JobInfo, JobStatus } from "./JobStatus.ts"

/**
 * A job's id as the scheduler gave it (Slurm `123`, Torque `123.server`).
 *
 * @since 0.1.0
 * @category models
 */
export type JobId = string

const reasonFields = {
  description: Schema.String,
  cause: Schema.optional(Schema.Defect())
}

/**
 * The job description cannot be submitted (no command, a field this scheduler cannot honour).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidJob extends Schema.TaggedError<InvalidJob>()("InvalidJob", reasonFields) {
  override get message() {
    return `InvalidJob: ${this.description}`
  }
}

/**
 * The scheduler refused the job; `description` holds its message.
 *
 * @since 0.1.0
 * @category errors
 */
export class SubmitFailed extends Schema.TaggedError<SubmitFailed>()("SubmitFailed", reasonFields) {
  override get message() {
    return `SubmitFailed: ${this.description}`
  }
}

/**
 * The scheduler does not know this job (never existed, or purged from every record).
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownJob extends Schema.TaggedError<UnknownJob>()("UnknownJob", {
  ...reasonFields,
  jobId: Schema.String
}) {
  override get message() {
    return `UnknownJob ${this.jobId}: ${this.description}`
  }
}

/**
 * The scheduler could not be asked (daemon down, command timed out, connection lost).
 *
 * @since 0.1.0
 * @category errors
 */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", reasonFields) {
  override get message() {
    return `Unavailable: ${this.description}`
  }
}

/**
 * The scheduler answered something this library could not read.
 *
 * @since 0.1.0
 * @category errors
 */
export class ParseError extends Schema.TaggedError<ParseError>()("ParseError", {
  ...reasonFields,
  output: Schema.String
}) {
  override get message() {
    return `ParseError: ${this.description}`
  }
}

/**
 * The error of every scheduler operation.
 *
 * @since 0.1.0
 * @category errors
 */
export class SchedulerError extends Schema.TaggedError<SchedulerError>()("SchedulerError", {
  reason: Schema.Union([InvalidJob, SubmitFailed, UnknownJob, Unavailable, ParseError])
}) {
  override get message(): string {
    return this.reason.message
  }
}

/**
 * Options of {@link Scheduler.wait}.
 *
 * @since 0.1.0
 * @category models
 */
export interface WaitOptions {
  /** Give up after this long and return `None` (the job keeps running). */
  readonly timeout?: Duration.Input | undefined
  /** Poll at least this often instead of the poller's own pace. */
  readonly interval?: Duration.Input | undefined
}

/**
 * A batch scheduler.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scheduler {
  /** `"directgnu"`, `"slurm"`, `"torque"`, `"test"`. */
  readonly name: string
  /** Submits the job and returns its id. */
  readonly submit: (job: JobDescription) => Effect.Effect<JobId, SchedulerError>
  /** `Waiting`, `Running` or `Done`. */
  readonly getStatus: (id: JobId) => Effect.Effect<JobStatus, SchedulerError>
  /** The status with the scheduler's own state, reason, exit code and times. */
  readonly getInfo: (id: JobId) => Effect.Effect<JobInfo, SchedulerError>
  /** The exit code once the job is done and it is known; `None` before. */
  readonly getExitCode: (id: JobId) => Effect.Effect<Option.Option<number>, SchedulerError>
  /** Cancels the job (a finished job is left alone). */
  readonly cancel: (id: JobId) => Effect.Effect<void, SchedulerError>
  /** Waits until the job is done and returns its exit code; `None` on timeout. */
  readonly wait: (id: JobId, options?: WaitOptions) => Effect.Effect<Option.Option<number>, SchedulerError>
  /** Each change of the job's state once, ending with the final one. */
  readonly watch: (id: JobId) => Stream.Stream<JobInfo, SchedulerError>
}

/**
 * The scheduler a program works with, for dependency injection.
 *
 * @since 0.1.0
 * @category services
 */
export const Scheduler: Context.Service<Scheduler, Scheduler> = Context.Service<Scheduler>("@cerulean/core/Scheduler")
