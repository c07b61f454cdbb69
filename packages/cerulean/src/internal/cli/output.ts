/**
 * Where the `cerulean` command writes, as a service so that the commands can
 * be run in tests against buffers instead of the process's streams.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** The command's standard output and error, and what it knows about the terminal. */
export interface OutputShape {
  /** Writes text to standard output. */
  readonly out: (text: string) => Effect.Effect<void>
  /** Writes bytes to standard output, waiting while the reader is slow. */
  readonly outBytes: (bytes: Uint8Array) => Effect.Effect<void>
  /** Writes text to standard error. */
  readonly err: (text: string) => Effect.Effect<void>
  /** Whether standard error is a terminal (progress bars go there). */
  readonly errIsTTY: boolean
  /** Width of the terminal on standard error (80 when unknown). */
  readonly columns: () => number
  /** Sets the process's exit code (the last call wins). */
  readonly setExitCode: (code: number) => Effect.Effect<void>
  /** The exit code set so far (0 by default). */
  readonly exitCode: Effect.Effect<number>
}

/** The output service. */
export class Output extends Context.Service<Output, OutputShape>()("cerulean/cli/Output") {}

const write = (stream: NodeJS.WriteStream, data: string | Uint8Array): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    // The callback fires once the data is handed to the OS, so a slow reader (a pipe to `head`) slows us
    // down instead of the data piling up in memory. A closed pipe (EPIPE) ends the writes quietly.
    const ok = stream.write(data, () => resume(Effect.void))
    if (!ok && stream.destroyed) resume(Effect.void)
  })

/** The process's own streams. */
export const layerProcess: Layer.Layer<Output> = Layer.sync(Output, () => {
  let code = 0
  return {
    out: (text) => write(process.stdout, text),
    outBytes: (bytes) => write(process.stdout, bytes),
    err: (text) => write(process.stderr, text),
    errIsTTY: process.stderr.isTTY === true,
    columns: () => process.stderr.columns ?? 80,
    setExitCode: (c) => Effect.sync(() => void (code = c)),
    exitCode: Effect.sync(() => code)
  }
})

/** Buffers for tests: what was written, with a fixed terminal answer. */
export interface Captured {
  readonly stdout: Array<string>
  readonly stderr: Array<string>
}

/** An `Output` writing to buffers, for tests. */
export const layerCapture = (
  captured: Captured,
  options: { readonly tty?: boolean; readonly columns?: number } = {}
): Layer.Layer<Output> =>
  Layer.sync(Output, () => {
    let code = 0
    const decoder = new TextDecoder()
    return {
      out: (text) => Effect.sync(() => void captured.stdout.push(text)),
      outBytes: (bytes) => Effect.sync(() => void captured.stdout.push(decoder.decode(bytes, { stream: true }))),
      err: (text) => Effect.sync(() => void captured.stderr.push(text)),
      errIsTTY: options.tty ?? false,
      columns: () => options.columns ?? 80,
      setExitCode: (c) => Effect.sync(() => void (code = c)),
      exitCode: Effect.sync(() => code)
    }
  })
