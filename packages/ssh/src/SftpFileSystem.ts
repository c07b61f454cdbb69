/**
 * `SftpFileSystem`: the `FileSystem` contract over SFTP, on the channels of
 * one SSH connection.
 *
 * Transfers keep many READ/WRITE requests outstanding (sized from the
 * server's `limits@openssh.com`, else 32 KiB), deliver data in file order
 * with memory bounded by the requests in flight, and fall back to smaller,
 * fewer requests when a server refuses them. Metadata operations cost one
 * request each; only a failed request is followed by a look at the path to
 * name the reason. See docs/sftp.md.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@cerulean/core/FileSystem"
import type * as FileSystemError from "@cerulean/core/FileSystemError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { SFTPWrapper } from "ssh2"
import { makeBackend } from "./internal/sftpBackend.ts"
import { Channels } from "./internal/sftpChannels.ts"

/**
 * Tuning of `SftpFileSystem`. The defaults are measured on OpenSSH (see
 * docs/sftp.md); every value is capped by what the server announces.
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpFileSystemOptions {
  /**
   * Bytes per READ/WRITE request. Default: the server's limit from
   * `limits@openssh.com`, at most 256 KiB; 32 KiB when the server does not
   * announce limits (the size every SFTP server accepts).
   */
  readonly requestSize?: number | undefined
  /** Requests outstanding per transfer. Default: enough for 2 MiB in flight, at least 8. */
  readonly maxRequests?: number | undefined
  /** SFTP channels a copy may use at once on the connection (default 4; the connection's session limit applies). */
  readonly channels?: number | undefined
  /** Files a tree copy keeps in flight at once (default 32). */
  readonly filesInFlight?: number | undefined
}

/**
 * Where `SftpFileSystem` gets its channels: a scoped way to open one SFTP
 * channel on an SSH connection, and the connection's `user@host:port`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpConnection {
  /** `user@host:port`, identifying the file system. */
  readonly location: string
  /** Opens one SFTP channel for the life of the scope. */
  readonly openSftp: Effect.Effect<SFTPWrapper, FileSystemError.FileSystemError, Scope.Scope>
}

/**
 * The SFTP file system service. Its `layer` provides this tag and the
 * generic `FileSystem` tag of `@cerulean/core` from one instance.
 *
 * @since 0.1.0
 * @category services
 */
export class SftpFileSystem extends Context.Service<SftpFileSystem, FileSystem.FileSystem>()(
  "@cerulean/ssh/SftpFileSystem"
) {
  /**
   * A file system on SFTP channels from any source: the main channel opens
   * now (so a refused SFTP subsystem fails here) and closes with the scope.
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly fromConnection = (
    connection: SftpConnection,
    options: SftpFileSystemOptions = {}
  ): Effect.Effect<FileSystem.FileSystem, FileSystemError.FileSystemError, Scope.Scope> =>
    Effect.gen(function*() {
      const channels = yield* Channels.make(connection.openSftp)
      const session = yield* channels.main
      const backend = makeBackend({
        channels,
        location: connection.location,
        tuning: { requestSize: options.requestSize, maxRequests: options.maxRequests }
      })
      return FileSystem.make({
        protocol: "sftp",
        location: connection.location,
        features: {
          symlinks: true,
          permissions: true,
          devices: true,
          atomicRename: session.has("posix-rename@openssh.com")
        },
        stat: backend.stat,
        lstat: backend.lstat,
        readDirectory: backend.readDirectory,
        makeDirectory: backend.makeDirectory,
        removeDirectory: backend.removeDirectory,
        removeTree: backend.removeTree,
        unlink: backend.unlink,
        touch: backend.touch,
        rename: backend.rename,
        symlink: backend.symlink,
        readLink: backend.readLink,
        chmod: backend.chmod,
        readStream: backend.readStream,
        writeStream: backend.writeStream
      })
    }).pipe(Effect.annotateLogs({ module: "SftpFileSystem", location: connection.location }))
}
