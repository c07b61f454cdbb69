/**
 * The contract every `Scheduler` must pass, as a vitest suite, ported from
 * the Python original's `test_scheduler.py` with its semantics fixed: a
 * cancelled or timed-out job never reports exit code 0, arguments are quoted
 * (so a "syntax error" comes from the program, not from the job script), and
 * names, arguments, directories and environment values arrive verbatim.
 *
 * ```ts
 * import { LocalTerminal } from "@cerulean/core"
 * import { DirectGnuScheduler } from "@cerulean/schedulers"
 * import { SchedulerContract } from "@cerulean/testing"
 *
 * SchedulerContract.run("DirectGnu on LocalTerminal", LocalTerminal.layer, (config) => DirectGnuScheduler.layer(config))
 * ```
 *
 * Files are made and read through the terminal of the machine the jobs run
 * on, in a scratch directory under its `$HOME` (shared with compute nodes on
 * real clusters).
 *
 * @since 0.1.0
 */
import { JobDescription } from "@cerulean/core/JobDescription"
import type { JobInfo } from "@cerulean/core/JobStatus"
import { type JobId, Scheduler } from "@cerulean/core/Scheduler"
import { Terminal, type TerminalError } from "@cerulean/core/Terminal"
import { assert, layer } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/**
 * Options of {@link run}: what the scheduler under test can do and how fast.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** A queue jobs may be sent to; enables the queue test (the job sees it as `$SLURM_JOB_PARTITION` or `$PBS_QUEUE`). */
  readonly queueName?: string | undefined
  /** A queue with at least two nodes; enables the `numNodes: 2` test. */
  readonly twoNodeQueue?: string | undefined
  /** The variable in which the scheduler itself shows the job name, verbatim (e.g. `SLURM_JOB_NAME`). */
  readonly jobNameVariable?: string | undefined
  /** How long a job with `timeReserved: 1` may take to be stopped (default 30 s; Slurm checks limits per minute). */
  readonly timeLimitBudget?: Duration.Input | undefined
  /** Per-test timeout (default 120 s; the time-limit test adds its budget). */
  readonly testTimeout?: Duration.Input | undefined
  /** Run the tests concurrently (they use separate jobs and files); default false. */
  readonly concurrent?: boolean | undefined
}

/**
 * How the suite builds the scheduler under test: once as the shared
 * instance, and again with a `prefix` for the prefix test.
 *
 * @since 0.1.0
 * @category models
 */
export type MakeScheduler = (config: { readonly prefix?: string | undefined }) => Layer.Layer<Scheduler, never, Terminal>

type Env = Scheduler | Terminal | Scope.Scope

const scratchDir: Effect.Effect<string, TerminalError, Terminal | Scope.Scope> = Effect.gen(function*() {
  const terminal = yield* Terminal
  const made = yield* terminal.run(`mktemp -d "$HOME/.cerulean-scheduler-contract.XXXXXXXX"`)
  assert.strictEqual(made.exitCode, 0, `mktemp -d failed: ${made.stderr}`)
  const dir = made.stdout.trim()
  assert.isTrue(dir.startsWith("/"), `mktemp -d printed ${JSON.stringify(made.stdout)}`)
  yield* Effect.addFinalizer(() => Effect.ignore(terminal.run("rm -rf", [dir])))
  return dir
})

const readFile = (path: string) =>
  Effect.gen(function*() {
    const result = yield* (yield* Terminal).run("cat --", [path])
    assert.strictEqual(result.exitCode, 0, `cannot read ${path}: ${result.stderr}`)
    return result.stdout
  })

/**
 * Submits a job; the scheduler's own output files go to a scratch directory
 * unless the test names them, so that no test leaves `slurm-<id>.out` or
 * `<name>.o<id>` files in the home directory.
 */
const submit = (fields: NonNullable<ConstructorParameters<typeof JobDescription>[0]>) =>
  Effect.gen(function*() {
    const scheduler = yield* Scheduler
    const needsDir = fields.systemOutFile === undefined || fields.systemErrFile === undefined
    const dir = needsDir ? yield* scratchDir : ""
    return yield* scheduler.submit(
      new JobDescription({
        ...(fields.systemOutFile === undefined ? { systemOutFile: `${dir}/scheduler.out` } : {}),
        ...(fields.systemErrFile === undefined ? { systemErrFile: `${dir}/scheduler.err` } : {}),
        ...fields
      })
    )
  })

const waitCode = (id: JobId, timeout: Duration.Input = "60 seconds") =>
  Effect.gen(function*() {
    const scheduler = yield* Scheduler
    const code = yield* scheduler.wait(id, { timeout })
    const within = Duration.format(Duration.fromInputUnsafe(timeout))
    assert.strictEqual(yield* scheduler.getStatus(id), "Done", `job ${id} not done within ${within}`)
    return code
  })

/** Runs until the job's watch stream shows `Running` (or it is already done). */
const awaitRunning = (id: JobId) =>
  Effect.flatMap(Scheduler, (scheduler) =>
    scheduler.watch(id).pipe(
      Stream.takeUntil((info) => info.status !== "Waiting"),
      Stream.runLast,
      Effect.timeout("90 seconds")
    ))

const endless = "while true; do sleep 1; done"

/** Values a shell would split, expand or execute if they were not quoted. */
const awkward: ReadonlyArray<string> = [
  "with space",
  "it's",
  "double \"quote\"",
  "new\nline",
  "$(touch canary)",
  "`touch canary`",
  "; touch canary",
  "$HOME",
  "*",
  "-n",
  "#hash",
  "back\\slash",
  "ünïcödé",
  ""
]

/**
 * Registers the Scheduler contract as a vitest `describe` block named
 * `name`, with one shared scheduler instance on one terminal.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = <E>(
  name: string,
  terminalLayer: Layer.Layer<Terminal, E>,
  makeScheduler: MakeScheduler,
  options: Options = {}
): void => {
  const testTimeout = Duration.toMillis(Duration.fromInputUnsafe(options.testTimeout ?? "120 seconds"))
  const timeLimitBudget = Duration.fromInputUnsafe(options.timeLimitBudget ?? "30 seconds")
  const shared = makeScheduler({}).pipe(Layer.provideMerge(terminalLayer))

  layer(shared, { excludeTestServices: true, timeout: "180 seconds", concurrent: options.concurrent ?? false })(`${name} (Scheduler contract)`, (it) => {
    const test = (title: string, body: () => Effect.Effect<void, unknown, Env>, extra = 0) =>
      it.effect(title, body, testTimeout + extra)

    test("runs a job: ls -l in its working directory, stdout to a file, exit code 0", () =>
      Effect.gen(function*() {
        const dir = yield* scratchDir
        yield* (yield* Terminal).run("touch", [`${dir}/cerulean-was-here`])
        const id = yield* submit({ command: "ls -l", workingDirectory: dir, stdoutFile: `${dir}/out.txt` })
        assert.deepStrictEqual(yield* waitCode(id), Option.some(0))
        assert.include(yield* readFile(`${dir}/out.txt`), "cerulean-was-here")
      }))

    test("reports the exit code of `exit 5`", () =>
      Effect.gen(function*() {
        const id = yield* submit({ command: "exit 5" })
        assert.deepStrictEqual(yield* waitCode(id), Option.some(5))
        assert.deepStrictEqual(yield* Effect.flatMap(Scheduler, (s) => s.getExitCode(id)), Option.some(5))
      }))

    test("no command: InvalidJob, nothing submitted", () =>
      Effect.gen(function*() {
        const result = yield* Effect.result(submit({ name: "nocommand" }))
        assert.isTrue(Result.isFailure(result), "submit without a command succeeded")
        if (Result.isFailure(result)) assert.strictEqual(result.failure.reason._tag, "InvalidJob")
      }))

    test("cancel: a running job is done soon after and never reports 0", () =>
      Effect.gen(function*() {
        const scheduler = yield* Scheduler
        const id = yield* submit({ command: "sleep 100" })
        const running = yield* awaitRunning(id)
        assert.strictEqual(Option.map(running, (i) => i.status).pipe(Option.getOrUndefined), "Running")
        yield* scheduler.cancel(id)
        const code = yield* scheduler.wait(id, { timeout: "20 seconds" })
        const info = yield* scheduler.getInfo(id)
        assert.strictEqual(info.status, "Done", "not done 20 s after cancel")
        assert.isFalse(Option.isSome(code) && code.value === 0, `exit code ${JSON.stringify(code)}`)
        assert.notStrictEqual(info.exitCode, 0)
      }))

    test("cancelling a finished job leaves it alone", () =>
      Effect.gen(function*() {
        const scheduler = yield* Scheduler
        const id = yield* submit({ command: "exit 3" })
        assert.deepStrictEqual(yield* waitCode(id), Option.some(3))
        yield* scheduler.cancel(id)
        assert.deepStrictEqual(yield* scheduler.getExitCode(id), Option.some(3))
      }))

    test(
      "time limit: a job that overruns timeReserved is stopped, says why, and never reports 0",
      () =>
        Effect.gen(function*() {
          const scheduler = yield* Scheduler
          const dir = yield* scratchDir
          const id = yield* submit({ command: endless, timeReserved: 1, systemErrFile: `${dir}/sys.err` })
          const code = yield* scheduler.wait(id, { timeout: timeLimitBudget })
          const info = yield* scheduler.getInfo(id)
          assert.strictEqual(info.status, "Done", `still ${info.state} after ${Duration.format(timeLimitBudget)}`)
          assert.isFalse(Option.isSome(code) && code.value === 0, `exit code ${JSON.stringify(code)}`)
          const err = yield* readFile(`${dir}/sys.err`)
          assert.isTrue(
            info.exitCode === 124 || info.state === "TIMEOUT" || /CANCELLED|TIME LIMIT|[Kk]illed/.test(err),
            `no sign of the time limit: ${JSON.stringify(info)} ${JSON.stringify(err)}`
          )
        }),
      Duration.toMillis(timeLimitBudget)
    )

    test("wait returns the exit code; with a timeout it returns None and the job keeps running", () =>
      Effect.gen(function*() {
        const scheduler = yield* Scheduler
        const quick = yield* submit({ command: "true" })
        assert.deepStrictEqual(yield* scheduler.wait(quick), Option.some(0))
        const id = yield* submit({ command: endless })
        assert.deepStrictEqual(yield* scheduler.wait(id, { timeout: "1 second" }), Option.none())
        assert.notStrictEqual(yield* scheduler.getStatus(id), "Done")
        yield* scheduler.cancel(id)
      }))

    test("wait with an interval", () =>
      Effect.gen(function*() {
        const scheduler = yield* Scheduler
        const quick = yield* submit({ command: "true" })
        assert.deepStrictEqual(yield* scheduler.wait(quick, { timeout: "20 seconds", interval: "100 millis" }), Option.some(0))
        const id = yield* submit({ command: endless })
        assert.deepStrictEqual(yield* scheduler.wait(id, { timeout: "2 seconds", interval: "1 second" }), Option.none())
        yield* scheduler.cancel(id)
      }))

    test("stderr to a file: ls --non-existing-option exits 2", () =>
      Effect.gen(function*() {
        const dir = yield* scratchDir
        const id = yield* submit({ command: "ls --non-existing-option", stderrFile: `${dir}/err.txt` })
        assert.deepStrictEqual(yield* waitCode(id), Option.some(2))
        assert.include(yield* readFile(`${dir}/err.txt`), "unrecognized option")
      }))

    test("stdout to /dev/null leaves the system out file empty", () =>
      Effect.gen(function*() {
        const dir = yield* scratchDir
        const id = yield* submit({ command: "echo hello", stdoutFile: "/dev/null", systemOutFile: `${dir}/sys.out` })
        assert.deepStrictEqual(yield* waitCode(id), Option.some(0))
        assert.strictEqual(yield* readFile(`${dir}/sys.out`), "")
      }))

    test("without a stdout file the output lands in the system out file", () =>
      Effect.gen(function*() {
        const dir = yield* scratchDir
        const id = yield* submit({ command: "echo", arguments: ["hello from the job"], systemOutFile: `${dir}/sys.out` })
        assert.deepStrictEqual(yield* waitCode(id), Option.some(0))
        assert.include(yield* readFile(`${dir}/sys.out`), "hello from the job\n")
      }))

    test("a program's syntax error lands in the system err file (arguments are quoted, the script is fine)", () =>
      Effect.gen(function*() {
        const dir = yield* scratchDir
        const id = yield* submit({
          command: "bash -c",
          arguments: ["for i in x ; do something invalid"],
          systemErrFile: `${dir}/sys.err`
        })
        const code = yield* waitCode(id)
        assert.isTrue(Option.isSome(code) && code.value !== 0, `exit code ${JSON.stringify(code)}`)
        assert.include(yield* readFile(`${dir}/sys.err`), "syntax error")
      }))

    test("environment variables reach the job", () =>
      Effect.gen(function*() {
        const dir = yield* scratchDir
        const id = yield* submit({
          command: "echo \"$ENVIRONMENT_TEST1 $ENVIRONMENT_TEST2\"",
          environment: { ENVIRONMENT_TEST1: "test_environment_value1", ENVIRONMENT_TEST2: "test environment value2" },
          stdoutFile: `${dir}/out.txt`
        })
        assert.deepStrictEqual(yield* waitCode(id), Option.some(0))
        assert.strictEqual(yield* readFile(`${dir}/out.txt`), "test_environment_value1 test environment value2\n")
      }))

    test("names, arguments, working directories and environment values arrive verbatim and execute nothing", () =>
      Effect.gen(function*() {
        const terminal = yield* Terminal
        const dir = yield* scratchDir
        const name = "a job 'name' with \"quotes\", $(touch canary) and\na newline"
        const work = `${dir}/work dir 'quoted' $(touch canary) \`touch canary\` ; ünï`
        assert.strictEqual((yield* terminal.run("mkdir --", [work])).exitCode, 0)
        const nameVar = options.jobNameVariable ?? "CERULEAN_JOB_NAME"
        const id = yield* submit({
          name,
          command: `printf '%s\\0' "$CERULEAN_JOB_NAME" "\${${nameVar}}" "$PWD" "$V1" "$V2"`,
          arguments: awkward,
          environment: { V1: awkward.join("|"), V2: "$(touch canary) `touch canary` 'q' \"dq\"\nline2" },
          workingDirectory: work,
          stdoutFile: `${dir}/out.bin`
        })
        assert.deepStrictEqual(yield* waitCode(id), Option.some(0))
        const words = (yield* readFile(`${dir}/out.bin`)).split("\0")
        assert.strictEqual(words.pop(), "")
        assert.deepStrictEqual(words, [
          name,
          name,
          work,
          awkward.join("|"),
          "$(touch canary) `touch canary` 'q' \"dq\"\nline2",
          ...awkward
        ])
        for (const place of [dir, work]) {
          const listing = yield* terminal.run("ls -A --", [place])
          assert.notInclude(listing.stdout.split("\n"), "canary", `something ran in ${place}`)
        }
        const home = yield* terminal.run("ls -A \"$HOME\"")
        assert.notInclude(home.stdout.split("\n"), "canary")
      }))

    test("a working directory that does not exist: the job fails and its command does not run", () =>
      Effect.gen(function*() {
        const dir = yield* scratchDir
        const id = yield* submit({ command: "touch", arguments: [`${dir}/ran`], workingDirectory: `${dir}/missing` })
        const code = yield* waitCode(id)
        assert.isTrue(Option.isSome(code) && code.value !== 0, `exit code ${JSON.stringify(code)}`)
        assert.strictEqual((yield* (yield* Terminal).run("ls -A --", [dir])).stdout, "")
      }))

    test("watch: each state once, in order, ending with Done and the exit code", () =>
      Effect.gen(function*() {
        const scheduler = yield* Scheduler
        const id = yield* submit({ command: "sleep 2; exit 4" })
        const infos: ReadonlyArray<JobInfo> = yield* Stream.runCollect(scheduler.watch(id)).pipe(
          Effect.timeout("90 seconds")
        )
        const last = infos.at(-1)
        assert.strictEqual(last?.status, "Done")
        assert.strictEqual(last?.exitCode, 4)
        for (let i = 1; i < infos.length; i++) {
          const [a, b] = [infos[i - 1]!, infos[i]!]
          assert.isFalse(
            a.status === b.status && a.state === b.state && a.reason === b.reason && a.exitCode === b.exitCode,
            `repeated ${JSON.stringify(b)}`
          )
        }
        assert.isTrue(infos.slice(0, -1).every((i) => i.status !== "Done"))
        // a second watch of a finished job gives the final state once
        const again = yield* Stream.runCollect(scheduler.watch(id))
        assert.deepStrictEqual(again.map((i) => [i.status, i.exitCode]), [["Done", 4]])
      }))

    test("many jobs waited on at once each get their own exit code", () =>
      Effect.gen(function*() {
        const scheduler = yield* Scheduler
        const ids = yield* Effect.forEach([0, 1, 2, 3, 4, 5, 6, 7], (n) => submit({ command: `exit ${n}` }))
        const codes = yield* Effect.forEach(ids, (id) => scheduler.wait(id, { timeout: "90 seconds" }), {
          concurrency: "unbounded"
        })
        assert.deepStrictEqual(codes, [0, 1, 2, 3, 4, 5, 6, 7].map(Option.some))
      }))

    test("an unknown or malformed job id is UnknownJob", () =>
      Effect.gen(function*() {
        const scheduler = yield* Scheduler
        for (const id of ["999999999", "; touch canary", ""]) {
          const result = yield* Effect.result(scheduler.getStatus(id))
          assert.isTrue(Result.isFailure(result) && result.failure.reason._tag === "UnknownJob", `${id}: ${result}`)
        }
      }))

    test("the prefix runs before submit, getStatus, getExitCode and cancel", () =>
      Effect.gen(function*() {
        const terminal = yield* Terminal
        const dir = yield* scratchDir
        const log = `${dir}/prefix.log`
        const count = Effect.map(terminal.run("cat", [log]), (r) => (r.exitCode === 0 ? r.stdout.split("\n").length - 1 : 0))
        const prefixed = makeScheduler({ prefix: `echo prefixtest >> '${log}';` }).pipe(
          Layer.provide(Layer.succeed(Terminal, terminal))
        )
        yield* Effect.gen(function*() {
          const scheduler = yield* Scheduler
          const id = yield* scheduler.submit(
            new JobDescription({ command: "sleep 30", systemOutFile: `${dir}/job.out`, systemErrFile: `${dir}/job.err` })
          )
          const afterSubmit = yield* count
          assert.isAtLeast(afterSubmit, 1)
          yield* scheduler.getStatus(id)
          const afterStatus = yield* count
          assert.isAtLeast(afterStatus, afterSubmit + 1)
          yield* scheduler.getExitCode(id)
          const afterExitCode = yield* count
          assert.isAtLeast(afterExitCode, afterStatus + 1)
          yield* scheduler.cancel(id)
          assert.isAtLeast(yield* count, afterExitCode + 1)
          assert.strictEqual((yield* readFile(log)).split("\n")[0], "prefixtest")
        }).pipe(Effect.provide(prefixed))
      }))

    if (options.queueName !== undefined) {
      const queue = options.queueName
      test(`the queue name reaches the scheduler (${queue})`, () =>
        Effect.gen(function*() {
          const dir = yield* scratchDir
          const id = yield* submit({
            command: "echo \"queue=${SLURM_JOB_PARTITION:-$PBS_QUEUE}\"",
            queueName: queue,
            stdoutFile: `${dir}/out.txt`
          })
          assert.deepStrictEqual(yield* waitCode(id), Option.some(0))
          assert.strictEqual(yield* readFile(`${dir}/out.txt`), `queue=${queue}\n`)
        }))
    }

    if (options.twoNodeQueue !== undefined) {
      const queue = options.twoNodeQueue
      test("numNodes: 2 gives the job two nodes", () =>
        Effect.gen(function*() {
          const dir = yield* scratchDir
          const id = yield* submit({
            command: "echo \"nodes=${SLURM_JOB_NUM_NODES:-$(sort -u \"$PBS_NODEFILE\" | wc -l)}\"",
            queueName: queue,
            numNodes: 2,
            stdoutFile: `${dir}/out.txt`
          })
          assert.deepStrictEqual(yield* waitCode(id), Option.some(0))
          assert.strictEqual(yield* readFile(`${dir}/out.txt`), "nodes=2\n")
        }))
    }
  })
}
