/**
 * What to run as a batch job, with Cerulean's fields in camelCase. Every
 * value except `command` is data: schedulers quote or validate it before it
 * goes into a job script. `command` is shell text, as in Cerulean.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

const optional = <S extends Schema.Top>(schema: S) => Schema.optional(schema)

/**
 * A job to submit.
 *
 * @example
 * ```ts
 * import { JobDescription } from "@cerulean/core"
 * const job = new JobDescription({ command: "echo", arguments: ["hello world"], timeReserved: 60 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class JobDescription extends Schema.Class<JobDescription>("@cerulean/core/JobDescription")({
  /** Shown in the queue. */
  name: Schema.String.pipe(Schema.optionalKey, Schema.withConstructorDefault(Effect.succeed("cerulean"))),
  /** Directory the command runs in. */
  workingDirectory: optional(Schema.String),
  /** Environment variables for the command. */
  environment: Schema.Record(Schema.String, Schema.String).pipe(
    Schema.optionalKey,
    Schema.withConstructorDefault(Effect.succeed({}))
  ),
  /** Shell text of the program to run; required to submit. */
  command: optional(Schema.String),
  /** Arguments, each passed verbatim as one argument. */
  arguments: Schema.Array(Schema.String).pipe(Schema.optionalKey, Schema.withConstructorDefault(Effect.succeed([]))),
  /** File the command's standard output is redirected to. */
  stdoutFile: optional(Schema.String),
  /** File the command's standard error is redirected to. */
  stderrFile: optional(Schema.String),
  /** Queue or partition. */
  queueName: optional(Schema.String),
  /** Wall-clock limit in seconds. */
  timeReserved: optional(Schema.Int),
  /** Number of nodes. */
  numNodes: optional(Schema.Int),
  /** MPI processes per node. */
  mpiProcessesPerNode: optional(Schema.Int),
  /** File for the scheduler's own output (and the command's, if `stdoutFile` is not set). */
  systemOutFile: optional(Schema.String),
  /** File for the scheduler's own error output (and the command's, if `stderrFile` is not set). */
  systemErrFile: optional(Schema.String),
  /** Extra scheduler options, emitted as one directive line (`#SBATCH ...`, `#PBS ...`). */
  extraSchedulerOptions: optional(Schema.String)
}) {}
