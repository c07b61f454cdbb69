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
import type { Backend, TransferOptions } from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import * as Effect from "effect/Effect"
import type { makeBackend, TransferTuning } from "./sftpBackend.ts"
import { pipelineFor } from "./sftpBackend.ts"
import type { Channels } from "./sftpChannels.ts"
import * as LocalFile from "./localFile.ts"
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

/** The hooks of one SFTP file system. */
export const makeHooks = (self: Internals) => {
  const { backend, channels, tuning } = self

  /** Server-side copy with the `copy-data` extension (OpenSSH 9.0+). */
  const copyFile = Effect.fn("SftpFileSystem.copyFile")(function*(from: string, to: string, options?: TransferOptions) {
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
      // length 0: to the end of the source
      yield* s.call<void>(
        { operation: "copyFile", path: to },
        (cb) => s.sftp.ext_copy_data(source, 0, 0, target, 0, (e) => cb(e, undefined))
      )
      yield* s.closeHandle(target, to)
      progress(options)(info.size)
    }))
  })

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
    return Effect.scoped(Effect.gen(function*() {
      const main = yield* channels.main
      const info = toFileInfo(yield* main.stat(from))
      yield* backend.readable(from, info)
      const sessions = yield* channels.lease(stripesFor(tuning, info.size))
      const data = backend.readStreamWith(sessions, from, info)
      if (peer === undefined) {
        yield* LocalFile.writeFile(to, options?.mode, data, onProgress)
      } else {
        const targetSessions = yield* peer.channels.lease(stripesFor(peer.tuning, info.size))
        yield* peer.backend.writeStreamWith(targetSessions, to, data, options?.mode, onProgress)
      }
    })).pipe(Effect.withSpan("SftpFileSystem.sendTo", { attributes: { from, to, target: target.protocol } }))
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
    return Effect.scoped(Effect.gen(function*() {
      const local = yield* LocalFile.openSource(from)
      const sessions = yield* channels.lease(stripesFor(tuning, local.size))
      const { requestSize } = pipelineFor(sessions, tuning, true)
      yield* backend.writeStreamWith(
        sessions,
        to,
        LocalFile.readChunks(local, from, requestSize),
        options?.mode,
        onProgress
      )
    })).pipe(Effect.withSpan("SftpFileSystem.receiveFrom", { attributes: { from, to } }))
  }

  return {
    copyFile: channels.has("copy-data") ? copyFile : undefined,
    sendTo,
    receiveFrom
  }
}
