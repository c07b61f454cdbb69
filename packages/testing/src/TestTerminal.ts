/**
 * A scriptable `Terminal` for tests of code that runs commands (schedulers,
 * deploy scripts, ...): nothing is executed; each call is answered by the
 * first scripted rule that matches it, and every call is recorded.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Terminal } from "@cerulean/core"
 * import { TestTerminal } from "@cerulean/testing"
 *
 * const layer = TestTerminal.layer([
 *   { match: "sbatch --version", reply: { stdout: "slurm 23.02.6\n" } },
 *   { match: { prefix: "squeue" }, reply: { stdout: "RUNNING\n" }, times: 1 },
 *   { match: /^squeue /, reply: { stdout: "" } },
 *   { match: (call) => call.command === "scancel", reply: () => Effect.succeed({ exitCode: 1, stderr: "no such job\n" }) }
 * ])
 *
 * const program = Effect.gen(function*() {
 *   const terminal = yield* Terminal
 *   yield* terminal.run("squeue", ["-j", "42"])
 *   const calls = yield* TestTerminal.use((t) => t.calls)
 *   return calls.map((call) => call.commandLine) // ["squeue -j 42"]
 * }).pipe(Effect.provide(layer))
 * ```
 *
 * @since 0.1.0
 */
import * as Shell from "@cerulean/core/Shell"
import { InvalidArgument, RunResult, type RunOptions, Terminal, TerminalError, Timeout } from "@cerulean/core/Terminal"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/**
 * One call of `run`, as the test terminal received it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Call {
  /** The command as given (shell text). */
  readonly command: string
  /** The arguments as given, unquoted. */
  readonly args: ReadonlyArray<string>
  /** The options as given. */
  readonly options: RunOptions
  /** `command` followed by the quoted `args`, without environment or working directory: what rules match against. */
  readonly commandLine: string
  /** The whole shell text a real terminal would run, with `export`s and `cd` (see `Shell.commandLine`). */
  readonly shellLine: string
}

/**
 * Which calls a rule answers:
 *
 * - a string: exactly this `commandLine` (command plus quoted arguments, e.g. `"squeue -j 42"`);
 * - `{ prefix }`: a `commandLine` starting with this text;
 * - a `RegExp`: tested against the `commandLine`;
 * - a function: any predicate on the whole {@link Call} (options included).
 *
 * @since 0.1.0
 * @category models
 */
export type Matcher = string | { readonly prefix: string } | RegExp | ((call: Call) => boolean)

/**
 * A canned result; omitted fields default to exit code 0 and empty output.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReplySpec {
  readonly exitCode?: number | undefined
  readonly stdout?: string | undefined
  readonly stderr?: string | undefined
  readonly signal?: string | undefined
}

/**
 * How a rule answers: a canned result, or a function of the call that may
 * compute one, take time (it is subject to the call's `timeout`, and sees
 * the `TestClock` in `it.effect` tests) or fail with a `TerminalError`.
 *
 * @since 0.1.0
 * @category models
 */
export type Reply = ReplySpec | ((call: Call) => Effect.Effect<ReplySpec, TerminalError>)

/**
 * A scripted answer. Rules are tried in order; the first whose `match`
 * accepts the call answers it. A rule with `times` answers at most that many
 * calls and is then passed over.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rule {
  readonly match: Matcher
  readonly reply: Reply
  readonly times?: number | undefined
}

/**
 * Options of {@link TestTerminal.make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The answer to calls no rule matches. Without it, such a call is a defect ({@link UnmatchedCommand}). */
  readonly fallback?: Reply | undefined
  /** Default `"test"`. */
  readonly protocol?: string | undefined
  /** Default `"test"`. */
  readonly location?: string | undefined
}

/**
 * A call that no rule matched, with no fallback given. It is raised as a
 * defect, not as a `TerminalError`, so that code under test cannot mistake a
 * missing script for a failure of the command and handle it.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnmatchedCommand extends Data.TaggedError("UnmatchedCommand")<{
  readonly call: Call
  readonly rules: ReadonlyArray<string>
}> {
  override get message(): string {
    const scripted = this.rules.length === 0 ? "no rules" : `rules: ${this.rules.join(", ")}`
    return `TestTerminal: no reply scripted for ${JSON.stringify(this.call.commandLine)} (${scripted})`
  }
}

/**
 * The test terminal: a `Terminal` plus what it recorded.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestTerminalService extends Terminal {
  /** Every call so far, in order, including calls rejected as invalid and calls no rule matched. */
  readonly calls: Effect.Effect<ReadonlyArray<Call>>
  /** The same record, read synchronously (handy inside `assert`). */
  readonly recorded: () => ReadonlyArray<Call>
  /** Forgets the recorded calls (rule counts are kept). */
  readonly clear: Effect.Effect<void>
}

const describeMatcher = (matcher: Matcher): string =>
  typeof matcher === "string"
    ? JSON.stringify(matcher)
    : matcher instanceof RegExp
    ? String(matcher)
    : typeof matcher === "function"
    ? "<predicate>"
    : `prefix ${JSON.stringify(matcher.prefix)}`

const matches = (matcher: Matcher, call: Call): boolean =>
  typeof matcher === "string"
    ? call.commandLine === matcher
    : matcher instanceof RegExp
    ? new RegExp(matcher.source, matcher.flags.replace(/[gy]/g, "")).test(call.commandLine)
    : typeof matcher === "function"
    ? matcher(call)
    : call.commandLine.startsWith(matcher.prefix)

const toResult = (spec: ReplySpec): RunResult =>
  new RunResult({
    exitCode: spec.exitCode ?? 0,
    stdout: spec.stdout ?? "",
    stderr: spec.stderr ?? "",
    ...(spec.signal === undefined ? {} : { signal: spec.signal })
  })

/**
 * Scriptable mock of `Terminal`. Its `layer` provides this tag and the
 * generic `Terminal` tag from one instance, so code under test sees an
 * ordinary `Terminal` and the test reads the record through `TestTerminal`.
 *
 * Like a real terminal it rejects invalid input (bad environment names, NUL
 * bytes, lone surrogates) with an `InvalidArgument` reason before answering,
 * and honours `timeout` by failing with a `Timeout` reason (empty output)
 * when a reply takes longer.
 *
 * @since 0.1.0
 * @category services
 */
export class TestTerminal extends Context.Service<TestTerminal, TestTerminalService>()(
  "@cerulean/testing/TestTerminal"
) {
  /**
   * Builds a test terminal answering with `rules`.
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly make = (
    rules: ReadonlyArray<Rule>,
    options: Options = {}
  ): Effect.Effect<TestTerminalService> =>
    Effect.sync(() => {
      const record: Array<Call> = []
      const used = rules.map(() => 0)

      const answer = (call: Call): Effect.Effect<ReplySpec, TerminalError> => {
        const index = rules.findIndex((rule, i) =>
          (rule.times === undefined || used[i] < rule.times) && matches(rule.match, call)
        )
        const reply = index === -1 ? options.fallback : rules[index].reply
        if (index !== -1) used[index]++
        if (reply === undefined) {
          return Effect.die(new UnmatchedCommand({ call, rules: rules.map((rule) => describeMatcher(rule.match)) }))
        }
        return typeof reply === "function" ? Effect.suspend(() => reply(call)) : Effect.succeed(reply)
      }

      const run = Effect.fn("TestTerminal.run")(function*(
        command: string,
        args: ReadonlyArray<string> = [],
        runOptions: RunOptions = {}
      ) {
        const call: Call = {
          command,
          args: [...args],
          options: runOptions,
          commandLine: Shell.commandLine(command, args),
          shellLine: Shell.commandLine(command, args, runOptions)
        }
        record.push(call)
        const problem = Shell.checkRun(command, args, runOptions)
        if (problem !== undefined) {
          return yield* new TerminalError({ reason: new InvalidArgument({ command, description: problem }) })
        }
        const timeout = runOptions.timeout === undefined ? undefined : Duration.fromInput(runOptions.timeout)
        if (timeout !== undefined && Option.isNone(timeout)) {
          return yield* new TerminalError({
            reason: new InvalidArgument({ command, description: "the timeout is not a valid duration" })
          })
        }
        const replied = answer(call)
        const spec = yield* (timeout === undefined ? replied : replied.pipe(
          Effect.timeoutOption(timeout.value),
          Effect.flatMap(Option.match({
            onSome: Effect.succeed,
            onNone: () =>
              Effect.fail(
                new TerminalError({
                  reason: new Timeout({
                    command,
                    description: `killed after ${Duration.format(timeout.value)}`,
                    stdout: "",
                    stderr: ""
                  })
                })
              )
          }))
        ))
        return toResult(spec)
      })

      return TestTerminal.of({
        protocol: options.protocol ?? "test",
        location: options.location ?? "test",
        run,
        calls: Effect.sync(() => [...record]),
        recorded: () => [...record],
        clear: Effect.sync(() => {
          record.length = 0
        })
      })
    })

  /**
   * Provides `TestTerminal` and `Terminal` (one instance) answering with `rules`.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (
    rules: ReadonlyArray<Rule>,
    options: Options = {}
  ): Layer.Layer<TestTerminal | Terminal> =>
    Layer.effectContext(
      Effect.map(
        TestTerminal.make(rules, options),
        (terminal) => Context.make(TestTerminal, terminal).pipe(Context.add(Terminal, terminal))
      )
    )
}
