/**
 * The schedulers `makeScheduler` and the `--scheduler` flag know, each built
 * on a given terminal in the caller's scope (where its status poller runs).
 */
import type { Scheduler } from "@cerulean/core/Scheduler"
import type { Terminal } from "@cerulean/core/Terminal"
import { DirectGnuScheduler, SlurmScheduler, TorqueScheduler } from "@cerulean/schedulers"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** Builds a scheduler on `terminal`, with `prefix` run before each scheduler command. */
export type Make = (terminal: Terminal, prefix: string) => Effect.Effect<Scheduler, never, Scope.Scope>

const table: Record<string, Make> = {
  directgnu: (terminal, prefix) => DirectGnuScheduler.make(terminal, { prefix }),
  slurm: (terminal, prefix) => SlurmScheduler.make(terminal, { prefix }),
  torque: (terminal, prefix) => TorqueScheduler.make(terminal, { prefix })
}

/** The known names. */
export const names: ReadonlyArray<string> = Object.keys(table)

/** The constructor for a name (case-insensitive), if known. */
export const byName = (name: string): Make | undefined => {
  const key = name.toLowerCase()
  return Object.hasOwn(table, key) ? table[key] : undefined
}
