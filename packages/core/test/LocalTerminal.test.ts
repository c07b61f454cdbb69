import { LocalTerminal, Terminal } from "@cerulean/core"
import { TerminalContract } from "@cerulean/testing"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Clock, Effect, Layer, Logger, References } from "effect"
import * as fc from "fast-check"

TerminalContract.run("LocalTerminal", LocalTerminal.layer)

const scratchDir = Effect.acquireRelease(
  Effect.flatMap(Terminal, (terminal) => terminal.run("mktemp -d")).pipe(Effect.map((result) => result.stdout.trim())),
  (dir) => Effect.ignore(Effect.flatMap(Terminal, (terminal) => terminal.run("rm -rf", [dir])))
)

const countSleeps = (marker: string) =>
  Effect.flatMap(Terminal, (terminal) => terminal.run(`ps -eo args= | grep -c -- '^[s]leep ${marker}$' || true`)).pipe(
    Effect.map((result) => Number.parseInt(result.stdout.trim(), 10))
  )

const makeMarker = (): string => `4${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`

/** Pieces of shell syntax that would run `touch canary` (or expand, split, redirect) if an argument were not quoted. */
const shellPieces = [
  "$(touch canary)",
  "`touch canary`",
  ";touch canary",
  "&&touch canary",
  "||touch canary",
  "|touch canary",
  "\ntouch canary\n",
  "&touch canary&",
  ">canary",
  "<canary",
  "$(",
  ")",
  "`",
  "'",
  "\"",
  "\\",
  "$",
  "${IFS}",
  "$HOME",
  "$'\\x41'",
  "*",
  "?",
  "[a]",
  "{a,b}",
  "~",
  "#",
  "!",
  "-",
  "--",
  "=",
  " ",
  "\t",
  "\n",
  "é",
  "日本",
  "🎉",
  "\u0001",
  "\u007f"
]

const shellish = fc.array(fc.constantFrom(...shellPieces), { maxLength: 8 }).map((pieces) => pieces.join(""))
const withoutNul = (s: string) => s.replaceAll("\0", "")
/** Any text a process can receive: all of Unicode except NUL (which argv cannot carry: see the NUL tests). */
const argument = fc.oneof(shellish, fc.string({ unit: "binary" }).map(withoutNul), fc.string())

describe("LocalTerminal", () => {
  it.effect("layer provides LocalTerminal and Terminal as one instance", () =>
    Effect.gen(function*() {
      const local = yield* LocalTerminal
      const terminal = yield* Terminal
      assert.strictEqual(local, terminal)
      assert.strictEqual(terminal.protocol, "local")
      assert.strictEqual(terminal.location, "localhost")
    }).pipe(Effect.provide(LocalTerminal.layer)))

  it.live("layerNoDeps runs on any ChildProcessSpawner the application provides", () =>
    Effect.gen(function*() {
      const terminal = yield* Terminal
      const result = yield* terminal.run("echo", ["from", "NodeServices"])
      assert.strictEqual(result.stdout, "from NodeServices\n")
    }).pipe(Effect.provide(LocalTerminal.layerNoDeps.pipe(Layer.provide(NodeServices.layer)))))
})

layer(LocalTerminal.layer, { excludeTestServices: true })("LocalTerminal processes", (it) => {
  it.effect("a command that exits non-zero takes the rest of its process group with it (platform-node)", () =>
    Effect.gen(function*() {
      const terminal = yield* Terminal
      const marker = makeMarker()
      yield* Effect.addFinalizer(() => Effect.ignore(terminal.run(`pkill -f '^sleep ${marker}$'`)))
      const result = yield* terminal.run(`sleep ${marker} </dev/null >/dev/null 2>&1 & exit 3`, [], {
        timeout: "20 seconds"
      })
      assert.strictEqual(result.exitCode, 3)
      let count = yield* countSleeps(marker)
      for (let i = 0; i < 50 && count !== 0; i++) {
        yield* Effect.sleep("100 millis")
        count = yield* countSleeps(marker)
      }
      assert.strictEqual(count, 0)
    }))

  it.effect("a timeout ends a command that ignores SIGTERM with SIGKILL after the grace period", () =>
    Effect.gen(function*() {
      const terminal = yield* Terminal
      const marker = makeMarker()
      const started = yield* Clock.currentTimeMillis
      const error = yield* Effect.flip(
        terminal.run(`trap '' TERM; echo stubborn; sleep ${marker}`, [], { timeout: "300 millis" })
      )
      const elapsed = (yield* Clock.currentTimeMillis) - started
      assert.strictEqual(error.reason._tag, "Timeout")
      assert.strictEqual(error.reason._tag === "Timeout" ? error.reason.stdout : undefined, "stubborn\n")
      // 300 ms, then the 2 s grace period, then SIGKILL: well under the sleep.
      assert.isAtLeast(elapsed, 2_000)
      assert.isBelow(elapsed, 10_000)
      assert.strictEqual(yield* countSleeps(marker), 0)
    }))

  it.effect("any string given as an argument arrives verbatim as one argument, and nothing in it runs", () =>
    Effect.gen(function*() {
      const terminal = yield* Terminal
      const dir = yield* scratchDir
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.array(argument, { minLength: 1, maxLength: 6 }), (args) =>
            Effect.runPromise(Effect.gen(function*() {
              const result = yield* terminal.run("printf '%s\\0'", args, { workdir: dir })
              assert.strictEqual(result.exitCode, 0, result.stderr)
              const words = result.stdout.split("\0")
              assert.strictEqual(words.pop(), "")
              assert.deepStrictEqual(words, args)
              const listing = yield* terminal.run("ls -A", [dir])
              assert.strictEqual(listing.stdout, "", `something ran: ${JSON.stringify(args)}`)
            }))),
          { numRuns: 150 }
        )
      )
    }), 120_000)

  it.effect("any string given as an environment value or as stdin arrives verbatim", () =>
    Effect.gen(function*() {
      const terminal = yield* Terminal
      const dir = yield* scratchDir
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(argument, fc.string({ unit: "binary" }), (value, input) =>
            Effect.runPromise(Effect.gen(function*() {
              const result = yield* terminal.run("printf '%s\\0' \"$CERULEAN_VALUE\"; cat", [], {
                env: { CERULEAN_VALUE: value },
                stdin: input,
                workdir: dir
              })
              assert.strictEqual(result.stdout, `${value}\0${input}`)
              assert.strictEqual((yield* terminal.run("ls -A", [dir])).stdout, "", `something ran: ${value}`)
            }))),
          { numRuns: 100 }
        )
      )
    }), 120_000)

  it.effect("a NUL byte anywhere in the command line is rejected with InvalidArgument before anything runs", () =>
    Effect.gen(function*() {
      const terminal = yield* Terminal
      const dir = yield* scratchDir
      const withNul = fc.tuple(fc.string(), fc.string()).map(([a, b]) => `${a}\0${b}`)
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(withNul, fc.constantFrom("arg", "env", "workdir", "command"), (value, where) =>
            Effect.runPromise(Effect.gen(function*() {
              const error = yield* Effect.flip(
                where === "command"
                  ? terminal.run(`touch canary; : ${value}`, [], { workdir: dir })
                  : terminal.run("touch canary", where === "arg" ? [value] : [], {
                    workdir: where === "workdir" ? `${dir}/${value}` : dir,
                    ...(where === "env" ? { env: { CERULEAN_VALUE: value } } : {})
                  })
              )
              assert.strictEqual(error.reason._tag, "InvalidArgument")
              assert.include(error.reason.description ?? "", "NUL")
              assert.strictEqual((yield* terminal.run("ls -A", [dir])).stdout, "")
            }))),
          { numRuns: 50 }
        )
      )
    }), 120_000)

  it.effect("logs each run at Debug with command, outcome and duration, but no environment value or stdin", () =>
    Effect.gen(function*() {
      const terminal = yield* Terminal
      const entries: Array<{ readonly level: string; readonly text: string }> = []
      const capture = Logger.make((options) => {
        entries.push({ level: options.logLevel, text: JSON.stringify(Logger.formatStructured.log(options)) })
      })
      yield* terminal.run("echo", ["logged-arg"], { env: { CERULEAN_TOKEN: "s3cr3t-env" }, stdin: "s3cr3t-stdin" }).pipe(
        Effect.provideService(References.MinimumLogLevel, "Debug"),
        Effect.provide(Logger.layer([capture]))
      )
      assert.strictEqual(entries.length, 1)
      const [entry] = entries
      assert.strictEqual(entry.level, "Debug")
      assert.include(entry.text, "logged-arg")
      assert.include(entry.text, "CERULEAN_TOKEN")
      assert.include(entry.text, "exit 0")
      assert.include(entry.text, "durationMs")
      assert.notInclude(entry.text, "s3cr3t")
      yield* Effect.flip(terminal.run("sleep 5", [], { timeout: "100 millis" })).pipe(
        Effect.provideService(References.MinimumLogLevel, "Debug"),
        Effect.provide(Logger.layer([capture]))
      )
      assert.strictEqual(entries.length, 2)
      assert.include(entries[1].text, "\"outcome\":\"Timeout\"")
    }))

  it.effect("logs nothing at the default level", () =>
    Effect.gen(function*() {
      const terminal = yield* Terminal
      const entries: Array<unknown> = []
      const capture = Logger.make((options) => {
        entries.push(options.message)
      })
      yield* terminal.run("true").pipe(Effect.provide(Logger.layer([capture])))
      assert.deepStrictEqual(entries, [])
    }))
})
