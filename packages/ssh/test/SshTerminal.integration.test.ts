/**
 * SshTerminal against the testbed's OpenSSH sshd: the shared Terminal contract, the same suite
 * LocalTerminal passes. dropbear is not run through the whole contract because it ends a session
 * as soon as its shell exits, even while background children still hold the output open (plain
 * `ssh -p 2223 host 'sleep 3 & echo started'` returns at once too); its own tests below check
 * what it can: the fallback kill of the process group, since dropbear signals only the shell.
 */
import { PubKeyCredential, Terminal } from "@cerulean/core"
import { assert, describe, layer } from "@effect/vitest"
import { TerminalContract } from "@cerulean/testing"
import * as Testbed from "@cerulean/testing/Testbed"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { SshTerminal } from "../src/SshTerminal.ts"

const tb = Testbed.load()

TerminalContract.run(
  "SshTerminal on OpenSSH",
  SshTerminal.layer({
    host: tb.sshHost,
    port: tb.sshPort,
    knownHosts: tb.knownHosts,
    credential: new PubKeyCredential({ username: tb.user, publicKey: tb.keyEd25519 })
  })
)

const marker = () => `4${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`

/** Number of processes on this machine (the testbed host) whose command line is exactly `sleep <m>`. */
const countSleeps = (terminal: Terminal, m: string) =>
  terminal.run(`ps -eo args= | grep -c -- '^[s]leep ${m}$' || true`).pipe(
    Effect.map((r) => Number.parseInt(r.stdout.trim(), 10))
  )

const awaitCount = (terminal: Terminal, m: string, expected: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 50; i++) {
      if ((yield* countSleeps(terminal, m)) === expected) return expected
      yield* Effect.sleep("100 millis")
    }
    return yield* countSleeps(terminal, m)
  })

describe("SshTerminal on dropbear", () => {
  layer(
    SshTerminal.layer({
      host: tb.sshHost,
      port: tb.dropbearPort,
      knownHosts: tb.knownHosts,
      credential: new PubKeyCredential({ username: tb.user, publicKey: tb.keyEd25519 })
    }),
    { excludeTestServices: true }
  )((it) => {
    it.effect("runs commands with exit codes and separate output", () =>
      Effect.gen(function*() {
        const terminal = yield* Terminal
        const result = yield* terminal.run("echo out; echo err >&2; exit 7")
        assert.deepStrictEqual([result.exitCode, result.stdout, result.stderr], [7, "out\n", "err\n"])
      }))

    it.effect("a timeout kills the command and its children although dropbear signals only the shell", () =>
      Effect.gen(function*() {
        const terminal = yield* Terminal
        const m = marker()
        const error = yield* Effect.flip(
          terminal.run(`echo partial; sleep ${m} & sleep ${m}`, [], { timeout: "1 second" })
        )
        assert.strictEqual(error.reason._tag, "Timeout")
        assert.strictEqual(error.reason._tag === "Timeout" ? error.reason.stdout : "", "partial\n")
        assert.strictEqual(yield* awaitCount(terminal, m, 0), 0, "a process of the command survived")
      }))

    it.effect("interrupting a run kills the command and its children", () =>
      Effect.gen(function*() {
        const terminal = yield* Terminal
        const m = marker()
        const fiber = yield* Effect.forkChild(terminal.run(`sleep ${m} & sleep ${m}`))
        assert.strictEqual(yield* awaitCount(terminal, m, 2), 2, "the command did not start")
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(yield* awaitCount(terminal, m, 0), 0, "a process of the command survived")
      }))

    it.effect("killing one timed-out command leaves the other commands of the connection alone", () =>
      Effect.gen(function*() {
        // dropbear puts every session of a connection in one process group; the terminal
        // moves each command into a group of its own first, so the fallback kill hits only it.
        const terminal = yield* Terminal
        const m = marker()
        const survivor = yield* Effect.forkChild(terminal.run(`sleep 2; echo survived`))
        const error = yield* Effect.flip(terminal.run(`sleep ${m}`, [], { timeout: "500 millis" }))
        assert.strictEqual(error.reason._tag, "Timeout")
        const result = yield* Fiber.join(survivor)
        assert.deepStrictEqual([result.exitCode, result.stdout], [0, "survived\n"])
      }))
  })
})
