/**
 * Job scripts: golden checks written from the quoting rules (not copied from
 * output), validation, and real bash runs showing that awkward values arrive
 * verbatim and that the exit marker is written on exit and on SIGTERM.
 */
import { JobDescription, LocalTerminal, Terminal } from "@cerulean/core"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Result } from "effect"
import * as fc from "fast-check"
import {
  jobBody,
  parseMarkers,
  readMarkers,
  slurmSubmission,
  slurmTime,
  torqueJobName,
  torqueSubmission,
  torqueWalltime,
  validateCommon
} from "../src/internal/jobScript.ts"

const reasonOf = <A>(effect: Effect.Effect<A, { readonly reason: { readonly _tag: string; readonly message: string } }>) =>
  Effect.map(Effect.result(effect), (result) =>
    Result.isFailure(result) ? `${result.failure.reason._tag}: ${result.failure.reason.message}` : "ok")

describe("time formats", () => {
  it("Slurm --time is DD-HH:MM:SS (Cerulean's format)", () => {
    assert.strictEqual(slurmTime(70), "00-00:01:10")
    assert.strictEqual(slurmTime(2 * 86400 + 13 * 3600 + 7 * 60 + 48), "02-13:07:48")
    assert.strictEqual(slurmTime(2), "00-00:00:02")
  })

  it("Torque walltime is HH:MM:SS with as many hours as needed", () => {
    assert.strictEqual(torqueWalltime(70), "00:01:10")
    assert.strictEqual(torqueWalltime(2 * 86400 + 13 * 3600 + 7 * 60 + 48), "61:07:48")
    assert.strictEqual(torqueWalltime(100 * 3600), "100:00:00")
  })
})

describe("jobBody", () => {
  it("quotes every value and keeps command as shell text", () => {
    const job = {
      name: "test name",
      command: "echo -n",
      arguments: ["Hello", "world testing", "$(x)"],
      environment: { A: "it's", B: "plain" },
      workingDirectory: "/work dir",
      stdoutFile: "out.txt",
      stderrFile: "err file"
    }
    assert.strictEqual(
      jobBody(job),
      [
        "export CERULEAN_JOB_NAME='test name'",
        "export A='it'\\''s'",
        "export B=plain",
        "cd -- '/work dir' || exit 1",
        "{",
        "echo -n Hello 'world testing' '$(x)'",
        "} >out.txt 2>'err file'"
      ].join("\n")
    )
  })

  it("without redirections the command line stands alone", () => {
    assert.strictEqual(
      jobBody({ name: "cerulean", command: "ls", arguments: [], environment: {} }),
      "export CERULEAN_JOB_NAME=cerulean\nls"
    )
  })
})

describe("Slurm submission", () => {
  it.effect("puts every option on the sbatch command line and only extra options in the script", () =>
    Effect.gen(function*() {
      const sub = yield* slurmSubmission(
        new JobDescription({
          name: "test_name",
          command: "echo",
          arguments: ["Hello world"],
          queueName: "testing_queue",
          timeReserved: 70,
          numNodes: 42,
          mpiProcessesPerNode: 4,
          systemOutFile: "sys out",
          systemErrFile: "sys.err",
          extraSchedulerOptions: "--gres=gpu:1"
        })
      )
      assert.deepStrictEqual(sub.args, [
        "--parsable",
        "--job-name=test_name",
        "--partition=testing_queue",
        "--time=00-00:01:10",
        "--nodes=42",
        "--ntasks-per-node=4",
        "--overcommit",
        "--output=sys out",
        "--error=sys.err"
      ])
      assert.isTrue(sub.script.startsWith("#!/bin/bash\n#SBATCH --gres=gpu:1\n"))
      assert.strictEqual(sub.script.match(/^#SBATCH/gm)?.length, 1)
      assert.include(sub.script, `__cerulean_marker="$__cerulean_dir"/slurm-"\${SLURM_JOB_ID:-$$}".exit`)
      assert.include(sub.script, "(\nexport CERULEAN_JOB_NAME=test_name\necho 'Hello world'\n)\n__cerulean_finish $?\n")
    }))

  it.effect("the minimal job has a name and no other option", () =>
    Effect.gen(function*() {
      const sub = yield* slurmSubmission(new JobDescription({ command: "ls" }))
      assert.deepStrictEqual(sub.args, ["--parsable", "--job-name=cerulean"])
    }))
})

describe("Torque submission", () => {
  it.effect("emits walltime and nodes as two valid -l resources (the original joined them with ':')", () =>
    Effect.gen(function*() {
      const sub = yield* torqueSubmission(
        new JobDescription({
          name: "test name",
          command: "ls",
          queueName: "testing_queue",
          timeReserved: 3700,
          numNodes: 2,
          mpiProcessesPerNode: 16,
          systemOutFile: "sys.out",
          extraSchedulerOptions: "-p 10"
        })
      )
      assert.deepStrictEqual(sub.args, [
        "-N",
        "test_name",
        "-q",
        "testing_queue",
        "-l",
        "walltime=01:01:40",
        "-l",
        "nodes=2:ppn=16",
        "-o",
        "sys.out"
      ])
      assert.isTrue(sub.script.startsWith("#!/bin/bash\n#PBS -p 10\n"))
      assert.include(sub.script, "export CERULEAN_JOB_NAME='test name'")
      assert.include(sub.script, `torque-"\${PBS_JOBID:-\${SLURM_JOB_ID:-$$}}".exit`)
    }))

  it("job names keep only what Torque accepts", () => {
    assert.strictEqual(torqueJobName("test_name"), "test_name")
    assert.strictEqual(torqueJobName("a b$(x)"), "a_b__x_")
    assert.strictEqual(torqueJobName("1st"), "j1st")
    assert.strictEqual(torqueJobName(""), "cerulean")
  })

  it.effect("refuses queue names and output paths the wrappers would re-parse", () =>
    Effect.gen(function*() {
      assert.match(yield* reasonOf(torqueSubmission(new JobDescription({ command: "ls", queueName: "a b" }))), /^InvalidJob/)
      assert.match(
        yield* reasonOf(torqueSubmission(new JobDescription({ command: "ls", systemOutFile: "host:/x" }))),
        /^InvalidJob: .*\[host:\]path/
      )
      assert.match(
        yield* reasonOf(torqueSubmission(new JobDescription({ command: "ls", systemErrFile: "a b" }))),
        /^InvalidJob/
      )
    }))
})

describe("validation", () => {
  it.effect("gives InvalidJob with a clear message", () =>
    Effect.gen(function*() {
      const check = (fields: ConstructorParameters<typeof JobDescription>[0]) =>
        reasonOf(validateCommon(new JobDescription(fields)))
      assert.strictEqual(yield* check({}), "InvalidJob: InvalidJob: Job description is missing a command")
      assert.strictEqual(yield* check({ command: "  \n" }), "InvalidJob: InvalidJob: Job description is missing a command")
      assert.match(yield* check({ command: "ls", environment: { "A-B": "x" } }), /not a valid shell name/)
      assert.match(yield* check({ command: "ls", arguments: ["a\0b"] }), /arguments\[0\] contains a NUL byte/)
      assert.match(yield* check({ command: "ls", timeReserved: 0 }), /timeReserved must be a positive whole number/)
      assert.match(yield* check({ command: "ls", numNodes: -1 }), /numNodes/)
      assert.match(yield* check({ command: "ls", extraSchedulerOptions: "--a\necho pwned" }), /must be one line/)
      assert.strictEqual(yield* check({ command: "ls", stdoutFile: "x" }), "ok")
    }))
})

describe("markers", () => {
  it("readMarkers prints the section mark then file|content lines; parseMarkers reads them", () => {
    assert.strictEqual(
      readMarkers(["slurm-1.exit", "slurm-2.exit"]),
      `printf '%s %s\\n' '@@cerulean-section' "$?"; cd "$HOME"/.cerulean/jobs 2>/dev/null && for __f in ` +
        `slurm-1.exit slurm-2.exit; do [ -f "$__f" ] && printf '%s|%s\\n' "$__f" "$(cat -- "$__f")"; done; true`
    )
    assert.deepStrictEqual(
      [...parseMarkers("slurm-1.exit|0\nslurm-2.exit|143\nslurm-3.exit|\ngarbage\n")],
      [["slurm-1.exit", 0], ["slurm-2.exit", 143]]
    )
  })
})

/** Values a shell would split, expand, execute or treat as options if they were not quoted. */
const awkward = [
  "with space",
  "it's",
  "double \"quote\"",
  "new\nline",
  "$(touch canary)",
  "`touch canary`",
  ";touch canary",
  "$HOME",
  "*",
  "-n",
  "#hash",
  "back\\slash",
  "ünïcödé 🎉",
  ""
]

layer(LocalTerminal.layer)("job scripts run by bash", (it) => {
  const scratch = Effect.gen(function*() {
    const terminal = yield* Terminal
    const made = yield* terminal.run(`mktemp -d "\${TMPDIR:-/tmp}/cerulean-jobscript.XXXXXXXX"`)
    const dir = made.stdout.trim()
    yield* Effect.addFinalizer(() => Effect.ignore(terminal.run("rm -rf", [dir])))
    return dir
  })

  const printAll = `printf '%s\\0' "$CERULEAN_JOB_NAME" "$PWD" "$V1" "$V2"`

  it.effect("names, arguments, directories and environment values arrive verbatim and execute nothing", () =>
    Effect.gen(function*() {
      const terminal = yield* Terminal
      const dir = yield* scratch
      for (const value of awkward.filter((v) => v !== "")) {
        const work = `${dir}/${value.replaceAll("/", "_")}`
        yield* terminal.run("mkdir -p --", [work])
        const body = jobBody({
          name: value,
          command: printAll,
          arguments: [value, ...awkward],
          environment: { V1: value, V2: `x${value}y` },
          workingDirectory: work
        })
        const result = yield* terminal.run("bash", [], { stdin: body, workdir: dir })
        assert.strictEqual(result.exitCode, 0, result.stderr)
        assert.deepStrictEqual(result.stdout.split("\0").slice(0, -1), [
          value,
          work,
          value,
          `x${value}y`,
          value,
          ...awkward
        ])
      }
      const listing = yield* terminal.run("ls -A", [dir])
      assert.notInclude(listing.stdout.split("\n"), "canary")
    }))

  it.effect("property: any argument or environment value (no NUL) reaches the command verbatim", () =>
    Effect.gen(function*() {
      const terminal = yield* Terminal
      const samples = fc.sample(fc.tuple(fc.string({ unit: "binary" }), fc.string()), 60)
        .map(([a, b]) => [a.replaceAll("\0", ""), b.replaceAll("\0", "")] as const)
      for (const [arg, env] of samples) {
        const body = jobBody({
          name: "p",
          command: `printf '%s\\0' "$V1"`,
          arguments: [arg],
          environment: { V1: env }
        })
        const result = yield* terminal.run("bash", [], { stdin: body })
        assert.deepStrictEqual(result.stdout.split("\0").slice(0, -1), [env, arg])
      }
    }))

  it.effect("a working directory that cannot be entered stops the job before the command", () =>
    Effect.gen(function*() {
      const terminal = yield* Terminal
      const dir = yield* scratch
      const body = jobBody({
        name: "x",
        command: "touch",
        arguments: [`${dir}/ran`],
        environment: {},
        workingDirectory: `${dir}/missing`
      })
      const result = yield* terminal.run("bash", [], { stdin: body })
      assert.strictEqual(result.exitCode, 1)
      assert.strictEqual((yield* terminal.run("ls -A", [dir])).stdout, "")
    }))

  it.effect("the batch wrapper writes the exit code to its marker, also when stopped by SIGTERM", () =>
    Effect.gen(function*() {
      const terminal = yield* Terminal
      const home = yield* scratch
      const env = { HOME: home, SLURM_JOB_ID: "77" }
      const run = (command: string) =>
        Effect.gen(function*() {
          const sub = yield* slurmSubmission(new JobDescription({ command }))
          return yield* terminal.run("bash", [], { stdin: sub.script, env, timeout: "20 seconds" })
        })
      const marker = () => terminal.run("cat", [`${home}/.cerulean/jobs/slurm-77.exit`])
      assert.strictEqual((yield* run("exit 5")).exitCode, 5)
      assert.strictEqual((yield* marker()).stdout, "5\n")
      // the user's own traps cannot disturb the wrapper: they live in the subshell
      assert.strictEqual((yield* run("trap 'exit 0' EXIT; true")).exitCode, 0)
      assert.strictEqual((yield* marker()).stdout, "0\n")
      // a scheduler stops a job by signalling all its processes
      const killed = yield* run("sleep 30 & s=$!; sleep 0.2; kill -TERM 0; wait $s")
      assert.strictEqual(killed.exitCode, 143)
      assert.strictEqual((yield* marker()).stdout, "143\n")
    }))
})
