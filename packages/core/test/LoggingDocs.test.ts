// The recipes of docs/logging.md, run as written (only the console is the TestConsole of it.effect).
import { LocalTerminal, Terminal } from "@cerulean/core"
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Layer, Logger, References } from "effect"
import { TestConsole } from "effect/testing"

const program = Effect.gen(function*() {
  const terminal = yield* Terminal
  return yield* terminal.run("uname", ["-a"])
})

const DebugLogging = Layer.mergeAll(
  Layer.succeed(References.MinimumLogLevel, "Debug"),
  Logger.layer([Logger.consoleJson])
)

const parsedLines = Effect.map(
  TestConsole.logLines,
  (lines) => lines.map((line) => JSON.parse(String(line)) as { message: unknown; annotations: Record<string, unknown> })
)

describe("docs/logging.md", () => {
  it.effect("DebugLogging shows each command run as a JSON line", () =>
    Effect.gen(function*() {
      const result = yield* program.pipe(Effect.provide([LocalTerminal.layer, DebugLogging]))
      assert.strictEqual(result.exitCode, 0)
      const lines = yield* parsedLines
      assert.strictEqual(lines.length, 1)
      assert.deepStrictEqual(lines[0].message, "command run")
      assert.strictEqual(lines[0].annotations.command, "uname")
      assert.deepStrictEqual(lines[0].annotations.args, ["-a"])
      assert.strictEqual(lines[0].annotations.outcome, "exit 0")
    }))

  it.effect("without it, nothing is printed", () =>
    Effect.gen(function*() {
      yield* program.pipe(Effect.provide([LocalTerminal.layer, Logger.layer([Logger.consoleJson])]))
      assert.deepStrictEqual(yield* TestConsole.logLines, [])
    }))

  it.effect("provideService raises the level for one part of a program only", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        const terminal = yield* Terminal
        yield* terminal.run("echo", ["quiet"])
        yield* terminal.run("echo", ["loud"]).pipe(Effect.provideService(References.MinimumLogLevel, "Debug"))
      }).pipe(Effect.provide([LocalTerminal.layer, Logger.layer([Logger.consoleJson])]))
      const lines = yield* parsedLines
      assert.deepStrictEqual(lines.map((line) => line.annotations.args), [["loud"]])
    }))

  it.effect("the level can come from configuration", () =>
    Effect.gen(function*() {
      const FromConfig = Layer.effect(
        References.MinimumLogLevel,
        Effect.gen(function*() {
          return yield* Config.LogLevel("LOG_LEVEL")
        })
      )
      yield* program.pipe(
        Effect.provide([LocalTerminal.layer, Logger.layer([Logger.consoleJson])]),
        Effect.provide(FromConfig),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ LOG_LEVEL: "Debug" })))
      )
      assert.strictEqual((yield* parsedLines).length, 1)
    }))
})
