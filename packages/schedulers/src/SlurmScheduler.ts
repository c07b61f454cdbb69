/**
 * Slurm over any `Terminal`. Jobs go in with `sbatch --parsable` (options on
 * the command line, quoted; the script on stdin); their status comes from one
 * shared poller: `squeue -t all` for jobs slurmctld still knows (with their
 * exit status), `sacct -X -P` for those that have left the queue, and the
 * job script's exit marker where accounting has no record.
 *
 * @since 0.1.0
 */
import type { JobDescription, JobId, Scheduler as SchedulerShape } from "@cerulean/core"
import { Scheduler, Shell, Terminal } from "@cerulean/core"
import type { SchedulerError } from "@cerulean/core/Scheduler"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import {
  defaultCommandTimeout,
  message,
  runText,
  submitting,
  splitSections,
  unavailable,
  unknownJob,
  withPrefix
} from "./internal/command.ts"
import { makeInfo } from "./internal/jobInfo.ts"
import { parseMarkers, readMarkers, slurmMarkerName, slurmSubmission } from "./internal/jobScript.ts"
import { assemble } from "./internal/scheduler.ts"
import {
  isAccountingDisabled,
  isInvalidJobId,
  isKnownSlurmState,
  isSlurmJobId,
  parseSacct,
  parseSbatch,
  parseSqueue,
  sacctCommand,
  slurmInfo,
  slurmStatus,
  squeueCommand
} from "./internal/slurm.ts"
import type { SchedulerOptions } from "./SchedulerOptions.ts"
import * as StatusPoller from "./StatusPoller.ts"

/**
 * Options of {@link SlurmScheduler.make} and {@link SlurmScheduler.layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface SlurmOptions extends SchedulerOptions {}

/** After this many history lookups without any record, a job that was seen is reported done with no exit code. */
const historyMissLimit = 5

interface Track {
  seen: boolean
  history: boolean
  misses: number
}

const makeBackend = (terminal: Terminal, prefix: string, timeout: Duration.Input) => {
  const tracks = new Map<JobId, Track>()
  let lastWasSqueue = false
  const track = (id: JobId): Track => {
    let t = tracks.get(id)
    if (t === undefined) {
      t = { seen: false, history: false, misses: 0 }
      tracks.set(id, t)
    }
    return t
  }

  const squeueTick = Effect.fnUntraced(function*(ids: ReadonlyArray<JobId>) {
    lastWasSqueue = true
    const result = yield* runText(terminal, withPrefix(prefix, squeueCommand(ids)), { timeout })
    if (result.exitCode !== 0 && !isInvalidJobId(result)) {
      return yield* unavailable(`squeue: ${message(result)}`)
    }
    const rows = result.exitCode === 0 ? yield* parseSqueue(result.stdout) : []
    const out = new Map<JobId, StatusPoller.Observation>()
    for (const row of rows) {
      if (!ids.includes(row.id)) continue
      if (!isKnownSlurmState(row.state)) {
        yield* Effect.logDebug("unknown Slurm state, taken as running").pipe(Effect.annotateLogs({ state: row.state }))
      }
      const info = slurmInfo(row)
      out.set(row.id, { _tag: "Info", info })
      if (info.status === "Done") tracks.delete(row.id)
      else Object.assign(track(row.id), { seen: true, misses: 0 })
    }
    // missing from the queue is not "done": ask the history next
    for (const id of ids) if (!out.has(id)) track(id).history = true
    return out
  })

  const sacctTick = Effect.fnUntraced(function*(ids: ReadonlyArray<JobId>) {
    lastWasSqueue = false
    const text = `${withPrefix(prefix, sacctCommand(ids))}; ${readMarkers(ids.map(slurmMarkerName))}`
    const result = yield* runText(terminal, text, { timeout })
    const { head, headExit, tail } = splitSections(result.stdout)
    const markers = parseMarkers(tail)
    const failed = headExit !== 0
    if (failed && !isAccountingDisabled(result) && markers.size === 0) {
      return yield* unavailable(`sacct: ${message(result)}`)
    }
    const rows = failed ? [] : yield* parseSacct(head, { times: true })
    const out = new Map<JobId, StatusPoller.Observation>()
    for (const id of ids) {
      const t = track(id)
      const row = rows.find((r) => r.id === id)
      const marker = markers.get(slurmMarkerName(id))
      if (row !== undefined && slurmStatus(row.state) === "Done") {
        out.set(id, { _tag: "Info", info: slurmInfo(row, marker) })
        tracks.delete(id)
      } else if (row !== undefined) {
        // accounting still says pending/running: squeue must have missed it; ask it again
        Object.assign(t, { seen: true, history: false, misses: 0 })
      } else if (marker !== undefined) {
        out.set(id, {
          _tag: "Info",
          info: makeInfo({
            id,
            status: "Done",
            state: marker === 0 ? "COMPLETED" : "FAILED",
            reason: "no accounting record; exit code from the job's marker file",
            exitCode: marker
          })
        })
        tracks.delete(id)
      } else if (!t.seen) {
        out.set(id, { _tag: "Unknown", description: "neither squeue nor sacct lists this job" })
        tracks.delete(id)
      } else if (++t.misses >= historyMissLimit) {
        out.set(id, {
          _tag: "Info",
          info: makeInfo({
            id,
            status: "Done",
            state: "UNKNOWN",
            reason: "the job left the queue and neither accounting nor an exit marker has a record of it"
          })
        })
        tracks.delete(id)
      } else {
        t.history = false
      }
    }
    return out
  })

  const backend: StatusPoller.Backend = {
    name: "slurm",
    poll: (ids) => {
      const hist = ids.filter((id) => track(id).history)
      const live = ids.filter((id) => !track(id).history)
      return hist.length > 0 && (live.length === 0 || lastWasSqueue) ? sacctTick(hist) : squeueTick(live)
    }
  }
  return { backend, markSeen: (id: JobId) => void (track(id).seen = true) }
}

/**
 * The Slurm scheduler service (its own tag; its layer also provides `Scheduler`).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { JobDescription, Scheduler } from "@cerulean/core"
 * import { SlurmScheduler } from "@cerulean/schedulers"
 *
 * const program = Effect.gen(function*() {
 *   const scheduler = yield* Scheduler
 *   const id = yield* scheduler.submit(new JobDescription({ command: "hostname", queueName: "debug" }))
 *   return yield* scheduler.wait(id)
 * })
 * // program.pipe(Effect.provide(SlurmScheduler.layer({ prefix: "module load slurm;" })), Effect.provide(sshLayer))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class SlurmScheduler extends Context.Service<SlurmScheduler, SchedulerShape>()(
  "@cerulean/schedulers/SlurmScheduler"
) {
  /**
   * A Slurm scheduler on this terminal; its poller runs in the scope.
   *
   * @since 0.1.0
   */
  static readonly make = (
    terminal: Terminal,
    options: SlurmOptions = {}
  ): Effect.Effect<SchedulerShape, never, Scope.Scope> =>
    Effect.gen(function*() {
      const prefix = options.prefix ?? ""
      const timeout = options.commandTimeout ?? defaultCommandTimeout
      const { backend, markSeen } = makeBackend(terminal, prefix, timeout)
      const poller = yield* StatusPoller.make(backend, options.polling)

      const submit = Effect.fnUntraced(function*(job: JobDescription): Effect.fn.Return<JobId, SchedulerError> {
        const submission = yield* slurmSubmission(job)
        const command = withPrefix(prefix, ["sbatch", ...submission.args.map(Shell.quote)].join(" "))
        const result = yield* submitting(runText(terminal, command, { stdin: submission.script, timeout }))
        const id = yield* parseSbatch(result)
        markSeen(id)
        return id
      })

      const cancel = Effect.fnUntraced(function*(id: JobId): Effect.fn.Return<void, SchedulerError> {
        const result = yield* runText(terminal, withPrefix(prefix, `scancel ${Shell.quote(id)}`), { timeout })
        if (result.exitCode === 0) return
        if (isInvalidJobId(result)) return yield* unknownJob(id, message(result))
        return yield* unavailable(`scancel: ${message(result)}`)
      })

      return assemble({ name: "slurm", service: "SlurmScheduler", isJobId: isSlurmJobId, submit, cancel, poller })
    })

  /**
   * Provides `SlurmScheduler` and `Scheduler` (one instance) over the `Terminal` in context.
   *
   * @since 0.1.0
   */
  static readonly layer = (options: SlurmOptions = {}): Layer.Layer<SlurmScheduler | Scheduler, never, Terminal> =>
    Layer.effectContext(Effect.gen(function*() {
      const scheduler = yield* SlurmScheduler.make(yield* Terminal, options)
      return Context.make(SlurmScheduler, scheduler).pipe(Context.add(Scheduler, scheduler))
    }))
}
