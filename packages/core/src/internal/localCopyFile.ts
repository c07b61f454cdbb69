/**
 * The local file system's `copyFile` fast path for `copy` (see
 * `Backend.copyFile`), on effect's `FileSystem`. `LocalFileSystem` wires it in
 * with its own error mapping:
 *
 * ```ts
 * copyFile: yield* makeLocalCopyFile(efs, toError)
 * ```
 *
 * Three ways, by size:
 *
 * - up to {@link kernelCopyLimit}: one `fs.copyFile` (the kernel copies, no
 *   data through JavaScript), uninterruptible and waited for;
 * - above it: `cp` in a child process (`copy_file_range(2)`, or a reflink
 *   where the file system has them), killed on interruption and waited for,
 *   with progress learnt by polling the size of the file it writes;
 * - above it when no GNU-compatible `cp` is found, or when `cp` failed: a
 *   chunked copy through two reused buffers, interruptible between chunks.
 *   A failure of `cp` is not reported as such: the chunked copy runs instead
 *   and either succeeds or fails with the errno-based error of the call that
 *   failed, which `cp`'s exit status and message could not give.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as EffectFileSystem from "effect/FileSystem"
import type * as PlatformError from "effect/PlatformError"
import * as Schedule from "effect/Schedule"
import * as NodeChildProcess from "node:child_process"
import type { TransferOptions } from "../FileSystem.ts"
import type * as FileSystemError from "../FileSystemError.ts"

/**
 * Files up to this size go through one kernel copy in this process
 * (`fs.copyFile`). That call cannot be stopped once started, so it runs
 * uninterruptibly and is kept to sizes that finish in a blink even at disk
 * speed (64 MiB at ~300 MB/s is ~0.2 s); an interrupted copy then waits for
 * it before removing the temporary file, which is what keeps the file from
 * reappearing after the removal. Larger files go to a `cp` child process,
 * which can be killed: starting one costs a `fork` of this process (a few ms,
 * ~50 ms for a process of 1.5 GB), which only pays off on large files.
 */
export const kernelCopyLimit = 64 * 1024 * 1024

/** The chunk size of the chunked copy (two buffers, reused). */
export const chunkedCopyBuffer = 4 * 1024 * 1024

/** How often the size of a file written by `cp` is polled when the caller gives no progress interval. */
export const defaultPollInterval: Duration.Duration = Duration.millis(250)

type ToError = (
  operation: string,
  path: string
) => (error: PlatformError.PlatformError) => FileSystemError.FileSystemError

/**
 * Options of {@link makeLocalCopyFile}.
 */
export interface LocalCopyFileOptions {
  /**
   * The `cp` to run for large files (default `"cp"`, looked up on `PATH`).
   * It must accept GNU `cp`'s options; `null` turns the child copy off.
   */
  readonly cp?: string | null | undefined
}

/** How a child process ended. */
interface ChildExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

interface Child {
  readonly process: NodeChildProcess.ChildProcess
  /** Done when the process has ended and its output is closed (or it could not start). */
  readonly exited: Deferred.Deferred<ChildExit, Error>
  /** Done as soon as the process has ended (or could not start), whoever still holds its output. */
  readonly gone: Deferred.Deferred<void, Error>
  /** The first 4 KiB of its output (stdout and stderr), for the probe and the Debug log. */
  readonly output: () => string
}

/**
 * Starts `command args` as a scoped resource: closing the scope before the
 * process has ended kills it (`SIGKILL`: `cp` holds nothing that needs a
 * clean exit, and the kernel stops a `copy_file_range` at once for it) and
 * waits until it is gone, so that it cannot write anything afterwards.
 */
const spawn = (command: string, args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync((): Child => {
      const exited = Deferred.makeUnsafe<ChildExit, Error>()
      const gone = Deferred.makeUnsafe<void, Error>()
      let output = ""
      const collect = (text: string) => {
        if (output.length < 4096) output += text
      }
      const child = NodeChildProcess.spawn(command, args, {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, LC_ALL: "C" }
      })
      child.once("error", (error) => {
        Deferred.doneUnsafe(exited, Effect.fail(error))
        Deferred.doneUnsafe(gone, Effect.fail(error))
      })
      child.once("exit", () => Deferred.doneUnsafe(gone, Effect.void))
      child.once("close", (code, signal) => Deferred.doneUnsafe(exited, Effect.succeed({ code, signal })))
      child.stdout?.setEncoding("utf8").on("data", collect)
      child.stderr?.setEncoding("utf8").on("data", collect)
      return { process: child, exited, gone, output: () => output }
    }),
    (child) =>
      Effect.suspend(() => {
        if (child.process.exitCode !== null || child.process.signalCode !== null) return Effect.void
        child.process.kill("SIGKILL")
        return Effect.ignore(Deferred.await(child.gone))
      })
  )

/** Runs `command args` to its end; its exit status and output (stdout and stderr together). */
const run = (command: string, args: ReadonlyArray<string>) =>
  Effect.scoped(Effect.gen(function*() {
    const child = yield* spawn(command, args)
    const exit = yield* Deferred.await(child.exited)
    return { ...exit, output: child.output() }
  }))

/**
 * Whether `command` is a `cp` that takes GNU's options (`--reflink`,
 * `--sparse`, `--remove-destination`, `-T`): GNU coreutils' and uutils'.
 * BSD's and BusyBox's are not used.
 */
const probe = (command: string): Effect.Effect<boolean> =>
  run(command, ["--version"]).pipe(
    Effect.map((r) => r.code === 0 && /coreutils/i.test(r.output)),
    Effect.timeout("5 seconds"),
    Effect.catchCause(() => Effect.succeed(false)),
    Effect.tap((usable) =>
      Effect.logDebug(`local copyFile: ${usable ? "using" : "not using"} ${command} for large files`)
    )
  )

/**
 * Builds the local `copyFile` hook (see the module comment). The target is
 * created with the source's mode by the kernel copy and `cp`, with
 * `options.mode` by the chunked copy; `copy` sets the final mode after every
 * fast path either way.
 */
export const makeLocalCopyFile = (
  efs: EffectFileSystem.FileSystem,
  toError: ToError,
  settings?: LocalCopyFileOptions
): Effect.Effect<
  (from: string, to: string, options?: TransferOptions) => Effect.Effect<void, FileSystemError.FileSystemError>
> =>
  Effect.gen(function*() {
    const command = settings?.cp === undefined ? "cp" : settings.cp
    // Learnt once, at the first large file: most copies never need it.
    const usable = command === null ? Effect.succeed(false) : yield* Effect.cached(probe(command))

    const chunked = (from: string, to: string, options: TransferOptions | undefined) =>
      Effect.scoped(Effect.gen(function*() {
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

    /** The options of `cp`: a clone or `copy_file_range`, holes kept, a link at `to` replaced, never followed. */
    const cpOptions = ["--reflink=auto", "--sparse=auto", "--remove-destination", "-T", "--"]

    /** `cp` in a child process; `true` if it copied the file, `false` if it failed (logged). */
    const child = (
      cp: string,
      from: string,
      to: string,
      report: (size: number) => void,
      interval: Duration.Duration
    ) =>
      Effect.scoped(Effect.gen(function*() {
        const size = (path: string) =>
          Effect.map(Effect.option(efs.stat(path)), (info) => (info._tag === "Some" ? Number(info.value.size) : 0))
        const cpProcess = yield* spawn(cp, [...cpOptions, from, to])
        // Progress: the size of the file `cp` writes, polled; the poller ends with the scope.
        yield* Effect.forkScoped(
          Effect.repeat(Effect.flatMap(size(to), (n) => Effect.sync(() => report(n))), Schedule.spaced(interval))
        )
        const exit = yield* Effect.result(Deferred.await(cpProcess.exited))
        if (exit._tag === "Success" && exit.success.code === 0) {
          report(yield* size(to))
          return true
        }
        const how = exit._tag === "Failure"
          ? `could not start ${cp}: ${exit.failure.message}`
          : `${cp} ended with ${exit.success.signal ?? `status ${exit.success.code}`}: ${cpProcess.output().trim()}`
        yield* Effect.logDebug(`local copyFile: ${how}; copying in chunks instead`).pipe(
          Effect.annotateLogs({ path: from, to })
        )
        return false
      }))

    return (from, to, options) =>
      Effect.gen(function*() {
        const size = options?.size ?? Number((yield* Effect.mapError(efs.stat(from), toError("copyFile", from))).size)
        if (size <= kernelCopyLimit) {
          yield* Effect.uninterruptible(Effect.mapError(efs.copyFile(from, to), toError("copyFile", to)))
          options?.onProgress?.(size)
          return
        }
        if (command === null || !(yield* usable)) return yield* chunked(from, to, options)
        // Bytes reported so far: the poll reports growth only, and a chunked copy after a failed
        // `cp` reports only what goes beyond them, so that the caller never counts a byte twice.
        let reported = 0
        const report = (total: number) => {
          if (total > reported) {
            options?.onProgress?.(total - reported)
            reported = total
          }
        }
        const copied = yield* child(command, from, to, report, options?.progressInterval ?? defaultPollInterval)
        if (copied) return
        let written = 0
        yield* chunked(from, to, {
          ...options,
          onProgress: (n) => {
            written += n
            report(written)
          }
        })
      })
  })
