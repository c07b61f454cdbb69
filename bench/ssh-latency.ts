/**
 * Per-command latency over SSH: `run("true")` on one open SshTerminal against
 * OpenSSH's `ssh host true` through a ControlMaster socket (one master
 * connection, a new ssh client process per command, the fastest way to run
 * many commands with OpenSSH) and against a new `ssh` per command (handshake
 * and authentication every time), side by side in one run, interleaved
 * (cerulean, ssh2, ssh+ControlMaster, new ssh, cerulean, ...) so machine load
 * hits all of them alike. "ssh2 raw" is the floor: ssh2's bare exec of `true`
 * on a TCP_NODELAY socket, without Cerulean's `sh -c` wrapper, quoting and
 * bookkeeping; "ssh2 raw exec, no NODELAY" (ssh2 on its own socket, as ssh2
 * users get it by default) shows what TCP_NODELAY is worth.
 *
 *   node bench/ssh-latency.ts [--runs N] [--new-ssh-runs N] [--nagle-runs N] [--port P]
 *
 * Needs the testbed (scripts/testbed/up.sh): sshd on 127.0.0.1:2222, its
 * client key and known_hosts. Prints median, p10 and p90 per tool in ms and
 * the ratio of each tool's median to Cerulean's.
 */
import { PubKeyCredential } from "@cerulean/core"
import { SshTerminal } from "@cerulean/ssh"
import * as Testbed from "@cerulean/testing/Testbed"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as NodeFs from "node:fs"
import { createRequire } from "node:module"
import * as NodeNet from "node:net"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import ssh2 from "ssh2"

const args = process.argv.slice(2)
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const tb = Testbed.load()
const runs = flag("runs", 200)
const newSshRuns = flag("new-ssh-runs", runs)
const nagleRuns = flag("nagle-runs", runs)
const port = flag("port", tb.sshPort)
const host = tb.sshHost

const sshOptions = [
  "-o", "BatchMode=yes",
  "-o", "IdentitiesOnly=yes",
  "-i", tb.keyEd25519,
  "-o", `UserKnownHostsFile=${tb.knownHosts}`,
  "-o", "StrictHostKeyChecking=yes",
  "-o", "LogLevel=ERROR",
  "-p", String(port)
]

/** Runs a program to its exit; fails unless it exits 0. */
const spawn = (command: string, argv: ReadonlyArray<string>) =>
  Effect.callback<void, Error>((resume) => {
    const child = ChildProcess.spawn(command, argv, { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("error", (e) => resume(Effect.fail(e)))
    child.on("exit", (code) =>
      resume(code === 0 ? Effect.void : Effect.fail(new Error(`${command} ${argv.join(" ")}: exit ${code} ${stderr}`)))
    )
  })

const timed = <E>(effect: Effect.Effect<unknown, E>) =>
  Effect.suspend(() => {
    const start = performance.now()
    return Effect.map(effect, () => performance.now() - start)
  })

/** A bare ssh2 connection and a function running one command on it (no wrapper, no bookkeeping). */
const rawSsh2 = (noDelay: boolean) =>
  Effect.acquireRelease(
    Effect.callback<InstanceType<typeof ssh2.Client>, Error>((resume) => {
      const client = new ssh2.Client()
      client.once("ready", () => resume(Effect.succeed(client)))
      client.once("error", (e) => resume(Effect.fail(e)))
      const config = { username: tb.user, privateKey: NodeFs.readFileSync(tb.keyEd25519) }
      if (noDelay) {
        const socket = NodeNet.connect({ host, port })
        socket.setNoDelay(true)
        client.connect({ ...config, sock: socket })
      } else {
        // ssh2's own socket, as ssh2 users get it by default
        client.connect({ ...config, host, port })
      }
    }),
    (client) => Effect.sync(() => client.end())
  ).pipe(
    Effect.map((client) =>
      Effect.callback<void, Error>((resume) => {
        client.exec("true", (err, channel) => {
          if (err !== undefined) return resume(Effect.fail(err))
          channel.resume()
          channel.stderr.resume()
          channel.on("close", (code: number) =>
            resume(code === 0 ? Effect.void : Effect.fail(new Error(`exit ${code}`))))
          channel.end()
        })
      })
    )
  )

const stats = (samples: ReadonlyArray<number>) => {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  return { n: sorted.length, median: at(0.5), p10: at(0.1), p90: at(0.9) }
}

const program = Effect.gen(function*() {
  const require = createRequire(import.meta.url)
  const binding: unknown = require("ssh2/lib/protocol/crypto.js")
  const bindingOn = typeof binding === "object" && binding !== null && "bindingAvailable" in binding &&
    binding.bindingAvailable === true
  yield* Console.log(
    `ssh latency: ${runs} x "true" on ${host}:${port}; Node ${process.version}; ssh2 native crypto ${bindingOn}; ` +
      `${NodeOs.cpus().length} cpus, load ${NodeOs.loadavg().map((l) => l.toFixed(2)).join(" ")}`
  )

  const terminal = yield* SshTerminal.make({
    host,
    port,
    knownHosts: tb.knownHosts,
    credential: new PubKeyCredential({ username: tb.user, publicKey: tb.keyEd25519 })
  })
  const raw = yield* rawSsh2(true)
  const rawNagle = yield* rawSsh2(false)

  const controlDir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "cerulean-bench-cm-"))
  const control = ["-o", "ControlMaster=auto", "-o", `ControlPath=${controlDir}/cm-%C`, "-o", "ControlPersist=60"]
  yield* Effect.addFinalizer(() =>
    spawn("ssh", [...sshOptions, ...control, "-O", "exit", `${tb.user}@${host}`]).pipe(
      Effect.ignore,
      Effect.andThen(Effect.sync(() => NodeFs.rmSync(controlDir, { recursive: true, force: true })))
    )
  )
  const viaMaster = spawn("ssh", [...sshOptions, ...control, `${tb.user}@${host}`, "true"])
  const noControl = ["-o", "ControlMaster=no", "-o", "ControlPath=none"]
  const viaNewSsh = spawn("ssh", [...sshOptions, ...noControl, `${tb.user}@${host}`, "true"])
  const viaCerulean = Effect.flatMap(terminal.run("true"), (r) =>
    r.exitCode === 0 ? Effect.void : Effect.fail(new Error(`exit ${r.exitCode}`)))

  // warm-up: the master connection, JIT, the remote shell's binaries in the page cache
  yield* viaMaster
  for (let i = 0; i < 20; i++) {
    yield* viaCerulean
    yield* raw
    yield* viaMaster
  }

  const samples: Record<"cerulean" | "raw" | "master" | "newSsh" | "nagle", Array<number>> = {
    cerulean: [],
    raw: [],
    master: [],
    newSsh: [],
    nagle: []
  }
  for (let i = 0; i < runs; i++) {
    samples.cerulean.push(yield* timed(viaCerulean))
    samples.raw.push(yield* timed(raw))
    samples.master.push(yield* timed(viaMaster))
    if (i < newSshRuns) samples.newSsh.push(yield* timed(viaNewSsh))
    if (i < nagleRuns) samples.nagle.push(yield* timed(rawNagle))
  }

  const cerulean = stats(samples.cerulean)
  const rows: ReadonlyArray<readonly [string, ReturnType<typeof stats>]> = [
    ["Cerulean SshTerminal.run", cerulean],
    ["ssh2 raw exec (floor)", stats(samples.raw)],
    ["ssh2 raw exec, no NODELAY", stats(samples.nagle)],
    ["ssh + ControlMaster socket", stats(samples.master)],
    ["new ssh per command", stats(samples.newSsh)]
  ]
  yield* Console.log("")
  yield* Console.log("tool                          runs  median ms   p10 ms   p90 ms   median / Cerulean's")
  for (const [name, s] of rows) {
    if (s.n === 0) continue
    yield* Console.log(
      `${name.padEnd(28)} ${String(s.n).padStart(5)} ${s.median.toFixed(2).padStart(10)} ` +
        `${s.p10.toFixed(2).padStart(8)} ${s.p90.toFixed(2).padStart(8)}   ${(s.median / cerulean.median).toFixed(2)}x`
    )
  }
  const master = stats(samples.master)
  yield* Console.log("")
  yield* Console.log(
    `Cerulean is ${(master.median / cerulean.median).toFixed(2)}x faster per command than ssh with ControlMaster ` +
      `(goal: >= 2x) and ${(stats(samples.newSsh).median / cerulean.median).toFixed(1)}x faster ` +
      "than a new ssh per command."
  )
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
