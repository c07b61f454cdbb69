/**
 * A wait that survives slurmctld being stopped and started again. It stops the testbed's one
 * controller, so it runs in the serial group, after every other test file (vitest.config.ts).
 */
import { JobDescription, PubKeyCredential } from "@cerulean/core"
import { Terminal as TerminalTag } from "@cerulean/core"
import { SshTerminal } from "@cerulean/ssh"
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

const slurmctldScript = path.resolve(import.meta.dirname, "../../../scripts/testbed/slurmctld.sh")
/** Stops or starts the testbed's slurmctld (by its pid file; `start` waits until the nodes are back). */
const slurmctld = (action: "stop" | "start") =>
  Effect.try({
    try: () => execFileSync("bash", [slurmctldScript, action], { stdio: "pipe", timeout: 60_000 }),
    catch: (cause) => new Error(`slurmctld.sh ${action} failed`, { cause })
  })

layer(ssh, { excludeTestServices: true })("SlurmScheduler over SshTerminal: controller down", (it) => {
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
