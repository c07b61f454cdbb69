/**
 * Local file access for the fast paths between the local file system and
 * WebDAV (`receiveFrom` uploads a local file, `sendTo` downloads into one):
 * node:fs callbacks wrapped as Effects, reading and writing whole blocks, so
 * a transfer costs one system call per block instead of one per network
 * read, into and out of recycled buffers (see `blocks.ts`).
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
import type { BlockPool } from "./blocks.ts"

const reasonByCode: Readonly<Record<string, FileSystemError.ReasonTag>> = {
  ENOENT: "NotFound",
  EEXIST: "AlreadyExists",
  ENOTDIR: "NotADirectory",
  EISDIR: "IsADirectory",
  EACCES: "PermissionDenied",
  EPERM: "PermissionDenied",
  EROFS: "PermissionDenied",
  ELOOP: "LinkLoop",
  ENXIO: "Unsupported"
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

const close = (fd: number) => Effect.callback<void>((resume) => NFS.close(fd, () => resume(Effect.void)))

/** A local regular file open for reading, with its size. */
export interface Source {
  readonly fd: number
  readonly size: number
}

/** Opens a regular local file for reading for the life of the scope; anything else (a FIFO, a directory) is refused. */
export const openSource = (path: string): Effect.Effect<Source, FileSystemError.FileSystemError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Source, FileSystemError.FileSystemError>((resume) => {
      // O_NONBLOCK: opening a FIFO must not wait for a writer.
      NFS.open(path, NFS.constants.O_RDONLY | NFS.constants.O_NONBLOCK, (error, fd) => {
        if (error) return resume(Effect.fail(localError("readStream", path)(error)))
        NFS.fstat(fd, (statError, stats) => {
          if (statError) return NFS.close(fd, () => resume(Effect.fail(localError("readStream", path)(statError))))
          if (!stats.isFile()) {
            return NFS.close(fd, () =>
              resume(Effect.fail(FileSystemError.make(stats.isDirectory() ? "IsADirectory" : "Unsupported", {
                path,
                operation: "readStream",
                description: "not a regular file"
              }))))
          }
          resume(Effect.succeed({ fd, size: stats.size }))
        })
      })
    }),
    (source) => close(source.fd)
  )

/**
 * The first `length` bytes of an open file in blocks of the pool's size,
 * read into the pool's buffers: a block must be given back to the pool once
 * sent. A file that turns out shorter ends the stream early; the caller,
 * which announced `length` as the Content-Length, then fails rather than
 * store a short file.
 */
export const readBlocks = (
  source: Source,
  path: string,
  length: number,
  pool: BlockPool
): Stream.Stream<Uint8Array, FileSystemError.FileSystemError> => {
  let position = 0
  const read = (buffer: Buffer) =>
    // Uninterruptible: the read must end before the scope closes the descriptor.
    Effect.uninterruptible(
      Effect.callback<Arr.NonEmptyReadonlyArray<Uint8Array>, FileSystemError.FileSystemError | Cause.Done>((resume) => {
        const want = Math.min(buffer.length, length - position)
        NFS.read(source.fd, buffer, 0, want, position, (error, bytesRead) => {
          if (error) return resume(Effect.fail(localError("readStream", path)(error)))
          if (bytesRead === 0) {
            pool.release(buffer)
            return resume(Cause.done())
          }
          position += bytesRead
          resume(Effect.succeed(Arr.of(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead))))
        })
      })
    )
  const pull = Effect.suspend(() => (position >= length ? Cause.done() : Effect.flatMap(pool.take, read)))
  return Stream.fromPull(Effect.succeed(pull))
}

/**
 * Creates or truncates a local file, open for the life of the scope, never
 * following a link at its name and never waiting on a FIFO.
 */
export const openTarget = (
  path: string,
  mode: number | undefined
): Effect.Effect<number, FileSystemError.FileSystemError, Scope.Scope> => {
  const c = NFS.constants
  const flags = c.O_WRONLY | c.O_CREAT | c.O_TRUNC | c.O_NOFOLLOW | c.O_NONBLOCK
  return Effect.acquireRelease(
    Effect.callback<number, FileSystemError.FileSystemError>((resume) => {
      NFS.open(path, flags, mode ?? 0o666, (error, fd) =>
        resume(error ? Effect.fail(localError("writeStream", path)(error)) : Effect.succeed(fd)))
    }),
    close
  )
}

/**
 * Writes `chunks` at `position`, all of them (`writev` may write less than
 * asked: it goes on where it stopped). Uninterruptible: the write must end
 * before the scope closes the descriptor, which the system could hand to
 * another file meanwhile.
 */
const writeAll = (
  fd: number,
  path: string,
  chunks: ReadonlyArray<Uint8Array>,
  position: number,
  onWritten: (bytes: number) => void
): Effect.Effect<void, FileSystemError.FileSystemError> =>
  Effect.uninterruptible(Effect.callback<void, FileSystemError.FileSystemError>((resume) => {
    const write = (pending: ReadonlyArray<Uint8Array>, at: number) => {
      if (pending.length === 0) return resume(Effect.void)
      NFS.writev(fd, pending, at, (error, written) => {
        if (error) return resume(Effect.fail(localError("writeStream", path)(error)))
        onWritten(written)
        let rest = written
        let i = 0
        while (i < pending.length && rest >= pending[i]!.length) rest -= pending[i++]!.length
        const next = pending.slice(i)
        if (rest > 0) next[0] = next[0]!.subarray(rest)
        write(next, at + written)
      })
    }
    write(chunks, position)
  }))

/**
 * Creates or truncates a local file (see {@link openTarget}) and writes the
 * stream into it, each batch of chunks with one `writev`. `written` is told
 * about each batch once its write is over (done or failed), so that its
 * memory can be used again.
 */
export const writeFile = <E>(
  path: string,
  mode: number | undefined,
  data: Stream.Stream<Uint8Array, E>,
  onWritten: (bytes: number) => void,
  written?: (chunks: ReadonlyArray<Uint8Array>) => void
): Effect.Effect<void, FileSystemError.FileSystemError | E> =>
  Effect.scoped(Effect.gen(function*() {
    const fd = yield* openTarget(path, mode)
    let position = 0
    yield* Stream.runForEachArray(data, (chunks) => {
      const at = position
      for (const chunk of chunks) position += chunk.length
      const write = writeAll(fd, path, chunks, at, onWritten)
      return written === undefined ? write : Effect.ensuring(write, Effect.sync(() => written(chunks)))
    })
  }))
