/**
 * Runs jobs directly as background processes on the terminal's machine (no
 * batch system), over any `Terminal`: GNU/Linux with bash, `setsid` and `ps`.
 *
 * Each job gets a directory `~/.cerulean/jobs/<id>/` (or `jobsDirectory`). Its
 * wrapper runs in a session of its own and starts the user's script in another,
 * so cancel kills the user's whole process group (SIGTERM, then SIGKILL after
 * 5 s) and the wrapper still writes the exit record; `timeReserved` is
 * enforced the same way and reports 124, like GNU `timeout`. Once a job ends
 * only its small exit record stays (removed after 7 days); scripts and pid
 * files are deleted. Jobs start at once, so the status is never `Waiting`.
 *
 * @since 0.1.0
 */
import type { JobDescription, JobId, Scheduler as SchedulerShape } from "@cerulean/core"
import { Scheduler, Terminal } from "@cerulean/core"
import type { SchedulerError } from "@cerulean/core/Scheduler"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import {
  defaultCommandTimeout,
  invalidJob,
  message,
  parseError,
  runText,
  submitting,
  submitFailed,
  unavailable,
  unknownJob,
  withPrefix
} from "./internal/command.ts"
import {
  bashCommand,
  cancelScript,
  directGnuInfo,
  isDirectGnuJobId,
  launcherScript,
  parseStatus,
  statusScript
} from "./internal/directGnu.ts"
import { jobBody, validateCommon } from "./internal/jobScript.ts"
import { assemble } from "./internal/scheduler.ts"
import type { SchedulerOptions } from "./SchedulerOptions.ts"
import * as StatusPoller from "./StatusPoller.ts"

/**
 * Options of {@link DirectGnuScheduler.make} and {@link DirectGnuScheduler.layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface DirectGnuOptions extends SchedulerOptions {
  /** Absolute directory for job records on the terminal's machine (default `~/.cerulean/jobs`). */
  readonly jobsDirectory?: string | undefined
}

/**
 * The direct (no batch system) scheduler service (its own tag; its layer also
 * provides `Scheduler`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { JobDescription, LocalTerminal, Scheduler } from "@cerulean/core"
 * import { DirectGnuScheduler } from "@cerulean/schedulers"
 *
 * const program = Effect.gen(function*() {
 *   const scheduler = yield* Scheduler
 *   const id = yield* scheduler.submit(new JobDescription({ command: "echo", arguments: ["hello world"] }))
 *   return yield* scheduler.wait(id) // Option.some(0)
 * }).pipe(Effect.provide(DirectGnuScheduler.layer()), Effect.provide(LocalTerminal.layer), Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class DirectGnuScheduler extends Context.Service<DirectGnuScheduler, SchedulerShape>()(
  "@cerulean/schedulers/DirectGnuScheduler"
) {
  /**
   * A direct scheduler on this terminal; its poller runs in the scope.
   *
   * @since 0.1.0
   */
  static readonly make = (
    terminal: Terminal,
    options: DirectGnuOptions = {}
  ): Effect.Effect<SchedulerShape, never, Scope.Scope> =>
    Effect.gen(function*() {
      const prefix = options.prefix ?? ""
      const timeout = options.commandTimeout ?? defaultCommandTimeout
      const root = options.jobsDirectory ?? ""

      const poll = Effect.fnUntraced(function*(ids: ReadonlyArray<JobId>) {
        const command = withPrefix(prefix, bashCommand(statusScript, "cerulean-status", [root, ...ids]))
        const result = yield* runText(terminal, command, { timeout })
        if (result.exitCode !== 0) return yield* unavailable(`job status: ${message(result)}`)
        const out = new Map<JobId, StatusPoller.Observation>()
        for (const row of yield* parseStatus(result.stdout)) {
          if (!ids.includes(row.id)) continue
          out.set(
            row.id,
            row.state === "UNKNOWN"
              ? { _tag: "Unknown", description: "no such job record" }
              : { _tag: "Info", info: directGnuInfo(row) }
          )
        }
        return out
      })

      const poller = yield* StatusPoller.make({ name: "directgnu", poll }, options.polling)

      const submit = Effect.fnUntraced(function*(
        description: JobDescription
      ): Effect.fn.Return<JobId, SchedulerError> {
        const job = yield* validateCommon(description)
        if (job.mpiProcessesPerNode !== undefined) {
          return yield* invalidJob("DirectGnuScheduler cannot run MPI jobs (mpiProcessesPerNode is set)")
        }
        if (job.numNodes !== undefined && job.numNodes > 1) {
          return yield* invalidJob("DirectGnuScheduler runs on one machine (numNodes > 1)")
        }
        if (job.queueName !== undefined || job.extraSchedulerOptions !== undefined) {
          yield* Effect.logDebug("DirectGnuScheduler has no queue or scheduler options; ignored")
        }
        const args = [
          root,
          job.timeReserved === undefined ? "" : String(job.timeReserved),
          job.systemOutFile ?? "",
          job.systemErrFile ?? ""
        ]
        const result = yield* submitting(runText(
          terminal,
          withPrefix(prefix, bashCommand(launcherScript, "cerulean-submit", args)),
          { stdin: jobBody(job) + "\n", timeout }
        ))
        if (result.exitCode !== 0) return yield* submitFailed(message(result))
        const id = result.stdout.trim().split("\n").at(-1)?.trim() ?? ""
        if (!isDirectGnuJobId(id)) return yield* parseError("the job launcher printed no job id", result.stdout)
        return id
      })

      const cancel = Effect.fnUntraced(function*(id: JobId): Effect.fn.Return<void, SchedulerError> {
        const command = withPrefix(prefix, bashCommand(cancelScript, "cerulean-cancel", [root, id]))
        const result = yield* runText(terminal, command, { timeout })
        if (result.exitCode === 3) return yield* unknownJob(id, message(result))
        if (result.exitCode !== 0) return yield* unavailable(`cancel: ${message(result)}`)
      })

      return assemble({
        name: "directgnu",
        service: "DirectGnuScheduler",
        isJobId: isDirectGnuJobId,
        submit,
        cancel,
        poller
      })
    })

  /**
   * Provides `DirectGnuScheduler` and `Scheduler` (one instance) over the `Terminal` in context.
   *
   * @since 0.1.0
   */
  static readonly layer = (
    options: DirectGnuOptions = {}
  ): Layer.Layer<DirectGnuScheduler | Scheduler, never, Terminal> =>
    Layer.effectContext(Effect.gen(function*() {
      const scheduler = yield* DirectGnuScheduler.make(yield* Terminal, options)
      return Context.make(DirectGnuScheduler, scheduler).pipe(Context.add(Scheduler, scheduler))
    }))
}
