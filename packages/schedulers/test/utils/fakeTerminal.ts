/**
 * A tiny scripted Terminal for unit tests: every call is recorded and answered
 * by a handler (which may sleep on the TestClock or fail).
 */
import { RunResult, type Terminal, TerminalError } from "@cerulean/core"
import { ConnectionLost } from "@cerulean/core/Terminal"
import * as Effect from "effect/Effect"

export interface FakeCall {
  /** The command line without a leading `env NAME=value ...` (how Slurm's status commands set their time format). */
  readonly command: string
  /** The command line as run. */
  readonly raw: string
  readonly stdin: string | undefined
}

export interface Reply {
  readonly exitCode?: number
  readonly stdout?: string
  readonly stderr?: string
}

export type Handler = (call: FakeCall) => Reply | Effect.Effect<Reply, TerminalError>

export const makeFake = (handler: Handler) => {
  const calls: Array<FakeCall> = []
  const terminal: Terminal = {
    protocol: "fake",
    location: "fake",
    run: (command, args = [], options = {}) =>
      Effect.suspend(() => {
        const stdin = typeof options.stdin === "string" ? options.stdin : undefined
        const raw = [command, ...args].join(" ")
        const call = { command: raw.replace(/^env (\w+=\S* )+/, ""), raw, stdin }
        calls.push(call)
        const reply = handler(call)
        return Effect.map(Effect.isEffect(reply) ? reply : Effect.succeed(reply), (r) =>
          new RunResult({ exitCode: r.exitCode ?? 0, stdout: r.stdout ?? "", stderr: r.stderr ?? "" }))
      })
  }
  return { terminal, calls }
}

export const connectionLost = (command: string) =>
  new TerminalError({ reason: new ConnectionLost({ command, description: "fake connection lost" }) })

/** The `--jobs=a,b,c` list of a squeue/sacct command line. */
export const jobsOf = (command: string): Array<string> => {
  const match = /--jobs=([0-9_,+]+)/.exec(command)
  return match === null ? [] : match[1]!.split(",")
}
