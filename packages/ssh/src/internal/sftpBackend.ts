/**
 * The `Backend` primitives of `SftpFileSystem` on its SFTP channels.
 *
 * One request per primitive where SFTP allows it. OpenSSH's sftp-server
 * answers most failing syscalls with the status FAILURE (EEXIST, ENOTEMPTY,
 * EISDIR ...), so only when a request fails does the backend look at the
 * path (an `lstat`) to say which reason it was.
 *
 * @internal
 */
import type { Backend, DirectoryEntry, FileInfo, ReadStreamOptions, WriteStreamOptions } from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { posix } from "node:path"
import type { Stats } from "ssh2"
import type { Channels } from "./sftpChannels.ts"
import { type BufferPool, type Lane, type PipelineOptions, PipelinedReader, PipelinedWriter } from "./sftpPipeline.ts"
import { OpenFlags, type Session, Status, statusOf, toFileInfo, typeOf } from "./sftpSession.ts"

/** How transfers are pipelined and spread over channels. */
export interface TransferTuning {
  /** Bytes per request; `undefined` = 256 KiB, capped by the server's limit. */
  readonly requestSize: number | undefined
  /** Requests outstanding per channel; `undefined` = enough for 2 MiB in flight, at least 8. */
  readonly maxRequests: number | undefined
  /** Channels a file of at least `stripeSize` bytes is spread over. */
  readonly stripes: number
  /** Size from which a file is striped over several channels. */
  readonly stripeSize: number
}

/** Links followed before a chain counts as a loop (Linux's limit). */
const maxLinkHops = 40

/**
 * Bytes a transfer keeps in flight by default, per channel (what one SSH
 * channel window holds, as OpenSSH's sftp) and in all when it is striped
 * over several. More buys nothing on loopback and costs memory: 8 MiB over
 * four channels peaked at 175 MB of RSS for a 1 GiB copy, 4 MiB at 129 MB,
 * no slower (docs/sftp.md); 4 MiB still covers a 30 ms, 1 Gb/s path.
 */
const bytesInFlightPerChannel = 2 * 1024 * 1024
const bytesInFlightPerTransfer = 4 * 1024 * 1024

/** The largest power of two that is at most `n`. */
const floorPowerOfTwo = (n: number): number => 2 ** Math.floor(Math.log2(n))

/**
 * The request size and count for these sessions. The size is a power of two
 * (OpenSSH's limit is 255 KiB, which would split every 256 KiB chunk of a
 * stream into a request and a sliver, and copy each into a new block).
 */
export const pipelineFor = (
  sessions: ReadonlyArray<Session>,
  tuning: TransferTuning,
  write: boolean
): PipelineOptions => {
  const serverMax = Math.min(...sessions.map((s) => (write ? s.maxWrite : s.maxRead)))
  const requestSize = floorPowerOfTwo(Math.max(1024, Math.min(tuning.requestSize ?? 256 * 1024, serverMax)))
  const perChannel = Math.min(bytesInFlightPerChannel, bytesInFlightPerTransfer / sessions.length)
  const maxRequests = tuning.maxRequests ?? Math.max(4, Math.ceil(perChannel / requestSize))
  return { requestSize, maxRequests }
}

const isFailure = (e: FileSystemError.FileSystemError): boolean =>
  e.reason._tag === "Io" && statusOf(e.reason.cause) === Status.FAILURE

const isNotFound = (e: FileSystemError.FileSystemError): boolean => e.reason._tag === "NotFound"

const withReason = (
  e: FileSystemError.FileSystemError,
  tag: FileSystemError.ReasonTag,
  description?: string
): FileSystemError.FileSystemError =>
  FileSystemError.make(tag, {
    path: e.reason.path,
    operation: e.reason.operation,
    description: description ?? e.reason.description,
    cause: e.reason.cause
  })

/** `lstat` that answers `None` when nothing is there (or it cannot be looked at). */
const probe = (session: Session, path: string): Effect.Effect<Option.Option<Stats>> =>
  Effect.option(session.lstat(path))

/** Refines a FAILURE status with what is at `path` and its parent. */
const refine = (
  session: Session,
  path: string,
  classify: (self: Option.Option<Stats>, parent: Option.Option<Stats>) => FileSystemError.ReasonTag | undefined
) =>
(e: FileSystemError.FileSystemError): Effect.Effect<never, FileSystemError.FileSystemError> =>
  Effect.flatMap(
    Effect.all([probe(session, path), probe(session, posix.dirname(path))], { concurrency: "unbounded" }),
    ([self, parent]) => {
      const tag = classify(self, parent)
      return Effect.fail(tag === undefined ? e : withReason(e, tag))
    }
  )

const isDirStats = (s: Option.Option<Stats>) => Option.isSome(s) && typeOf(s.value) === "Directory"
const notDirStats = (s: Option.Option<Stats>) => Option.isSome(s) && typeOf(s.value) !== "Directory"

/** Builds the backend primitives. */
export const makeBackend = (options: {
  readonly channels: Channels
  readonly location: string
  readonly tuning: TransferTuning
}): Omit<Backend, "protocol" | "location" | "features"> & {
  readonly readStreamWith: (
    sessions: ReadonlyArray<Session>,
    path: string,
    info: FileInfo,
    pool?: BufferPool
  ) => Stream.Stream<Uint8Array, FileSystemError.FileSystemError>
  readonly writeStreamWith: <E>(
    sessions: ReadonlyArray<Session>,
    path: string,
    data: Stream.Stream<Uint8Array, E>,
    mode: number | undefined,
    onWritten?: (bytes: number) => void,
    onSent?: (data: Uint8Array) => void
  ) => Effect.Effect<number, FileSystemError.FileSystemError | E>
  readonly readable: (path: string, info: FileInfo) => Effect.Effect<void, FileSystemError.FileSystemError>
  readonly openFile: (
    session: Session,
    path: string,
    flags: number,
    mode: number | undefined,
    operation: string
  ) => Effect.Effect<Buffer, FileSystemError.FileSystemError>
  readonly openForWrite: (
    path: string,
    mode: number | undefined
  ) => (session: Session) => Effect.Effect<Buffer, FileSystemError.FileSystemError>
  readonly renameWith: (session: Session, from: string, to: string) => Effect.Effect<void, FileSystemError.FileSystemError>
} => {
  const { channels, tuning } = options
  const main = channels.main

  /** A public primitive: a span named after it, on the current main channel. */
  const traced = <Args extends Array<unknown>, A>(
    name: string,
    f: (session: Session, ...args: Args) => Effect.Effect<A, FileSystemError.FileSystemError>
  ) =>
    Effect.fn(name)(function*(...args: Args) {
      const session = yield* main
      return yield* f(session, ...args)
    })

  /**
   * OpenSSH answers ELOOP with "no such file", like a missing entry. A stat
   * that fails so on a link follows the chain to tell a loop (`LinkLoop`)
   * from a broken link (`NotFound`); on anything else it costs nothing more.
   */
  const loopOrMissing = (session: Session, path: string) => (e: FileSystemError.FileSystemError) =>
    Effect.gen(function*() {
      const seen = new Set<string>()
      let current = path
      for (let hop = 0; hop <= maxLinkHops; hop++) {
        const info = yield* probe(session, current)
        if (Option.isNone(info) || typeOf(info.value) !== "SymbolicLink") return yield* Effect.fail(e)
        if (seen.has(current)) break
        seen.add(current)
        const text = yield* Effect.orElseSucceed(
          session.call<string>({ operation: "readlink", path: current }, (cb) => session.sftp.readlink(current, cb)),
          () => undefined
        )
        if (text === undefined) return yield* Effect.fail(e)
        current = posix.resolve(posix.dirname(current), text)
      }
      return yield* Effect.fail(withReason(e, "LinkLoop", "too many levels of symbolic links"))
    })

  const stat = traced("SftpFileSystem.stat", (session, path: string) =>
    Effect.map(session.stat(path).pipe(Effect.catchIf(isNotFound, loopOrMissing(session, path))), toFileInfo))

  const lstat = traced("SftpFileSystem.lstat", (session, path: string) => Effect.map(session.lstat(path), toFileInfo))

  const readDirectoryWith = (session: Session, path: string) =>
    session.call<ReadonlyArray<DirectoryEntry>>({ operation: "readDirectory", path }, (cb) =>
      session.sftp.readdir(path, (error, list) =>
        cb(error, error ? [] : list.map((entry) => ({ name: entry.filename, info: toFileInfo(entry.attrs) }))))
    ).pipe(
      // OpenSSH reports opendir(2) on a non-directory (ENOTDIR) as "no such file"
      Effect.catchIf(
        (e) => isNotFound(e) || isFailure(e),
        refine(session, path, (self) => (notDirStats(self) ? "NotADirectory" : undefined))
      )
    )

  const readDirectory = traced("SftpFileSystem.readDirectory", readDirectoryWith)

  const makeDirectoryWith = (session: Session, path: string, mode: number | undefined) =>
    session.call<void>(
      { operation: "mkdir", path },
      (cb) => session.sftp.mkdir(path, mode === undefined ? {} : { mode: mode & 0o7777 }, (e) => cb(e, undefined))
    ).pipe(
      Effect.catchIf(
        (e) => isFailure(e) || isNotFound(e),
        refine(session, path, (self, parent) =>
          Option.isSome(self) ? "AlreadyExists" : notDirStats(parent) ? "NotADirectory" : undefined)
      )
    )

  const makeDirectory = traced("SftpFileSystem.makeDirectory", makeDirectoryWith)

  const removeDirectoryWith = (session: Session, path: string) =>
    session.call<void>({ operation: "rmdir", path }, (cb) => session.sftp.rmdir(path, (e) => cb(e, undefined))).pipe(
      Effect.catchIf(
        (e) => isFailure(e) || isNotFound(e),
        refine(session, path, (self) =>
          isDirStats(self) ? "DirectoryNotEmpty" : notDirStats(self) ? "NotADirectory" : undefined)
      )
    )

  const removeDirectory = traced("SftpFileSystem.removeDirectory", removeDirectoryWith)

  const unlinkWith = (session: Session, path: string) =>
    session.call<void>({ operation: "unlink", path }, (cb) => session.sftp.unlink(path, (e) => cb(e, undefined))).pipe(
      Effect.catchIf(
        (e) => isFailure(e) || e.reason._tag === "PermissionDenied",
        refine(session, path, (self) => (isDirStats(self) ? "IsADirectory" : undefined))
      )
    )

  const unlink = traced("SftpFileSystem.unlink", unlinkWith)

  /** Removes a tree without following links, many requests at a time. */
  const removeTreeWith = (session: Session, path: string): Effect.Effect<void, FileSystemError.FileSystemError> =>
    Effect.gen(function*() {
      const entries = yield* readDirectoryWith(session, path)
      yield* Effect.forEach(entries, (entry) => {
        const child = posix.join(path, entry.name)
        return entry.info.type === "Directory" ? removeTreeWith(session, child) : unlinkWith(session, child)
      }, { concurrency: 16, discard: true })
      yield* removeDirectoryWith(session, path)
    })

  const removeTree = traced("SftpFileSystem.removeTree", removeTreeWith)

  const openFile = (session: Session, path: string, flags: number, mode: number | undefined, operation: string) =>
    session.open(path, flags, mode, operation).pipe(
      Effect.catchIf(
        (e) => isFailure(e) || isNotFound(e),
        refine(session, path, (self, parent) =>
          isDirStats(self) ? "IsADirectory" : notDirStats(parent) ? "NotADirectory" : undefined)
      )
    )

  const closeQuietly = (session: Session, handle: Buffer, path: string) => Effect.ignore(session.closeHandle(handle, path))

  const touchWith = (session: Session, path: string) => {
    const now = new Date()
    return session.call<void>(
      { operation: "touch", path },
      (cb) => session.sftp.utimes(path, now, now, (e) => cb(e, undefined))
    ).pipe(
      Effect.catchIf(isNotFound, () =>
        Effect.flatMap(
          openFile(session, path, OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.APPEND, undefined, "touch"),
          (handle) => session.closeHandle(handle, path)
        ))
    )
  }

  const touch = traced("SftpFileSystem.touch", touchWith)

  const renameWith = (session: Session, from: string, to: string): Effect.Effect<void, FileSystemError.FileSystemError> => {
    const context = { operation: "rename", path: from }
    // ENOTDIR arrives as "no such file" and EISDIR, ENOTEMPTY as FAILURE: look at both ends to say which
    const classify = (e: FileSystemError.FileSystemError) =>
      Effect.flatMap(
        Effect.all([probe(session, from), probe(session, to), probe(session, posix.dirname(to))], {
          concurrency: "unbounded"
        }),
        ([source, target, parent]) => {
          if (Option.isNone(source)) return Effect.fail(withReason(e, "NotFound"))
          if (isDirStats(target)) {
            return Effect.fail(withReason(e, isDirStats(source) ? "DirectoryNotEmpty" : "IsADirectory", `target ${to}`))
          }
          if (notDirStats(target) && isDirStats(source)) return Effect.fail(withReason(e, "NotADirectory", `target ${to}`))
          if (Option.isNone(parent)) return Effect.fail(withReason(e, "NotFound", `target ${to}`))
          if (notDirStats(parent)) return Effect.fail(withReason(e, "NotADirectory", `target ${to}`))
          return Effect.fail(e)
        }
      )
    if (session.has("posix-rename@openssh.com")) {
      return session.call<void>(context, (cb) => session.sftp.ext_openssh_rename(from, to, (e) => cb(e, undefined))).pipe(
        Effect.catchIf((e) => isFailure(e) || isNotFound(e), classify)
      )
    }
    // Plain SFTP RENAME refuses an existing target; replace a non-directory by removing it first (not atomic)
    const plain = session.call<void>(context, (cb) => session.sftp.rename(from, to, (e) => cb(e, undefined)))
    return plain.pipe(
      Effect.catchIf(isNotFound, classify),
      Effect.catchIf(isFailure, (e) =>
        Effect.flatMap(Effect.all([probe(session, from), probe(session, to)]), ([source, target]) =>
          Option.isSome(source) && notDirStats(target) && !isDirStats(source)
            ? Effect.andThen(unlinkWith(session, to), Effect.catchIf(plain, (e) => isFailure(e) || isNotFound(e), classify))
            : classify(e)))
    )
  }

  const rename = traced("SftpFileSystem.rename", renameWith)

  const symlink = traced("SftpFileSystem.symlink", (session, path: string, target: string) =>
    // ssh2 puts the arguments in the order OpenSSH's server expects (it swaps them against the draft)
    session.call<void>(
      { operation: "symlink", path },
      (cb) => session.sftp.symlink(target, path, (e) => cb(e, undefined))
    ).pipe(
      Effect.catchIf(
        (e) => isFailure(e) || isNotFound(e),
        refine(session, path, (self, parent) =>
          Option.isSome(self) ? "AlreadyExists" : notDirStats(parent) ? "NotADirectory" : undefined)
      )
    ))

  const readLink = traced("SftpFileSystem.readLink", (session, path: string) =>
    session.call<string>({ operation: "readlink", path }, (cb) => session.sftp.readlink(path, cb)).pipe(
      // readlink(2) on something that is not a link is EINVAL, which OpenSSH sends as BAD_MESSAGE
      Effect.mapError((e) =>
        e.reason._tag === "Io" && statusOf(e.reason.cause) === Status.BAD_MESSAGE
          ? withReason(e, "Io", "not a symbolic link")
          : e
      )
    ))

  const chmod = traced("SftpFileSystem.chmod", (session, path: string, mode: number) =>
    session.call<void>(
      { operation: "chmod", path },
      (cb) => session.sftp.setstat(path, { mode: mode & 0o7777 }, (e) => cb(e, undefined))
    ))

  /** Checks that `info` (from `stat`) is something that can be read without blocking the server. */
  const readable = (path: string, info: FileInfo): Effect.Effect<void, FileSystemError.FileSystemError> => {
    if (info.type === "Directory") {
      return Effect.fail(FileSystemError.make("IsADirectory", { path, operation: "readStream" }))
    }
    if (info.type === "Fifo" || info.type === "Socket") {
      // opening a FIFO blocks OpenSSH's single-threaded sftp-server, and with it every request on the channel
      return Effect.fail(FileSystemError.make("Unsupported", {
        path,
        operation: "readStream",
        description: `cannot read a ${info.type === "Fifo" ? "FIFO" : "socket"} over SFTP`
      }))
    }
    return Effect.void
  }

  /** Opens `path` on each session (a lane per channel), closing the handles with the scope. */
  const openLanes = (
    sessions: ReadonlyArray<Session>,
    path: string,
    openFirst: (session: Session) => Effect.Effect<Buffer, FileSystemError.FileSystemError>,
    otherFlags: number,
    operation: string
  ): Effect.Effect<Array<Lane>, FileSystemError.FileSystemError, Scope.Scope> =>
    Effect.gen(function*() {
      const [first, ...rest] = sessions
      const lane = (session: Session, open: Effect.Effect<Buffer, FileSystemError.FileSystemError>) =>
        Effect.map(
          Effect.acquireRelease(open, (h) => closeQuietly(session, h, path)),
          (handle): Lane => ({ session, handle })
        )
      // the first open creates (or truncates) the file; the others only open what it made
      const head = yield* lane(first!, openFirst(first!))
      const others = yield* Effect.forEach(
        rest,
        (session) => lane(session, openFile(session, path, otherFlags, undefined, operation)),
        { concurrency: "unbounded" }
      )
      return [head, ...others]
    })

  /**
   * Opens `path` for writing, created new or truncated. The exclusive create
   * comes first because it never blocks: opening an existing FIFO would
   * block OpenSSH's single-threaded server (and every request on the channel)
   * until a reader came, so an existing entry is looked at before it is
   * truncated.
   */
  const openForWrite = (path: string, mode: number | undefined) => (session: Session) =>
    session.open(path, OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.EXCL, mode, "writeStream").pipe(
      Effect.catchIf(isFailure, (e) =>
        Effect.gen(function*() {
          const existing = yield* Effect.exit(session.stat(path))
          if (Exit.isSuccess(existing)) {
            const type = typeOf(existing.value)
            if (type === "Directory") return yield* withReason(e, "IsADirectory")
            if (type === "Fifo" || type === "Socket") {
              return yield* withReason(e, "Unsupported", `cannot write to a ${type === "Fifo" ? "FIFO" : "socket"} over SFTP`)
            }
          }
          return yield* openFile(session, path, OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.TRUNC, mode, "writeStream")
        })),
      Effect.catchIf(isNotFound, refine(session, path, (_, parent) => (notDirStats(parent) ? "NotADirectory" : undefined)))
    )

  const readStreamWith = (
    sessions: ReadonlyArray<Session>,
    path: string,
    info: FileInfo,
    pool?: BufferPool
  ): Stream.Stream<Uint8Array, FileSystemError.FileSystemError> =>
    Stream.scoped(Stream.fromPull(Effect.gen(function*() {
      yield* readable(path, info)
      const lanes = yield* openLanes(
        sessions,
        path,
        (session) => openFile(session, path, OpenFlags.READ, undefined, "readStream"),
        OpenFlags.READ,
        "readStream"
      )
      const reader = new PipelinedReader(lanes, path, info.size, pipelineFor(sessions, tuning, false), pool)
      yield* Effect.addFinalizer(() => Effect.sync(() => reader.dispose()))
      return reader.pull
    })))

  /** How many channels a file of this size is spread over. */
  const stripesFor = (size: number) => (size >= tuning.stripeSize ? tuning.stripes : 1)

  const readStream = (path: string, _options?: ReadStreamOptions) =>
    Stream.unwrap(Effect.gen(function*() {
      const session = yield* main
      const info = toFileInfo(yield* session.stat(path))
      yield* readable(path, info)
      const sessions = yield* channels.lease(stripesFor(info.size))
      return readStreamWith(sessions, path, info)
    })).pipe(
      Stream.scoped,
      Stream.withSpan("SftpFileSystem.readStream", { attributes: { path } })
    )

  /** Writes `data` to `path`, striped over the sessions; returns the number of bytes written. */
  const writeStreamWith = <E>(
    sessions: ReadonlyArray<Session>,
    path: string,
    data: Stream.Stream<Uint8Array, E>,
    mode: number | undefined,
    onWritten?: (bytes: number) => void,
    onSent?: (data: Uint8Array) => void
  ): Effect.Effect<number, FileSystemError.FileSystemError | E> =>
    Effect.scoped(Effect.gen(function*() {
      const lanes = yield* openLanes(
        sessions,
        path,
        openForWrite(path, mode === undefined ? undefined : mode & 0o7777),
        OpenFlags.WRITE,
        "writeStream"
      )
      const writer = new PipelinedWriter(lanes, path, pipelineFor(sessions, tuning, true), onWritten, onSent)
      yield* Effect.addFinalizer(() => Effect.sync(() => writer.dispose()))
      yield* Stream.runForEachArray(data, (chunks) => writer.push(chunks))
      const written = yield* writer.finish()
      // the server reports some write errors (quota, NFS) only when the handle is closed
      yield* Effect.forEach(lanes, (lane) => lane.session.closeHandle(lane.handle, path), {
        concurrency: "unbounded",
        discard: true
      })
      return written
    }))

  const writeStream = <E>(path: string, data: Stream.Stream<Uint8Array, E>, options?: WriteStreamOptions) =>
    Effect.scoped(
      Effect.flatMap(channels.lease(1), (sessions) => writeStreamWith(sessions, path, data, options?.mode))
    ).pipe(Effect.asVoid, Effect.withSpan("SftpFileSystem.writeStream", { attributes: { path } }))

  return {
    stat,
    lstat,
    readDirectory,
    makeDirectory,
    removeDirectory,
    removeTree,
    unlink,
    touch,
    rename,
    symlink,
    readLink,
    chmod,
    readStream,
    writeStream,
    readStreamWith,
    writeStreamWith,
    renameWith,
    readable,
    openFile,
    openForWrite
  }
}
