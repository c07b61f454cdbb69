import { FileSystem } from "@cerulean/core"
import * as FileSystemModule from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import { FileSystemContract, MemoryFileSystem } from "@cerulean/testing"
import * as MemoryFileSystemModule from "@cerulean/testing/MemoryFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"

// As root: permission bits never stop the user.
FileSystemContract.run("MemoryFileSystem (root-like)", {
  layer: MemoryFileSystem.layer,
  scratch: FileSystemContract.scratchIn((fs) => fs.root),
  makeFifo: MemoryFileSystem.mkfifo,
  makeDevice: MemoryFileSystem.mknod,
  owner: { uid: 1000, gid: 1000 },
  features: { deniesAccess: false, mtimeResolution: 5 }
})

// As an ordinary user whose permission bits are checked.
FileSystemContract.run("MemoryFileSystem (enforcePermissions)", {
  layer: MemoryFileSystem.layerWith({ enforcePermissions: true, uid: 1001, gid: 1002, umask: 0o027 }),
  scratch: FileSystemContract.scratchIn((fs) => fs.root),
  makeFifo: MemoryFileSystem.mkfifo,
  owner: { uid: 1001, gid: 1002 },
  features: { umask: 0o027, mtimeResolution: 5 }
})

// A backend without links and permission bits, as WebDAV is: the same memory primitives, except
// that symlink, readLink and chmod fail with Unsupported. This runs the contract's other branch.
const withoutLinksAndPermissions = Layer.effect(
  FileSystem,
  Effect.map(MemoryFileSystem.make(), (memory) => {
    const unsupported = (operation: string) => (path: string) =>
      Effect.fail(FileSystemError.make("Unsupported", { path, operation, description: "WebDAV-like" }))
    return FileSystemModule.make({
      protocol: "memory-webdav-like",
      location: memory.location,
      features: { symlinks: false, permissions: false, devices: false, atomicRename: true },
      stat: memory.stat,
      lstat: memory.lstat,
      readDirectory: memory.readDirectory,
      makeDirectory: memory.makeDirectory,
      removeDirectory: memory.removeDirectory,
      unlink: memory.unlink,
      touch: memory.touch,
      rename: memory.rename,
      symlink: unsupported("symlink"),
      readLink: unsupported("readLink"),
      chmod: unsupported("chmod"),
      readStream: memory.readStream,
      writeStream: memory.writeStream
    })
  })
)

FileSystemContract.run("without links and permissions (WebDAV-like)", {
  layer: withoutLinksAndPermissions,
  scratch: FileSystemContract.scratchIn((fs) => fs.root),
  features: { symlinks: false, permissions: false, mtimeResolution: 5 }
})

const provide = <A, E, R>(effect: Effect.Effect<A, E, R>, options?: MemoryFileSystemModule.Options) =>
  Effect.provide(effect, MemoryFileSystem.layerWith(options))

const failsWith = <A, E, R>(effect: Effect.Effect<A, E, R>, reason: FileSystemError.ReasonTag) =>
  Effect.map(Effect.flip(effect), (error) =>
    assert.isTrue(FileSystemError.hasReason(error, reason), `expected ${reason}, got ${String(error)}`))

describe("MemoryFileSystem specifics", () => {
  it.effect("each make is an independent file system with its own location", () =>
    Effect.gen(function*() {
      const a = yield* MemoryFileSystem.make()
      const b = yield* MemoryFileSystem.make()
      assert.notStrictEqual(a.location, b.location)
      assert.isFalse(a.equals(b))
      yield* a.path("only-in-a").writeText("a")
      assert.isTrue(yield* a.path("only-in-a").exists())
      assert.isFalse(yield* b.path("only-in-a").exists())
      assert.isTrue(MemoryFileSystemModule.isMemoryFileSystem(a))
    }))

  it.effect("the layer provides MemoryFileSystem and FileSystem as one instance", () =>
    provide(Effect.gen(function*() {
      const memory = yield* MemoryFileSystem
      const generic = yield* FileSystem
      assert.strictEqual(memory, generic)
      assert.strictEqual(generic.protocol, "memory")
    })))

  it.effect("modification times come from the Clock (TestClock here)", () =>
    provide(Effect.gen(function*() {
      const fs = yield* FileSystem
      const file = fs.path("f")
      yield* file.touch()
      assert.strictEqual((yield* file.stat()).mtime?.getTime(), 0)
      yield* TestClock.adjust("1 hour")
      yield* file.touch()
      assert.strictEqual((yield* file.stat()).mtime?.getTime(), 3_600_000)
      yield* TestClock.adjust("1 minute")
      yield* file.writeText("x")
      assert.strictEqual((yield* file.stat()).mtime?.getTime(), 3_660_000)
      // A new entry changes its directory's modification time.
      assert.strictEqual((yield* fs.root.stat()).mtime?.getTime(), 0)
      yield* fs.path("g").touch()
      assert.strictEqual((yield* fs.root.stat()).mtime?.getTime(), 3_660_000)
    })))

  it.effect("the umask applies to files, directories and FIFOs, not to links", () =>
    Effect.gen(function*() {
      const check = (umask: number | undefined, file: number, dir: number) =>
        provide(Effect.gen(function*() {
          const fs = yield* MemoryFileSystem
          yield* fs.path("f").touch()
          yield* fs.path("d").mkdir()
          yield* MemoryFileSystem.mkfifo(fs.path("p"))
          yield* fs.path("l").symlinkTo("f")
          assert.strictEqual((yield* fs.path("f").stat()).mode, file)
          assert.strictEqual((yield* fs.path("d").stat()).mode, dir)
          assert.strictEqual((yield* fs.path("p").stat()).mode, file)
          assert.strictEqual((yield* fs.path("l").lstat()).mode, 0o777)
          assert.strictEqual(fs.options.umask, umask ?? 0o022)
        }), umask === undefined ? {} : { umask })
      yield* check(undefined, 0o644, 0o755)
      yield* check(0o077, 0o600, 0o700)
      yield* check(0, 0o666, 0o777)
    }))

  it.effect("mknod makes FIFOs, devices and sockets; the helpers refuse paths of other file systems", () =>
    provide(Effect.gen(function*() {
      const fs = yield* FileSystem
      yield* MemoryFileSystem.mkfifo(fs.path("fifo"))
      yield* MemoryFileSystem.mknod(fs.path("blk"), "BlockDevice")
      yield* MemoryFileSystem.mknod(fs.path("chr"), "CharacterDevice")
      yield* MemoryFileSystem.mknod(fs.path("sock"), "Socket")
      assert.deepStrictEqual(
        yield* Effect.forEach(["fifo", "blk", "chr", "sock"], (n) => fs.path(n).entryType()),
        ["Fifo", "BlockDevice", "CharacterDevice", "Socket"]
      )
      yield* failsWith(MemoryFileSystem.mkfifo(fs.path("fifo")), "AlreadyExists")
      yield* failsWith(MemoryFileSystem.mkfifo(fs.path("missing", "fifo")), "NotFound")
      // The same primitives under another identity: not a memory file system.
      const local = FileSystemModule.make({
        protocol: "not-memory",
        location: "x",
        features: fs.features,
        chmod: fs.chmod,
        lstat: fs.lstat,
        makeDirectory: fs.makeDirectory,
        readDirectory: fs.readDirectory,
        readLink: fs.readLink,
        readStream: fs.readStream,
        removeDirectory: fs.removeDirectory,
        rename: fs.rename,
        stat: fs.stat,
        symlink: fs.symlink,
        touch: fs.touch,
        unlink: fs.unlink,
        writeStream: fs.writeStream
      })
      yield* failsWith(MemoryFileSystem.mkfifo(local.path("fifo")), "Unsupported")
      yield* failsWith(MemoryFileSystem.chown(local.path("f"), 1, 1), "Unsupported")
    })))

  it.effect("links in the middle of a path are followed, and .. after a link leads to the target's parent", () =>
    provide(Effect.gen(function*() {
      const fs = yield* FileSystem
      yield* fs.path("x", "y").mkdir({ parents: true })
      yield* fs.path("x", "z.txt").writeText("physical parent")
      yield* fs.path("a").mkdir()
      yield* fs.path("a", "link").symlinkTo("/x/y")
      yield* fs.path("a", "rel").symlinkTo("../x/y")
      assert.strictEqual(yield* fs.stat("/a/link/../z.txt").pipe(Effect.map((i) => i.size)), 15)
      assert.strictEqual(yield* fs.path("a", "rel").join("..", "z.txt").readText(), "physical parent")
      yield* fs.path("a", "rel").join("new.txt").writeText("through a link")
      assert.strictEqual(yield* fs.path("x", "y", "new.txt").readText(), "through a link")
      // A file in the middle of a path is NotADirectory; a missing one NotFound.
      yield* failsWith(fs.path("x", "z.txt", "w").stat(), "NotADirectory")
      yield* failsWith(fs.path("x", "nope", "w").stat(), "NotFound")
    })))

  it.effect("40 links in a chain resolve, the 41st is a LinkLoop (Linux's limit)", () =>
    provide(Effect.gen(function*() {
      const fs = yield* FileSystem
      yield* fs.path("l0").writeText("end")
      for (let i = 1; i <= 41; i++) yield* fs.path(`l${i}`).symlinkTo(`l${i - 1}`)
      assert.strictEqual(yield* fs.path("l40").readText(), "end")
      yield* failsWith(fs.path("l41").readText(), "LinkLoop")
      assert.isFalse(yield* fs.path("l41").exists())
      yield* failsWith(fs.path("l41").readlink({ recursive: true }), "LinkLoop")
    })))

  it.effect("enforcePermissions: search permission on directories passed through, ownership for chmod", () =>
    provide(Effect.gen(function*() {
      const fs = yield* FileSystem
      const dir = fs.path("d")
      yield* dir.mkdir()
      yield* dir.join("f").writeText("x")
      yield* dir.chmod(0o600)
      // Read without search: the names are not even listable, as they would need lstat.
      yield* failsWith(dir.join("f").stat(), "PermissionDenied")
      yield* failsWith(dir.join("f").readText(), "PermissionDenied")
      yield* failsWith(Stream.runCollect(dir.iterdir()), "PermissionDenied")
      yield* dir.chmod(0o700)
      yield* MemoryFileSystem.chown(dir.join("f"), 2000, 2000)
      yield* failsWith(dir.join("f").chmod(0o777), "PermissionDenied")
      // Others' bits apply to a file of another owner and group.
      yield* MemoryFileSystem.chown(dir.join("f"), 2000, 2000)
      assert.strictEqual((yield* dir.join("f").stat()).mode, 0o644)
      assert.strictEqual(yield* dir.join("f").readText(), "x")
      yield* failsWith(dir.join("f").writeText("y"), "PermissionDenied")
      // An empty directory with read but no search permission can still be listed.
      const empty = fs.path("empty")
      yield* empty.mkdir()
      yield* empty.chmod(0o400)
      assert.deepStrictEqual(yield* Stream.runCollect(empty.iterdir()), [])
    }), { enforcePermissions: true }))

  it.effect("enforcePermissions: the sticky bit keeps others' entries in a shared directory", () =>
    provide(Effect.gen(function*() {
      const fs = yield* FileSystem
      const shared = fs.path("shared")
      yield* shared.mkdir()
      yield* shared.chmod(0o1777)
      yield* shared.join("theirs").touch()
      yield* shared.join("mine").touch()
      yield* MemoryFileSystem.chown(shared.join("theirs"), 2000, 2000)
      yield* MemoryFileSystem.chown(shared, 0, 0)
      yield* failsWith(shared.join("theirs").unlink(), "PermissionDenied")
      yield* failsWith(shared.join("theirs").rename(shared.join("stolen")), "PermissionDenied")
      yield* shared.join("mine").unlink()
      assert.deepStrictEqual((yield* Stream.runCollect(shared.iterdir())).map((p) => p.name), ["theirs"])
    }), { enforcePermissions: true }))

  it.effect("a set-gid directory passes its group and the set-gid bit on", () =>
    provide(Effect.gen(function*() {
      const fs = yield* FileSystem
      const project = fs.path("project")
      yield* project.mkdir()
      yield* project.chmod(0o2775)
      yield* MemoryFileSystem.chown(project, 1000, 50)
      yield* project.join("file").touch()
      yield* project.join("sub").mkdir()
      assert.strictEqual(yield* project.join("file").gid(), 50)
      assert.strictEqual(yield* project.join("sub").gid(), 50)
      assert.strictEqual((yield* project.join("sub").stat()).mode, 0o2755)
      assert.strictEqual((yield* project.join("file").stat()).mode, 0o644)
    })))

  it.effect("uid 0 passes every check even with enforcePermissions", () =>
    provide(Effect.gen(function*() {
      const fs = yield* FileSystem
      yield* fs.path("f").writeText("x")
      yield* fs.path("f").chmod(0)
      assert.strictEqual(yield* fs.path("f").readText(), "x")
      assert.strictEqual(yield* fs.path("f").uid(), 0)
    }), { enforcePermissions: true, uid: 0, gid: 0 }))

  it.effect("the root cannot be removed or renamed; a directory cannot move below itself", () =>
    provide(Effect.gen(function*() {
      const fs = yield* FileSystem
      // rmdir("/") is EBUSY on Linux, empty or not.
      yield* failsWith(fs.root.rmdir(), "Io")
      yield* failsWith(fs.root.unlink(), "IsADirectory")
      yield* fs.path("a", "b").mkdir({ parents: true })
      yield* failsWith(fs.path("a").rename(fs.path("a", "b", "c")), "Io")
      yield* failsWith(fs.rename("/a", "/"), "Io")
      assert.isTrue(yield* fs.path("a", "b").isDir())
    })))

  it.effect("readStream honours chunkSize and reads 256 KiB chunks by default", () =>
    provide(Effect.gen(function*() {
      const fs = yield* FileSystem
      const file = fs.path("big")
      yield* file.writeBytes(new Uint8Array(1024 * 1024 + 1))
      assert.deepStrictEqual(
        (yield* Stream.runCollect(file.readStream())).map((c) => c.length),
        [262144, 262144, 262144, 262144, 1]
      )
      assert.deepStrictEqual(
        (yield* Stream.runCollect(file.readStream({ chunkSize: 600_000 }))).map((c) => c.length),
        [600_000, 448_577]
      )
    })))

  it.effect("a FIFO reads as empty and swallows writes (nothing blocks in memory)", () =>
    provide(Effect.gen(function*() {
      const fs = yield* FileSystem
      yield* MemoryFileSystem.mkfifo(fs.path("fifo"))
      yield* fs.path("fifo").writeText("into the pipe")
      assert.strictEqual(yield* fs.path("fifo").readText(), "")
      assert.strictEqual(yield* fs.path("fifo").entryType(), "Fifo")
    })))
})
