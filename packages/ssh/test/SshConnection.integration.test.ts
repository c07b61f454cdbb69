/**
 * The connection under SshTerminal: clean teardown (no sshd session process left), many
 * channels over one connection under sshd's MaxSessions, SFTP channels sharing the limit,
 * losing the connection in the middle of a command (typed ConnectionLost, no re-run, reconnect
 * on the next call), keepalive detecting a silent server, connect failures and timeouts.
 */
import { PubKeyCredential, type TerminalError } from "@cerulean/core"
import { assert, describe, it } from "@effect/vitest"
import * as Testbed from "@cerulean/testing/Testbed"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { spawnSync } from "node:child_process"
import { SshError } from "../src/SshError.ts"
import { SshTerminal, type SshTerminalOptions, type SshTerminalShape } from "../src/SshTerminal.ts"
import {
  childrenOf,
  closedPort,
  commandOf,
  ownClientPorts,
  silentServer,
  sshdProcessesFor,
  startSshd
} from "./utils/sshServers.ts"

const tb = Testbed.load()
const credential = new PubKeyCredential({ username: tb.user, publicKey: tb.keyEd25519 })
const base: SshTerminalOptions = { host: tb.sshHost, port: tb.sshPort, knownHosts: tb.knownHosts, credential }

const marker = () => `5${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`
const sleepPids = (m: string) =>
  spawnSync("pgrep", ["-x", "-f", `sleep ${m}`], { encoding: "utf8" }).stdout.split("\n").filter((l) => l !== "")

const waitFor = (condition: () => boolean, what: string, within = 10_000) =>
  Effect.gen(function*() {
    for (let waited = 0; !condition(); waited += 50) {
      if (waited > within) return assert.fail(`timed out waiting until ${what}`)
      yield* Effect.sleep("50 millis")
    }
  })

/** Makes a terminal and returns it with the local port of the TCP connection it opened. */
const makeWithPort = (options: SshTerminalOptions) =>
  Effect.gen(function*() {
    const before = new Set(ownClientPorts(options.port ?? 22))
    const terminal = yield* SshTerminal.make(options)
    const ports = ownClientPorts(options.port ?? 22).filter((p) => !before.has(p))
    assert.strictEqual(ports.length, 1, `new connections: ${ports.join(",")}`)
    return { terminal, port: ports[0]! }
  })

/**
 * The unprivileged sshd process (`sshd: user` / `sshd: user@notty`) serving the connection from
 * `clientPort`; sshd forks it right after authentication, so it may take a moment to appear.
 */
const sessionProcess = (serverPort: number, clientPort: number) =>
  Effect.gen(function*() {
    const find = () =>
      sshdProcessesFor(serverPort, clientPort).find((pid) => /^sshd: [^ ]+(@notty)?$/.test(commandOf(pid)))
    yield* waitFor(() => find() !== undefined, `an sshd session process serves port ${clientPort}`, 5000)
    return find()!
  })

const connectionId = (terminal: SshTerminalShape) =>
  Effect.scoped(Effect.map(terminal.exec("true"), (exec) => exec.connectionId))

const reasonOf = (exit: Exit.Exit<unknown, TerminalError>) => {
  assert.isTrue(Exit.isFailure(exit), "the run succeeded")
  const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined
  assert.isDefined(error, "the run died or was interrupted")
  return error!.reason
}

describe("SshTerminal connection", () => {
  it.live("100 sequential scoped connections leave no sshd session process behind", () =>
    Effect.gen(function*() {
      // a private sshd from the testbed config: other test files cannot add session processes to it
      const sshd = yield* startSshd(tb, [])
      assert.deepStrictEqual(childrenOf(sshd.pid), [])
      for (let i = 0; i < 100; i++) {
        const result = yield* Effect.scoped(
          Effect.flatMap(
            SshTerminal.make({ ...base, port: sshd.port, knownHosts: sshd.knownHosts }),
            (terminal) => terminal.run("echo", [String(i)])
          )
        )
        assert.strictEqual(result.stdout, `${i}\n`)
      }
      yield* waitFor(() => childrenOf(sshd.pid).length === 0, "the sshd session processes are gone", 5000)
      assert.deepStrictEqual(ownClientPorts(sshd.port), [], "a client socket is still open")
    }), 120_000)

  it.live("50 parallel runs on one terminal against sshd with MaxSessions 10 all succeed", () =>
    Effect.gen(function*() {
      assert.strictEqual(tb.sshLimitedMaxSessions, 10)
      for (const maxChannels of [10, 25]) {
        // maxChannels 25 > MaxSessions: the server refuses channels, which must be waited out, not surfaced
        const terminal = yield* SshTerminal.make({ ...base, port: tb.sshLimitedPort, maxChannels })
        let peak = 0
        const results = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (i) =>
            Effect.gen(function*() {
              peak = Math.max(peak, yield* terminal.channels.inUse)
              return yield* terminal.run(`sleep 0.2; echo ${i}; echo e${i} >&2`)
            }),
          { concurrency: "unbounded" }
        )
        results.forEach((r, i) => assert.deepStrictEqual([r.exitCode, r.stdout, r.stderr], [0, `${i}\n`, `e${i}\n`]))
        assert.isAtMost(peak, maxChannels)
        assert.strictEqual(yield* terminal.channels.inUse, 0)
      }
    }), 120_000)

  it.live("SFTP sessions take channel slots: a run waits for a free one and is never failed", () =>
    Effect.gen(function*() {
      const terminal = yield* SshTerminal.make({ ...base, maxChannels: 2 })
      const sftpScope = yield* Scope.make()
      const first = yield* terminal.openSftp.pipe(Scope.provide(sftpScope))
      yield* terminal.openSftp.pipe(Scope.provide(sftpScope))
      assert.strictEqual(yield* terminal.channels.inUse, 2)
      assert.strictEqual(first.connectionId, 1)
      const fiber = yield* Effect.forkChild(terminal.run("echo ran"))
      yield* Effect.sleep("500 millis")
      assert.isUndefined(fiber.pollUnsafe(), "the run did not wait for a channel slot")
      yield* Scope.close(sftpScope, Exit.void)
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.stdout, "ran\n")
      assert.strictEqual(yield* terminal.channels.inUse, 0)
    }))

  it.live("the server side killed during a long command: ConnectionLost at once, no re-run, next run reconnects", () =>
    Effect.gen(function*() {
      const { terminal, port } = yield* makeWithPort(base)
      const file = (yield* terminal.run("mktemp")).stdout.trim()
      const m = marker()
      const fiber = yield* Effect.forkChild(terminal.run(`echo started >> ${file}; sleep ${m}`))
      yield* waitFor(() => sleepPids(m).length === 1, "the command runs")

      const killedAt = Date.now()
      process.kill(yield* sessionProcess(tb.sshPort, port), "SIGKILL")
      const reason = reasonOf(yield* Fiber.await(fiber))
      assert.isBelow(Date.now() - killedAt, 5000, "ConnectionLost took too long")
      assert.strictEqual(reason._tag, "ConnectionLost")
      const cause = reason.cause
      assert.isTrue(cause instanceof SshError && cause.reason._tag === "ConnectionLost", String(cause))

      // the next call reconnects; the lost command was not run again
      const after = yield* terminal.run("cat", [file])
      assert.deepStrictEqual([after.exitCode, after.stdout], [0, "started\n"])
      assert.strictEqual(yield* connectionId(terminal), 2)
      yield* terminal.run(`pkill -x -f 'sleep ${m}'; rm -f`, [file])
    }), 60_000)

  it.live("keepalive notices a server that stopped answering", () =>
    Effect.gen(function*() {
      const { terminal, port } = yield* makeWithPort({ ...base, keepAlive: "200 millis" })
      const m = marker()
      const fiber = yield* Effect.forkChild(terminal.run(`sleep ${m}`))
      yield* waitFor(() => sleepPids(m).length === 1, "the command runs")
      const session = yield* sessionProcess(tb.sshPort, port)
      // the TCP connection stays up (the kernel answers), the SSH server does not
      process.kill(session, "SIGSTOP")
      yield* Effect.addFinalizer(() => Effect.sync(() => process.kill(session, "SIGKILL")))
      const stoppedAt = Date.now()
      const reason = reasonOf(yield* Fiber.await(fiber))
      assert.strictEqual(reason._tag, "ConnectionLost")
      assert.include(reason.description ?? "", "eepalive")
      assert.isBelow(Date.now() - stoppedAt, 5000)
      process.kill(session, "SIGKILL")
      for (const pid of sleepPids(m)) process.kill(Number(pid), "SIGKILL")
      assert.strictEqual((yield* terminal.run("echo back")).stdout, "back\n")
    }), 60_000)

  it.live("lost connection and server gone: the next run fails after its reconnect attempts", () =>
    Effect.gen(function*() {
      const sshd = yield* startSshd(tb, [])
      const { terminal, port } = yield* makeWithPort({
        ...base,
        port: sshd.port,
        knownHosts: sshd.knownHosts,
        reconnect: { attempts: 2, delay: "150 millis" }
      })
      const session = yield* sessionProcess(sshd.port, port)
      process.kill(sshd.pid, "SIGTERM") // the listener: no new connections
      yield* waitFor(() => commandOf(sshd.pid) === "", "the sshd listener is gone")
      process.kill(session, "SIGKILL")
      yield* waitFor(() => ownClientPorts(sshd.port).length === 0, "the connection is closed")
      const started = Date.now()
      const error = yield* Effect.flip(terminal.run("true"))
      assert.strictEqual(error.reason._tag, "SpawnFailed")
      const cause = error.reason.cause
      assert.isTrue(cause instanceof SshError && cause.reason._tag === "ConnectionFailed", String(cause))
      // two retries after 150 and 300 ms
      assert.isAtLeast(Date.now() - started, 400)
      assert.strictEqual(yield* terminal.channels.inUse, 0)
      // a failed open gives its slot back at once, even inside a scope that stays open
      const sftpError = yield* Effect.flip(terminal.openSftp)
      assert.strictEqual(sftpError.reason._tag, "ConnectionFailed")
      assert.strictEqual(yield* terminal.channels.inUse, 0)
    }), 60_000)

  it.live("connect failures: refused port, silent server (Timeout), bad options", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const refused = yield* Effect.flip(Effect.scoped(SshTerminal.make({ ...base, port })))
      assert.strictEqual(refused.reason._tag, "ConnectionFailed")
      assert.deepStrictEqual([refused.host, refused.port], [tb.sshHost, port])

      const silent = yield* silentServer
      const started = Date.now()
      const timeout = yield* Effect.flip(
        Effect.scoped(SshTerminal.make({ ...base, port: silent.port, connectTimeout: "500 millis" }))
      )
      assert.strictEqual(timeout.reason._tag, "Timeout")
      assert.isBelow(Date.now() - started, 3000)

      const badPort = yield* Effect.flip(Effect.scoped(SshTerminal.make({ ...base, port: 70000 })))
      assert.strictEqual(badPort.reason._tag, "ConnectionFailed")
      assert.include(badPort.message, "invalid options")
      const badChannels = yield* Effect.flip(Effect.scoped(SshTerminal.make({ ...base, maxChannels: 0 })))
      assert.include(badChannels.message, "maxChannels")
    }))

  it.live("exec: a raw channel runs the text as given and closes promptly even when its output is not read", () =>
    Effect.gen(function*() {
      const terminal = yield* SshTerminal.make(base)
      const output = yield* Effect.scoped(
        Effect.gen(function*() {
          const { channel } = yield* terminal.exec("echo $0 raw")
          return yield* Effect.callback<string>((resume) => {
            let text = ""
            channel.on("data", (d: Buffer) => (text += d.toString()))
            channel.on("close", () => resume(Effect.succeed(text)))
            channel.end()
          })
        })
      )
      assert.strictEqual(output, "bash raw\n", "the login shell (bash) ran the text itself")
      const started = Date.now()
      yield* Effect.scoped(Effect.flatMap(terminal.exec("echo unread"), () => Effect.sleep("100 millis")))
      assert.isBelow(Date.now() - started, 2000)
      assert.strictEqual(yield* terminal.channels.inUse, 0)
    }))

  it.live("identifies itself: protocol, location, host, port, user, channel limit", () =>
    Effect.gen(function*() {
      const terminal = yield* SshTerminal.make(base)
      assert.strictEqual(terminal.protocol, "ssh")
      assert.strictEqual(terminal.location, `${tb.user}@${tb.sshHost}:${tb.sshPort}`)
      assert.deepStrictEqual([terminal.host, terminal.port, terminal.username], [tb.sshHost, tb.sshPort, tb.user])
      assert.strictEqual(terminal.channels.maxChannels, 10)
    }))
})
