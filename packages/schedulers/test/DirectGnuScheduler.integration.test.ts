/**
 * DirectGnuScheduler against real processes: the Scheduler contract on LocalTerminal, plus what
 * only a direct scheduler can show (the whole process group is killed on cancel, the job's files
 * are cleaned up).
 */
import { JobDescription, LocalTerminal, Scheduler, Terminal } from "@cerulean/core"
import { SchedulerContract } from "@cerulean/testing"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { DirectGnuScheduler } from "../src/DirectGnuScheduler.ts"

const polling = { firstCheck: "200 millis", minInterval: "250 millis", maxInterval: "2 seconds" } as const

SchedulerContract.run(
  "DirectGnuScheduler on LocalTerminal",
  LocalTerminal.layer,
  (config) => DirectGnuScheduler.layer({ ...config, polling }),
  { timeLimitBudget: "30 seconds", concurrent: true }
)

const jobsDir = `/tmp/cerulean-dg-it-${process.pid}`

layer(
  DirectGnuScheduler.layer({ polling, jobsDirectory: jobsDir }).pipe(Layer.provideMerge(LocalTerminal.layer)),
  { excludeTestServices: true }
)("DirectGnuScheduler process groups and files", (it) => {
  it.effect("cancel kills the job's whole process group, children and grandchildren included", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler
      const terminal = yield* Terminal
      const marker = `4${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`
      const count = Effect.map(
        terminal.run(`ps -eo args= | grep -c -- '^[s]leep ${marker}$' || true`),
        (r) => Number.parseInt(r.stdout.trim(), 10)
      )
      // a child that ignores SIGTERM, and a grandchild in the background
      const id = yield* scheduler.submit(new JobDescription({
        command: `(trap '' TERM; sleep ${marker}) & bash -c 'sleep ${marker}' & sleep ${marker}; wait`
      }))
      let running = 0
      for (let i = 0; i < 50 && running < 3; i++) {
        yield* Effect.sleep("100 millis")
        running = yield* count
      }
      assert.strictEqual(running, 3)
      yield* scheduler.cancel(id)
      assert.strictEqual(yield* count, 0)
      const info = yield* scheduler.getInfo(id)
      assert.deepStrictEqual([info.status, info.state, info.exitCode], ["Done", "CANCELLED", 143])
      // only the exit record and the times are left
      assert.strictEqual((yield* terminal.run("ls -A", [`${jobsDir}/${id}`])).stdout, "exit\nstarted\nsubmitted\n")
    }))

  it.effect("a finished job leaves only its exit record; the scripts and pid files are gone", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler
      const terminal = yield* Terminal
      const id = yield* scheduler.submit(new JobDescription({ command: "exit 6" }))
      const before = Date.now() - 1000
      assert.deepStrictEqual(yield* scheduler.wait(id), Option.some(6))
      const after = Date.now() + 1000
      assert.strictEqual((yield* terminal.run("ls -A", [`${jobsDir}/${id}`])).stdout, "exit\nstarted\nsubmitted\n")
      assert.match((yield* terminal.run("cat", [`${jobsDir}/${id}/exit`])).stdout, /^6 FAILED \d+\n$/)
      // the times it kept: submitted, started and ended in order, within the test's window
      const info = yield* scheduler.getInfo(id)
      const [submit, start, end] = [info.submitTime, info.startTime, info.endTime].map((d) => d?.getTime() ?? NaN)
      assert.isTrue(before <= submit && submit <= start && start <= end && end <= after, `${submit} ${start} ${end}`)
    }))

  it.effect("a job killed from outside (not by cancel) is done with no exit code, state LOST", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler
      const terminal = yield* Terminal
      const id = yield* scheduler.submit(new JobDescription({ command: "sleep 60" }))
      const dir = `${jobsDir}/${id}`
      const killed = yield* terminal.run(`bash -c 'kill -KILL -- -"$(cat "$1"/wpid)" -"$(cat "$1"/pgid)"' bash`, [dir])
      assert.strictEqual(killed.exitCode, 0, killed.stderr)
      const info = yield* scheduler.wait(id, { timeout: "10 seconds" }).pipe(Effect.andThen(scheduler.getInfo(id)))
      assert.deepStrictEqual([info.status, info.state, info.exitCode], ["Done", "LOST", undefined])
    }))

  it.effect("the job runs in its own session: the submitting command's process group can go without it", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler
      const id = yield* scheduler.submit(new JobDescription({ command: "sleep 1; exit 2" }))
      assert.deepStrictEqual(yield* scheduler.wait(id), Option.some(2))
    }))

  it.effect("cleanup", () => Effect.asVoid(Effect.flatMap(Terminal, (t) => t.run("rm -rf", [jobsDir]))))
})
