/**
 * `@cerulean/core`: the contracts (`Path`, `FileSystem`, `Terminal`,
 * `Scheduler`), the data model, `copy`, and the local implementations.
 * Module-level helpers are also reachable by deep import, e.g.
 * `import * as FileSystemError from "@cerulean/core/FileSystemError"`.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export { copy, copyAll, CopyError, CopyProgress, type CopyOptions } from "./Copy.ts"
/** @since 0.1.0 */
export { AgentCredential, type Credential, PasswordCredential, PubKeyCredential } from "./Credential.ts"
/** @since 0.1.0 */
export { EntryType } from "./EntryType.ts"
/** @since 0.1.0 */
export {
  type Backend,
  type DirectoryEntry,
  type Features,
  type FileInfo,
  FileSystem,
  type ReadStreamOptions,
  type TransferOptions,
  type WriteStreamOptions
} from "./FileSystem.ts"
/** @since 0.1.0 */
export { FileSystemError } from "./FileSystemError.ts"
/** @since 0.1.0 */
export { JobDescription } from "./JobDescription.ts"
/** @since 0.1.0 */
export { JobInfo, JobStatus } from "./JobStatus.ts"
/** @since 0.1.0 */
export { LocalFileSystem } from "./LocalFileSystem.ts"
/** @since 0.1.0 */
export { LocalTerminal } from "./LocalTerminal.ts"
/** @since 0.1.0 */
export { type MkdirOptions, Path, type WalkEntry, type WalkOptions } from "./Path.ts"
/** @since 0.1.0 */
export { Permission } from "./Permission.ts"
/** @since 0.1.0 */
export { type JobId, Scheduler, SchedulerError, type WaitOptions } from "./Scheduler.ts"
/** @since 0.1.0 */
export * as Shell from "./Shell.ts"
/** @since 0.1.0 */
export { RunResult, type RunOptions, Terminal, TerminalError } from "./Terminal.ts"
