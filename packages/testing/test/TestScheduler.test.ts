import { JobDescription, Scheduler } from "@cerulean/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Stream } from "effect"
import { TestClock } from "effect/testing"
import { TestScheduler } from "../src/TestScheduler.ts"

const job = (fields: ConstructorParameters<typeof JobDescription>[0]) => new JobDescription(fields)

describe("TestScheduler", () => {
  it.effect("jobs follow their scripted lifecycle on the TestClock; submissions are recorded", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler
      const ok = yield* scheduler.submit(job({ command: "a" }))
      const bad = yield* scheduler.submit(job({ command: "b", name: "bad" }))
      assert.strictEqual(yield* scheduler.getStatus(ok), "Waiting")
      const waits = yield* Effect.forkChild(Effect.all([scheduler.wait(ok), scheduler.wait(bad)]))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* scheduler.getStatus(ok), "Running")
      assert.deepStrictEqual(yield* scheduler.getExitCode(ok), Option.none())
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual(yield* Fiber.join(waits), [Option.some(0), Option.some(3)])
      assert.strictEqual((yield* scheduler.getInfo(bad)).state, "FAILED")
      const submitted = yield* TestScheduler.use((t) => t.submissions)
      assert.deepStrictEqual(submitted.map((s) => [s.id, s.job.command]), [["1", "a"], ["2", "b"]])
    }).pipe(Effect.provide(TestScheduler.layer({
      lifecycle: (j) => (j.name === "bad" ? TestScheduler.fails(3, "2 seconds") : TestScheduler.succeeds())
    }))))

  it.effect("watch gives each state once and ends with Done", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler
      const id = yield* scheduler.submit(job({ command: "x" }))
      const fiber = yield* Effect.forkChild(Stream.runCollect(scheduler.watch(id)))
      yield* TestClock.adjust("5 seconds")
      const infos = yield* Fiber.join(fiber)
      assert.deepStrictEqual(infos.map((i) => [i.status, i.state]), [
        ["Waiting", "PENDING"],
        ["Running", "RUNNING"],
        ["Done", "COMPLETED"]
      ])
    }).pipe(Effect.provide(TestScheduler.layer())))

  it.effect("cancel ends a job with CANCELLED and a non-zero code, and is recorded; wait times out with None", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler
      const id = yield* scheduler.submit(job({ command: "forever" }))
      const waited = yield* Effect.forkChild(scheduler.wait(id, { timeout: "10 seconds" }))
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* Fiber.join(waited), Option.none())
      yield* scheduler.cancel(id)
      const info = yield* scheduler.getInfo(id)
      assert.deepStrictEqual([info.status, info.state, info.exitCode], ["Done", "CANCELLED", 143])
      assert.deepStrictEqual(yield* TestScheduler.use((t) => t.cancelled), [id])
    }).pipe(Effect.provide(TestScheduler.layer({ lifecycle: () => TestScheduler.runsForever }))))

  it.effect("typed errors: no command, rejected job, unknown id", () =>
    Effect.gen(function*() {
      const scheduler = yield* Scheduler
      assert.strictEqual((yield* Effect.flip(scheduler.submit(job({})))).reason._tag, "InvalidJob")
      const rejected = yield* Effect.flip(scheduler.submit(job({ command: "x", queueName: "nosuch" })))
      assert.strictEqual(rejected.reason._tag, "SubmitFailed")
      assert.include(rejected.message, "Invalid partition")
      assert.strictEqual((yield* Effect.flip(scheduler.getStatus("42"))).reason._tag, "UnknownJob")
      assert.deepStrictEqual(yield* TestScheduler.use((t) => t.submissions), [])
    }).pipe(Effect.provide(TestScheduler.layer({
      reject: (j) => (j.queueName === "nosuch" ? "Invalid partition name specified" : undefined)
    }))))
})
