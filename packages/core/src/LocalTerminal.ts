/**
 * Runs commands on this machine, through `/bin/sh`, on top of effect's
 * `ChildProcessSpawner` (implemented for Node by `@effect/platform-node`).
 *
 * Each `run` starts `/bin/sh -c <line>` in a process group of its own, where
 * `<line>` is built by `Shell.commandLine`. The group is the unit of cleanup:
 *
 * - on a timeout, and when the effect is interrupted, the whole group gets
 *   `SIGTERM`, then `SIGKILL` after a grace period of {@link killGracePeriod},
 *   whether or not the shell itself is still running: background children
 *   that keep the output open die with it;
 * - when the command exits 0, background jobs it started and that let go of
 *   its output (`nohup job >log 2>&1 &`) keep running, as over SSH and as in
 *   the Python original (DirectGnuScheduler relies on it);
 * - when the command exits non-zero, `@effect/platform-node`'s spawner ends
 *   the rest of its process group (`SIGTERM`); a job that must survive a
 *   failing launcher has to leave the group (`setsid`).
 *
 * `run` returns once the shell has exited *and* its stdout and stderr are
 * closed, like a shell's `$(...)` or `ssh host cmd`: a background job that
 * keeps them open (`sleep 100 &`) keeps `run` waiting, until its timeout.
 *
 * Output is collected incrementally as bytes and decoded as UTF-8 once the
 * command is done (or has timed out). Decoding is lenient: bytes that are not
 * valid UTF-8 become U+FFFD replacement characters instead of failing the
 * run, and a leading byte-order mark is kept, so text output arrives verbatim.
 *
 * @since 0.1.0
 */
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as PlatformError from "effect/PlatformError"
import * as ChildProcess from "effect/process/ChildProcess"
import * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as Stream from "effect/Stream"
import { constants as osConstants } from "node:os"
import * as Shell from "./Shell.ts"
import {
  InvalidArgument,
  Io,
  RunResult,
  type RunOptions,
  SpawnFailed,
  Terminal,
  TerminalError,
  Timeout
} from "./Terminal.ts"

/**
 * How long a command gets between `SIGTERM` and `SIGKILL` when it is killed
 * on a timeout or an interruption.
 *
 * @since 0.1.0
 * @category constants
 */
export const killGracePeriod: Duration.Duration = Duration.seconds(2)

const shell = "/bin/sh"

/** Output gathered chunk by chunk, so that it is there even when the command is killed half-way. */
class OutputBuffer {
  private readonly chunks: Array<Uint8Array> = []
  private size = 0

  push(chunks: ReadonlyArray<Uint8Array>): void {
    for (const chunk of chunks) {
      this.chunks.push(chunk)
      this.size += chunk.length
    }
  }

  text(): string {
    const bytes = new Uint8Array(this.size)
    let offset = 0
    for (const chunk of this.chunks) {
      bytes.set(chunk, offset)
      offset += chunk.length
    }
    // Non-fatal: invalid UTF-8 becomes U+FFFD instead of an error; ignoreBOM keeps a leading BOM as output.
    return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(bytes)
  }
}

interface ExitStatus {
  readonly exitCode: number
  readonly signal?: string
}

const signalPattern = /signal: '(SIG[A-Z0-9]+)'/

// The spawner reports death by a signal only as a failed `exitCode` whose
// cause names the signal; turn it back into the shell convention 128 + n.
const signalOf = (error: PlatformError.PlatformError): ExitStatus | undefined => {
  const cause = error.reason.cause
  const match = cause instanceof Error ? signalPattern.exec(cause.message) : null
  if (match === null) return undefined
  const name = match[1] as keyof typeof osConstants.signals
  const number = osConstants.signals[name]
  return number === undefined ? undefined : { exitCode: 128 + number, signal: name }
}

const encoder = new TextEncoder()

const fail = (reason: TerminalError["reason"]) => new TerminalError({ reason })

/**
 * Runs shell commands on the local machine. Its `layer` provides both this
 * tag and the generic `Terminal` tag from one instance.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LocalTerminal, Terminal } from "@cerulean/core"
 *
 * const program = Effect.gen(function*() {
 *   const terminal = yield* Terminal
 *   const result = yield* terminal.run("ls", ["-l", "my file.txt"], { workdir: "/tmp", timeout: "10 seconds" })
 *   return result.stdout
 * }).pipe(Effect.provide(LocalTerminal.layer))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class LocalTerminal extends Context.Service<LocalTerminal, Terminal>()("@cerulean/core/LocalTerminal") {
  /**
   * Builds a local terminal from whatever `ChildProcessSpawner` the context has.
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly make: Effect.Effect<Terminal, never, ChildProcessSpawner.ChildProcessSpawner> = Effect.gen(
    function*() {
      const spawner = yield* ChildProcessSpawner.ChildProcessSpawner

      const execute = Effect.fnUntraced(function*(
        command: string,
        line: string,
        stdin: Uint8Array | undefined,
        stdout: OutputBuffer,
        stderr: OutputBuffer
      ) {
        const handle = yield* spawner.spawn(
          ChildProcess.make(shell, ["-c", line], { detached: true, forceKillAfter: killGracePeriod })
        ).pipe(
          Effect.mapError((cause) =>
            fail(new SpawnFailed({ command, description: `could not start ${shell}: ${cause.message}`, cause }))
          )
        )
        // A command that exits without reading all its input makes the write fail (EPIPE):
        // that is the command's choice, not an error of the run, so write failures are ignored.
        yield* Effect.forkScoped(
          Effect.ignore(Stream.run(stdin === undefined ? Stream.empty : Stream.succeed(stdin), handle.stdin))
        )
        const collect = (stream: Stream.Stream<Uint8Array, PlatformError.PlatformError>, into: OutputBuffer) =>
          Stream.runForEachArray(stream, (chunks) => Effect.sync(() => into.push(chunks)))
        const status = handle.exitCode.pipe(
          Effect.map((code): ExitStatus => ({ exitCode: Number(code) })),
          Effect.catch((error) => {
            const status = signalOf(error)
            return status === undefined ? Effect.fail(error) : Effect.succeed(status)
          })
        )
        const [, , exit] = yield* Effect.all([collect(handle.stdout, stdout), collect(handle.stderr, stderr), status], {
          concurrency: "unbounded"
        }).pipe(
          Effect.mapError((cause) =>
            fail(new Io({ command, description: `reading the output or status failed: ${cause.message}`, cause }))
          )
        )
        // A referenced handle makes the spawner end the whole process group when the scope closes, even
        // after a successful exit. That is wanted after a timeout, an interruption or a failure, but it
        // would kill the background jobs of every successful run, so the handle is unreferenced now,
        // once the run is complete. (Not earlier: an unreferenced child lets Node exit while it runs.)
        yield* handle.unref.pipe(
          Effect.mapError((cause) => fail(new Io({ command, description: `unref failed: ${cause.message}`, cause })))
        )
        return exit
      })

      const run = Effect.fn("LocalTerminal.run")(function*(
        command: string,
        args: ReadonlyArray<string> = [],
        options: RunOptions = {}
      ) {
        yield* Effect.annotateCurrentSpan({ command, args: args.length })
        const problem = Shell.checkRun(command, args, options)
        if (problem !== undefined) {
          return yield* fail(new InvalidArgument({ command, description: problem }))
        }
        const timeout = options.timeout === undefined ? undefined : Duration.fromInput(options.timeout)
        if (timeout !== undefined && Option.isNone(timeout)) {
          return yield* fail(new InvalidArgument({ command, description: "the timeout is not a valid duration" }))
        }
        const line = Shell.commandLine(command, args, options)
        const stdin = typeof options.stdin === "string" ? encoder.encode(options.stdin) : options.stdin
        const stdout = new OutputBuffer()
        const stderr = new OutputBuffer()
        const started = yield* Clock.currentTimeMillis
        const executed = Effect.scoped(execute(command, line, stdin, stdout, stderr))
        const status = yield* (timeout === undefined ? executed : executed.pipe(
          Effect.timeoutOption(timeout.value),
          Effect.flatMap(Option.match({
            onSome: Effect.succeed,
            onNone: () =>
              Effect.fail(fail(
                new Timeout({
                  command,
                  description: `killed after ${Duration.format(timeout.value)}`,
                  stdout: stdout.text(),
                  stderr: stderr.text()
                })
              ))
          }))
        )).pipe(
          Effect.onExit((exit) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.logDebug("command run").pipe(
                Effect.annotateLogs({
                  terminal: "local",
                  command,
                  args,
                  workdir: options.workdir === undefined
                    ? undefined
                    : typeof options.workdir === "string"
                    ? options.workdir
                    : options.workdir.path,
                  // Names only: values may be tokens.
                  env: Object.keys(options.env ?? {}),
                  outcome: Exit.isSuccess(exit)
                    ? exit.value.signal ?? `exit ${exit.value.exitCode}`
                    : Exit.hasInterrupts(exit)
                    ? "interrupted"
                    : exit.cause.reasons.filter(Cause.isFailReason).map((reason) => reason.error.reason._tag)[0] ??
                      "failed",
                  durationMs: now - started
                })
              ))
          )
        )
        return new RunResult({
          exitCode: status.exitCode,
          stdout: stdout.text(),
          stderr: stderr.text(),
          ...(status.signal === undefined ? {} : { signal: status.signal })
        })
      })

      return Terminal.of({ protocol: "local", location: "localhost", run })
    }
  )

  /**
   * Provides `LocalTerminal` and `Terminal` (one instance), leaving the
   * `ChildProcessSpawner` to the application (e.g. `NodeServices.layer`).
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerNoDeps: Layer.Layer<LocalTerminal | Terminal, never, ChildProcessSpawner.ChildProcessSpawner> =
    Layer.effectContext(
      Effect.map(LocalTerminal.make, (terminal) => Context.make(LocalTerminal, terminal).pipe(Context.add(Terminal, terminal)))
    )

  /**
   * Provides `LocalTerminal` and `Terminal` (one instance) on Node's child processes.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer: Layer.Layer<LocalTerminal | Terminal> = LocalTerminal.layerNoDeps.pipe(
    Layer.provide(NodeChildProcessSpawner.layer),
    Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))
  )
}
