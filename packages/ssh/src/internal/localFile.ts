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

interface PendingRead {
  readonly position: number
  readonly length: number
  readonly buffer: Buffer
  done: boolean
  bytesRead: number
  error: NodeJS.ErrnoException | null
}

/**
 * The content of an open local file, in chunks of at most `chunkSize` bytes,
 * in order up to its end, with `ahead` reads in flight (the thread pool's
 * round trip then overlaps with the transfer instead of stalling it). Reads
 * go up to the size the file had when opened plus one byte, so a short read
 * (which for a regular file means its end) ends the stream without another
 * read, and a small file costs one read into a buffer of its own size; a file
 * that grew is read on to its new end.
 */
export const readChunks = (
  source: LocalSource,
  path: string,
  chunkSize: number,
  take: (length: number) => Buffer = Buffer.allocUnsafe,
  ahead = 4
): Stream.Stream<Uint8Array, FileSystemError.FileSystemError> =>
  Stream.fromPull(Effect.sync(() => {
    const queue: Array<PendingRead> = []
    let next = 0
    let grown = false
    let ended = false
    let waiter: (() => void) | undefined
    const fill = () => {
      while (!ended && queue.length < ahead && (grown || next <= source.size)) {
        const length = grown ? chunkSize : Math.max(1, Math.min(chunkSize, source.size - next + 1))
        const read: PendingRead = { position: next, length, buffer: take(length), done: false, bytesRead: 0, error: null }
        next += length
        queue.push(read)
        NFS.read(source.fd, read.buffer, 0, length, read.position, (error, bytesRead) => {
          read.done = true
          read.error = error
          read.bytesRead = bytesRead
          if (!error && bytesRead === length && read.position + length > source.size) grown = true
          const w = waiter
          waiter = undefined
          if (w !== undefined) w()
        })
      }
    }
    const takeReady = (): Array<Uint8Array> | NodeJS.ErrnoException | "wait" | "end" => {
      const out: Array<Uint8Array> = []
      while (queue.length > 0 && queue[0]!.done) {
        const read = queue[0]!
        // an error surfaces after the data before it
        if (read.error) {
          if (out.length > 0) break
          return read.error
        }
        queue.shift()
        if (read.bytesRead > 0) {
          out.push(read.bytesRead === read.length ? read.buffer : read.buffer.subarray(0, read.bytesRead))
        }
        if (read.bytesRead < read.length) {
          // the end of the file: reads issued beyond it are dropped
          ended = true
          queue.length = 0
          break
        }
      }
      fill()
      if (out.length > 0) return out
      return ended || queue.length === 0 ? "end" : "wait"
    }
    const pull: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, FileSystemError.FileSystemError | Cause.Done> =
      Effect.suspend(() => {
        const ready = takeReady()
        if (ready === "end") return Cause.done()
        if (ready === "wait") {
          return Effect.flatMap(
            Effect.callback<void>((resume) => {
              waiter = () => resume(Effect.void)
              return Effect.sync(() => {
                waiter = undefined
              })
            }),
            () => pull
          )
        }
        if (!Array.isArray(ready)) return Effect.fail(localError("readStream", path)(ready))
        return Arr.isReadonlyArrayNonEmpty(ready) ? Effect.succeed(ready) : pull
      })
    fill()
    return pull
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
