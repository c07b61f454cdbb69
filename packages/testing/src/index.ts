/**
 * `@cerulean/testing`: mock layers for users' own tests and the contract
 * suites every implementation must pass. Module-level helpers are also
 * reachable by deep import, e.g. `import type { Rule } from "@cerulean/testing/TestTerminal"`.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as CopyContract from "./CopyContract.ts"
/** @since 0.1.0 */
export * as FileSystemContract from "./FileSystemContract.ts"
/** @since 0.1.0 */
export { MemoryFileSystem } from "./MemoryFileSystem.ts"
/** @since 0.1.0 */
export * as SchedulerContract from "./SchedulerContract.ts"
/** @since 0.1.0 */
export * as TerminalContract from "./TerminalContract.ts"
/** @since 0.1.0 */
export { TestScheduler } from "./TestScheduler.ts"
/** @since 0.1.0 */
export { TestTerminal } from "./TestTerminal.ts"
