/**
 * The fast paths `copy` uses for SFTP (see `Backend.copyFile`, `sendTo`,
 * `receiveFrom` in @cerulean/core):
 *
 * - within one SFTP server: the server copies (`copy-data` extension), no
 *   byte passes through the client;
 * - SFTP to local and local to SFTP: the pipelined transfer reads or writes
 *   the local file directly, large files striped over several channels;
 * - SFTP to another SFTP server: pipelined download piped into a pipelined
 *   upload, each on its own connection's channels.
 *
 * Every hook leases its channels for the transfer, so the files `copy` runs
 * at once spread over the connection's SFTP channels.
 *
 * @internal
 */
import type { Backend, BatchFile, BatchOptions, BatchOutcome, FileInfo, TransferOptions } from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import * as Effect from "effect/Effect"
import type { makeBackend, TransferTuning } from "./sftpBackend.ts"
import { pipelineFor } from "./sftpBackend.ts"
import type { Channels } from "./sftpChannels.ts"
import { BufferPool } from "./sftpPipeline.ts"
import * as LocalFile from "./localFile.ts"
import * as SmallFile from "./smallFile.ts"
import { OpenFlags, type Session, toFileInfo } from "./sftpSession.ts"

/** What a hook needs of an SFTP file system (its own, or the peer of an SFTP-to-SFTP copy). */
export interface Internals {
  readonly channels: Channels
  readonly backend: ReturnType<typeof makeBackend>
  readonly tuning: TransferTuning
}

/** The internals behind each SFTP `FileSystem` value, for SFTP-to-SFTP copies between connections. */
export const registry = new WeakMap<object, Internals>()

const stripesFor = (tuning: TransferTuning, size: number) => (size >= tuning.stripeSize ? tuning.stripes : 1)

const progress = (options: TransferOptions | undefined) => options?.onProgress ?? (() => {})

/** Bytes per server-side `copy-data` request. */
const copyPiece = 16 * 1024 * 1024

/** Logs a finished transfer at Debug: what, how much, how fast, over how many channels. */
const logTransfer = (direction: string, path: string, bytes: number, start: number, channels: number) =>
  Effect.logDebug(`SFTP ${direction} done`).pipe(Effect.annotateLogs({
    path,
    bytes,
    seconds: ((performance.now() - start) / 1000).toFixed(3),
    channels
  }))

/** The hooks of one SFTP file system. */
export const makeHooks = (self: Internals) => {
  const { backend, channels, tuning } = self

  /** Server-side copy with the `copy-data` extension (OpenSSH 9.0+). */
  const copyFile = Effect.fn("SftpFileSystem.copyFile")(function*(from: string, to: string, options?: TransferOptions) {
    const onProgress = progress(options)
    yield* Effect.scoped(Effect.gen(function*() {
      const [session] = yield* channels.lease(1)
      const s: Session = session!
      const info = toFileInfo(yield* s.stat(from))
      yield* backend.readable(from, info)
      const source = yield* Effect.acquireRelease(
        backend.openFile(s, from, OpenFlags.READ, undefined, "copyFile"),
        (h) => Effect.ignore(s.closeHandle(h, from))
      )
      const target = yield* Effect.acquireRelease(
        backend.openForWrite(to, options?.mode)(s),
        (h) => Effect.ignore(s.closeHandle(h, to))
      )
      // In pieces, two outstanding: progress shows as the server copies, an interruption stops it between two
      // pieces, and other requests on the channel wait at most for one piece (the server does one at a time).
      const copyData = (offset: number, length: number) =>
        s.call<void>(
          { operation: "copyFile", path: to },
          (cb) => s.sftp.ext_copy_data(source, offset, length, target, offset, (e) => cb(e, undefined))
        )
      const pieces: Array<readonly [number, number]> = []
      for (let offset = 0; offset < info.size; offset += copyPiece) {
        pieces.push([offset, Math.min(copyPiece, info.size - offset)])
      }
      yield* Effect.forEach(pieces, ([offset, length]) =>
        Effect.andThen(copyData(offset, length), Effect.sync(() => onProgress(length))), {
        concurrency: 2,
        discard: true
      })
      // length 0 copies to the end: whatever the file grew by since the stat
      yield* copyData(info.size, 0)
      yield* s.closeHandle(target, to)
    }))
  })

  /**
   * The largest file (exclusive) the small-file paths take in each direction:
   * one request, as the main channel's server allows (every channel talks to
   * the same server), so larger files skip the attempt.
   */
  const smallLimit = (write: boolean): Effect.Effect<number, FileSystemError.FileSystemError> =>
    Effect.map(channels.main, (main) => pipelineFor([main], tuning, write).requestSize)

  /** What a small transfer reports to copy, as a batch's outcome. */
  const outcome = (small: SmallFile.SmallResult, bytes: number): BatchOutcome => ({
    transferred: small !== "large",
    bytes,
    createdWithMode: small === "created" || small === "renamed",
    renamed: small === "renamed"
  })

  /** What a small transfer reports to copy, through a single file's hook options. */
  const report = (small: SmallFile.SmallResult, options: TransferOptions | undefined) => {
    const { createdWithMode, renamed } = outcome(small, 0)
    if (createdWithMode) options?.onCreatedWithMode?.()
    if (renamed) options?.onRenamed?.()
  }

  /**
   * A file smaller than one request, as one callback chain on one leased
   * channel: no span and no stat per file (a tree of small files is bound by
   * the client's work per file). "large" when it is not such a file.
   */
  const small = (
    write: boolean,
    size: number | undefined,
    run: (session: Session, maxSize: number) => Effect.Effect<SmallFile.SmallResult, FileSystemError.FileSystemError>
  ): Effect.Effect<SmallFile.SmallResult, FileSystemError.FileSystemError> =>
    Effect.flatMap(smallLimit(write), (maxSize) =>
      size !== undefined && size >= maxSize
        ? Effect.succeed("large")
        : channels.withLease(1, (sessions) => run(sessions[0]!, maxSize)))

  /** This file system's file to another: local (written directly) or another SFTP server. */
  const sendTo = (
    from: string,
    target: Backend,
    to: string,
    options?: TransferOptions
  ): Effect.Effect<void, FileSystemError.FileSystemError> | undefined => {
    const peer = registry.get(target)
    if (target.protocol !== "local" && peer === undefined) return undefined
    const onProgress = progress(options)
    const general = () => Effect.scoped(Effect.gen(function*() {
      // copy's plan found a regular file of this size: its hint spares a stat (a file that changed since is
      // still read to its real end)
      const hint = options?.size
      const info: FileInfo = hint !== undefined
        ? { type: "File", size: hint, mode: 0, uid: 0, gid: 0, mtime: undefined, atime: undefined }
        : toFileInfo(yield* Effect.flatMap(channels.main, (main) => main.stat(from)))
      yield* backend.readable(from, info)
      const sessions = yield* channels.lease(stripesFor(tuning, info.size))
      if (peer === undefined && info.type === "File" && hint === undefined) {
        const { requestSize } = pipelineFor(sessions, tuning, false)
        const result = yield* SmallFile.download(
          sessions[0]!,
          from,
          info.size,
          to,
          options?.mode,
          requestSize,
          onProgress,
          options?.renameTo
        )
        if (result !== "large") return report(result, options)
      }
      const start = performance.now()
      if (peer === undefined) {
        // the local writes hand the read buffers back: the transfer allocates a bounded set of them
        const { maxRequests, requestSize } = pipelineFor(sessions, tuning, false)
        const pool = new BufferPool(requestSize, 2 * maxRequests * sessions.length + 16)
        const data = backend.readStreamWith(sessions, from, info, pool)
        yield* LocalFile.writeFile(to, options?.mode, data, onProgress, (chunk) => pool.release(chunk))
      } else {
        const data = backend.readStreamWith(sessions, from, info)
        const targetSessions = yield* peer.channels.lease(stripesFor(peer.tuning, info.size))
        yield* peer.backend.writeStreamWith(targetSessions, to, data, options?.mode, onProgress)
      }
      yield* logTransfer(peer === undefined ? "download" : "transfer", from, info.size, start, sessions.length)
    })).pipe(Effect.withSpan("SftpFileSystem.sendTo", { attributes: { from, to, target: target.protocol } }))
    const hint = options?.size
    if (peer !== undefined || hint === undefined) return general()
    return Effect.flatMap(
      small(false, hint, (session, maxSize) =>
        SmallFile.download(session, from, hint, to, options?.mode, maxSize, onProgress, options?.renameTo)),
      (result) => {
        if (result === "large") return general()
        report(result, options)
        return Effect.void
      }
    )
  }

  /** A local file to this file system, read directly from disk. */
  const receiveFrom = (
    source: Backend,
    from: string,
    to: string,
    options?: TransferOptions
  ): Effect.Effect<void, FileSystemError.FileSystemError> | undefined => {
    if (source.protocol !== "local") return undefined
    const onProgress = progress(options)
    const general = () => Effect.scoped(Effect.gen(function*() {
      const local = yield* LocalFile.openSource(from)
      const sessions = yield* channels.lease(local.size >= tuning.stripeSize ? tuning.stripes : 1)
      const start = performance.now()
      const { maxRequests, requestSize } = pipelineFor(sessions, tuning, true)
      // each read buffer comes back once its write is acknowledged: a bounded set of them for the whole file
      const pool = new BufferPool(requestSize, 2 * maxRequests * sessions.length + 16)
      yield* backend.writeStreamWith(
        sessions,
        to,
        LocalFile.readChunks(local, from, requestSize, (length) => pool.take(length)),
        options?.mode,
        onProgress,
        (data) => pool.release(data)
      )
      yield* logTransfer("upload", to, local.size, start, sessions.length)
    })).pipe(Effect.withSpan("SftpFileSystem.receiveFrom", { attributes: { from, to } }))
    return Effect.flatMap(
      small(true, options?.size, (session, maxSize) =>
        SmallFile.upload(session, from, to, options?.mode, maxSize, onProgress, options?.renameTo)),
      (result) => {
        if (result === "large") return general()
        report(result, options)
        return Effect.void
      }
    )
  }

  /**
   * A batch of files between the local disk and this server, each smaller
   * than one request, through one small-file engine over a few leased
   * channels (one per 8 files in flight, at most `stripes`): larger files are
   * left to copy at once, without a lease.
   */
  const many = (
    write: boolean,
    files: ReadonlyArray<BatchFile>,
    options: BatchOptions,
    run: typeof SmallFile.uploadMany
  ): Effect.Effect<void, FileSystemError.FileSystemError> =>
    Effect.gen(function*() {
      const maxSize = yield* smallLimit(write)
      const small: Array<number> = []
      for (let i = 0; i < files.length; i++) {
        if (files[i]!.size < maxSize) small.push(i)
        else options.onEnd(i, outcome("large", 0))
      }
      if (small.length === 0) return
      const start = performance.now()
      let bytes = 0
      const count = Math.max(1, Math.min(tuning.stripes, Math.ceil(Math.min(options.concurrency, small.length) / 8)))
      yield* Effect.scoped(Effect.flatMap(channels.lease(count), (sessions) =>
        run(sessions, small.map((i) => files[i]!), {
          concurrency: options.concurrency,
          maxSize,
          onStart: (k) => options.onStart(small[k]!),
          onEnd: (k, result, written) => {
            bytes += written
            options.onEnd(small[k]!, outcome(result, written))
          }
        })))
      yield* Effect.logDebug(`SFTP ${write ? "upload" : "download"} of small files done`).pipe(Effect.annotateLogs({
        files: small.length,
        bytes,
        seconds: ((performance.now() - start) / 1000).toFixed(3),
        channels: count
      }))
    })

  /** This server's files to the local disk, as a batch. */
  const sendManyTo = (
    files: ReadonlyArray<BatchFile>,
    target: Backend,
    options: BatchOptions
  ): Effect.Effect<void, FileSystemError.FileSystemError> | undefined =>
    target.protocol !== "local"
      ? undefined
      : many(false, files, options, SmallFile.downloadMany).pipe(
        Effect.withSpan("SftpFileSystem.sendManyTo", { attributes: { files: files.length } })
      )

  /** Local files to this server, as a batch. */
  const receiveManyFrom = (
    source: Backend,
    files: ReadonlyArray<BatchFile>,
    options: BatchOptions
  ): Effect.Effect<void, FileSystemError.FileSystemError> | undefined =>
    source.protocol !== "local"
      ? undefined
      : many(true, files, options, SmallFile.uploadMany).pipe(
        Effect.withSpan("SftpFileSystem.receiveManyFrom", { attributes: { files: files.length } })
      )

  return {
    copyFile: channels.has("copy-data") ? copyFile : undefined,
    sendTo,
    receiveFrom,
    sendManyTo,
    receiveManyFrom
  }
}
