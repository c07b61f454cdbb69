/**
 * The shared poller, driven through SlurmScheduler / TorqueScheduler / DirectGnuScheduler over a
 * fake terminal that counts and answers every command, on the TestClock.
 */
import { JobDescription } from "@cerulean/core"
import type { JobInfo, Scheduler } from "@cerulean/core"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Logger, Option, References, Result, Stream } from "effect"
import { TestClock } from "effect/testing"
import { DirectGnuScheduler } from "../src/DirectGnuScheduler.ts"
import { SlurmScheduler } from "../src/SlurmScheduler.ts"
import { TorqueScheduler } from "../src/TorqueScheduler.ts"
import { connectionLost, type FakeCall, type Handler, jobsOf, makeFake, type Reply } from "./utils/fakeTerminal.ts"

const job = new JobDescription({ command: "true" })

/** Advances the TestClock in small steps until `fiber` is done (or `limit` passed); returns its result. */
const drive = <A, E>(fiber: Fiber.Fiber<A, E>, limit: Duration.Input = "10 minutes", step: Duration.Input = "100 millis") =>
  Effect.gen(function*() {
    const steps = Math.ceil(Duration.toMillis(limit) / Duration.toMillis(step))
    for (let i = 0; i < steps && fiber.pollUnsafe() === undefined; i++) {
      yield* TestClock.adjust(step)
    }
    return yield* Fiber.join(fiber)
  })

/** A fake Slurm: sbatch hands out ids; squeue/sacct answer from `states` (id -> line after the id). */
const fakeSlurm = (answer: (call: FakeCall, now: number) => Reply | undefined) => {
  let next = 100
  const times: Array<{ command: string; at: number }> = []
  const handler: Handler = (call) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      times.push({ command: call.command, at: now })
      const custom = answer(call, now)
      if (custom !== undefined) return custom
      if (call.command.startsWith("sbatch")) return { stdout: `${next++}\n` }
      return { exitCode: 127, stderr: `unexpected command ${call.command}` }
    })
  return { ...makeFake(handler), times }
}

const squeueLines = (ids: ReadonlyArray<string>, line: (id: string) => string) =>
  ids.map((id) => `${id}|${line(id)}|`).join("\n") + "\n"

const polling = { firstCheck: "500 millis", minInterval: "1 second", maxInterval: "30 seconds" } as const

const collectLogs = () => {
  const logs: Array<string> = []
  const logger = Logger.make((options) => {
    logs.push(`${options.logLevel} ${String(options.message)}`)
  })
  return { logs, layer: Logger.layer([logger]) }
}

describe("StatusPoller via SlurmScheduler", () => {
  it.effect("30 jobs waited on at once: one squeue per tick listing all of them, each job its own exit code", () =>
    Effect.gen(function*() {
      let squeues = 0
      const fake = fakeSlurm((call) => {
        if (!call.command.startsWith("squeue")) return undefined
        squeues++
        // all jobs run for two ticks, then finish with exit code (id mod 4)
        return {
          stdout: squeueLines(jobsOf(call.command), (id) =>
            squeues <= 2 ? "RUNNING|None|0" : `${Number(id) % 4 === 0 ? "COMPLETED" : "FAILED"}|None|${(Number(id) % 4) * 256}`)
        }
      })
      const scheduler = yield* SlurmScheduler.make(fake.terminal, { polling })
      const ids = yield* Effect.forEach(Array.from({ length: 30 }), () => scheduler.submit(job))
      const waits = yield* Effect.forkChild(Effect.forEach(ids, (id) => scheduler.wait(id), { concurrency: "unbounded" }))
      const codes = yield* drive(waits)
      assert.deepStrictEqual(codes, ids.map((id) => Option.some(Number(id) % 4)))
      const statusCalls = fake.calls.filter((c) => !c.command.startsWith("sbatch"))
      assert.strictEqual(statusCalls.length, 3)
      for (const call of statusCalls) {
        assert.isTrue(call.command.startsWith("squeue -h -t all"), call.command)
        assert.deepStrictEqual(jobsOf(call.command).sort(), [...ids].sort())
      }
    }))

  it.effect("first check after firstCheck, then an interval growing with age up to maxInterval, never below the floor", () =>
    Effect.gen(function*() {
      const fake = fakeSlurm((call) =>
        call.command.startsWith("squeue") ? { stdout: squeueLines(jobsOf(call.command), () => "RUNNING|None|0") } : undefined
      )
      const scheduler = yield* SlurmScheduler.make(fake.terminal, { polling })
      const id = yield* scheduler.submit(job)
      const start = yield* Clock.currentTimeMillis
      const fiber = yield* Effect.forkChild(scheduler.wait(id, { timeout: "10 minutes" }))
      assert.deepStrictEqual(yield* drive(fiber, "11 minutes", "1 second"), Option.none())
      const at = fake.times.filter((t) => t.command.startsWith("squeue")).map((t) => t.at - start)
      assert.strictEqual(at[0], 500)
      const gaps = at.slice(1).map((t, i) => t - at[i]!)
      for (let i = 0; i < gaps.length; i++) {
        assert.isAtLeast(gaps[i]!, 1000)
        assert.isAtMost(gaps[i]!, 30_000 + 1000)
        if (i > 0) assert.isAtLeast(gaps[i]! + 1000, gaps[i - 1]!, `gap ${i} shrank: ${gaps.join(",")}`)
      }
      assert.isAtLeast(gaps.at(-1)!, 29_000)
      // about 10 % of the age: far fewer than one per second over 10 minutes
      assert.isBelow(at.length, 80)
    }))

  it.effect("a slow status command slows the poller down (5 x its duration)", () =>
    Effect.gen(function*() {
      const starts: Array<number> = []
      const { terminal } = makeFake((call) =>
        call.command.startsWith("sbatch")
          ? { stdout: "7\n" }
          : Effect.gen(function*() {
            starts.push(yield* Clock.currentTimeMillis)
            yield* Effect.sleep("3 seconds")
            return { stdout: squeueLines(jobsOf(call.command), () => "RUNNING|None|0") }
          })
      )
      const scheduler = yield* SlurmScheduler.make(terminal, { polling })
      const id = yield* scheduler.submit(job)
      const fiber = yield* Effect.forkChild(scheduler.wait(id, { timeout: "60 seconds" }))
      yield* drive(fiber, "61 seconds")
      const polls = starts
      for (let i = 1; i < polls.length; i++) {
        // 3 s for the command itself, then at least 5 x 3 s before the next one
        assert.isAtLeast(polls[i]! - polls[i - 1]!, 18_000)
      }
      assert.isAtLeast(polls.length, 2)
    }))

  it.effect("a wait with an interval polls that often, but not below the site floor", () =>
    Effect.gen(function*() {
      const fake = fakeSlurm((call) =>
        call.command.startsWith("squeue") ? { stdout: squeueLines(jobsOf(call.command), () => "RUNNING|None|0") } : undefined
      )
      const scheduler = yield* SlurmScheduler.make(fake.terminal, {
        polling: { ...polling, minInterval: "2 seconds", maxInterval: "60 seconds" }
      })
      const id = yield* scheduler.submit(job)
      const fiber = yield* Effect.forkChild(scheduler.wait(id, { timeout: "120 seconds", interval: "100 millis" }))
      assert.deepStrictEqual(yield* drive(fiber, "121 seconds"), Option.none())
      const at = fake.times.filter((t) => t.command.startsWith("squeue")).map((t) => t.at)
      const gaps = at.slice(1).map((t, i) => t - at[i]!)
      assert.isTrue(gaps.every((g) => g >= 2000 && g <= 2100), gaps.join(","))
    }))

  it.effect("missing from squeue is not done: sacct is asked, then squeue again, until history has it", () =>
    Effect.gen(function*() {
      let sacctCalls = 0
      const fake = fakeSlurm((call) => {
        if (call.command.startsWith("squeue")) {
          // the job is visible once, then gone from squeue (purged / transient)
          const squeues = fake.times.filter((t) => t.command.startsWith("squeue")).length
          return { stdout: squeues === 1 ? squeueLines(jobsOf(call.command), () => "RUNNING|None|0") : "" }
        }
        if (call.command.startsWith("sacct")) {
          sacctCalls++
          // accounting lags: no record at first, then the final one (and the marker section)
          const row = (id: string) => `${id}|COMPLETED|0:0|1795907665|1795907666|1795907667|None\n`
          const rows = sacctCalls === 1 ? "" : jobsOf(call.command).map(row).join("")
          return { stdout: `${rows}@@cerulean-section 0\n` }
        }
        return undefined
      })
      const scheduler = yield* SlurmScheduler.make(fake.terminal, { polling })
      const id = yield* scheduler.submit(job)
      const seen: Array<string> = []
      const fiber = yield* Effect.forkChild(
        Stream.runForEach(scheduler.watch(id), (info) => Effect.sync(() => seen.push(`${info.status}:${info.state}`)))
      )
      yield* drive(fiber)
      assert.deepStrictEqual(seen, ["Running:RUNNING", "Done:COMPLETED"])
      const kinds = fake.calls.slice(1).map((c) => c.command.split(" ")[0])
      assert.deepStrictEqual(kinds, ["squeue", "squeue", "sacct", "squeue", "sacct"])
      assert.include(
        fake.calls.find((c) => c.command.startsWith("sacct"))!.raw,
        "env SLURM_TIME_FORMAT=%s sacct -X -P -n -o JobID,State,ExitCode,Submit,Start,End,Reason --jobs=100"
      )
    }))

  it.effect("without any accounting record, the exit marker gives the exit code", () =>
    Effect.gen(function*() {
      const fake = fakeSlurm((call) => {
        if (call.command.startsWith("squeue")) return { stdout: "" }
        if (call.command.startsWith("sacct")) {
          return {
            exitCode: 0,
            stdout: "@@cerulean-section 1\nslurm-100.exit|7\n",
            stderr: "sacct: error: Slurm accounting storage is disabled\n"
          }
        }
        return undefined
      })
      const scheduler = yield* SlurmScheduler.make(fake.terminal, { polling })
      const id = yield* scheduler.submit(job)
      const fiber = yield* Effect.forkChild(scheduler.wait(id))
      assert.deepStrictEqual(yield* drive(fiber), Option.some(7))
      assert.include(fake.calls.at(-1)!.command, "for __f in slurm-100.exit;")
    }))

  it.effect("each state change is watched once and the stream ends with Done", () =>
    Effect.gen(function*() {
      const script = ["PENDING|Priority|0", "PENDING|Priority|0", "PENDING|Resources|0", "RUNNING|None|0", "RUNNING|None|0", "COMPLETED|None|0"]
      let n = 0
      const fake = fakeSlurm((call) =>
        call.command.startsWith("squeue")
          ? { stdout: squeueLines(jobsOf(call.command), () => script[Math.min(n++, script.length - 1)]!) }
          : undefined
      )
      const scheduler = yield* SlurmScheduler.make(fake.terminal, { polling })
      const id = yield* scheduler.submit(job)
      const fiber = yield* Effect.forkChild(Stream.runCollect(scheduler.watch(id)))
      const infos: ReadonlyArray<JobInfo> = yield* drive(fiber)
      assert.deepStrictEqual(infos.map((i) => [i.status, i.state, i.reason ?? null, i.exitCode ?? null]), [
        ["Waiting", "PENDING", "Priority", null],
        ["Waiting", "PENDING", "Resources", null],
        ["Running", "RUNNING", null, null],
        ["Done", "COMPLETED", null, 0]
      ])
      // after Done, status and exit code come from the cache: no more commands
      const before = fake.calls.length
      assert.strictEqual(yield* scheduler.getStatus(id), "Done")
      assert.deepStrictEqual(yield* scheduler.getExitCode(id), Option.some(0))
      assert.strictEqual(fake.calls.length, before)
    }))

  it.effect("Unavailable: logged, retried with growing backoff, never a status; the wait completes once it answers", () =>
    Effect.gen(function*() {
      const { layer, logs } = collectLogs()
      let failures = 0
      const fake = fakeSlurm((call) => {
        if (!call.command.startsWith("squeue")) return undefined
        if (failures < 4) {
          failures++
          return {
            exitCode: 1,
            stderr: "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n"
          }
        }
        return { stdout: squeueLines(jobsOf(call.command), () => "COMPLETED|None|0") }
      })
      const program = Effect.gen(function*() {
        const scheduler = yield* SlurmScheduler.make(fake.terminal, { polling })
        const id = yield* scheduler.submit(job)
        const watched: Array<string> = []
        const fiber = yield* Effect.forkChild(
          Stream.runForEach(scheduler.watch(id), (info) => Effect.sync(() => watched.push(info.state)))
        )
        yield* drive(fiber)
        return watched
      })
      const watched = yield* program.pipe(Effect.provide(layer), Effect.provideService(References.MinimumLogLevel, "Debug"))
      assert.deepStrictEqual(watched, ["COMPLETED"])
      const at = fake.times.filter((t) => t.command.startsWith("squeue")).map((t) => t.at)
      const gaps = at.slice(1).map((t, i) => t - at[i]!)
      assert.deepStrictEqual(gaps, [1000, 2000, 4000, 8000])
      assert.isTrue(logs.some((l) => l.startsWith("Warn") && l.includes("unavailable")), logs.join("\n"))
      assert.isTrue(logs.some((l) => l.startsWith("Info") && l.includes("answers again")), logs.join("\n"))
    }))

  it.effect("a lost connection during a tick is Unavailable too, and a getStatus reports it as an error", () =>
    Effect.gen(function*() {
      const fake = makeFake((call) =>
        call.command.startsWith("sbatch") ? { stdout: "5\n" } : Effect.fail(connectionLost(call.command))
      )
      const scheduler = yield* SlurmScheduler.make(fake.terminal, { polling })
      const id = yield* scheduler.submit(job)
      const error = yield* Effect.flip(scheduler.getStatus(id))
      assert.strictEqual(error.reason._tag, "Unavailable")
    }))

  it.effect("a submit whose connection is lost is Unavailable and says the job may have been submitted", () =>
    Effect.gen(function*() {
      const fake = makeFake((call) => Effect.fail(connectionLost(call.command)))
      const scheduler = yield* SlurmScheduler.make(fake.terminal, { polling })
      const error = yield* Effect.flip(scheduler.submit(job))
      assert.strictEqual(error.reason._tag, "Unavailable")
      assert.include(error.message, "may have been submitted")
      // never retried by itself: that could submit the job twice
      assert.strictEqual(fake.calls.length, 1)
    }))

  it.effect("unreadable status output three times in a row fails the waits with ParseError", () =>
    Effect.gen(function*() {
      const fake = fakeSlurm((call) => (call.command.startsWith("squeue") ? { stdout: "what is this\n" } : undefined))
      const scheduler = yield* SlurmScheduler.make(fake.terminal, { polling })
      const id = yield* scheduler.submit(job)
      const fiber = yield* Effect.forkChild(Effect.result(scheduler.wait(id)))
      const result = yield* drive(fiber)
      assert.isTrue(Result.isFailure(result) && result.failure.reason._tag === "ParseError")
      assert.strictEqual(fake.calls.filter((c) => c.command.startsWith("squeue")).length, 3)
    }))

  it.effect("ids are validated before any command; unknown ids are UnknownJob", () =>
    Effect.gen(function*() {
      const fake = fakeSlurm((call) => {
        if (call.command.startsWith("squeue")) return { exitCode: 1, stderr: "slurm_load_jobs error: Invalid job id specified\n" }
        if (call.command.startsWith("sacct")) return { stdout: "@@cerulean-section 0\n" }
        return undefined
      })
      const scheduler = yield* SlurmScheduler.make(fake.terminal, { polling })
      const bad = yield* Effect.flip(scheduler.getStatus("1; touch /tmp/pwned"))
      assert.strictEqual(bad.reason._tag, "UnknownJob")
      assert.strictEqual(fake.calls.length, 0)
      const unknown = yield* Effect.flip(scheduler.getStatus("999999"))
      assert.strictEqual(unknown.reason._tag, "UnknownJob")
      assert.deepStrictEqual(fake.calls.map((c) => c.command.split(" ")[0]), ["squeue", "sacct"])
    }))

  it.effect("submit: the scheduler's message on failure; the prefix before every command", () =>
    Effect.gen(function*() {
      const fake = fakeSlurm((call) => {
        if (call.command.includes("--partition=nosuch")) {
          return { exitCode: 1, stderr: "sbatch: error: Batch job submission failed: Invalid partition name specified\n" }
        }
        if (call.command.includes("squeue")) return { stdout: squeueLines(jobsOf(call.command), () => "RUNNING|None|0") }
        if (call.command.includes("scancel")) return { stdout: "" }
        if (call.command.includes("sbatch")) return { stdout: "12\n" }
        return undefined
      })
      const scheduler = yield* SlurmScheduler.make(fake.terminal, { prefix: "module load slurm;", polling })
      const failed = yield* Effect.flip(scheduler.submit(new JobDescription({ command: "ls", queueName: "nosuch" })))
      assert.strictEqual(failed.reason._tag, "SubmitFailed")
      assert.include(failed.message, "Invalid partition name specified")
      const id = yield* scheduler.submit(new JobDescription({ command: "ls", name: "a b" }))
      yield* scheduler.getStatus(id)
      yield* scheduler.cancel(id)
      assert.strictEqual(fake.calls.length, 4)
      for (const call of fake.calls) assert.isTrue(call.command.startsWith("module load slurm; "), call.command)
      assert.include(fake.calls[1]!.command, "sbatch --parsable '--job-name=a b'")
      assert.isTrue(fake.calls[1]!.stdin?.startsWith("#!/bin/bash\n"))
    }))
})

describe("StatusPoller via TorqueScheduler", () => {
  const fakeTorque = (version: Reply, qstat: (call: FakeCall, n: number) => Reply) => {
    let n = 0
    return makeFake((call) => {
      if (call.command.includes("qstat --version")) return version
      if (call.command.includes("qsub")) return { stdout: "1234.torque-head\n" }
      if (call.command.includes("qstat")) return qstat(call, ++n)
      return { exitCode: 127, stderr: "unexpected" }
    })
  }

  it.effect("real Torque: qstat -x XML, one version probe (with the prefix), exit_status as the code", () =>
    Effect.gen(function*() {
      const xml = (state: string, extra = "") =>
        `<?xml version="1.0"?>\n<Data><Job><Job_Id>1234.torque-head</Job_Id><job_state>${state}</job_state>${extra}</Job></Data>\n`
      const fake = fakeTorque({ stdout: "Version: 6.1.3\n" }, (_, n) => ({
        stdout: `${n < 3 ? xml("R") : xml("C", "<exit_status>3</exit_status>")}@@cerulean-section 0\n`
      }))
      const scheduler = yield* TorqueScheduler.make(fake.terminal, { prefix: "PFX;", polling })
      const id = yield* scheduler.submit(job)
      assert.strictEqual(id, "1234.torque-head")
      const fiber = yield* Effect.forkChild(scheduler.wait(id))
      assert.deepStrictEqual(yield* drive(fiber), Option.some(3))
      const commands = fake.calls.map((c) => c.command)
      assert.strictEqual(commands.filter((c) => c.includes("--version")).length, 1)
      assert.isTrue(commands.every((c) => c.includes("PFX; ")), commands.join("\n"))
      assert.isTrue(commands.filter((c) => c.includes("qstat -x")).length === 3)
    }))

  it.effect("minimal qstat (the wrappers): exit codes from the markers; a purged job with a marker is done", () =>
    Effect.gen(function*() {
      const full = (state: string) => `Job Id:\t1234.torque-head\n\tjob_state = ${state}\n\n`
      const fake = fakeTorque({ exitCode: 2, stderr: "Unknown option: version\n" }, (_, n) => {
        if (n === 1) return { stdout: `${full("Q")}@@cerulean-section 0\n` }
        if (n === 2) return { stdout: `${full("C")}@@cerulean-section 0\ntorque-1234.torque-head.exit|143\n` }
        return { stdout: "" }
      })
      const scheduler = yield* TorqueScheduler.make(fake.terminal, { polling })
      const id = yield* scheduler.submit(job)
      const fiber = yield* Effect.forkChild(Stream.runCollect(scheduler.watch(id)))
      const infos = yield* drive(fiber)
      assert.deepStrictEqual(infos.map((i) => [i.status, i.state, i.exitCode ?? null]), [
        ["Waiting", "Q", null],
        ["Done", "C", 143]
      ])
      assert.isTrue(fake.calls.some((c) => c.command.includes("qstat -f 1234.torque-head;")))
      // a job qstat no longer lists (keep_completed = 0) but whose marker is there
      const fake2 = fakeTorque({ stdout: "Version: 6.1.3\n" }, () => ({
        exitCode: 0,
        stdout: "@@cerulean-section 153\ntorque-77.s.exit|0\n",
        stderr: "qstat: Unknown Job Id Error 77.s\n"
      }))
      const scheduler2 = yield* TorqueScheduler.make(fake2.terminal, { polling })
      const info = yield* scheduler2.getInfo("77.s")
      assert.deepStrictEqual([info.status, info.exitCode], ["Done", 0])
    }))

  it.effect("qstat failing for another reason is Unavailable, not 'done'", () =>
    Effect.gen(function*() {
      const fake = fakeTorque({ exitCode: 2, stderr: "Unknown option: version\n" }, () => ({
        stdout: "@@cerulean-section 255\n",
        stderr: "Problem loading jobs.\n"
      }))
      const scheduler = yield* TorqueScheduler.make(fake.terminal, { polling })
      const error = yield* Effect.flip(scheduler.getStatus("5"))
      assert.strictEqual(error.reason._tag, "Unavailable")
      assert.include(error.message, "Problem loading jobs")
    }))
})

describe("DirectGnuScheduler (fake terminal)", () => {
  it.effect("refuses MPI jobs and multi-node jobs; sends the body on stdin with quoted arguments", () =>
    Effect.gen(function*() {
      const fake = makeFake(() => ({ stdout: "job-abc123\n" }))
      const scheduler: Scheduler = yield* DirectGnuScheduler.make(fake.terminal, { polling })
      const mpi = yield* Effect.flip(scheduler.submit(new JobDescription({ command: "ls", mpiProcessesPerNode: 2 })))
      assert.strictEqual(mpi.reason._tag, "InvalidJob")
      const nodes = yield* Effect.flip(scheduler.submit(new JobDescription({ command: "ls", numNodes: 2 })))
      assert.strictEqual(nodes.reason._tag, "InvalidJob")
      assert.strictEqual(fake.calls.length, 0)
      const id = yield* scheduler.submit(new JobDescription({ command: "echo", arguments: ["$(x)"], timeReserved: 5 }))
      assert.strictEqual(id, "job-abc123")
      assert.strictEqual(fake.calls[0]!.stdin, "export CERULEAN_JOB_NAME=cerulean\necho '$(x)'\n")
      assert.isTrue(fake.calls[0]!.command.startsWith("bash -c '"))
      assert.isTrue(fake.calls[0]!.command.endsWith(" cerulean-submit '' 5 '' ''"))
    }))
})
