/**
 * The options every scheduler of this package takes.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as StatusPoller from "./StatusPoller.ts"

/**
 * Options shared by `DirectGnuScheduler`, `SlurmScheduler` and `TorqueScheduler`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SchedulerOptions {
  /** Shell text put before every scheduler command, as given (e.g. `module load slurm;`). */
  readonly prefix?: string | undefined
  /** Pace of the shared status poller. */
  readonly polling?: StatusPoller.PollerOptions | undefined
  /** Time limit of one scheduler command (default 120 s). */
  readonly commandTimeout?: Duration.Input | undefined
}
