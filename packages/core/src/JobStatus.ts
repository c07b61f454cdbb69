/**
 * The state of a batch job: Cerulean's three-valued `JobStatus`, and
 * `JobInfo`, which keeps what the scheduler itself said.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * `Waiting` (queued or held), `Running`, or `Done` (finished in any way).
 *
 * @since 0.1.0
 * @category models
 */
export const JobStatus = Schema.Literals(["Waiting", "Running", "Done"])

/**
 * `Waiting` (queued or held), `Running`, or `Done` (finished in any way).
 *
 * @since 0.1.0
 * @category models
 */
export type JobStatus = typeof JobStatus.Type

/**
 * Everything known about a job at one moment.
 *
 * @since 0.1.0
 * @category models
 */
export class JobInfo extends Schema.Class<JobInfo>("@cerulean/core/JobInfo")({
  id: Schema.String,
  status: JobStatus,
  /** The scheduler's own state: `PENDING`, `RUNNING`, `COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`, `Q`, `R`, ... */
  state: Schema.String,
  /** Why the job is in this state, when the scheduler says (a pending reason, a failure cause). */
  reason: Schema.optional(Schema.String),
  /** The exit code, once known. A cancelled or timed-out job never reports 0. */
  exitCode: Schema.optional(Schema.Number),
  /** The signal that ended the job, when it was killed by one. */
  signal: Schema.optional(Schema.Number),
  submitTime: Schema.optional(Schema.Date),
  startTime: Schema.optional(Schema.Date),
  endTime: Schema.optional(Schema.Date)
}) {}
