/**
 * `cerulean`: one import for everything. The contracts, the data model,
 * `copy` and the local implementations (`@cerulean/core`), SSH and SFTP
 * (`@cerulean/ssh`), WebDAV (`@cerulean/webdav`), the schedulers
 * (`@cerulean/schedulers`), plus Cerulean's factories (`makeFileSystem`,
 * `makeTerminal`, `makeScheduler`) and location parsing.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { JobDescription, makeScheduler, makeTerminal } from "cerulean"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const terminal = yield* makeTerminal("local")
 *   const scheduler = yield* makeScheduler("directgnu", terminal)
 *   const id = yield* scheduler.submit(new JobDescription({ command: "echo", arguments: ["hello"] }))
 *   return yield* scheduler.wait(id)
 * }))
 * ```
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * from "@cerulean/core"
/** @since 0.1.0 */
export * from "@cerulean/ssh"
/** @since 0.1.0 */
export * from "@cerulean/webdav"
/** @since 0.1.0 */
export * from "@cerulean/schedulers"
/** @since 0.1.0 */
export {
  type FileSystemOptions,
  fileSystemProtocols,
  makeFileSystem,
  makePath,
  makeScheduler,
  makeSftpFileSystem,
  makeTerminal,
  schedulerNames,
  type SshOptions,
  terminalProtocols,
  type TerminalOptions
} from "./Factory.ts"
/** @since 0.1.0 */
export { FactoryError } from "./FactoryError.ts"
/** @since 0.1.0 */
export * as Location from "./Location.ts"
