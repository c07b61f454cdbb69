/**
 * `SftpFileSystem`: the `FileSystem` contract over SFTP, on the channels of
 * one SSH connection (an `SshTerminal`'s).
 *
 * Transfers keep many READ/WRITE requests outstanding (sized from the
 * server's `limits@openssh.com`, else 32 KiB), deliver data in file order
 * with memory bounded by the requests in flight, and fall back to smaller,
 * fewer requests when a server refuses them. Files `copy` moves at once
 * spread over several SFTP channels of the connection, and a large file is
 * striped over several. Metadata operations cost one request each; only a
 * failed request is followed by a look at the path to name the reason. See
 * docs/sftp.md.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { SFTPWrapper } from "ssh2"
import { makeBackend } from "./internal/sftpBackend.ts"
import { Channels } from "./internal/sftpChannels.ts"
import { makeHooks, registry } from "./internal/sftpHooks.ts"
import type * as SshError from "./SshError.ts"
import { SshTerminal, type SshTerminalShape } from "./SshTerminal.ts"

/**
 * Tuning of `SftpFileSystem`. The defaults are measured on OpenSSH (see
 * docs/sftp.md); every value is capped by what the server announces.
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpFileSystemOptions {
  /**
   * Bytes per READ/WRITE request, rounded down to a power of two. Default
   * 256 KiB, capped by the server's limit from `limits@openssh.com` (which
   * gives 128 KiB on OpenSSH); 32 KiB when the server announces no limits
   * (the size every SFTP server accepts).
   */
  readonly requestSize?: number | undefined
  /**
   * Requests outstanding per channel and transfer. Default: enough for 2 MiB
   * in flight per channel and 4 MiB per transfer striped over several
   * channels, at least 4.
   */
  readonly maxRequests?: number | undefined
  /**
   * SFTP channels (one SFTP server process each) this file system may have
   * open at once, the main one included. Default 4, and never more than the
   * terminal's `maxChannels` minus one, so commands keep a slot; an extra
   * channel is opened only while a slot is free, never waited for.
   */
  readonly channels?: number | undefined
  /** Channels a large file is striped over (default: `channels`). */
  readonly stripes?: number | undefined
  /** Size from which a file is striped over several channels (default 64 MiB). */
  readonly stripeSize?: number | undefined
  /** How long an extra channel may stay unused before it is closed (default 5 seconds). */
  readonly channelIdleTime?: Duration.Input | undefined
}

/**
 * One SFTP channel: ssh2's client for it and, optionally, an effect that
 * fails when the connection carrying it drops (as `SftpSession.lost` of
 * `SshTerminal.openSftp`), so that requests in flight fail at once.
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpChannel {
  readonly sftp: SFTPWrapper
  readonly lost?: Effect.Effect<never, unknown> | undefined
}

/**
 * Where `SftpFileSystem` gets its channels: a scoped way to open one SFTP
 * channel on an SSH connection, and the connection's `user@host:port`.
 * `SftpFileSystem.make` builds one from an `SshTerminal`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpConnection {
  /** `user@host:port`, identifying the file system. */
  readonly location: string
  /** Opens one SFTP channel for the life of the scope. */
  readonly openSftp: Effect.Effect<SftpChannel, FileSystemError.FileSystemError, Scope.Scope>
  /** Whether a channel can be opened right now without waiting (default: always). */
  readonly canOpen?: Effect.Effect<boolean> | undefined
}

/** An SSH failure while opening a channel, as the file-system error of that operation. */
const fromSshError = (error: SshError.SshError): FileSystemError.FileSystemError =>
  FileSystemError.make(
    error.reason._tag === "AuthenticationFailed" || error.reason._tag === "HostKeyMismatch" ||
      error.reason._tag === "HostKeyUnknown"
      ? "PermissionDenied"
      : "ConnectionLost",
    { path: "/", operation: "openSftp", description: error.message, cause: error }
  )

/**
 * The SFTP file system service. Its `layer` provides this tag and the
 * generic `FileSystem` tag of `@cerulean/core` from one instance.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Redacted } from "effect"
 * import { PasswordCredential } from "@cerulean/core"
 * import { SftpFileSystem, SshTerminal } from "@cerulean/ssh"
 *
 * const program = Effect.gen(function*() {
 *   const fs = yield* SftpFileSystem
 *   const text = yield* fs.path("home", "me", "notes.txt").readText()
 *   console.log(text)
 * }).pipe(
 *   Effect.provide(SftpFileSystem.layer().pipe(Layer.provide(SshTerminal.layer({
 *     host: "cluster.example.org",
 *     credential: new PasswordCredential({ username: "me", password: Redacted.make("secret") })
 *   }))))
 * )
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class SftpFileSystem extends Context.Service<SftpFileSystem, FileSystem.FileSystem>()(
  "@cerulean/ssh/SftpFileSystem"
) {
  /**
   * A file system on SFTP channels from any source: the main channel opens
   * now (so a refused SFTP subsystem fails here) and every channel closes
   * with the scope.
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly fromConnection = (
    connection: SftpConnection,
    options: SftpFileSystemOptions = {}
  ): Effect.Effect<FileSystem.FileSystem, FileSystemError.FileSystemError, Scope.Scope> =>
    Effect.gen(function*() {
      const max = options.channels ?? 4
      const channels = yield* Channels.make(connection.openSftp, {
        max,
        idle: options.channelIdleTime ?? "5 seconds",
        canOpen: connection.canOpen ?? Effect.succeed(true)
      })
      const tuning = {
        requestSize: options.requestSize,
        maxRequests: options.maxRequests,
        stripes: Math.max(1, Math.min(options.stripes ?? max, max)),
        stripeSize: options.stripeSize ?? 64 * 1024 * 1024
      }
      const backend = makeBackend({ channels, location: connection.location, tuning })
      const internals = { channels, backend, tuning }
      const hooks = makeHooks(internals)
      const fs = FileSystem.make({
        protocol: "sftp",
        location: connection.location,
        features: {
          symlinks: true,
          permissions: true,
          devices: true,
          atomicRename: channels.has("posix-rename@openssh.com")
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
        writeStream: backend.writeStream,
        copyFile: hooks.copyFile,
        sendTo: hooks.sendTo,
        receiveFrom: hooks.receiveFrom,
        sendManyTo: hooks.sendManyTo,
        receiveManyFrom: hooks.receiveManyFrom
      })
      registry.set(fs, internals)
      return fs
    }).pipe(Effect.annotateLogs({ module: "SftpFileSystem", location: connection.location }))

  /**
   * The file system on an SSH terminal's connection: its SFTP channels take
   * the terminal's channel slots, and a connection the terminal re-establishes
   * after a loss is used again on the next operation.
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly make = (
    terminal: SshTerminalShape,
    options: SftpFileSystemOptions = {}
  ): Effect.Effect<FileSystem.FileSystem, FileSystemError.FileSystemError, Scope.Scope> =>
    SftpFileSystem.fromConnection({
      location: terminal.location,
      openSftp: Effect.map(
        Effect.mapError(terminal.openSftp, fromSshError),
        (session): SftpChannel => ({ sftp: session.sftp, lost: session.lost })
      ),
      canOpen: Effect.map(terminal.channels.inUse, (n) => n < terminal.channels.maxChannels - 1)
    }, {
      ...options,
      channels: Math.max(1, Math.min(options.channels ?? 4, terminal.channels.maxChannels - 1))
    }).pipe(Effect.withSpan("SftpFileSystem.make"))

  /**
   * A layer providing one SFTP file system on the `SshTerminal` of the
   * context, under both `SftpFileSystem` and `FileSystem`.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (
    options: SftpFileSystemOptions = {}
  ): Layer.Layer<SftpFileSystem | FileSystem.FileSystem, FileSystemError.FileSystemError, SshTerminal> =>
    Layer.effectContext(
      Effect.gen(function*() {
        const terminal = yield* SshTerminal
        const fs = yield* SftpFileSystem.make(terminal, options)
        return Context.make(SftpFileSystem, fs).pipe(Context.add(FileSystem.FileSystem, fs))
      })
    )
}
