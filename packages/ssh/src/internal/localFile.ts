/**
 * Local file access for the SFTP fast paths (upload from and download into
 * the local file system): node:fs callbacks wrapped as Effects, reading into
 * and writing from whole request-sized blocks.
 *
 * @internal
 */
import * as FileSystemError from "@cerulean/core/FileSystemError"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as NFS from "node:fs"

const reasonByCode: Readonly<Record<string, FileSystemError.ReasonTag>> = {
  ENOENT: "NotFound",
  EEXIST: "AlreadyExists",
  ENOTDIR: "NotADirectory",
  EISDIR: "IsADirectory",
  ENOTEMPTY: "DirectoryNotEmpty",
  EACCES: "PermissionDenied",
  EPERM: "PermissionDenied",
  EROFS: "PermissionDenied",
  ELOOP: "LinkLoop",
  ENXIO: "Unsupported",
  ENOSYS: "Unsupported",
  ENOTSUP: "Unsupported"
}

const localError = (operation: string, path: string) => (error: NodeJS.ErrnoException) => {
  const code = Predicate.isString(error.code) ? error.code : undefined
  return FileSystemError.make((code !== undefined ? reasonByCode[code] : undefined) ?? "Io", {
    path,
    operation,
    description: code ?? error.message,
    cause: error
  })
}

/** A local file opened for reading, with its size and mode. */
export interface LocalSource {
  readonly fd: number
  readonly size: number
  readonly mode: number
}

const close = (fd: number) => Effect.callback<void>((resume) => NFS.close(fd, () => resume(Effect.void)))

/** Opens a regular local file for reading for the life of the scope (a FIFO or socket is refused, not waited on). */
export const openSource = (path: string): Effect.Effect<LocalSource, FileSystemError.FileSystemError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<LocalSource, FileSystemError.FileSystemError>((resume) => {
      NFS.open(path, NFS.constants.O_RDONLY | NFS.constants.O_NONBLOCK, (error, fd) => {
        if (error) return resume(Effect.fail(localError("readStream", path)(error)))
        NFS.fstat(fd, (statError, stats) => {
          if (statError) return NFS.close(fd, () => resume(Effect.fail(localError("readStream", path)(statError))))
          if (stats.isDirectory() || !stats.isFile()) {
            return NFS.close(fd, () =>
              resume(Effect.fail(FileSystemError.make(stats.isDirectory() ? "IsADirectory" : "Unsupported", {
                path,
                operation: "readStream",
                description: "not a regular file"
              }))))
          }
          resume(Effect.succeed({ fd, size: stats.size, mode: stats.mode & 0o7777 }))
        })
      })
    }),
    (source) => close(source.fd)
  )

/**
 * The content of an open local file, in chunks of at most `chunkSize` bytes,
 * read in order up to its end. Each read asks for one byte more than the
 * size the file had when opened, so a short read (which for a regular file
 * means its end) ends the stream without another read, and a small file costs
 * one read into a buffer of its own size.
 */
export const readChunks = (
  source: LocalSource,
  path: string,
  chunkSize: number,
  take: (length: number) => Buffer = Buffer.allocUnsafe
): Stream.Stream<Uint8Array, FileSystemError.FileSystemError> =>
  Stream.fromPull(Effect.sync(() => {
    let position = 0
    let ended = false
    return Effect.callback<Arr.NonEmptyReadonlyArray<Uint8Array>, FileSystemError.FileSystemError | Cause.Done>(
      (resume) => {
        if (ended) return resume(Cause.done())
        const length = Math.max(1, Math.min(chunkSize, source.size - position + 1))
        const buffer = take(length)
        NFS.read(source.fd, buffer, 0, length, position, (error, bytesRead) => {
          if (error) return resume(Effect.fail(localError("readStream", path)(error)))
          if (bytesRead === 0) return resume(Cause.done())
          position += bytesRead
          if (bytesRead < length) ended = true
          resume(Effect.succeed(Arr.of(bytesRead === length ? buffer : buffer.subarray(0, bytesRead))))
        })
      }
    )
  }))

/**
 * Creates (or truncates) a local file, never following a link at its name
 * and never waiting on a FIFO, and writes the stream into it, handing each
 * chunk to `release` once it is on disk. Returns the number of bytes written.
 */
export const writeFile = <E>(
  path: string,
  mode: number | undefined,
  data: Stream.Stream<Uint8Array, E>,
  onWritten: (bytes: number) => void,
  release: (chunk: Uint8Array) => void = () => {}
): Effect.Effect<number, FileSystemError.FileSystemError | E> =>
  Effect.scoped(Effect.gen(function*() {
    const c = NFS.constants
    const flags = c.O_WRONLY | c.O_CREAT | c.O_TRUNC | c.O_NOFOLLOW | c.O_NONBLOCK
    const fd = yield* Effect.acquireRelease(
      Effect.callback<number, FileSystemError.FileSystemError>((resume) => {
        NFS.open(path, flags, mode ?? 0o666, (error, fd) =>
          resume(error ? Effect.fail(localError("writeStream", path)(error)) : Effect.succeed(fd)))
      }),
      close
    )
    let position = 0
    yield* Stream.runForEachArray(data, (chunks) =>
      Effect.callback<void, FileSystemError.FileSystemError>((resume) => {
        const write = (pending: Array<Uint8Array>) => {
          if (pending.length === 0) {
            for (const chunk of chunks) release(chunk)
            return resume(Effect.void)
          }
          NFS.writev(fd, pending, position, (error, written) => {
            if (error) return resume(Effect.fail(localError("writeStream", path)(error)))
            position += written
            onWritten(written)
            // writev may write less than asked: continue where it stopped
            let rest = written
            let i = 0
            while (i < pending.length && rest >= pending[i]!.length) rest -= pending[i++]!.length
            const next = pending.slice(i)
            if (rest > 0) next[0] = next[0]!.subarray(rest)
            write(next)
          })
        }
        write([...chunks])
      }))
    return position
  }))
