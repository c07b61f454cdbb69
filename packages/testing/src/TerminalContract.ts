/**
 * The contract every `Terminal` must pass, as a vitest suite. Each
 * implementation's test file calls {@link run} with its layer:
 *
 * ```ts
 * import { LocalTerminal } from "@cerulean/core"
 * import { TerminalContract } from "@cerulean/testing"
 *
 * TerminalContract.run("LocalTerminal", LocalTerminal.layer)
 * ```
 *
 * It ports the Python original's `test_terminal.py` and adds what the
 * original got wrong: stderr kept apart, stdin closed when not given,
 * arguments passed verbatim, timeouts that kill the whole command, output
 * that survives a timeout, no truncation, concurrent runs. Everything it needs
 * on the machine is done through the terminal under test (`mktemp`, `ps`,
 * `grep`, `printf`, `bash`), so it runs the same against a remote host.
 *
 * @since 0.1.0
 */
import { type RunOptions, type RunResult, Terminal, type TerminalError } from "@cerulean/core/Terminal"
import { assert, layer } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"

/**
 * Options of {@link run}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Size of the large stdout, stderr and stdin tests, in bytes (default 5 000 000). */
  readonly largeBytes?: number | undefined
  /** How many runs the concurrency test starts at once (default 10). */
  readonly parallel?: number | undefined
  /** Per-test timeout (default 60 seconds). */
  readonly testTimeout?: Duration.Input | undefined
}

const scratchDir: Effect.Effect<string, TerminalError, Terminal | Scope.Scope> = Effect.gen(function*() {
  const terminal = yield* Terminal
  const made = yield* terminal.run(`mktemp -d "\${TMPDIR:-/tmp}/cerulean-contract.XXXXXXXX"`)
  assert.strictEqual(made.exitCode, 0, `mktemp -d failed: ${made.stderr}`)
  const dir = made.stdout.trim()
  assert.isTrue(dir.startsWith("/"), `mktemp -d printed ${JSON.stringify(made.stdout)}`)
  yield* Effect.addFinalizer(() => Effect.ignore(terminal.run("rm -rf", [dir])))
  return dir
})

/** Lists the names in `dir` (hidden ones too), one per line, sorted. */
const listDir = (dir: string) =>
  Effect.flatMap(Terminal, (terminal) => terminal.run("ls -A", [dir]))

/**
 * A marker unique to one test run: the duration of a `sleep` no test lets
 * finish, found again in `ps` output without matching the `grep` looking for it.
 */
const makeMarker = (): string => `3${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`

const countSleeps = (marker: string) =>
  Effect.gen(function*() {
    const terminal = yield* Terminal
    // `[s]leep` does not match the grep (or the shell running it) itself.
    const result = yield* terminal.run(`ps -eo args= | grep -c -- '^[s]leep ${marker}$' || true`)
    const count = Number.parseInt(result.stdout.trim(), 10)
    assert.isFalse(Number.isNaN(count), `ps | grep printed ${JSON.stringify(result.stdout)} ${result.stderr}`)
    return count
  })

/** Polls `countSleeps` until it equals `expected` or `within` has passed; returns the last count. */
const awaitSleeps = (marker: string, expected: number, within: Duration.Input) =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(Duration.fromInputUnsafe(within))
    let count = yield* countSleeps(marker)
    while (count !== expected && (yield* Clock.currentTimeMillis) < deadline) {
      yield* Effect.sleep("100 millis")
      count = yield* countSleeps(marker)
    }
    return count
  })

const run_ = (command: string, args?: ReadonlyArray<string>, options?: RunOptions) =>
  Effect.flatMap(Terminal, (terminal) => terminal.run(command, args, options))

const assertResult = (
  result: RunResult,
  expected: { readonly exitCode: number; readonly stdout: string; readonly stderr: string }
) => {
  assert.deepStrictEqual(
    { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr },
    expected
  )
}

/** Splits `printf '%s\0' ...` output back into the words it printed. */
const splitNul = (output: string): Array<string> => {
  const words = output.split("\0")
  assert.strictEqual(words.pop(), "", `output does not end with NUL: ${JSON.stringify(output)}`)
  return words
}

/** Arguments that a shell would split, expand, execute or take as options if they were not quoted. */
const awkwardArgs: ReadonlyArray<string> = [
  "with space",
  "  leading and trailing  ",
  "it's",
  "double \"quote\"",
  "new\nline",
  "tab\there",
  "$(touch canary)",
  "`touch canary`",
  ";touch canary",
  "&& touch canary",
  "| touch canary",
  "> canary",
  "$HOME",
  "${PATH}",
  "*",
  "?",
  "[a-z]*",
  "~",
  "~root",
  "-n",
  "-e",
  "--",
  "--help",
  "#not a comment",
  "!",
  "\\",
  "back\\slash\\n",
  "'",
  "\"",
  "'\"'\"'",
  "ünïcödé 日本語 🎉",
  "",
  "\u00a0nbsp",
  "\u001b[31mred"
]

/**
 * Registers the Terminal contract as a vitest `describe` block named `name`,
 * with one shared instance of `layer` for all its tests.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = <E>(name: string, terminalLayer: Layer.Layer<Terminal, E>, options: Options = {}): void => {
  const largeBytes = options.largeBytes ?? 5_000_000
  const parallel = options.parallel ?? 10
  const testTimeout = Duration.toMillis(Duration.fromInputUnsafe(options.testTimeout ?? "60 seconds"))

  layer(terminalLayer, { excludeTestServices: true })(`${name} (Terminal contract)`, (it) => {
    it.effect("identifies itself", () =>
      Effect.gen(function*() {
        const terminal = yield* Terminal
        assert.isTrue(terminal.protocol.length > 0)
        assert.isTrue(terminal.location.length > 0)
      }))

    it.effect("echo hello world gives (0, 'hello world\\n', '')", () =>
      Effect.gen(function*() {
        assertResult(yield* run_("echo hello world"), { exitCode: 0, stdout: "hello world\n", stderr: "" })
      }), testTimeout)

    it.effect("runs a command given by absolute path", () =>
      Effect.gen(function*() {
        assertResult(yield* run_("/bin/echo", ["hello", "world"]), { exitCode: 0, stdout: "hello world\n", stderr: "" })
      }), testTimeout)

    it.effect("passes stdin to the command and closes it", () =>
      Effect.gen(function*() {
        assertResult(yield* run_("cat", [], { stdin: "hello world\n", timeout: "20 seconds" }), {
          exitCode: 0,
          stdout: "hello world\n",
          stderr: ""
        })
        const bytes = new Uint8Array([0, 255, 1, 10])
        assertResult(yield* run_("wc -c", [], { stdin: bytes, timeout: "20 seconds" }).pipe(
          Effect.map((result) => ({ ...result, stdout: result.stdout.trim() }) as RunResult)
        ), { exitCode: 0, stdout: "4", stderr: "" })
      }), testTimeout)

    it.effect("closes stdin at once when none is given", () =>
      Effect.gen(function*() {
        // A terminal that left stdin open would make `cat` wait until the timeout.
        assertResult(yield* run_("cat", [], { timeout: "20 seconds" }), { exitCode: 0, stdout: "", stderr: "" })
        assertResult(yield* run_("read line; echo \"read exited $?\"", [], { timeout: "20 seconds" }), {
          exitCode: 0,
          stdout: "read exited 1\n",
          stderr: ""
        })
      }), testTimeout)

    it.effect("runs in the working directory (bash -c pwd)", () =>
      Effect.gen(function*() {
        const dir = yield* scratchDir
        assertResult(yield* run_("bash -c pwd", [], { workdir: dir }), { exitCode: 0, stdout: `${dir}\n`, stderr: "" })
        assertResult(yield* run_("bash -c pwd", [], { workdir: { path: dir } }), {
          exitCode: 0,
          stdout: `${dir}\n`,
          stderr: ""
        })
        const awkward = `${dir}/with space 'and' $(touch canary) ünï`
        assert.strictEqual((yield* run_("mkdir", [awkward])).exitCode, 0)
        assertResult(yield* run_("pwd", [], { workdir: awkward }), { exitCode: 0, stdout: `${awkward}\n`, stderr: "" })
        assert.strictEqual((yield* listDir(dir)).stdout, `with space 'and' $(touch canary) ünï\n`)
      }), testTimeout)

    it.effect("a missing working directory gives a non-zero exit and runs nothing", () =>
      Effect.gen(function*() {
        const dir = yield* scratchDir
        const result = yield* run_("touch", [`${dir}/ran`], { workdir: `${dir}/missing` })
        assert.notStrictEqual(result.exitCode, 0)
        assert.strictEqual(result.stdout, "")
        assert.strictEqual((yield* listDir(dir)).stdout, "")
      }), testTimeout)

    it.effect("runs the command in a shell (export CERULEAN=cerulean ; echo $CERULEAN)", () =>
      Effect.gen(function*() {
        assertResult(yield* run_("export CERULEAN=cerulean ; echo $CERULEAN"), {
          exitCode: 0,
          stdout: "cerulean\n",
          stderr: ""
        })
      }), testTimeout)

    it.effect("keeps stdout and stderr apart", () =>
      Effect.gen(function*() {
        assertResult(yield* run_("echo out; echo err >&2; echo out2; echo err2 >&2"), {
          exitCode: 0,
          stdout: "out\nout2\n",
          stderr: "err\nerr2\n"
        })
      }), testTimeout)

    it.effect("reports exit codes 0, 3 and 255 with the output", () =>
      Effect.gen(function*() {
        assertResult(yield* run_("true"), { exitCode: 0, stdout: "", stderr: "" })
        assertResult(yield* run_("echo before; echo oops >&2; exit 3"), {
          exitCode: 3,
          stdout: "before\n",
          stderr: "oops\n"
        })
        assertResult(yield* run_("exit 255"), { exitCode: 255, stdout: "", stderr: "" })
        assertResult(yield* run_("sh -c 'exit 42'"), { exitCode: 42, stdout: "", stderr: "" })
      }), testTimeout)

    it.effect("reports death by a signal as 128 + n and names the signal", () =>
      Effect.gen(function*() {
        const result = yield* run_("echo dying; kill -9 $$")
        assert.strictEqual(result.exitCode, 137)
        assert.strictEqual(result.signal, "SIGKILL")
        assert.strictEqual(result.stdout, "dying\n")
      }), testTimeout)

    it.effect("decodes output as UTF-8, replacing invalid bytes and keeping NULs", () =>
      Effect.gen(function*() {
        assertResult(yield* run_("printf 'a\\000b\\377c\\303\\251\\n'"), {
          exitCode: 0,
          stdout: "a\u0000b\uFFFDcé\n",
          stderr: ""
        })
        // Multi-byte characters across the boundaries of the chunks the output arrives in.
        const euros = yield* run_("yes € | head -n 400000 | tr -d '\\n'")
        assert.strictEqual(euros.exitCode, 0)
        assert.strictEqual(euros.stdout.length, 400_000)
        assert.isTrue(euros.stdout === "€".repeat(400_000), "multi-byte output was altered")
      }), testTimeout)

    it.effect(`does not truncate large output (${largeBytes} bytes on stdout and on stderr)`, () =>
      Effect.gen(function*() {
        // stderr is written first: a terminal that read stdout to its end before stderr would deadlock here.
        const result = yield* run_(
          `head -c ${largeBytes} /dev/zero | tr '\\0' e >&2; head -c ${largeBytes} /dev/zero | tr '\\0' o`,
          [],
          { timeout: "50 seconds" }
        )
        assert.strictEqual(result.exitCode, 0)
        assert.strictEqual(result.stdout.length, largeBytes)
        assert.strictEqual(result.stderr.length, largeBytes)
        assert.isTrue(/^o*$/.test(result.stdout) && /^e*$/.test(result.stderr), "large output was altered")
      }), testTimeout)

    it.effect(`passes large stdin (${largeBytes} bytes) whole`, () =>
      Effect.gen(function*() {
        const result = yield* run_("wc -c", [], { stdin: "x".repeat(largeBytes), timeout: "50 seconds" })
        assert.strictEqual(result.exitCode, 0)
        assert.strictEqual(result.stdout.trim(), String(largeBytes))
      }), testTimeout)

    it.effect("a command that does not read its stdin still succeeds", () =>
      Effect.gen(function*() {
        assertResult(yield* run_("echo ignored", [], { stdin: "y".repeat(largeBytes), timeout: "20 seconds" }), {
          exitCode: 0,
          stdout: "ignored\n",
          stderr: ""
        })
      }), testTimeout)

    it.effect("passes every argument verbatim as one word, executing nothing in it", () =>
      Effect.gen(function*() {
        const dir = yield* scratchDir
        const result = yield* run_("printf '%s\\0'", awkwardArgs, { workdir: dir })
        assert.strictEqual(result.exitCode, 0, result.stderr)
        assert.deepStrictEqual(splitNul(result.stdout), [...awkwardArgs])
        // Nor through another program's argv.
        const nested = yield* run_("sh -c 'printf \"%s\\0\" \"$@\"' sh", awkwardArgs, { workdir: dir })
        assert.deepStrictEqual(splitNul(nested.stdout), [...awkwardArgs])
        assert.strictEqual((yield* listDir(dir)).stdout, "", "an argument was executed")
      }), testTimeout)

    it.effect("sets environment variables with odd values, exported to child processes", () =>
      Effect.gen(function*() {
        const dir = yield* scratchDir
        const env = {
          CERULEAN_SPACE: "with space",
          CERULEAN_QUOTES: "it's \"quoted\"",
          CERULEAN_SUBST: "$(touch canary) `touch canary` ;touch canary",
          CERULEAN_NEWLINE: "line1\nline2\n",
          CERULEAN_EMPTY: "",
          CERULEAN_UNICODE: "ünïcödé 日本語 🎉",
          CERULEAN_DASH: "-n",
          CERULEAN_GLOB: "*",
          CERULEAN_BACKSLASH: "a\\b\\n"
        }
        const names = Object.keys(env)
        const result = yield* run_(
          `sh -c 'printf "%s\\0" ${names.map((n) => `"$${n}"`).join(" ")}'`,
          [],
          { env, workdir: dir }
        )
        assert.strictEqual(result.exitCode, 0, result.stderr)
        assert.deepStrictEqual(splitNul(result.stdout), Object.values(env))
        assert.strictEqual((yield* listDir(dir)).stdout, "", "an environment value was executed")
      }), testTimeout)

    it.effect("rejects invalid input with InvalidArgument and runs nothing", () =>
      Effect.gen(function*() {
        const dir = yield* scratchDir
        const attempts: ReadonlyArray<readonly [string, ReadonlyArray<string>, RunOptions]> = [
          ["touch", [`${dir}/ran`], { env: { "BAD-NAME": "x" } }],
          ["touch", [`${dir}/ran`], { env: { "A=1;touch ran;B": "x" } }],
          ["touch", [`${dir}/ran`], { env: { "": "x" } }],
          ["touch", [`${dir}/ran`, "nul\0byte"], {}],
          ["touch", [`${dir}/ran`], { env: { CERULEAN_NUL: "a\0b" } }],
          ["touch", [`${dir}/ran`, "lone \uD800 surrogate"], {}],
          [`touch ${dir}/ran #\0`, [], {}]
        ]
        for (const [command, args, runOptions] of attempts) {
          const error = yield* Effect.flip(run_(command, args, runOptions))
          assert.strictEqual(error.reason._tag, "InvalidArgument", `${command} ${JSON.stringify(runOptions)}`)
        }
        assert.strictEqual((yield* listDir(dir)).stdout, "")
      }), testTimeout)

    it.effect("a timeout kills the command and its children, and keeps the output so far", () =>
      Effect.gen(function*() {
        const marker = makeMarker()
        const started = yield* Clock.currentTimeMillis
        const error = yield* Effect.flip(
          run_(`echo partial; echo partial-err >&2; sh -c 'sleep ${marker} & sleep ${marker}'`, [], {
            timeout: "1 second"
          })
        )
        const elapsed = (yield* Clock.currentTimeMillis) - started
        assert.strictEqual(error.reason._tag, "Timeout")
        if (error.reason._tag === "Timeout") {
          assert.strictEqual(error.reason.stdout, "partial\n")
          assert.strictEqual(error.reason.stderr, "partial-err\n")
        }
        assert.isAtLeast(elapsed, 900)
        assert.isBelow(elapsed, 15_000, `the timeout took ${elapsed} ms`)
        assert.strictEqual(yield* awaitSleeps(marker, 0, "5 seconds"), 0, "a process of the command survived")
      }), testTimeout)

    it.effect("a timeout also kills background children that keep the output open after the shell exited", () =>
      Effect.gen(function*() {
        const marker = makeMarker()
        const error = yield* Effect.flip(
          run_(`sleep ${marker} & sleep ${marker} & echo started`, [], { timeout: "1 second" })
        )
        assert.strictEqual(error.reason._tag, "Timeout")
        assert.strictEqual(error.reason._tag === "Timeout" ? error.reason.stdout : undefined, "started\n")
        assert.strictEqual(yield* awaitSleeps(marker, 0, "5 seconds"), 0, "a background child survived the timeout")
      }), testTimeout)

    it.effect("a background job that lets go of the output outlives a successful run", () =>
      Effect.gen(function*() {
        const terminal = yield* Terminal
        const marker = makeMarker()
        yield* Effect.addFinalizer(() => Effect.ignore(terminal.run(`pkill -f '^sleep ${marker}$'`)))
        const started = yield* Clock.currentTimeMillis
        const result = yield* terminal.run(`sleep ${marker} </dev/null >/dev/null 2>&1 & echo launched`, [], {
          timeout: "20 seconds"
        })
        assertResult(result, { exitCode: 0, stdout: "launched\n", stderr: "" })
        assert.isBelow((yield* Clock.currentTimeMillis) - started, 10_000)
        assert.strictEqual(yield* awaitSleeps(marker, 1, "5 seconds"), 1, "the background job was killed")
        // Still there a moment later: nothing ends it after the run.
        yield* Effect.sleep("500 millis")
        assert.strictEqual(yield* countSleeps(marker), 1, "the background job was killed")
      }), testTimeout)

    it.effect("interrupting a run kills the command and its children", () =>
      Effect.gen(function*() {
        const marker = makeMarker()
        const fiber = yield* Effect.forkChild(run_(`sleep ${marker} & sleep ${marker}`))
        assert.strictEqual(yield* awaitSleeps(marker, 2, "10 seconds"), 2, "the command did not start")
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(yield* awaitSleeps(marker, 0, "5 seconds"), 0, "a process of the command survived")
      }), testTimeout)

    it.effect(`runs ${parallel} commands at once, each with its own result`, () =>
      Effect.gen(function*() {
        const indices = Array.from({ length: parallel }, (_, i) => i + 1)
        const started = yield* Clock.currentTimeMillis
        const results = yield* Effect.forEach(
          indices,
          (i) => run_(`sleep 1; echo out${i}; cat; echo err${i} >&2; exit ${i}`, [], { stdin: `in${i}\n` }),
          { concurrency: "unbounded" }
        )
        const elapsed = (yield* Clock.currentTimeMillis) - started
        results.forEach((result, index) => {
          const i = index + 1
          assertResult(result, { exitCode: i, stdout: `out${i}\nin${i}\n`, stderr: `err${i}\n` })
        })
        // One after another they would take at least `parallel` seconds.
        assert.isBelow(elapsed, Math.max(parallel * 1000 - 1000, 3000), `${parallel} runs took ${elapsed} ms`)
      }), testTimeout)
  })
}
