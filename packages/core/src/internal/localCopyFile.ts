/**
 * The local file system's `copyFile` fast path for `copy` (see
 * `Backend.copyFile`), on effect's `FileSystem`. `LocalFileSystem` wires it in
 * with its own error mapping:
 *
 * ```ts
 * copyFile: makeLocalCopyFile(efs, toError)
 * ```
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as EffectFileSystem from "effect/FileSystem"
import type * as PlatformError from "effect/PlatformError"
import type { TransferOptions } from "../FileSystem.ts"
import type * as FileSystemError from "../FileSystemError.ts"

/**
 * Files up to this size go through one kernel copy (`fs.copyFile`:
 * `copy_file_range(2)` or `sendfile(2)`, no data through JavaScript). That call
 * cannot be stopped once started, so it runs uninterruptibly and is kept to
 * sizes that finish in a blink even at disk speed (64 MiB at ~300 MB/s is
 * ~0.2 s); an interrupted copy then waits for it before removing the
 * temporary file, which is what keeps the file from reappearing after the
 * removal. Larger files are copied chunk by chunk, interruptible between
 * chunks.
 */
export const kernelCopyLimit = 64 * 1024 * 1024

/** The chunk size of the chunked copy (two buffers, reused). */
export const chunkedCopyBuffer = 4 * 1024 * 1024

type ToError = (
  operation: string,
  path: string
) => (error: PlatformError.PlatformError) => FileSystemError.FileSystemError

/**
 * Builds the local `copyFile` hook: one kernel copy for files up to
 * {@link kernelCopyLimit}, else a chunked copy through two reused buffers.
 * The target is created with `options.mode` in the chunked case and with
 * the source's mode by the kernel copy; `copy` sets the final mode after
 * every fast path either way.
 */
export const makeLocalCopyFile = (efs: EffectFileSystem.FileSystem, toError: ToError) =>
(
  from: string,
  to: string,
  options?: TransferOptions
): Effect.Effect<void, FileSystemError.FileSystemError> =>
  Effect.gen(function*() {
    const size = options?.size ?? Number((yield* Effect.mapError(efs.stat(from), toError("copyFile", from))).size)
    if (size <= kernelCopyLimit) {
      yield* Effect.uninterruptible(Effect.mapError(efs.copyFile(from, to), toError("copyFile", to)))
      options?.onProgress?.(size)
      return
    }
    yield* Effect.scoped(Effect.gen(function*() {
      const input = yield* Effect.mapError(efs.open(from, { flag: "r" }), toError("copyFile", from))
      const output = yield* Effect.mapError(
        efs.open(to, { flag: "w", mode: options?.mode ?? 0o666 }),
        toError("copyFile", to)
      )
      // Two buffers: the next chunk is read while the previous one is written.
      const size = Math.max(options?.chunkSize ?? 0, chunkedCopyBuffer)
      let current = new Uint8Array(size)
      let next = new Uint8Array(size)
      const read = (buffer: Uint8Array) =>
        Effect.map(Effect.mapError(input.read(buffer), toError("copyFile", from)), Number)
      let n = yield* read(current)
      while (n > 0) {
        const [, m] = yield* Effect.all([
          Effect.mapError(output.writeAll(current.subarray(0, n)), toError("copyFile", to)),
          read(next)
        ], { concurrency: 2 })
        options?.onProgress?.(n)
        const written = current
        current = next
        next = written
        n = m
      }
    }))
  })
