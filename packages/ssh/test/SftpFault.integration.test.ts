// Faults: the server side of the SSH connection is killed in the middle of a transfer. The caller gets a
// ConnectionLost reason, nothing appears under the final name, and the same file system copies again once the
// terminal has reconnected (a new SSH connection), as does a file system on a fresh terminal.
import { copy, copyAll, CopyError } from "@cerulean/core"
import { PasswordCredential } from "@cerulean/core/Credential"
import { LocalFileSystem } from "@cerulean/core/LocalFileSystem"
import * as Testbed from "@cerulean/testing/Testbed"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { createHash, randomUUID } from "node:crypto"
import * as NFS from "node:fs"
import * as OS from "node:os"
import * as NodePath from "node:path"
import { SftpFileSystem } from "../src/SftpFileSystem.ts"
import { SshTerminal } from "../src/SshTerminal.ts"

const tb = Testbed.load()
const credential = new PasswordCredential({ username: tb.user, password: tb.password })
const size = 256 * 1024 * 1024

const sha256 = (file: string) => createHash("sha256").update(NFS.readFileSync(file)).digest("hex")

/** A local scratch directory with a file of `size` pseudo-random bytes. */
const localSource = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = NFS.mkdtempSync(NodePath.join(OS.tmpdir(), "cerulean-sftp-fault-"))
    const file = NodePath.join(dir, "big.bin")
    const fd = NFS.openSync(file, "w")
    const block = Buffer.alloc(1024 * 1024)
    for (let i = 0; i < size / block.length; i++) {
      for (let j = 0; j < block.length; j += 4) block.writeUInt32LE((i * 2654435761 + j * 40503) >>> 0, j)
      NFS.writeSync(fd, block)
    }
    NFS.closeSync(fd)
    return { dir, file }
  }),
  ({ dir }) => Effect.sync(() => NFS.rmSync(dir, { recursive: true, force: true }))
)

/** The pid of the sshd process serving this terminal's connection: the parent of a command it runs. */
const sessionPid = (terminal: SshTerminal["Service"]) =>
  Effect.map(terminal.run("echo $PPID"), (r) => Number(r.stdout.trim()))

/** A scratch directory in the test user's home on the server (the testbed shares this machine's disk). */
const remoteScratch = Effect.acquireRelease(
  Effect.sync(() => NodePath.join(tb.userHome, `cerulean-sftp-fault-${randomUUID()}`)),
  (dir) => Effect.sync(() => NFS.rmSync(dir, { recursive: true, force: true }))
)

const connect = Effect.gen(function*() {
  const terminal = yield* SshTerminal.make({ host: tb.sshHost, port: tb.sshPort, credential, knownHosts: tb.knownHosts })
  const fs = yield* SftpFileSystem.make(terminal)
  return { terminal, fs }
})

describe("SftpFileSystem, server killed mid-transfer", () => {
  it.live("upload: ConnectionLost, no file under the final name, then the copy succeeds on a new connection", () =>
    Effect.gen(function*() {
      const local = yield* LocalFileSystem.make.pipe(Effect.provide(NodeFileSystem.layer))
      const source = yield* localSource
      const dir = yield* remoteScratch
      const { fs, terminal } = yield* connect
      yield* fs.path(dir).mkdir()
      const target = fs.path(dir, "big.bin")
      const pid = yield* sessionPid(terminal)
      assert.isAbove(pid, 1)

      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(
        copy(local.path(source.file), target, { progressInterval: "10 millis" }).pipe(
          Stream.runForEach((p) => (p.bytesDone > 16 * 1024 * 1024 ? Deferred.succeed(started, undefined) : Effect.void)),
          Effect.flip
        )
      )
      yield* Deferred.await(started)
      process.kill(pid, "SIGKILL")
      const error = yield* Fiber.join(fiber)
      assert.instanceOf(error, CopyError)
      assert.strictEqual(error.reason._tag, "ConnectionLost")
      assert.isFalse(NFS.existsSync(NodePath.join(dir, "big.bin")), "nothing under the final name")

      // The same file system copies again: the terminal reconnects and the SFTP channels are opened anew.
      yield* copyAll(local.path(source.file), target)
      assert.strictEqual(sha256(NodePath.join(dir, "big.bin")), sha256(source.file))
      assert.notStrictEqual(yield* sessionPid(terminal), pid, "a new SSH connection")
      assert.deepStrictEqual(NFS.readdirSync(dir).filter((n) => n.endsWith(".tmp")), [], "the temporary file is gone")

      // And a file system on a fresh terminal too.
      const fresh = yield* connect
      yield* copyAll(local.path(source.file), fresh.fs.path(dir, "again.bin"))
      assert.strictEqual(sha256(NodePath.join(dir, "again.bin")), sha256(source.file))
    }), 120_000)

  it.live("download: ConnectionLost from readStream and copy, nothing under the final name", () =>
    Effect.gen(function*() {
      const local = yield* LocalFileSystem.make.pipe(Effect.provide(NodeFileSystem.layer))
      const source = yield* localSource
      const dir = yield* remoteScratch
      const { fs, terminal } = yield* connect
      yield* fs.path(dir).mkdir()
      yield* copyAll(local.path(source.file), fs.path(dir, "big.bin"))
      const pid = yield* sessionPid(terminal)

      const started = yield* Deferred.make<void>()
      const target = local.path(source.dir, "down.bin")
      const fiber = yield* Effect.forkChild(
        copy(fs.path(dir, "big.bin"), target, { progressInterval: "10 millis" }).pipe(
          Stream.runForEach((p) => (p.bytesDone > 16 * 1024 * 1024 ? Deferred.succeed(started, undefined) : Effect.void)),
          Effect.flip
        )
      )
      yield* Deferred.await(started)
      process.kill(pid, "SIGKILL")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.reason._tag, "ConnectionLost")
      assert.isFalse(NFS.existsSync(target.path), "nothing under the final name")
      assert.deepStrictEqual(NFS.readdirSync(source.dir).filter((n) => n.endsWith(".tmp")), [])

      // A plain readStream (on the reconnected terminal) fails the same way when its connection is killed.
      const pid2 = yield* sessionPid(terminal)
      assert.notStrictEqual(pid2, pid)
      let read = 0
      const streamError = yield* fs.path(dir, "big.bin").readStream().pipe(
        Stream.runForEach((chunk) =>
          Effect.sync(() => {
            read += chunk.length
            if (read > 16 * 1024 * 1024 && read - chunk.length <= 16 * 1024 * 1024) process.kill(pid2, "SIGKILL")
          })
        ),
        Effect.flip
      )
      assert.strictEqual(streamError.reason._tag, "ConnectionLost")
      assert.isBelow(read, size)

      // And the next copy succeeds on a new connection.
      yield* copyAll(fs.path(dir, "big.bin"), target)
      assert.strictEqual(sha256(target.path), sha256(source.file))
    }), 120_000)
})
