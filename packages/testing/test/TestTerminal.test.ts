import { LocalTerminal, Terminal, TerminalError } from "@cerulean/core"
import { ConnectionLost } from "@cerulean/core/Terminal"
import { TestTerminal } from "@cerulean/testing"
import { UnmatchedCommand } from "@cerulean/testing/TestTerminal"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"

const runOn = (command: string, args?: ReadonlyArray<string>, options?: Parameters<Terminal["run"]>[2]) =>
  Effect.flatMap(Terminal, (terminal) => terminal.run(command, args, options))

describe("TestTerminal", () => {
  it.effect("answers an exact command line, with defaults for omitted fields", () =>
    Effect.gen(function*() {
      const result = yield* runOn("squeue", ["-j", "42"])
      assert.deepStrictEqual([result.exitCode, result.stdout, result.stderr, result.signal], [0, "RUNNING\n", "", undefined])
      const other = yield* runOn("squeue -j 42")
      assert.strictEqual(other.stdout, "RUNNING\n", "the command line is the command plus quoted arguments")
    }).pipe(Effect.provide(TestTerminal.layer([{ match: "squeue -j 42", reply: { stdout: "RUNNING\n" } }]))))

  it.effect("matches arguments quoted as a shell would read them", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* runOn("cat", ["my file"])).stdout, "one argument")
      assert.strictEqual((yield* runOn("cat", ["my", "file"])).stdout, "two arguments")
    }).pipe(Effect.provide(TestTerminal.layer([
      { match: "cat 'my file'", reply: { stdout: "one argument" } },
      { match: "cat my file", reply: { stdout: "two arguments" } }
    ]))))

  it.effect("matches by prefix, regular expression and predicate, trying rules in order", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* runOn("sbatch", ["--version"])).stdout, "exact")
      assert.strictEqual((yield* runOn("sbatch", ["job.sh"])).stdout, "prefix")
      assert.strictEqual((yield* runOn("qstat", ["-f", "7"])).stdout, "regex")
      assert.strictEqual((yield* runOn("qstat", ["-f", "8"])).stdout, "regex", "a global regex must not keep state")
      assert.strictEqual((yield* runOn("pwd", [], { workdir: "/scratch" })).stdout, "predicate")
      assert.strictEqual((yield* runOn("pwd")).stdout, "fallback")
    }).pipe(Effect.provide(TestTerminal.layer([
      { match: "sbatch --version", reply: { stdout: "exact" } },
      { match: { prefix: "sbatch " }, reply: { stdout: "prefix" } },
      { match: /^qstat -f \d+$/g, reply: { stdout: "regex" } },
      { match: (call) => call.command === "pwd" && call.options.workdir === "/scratch", reply: { stdout: "predicate" } }
    ], { fallback: { stdout: "fallback" } }))))

  it.effect("a rule with times answers that many calls, then later rules answer", () =>
    Effect.gen(function*() {
      const states: Array<string> = []
      for (let i = 0; i < 4; i++) states.push((yield* runOn("squeue", ["-j", "1"])).stdout)
      assert.deepStrictEqual(states, ["PENDING", "RUNNING", "RUNNING", ""])
    }).pipe(Effect.provide(TestTerminal.layer([
      { match: { prefix: "squeue" }, reply: { stdout: "PENDING" }, times: 1 },
      { match: { prefix: "squeue" }, reply: { stdout: "RUNNING" }, times: 2 },
      { match: { prefix: "squeue" }, reply: { stdout: "" } }
    ]))))

  it.effect("a reply function sees the call and may fail with a TerminalError", () =>
    Effect.gen(function*() {
      const echoed = yield* runOn("echo", ["a b", "c"], { stdin: "in" })
      assert.deepStrictEqual([echoed.exitCode, echoed.stdout, echoed.signal], [143, "echo:a b|c:in", "SIGTERM"])
      const error = yield* Effect.flip(runOn("sbatch"))
      assert.strictEqual(error.reason._tag, "ConnectionLost")
      assert.strictEqual(error.reason.command, "sbatch")
    }).pipe(Effect.provide(TestTerminal.layer([
      {
        match: { prefix: "echo" },
        reply: (call) =>
          Effect.succeed({
            exitCode: 143,
            signal: "SIGTERM",
            stdout: `${call.command}:${call.args.join("|")}:${String(call.options.stdin)}`
          })
      },
      {
        match: "sbatch",
        reply: (call) => Effect.fail(new TerminalError({ reason: new ConnectionLost({ command: call.command }) }))
      }
    ]))))

  it.effect("a reply slower than the call's timeout fails with Timeout (on the TestClock)", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.flip(runOn("slow", [], { timeout: "10 seconds" })))
      yield* TestClock.adjust("11 seconds")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.reason._tag, "Timeout")
      const quick = yield* Effect.forkChild(runOn("slow", [], { timeout: "1 minute" }))
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual((yield* Fiber.join(quick)).stdout, "done")
    }).pipe(Effect.provide(TestTerminal.layer([
      { match: "slow", reply: () => Effect.as(Effect.sleep("30 seconds"), { stdout: "done" }) }
    ]))))

  it.effect("an unmatched command without fallback is a defect naming the command and the rules", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(runOn("rm", ["-rf", "/data"]))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const defect = exit.cause.reasons.filter(Cause.isDieReason).map((reason) => reason.defect)[0]
        assert.instanceOf(defect, UnmatchedCommand)
        if (defect instanceof UnmatchedCommand) {
          assert.strictEqual(defect.call.commandLine, "rm -rf /data")
          assert.include(defect.message, "rm -rf /data")
          assert.include(defect.message, "\"squeue\"")
          assert.include(defect.message, "prefix \"sbatch\"")
        }
      }
    }).pipe(Effect.provide(TestTerminal.layer([
      { match: "squeue", reply: {} },
      { match: { prefix: "sbatch" }, reply: {} }
    ]))))

  it.effect("records every call with its options and the shell line a real terminal would run", () =>
    Effect.gen(function*() {
      const test = yield* TestTerminal
      yield* runOn("ls", ["my file", "-l"], { workdir: "/tmp/x y", env: { A: "1 2" }, stdin: "data" })
      yield* runOn("pwd", [], { workdir: { path: "/home" } })
      const calls = yield* test.calls
      assert.strictEqual(calls.length, 2)
      assert.strictEqual(calls[0].command, "ls")
      assert.deepStrictEqual(calls[0].args, ["my file", "-l"])
      assert.strictEqual(calls[0].options.stdin, "data")
      assert.strictEqual(calls[0].commandLine, "ls 'my file' -l")
      assert.strictEqual(calls[0].shellLine, "export A='1 2'\ncd -- '/tmp/x y' || exit 1\nls 'my file' -l")
      assert.strictEqual(calls[1].shellLine, "cd -- /home || exit 1\npwd")
      assert.deepStrictEqual(test.recorded(), calls)
      yield* test.clear
      assert.deepStrictEqual(yield* test.calls, [])
      assert.deepStrictEqual(test.recorded(), [])
    }).pipe(Effect.provide(TestTerminal.layer([], { fallback: {} }))))

  it.live("the recorded shell line runs on a real terminal as the call itself would", () =>
    Effect.gen(function*() {
      const test = yield* TestTerminal.make([], { fallback: {} })
      const command = "printf '%s|' \"$CERULEAN_A\" \"$(pwd)\""
      const options = { workdir: "/tmp", env: { CERULEAN_A: "it's $(x)" } }
      yield* test.run(command, ["arg one", "$HOME"], options)
      const [call] = yield* test.calls
      const local = yield* LocalTerminal
      const direct = yield* local.run(command, ["arg one", "$HOME"], options)
      const replayed = yield* local.run("sh -c", [call.shellLine])
      assert.strictEqual(direct.stdout, "it's $(x)|/tmp|arg one|$HOME|")
      assert.strictEqual(replayed.stdout, direct.stdout)
    }).pipe(Effect.provide(LocalTerminal.layer)))

  it.effect("rejects invalid input like a real terminal, and still records the call", () =>
    Effect.gen(function*() {
      const test = yield* TestTerminal
      const badName = yield* Effect.flip(runOn("echo", [], { env: { "NOT-A-NAME": "x" } }))
      assert.strictEqual(badName.reason._tag, "InvalidArgument")
      const nul = yield* Effect.flip(runOn("echo", ["a\0b"]))
      assert.strictEqual(nul.reason._tag, "InvalidArgument")
      assert.strictEqual((yield* test.calls).length, 2)
    }).pipe(Effect.provide(TestTerminal.layer([], { fallback: {} }))))

  it.effect("layer provides TestTerminal and Terminal as one instance, with protocol and location", () =>
    Effect.gen(function*() {
      const test = yield* TestTerminal
      const terminal = yield* Terminal
      assert.strictEqual(test, terminal)
      assert.deepStrictEqual([terminal.protocol, terminal.location], ["ssh", "cerulean@hpc:22"])
      const plain = yield* TestTerminal.make([])
      assert.deepStrictEqual([plain.protocol, plain.location], ["test", "test"])
    }).pipe(Effect.provide(TestTerminal.layer([], { protocol: "ssh", location: "cerulean@hpc:22" }))))
})
