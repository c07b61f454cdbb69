import { FileSystem, LocalFileSystem } from "@cerulean/core"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import { FileSystemContract } from "@cerulean/testing"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as NFS from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as NodePath from "node:path"

const isRoot = process.getuid?.() === 0

// mknod needs CAP_MKNOD: find out whether this machine grants it rather than assume.
const canMakeDevices = (() => {
  const probe = NodePath.join(os.tmpdir(), `cerulean-mknod-probe-${process.pid}`)
  const ok = spawnSync("mknod", [probe, "b", "0", "0"]).status === 0
  NFS.rmSync(probe, { force: true })
  return ok
})()

const scratch = FileSystemContract.scratchIn((fs) => fs.path(os.tmpdir()))

FileSystemContract.run("LocalFileSystem", {
  layer: LocalFileSystem.layer,
  scratch,
  makeFifo: (path) => Effect.try(() => execFileSync("mkfifo", ["-m", "644", path.path])),
  makeDevice: canMakeDevices
    ? (path, type) =>
      Effect.try(() => execFileSync("mknod", ["-m", "644", path.path, type === "BlockDevice" ? "b" : "c", "0", "0"]))
    : undefined,
  owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
  features: {
    umask: process.umask(),
    // Root reads and lists whatever the permission bits say; the contract then checks exactly that.
    deniesAccess: !isRoot,
    mtimeResolution: 50
  }
})

const tmp = (name: string) => NodePath.join(os.tmpdir(), `cerulean-local-${name}-${process.pid}-${Date.now()}`)

layer(Layer.merge(LocalFileSystem.layer, NodeFileSystem.layer), { excludeTestServices: true })(
  "LocalFileSystem specifics",
  (it) => {
    it.effect("the layer provides LocalFileSystem and FileSystem as one instance", () =>
      Effect.gen(function*() {
        const local = yield* LocalFileSystem
        const generic = yield* FileSystem
        assert.strictEqual(local, generic)
        assert.strictEqual(local.protocol, "local")
      }))

    it.effect("every LocalFileSystem equals every other (Cerulean's rule)", () =>
      Effect.gen(function*() {
        const a = yield* LocalFileSystem
        const b = yield* LocalFileSystem.make
        assert.notStrictEqual(a, b)
        assert.isTrue(a.equals(b))
        assert.isTrue(a.path("tmp").equals(b.path("tmp")))
      }))

    it.effect("readStream reads 256 KiB chunks by default and honours chunkSize", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem
        const file = fs.path(tmp("chunks"))
        yield* Effect.addFinalizer(() => Effect.ignore(file.remove()))
        yield* file.writeBytes(new Uint8Array(1024 * 1024 + 5))
        const sizes = (yield* Stream.runCollect(file.readStream())).map((c) => c.length)
        assert.deepStrictEqual(sizes, [262144, 262144, 262144, 262144, 5])
        const small = (yield* Stream.runCollect(file.readStream({ chunkSize: 1000 * 1000 }))).map((c) => c.length)
        assert.deepStrictEqual(small, [1000000, 48581])
      }))

    it.effect("writeStream pulls the next chunk only after the previous one is on disk (constant memory)", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem
        const path = tmp("backpressure")
        yield* Effect.addFinalizer(() => Effect.ignore(fs.path(path).remove()))
        const chunk = 64 * 1024
        const chunks = 200
        let maxAhead = 0
        const source = Stream.unfold(0, (i) =>
          Effect.sync(() => {
            if (i >= chunks) return undefined
            // Bytes handed out so far minus bytes already in the file: what the writer holds in memory.
            const onDisk = i === 0 ? 0 : NFS.statSync(path).size
            maxAhead = Math.max(maxAhead, i * chunk - onDisk)
            return [new Uint8Array(chunk).fill(i & 0xff), i + 1] as const
          }))
        yield* fs.path(path).writeStream(source)
        assert.strictEqual(NFS.statSync(path).size, chunk * chunks)
        assert.strictEqual(maxAhead, 0)
      }))

    it.effect("touch of an existing FIFO updates its time without opening it (which would block)", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem
        const path = tmp("fifo")
        execFileSync("mkfifo", [path])
        yield* Effect.addFinalizer(() => Effect.sync(() => NFS.rmSync(path, { force: true })))
        NFS.utimesSync(path, new Date(1_000_000_000_000), new Date(1_000_000_000_000))
        yield* fs.path(path).touch().pipe(Effect.timeout("5 seconds"))
        const info = yield* fs.path(path).stat()
        assert.strictEqual(info.type, "Fifo")
        assert.isAbove(info.mtime!.getTime(), 1_000_000_000_000)
      }))

    it.effect("copyFile (copy's fast path) copies small files in one kernel call and large ones with cp", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem
        assert.isDefined(fs.copyFile)
        const dir = fs.path(tmp("copyfile"))
        yield* dir.mkdir()
        yield* Effect.addFinalizer(() => Effect.ignore(dir.rmdir({ recursive: true })))
        yield* dir.join("small").writeText("Hello World\n")
        const reported: Array<number> = []
        yield* fs.copyFile!(dir.join("small").path, dir.join("small-copy").path, {
          onProgress: (n) => reported.push(n)
        })
        assert.strictEqual(yield* dir.join("small-copy").readText(), "Hello World\n")
        assert.deepStrictEqual(reported, [12])

        const size = 65 * 1024 * 1024 + 3
        const big = new Uint8Array(size)
        for (let i = 0; i < size; i += 4096) big[i] = (i / 4096) & 0xff
        yield* dir.join("big").writeBytes(big)
        reported.length = 0
        yield* fs.copyFile!(dir.join("big").path, dir.join("big-copy").path, {
          onProgress: (n) => reported.push(n)
        })
        assert.isTrue(Buffer.from(yield* dir.join("big-copy").readBytes()).equals(Buffer.from(big)))
        // Progress while cp runs (polled) and the chunked fallback: test/localCopyFile.test.ts.
        assert.strictEqual(reported.reduce((a, b) => a + b, 0), size)
        yield* Effect.flip(fs.copyFile!(dir.join("missing").path, dir.join("x").path)).pipe(
          Effect.map((error) => assert.isTrue(FileSystemError.hasReason(error, "NotFound")))
        )
      }))

    it.effect("errors carry the errno code, the operation and the path", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem
        const missing = tmp("missing")
        const error = yield* Effect.flip(fs.stat(missing))
        assert.isTrue(FileSystemError.hasReason(error, "NotFound"))
        assert.strictEqual(error.reason.path, missing)
        assert.strictEqual(error.reason.operation, "stat")
        assert.strictEqual(error.reason.description, "ENOENT")
        assert.include(error.message, missing)
      }))

    it.effect("lstat reports a UNIX socket as Socket", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem
        const path = tmp("sock")
        const server = net.createServer()
        yield* Effect.callback<void>((resume) => {
          server.listen(path, () => resume(Effect.void))
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => server.close()))
        assert.strictEqual(yield* fs.path(path).entryType(), "Socket")
        assert.isFalse(yield* fs.path(path).isFile())
      }))
  }
)

// /dev/shm is a tmpfs on most Linux machines: a rename from there to the temporary directory
// crosses devices. Registered only where the two really are different devices.
const crossDevice = NFS.existsSync("/dev/shm") && NFS.statSync("/dev/shm").dev !== NFS.statSync(os.tmpdir()).dev
if (crossDevice) {
  describe("LocalFileSystem across devices", () => {
    it.effect("rename across devices fails with Unsupported (EXDEV) and leaves the source", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem
        const from = fs.path(`/dev/shm/cerulean-xdev-${process.pid}`)
        const to = fs.path(tmp("xdev"))
        yield* from.writeText("x")
        yield* Effect.addFinalizer(() => Effect.ignore(from.remove()))
        const error = yield* Effect.flip(from.rename(to))
        assert.isTrue(FileSystemError.hasReason(error, "Unsupported"))
        assert.strictEqual(error.reason.description, "EXDEV")
        assert.strictEqual(yield* from.readText(), "x")
      }).pipe(Effect.provide(LocalFileSystem.layer)))
  })
}
