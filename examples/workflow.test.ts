/**
 * examples/workflow.ts on mock layers: the same `workflow` function, not a
 * line changed, with the workstation and the cluster as two in-memory file
 * systems (`MemoryFileSystem` of `@cerulean/testing`) and a scheduler that
 * plays the cluster's part in memory. No server, no process, no network.
 *
 * The scheduler double below implements the `Scheduler` contract by hand
 * because `@cerulean/testing` has no `TestScheduler` yet; once it has one,
 * only `schedulerLayer` changes.
 */
import type { JobDescription, JobId, Scheduler as SchedulerShape } from "@cerulean/core"
import { JobInfo, Scheduler, SchedulerError } from "@cerulean/core"
import { UnknownJob } from "@cerulean/core/Scheduler"
import { MemoryFileSystem } from "@cerulean/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Ref, Stream } from "effect"
import { ClusterFiles, countWords, JobFailed, workflow, Workstation } from "./workflow.ts"

interface SimulatedJob {
  readonly job: JobDescription
  readonly exitCode: number
}

/**
 * A cluster's scheduler in memory: a job is Waiting, then Running, then Done.
 * Running the job means what `countWords` means, done on the cluster's memory
 * file system: one `NAME.count` with the word count of each `inputs/NAME.txt`.
 * `failWith` makes every job end with that exit code instead, writing nothing.
 */
const schedulerLayer = (failWith?: number) =>
  Layer.effect(
    Scheduler,
    Effect.gen(function*() {
      const cluster = yield* ClusterFiles
      const jobs = yield* Ref.make(new Map<JobId, SimulatedJob>())
      const submitted = yield* Ref.make<ReadonlyArray<JobDescription>>([])

      const execute = (job: JobDescription) =>
        Effect.gen(function*() {
          assert.strictEqual(job.command, countWords, "the workflow submits the word-count script")
          const dir = cluster.path(job.workingDirectory ?? "/")
          yield* dir.join("results").mkdir({ parents: true, existsOk: true })
          const inputs = yield* Stream.runCollect(dir.join("inputs").iterdir())
          for (const input of inputs.filter((p) => p.suffix === ".txt")) {
            const words = (yield* input.readText()).split(/\s+/).filter((w) => w !== "").length
            yield* dir.join("results", `${input.stem}.count`).writeText(`${words}\n`)
          }
        }).pipe(Effect.orDie)

      const find = (id: JobId) =>
        Effect.flatMap(Ref.get(jobs), (all) => {
          const job = all.get(id)
          return job === undefined
            ? Effect.fail(new SchedulerError({ reason: new UnknownJob({ jobId: id, description: "never submitted" }) }))
            : Effect.succeed(job)
        })

      const info = (id: JobId, status: JobInfo["status"], exitCode?: number) =>
        new JobInfo({
          id,
          status,
          state: status === "Waiting" ? "PENDING" : status === "Running" ? "RUNNING" : exitCode === 0 ? "COMPLETED" : "FAILED",
          ...(exitCode !== undefined ? { exitCode } : {})
        })

      const scheduler: SchedulerShape = {
        name: "simulated-slurm",
        submit: (job) =>
          Effect.gen(function*() {
            const id = `${1000 + (yield* Ref.get(jobs)).size}`
            yield* Ref.update(submitted, (all) => [...all, job])
            yield* Ref.update(jobs, (all) => new Map(all).set(id, { job, exitCode: failWith ?? 0 }))
            return id
          }),
        getStatus: (id) => Effect.as(find(id), "Done" as const),
        getInfo: (id) => Effect.map(find(id), (j) => info(id, "Done", j.exitCode)),
        getExitCode: (id) => Effect.map(find(id), (j) => Option.some(j.exitCode)),
        cancel: (id) => Effect.asVoid(find(id)),
        wait: (id) => Effect.map(find(id), (j) => Option.some(j.exitCode)),
        watch: (id) =>
          Stream.unwrap(Effect.map(find(id), (j) =>
            Stream.make(info(id, "Waiting"), info(id, "Running")).pipe(
              Stream.concat(Stream.fromEffect(
                Effect.as(j.exitCode === 0 ? execute(j.job) : Effect.void, info(id, "Done", j.exitCode))
              ))
            )))
      }
      return scheduler
    })
  )

/** The workstation with three input files, and an empty cluster, both in memory. */
const filesLayer = Layer.mergeAll(
  Layer.effect(
    Workstation,
    Effect.gen(function*() {
      const fs = yield* MemoryFileSystem.make()
      const inputs = fs.path("home", "me", "inputs")
      yield* inputs.mkdir({ parents: true })
      yield* inputs.join("alpha.txt").writeText("one two three\n")
      yield* inputs.join("beta.txt").writeText("a b c d e f g\nh i j\n")
      yield* inputs.join("empty.txt").writeText("")
      return fs
    }).pipe(Effect.orDie)
  ),
  Layer.effect(ClusterFiles, MemoryFileSystem.make())
)

const mockLayer = (failWith?: number) => schedulerLayer(failWith).pipe(Layer.provideMerge(filesLayer))

const settings = { inputs: "/home/me/inputs", results: "/home/me/results", remoteDir: "/scratch/me/run-1" }

describe("examples/workflow.ts on mock layers", () => {
  it.effect("stages, runs, watches and fetches, all in memory", () =>
    Effect.gen(function*() {
      const report = yield* workflow(settings)
      assert.deepStrictEqual(report, {
        jobId: "1000",
        states: ["Waiting", "Running", "Done"],
        exitCode: 0,
        stagedFiles: 3,
        fetchedFiles: 3
      })
      const local = yield* Workstation
      const cluster = yield* ClusterFiles
      // The inputs were staged byte for byte where the job ran.
      assert.strictEqual(yield* cluster.path("scratch/me/run-1/inputs/beta.txt").readText(), "a b c d e f g\nh i j\n")
      // The results came back to the workstation.
      const read = (name: string) => local.path("home/me/results", name).readText()
      assert.strictEqual(yield* read("alpha.count"), "3\n")
      assert.strictEqual(yield* read("beta.count"), "10\n")
      assert.strictEqual(yield* read("empty.count"), "0\n")
    }).pipe(Effect.provide(mockLayer())))

  it.effect("a failed job is a JobFailed error, and nothing is fetched", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(workflow(settings))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      assert.strictEqual(error?._tag, "Fail")
      const failure = (error as { error: unknown }).error
      assert.instanceOf(failure, JobFailed)
      assert.strictEqual((failure as JobFailed).exitCode, 2)
      const local = yield* Workstation
      assert.isFalse(yield* local.path("home/me/results").exists())
    }).pipe(Effect.provide(mockLayer(2))))
})
