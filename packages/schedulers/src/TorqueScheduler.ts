/**
 * Torque (and PBS Pro / OpenPBS, and minimal qsub/qstat such as the
 * slurm-wlm-torque wrappers) over any `Terminal`. The flavour is found once
 * with `qstat --version` (or set in the options); status comes from one shared
 * poller running Torque `qstat -x` (XML), PBS `qstat -f -F json -x` or plain
 * `qstat -f`, plus the job script's exit markers where qstat has no exit
 * status (the wrappers) or has purged the job (real sites' `keep_completed`).
 *
 * @since 0.1.0
 */
import type { JobDescription, JobId, Scheduler as SchedulerShape } from "@cerulean/core"
import { Scheduler, Shell, Terminal } from "@cerulean/core"
import type { SchedulerError } from "@cerulean/core/Scheduler"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import {
  defaultCommandTimeout,
  message,
  runText,
  submitting,
  splitSections,
  unavailable,
  withPrefix
} from "./internal/command.ts"
import { makeInfo } from "./internal/jobInfo.ts"
import { parseMarkers, readMarkers, torqueMarkerName, torqueSubmission } from "./internal/jobScript.ts"
import { assemble } from "./internal/scheduler.ts"
import {
  type Flavor,
  isTorqueJobId,
  isUnknownJobs,
  parseQstat,
  parseQsub,
  parseVersion,
  qstatCommand,
  type QstatRow,
  torqueInfo
} from "./internal/torque.ts"
import type { SchedulerOptions } from "./SchedulerOptions.ts"
import * as StatusPoller from "./StatusPoller.ts"

/**
 * Options of {@link TorqueScheduler.make} and {@link TorqueScheduler.layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface TorqueOptions extends SchedulerOptions {
  /**
   * `"torque"` (`qstat -x` XML), `"pbspro"` (`qstat -f -F json -x`), `"minimal"`
   * (`qstat -f`, exit codes from markers only), or `"auto"` (default): ask
   * `qstat --version` once.
   */
  readonly flavor?: Flavor | "auto" | undefined
}

/** Ticks to wait for a finished job's exit marker (shared file systems lag) before reporting no exit code. */
const markerGraceTicks = 1
/** Ticks a job that was seen may be missing from qstat without a marker before it is reported done, code unknown. */
const missingLimit = 3

interface Track {
  seen: boolean
  misses: number
  markerWait: number
}

const sameJob = (listed: string, id: string): boolean =>
  listed === id || listed.startsWith(`${id}.`) || id.startsWith(`${listed}.`)

/**
 * The Torque/PBS scheduler service (its own tag; its layer also provides `Scheduler`).
 *
 * @since 0.1.0
 * @category services
 */
export class TorqueScheduler extends Context.Service<TorqueScheduler, SchedulerShape>()(
  "@cerulean/schedulers/TorqueScheduler"
) {
  /**
   * A Torque/PBS scheduler on this terminal; its poller runs in the scope.
   *
   * @since 0.1.0
   */
  static readonly make = (
    terminal: Terminal,
    options: TorqueOptions = {}
  ): Effect.Effect<SchedulerShape, never, Scope.Scope> =>
    Effect.gen(function*() {
      const prefix = options.prefix ?? ""
      const timeout = options.commandTimeout ?? defaultCommandTimeout
      let flavor: Flavor | undefined = options.flavor === undefined || options.flavor === "auto"
        ? undefined
        : options.flavor
      const detectLock = yield* Semaphore.make(1)
      const detect: Effect.Effect<Flavor, SchedulerError> = detectLock.withPermits(1)(Effect.suspend(() => {
        if (flavor !== undefined) return Effect.succeed(flavor)
        // the original ran `qsub --version` without the prefix; every command here gets it
        return runText(terminal, withPrefix(prefix, "qstat --version"), { timeout }).pipe(
          Effect.flatMap(parseVersion),
          Effect.tap((found) =>
            Effect.sync(() => {
              flavor = found
            }).pipe(Effect.andThen(Effect.logDebug("qstat flavour").pipe(Effect.annotateLogs({ flavor: found }))))
          )
        )
      }))

      const tracks = new Map<JobId, Track>()
      const track = (id: JobId): Track => {
        let t = tracks.get(id)
        if (t === undefined) {
          t = { seen: false, misses: 0, markerWait: 0 }
          tracks.set(id, t)
        }
        return t
      }

      const poll = Effect.fnUntraced(function*(ids: ReadonlyArray<JobId>) {
        const kind = yield* detect
        const text = `${withPrefix(prefix, qstatCommand(kind, ids))}; ${readMarkers(ids.map(torqueMarkerName))}`
        const result = yield* runText(terminal, text, { timeout })
        const { head, headExit, tail } = splitSections(result.stdout)
        const markers = parseMarkers(tail)
        let rows: ReadonlyArray<QstatRow> = []
        if (head.trim() !== "") rows = yield* parseQstat(kind, head)
        else if (headExit !== 0 && !isUnknownJobs(result, headExit ?? 0)) {
          return yield* unavailable(`qstat: ${message(result)}`)
        }
        const out = new Map<JobId, StatusPoller.Observation>()
        for (const id of ids) {
          const t = track(id)
          const row = rows.find((r) => sameJob(r.id, id))
          const marker = markers.get(torqueMarkerName(id))
          if (row !== undefined) {
            t.seen = true
            t.misses = 0
            const info = torqueInfo({ ...row, id }, marker)
            if (
              info.status === "Done" && info.exitCode === undefined && row.exitStatus === undefined &&
              t.markerWait < markerGraceTicks
            ) {
              t.markerWait++
              continue
            }
            out.set(id, { _tag: "Info", info })
            if (info.status === "Done") tracks.delete(id)
          } else if (marker !== undefined) {
            out.set(id, {
              _tag: "Info",
              info: makeInfo({
                id,
                status: "Done",
                state: "C",
                reason: "no longer listed by qstat; exit code from the job's marker file",
                exitCode: marker
              })
            })
            tracks.delete(id)
          } else if (!t.seen) {
            out.set(id, { _tag: "Unknown", description: "qstat does not list this job and it left no exit marker" })
            tracks.delete(id)
          } else if (++t.misses >= missingLimit) {
            out.set(id, {
              _tag: "Info",
              info: makeInfo({
                id,
                status: "Done",
                state: "UNKNOWN",
                reason: "the job left qstat without an exit status or exit marker"
              })
            })
            tracks.delete(id)
          }
        }
        return out
      })

      const poller = yield* StatusPoller.make({ name: "torque", poll }, options.polling)

      const submit = Effect.fnUntraced(function*(job: JobDescription): Effect.fn.Return<JobId, SchedulerError> {
        const submission = yield* torqueSubmission(job)
        // a script file, not stdin: real Torque reads stdin, but the slurm-wlm-torque qsub cannot
        const qsub = withPrefix(prefix, ["qsub", ...submission.args.map(Shell.quote), `"$__f"`].join(" "))
        const text = `__f=$(mktemp /tmp/cerulean-job.XXXXXXXX) || exit 1; cat >"$__f" && { ${qsub}; }; ` +
          `__c=$?; rm -f -- "$__f"; exit $__c`
        const result = yield* submitting(runText(terminal, text, { stdin: submission.script, timeout }))
        const id = yield* parseQsub(result)
        track(id).seen = true
        return id
      })

      const cancel = Effect.fnUntraced(function*(id: JobId): Effect.fn.Return<void, SchedulerError> {
        const result = yield* runText(terminal, withPrefix(prefix, `qdel ${Shell.quote(id)}`), { timeout })
        if (result.exitCode === 0) return
        // qdel refuses finished and unknown jobs alike: a finished job is left alone, an unknown one is an error
        const info = yield* poller.lookup(id)
        if (info.status !== "Done") return yield* unavailable(`qdel: ${message(result)}`)
      })

      return assemble({ name: "torque", service: "TorqueScheduler", isJobId: isTorqueJobId, submit, cancel, poller })
    })

  /**
   * Provides `TorqueScheduler` and `Scheduler` (one instance) over the `Terminal` in context.
   *
   * @since 0.1.0
   */
  static readonly layer = (options: TorqueOptions = {}): Layer.Layer<TorqueScheduler | Scheduler, never, Terminal> =>
    Layer.effectContext(Effect.gen(function*() {
      const scheduler = yield* TorqueScheduler.make(yield* Terminal, options)
      return Context.make(TorqueScheduler, scheduler).pipe(Context.add(Scheduler, scheduler))
    }))
}
