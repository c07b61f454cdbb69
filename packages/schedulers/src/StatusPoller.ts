/**
 * The shared status poller of a scheduler instance. However many jobs are
 * being waited on or watched, each tick runs ONE status command for all of
 * them (the scheduler's {@link Backend} decides which: `squeue`, `sacct`,
 * `qstat`, ...). Results are published per job through a `SubscriptionRef`, so
 * every waiter and watcher of a job sees each change once.
 *
 * Pace: a new job (or one just cancelled) gets a first quick check after
 * `firstCheck`; after that the interval is the largest of `minInterval` (the
 * site's floor), `ageFactor` × the time since the newest job joined, and
 * `durationFactor` × how long the last status command took, capped at
 * `maxInterval`. A `wait` with an `interval` can make it faster, never below
 * the floor. When the scheduler is `Unavailable` (daemon down, command timed
 * out) the poller logs it, backs off exponentially up to `maxBackoff` and
 * retries; it never turns the failure into a job status.
 *
 * @since 0.1.0
 */
import type { JobId, JobInfo } from "@cerulean/core"
import { SchedulerError, UnknownJob } from "@cerulean/core/Scheduler"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { sameInfo } from "./internal/jobInfo.ts"

/**
 * How often the poller asks the scheduler. Every field is optional; the
 * defaults suit a real cluster (first check after 0.5 s, then 1 s growing to
 * 30 s); a testbed may use e.g. `{ firstCheck: "200 millis", minInterval: "250 millis", maxInterval: "2 seconds" }`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PollerOptions {
  /** Delay of the first check of a newly watched (or just cancelled) job. Default 0.5 s. */
  readonly firstCheck?: Duration.Input | undefined
  /** The site's floor: never poll more often than this (except the first check). Default 1 s. */
  readonly minInterval?: Duration.Input | undefined
  /** Never wait longer than this between polls while jobs are watched. Default 30 s. */
  readonly maxInterval?: Duration.Input | undefined
  /** The interval grows to this fraction of the time since the newest job joined. Default 0.1. */
  readonly ageFactor?: number | undefined
  /** The interval is at least this many times the last status command's duration. Default 5. */
  readonly durationFactor?: number | undefined
  /** Longest pause between retries while the scheduler is unavailable. Default 60 s. */
  readonly maxBackoff?: Duration.Input | undefined
}

/**
 * What one status command said about one job.
 *
 * @since 0.1.0
 * @category models
 */
export type Observation =
  | { readonly _tag: "Info"; readonly info: JobInfo }
  | { readonly _tag: "Unknown"; readonly description: string }

/**
 * The scheduler-specific part: ONE status command for the given jobs. Jobs
 * missing from the result have no news (a job missing from a listing is not
 * done until its history says so: the backend asks again or elsewhere).
 *
 * @since 0.1.0
 * @category models
 */
export interface Backend {
  /** `"slurm"`, `"torque"`, `"directgnu"`: for logs. */
  readonly name: string
  readonly poll: (ids: ReadonlyArray<JobId>) => Effect.Effect<ReadonlyMap<JobId, Observation>, SchedulerError>
}

/**
 * A running poller.
 *
 * @since 0.1.0
 * @category models
 */
export interface StatusPoller {
  /** Each change of the job's state once, ending with the `Done` one. */
  readonly watch: (id: JobId, options?: { readonly interval?: Duration.Input | undefined }) => Stream.Stream<
    JobInfo,
    SchedulerError
  >
  /** Waits until the job is `Done` and returns its final info. */
  readonly awaitDone: (
    id: JobId,
    options?: { readonly interval?: Duration.Input | undefined }
  ) => Effect.Effect<JobInfo, SchedulerError>
  /** The job's info now: the final one if known, else one status query (through the backend) for this job. */
  readonly lookup: (id: JobId) => Effect.Effect<JobInfo, SchedulerError>
  /** Asks for a quick check of a watched job (after a cancel). */
  readonly refresh: (id: JobId) => Effect.Effect<void>
  /** Number of ticks run so far (one status command each). */
  readonly ticks: Effect.Effect<number>
}

interface InfoSnapshot {
  readonly _tag: "Info"
  readonly info: JobInfo
}

type Snapshot =
  | { readonly _tag: "Nothing" }
  | InfoSnapshot
  | { readonly _tag: "Failed"; readonly error: SchedulerError }

interface Entry {
  readonly id: JobId
  readonly ref: SubscriptionRef.SubscriptionRef<Snapshot>
  watchers: number
  addedAt: number
  checked: boolean
  readonly requested: Array<number>
}

const finalCacheSize = 10_000
const parseErrorLimit = 3

const millis = (input: Duration.Input | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(input)

/**
 * Starts a poller for one scheduler instance; its fiber lives in the scope
 * and sleeps while nothing is watched.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(
  backend: Backend,
  options: PollerOptions = {}
): Effect.fn.Return<StatusPoller, never, Scope.Scope> {
  const firstCheck = millis(options.firstCheck, 500)
  const minInterval = millis(options.minInterval, 1_000)
  const maxInterval = Math.max(minInterval, millis(options.maxInterval, 30_000))
  const ageFactor = options.ageFactor ?? 0.1
  const durationFactor = options.durationFactor ?? 5
  const maxBackoff = millis(options.maxBackoff, 60_000)

  const entries = new Map<JobId, Entry>()
  const finals = new Map<JobId, JobInfo>()
  const lock = yield* Semaphore.make(1)
  const wake = yield* Queue.sliding<void>(1)
  let lastTickEnd = Number.NEGATIVE_INFINITY
  let lastDuration = 0
  let backoff = 0
  let backoffUntil = 0
  let parseErrors = 0
  let tickCount = 0

  const annotate = Effect.annotateLogs({ scheduler: backend.name })

  const isActive = (entry: Entry): boolean => {
    const snapshot = SubscriptionRef.getUnsafe(entry.ref)
    return entry.watchers > 0 && snapshot._tag !== "Failed" &&
      !(snapshot._tag === "Info" && snapshot.info.status === "Done")
  }

  const remember = (info: JobInfo): void => {
    finals.delete(info.id)
    finals.set(info.id, info)
    if (finals.size > finalCacheSize) finals.delete(finals.keys().next().value!)
  }

  const publish = (id: JobId, snapshot: Snapshot): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (snapshot._tag === "Info" && snapshot.info.status === "Done") remember(snapshot.info)
      const entry = entries.get(id)
      if (entry === undefined) return Effect.void
      const current = SubscriptionRef.getUnsafe(entry.ref)
      if (current._tag === "Info" && snapshot._tag === "Info" && sameInfo(current.info, snapshot.info)) {
        return Effect.void
      }
      if (current._tag === "Failed") return Effect.void
      return SubscriptionRef.set(entry.ref, snapshot)
    })

  const fromObservation = (id: JobId, observation: Observation): Snapshot =>
    observation._tag === "Info"
      ? { _tag: "Info", info: observation.info }
      : {
        _tag: "Failed",
        error: new SchedulerError({ reason: new UnknownJob({ jobId: id, description: observation.description }) })
      }

  const interval = (now: number, active: ReadonlyArray<Entry>): number => {
    const newest = Math.max(...active.map((e) => e.addedAt))
    let value = Math.min(maxInterval, Math.max(minInterval, ageFactor * (now - newest), durationFactor * lastDuration))
    const requested = active.flatMap((e) => e.requested)
    if (requested.length > 0) value = Math.min(value, Math.max(minInterval, Math.min(...requested)))
    return Math.round(value)
  }

  const dueTime = (now: number, active: ReadonlyArray<Entry>): number => {
    if (backoffUntil > now) return backoffUntil
    const unchecked = active.filter((e) => !e.checked)
    // a new job gets its quick first check, but ticks stay at least `firstCheck` apart
    const first = unchecked.length === 0
      ? Number.POSITIVE_INFINITY
      : Math.max(Math.min(...unchecked.map((e) => e.addedAt + firstCheck)), lastTickEnd + firstCheck)
    const regular = unchecked.length === active.length ? Number.POSITIVE_INFINITY : lastTickEnd + interval(now, active)
    return Math.min(first, regular)
  }

  const tick = (batch: ReadonlyArray<Entry>) =>
    Effect.gen(function*() {
      const ids = batch.map((e) => e.id)
      const start = yield* Clock.currentTimeMillis
      const result = yield* Effect.result(backend.poll(ids))
      const end = yield* Clock.currentTimeMillis
      tickCount++
      lastDuration = end - start
      lastTickEnd = end
      for (const entry of batch) entry.checked = true
      if (result._tag === "Success") {
        if (backoff > 0) yield* Effect.logInfo("scheduler answers again; polling resumed")
        backoff = 0
        backoffUntil = 0
        parseErrors = 0
        for (const [id, observation] of result.success) yield* publish(id, fromObservation(id, observation))
        return
      }
      const error = result.failure
      const reason = error.reason
      if (reason._tag === "ParseError" && ++parseErrors < parseErrorLimit) {
        yield* Effect.logWarning("could not read the scheduler's status output; retrying").pipe(
          Effect.annotateLogs({ error: reason.message, output: reason.output.slice(0, 500) })
        )
      } else if (reason._tag !== "Unavailable") {
        // not transient: every waiter of this batch gets the error rather than waiting forever
        parseErrors = 0
        yield* Effect.logError("status query failed; failing the waits of this batch").pipe(
          Effect.annotateLogs({ error: reason.message, jobs: ids.join(",") })
        )
        for (const id of ids) yield* publish(id, { _tag: "Failed", error })
        return
      }
      backoff = backoff === 0 ? Math.max(minInterval, 1_000) : Math.min(backoff * 2, maxBackoff)
      backoffUntil = end + backoff
      const log = backoff <= Math.max(minInterval, 1_000) ? Effect.logWarning : Effect.logDebug
      yield* log("scheduler unavailable; retrying with backoff").pipe(
        Effect.annotateLogs({ reason: reason._tag, error: reason.message, retryInMillis: backoff, jobs: ids.length })
      )
    })

  const loop = Effect.gen(function*() {
    while (true) {
      const active = [...entries.values()].filter(isActive)
      if (active.length === 0) {
        yield* Queue.take(wake)
        continue
      }
      const now = yield* Clock.currentTimeMillis
      const due = dueTime(now, active)
      if (due > now) {
        yield* Effect.raceFirst(Effect.sleep(Duration.millis(Math.ceil(due - now))), Queue.take(wake))
        continue
      }
      yield* tick(active)
    }
  }).pipe(annotate)

  yield* Effect.forkScoped(loop)

  const register = (id: JobId, requested: number | undefined) =>
    Effect.acquireRelease(
      lock.withPermits(1)(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        let entry = entries.get(id)
        if (entry === undefined) {
          const final = finals.get(id)
          const ref = yield* SubscriptionRef.make<Snapshot>(
            final === undefined ? { _tag: "Nothing" } : { _tag: "Info", info: final }
          )
          entry = { id, ref, watchers: 0, addedAt: now, checked: false, requested: [] }
          entries.set(id, entry)
        }
        entry.watchers++
        if (requested !== undefined) entry.requested.push(requested)
        yield* Queue.offer(wake, undefined)
        return entry
      })),
      (entry) =>
        Effect.sync(() => {
          entry.watchers--
          if (requested !== undefined) entry.requested.splice(entry.requested.indexOf(requested), 1)
          if (entry.watchers === 0 && entries.get(entry.id) === entry) entries.delete(entry.id)
        })
    )

  const watch = (id: JobId, options: { readonly interval?: Duration.Input | undefined } = {}) =>
    Stream.unwrap(Effect.map(
      register(id, options.interval === undefined ? undefined : Duration.toMillis(options.interval)),
      (entry) =>
        SubscriptionRef.changes(entry.ref).pipe(
          Stream.mapEffect((snapshot) =>
            snapshot._tag === "Failed" ? Effect.fail(snapshot.error) : Effect.succeed(snapshot)
          ),
          Stream.filter((snapshot): snapshot is InfoSnapshot => snapshot._tag === "Info"),
          Stream.map((snapshot) => snapshot.info),
          Stream.changesWith(sameInfo),
          Stream.takeUntil((info) => info.status === "Done")
        )
    ))

  const awaitDone = (id: JobId, options: { readonly interval?: Duration.Input | undefined } = {}) =>
    Stream.runLast(watch(id, options)).pipe(
      Effect.flatMap(Option.match({
        // the stream only ends after a Done info (or fails), so this is unreachable
        onNone: () => Effect.die(new Error(`watch(${id}) ended without a final state`)),
        onSome: Effect.succeed
      }))
    )

  const lookup = (id: JobId): Effect.Effect<JobInfo, SchedulerError> =>
    Effect.suspend(() => {
      const final = finals.get(id)
      if (final !== undefined) return Effect.succeed(final)
      const attempt = (left: number): Effect.Effect<JobInfo, SchedulerError> =>
        Effect.flatMap(backend.poll([id]), (result) => {
          const observation = result.get(id)
          if (observation === undefined) {
            return left > 1
              ? attempt(left - 1)
              : Effect.fail(
                new SchedulerError({
                  reason: new UnknownJob({ jobId: id, description: "neither the queue nor the history lists this job" })
                })
              )
          }
          const snapshot = fromObservation(id, observation)
          switch (snapshot._tag) {
            case "Info":
              return Effect.as(publish(id, snapshot), snapshot.info)
            case "Failed":
              return Effect.andThen(publish(id, snapshot), Effect.fail(snapshot.error))
            case "Nothing":
              return attempt(left - 1)
          }
        })
      return attempt(3)
    })

  const refresh = (id: JobId) =>
    Effect.gen(function*() {
      const entry = entries.get(id)
      if (entry === undefined) return
      entry.addedAt = yield* Clock.currentTimeMillis
      entry.checked = false
      yield* Queue.offer(wake, undefined)
    })

  return {
    watch,
    awaitDone,
    lookup,
    refresh,
    ticks: Effect.sync(() => tickCount)
  }
})
