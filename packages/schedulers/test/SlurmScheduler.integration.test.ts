/**
 * SlurmScheduler against the testbed's Slurm 22.05 over one SSH connection: the Scheduler
 * contract, and 30 jobs waited on at once (scheduler commands counted through the prefix). The
 * wait that survives slurmctld being stopped is in SlurmctldDown.serial.integration.test.ts.
 */
import { JobDescription, PubKeyCredential, type Terminal } from "@cerulean/core"
import { Terminal as TerminalTag } from "@cerulean/core"
import { SshTerminal } from "@cerulean/ssh"
import { SchedulerContract } from "@cerulean/testing"
import * as Testbed from "@cerulean/testing/Testbed"
import { assert, layer } from "@effect/vitest"
import { Effect, Option, Stream } from "effect"
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

  it.effect("JobInfo times: submitted, started and ended within the test's window, in order; no end while running", () =>
    Effect.gen(function*() {
      const ssh = yield* TerminalTag
      const scheduler = yield* SlurmScheduler.make(ssh, { polling })
      // whole seconds on the server, milliseconds here: a second of slack either side
      const before = Date.now() - 1000
      const id = yield* scheduler.submit(new JobDescription({ command: "sleep", arguments: ["2"], queueName: "batch", systemOutFile: "/dev/null" }))
      const infos = yield* Stream.runCollect(scheduler.watch(id))
      const after = Date.now() + 1000
      const done = infos[infos.length - 1]!
      assert.strictEqual(done.status, "Done")
      const [submit, start, end] = [done.submitTime, done.startTime, done.endTime].map((d) => d?.getTime())
      assert.isDefined(submit)
      assert.isDefined(start)
      assert.isDefined(end)
      assert.isAtLeast(submit!, before)
      assert.isAtLeast(start!, submit!)
      assert.isAtLeast(end! - start!, 2000, "the job slept 2 s")
      assert.isAtMost(end!, after)
      for (const info of infos.filter((i) => i.status === "Running")) {
        assert.isDefined(info.startTime)
        assert.isUndefined(info.endTime, "a running job's EndTime is its limit, not an end")
      }
    }), 60_000)
})
