/**
 * Slurm job benchmark on the testbed (Slurm 22.05 over the OpenSSH sshd on
 * 127.0.0.1:2222): submit N trivial jobs and wait for all of them,
 *
 *   A. with Cerulean: one `SshTerminal` connection, `SlurmScheduler.submit`
 *      for each job (10 at a time, each on its own channel), then `wait` on
 *      all of them at once (one shared poller: one `squeue` per tick), and
 *   B. with a shell baseline: one `ssh` connection running `bash -s`, a loop
 *      of `sbatch --parsable` (one per job, the same script), then a loop of
 *      `squeue -h -j <all ids>` with `sleep 0.5` until it prints nothing.
 *
 * B gets no exit codes (squeue's default filter only shows live jobs); A
 * returns every job's exit code and checks them. Both count their scheduler
 * commands through the same wrapper `logwrap`, which appends the program's
 * name to a log and execs it: A uses it as its `prefix`, B calls it. Runs
 * are interleaved (A, B, A, B, ...); the table shows the median wall time
 * (connection set-up included) and its range, the submit and wait phases,
 * and the commands of each kind per run.
 *
 * Cerulean's poller pace is set to the shell loop's: first check and floor
 * 0.5 s (`--interval` to change it).
 *
 *   node bench/jobs.ts [--jobs 100] [--runs 3] [--interval 500]
 *
 * Remote files go to ~cerulean/bench-jobs-<pid>/ and are removed at the end.
 */
import { JobDescription, PubKeyCredential } from "@cerulean/core"
import { SshTerminal } from "@cerulean/ssh"
import { SlurmScheduler } from "@cerulean/schedulers"
import * as Testbed from "@cerulean/testing/Testbed"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Duration, Effect, Option } from "effect"
import * as ChildProcess from "node:child_process"
import * as NodePath from "node:path"

const args = process.argv.slice(2)
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const jobCount = flag("jobs", 100)
const runs = flag("runs", 3)
const intervalMs = flag("interval", 500)

const tb = Testbed.load()
const credential = new PubKeyCredential({ username: tb.user, publicKey: tb.keyEd25519 })
const sshArgs = [
  "-o", "BatchMode=yes",
  "-o", "IdentitiesOnly=yes",
  "-i", tb.keyEd25519,
  "-o", `UserKnownHostsFile=${tb.knownHosts}`,
  "-o", "StrictHostKeyChecking=yes",
  "-p", String(tb.sshPort),
  `${tb.user}@${tb.sshHost}`
]
const remoteBase = NodePath.posix.join(tb.userHome, `bench-jobs-${process.pid}`)
const logwrap = `${remoteBase}/logwrap`
const cmdlog = `${remoteBase}/cmdlog`

const ssh = (script: string) =>
  Effect.sync(() => {
    const r = ChildProcess.spawnSync("ssh", [...sshArgs, "bash -s"], { input: script, encoding: "utf8" })
    if (r.status !== 0) throw new Error(`ssh failed (${r.status}): ${r.stderr}`)
    return r.stdout
  })

/** Commands per program since the log was last cleared, then clears it. */
const takeLog = Effect.map(ssh(`cat '${cmdlog}' 2>/dev/null; : > '${cmdlog}'`), (text) => {
  const counts: Record<string, number> = {}
  for (const line of text.split("\n")) {
    const program = line.split(" ")[1]
    if (program !== undefined && program !== "") counts[program] = (counts[program] ?? 0) + 1
  }
  return counts
})

const drained = ssh(`while [ -n "$(squeue -h -u ${tb.user} -t PD,R,CG)" ]; do sleep 0.5; done`)

interface Run {
  readonly wall: number
  readonly submit: number
  readonly wait: number
  readonly commands: Record<string, number>
}

const cerulean = Effect.gen(function*() {
  const start = performance.now()
  let submitted = 0
  yield* Effect.gen(function*() {
    const terminal = yield* SshTerminal.make({
      host: tb.sshHost,
      port: tb.sshPort,
      knownHosts: tb.knownHosts,
      credential
    })
    const scheduler = yield* SlurmScheduler.make(terminal, {
      prefix: logwrap,
      polling: { firstCheck: Duration.millis(intervalMs), minInterval: Duration.millis(intervalMs) }
    })
    const ids = yield* Effect.forEach(
      Array.from({ length: jobCount }),
      () => scheduler.submit(new JobDescription({ command: "true", name: "bench", systemOutFile: "/dev/null" })),
      { concurrency: 10 }
    )
    submitted = performance.now()
    const codes = yield* Effect.forEach(ids, (id) => scheduler.wait(id), { concurrency: "unbounded" })
    const bad = codes.filter((c) => !Option.isSome(c) || c.value !== 0).length
    if (bad > 0) return yield* Effect.die(new Error(`${bad} jobs did not exit 0`))
  }).pipe(Effect.scoped, Effect.orDie)
  const end = performance.now()
  return { wall: (end - start) / 1000, submit: (submitted - start) / 1000, wait: (end - submitted) / 1000 }
})

const shellScript = `
ids=
for i in $(seq ${jobCount}); do
  id=$('${logwrap}' sbatch --parsable --job-name=bench --output=/dev/null <<'EOF'
#!/bin/bash
true
EOF
)
  ids=\${ids:+$ids,}$id
done
echo "submitted $(date +%s.%N)"
while [ -n "$('${logwrap}' squeue -h -j "$ids")" ]; do sleep ${intervalMs / 1000}; done
`

const shell = Effect.gen(function*() {
  const start = Date.now()
  const out = yield* ssh(shellScript)
  const end = Date.now()
  // the remote clock is this machine's (loopback testbed)
  const submitted = Number(/submitted (\S+)/.exec(out)?.[1] ?? Number.NaN) * 1000
  return { wall: (end - start) / 1000, submit: (submitted - start) / 1000, wait: (end - submitted) / 1000 }
})

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const main = Effect.gen(function*() {
  yield* ssh(`mkdir -p '${remoteBase}' && cat > '${logwrap}' <<'EOF'
#!/bin/bash
echo "$(date +%s.%N) $(basename "$1")" >> '${cmdlog}'
exec "$@"
EOF
chmod +x '${logwrap}'`)
  yield* Effect.addFinalizer(() => Effect.ignore(ssh(`rm -rf '${remoteBase}'`)))
  const results: Record<"A" | "B", Array<Run>> = { A: [], B: [] }
  for (let r = 0; r < runs; r++) {
    for (const [key, approach] of [["A", cerulean], ["B", shell]] as const) {
      yield* drained
      yield* takeLog
      const timing = yield* approach
      const commands = yield* takeLog
      results[key].push({ ...timing, commands })
      yield* Console.log(`run ${r + 1} ${key}: ${timing.wall.toFixed(2)} s, ${JSON.stringify(commands)}`)
    }
  }
  const row = (label: string, list: ReadonlyArray<Run>) => {
    const walls = list.map((x) => x.wall)
    const programs = [...new Set(list.flatMap((x) => Object.keys(x.commands)))].sort()
    const commands = programs.map((p) => `${p} ${list.map((x) => x.commands[p] ?? 0).join("/")}`).join(", ")
    return `| ${label} | ${median(walls).toFixed(2)} (${Math.min(...walls).toFixed(2)}–${Math.max(...walls).toFixed(2)}) | ` +
      `${median(list.map((x) => x.submit)).toFixed(2)} | ${median(list.map((x) => x.wait)).toFixed(2)} | ${commands} |`
  }
  const ratio = median(results.A.map((x) => x.wall)) / median(results.B.map((x) => x.wall))
  yield* Console.log([
    "",
    `${jobCount} trivial Slurm jobs, submit and wait for all; ${runs} runs each, interleaved; poll pace ${intervalMs} ms`,
    "",
    "| approach | wall s, median (range) | submit s | wait s | scheduler commands per run |",
    "| --- | --- | --- | --- | --- |",
    row("A. Cerulean SlurmScheduler, one SshTerminal", results.A),
    row("B. shell: one ssh, sbatch loop + squeue loop", results.B),
    "",
    `A / B wall time: ${ratio.toFixed(2)}x`
  ].join("\n"))
}).pipe(Effect.scoped)

main.pipe(NodeRuntime.runMain)
