/**
 * `@cerulean/ssh`: the SSH terminal (and the connection the SFTP file system
 * and the schedulers share), its errors and known_hosts handling.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export {
  type ChannelLimiter,
  type ExecChannel,
  type SftpSession,
  SshTerminal,
  type SshTerminalOptions,
  type SshTerminalShape
} from "./SshTerminal.ts"
/** @since 0.1.0 */
export { type SftpChannel, type SftpConnection, SftpFileSystem, type SftpFileSystemOptions } from "./SftpFileSystem.ts"
/** @since 0.1.0 */
export { SshError } from "./SshError.ts"
/** @since 0.1.0 */
export * as KnownHosts from "./KnownHosts.ts"
