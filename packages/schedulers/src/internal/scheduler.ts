/**
 * What the three schedulers share: the `Scheduler` methods on top of a
 * submit function, a cancel function and a {@link StatusPoller}.
 *
 * @since 0.1.0
 */
import type { JobDescription, JobId, JobInfo, JobStatus, Scheduler } from "@cerulean/core"
import type { SchedulerError, WaitOptions } from "@cerulean/core/Scheduler"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { StatusPoller } from "../StatusPoller.ts"
import { unknownJob } from "./command.ts"

/**
 * The scheduler-specific pieces.
 *
 * @since 0.1.0
 * @category models
 */
export interface Parts {
  /** `"slurm"`, `"torque"`, `"directgnu"`. */
  readonly name: string
  /** Span prefix, e.g. `"SlurmScheduler"`. */
  readonly service: string
  /** Whether an id has this scheduler's form; others are refused before any command runs. */
  readonly isJobId: (id: string) => boolean
  readonly submit: (job: JobDescription) => Effect.Effect<JobId, SchedulerError>
  readonly cancel: (id: JobId) => Effect.Effect<void, SchedulerError>
  readonly poller: StatusPoller
}

/**
 * Builds the `Scheduler` service value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const assemble = (parts: Parts): Scheduler => {
  const { poller } = parts
  const checkId = (id: JobId): Effect.Effect<JobId, SchedulerError> =>
    parts.isJobId(id) ? Effect.succeed(id) : Effect.fail(unknownJob(id, `not a ${parts.name} job id`))

  const submit = Effect.fn(`${parts.service}.submit`)(function*(job: JobDescription) {
    const id = yield* parts.submit(job)
    yield* Effect.logDebug("job submitted").pipe(Effect.annotateLogs({ scheduler: parts.name, jobId: id }))
    return id
  })

  const getInfo = Effect.fn(`${parts.service}.getInfo`)(function*(id: JobId): Effect.fn.Return<JobInfo, SchedulerError> {
    return yield* poller.lookup(yield* checkId(id))
  })

  const getStatus = Effect.fn(`${parts.service}.getStatus`)(
    function*(id: JobId): Effect.fn.Return<JobStatus, SchedulerError> {
      return (yield* poller.lookup(yield* checkId(id))).status
    }
  )

  const getExitCode = Effect.fn(`${parts.service}.getExitCode`)(
    function*(id: JobId): Effect.fn.Return<Option.Option<number>, SchedulerError> {
      const info = yield* poller.lookup(yield* checkId(id))
      return info.status === "Done" ? Option.fromUndefinedOr(info.exitCode) : Option.none()
    }
  )

  const cancel = Effect.fn(`${parts.service}.cancel`)(function*(id: JobId) {
    yield* parts.cancel(yield* checkId(id))
    yield* Effect.logDebug("job cancelled").pipe(Effect.annotateLogs({ scheduler: parts.name, jobId: id }))
    yield* poller.refresh(id)
  })

  const wait = Effect.fn(`${parts.service}.wait`)(
    function*(id: JobId, options: WaitOptions = {}): Effect.fn.Return<Option.Option<number>, SchedulerError> {
      const done = poller.awaitDone(yield* checkId(id), { interval: options.interval })
      const info = options.timeout === undefined
        ? Option.some(yield* done)
        : yield* Effect.timeoutOption(done, options.timeout)
      return Option.flatMap(info, (i) => Option.fromUndefinedOr(i.exitCode))
    }
  )

  const watch = (id: JobId): Stream.Stream<JobInfo, SchedulerError> =>
    Stream.unwrap(Effect.map(checkId(id), (checked) => poller.watch(checked))).pipe(
      Stream.withSpan(`${parts.service}.watch`)
    )

  return { name: parts.name, submit, getStatus, getInfo, getExitCode, cancel, wait, watch }
}
