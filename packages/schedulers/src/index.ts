/**
 * `@cerulean/schedulers`: `DirectGnuScheduler`, `SlurmScheduler` and
 * `TorqueScheduler` over any `Terminal`, and the shared `StatusPoller`.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export { type DirectGnuOptions, DirectGnuScheduler } from "./DirectGnuScheduler.ts"
/** @since 0.1.0 */
export { type SchedulerOptions } from "./SchedulerOptions.ts"
/** @since 0.1.0 */
export { type SlurmOptions, SlurmScheduler } from "./SlurmScheduler.ts"
/** @since 0.1.0 */
export * as StatusPoller from "./StatusPoller.ts"
/** @since 0.1.0 */
export { type TorqueOptions, TorqueScheduler } from "./TorqueScheduler.ts"
