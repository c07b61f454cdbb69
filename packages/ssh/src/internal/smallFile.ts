/**
 * Whole-file transfers between the local disk and SFTP for files that fit in
 * one READ or WRITE request, as one callback chain per file: open, one
 * request, close. A tree of small files is bound by the work per file, and
 * this path does a handful of callbacks per file where the general pipelined
 * path runs dozens of effects.
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

/** What a small transfer ends with: done, or "not small" (use the general path), or a failure. */
export type SmallResult = "done" | "large"

/**
 * Runs a callback chain as an Effect. `step` gets `finish` (call once) and
 * `track` (wrap every callback, so interruption can wait for the pending ones).
 * If the channel closes, ssh2 may never call back: the chain then fails with
 * `ConnectionLost` and stops waiting for its SFTP callbacks.
 */
const chain = <A>(
  session: Session,
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
    const removeCloseListener = session.whenClosed(() => {
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
 * Uploads the local file `from` to `to` if it fits in one WRITE of
 * `maxSize` bytes: "large" (having done nothing) otherwise. `to` is opened
 * with an exclusive create; an existing entry there also gives "large", for
 * the general path to deal with.
 */
export const upload = (
  session: Session,
  from: string,
  to: string,
  mode: number | undefined,
  maxSize: number,
  onProgress: (bytes: number) => void
): Effect.Effect<SmallResult, FileSystemError.FileSystemError> =>
  chain<SmallResult>(session, { operation: "writeStream", path: to }, (finish, track, cancelled) => {
    const c = NFS.constants
    NFS.open(from, c.O_RDONLY | c.O_NONBLOCK, track((openError: NodeJS.ErrnoException | null, fd: number) => {
      if (openError) return finish(Effect.fail(localError("readStream", from, openError)))
      const closeLocal = () => NFS.close(fd, track(() => {}))
      NFS.fstat(fd, track((statError: NodeJS.ErrnoException | null, stats: NFS.Stats) => {
        if (statError) {
          closeLocal()
          return finish(Effect.fail(localError("readStream", from, statError)))
        }
        if (!stats.isFile() || stats.size >= maxSize || cancelled()) {
          closeLocal()
          return finish(Effect.succeed("large"))
        }
        // one byte more than the size: a short read proves the end
        const buffer = Buffer.allocUnsafe(stats.size + 1)
        NFS.read(fd, buffer, 0, buffer.length, 0, track((readError: NodeJS.ErrnoException | null, bytesRead: number) => {
          closeLocal()
          if (readError) return finish(Effect.fail(localError("readStream", from, readError)))
          if (bytesRead > stats.size || cancelled()) return finish(Effect.succeed("large"))
          if (session.closed) return finish(Effect.fail(session.lost({ operation: "writeStream", path: to })))
          const flags = OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.EXCL
          const opened = track((error: Error | null | undefined, handle: Buffer) => {
            if (error) {
              const e = session.error(error, { operation: "writeStream", path: to })
              // FAILURE (an existing entry, a non-directory parent, ...): the general path says which
              return finish(e.reason._tag === "Io" ? Effect.succeed("large") : Effect.fail(e))
            }
            const close = (then: (error: FileSystemError.FileSystemError | undefined) => void) =>
              session.sftp.close(handle, track((closeError: Error | null | undefined) =>
                then(closeError ? session.error(closeError, { operation: "close", path: to }) : undefined)))
            if (bytesRead === 0 || cancelled()) {
              return close((e) => finish(e === undefined ? Effect.succeed("done") : Effect.fail(e)))
            }
            session.batch()
            session.sftp.write(handle, buffer, 0, bytesRead, 0, track((writeError: Error | null | undefined) => {
              if (writeError) {
                return close(() => finish(Effect.fail(session.error(writeError, { operation: "writeStream", path: to }))))
              }
              onProgress(bytesRead)
              close((e) => finish(e === undefined ? Effect.succeed("done") : Effect.fail(e)))
            }))
          })
          session.batch()
          if (mode === undefined) session.sftp.open(to, flags, opened)
          else session.sftp.open(to, flags, { mode: mode & 0o7777 }, opened)
        }))
      }))
    }))
  })

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
  onProgress: (bytes: number) => void
): Effect.Effect<SmallResult, FileSystemError.FileSystemError> => {
  if (size >= maxSize) return Effect.succeed("large")
  return chain<SmallResult>(session, { operation: "readStream", path: from }, (finish, track, cancelled) => {
    if (session.closed) return finish(Effect.fail(session.lost({ operation: "readStream", path: from })))
    session.batch()
    session.sftp.open(from, OpenFlags.READ, track((openError: Error | null | undefined, handle: Buffer) => {
      if (openError) return finish(Effect.fail(session.error(openError, { operation: "readStream", path: from })))
      const buffer = Buffer.allocUnsafe(size + 1)
      session.batch()
      session.sftp.read(handle, buffer, 0, buffer.length, 0, track((readError: Error | null | undefined, bytesRead: number) => {
        // the answer is in: the handle is not needed any more, and its close needs no waiting for
        session.sftp.close(handle, () => {})
        if (readError) return finish(Effect.fail(session.error(readError, { operation: "readStream", path: from })))
        // not the size expected (the file changed, or the server answered short): the general path reads it all
        if (bytesRead !== size || cancelled()) return finish(Effect.succeed("large"))
        const c = NFS.constants
        const flags = c.O_WRONLY | c.O_CREAT | c.O_TRUNC | c.O_NOFOLLOW | c.O_NONBLOCK
        NFS.open(to, flags, mode ?? 0o666, track((localOpenError: NodeJS.ErrnoException | null, fd: number) => {
          if (localOpenError) return finish(Effect.fail(localError("writeStream", to, localOpenError)))
          NFS.write(fd, buffer, 0, bytesRead, 0, track((writeError: NodeJS.ErrnoException | null, written: number) => {
            NFS.close(fd, track((closeError: NodeJS.ErrnoException | null) => {
              const error = writeError ?? closeError
              if (error) return finish(Effect.fail(localError("writeStream", to, error)))
              if (written !== bytesRead) {
                return finish(Effect.fail(FileSystemError.make("Io", {
                  path: to,
                  operation: "writeStream",
                  description: `short write (${written} of ${bytesRead} bytes)`
                })))
              }
              onProgress(written)
              finish(Effect.succeed("done"))
            }))
          }))
        }))
      }))
    }))
  })
}
