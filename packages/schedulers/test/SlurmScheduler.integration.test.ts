/**
 * SlurmScheduler against the testbed's Slurm 22.05 over one SSH connection: the Scheduler
 * contract, 30 jobs waited on at once (scheduler commands counted through the prefix), and a
 * wait that survives slurmctld being stopped and started again.
 */
import { JobDescription, PubKeyCredential, type Terminal } from "@cerulean/core"
import { Terminal as TerminalTag } from "@cerulean/core"
import { SshTerminal } from "@cerulean/ssh"
import { SchedulerContract } from "@cerulean/testing"
import * as Testbed from "@cerulean/testing/Testbed"
import { assert, layer } from "@effect/vitest"
import { Effect, Fiber, Logger, Option, References, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { SlurmScheduler } from "../src/SlurmScheduler.ts"

const tb = Testbed.load()
const ssh = SshTerminal.layer({
  host: tb.sshHost,
  port: tb.sshPort,
  knownHosts: tb.knownHosts,
  credential: new PubKeyCredential({ username: tb.user, publicKey: tb.keyEd25519 })
})
const polling = { firstCheck: "300 millis", minInterval: "500 millis", maxInterval: "5 seconds" } as const

SchedulerContract.run(
  "SlurmScheduler over SshTerminal",
  ssh,
  (config) => SlurmScheduler.layer({ ...config, polling }),
  {
    queueName: "batch",
    twoNodeQueue: "batch",
    jobNameVariable: "SLURM_JOB_NAME",
    // limits are whole minutes and slurmctld checks them every ~30 s: 60-77 s here
    timeLimitBudget: "150 seconds",
    concurrent: true
  }
)

/** A terminal that records the command text of every run. */
const recording = (terminal: Terminal) => {
  const commands: Array<string> = []
  const wrapped: Terminal = {
    ...terminal,
    run: (command, args, options) => {
      commands.push(command)
      return terminal.run(command, args, options)
    }
  }
  return { terminal: wrapped, commands }
}

const lines = (terminal: Terminal, file: string) =>
  Effect.map(terminal.run("cat", [file]), (r) => (r.exitCode === 0 ? r.stdout.split("\n").length - 1 : 0))

const slurmctldScript = path.resolve(import.meta.dirname, "../../../scripts/testbed/slurmctld.sh")
/** Stops or starts the testbed's slurmctld (by its pid file; `start` waits until the nodes are back). */
const slurmctld = (action: "stop" | "start") =>
  Effect.try({
    try: () => execFileSync("bash", [slurmctldScript, action], { stdio: "pipe", timeout: 60_000 }),
    catch: (cause) => new Error(`slurmctld.sh ${action} failed`, { cause })
  })

layer(ssh, { excludeTestServices: true })("SlurmScheduler over SshTerminal: polling", (it) => {
  it.effect("30 jobs waited on at once: one squeue per tick for all of them, counted through the prefix", () =>
    Effect.gen(function*() {
      const ssh = yield* TerminalTag
      const made = yield* ssh.run(`mktemp -d "$HOME/.cerulean-poll-test.XXXXXXXX"`)
      const dir = made.stdout.trim()
      yield* Effect.addFinalizer(() => Effect.ignore(ssh.run("rm -rf", [dir])))
      const countFile = `${dir}/commands`
      const { commands, terminal } = recording(ssh)
      const scheduler = yield* SlurmScheduler.make(terminal, { prefix: `echo x >> '${countFile}';`, polling })
      const ids = yield* Effect.forEach(
        Array.from({ length: 30 }, (_, i) => i),
        (i) => scheduler.submit(
          new JobDescription({ command: `sleep ${1 + (i % 3)}; exit ${i % 4}`, queueName: "batch", systemOutFile: "/dev/null" })
        ),
        { concurrency: 6 }
      )
      const afterSubmit = yield* lines(ssh, countFile)
      assert.strictEqual(afterSubmit, 30)
      const codes = yield* Effect.forEach(ids, (id) => scheduler.wait(id, { timeout: "120 seconds" }), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(codes, ids.map((_, i) => Option.some(i % 4)))
      const statusCommands = commands.filter((c) => !c.includes("sbatch"))
      const counted = (yield* lines(ssh, countFile)) - afterSubmit
      // every status command went through the prefix once: the counts agree
      assert.strictEqual(counted, statusCommands.length)
      // one command per tick, each for every job still being waited on: the first lists all 30
      assert.deepStrictEqual(/--jobs=([\d,]+)/.exec(statusCommands[0]!)?.[1]?.split(",").sort(), [...ids].sort())
      assert.isTrue(statusCommands.every((c) => c.includes(" squeue -h -t all ")), statusCommands.join("\n"))
      assert.isBelow(counted, 30, `${counted} status commands for 30 jobs`)
      console.log(`30 jobs: ${counted} status commands (one per tick), ${afterSubmit} sbatch`)
    }), 180_000)

  it.effect("slurmctld stopped during a wait: Unavailable is logged, retried, and the wait ends right once it is back", () =>
    Effect.gen(function*() {
      const ssh = yield* TerminalTag
      const logs: Array<string> = []
      const collector = Logger.make((options) => {
        logs.push(`${options.logLevel} ${String(options.message)}`)
      })
      const program = Effect.gen(function*() {
        const scheduler = yield* SlurmScheduler.make(ssh, { polling })
        const ok = yield* scheduler.submit(new JobDescription({ command: "sleep 6", systemOutFile: "/dev/null" }))
        const failing = yield* scheduler.submit(new JobDescription({ command: "sleep 6; exit 3", systemOutFile: "/dev/null" }))
        yield* Stream.runDrain(
          scheduler.watch(ok).pipe(Stream.takeUntil((i) => i.status === "Running"))
        )
        const waits = yield* Effect.forkChild(
          Effect.all([scheduler.wait(ok), scheduler.wait(failing)], { concurrency: 2 })
        )
        // the daemon goes down while both jobs run, and comes back (always, even if the test fails)
        yield* Effect.acquireRelease(slurmctld("stop"), () => Effect.ignore(slurmctld("start")))
        const down = yield* ssh.run("squeue -h")
        assert.notStrictEqual(down.exitCode, 0, "squeue still works with slurmctld stopped")
        yield* Effect.sleep("8 seconds")
        assert.isUndefined(waits.pollUnsafe(), "the wait ended while slurmctld was down")
        yield* slurmctld("start")
        return yield* Fiber.join(waits).pipe(Effect.timeout("60 seconds"))
      }).pipe(Effect.scoped)
      const codes = yield* program.pipe(
        Effect.provide(Logger.layer([collector], { mergeWithExisting: true })),
        Effect.provideService(References.MinimumLogLevel, "Debug")
      )
      assert.deepStrictEqual(codes, [Option.some(0), Option.some(3)])
      const warnings = logs.filter((l) => l.startsWith("Warn") && l.includes("unavailable"))
      assert.isAtLeast(warnings.length, 1, logs.join("\n"))
      assert.isTrue(logs.some((l) => l.includes("answers again")), logs.join("\n"))
    }), 180_000)
})
