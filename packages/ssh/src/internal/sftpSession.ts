/**
 * One SFTP channel: typed, Effect-returning wrappers around ssh2's
 * `SFTPWrapper`, with SFTP status codes mapped to `FileSystemError` reasons
 * and a lost channel turned into `ConnectionLost` (ssh2 leaves requests
 * issued on a closed channel unanswered forever; this wrapper fails them).
 *
 * @internal
 */
import type { EntryType } from "@cerulean/core/EntryType"
import * as EntryTypeModule from "@cerulean/core/EntryType"
import type { FileInfo } from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import type { SFTPWrapper, Stats } from "ssh2"
import { SftpWire } from "./sftpWire.ts"

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02 §7). */
export const Status = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8
} as const

/** SFTP v3 open flags. */
export const OpenFlags = {
  READ: 0x01,
  WRITE: 0x02,
  APPEND: 0x04,
  CREAT: 0x08,
  TRUNC: 0x10,
  EXCL: 0x20
} as const

/** The SFTP status code carried by an ssh2 error, if any. */
export const statusOf = (error: unknown): number | undefined =>
  Predicate.hasProperty(error, "code") && typeof error.code === "number" ? error.code : undefined

const messageOf = (error: unknown): string | undefined =>
  Predicate.hasProperty(error, "message") && typeof error.message === "string" ? error.message : undefined

/** What an operation was doing, for error reports. */
export interface Context {
  readonly operation: string
  readonly path: string
}

/**
 * Maps an ssh2 error to a `FileSystemError`. Status FAILURE (4) is what
 * OpenSSH's sftp-server sends for most errnos (EEXIST, ENOTEMPTY, EISDIR, ...),
 * so it becomes `Io` here and callers that can tell more refine it.
 */
export const toFileSystemError = (error: unknown, context: Context, closed: boolean): FileSystemError.FileSystemError => {
  const status = statusOf(error)
  const message = messageOf(error)
  const fields = { ...context, description: message, cause: error }
  switch (status) {
    case Status.NO_SUCH_FILE:
      return FileSystemError.make("NotFound", fields)
    case Status.PERMISSION_DENIED:
      return FileSystemError.make("PermissionDenied", fields)
    case Status.OP_UNSUPPORTED:
      return FileSystemError.make("Unsupported", fields)
    case Status.NO_CONNECTION:
    case Status.CONNECTION_LOST:
      return FileSystemError.make("ConnectionLost", fields)
    case undefined:
      // ssh2 answers every outstanding request with a code-less "No response from server" when the channel closes
      return closed || message === "No response from server"
        ? FileSystemError.make("ConnectionLost", { ...fields, description: message ?? "SFTP channel closed" })
        : FileSystemError.make("Io", fields)
    default:
      return FileSystemError.make("Io", fields)
  }
}

/** The `FileInfo` of an SFTP attribute set. */
export const toFileInfo = (stats: Stats): FileInfo => {
  const mode = typeof stats.mode === "number" ? stats.mode : 0
  const type: EntryType = EntryTypeModule.fromMode(mode) ?? "File"
  return {
    type,
    size: typeof stats.size === "number" ? stats.size : 0,
    mode: mode & 0o7777,
    uid: typeof stats.uid === "number" ? stats.uid : 0,
    gid: typeof stats.gid === "number" ? stats.gid : 0,
    mtime: typeof stats.mtime === "number" ? new Date(stats.mtime * 1000) : undefined,
    atime: typeof stats.atime === "number" ? new Date(stats.atime * 1000) : undefined
  }
}

type Callback<A> = (error: Error | null | undefined, value: A) => void

interface Corkable {
  cork(): void
  uncork(): void
}

const isCorkable = (u: unknown): u is Corkable =>
  Predicate.hasProperty(u, "cork") && typeof u.cork === "function" &&
  Predicate.hasProperty(u, "uncork") && typeof u.uncork === "function"

/** Reads an internal field of ssh2's SFTP object defensively (it is not part of its typed API). */
const internalField = (sftp: SFTPWrapper, name: string): unknown => Reflect.get(sftp, name)

/**
 * The request size every SFTP server accepts: the SFTP draft requires
 * servers to support packets of at least 34000 bytes, and OpenSSH's own
 * client uses 32 KiB.
 */
export const safeRequestSize = 32 * 1024

/** The largest request size this library will use, even when a server offers more. */
export const maxRequestSize = 256 * 1024

/**
 * An open SFTP channel. Every request goes through {@link Session.call},
 * which fails at once with `ConnectionLost` when the channel is closed and
 * fails every outstanding request when it closes.
 */
export class Session {
  readonly sftp: SFTPWrapper
  /** The extensions the server announced (`name -> version`). */
  readonly extensions: Readonly<Record<string, string>>
  /** Largest READ/WRITE payload the server accepts, from `limits@openssh.com`, else {@link safeRequestSize}. */
  readonly maxRead: number
  readonly maxWrite: number
  /** Whether the server announced `limits@openssh.com` (so the limits above are its own). */
  readonly hasLimits: boolean
  private closedFlag = false
  private readonly socket: Corkable | undefined
  private corked = false
  private readonly closedHandles = new WeakSet<Buffer>()
  private readonly onClose = new Set<() => void>()
  /** The allocation-free READ/WRITE path, when ssh2's internals allow it. */
  private readonly wire: SftpWire | undefined

  constructor(sftp: SFTPWrapper) {
    this.sftp = sftp
    this.wire = SftpWire.make(sftp)
    const extensions = internalField(sftp, "_extensions")
    const record: Record<string, string> = {}
    if (Predicate.isObject(extensions)) {
      for (const [k, v] of Object.entries(extensions)) if (typeof v === "string") record[k] = v
    }
    this.extensions = record
    this.hasLimits = record["limits@openssh.com"] === "1"
    const readLen = internalField(sftp, "_maxReadLen")
    const writeLen = internalField(sftp, "_maxWriteLen")
    // ssh2 already asked limits@openssh.com before 'ready' and stored the answer in _maxReadLen/_maxWriteLen;
    // without that extension its numbers are guesses, so use the size every server accepts
    this.maxRead = this.hasLimits && typeof readLen === "number" && readLen > 0 ? readLen : safeRequestSize
    this.maxWrite = this.hasLimits && typeof writeLen === "number" && writeLen > 0 ? writeLen : safeRequestSize
    // ssh2's connection socket (not part of its typed API): corked per tick by `batch`
    const client = internalField(sftp, "_client")
    const socket = Predicate.isObject(client) ? Reflect.get(client, "_sock") : undefined
    this.socket = isCorkable(socket) ? socket : undefined
    const close = () => this.markClosed()
    sftp.once("close", close)
    sftp.once("end", close)
  }

  /** Whether the channel has closed (all further requests fail with `ConnectionLost`). */
  get closed(): boolean {
    if (!this.closedFlag) {
      const outgoing = Reflect.get(this.sftp, "outgoing")
      if (Predicate.hasProperty(outgoing, "state") && outgoing.state !== "open") this.markClosed()
    }
    return this.closedFlag
  }

  /**
   * Holds the connection's socket writes until the end of this tick, so the
   * requests issued together leave in one system call (ssh2 writes every
   * packet on its own, which costs a syscall each with TCP_NODELAY).
   */
  batch(): void {
    if (this.corked || this.socket === undefined) return
    const socket = this.socket
    this.corked = true
    socket.cork()
    process.nextTick(() => {
      this.corked = false
      socket.uncork()
    })
  }

  has(extension: string): boolean {
    return this.extensions[extension] !== undefined
  }

  /** Treats the channel as closed from now on (its connection is gone). */
  markClosed(): void {
    if (this.closedFlag) return
    this.closedFlag = true
    const listeners = [...this.onClose]
    this.onClose.clear()
    for (const listener of listeners) listener()
  }

  /** Registers a function called once when the channel closes; returns its removal. */
  whenClosed(listener: () => void): () => void {
    if (this.closedFlag) {
      listener()
      return () => {}
    }
    this.onClose.add(listener)
    return () => {
      this.onClose.delete(listener)
    }
  }

  lost(context: Context): FileSystemError.FileSystemError {
    return FileSystemError.make("ConnectionLost", { ...context, description: "the SFTP channel is closed" })
  }

  error(error: unknown, context: Context): FileSystemError.FileSystemError {
    return toFileSystemError(error, context, this.closed)
  }

  /** Runs one SFTP request as an Effect. */
  call<A>(context: Context, request: (callback: Callback<A>) => void): Effect.Effect<A, FileSystemError.FileSystemError> {
    return Effect.callback<A, FileSystemError.FileSystemError>((resume) => {
      if (this.closed) return resume(Effect.fail(this.lost(context)))
      let done = false
      const remove = this.whenClosed(() => {
        if (done) return
        done = true
        resume(Effect.fail(this.lost(context)))
      })
      this.batch()
      request((error, value) => {
        if (done) return
        done = true
        remove()
        resume(error ? Effect.fail(this.error(error, context)) : Effect.succeed(value))
      })
      return Effect.sync(() => {
        done = true
        remove()
      })
    })
  }

  /** Whether READ/WRITE data takes the allocation-free path (sftpWire.ts). */
  get wired(): boolean {
    return this.wire !== undefined
  }

  /**
   * Sends one WRITE of all of `data` (at most `maxWrite` bytes) at `offset`;
   * `data` may be reused once this returns.
   */
  write(handle: Buffer, data: Buffer, offset: number, callback: (error: Error | null | undefined) => void): void {
    if (this.wire !== undefined && data.length <= this.maxWrite) this.wire.write(handle, data, offset, callback)
    else this.sftp.write(handle, data, 0, data.length, offset, callback)
  }

  stat(path: string): Effect.Effect<Stats, FileSystemError.FileSystemError> {
    return this.call({ operation: "stat", path }, (cb) => this.sftp.stat(path, cb))
  }

  lstat(path: string): Effect.Effect<Stats, FileSystemError.FileSystemError> {
    return this.call({ operation: "lstat", path }, (cb) => this.sftp.lstat(path, cb))
  }

  /**
   * Opens a file. If the caller is interrupted before the server answers, the
   * handle that arrives later is closed, so no handle leaks.
   */
  open(
    path: string,
    flags: number,
    mode: number | undefined,
    operation: string
  ): Effect.Effect<Buffer, FileSystemError.FileSystemError> {
    const context = { operation, path }
    return Effect.callback<Buffer, FileSystemError.FileSystemError>((resume) => {
      if (this.closed) return resume(Effect.fail(this.lost(context)))
      let done = false
      const remove = this.whenClosed(() => {
        if (done) return
        done = true
        resume(Effect.fail(this.lost(context)))
      })
      const callback = (error: Error | null | undefined, handle: Buffer) => {
        if (done) {
          if (!error && !this.closed) this.sftp.close(handle, () => {})
          return
        }
        done = true
        remove()
        resume(error ? Effect.fail(this.error(error, context)) : Effect.succeed(handle))
      }
      this.batch()
      if (mode === undefined) this.sftp.open(path, flags, callback)
      else this.sftp.open(path, flags, { mode }, callback)
      return Effect.sync(() => {
        done = true
        remove()
      })
    })
  }

  /**
   * Closes a handle once: a second close is a no-op, because the server may
   * already have given the same handle to another open file. A closed channel
   * has closed its handles already.
   */
  closeHandle(handle: Buffer, path: string): Effect.Effect<void, FileSystemError.FileSystemError> {
    return Effect.suspend(() => {
      if (this.closedHandles.has(handle)) return Effect.void
      this.closedHandles.add(handle)
      if (this.closed) return Effect.void
      return this.call<void>({ operation: "close", path }, (cb) => this.sftp.close(handle, (e) => cb(e, undefined)))
    })
  }

  fstat(handle: Buffer, path: string): Effect.Effect<Stats, FileSystemError.FileSystemError> {
    return this.call({ operation: "fstat", path }, (cb) => this.sftp.fstat(handle, cb))
  }
}

/** The entry type of SFTP attributes. */
export const typeOf = (stats: Stats): EntryType => EntryTypeModule.fromMode(stats.mode) ?? "File"
