/**
 * Runs a Node script (the `cerulean` command, an example) as a child process
 * of the Node running the tests, and collects what it printed.
 */
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"

/** The repository root. */
export const repoRoot = NodePath.resolve(NodePath.dirname(fileURLToPath(import.meta.url)), "../../../..")

/** The `cerulean` command's script. */
export const ceruleanBin = NodePath.join(repoRoot, "packages/cerulean/src/bin/cerulean.ts")

/** What a child process left behind. */
export interface ChildResult {
  readonly exitCode: number
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
}

/** Options of {@link runNode}. */
export interface ChildOptions {
  readonly cwd?: string | undefined
  /** Added to (or, with `undefined` values, removed from) the test process's environment. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  readonly input?: string | undefined
  readonly timeoutMs?: number | undefined
}

/** Runs `node <script> <args...>` to the end; never fails (a killed child reports its signal). */
export const runNode = (script: string, args: ReadonlyArray<string>, options: ChildOptions = {}) =>
  Effect.callback<ChildResult>((resume) => {
    const env: Record<string, string | undefined> = { ...process.env, ...options.env }
    for (const [k, v] of Object.entries(options.env ?? {})) if (v === undefined) delete env[k]
    const child = ChildProcess.spawn(process.execPath, [script, ...args], {
      cwd: options.cwd ?? repoRoot,
      env,
      stdio: ["pipe", "pipe", "pipe"]
    })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout.on("data", (b: Buffer) => out.push(b))
    child.stderr.on("data", (b: Buffer) => err.push(b))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resume(Effect.succeed({
        exitCode: code ?? -1,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8")
      }))
    })
    child.stdin.end(options.input ?? "")
    return Effect.sync(() => {
      clearTimeout(timer)
      child.kill("SIGKILL")
    })
  })

/** Runs the `cerulean` command. */
export const cerulean = (args: ReadonlyArray<string>, options: ChildOptions = {}) => runNode(ceruleanBin, args, options)
