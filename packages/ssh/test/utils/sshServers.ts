/**
 * Extra servers and processes some SSH tests need beyond the testbed: a temporary sshd built
 * from the testbed's config with changed options, an ssh-agent, and helpers to find the sshd
 * processes serving a connection. Everything is started in a scope and stopped by PID.
 */
import type * as Testbed from "@cerulean/testing/Testbed"
import * as Effect from "effect/Effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeNet from "node:net"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"

/** A temporary directory removed with the scope. */
export const tempDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `cerulean-${prefix}-`))),
    (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
  )

const freePort = Effect.callback<number>((resume) => {
  const server = NodeNet.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const isAlive = (pid: number) => spawnSync("kill", ["-0", String(pid)]).status === 0

const stopPid = (pid: number) =>
  Effect.gen(function*() {
    if (!isAlive(pid)) return
    process.kill(pid, "SIGTERM")
    for (let i = 0; i < 50 && isAlive(pid); i++) yield* Effect.sleep("100 millis")
    if (isAlive(pid)) process.kill(pid, "SIGKILL")
  })

export interface TempSshd {
  readonly port: number
  readonly pid: number
  readonly log: string
  /** A known_hosts file with the server's host keys under `[127.0.0.1]:port`. */
  readonly knownHosts: string
}

/**
 * Starts a second sshd from the testbed's sshd_config on a free loopback port, with `options`
 * (e.g. `["PasswordAuthentication no"]`) taking the place of the config's own lines for the
 * same keywords; stopped (by PID) when the scope closes.
 */
export const startSshd = (tb: Testbed.TestbedInfo, options: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const dir = yield* tempDir("sshd")
    const port = yield* freePort
    const pidFile = NodePath.join(dir, "sshd.pid")
    const log = NodePath.join(dir, "sshd.log")
    const config = NodePath.join(dir, "sshd_config")
    const keyword = (line: string) => line.trim().split(/\s+/)[0]!.toLowerCase()
    const replaced = new Set(["port", "listenaddress", "pidfile", ...options.map(keyword)])
    const base = NodeFs.readFileSync(NodePath.join(tb.dir, "etc", "sshd_config"), "utf8")
      .split("\n")
      .filter((line) => !replaced.has(keyword(line)))
    // sshd takes the first value of a keyword, and Match blocks must come last: ours go first
    const text = [`Port ${port}`, "ListenAddress 127.0.0.1", `PidFile ${pidFile}`, ...options, ...base].join("\n")
    NodeFs.writeFileSync(config, text)
    yield* Effect.sync(() => execFileSync("/usr/sbin/sshd", ["-f", config, "-E", log]))
    for (let i = 0; i < 100 && !NodeFs.existsSync(pidFile); i++) yield* Effect.sleep("50 millis")
    const pid = Number(NodeFs.readFileSync(pidFile, "utf8").trim())
    yield* Effect.addFinalizer(() => stopPid(pid))
    const hostKeys = NodeFs.readdirSync(NodePath.join(tb.dir, "etc", "hostkeys")).filter((f) => f.endsWith(".pub"))
    const knownHosts = NodePath.join(dir, "known_hosts")
    NodeFs.writeFileSync(
      knownHosts,
      hostKeys.map((f) => {
        const [type, key] = NodeFs.readFileSync(NodePath.join(tb.dir, "etc", "hostkeys", f), "utf8").split(/\s+/)
        return `[127.0.0.1]:${port} ${type} ${key}\n`
      }).join("")
    )
    return { port, pid, log, knownHosts } satisfies TempSshd
  })

/** Starts `ssh-agent -a <socket>` holding `keys`; killed (by PID) when the scope closes. */
export const startAgent = (keys: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const dir = yield* tempDir("agent")
    const socket = NodePath.join(dir, "agent.sock")
    const output = execFileSync("ssh-agent", ["-s", "-a", socket], { encoding: "utf8" })
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(output)?.[1])
    yield* Effect.addFinalizer(() => stopPid(pid))
    for (const key of keys) {
      execFileSync("ssh-add", ["-q", key], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: "ignore" })
    }
    return { socket, pid }
  })

/** Children of a process (by parent pid). */
export const childrenOf = (pid: number): ReadonlyArray<number> =>
  spawnSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).stdout.split("\n").filter((l) => l !== "").map(Number)

/** Pid of the sshd listener of a testbed pid file. */
export const pidFromFile = (file: string): number => Number(NodeFs.readFileSync(file, "utf8").trim())

/**
 * The sshd processes (privileged monitor and unprivileged session process) holding the server
 * side of the TCP connection whose client side is `clientPort`, as `ss -tnp` shows them.
 */
export const sshdProcessesFor = (serverPort: number, clientPort: number): ReadonlyArray<number> => {
  const filter = `( sport = :${serverPort} and dport = :${clientPort} )`
  const out = spawnSync("ss", ["-Htnp", "state", "established", filter], { encoding: "utf8" }).stdout
  return [...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]))
}

/** The command line of a process, or "" when it is gone. */
export const commandOf = (pid: number): string =>
  spawnSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" }).stdout.trim()

/** Local ports of this process's established TCP connections to `serverPort`. */
export const ownClientPorts = (serverPort: number): ReadonlyArray<number> => {
  const filter = `( dport = :${serverPort} )`
  const out = spawnSync("ss", ["-Htnp", "state", "established", filter], { encoding: "utf8" }).stdout
  return out.split("\n")
    .filter((line) => line.includes(`pid=${process.pid},`))
    .map((line) => Number(/:(\d+)\s+\S+:\d+\s/.exec(line)?.[1]))
    .filter((port) => Number.isInteger(port))
}

/** A TCP server on loopback that accepts connections and never says anything; closed with the scope. */
export const silentServer = Effect.acquireRelease(
  Effect.callback<{ readonly server: NodeNet.Server; readonly port: number; readonly sockets: Set<NodeNet.Socket> }>(
    (resume) => {
      const sockets = new Set<NodeNet.Socket>()
      const server = NodeNet.createServer((socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, port, sockets }))
      })
    }
  ),
  ({ server, sockets }) =>
    Effect.callback<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
)

/** A loopback port nothing listens on (taken and released again). */
export const closedPort = freePort
