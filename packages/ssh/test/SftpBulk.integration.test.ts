// The bulk-data path shares its connection: SFTP transfers (written without a buffer per packet, read through
// the connection's one read buffer) stay intact while commands on the same connection stream output and
// while the connection re-keys, and the commands' output stays intact too.
import { copy, CopyError, type CopyProgress } from "@cerulean/core"
import { PasswordCredential } from "@cerulean/core/Credential"
import { LocalFileSystem } from "@cerulean/core/LocalFileSystem"
import * as Testbed from "@cerulean/testing/Testbed"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { createHash, randomUUID } from "node:crypto"
import * as NFS from "node:fs"
import * as OS from "node:os"
import * as NodePath from "node:path"
import { Session } from "../src/internal/sftpSession.ts"
import { SftpFileSystem } from "../src/SftpFileSystem.ts"
import { SshTerminal } from "../src/SshTerminal.ts"

const tb = Testbed.load()
const credential = new PasswordCredential({ username: tb.user, password: tb.password })
const size = 48 * 1024 * 1024 + 12345
/** Lines `seq` prints: about 7 MB of output per command. */
const lines = 1_000_000

const sha256 = (file: string) => createHash("sha256").update(NFS.readFileSync(file)).digest("hex")
const expectedSeq = createHash("sha256")
  .update(Array.from({ length: lines }, (_, i) => `${i + 1}\n`).join(""))
  .digest("hex")

const scratch = Effect.acquireRelease(
  Effect.sync(() => {
    const local = NFS.mkdtempSync(NodePath.join(OS.tmpdir(), "cerulean-sftp-bulk-"))
    const remote = NodePath.join(tb.userHome, `cerulean-sftp-bulk-${randomUUID()}`)
    const file = NodePath.join(local, "source.bin")
    const block = Buffer.alloc(1024 * 1024)
    const fd = NFS.openSync(file, "w")
    for (let written = 0, i = 0; written < size; i++) {
      for (let j = 0; j < block.length; j += 4) block.writeUInt32LE((i * 2246822519 + j * 3266489917) >>> 0, j)
      const n = Math.min(block.length, size - written)
      NFS.writeSync(fd, block, 0, n)
      written += n
    }
    NFS.closeSync(fd)
    return { local, remote, file }
  }),
  ({ local, remote }) =>
    Effect.sync(() => {
      NFS.rmSync(local, { recursive: true, force: true })
      NFS.rmSync(remote, { recursive: true, force: true })
    })
)

/**
 * ssh2's protocol object of the terminal's connection (reached through an SFTP channel of it): `rekey` starts
 * a key exchange, `handshakes` counts the ones completed since.
 */
const rekeyer = (terminal: SshTerminal["Service"]) =>
  Effect.map(terminal.openSftp, (session) => {
    const client: unknown = Reflect.get(session.sftp, "_client")
    const protocol: unknown = Reflect.get(Object(client), "_protocol")
    const rekey: unknown = Reflect.get(Object(protocol), "rekey")
    const on: unknown = Reflect.get(Object(client), "on")
    assert.isFunction(rekey, "ssh2's protocol can re-key")
    assert.isFunction(on)
    let handshakes = 0
    Reflect.apply(on as () => void, client, ["handshake", () => handshakes++])
    return {
      session,
      rekey: () => Reflect.apply(rekey as () => void, protocol, []),
      handshakes: () => handshakes
    }
  })

describe("SFTP bulk data on a shared, re-keying connection", () => {
  it.live("up and down stay intact beside commands streaming output, across key exchanges", () =>
    Effect.gen(function*() {
      const local = yield* LocalFileSystem.make.pipe(Effect.provide(NodeFileSystem.layer))
      const dirs = yield* scratch
      const terminal = yield* SshTerminal.make({ host: tb.sshHost, port: tb.sshPort, credential, knownHosts: tb.knownHosts })
      const fs = yield* SftpFileSystem.make(terminal)
      yield* fs.path(dirs.remote).mkdir()
      const keys = yield* rekeyer(terminal)
      assert.isTrue(new Session(keys.session.sftp).wired, "the wire is active on OpenSSH's SFTP channels")

      const seqHash = Effect.map(
        terminal.run(`seq 1 ${lines}`),
        (r) => createHash("sha256").update(r.stdout).digest("hex")
      )
      /** Runs a copy beside two commands, starting a key exchange at a quarter and at half of the bytes. */
      const beside = (stream: Stream.Stream<CopyProgress, CopyError>) =>
        Effect.all([
          stream.pipe(Stream.runForEach((p) =>
            Effect.sync(() => {
              const quarters = Math.floor((4 * p.bytesDone) / size)
              if (quarters >= 1 && rekeys === 0 || quarters >= 2 && rekeys === 1) {
                rekeys++
                keys.rekey()
              }
            })
          )),
          Effect.all([seqHash, seqHash], { concurrency: 2 })
        ], { concurrency: "unbounded" })
      let rekeys = 0

      const [, upCommands] = yield* beside(
        copy(local.path(dirs.file), fs.path(dirs.remote, "up.bin"), { progressInterval: "5 millis" })
      )
      assert.strictEqual(sha256(NodePath.join(dirs.remote, "up.bin")), sha256(dirs.file))
      assert.deepStrictEqual(upCommands, [expectedSeq, expectedSeq])
      assert.strictEqual(rekeys, 2, "two key exchanges started mid-upload")

      rekeys = 0
      const down = NodePath.join(dirs.local, "down.bin")
      const [, downCommands] = yield* beside(
        copy(fs.path(dirs.remote, "up.bin"), local.path(down), { progressInterval: "5 millis" })
      )
      assert.strictEqual(sha256(down), sha256(dirs.file))
      assert.deepStrictEqual(downCommands, [expectedSeq, expectedSeq])
      assert.strictEqual(rekeys, 2, "two key exchanges started mid-download")
      yield* Effect.sleep("200 millis")
      assert.isAtLeast(keys.handshakes(), 4, "and all of them completed")

      // and the connection still works for metadata and small files
      const small = fs.path(dirs.remote, "small.txt")
      yield* small.writeText("after the bulk transfers\n")
      assert.strictEqual(yield* small.readText(), "after the bulk transfers\n")
    }).pipe(Effect.scoped), 180_000)
})
