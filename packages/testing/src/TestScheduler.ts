/**
 * A mock `Scheduler` for tests of code that submits jobs: nothing runs;
 * each submitted job walks through a scripted lifecycle (on the `Clock`, so
 * `TestClock` drives it in `it.effect` tests) and every submission and
 * cancellation is recorded.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { JobDescription, Scheduler } from "@cerulean/core"
 * import { TestScheduler } from "@cerulean/testing"
 *
 * const layer = TestScheduler.layer({
 *   lifecycle: (job) => job.name === "bad" ? TestScheduler.fails(3) : TestScheduler.succeeds({ runFor: "2 seconds" })
 * })
 *
 * const program = Effect.gen(function*() {
 *   const scheduler = yield* Scheduler
 *   const id = yield* scheduler.submit(new JobDescription({ command: "simulate", name: "bad" }))
 *   const code = yield* scheduler.wait(id) // Option.some(3) once the clock has moved
 *   const submitted = yield* TestScheduler.use((t) => t.submissions)
 *   return [code, submitted.length]
 * }).pipe(Effect.provide(layer))
 * ```
 *
 * @since 0.1.0
 */
import type { JobDescription } from "@cerulean/core/JobDescription"
import { JobInfo, type JobStatus } from "@cerulean/core/JobStatus"
import {
  InvalidJob,
  type JobId,
  Scheduler,
  SchedulerError,
  SubmitFailed,
  UnknownJob,
  type WaitOptions
} from "@cerulean/core/Scheduler"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"

/**
 * One state of a scripted job, entered `after` the previous one.
 *
 * @since 0.1.0
 * @category models
 */
export interface Step {
  readonly status: JobStatus
  /** The scheduler's own state name, e.g. `PENDING`, `RUNNING`, `COMPLETED`. */
  readonly state: string
  /** Time spent in the previous step before this one (default: none). */
  readonly after?: Duration.Input | undefined
  readonly reason?: string | undefined
  /** Exit code of a `Done` step. */
  readonly exitCode?: number | undefined
}

/**
 * The steps of one job; the last one should be `Done` (else the job never ends).
 *
 * @since 0.1.0
 * @category models
 */
export type Lifecycle = ReadonlyArray<Step>

/**
 * Options of {@link TestScheduler.make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The lifecycle of each submitted job (default {@link succeeds}`()`). */
  readonly lifecycle?: ((job: JobDescription, index: number) => Lifecycle) | undefined
  /** Return a message to make `submit` fail with `SubmitFailed` for this job. */
  readonly reject?: ((job: JobDescription) => string | undefined) | undefined
}

/**
 * What the test scheduler recorded about one submission.
 *
 * @since 0.1.0
 * @category models
 */
export interface Submission {
  readonly id: JobId
  readonly job: JobDescription
}

/**
 * The service: a `Scheduler` plus what it recorded.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestSchedulerShape extends Scheduler {
  /** Every accepted submission, in order. */
  readonly submissions: Effect.Effect<ReadonlyArray<Submission>>
  /** Ids passed to `cancel`, in order. */
  readonly cancelled: Effect.Effect<ReadonlyArray<JobId>>
}

/**
 * Waits `queueFor` (default 1 s), runs for `runFor` (default 1 s), then
 * completes with exit code `exitCode` (default 0).
 *
 * @since 0.1.0
 * @category constructors
 */
export const succeeds = (
  options: {
    readonly queueFor?: Duration.Input | undefined
    readonly runFor?: Duration.Input | undefined
    readonly exitCode?: number | undefined
  } = {}
): Lifecycle => [
  { status: "Waiting", state: "PENDING" },
  { status: "Running", state: "RUNNING", after: options.queueFor ?? "1 second" },
  {
    status: "Done",
    state: (options.exitCode ?? 0) === 0 ? "COMPLETED" : "FAILED",
    after: options.runFor ?? "1 second",
    exitCode: options.exitCode ?? 0
  }
]

/**
 * Like {@link succeeds}, ending in `FAILED` with this exit code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fails = (exitCode: number, runFor: Duration.Input = "1 second"): Lifecycle =>
  succeeds({ exitCode, runFor })

/**
 * Queued, then running until cancelled.
 *
 * @since 0.1.0
 * @category constructors
 */
export const runsForever: Lifecycle = [
  { status: "Waiting", state: "PENDING" },
  { status: "Running", state: "RUNNING", after: "1 second" }
]

const schedulerError = (reason: InvalidJob | SubmitFailed | UnknownJob) => new SchedulerError({ reason })

const toInfo = (id: JobId, step: Step): JobInfo =>
  new JobInfo({
    id,
    status: step.status,
    state: step.state,
    ...(step.reason === undefined ? {} : { reason: step.reason }),
    ...(step.exitCode === undefined ? {} : { exitCode: step.exitCode })
  })

const same = (a: JobInfo, b: JobInfo) =>
  a.status === b.status && a.state === b.state && a.reason === b.reason && a.exitCode === b.exitCode

/**
 * The test scheduler service (its own tag; its layer also provides `Scheduler`).
 *
 * @since 0.1.0
 * @category services
 */
export class TestScheduler extends Context.Service<TestScheduler, TestSchedulerShape>()(
  "@cerulean/testing/TestScheduler"
) {
  /**
   * A test scheduler whose job fibers live in the scope.
   *
   * @since 0.1.0
   */
  static readonly make = (options: Options = {}): Effect.Effect<TestSchedulerShape, never, Scope.Scope> =>
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const jobs = new Map<JobId, SubscriptionRef.SubscriptionRef<JobInfo>>()
      const submissions: Array<Submission> = []
      const cancelled: Array<JobId> = []
      const lifecycle = options.lifecycle ?? (() => succeeds())

      const ref = (id: JobId) =>
        Effect.suspend(() => {
          const found = jobs.get(id)
          return found === undefined
            ? Effect.fail(schedulerError(new UnknownJob({ jobId: id, description: "not submitted to this TestScheduler" })))
            : Effect.succeed(found)
        })

      const submit = Effect.fn("TestScheduler.submit")(function*(job: JobDescription) {
        if (job.command === undefined || job.command.trim() === "") {
          return yield* schedulerError(new InvalidJob({ description: "Job description is missing a command" }))
        }
        const rejected = options.reject?.(job)
        if (rejected !== undefined) return yield* schedulerError(new SubmitFailed({ description: rejected }))
        const id = String(submissions.length + 1)
        const steps = lifecycle(job, submissions.length)
        const first = steps[0] ?? { status: "Waiting", state: "PENDING" }
        const info = yield* SubscriptionRef.make(toInfo(id, first))
        jobs.set(id, info)
        submissions.push({ id, job })
        yield* Effect.forkIn(
          Effect.forEach(steps.slice(1), (step) =>
            Effect.andThen(
              Effect.sleep(step.after ?? Duration.zero),
              SubscriptionRef.update(info, (current) => (current.status === "Done" ? current : toInfo(id, step)))
            ), { discard: true }),
          scope
        )
        return id
      })

      const getInfo = Effect.fn("TestScheduler.getInfo")(function*(id: JobId) {
        return yield* SubscriptionRef.get(yield* ref(id))
      })

      const watch = (id: JobId): Stream.Stream<JobInfo, SchedulerError> =>
        Stream.unwrap(Effect.map(ref(id), (info) =>
          SubscriptionRef.changes(info).pipe(
            Stream.changesWith(same),
            Stream.takeUntil((i) => i.status === "Done")
          )))

      const wait = Effect.fn("TestScheduler.wait")(function*(id: JobId, waitOptions: WaitOptions = {}) {
        const done = Effect.map(Stream.runLast(watch(id)), Option.flatMap((i) => Option.fromUndefinedOr(i.exitCode)))
        return waitOptions.timeout === undefined
          ? yield* done
          : Option.flatten(yield* Effect.timeoutOption(done, waitOptions.timeout))
      })

      const cancel = Effect.fn("TestScheduler.cancel")(function*(id: JobId) {
        const info = yield* ref(id)
        cancelled.push(id)
        // as on a real scheduler, a cancelled job never reports 0; a finished one is left alone
        yield* SubscriptionRef.update(info, (current) =>
          current.status === "Done"
            ? current
            : new JobInfo({ id, status: "Done", state: "CANCELLED", exitCode: 143, signal: 15 }))
      })

      return {
        name: "test",
        submit,
        getInfo,
        getStatus: (id: JobId) => Effect.map(getInfo(id), (i) => i.status),
        getExitCode: (id: JobId) =>
          Effect.map(getInfo(id), (i) => (i.status === "Done" ? Option.fromUndefinedOr(i.exitCode) : Option.none())),
        cancel,
        wait,
        watch,
        submissions: Effect.sync(() => [...submissions]),
        cancelled: Effect.sync(() => [...cancelled])
      }
    })

  /**
   * Provides `TestScheduler` and `Scheduler` (one instance).
   *
   * @since 0.1.0
   */
  static readonly layer = (options: Options = {}): Layer.Layer<TestScheduler | Scheduler> =>
    Layer.effectContext(Effect.map(TestScheduler.make(options), (scheduler) =>
      Context.make(TestScheduler, scheduler).pipe(Context.add(Scheduler, scheduler))))

  /** @since 0.1.0 */
  static readonly succeeds = succeeds
  /** @since 0.1.0 */
  static readonly fails = fails
  /** @since 0.1.0 */
  static readonly runsForever = runsForever
}
