// The batch of small files (copy's sendManyTo / receiveManyFrom on SFTP): a tree of small files runs as one
// callback engine. These tests stop it in the middle in each way it can stop (the server killed, the caller
// interrupting, a file the server refuses) and check what is left: every file under its final name is
// complete, no temporary file remains, and the error names the file. And files around the one-request limit,
// which the batch leaves to the pipelined path, arrive intact.
import { copy, copyAll, CopyError } from "@cerulean/core"
import { PasswordCredential } from "@cerulean/core/Credential"
import { LocalFileSystem } from "@cerulean/core/LocalFileSystem"
import { leftovers } from "@cerulean/testing/CopyContract"
import * as Testbed from "@cerulean/testing/Testbed"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { randomUUID } from "node:crypto"
import * as NFS from "node:fs"
import * as OS from "node:os"
import * as NodePath from "node:path"
import { SftpFileSystem } from "../src/SftpFileSystem.ts"
import { SshTerminal } from "../src/SshTerminal.ts"

const tb = Testbed.load()
const credential = new PasswordCredential({ username: tb.user, password: tb.password })
const localFs = LocalFileSystem.make.pipe(Effect.provide(NodeFileSystem.layer))

const folders = 10
const perFolder = 200

/** The content of file `i` of folder `d`: distinct per file, 1 to 8 KiB. */
const content = (d: number, i: number) => Buffer.alloc(1024 + ((d * 7919 + i * 104729) % 7168), `${d}:${i}|`)

const fileNames = (): ReadonlyArray<readonly [string, Buffer]> => {
  const out: Array<readonly [string, Buffer]> = []
  for (let d = 0; d < folders; d++) for (let i = 0; i < perFolder; i++) out.push([`d${d}/f${i}`, content(d, i)])
  return out
}

/** A local scratch directory, removed with the scope. */
const localScratch = Effect.acquireRelease(
  Effect.sync(() => NFS.mkdtempSync(NodePath.join(OS.tmpdir(), "cerulean-sftp-batch-"))),
  (dir) => Effect.sync(() => NFS.rmSync(dir, { recursive: true, force: true }))
)

/** The tree of `fileNames` under the local directory `dir`. */
const writeTree = (dir: string) =>
  Effect.sync(() => {
    for (let d = 0; d < folders; d++) NFS.mkdirSync(NodePath.join(dir, `d${d}`), { recursive: true })
    for (const [name, data] of fileNames()) NFS.writeFileSync(NodePath.join(dir, name), data)
  })

/** A scratch directory in the test user's home on the server (the testbed shares this machine's disk). */
const remoteScratch = Effect.acquireRelease(
  Effect.sync(() => NodePath.join(tb.userHome, `cerulean-sftp-batch-${randomUUID()}`)),
  (dir) => Effect.sync(() => NFS.rmSync(dir, { recursive: true, force: true }))
)

const connect = Effect.gen(function*() {
  const terminal = yield* SshTerminal.make({ host: tb.sshHost, port: tb.sshPort, credential, knownHosts: tb.knownHosts })
  const fs = yield* SftpFileSystem.make(terminal)
  return { terminal, fs }
})

/** The pid of the sshd process serving this terminal's connection: the parent of a command it runs. */
const sessionPid = (terminal: SshTerminal["Service"]) =>
  Effect.map(terminal.run("echo $PPID"), (r) => Number(r.stdout.trim()))

/**
 * Checks a tree copied (in part) to the local path `dir` (the testbed's server directories are local paths
 * too): every file there is complete, and returns how many are there.
 */
const completeOrAbsent = (dir: string): number => {
  let present = 0
  for (const [name, data] of fileNames()) {
    const path = NodePath.join(dir, name)
    if (!NFS.existsSync(path)) continue
    present++
    assert.isTrue(NFS.readFileSync(path).equals(data), `${name} is complete`)
  }
  return present
}

/** Runs `copy` until `filesDone` reaches `after`, then `stop` (which makes the copy end); returns the copy's end. */
const stopMidway = <E>(
  run: Stream.Stream<{ readonly filesDone: number }, E>,
  after: number,
  stop: (fiber: Fiber.Fiber<E | undefined>) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    const reached = yield* Deferred.make<void>()
    const fiber = yield* Effect.forkChild(
      run.pipe(
        Stream.runForEach((p) => (p.filesDone >= after ? Deferred.succeed(reached, undefined) : Effect.void)),
        Effect.as(undefined),
        Effect.catch((e) => Effect.succeed(e))
      )
    )
    yield* Deferred.await(reached)
    yield* stop(fiber)
    return yield* Fiber.await(fiber)
  })

/** A local tree, a remote scratch directory and an SFTP file system on a connection of its own. */
const setup = Effect.gen(function*() {
  const local = yield* localFs
  const source = yield* localScratch
  yield* writeTree(source)
  const dir = yield* remoteScratch
  const { fs, terminal } = yield* connect
  return { local, source, dir, fs, terminal }
})

type Direction = "up" | "down"

/** A copy's two ends in `direction` (down: the tree uploaded first), and the local path of its target. */
const ends = (env: Effect.Success<typeof setup>, direction: Direction) =>
  Effect.gen(function*() {
    const { dir, fs, local, source } = env
    if (direction === "up") return { from: local.path(source), to: fs.path(dir), at: dir }
    yield* copyAll(local.path(source), fs.path(dir))
    const down = NodePath.join(yield* localScratch, "down")
    return { from: fs.path(dir), to: local.path(down), at: down }
  })

const midway = { progressInterval: "1 millis" } as const

describe("SftpFileSystem, a batch of small files stopped midway", () => {
  for (const direction of ["up", "down"] as const) {
    it.live(`${direction}, server killed: ConnectionLost, complete files only, no temporary file, then the copy succeeds`, () =>
      Effect.gen(function*() {
        const env = yield* setup
        const { at, from, to } = yield* ends(env, direction)
        const pid = yield* sessionPid(env.terminal)
        const exit = yield* stopMidway(copy(from, to, midway), 200, () => Effect.sync(() => process.kill(pid, "SIGKILL")))
        const error = exit._tag === "Success" ? exit.value : undefined
        assert.instanceOf(error, CopyError)
        assert.strictEqual(error!.reason._tag, "ConnectionLost")
        assert.isBelow(completeOrAbsent(at), folders * perFolder, "the copy stopped midway")
        // the failed copy removed its temporary files (over the reconnected terminal, up)
        assert.deepStrictEqual(yield* leftovers(to), [])

        yield* copyAll(from, to, { copyInto: false })
        assert.strictEqual(completeOrAbsent(at), folders * perFolder)
        assert.deepStrictEqual(yield* leftovers(to), [])
      }), 120_000)

    it.live(`${direction}, interrupted: complete files only and no temporary file`, () =>
      Effect.gen(function*() {
        const { at, from, to } = yield* Effect.flatMap(setup, (env) => ends(env, direction))
        const exit = yield* stopMidway(copy(from, to, midway), 200, (fiber) => Fiber.interrupt(fiber))
        assert.strictEqual(exit._tag, "Failure", "interrupted")
        const present = completeOrAbsent(at)
        assert.isAbove(present, 0)
        assert.isBelow(present, folders * perFolder)
        assert.deepStrictEqual(yield* leftovers(to), [])
      }), 120_000)
  }

  it.live("a directory the server refuses to write: PermissionDenied naming a file there, nothing partial", () =>
    Effect.gen(function*() {
      const { dir, fs, local, source } = yield* setup
      // an existing, read-only d3 is merged into (overwrite "never"): its files cannot be created
      yield* fs.path(dir, "d3").mkdir({ parents: true })
      yield* fs.path(dir, "d3").chmod(0o555)
      const error = yield* Effect.flip(copyAll(local.path(source), fs.path(dir), { copyInto: false }))
      yield* fs.path(dir, "d3").chmod(0o755)
      assert.strictEqual(error.reason._tag, "PermissionDenied")
      assert.match(error.reason.path, new RegExp(`^${dir}/d3/f\\d+$`), "the target's path, not a temporary name")
      completeOrAbsent(dir)
      assert.deepStrictEqual(NFS.readdirSync(NodePath.join(dir, "d3")), [])
      assert.deepStrictEqual(yield* leftovers(fs.path(dir)), [])
    }), 120_000)

  it.live("a file the server refuses to read: PermissionDenied naming it, nothing partial locally", () =>
    Effect.gen(function*() {
      const env = yield* setup
      const { dir, fs } = env
      const { at: down, from, to } = yield* ends(env, "down")
      yield* fs.path(dir, "d5", "f17").chmod(0o000)
      const error = yield* Effect.flip(copyAll(from, to))
      assert.strictEqual(error.reason._tag, "PermissionDenied")
      assert.strictEqual(error.reason.path, `${dir}/d5/f17`)
      completeOrAbsent(down)
      assert.isFalse(NFS.existsSync(NodePath.join(down, "d5", "f17")))
      assert.deepStrictEqual(yield* leftovers(to), [])
    }), 120_000)
})

describe("SftpFileSystem, a batch with files of every size", () => {
  it.live("files around the one-request limit and larger ones arrive intact, up and down, with their modes", () =>
    Effect.gen(function*() {
      const local = yield* localFs
      const source = yield* localScratch
      const sizes = [0, 1, 4096, 65535, 65536, 65537, 131071, 131072, 131073, 262143, 262144, 262145, 1_000_000]
      for (const [i, size] of sizes.entries()) {
        const data = Buffer.alloc(size, `${i}-${size};`)
        NFS.writeFileSync(NodePath.join(source, `s${size}`), data)
        NFS.chmodSync(NodePath.join(source, `s${size}`), i % 2 === 0 ? 0o640 : 0o600)
      }
      const dir = yield* remoteScratch
      const { fs } = yield* connect
      yield* copyAll(local.path(source), fs.path(dir), { copyPermissions: true })
      const down = NodePath.join(yield* localScratch, "down")
      yield* copyAll(fs.path(dir), local.path(down), { copyPermissions: true })
      for (const [i, size] of sizes.entries()) {
        const want = NFS.readFileSync(NodePath.join(source, `s${size}`))
        for (const where of [dir, down]) {
          const path = NodePath.join(where, `s${size}`)
          assert.isTrue(NFS.readFileSync(path).equals(want), `${path}: the same bytes`)
          assert.strictEqual(NFS.statSync(path).mode & 0o777, i % 2 === 0 ? 0o640 : 0o600, `${path}: its mode`)
        }
      }
      assert.deepStrictEqual(yield* leftovers(fs.path(dir)), [])
      assert.deepStrictEqual(yield* leftovers(local.path(down)), [])
    }), 120_000)
})
