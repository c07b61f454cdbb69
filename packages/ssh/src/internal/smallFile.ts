/**
 * Whole-file transfers between the local disk and SFTP for files that fit in
 * one READ or WRITE request, as one callback chain per file: open, one
 * request, close. A tree of small files is bound by the client's work per
 * file, and this path does a handful of callbacks per file where the general
 * pipelined path runs dozens of effects.
 *
 * The local side reads, writes, closes and renames with node:fs's
 * synchronous calls: for a file of one request (at most 128 KiB on OpenSSH)
 * each takes microseconds, less than a round trip through libuv's thread
 * pool on a busy machine (measured: ~0.2 s of client CPU and wall time less
 * for 5,000 files each way). Only the creation of a local file moves to the
 * thread pool when it turns out slow: ext4 without a journal scans past
 * recently deleted inodes (0.3 ms per file measured here after a tree was
 * removed), and there the pool spreads the creations over the cores while
 * the event loop keeps the SFTP requests moving (5,000 files down: 2.6 s
 * instead of 4.1 s).
 *
 * Interrupting waits for the requests in flight to settle and closes every
 * handle opened, so what is left at the target (a temporary name, for
 * `copy`) can be removed right after.
 *
 * @internal
 */
import * as FileSystemError from "@cerulean/core/FileSystemError"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as NFS from "node:fs"
import { OpenFlags, type Session } from "./sftpSession.ts"

const localReason = (error: NodeJS.ErrnoException): FileSystemError.ReasonTag => {
  switch (error.code) {
    case "ENOENT":
      return "NotFound"
    case "EEXIST":
      return "AlreadyExists"
    case "ENOTDIR":
      return "NotADirectory"
    case "EISDIR":
      return "IsADirectory"
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return "PermissionDenied"
    case "ELOOP":
      return "LinkLoop"
    default:
      return "Io"
  }
}

const localError = (operation: string, path: string, error: NodeJS.ErrnoException) =>
  FileSystemError.make(localReason(error), {
    path,
    operation,
    description: Predicate.isString(error.code) ? error.code : error.message,
    cause: error
  })

const isErrnoException = (u: unknown): u is NodeJS.ErrnoException =>
  u instanceof Error && (!Predicate.hasProperty(u, "code") || Predicate.isString(u.code))

/** One synchronous node:fs call, its exception as a `FileSystemError`. */
const local = <A>(operation: string, path: string, f: () => A): Effect.Effect<A, FileSystemError.FileSystemError> =>
  Effect.try({
    try: f,
    catch: (error) =>
      isErrnoException(error)
        ? localError(operation, path, error)
        : FileSystemError.make("Io", { path, operation, description: String(error), cause: error })
  })

/**
 * What a small transfer ends with: done, with whether the file was created
 * new with the mode asked for (so its bits are that mode less the umask) and
 * whether it was then renamed to its final name, or "not small" (having done
 * nothing: use the general path), or a failure.
 */
export type SmallResult = "renamed" | "created" | "done" | "large"

/**
 * Where a small transfer may put the file once complete: `to` is renamed to
 * this path (replacing a non-directory) when the file was created new with
 * the mode asked for and its data and close were acknowledged. A failed
 * rename leaves `to` in place ("created"), for the caller's own rename to
 * report why.
 */
export type RenameTo = string | undefined

/**
 * Runs a callback chain as an Effect. `step` gets `finish` (call once) and
 * `track` (wrap every callback, so interruption can wait for the pending ones).
 * If the channel closes, ssh2 may never call back: the chain then fails with
 * `ConnectionLost` and stops waiting for its SFTP callbacks.
 */
const chain = <A>(
  session: Session | undefined,
  context: { readonly operation: string; readonly path: string },
  step: (
    finish: (result: Effect.Effect<A, FileSystemError.FileSystemError>) => void,
    track: <Args extends Array<unknown>>(f: (...args: Args) => void) => (...args: Args) => void,
    cancelled: () => boolean
  ) => void
): Effect.Effect<A, FileSystemError.FileSystemError> =>
  Effect.callback<A, FileSystemError.FileSystemError>((resume) => {
    let pending = 0
    let cancelled = false
    let done = false
    let onSettled: (() => void) | undefined
    const finish = (result: Effect.Effect<A, FileSystemError.FileSystemError>) => {
      if (done) return
      done = true
      if (!cancelled) resume(result)
    }
    const track = <Args extends Array<unknown>>(f: (...args: Args) => void) => {
      pending++
      return (...args: Args) => {
        pending--
        f(...args)
        if (pending === 0 && onSettled !== undefined) onSettled()
      }
    }
    const removeCloseListener = session === undefined ? () => {} : session.whenClosed(() => {
      finish(Effect.fail(session.lost(context)))
      pending = 0
      if (onSettled !== undefined) onSettled()
    })
    step((result) => {
      removeCloseListener()
      finish(result)
    }, track, () => cancelled)
    return Effect.callback<void>((settled) => {
      cancelled = true
      removeCloseListener()
      if (pending === 0) return settled(Effect.void)
      onSettled = () => settled(Effect.void)
    })
  })

/**
 * The content of the local regular file `from` if it is smaller than
 * `maxSize` bytes, else `undefined` (a FIFO or device, a larger file). One
 * read of one byte more than the size: a short read proves the end.
 */
const readLocal = (from: string, maxSize: number): Effect.Effect<Buffer | undefined, FileSystemError.FileSystemError> =>
  Effect.uninterruptible(Effect.flatMap(
    // O_NONBLOCK: a FIFO put there since the plan is opened without waiting for a writer, then refused
    local("readStream", from, () => NFS.openSync(from, NFS.constants.O_RDONLY | NFS.constants.O_NONBLOCK)),
    (fd) =>
      local("readStream", from, () => {
        const stats = NFS.fstatSync(fd)
        if (!stats.isFile() || stats.size >= maxSize) return undefined
        const buffer = Buffer.allocUnsafe(stats.size + 1)
        const bytesRead = NFS.readSync(fd, buffer, 0, buffer.length, 0)
        return bytesRead > stats.size ? undefined : buffer.subarray(0, bytesRead)
      }).pipe(Effect.ensuring(Effect.ignore(local("close", from, () => NFS.closeSync(fd)))))
  ))

/**
 * Uploads the local file `from` to `to` if it fits in one WRITE of
 * `maxSize` bytes: "large" (having done nothing) otherwise. `to` is opened
 * with an exclusive create; an existing entry there also gives "large", for
 * the general path to deal with. The WRITE and the CLOSE leave together (the
 * server handles a channel's requests in order), so the file is done one
 * round trip after the OPEN is answered.
 */
export const upload = (
  session: Session,
  from: string,
  to: string,
  mode: number | undefined,
  maxSize: number,
  onProgress: (bytes: number) => void,
  renameTo: RenameTo
): Effect.Effect<SmallResult, FileSystemError.FileSystemError> =>
  Effect.flatMap(readLocal(from, maxSize), (data) => {
    if (data === undefined) return Effect.succeed<SmallResult>("large")
    const context = { operation: "writeStream", path: to }
    return chain<SmallResult>(session, context, (finish, track, cancelled) => {
      if (session.closed) return finish(Effect.fail(session.lost(context)))
      const flags = OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.EXCL
      const done: SmallResult = mode === undefined ? "done" : "created"
      // the plain RENAME of SFTP v3 refuses an existing target: only the POSIX one replaces in one request
      const rename = renameTo !== undefined && session.has("posix-rename@openssh.com") ? renameTo : undefined
      const opened = track((error: Error | null | undefined, handle: Buffer) => {
        if (error) {
          const e = session.error(error, context)
          // FAILURE (an existing entry, a non-directory parent, ...): the general path says which
          return finish(e.reason._tag === "Io" ? Effect.succeed("large") : Effect.fail(e))
        }
        let writeError: FileSystemError.FileSystemError | undefined
        const close = () =>
          session.sftp.close(handle, track((closeError: Error | null | undefined) => {
            // a failed write is the error to report; the server reports some write errors (quota, NFS) at close
            if (writeError !== undefined) return finish(Effect.fail(writeError))
            if (closeError) return finish(Effect.fail(session.error(closeError, { operation: "close", path: to })))
            if (rename === undefined || cancelled() || session.closed) return finish(Effect.succeed(done))
            session.batch()
            session.sftp.ext_openssh_rename(to, rename, track((renameError: Error | null | undefined) => {
              finish(Effect.succeed(renameError ? done : "renamed"))
            }))
          }))
        session.batch()
        if (data.length > 0 && !cancelled()) {
          session.sftp.write(handle, data, 0, data.length, 0, track((error: Error | null | undefined) => {
            if (error) writeError = session.error(error, context)
            else onProgress(data.length)
          }))
        }
        close()
      })
      session.batch()
      if (mode === undefined) session.sftp.open(to, flags, opened)
      else session.sftp.open(to, flags, { mode: mode & 0o7777 }, opened)
    })
  })

/**
 * How long creating a local file takes, in milliseconds: a moving average
 * over the synchronous creations. Files are created synchronously while that
 * is fast (tens of microseconds), through the thread pool once it is slow
 * (see above), with one synchronous creation every `probeEvery` files to
 * notice when it is fast again. One estimate for the process: it is a
 * property of the local disk, not of a connection.
 */
const creation = { average: 0, pooled: false, sinceProbe: 0 }

/** A creation slower than this on average moves to the thread pool. */
const slowCreation = 0.1

const probeEvery = 256

const createSync = (to: string, flags: number, mode: number) =>
  Effect.suspend(() => {
    const start = performance.now()
    return local("writeStream", to, () => NFS.openSync(to, flags, mode)).pipe(
      Effect.map((fd): number | undefined => {
        const took = performance.now() - start
        if (creation.pooled) {
          // a probe: one fast creation is enough to go back, one more slow one keeps the pool
          creation.pooled = took >= slowCreation
          creation.average = took
        } else {
          creation.average += (took - creation.average) / 16
          creation.pooled = creation.average >= slowCreation
        }
        return fd
      }),
      Effect.catchIf((e) => e.reason._tag === "AlreadyExists", () => Effect.succeed(undefined))
    )
  })

const createPooled = (to: string, flags: number, mode: number) =>
  Effect.callback<number | undefined, FileSystemError.FileSystemError>((resume) => {
    NFS.open(to, flags, mode, (error, fd) => {
      if (!error) return resume(Effect.succeed(fd))
      resume(error.code === "EEXIST" ? Effect.succeed(undefined) : Effect.fail(localError("writeStream", to, error)))
    })
  })

/**
 * Writes `data` to the new local file `to`, created with `mode`: "large"
 * (having written nothing) if something is there already, for the general
 * path, which truncates it.
 */
const writeLocal = (
  to: string,
  data: Buffer,
  mode: number | undefined,
  renameTo: RenameTo
): Effect.Effect<SmallResult, FileSystemError.FileSystemError> => {
  const c = NFS.constants
  const flags = c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW
  const pooled = creation.pooled && ++creation.sinceProbe % probeEvery !== 0
  const create = pooled ? createPooled(to, flags, mode ?? 0o666) : createSync(to, flags, mode ?? 0o666)
  let open = true
  const close = (fd: number) =>
    Effect.andThen(
      Effect.sync(() => {
        open = false
      }),
      local("writeStream", to, () => NFS.closeSync(fd))
    )
  const done: SmallResult = mode === undefined ? "done" : "created"
  return Effect.acquireUseRelease(
    // the acquisition waits for the open to finish even when interrupted, so the descriptor is always closed
    create,
    (fd) => {
      if (fd === undefined) return Effect.succeed<SmallResult>("large")
      return local("writeStream", to, () => {
        for (let written = 0; written < data.length;) {
          written += NFS.writeSync(fd, data, written, data.length - written, written)
        }
      }).pipe(
        // the kernel (NFS) may report a failed write only at close
        Effect.andThen(close(fd)),
        Effect.andThen(
          renameTo === undefined ? Effect.succeed(done) : local("rename", to, () => NFS.renameSync(to, renameTo)).pipe(
            Effect.as<SmallResult>("renamed"),
            Effect.orElseSucceed(() => done)
          )
        )
      )
    },
    (fd) => (fd === undefined || !open ? Effect.void : Effect.ignore(local("close", to, () => NFS.closeSync(fd))))
  )
}

/**
 * Downloads `from` (a regular file of `size` bytes, as a `stat` or copy's
 * plan said) into the new local file `to`, if it fits in one READ of
 * `maxSize` bytes and the server answers with exactly `size` bytes: "large"
 * (having written nothing) otherwise.
 */
export const download = (
  session: Session,
  from: string,
  size: number,
  to: string,
  mode: number | undefined,
  maxSize: number,
  onProgress: (bytes: number) => void,
  renameTo: RenameTo
): Effect.Effect<SmallResult, FileSystemError.FileSystemError> => {
  if (size >= maxSize) return Effect.succeed("large")
  const context = { operation: "readStream", path: from }
  const fetch = chain<Buffer | undefined>(session, context, (finish, track, cancelled) => {
    if (session.closed) return finish(Effect.fail(session.lost(context)))
    session.batch()
    session.sftp.open(from, OpenFlags.READ, track((openError: Error | null | undefined, handle: Buffer) => {
      if (openError) return finish(Effect.fail(session.error(openError, context)))
      const buffer = Buffer.allocUnsafe(size + 1)
      session.batch()
      const read = (readError: Error | null | undefined, bytesRead: number) => {
        if (readError) return finish(Effect.fail(session.error(readError, context)))
        // not the size expected (the file changed, or the server answered short): the general path reads it all
        finish(Effect.succeed(bytesRead !== size || cancelled() ? undefined : buffer.subarray(0, bytesRead)))
      }
      session.sftp.read(handle, buffer, 0, buffer.length, 0, track(read))
      // the READ is the last use of the handle: its CLOSE leaves with it and needs no waiting for
      session.sftp.close(handle, () => {})
    }))
  })
  return Effect.flatMap(fetch, (data) => {
    if (data === undefined) return Effect.succeed<SmallResult>("large")
    return Effect.map(writeLocal(to, data, mode, renameTo), (result) => {
      if (result !== "large") onProgress(data.length)
      return result
    })
  })
}
