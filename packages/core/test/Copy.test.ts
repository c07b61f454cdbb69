import { copy, copyAll, CopyProgress } from "@cerulean/core"
import * as FileSystem from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import { LocalFileSystem } from "@cerulean/core/LocalFileSystem"
import * as CopyContract from "@cerulean/testing/CopyContract"
import {
  bigFile,
  defaultMode,
  type Env,
  exists,
  failure,
  hello,
  mode,
  names,
  sameBytes,
  type Side,
  text,
  wrap
} from "@cerulean/testing/CopyContract"
import { MemoryFileSystem } from "@cerulean/testing/MemoryFileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Logger, Option, References, Scope, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import * as NFS from "node:fs"
import * as OS from "node:os"
import * as NodePath from "node:path"

// ---------------------------------------------------------------- environments

type Kind = "memory" | "local"

const memorySide = (fs: FileSystem.FileSystem, name: string): Effect.Effect<Side> =>
  Effect.gen(function*() {
    const scratch = fs.path(name)
    yield* Effect.orDie(scratch.mkdir())
    return {
      fs,
      scratch,
      specials: (dir) =>
        Effect.orDie(
          Effect.as(
            Effect.andThen(
              MemoryFileSystem.mkfifo(dir.join("fifo")),
              MemoryFileSystem.mknod(dir.join("blockdev"), "BlockDevice")
            ),
            ["fifo", "blockdev"]
          )
        )
    }
  })

const localFs = LocalFileSystem.make.pipe(Effect.provide(NodeFileSystem.layer))

/** LocalFileSystem without its `copyFile` fast path, so that local-to-local copies take the stream pipe. */
const localFsWithoutCopyFile = Effect.map(localFs, (fs) => wrap(fs, { copyFile: undefined }))

const localSide = (name: string, withCopyFile = true): Effect.Effect<Side, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const fs = yield* (withCopyFile ? localFs : localFsWithoutCopyFile)
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => NFS.mkdtempSync(NodePath.join(OS.tmpdir(), `cerulean-copy-${name}-`))),
      (d) => Effect.sync(() => NFS.rmSync(d, { recursive: true, force: true }))
    )
    return {
      fs,
      scratch: fs.path(dir),
      specials: (d) =>
        Effect.gen(function*() {
          yield* Effect.sync(() => ChildProcess.execFileSync("mkfifo", [d.join("fifo").path]))
          // A listening Unix socket leaves a socket entry behind; the server closes with the test's scope.
          yield* Effect.acquireRelease(
            Effect.callback<Net.Server>((resume) => {
              const server = Net.createServer()
              server.listen(d.join("socket").path, () => resume(Effect.succeed(server)))
            }),
            (server) =>
              Effect.callback<void>((resume) => {
                server.close(() => resume(Effect.void))
              })
          )
          return ["fifo", "socket"]
        }).pipe(Scope.provide(scope))
    }
  })

type Pairing = readonly [name: string, make: Effect.Effect<Env, never, Scope.Scope>]

const side = (kind: Kind, name: string): Effect.Effect<Side, never, Scope.Scope> =>
  kind === "memory" ? Effect.flatMap(MemoryFileSystem.make(), (fs) => memorySide(fs, name)) : localSide(name)

const pairing = (from: Kind, to: Kind): Pairing => [
  `${from} -> ${to}`,
  Effect.gen(function*() {
    const src = yield* side(from, "src")
    const dst = yield* side(to, "dst")
    return { src, dst, sameFs: src.fs.equals(dst.fs) }
  })
]

const pairings: ReadonlyArray<Pairing> = [
  pairing("memory", "memory"),
  pairing("memory", "local"),
  pairing("local", "memory"),
  pairing("local", "local"),
  [
    "local -> local, without the local copyFile fast path (the stream pipe)",
    Effect.gen(function*() {
      const src = yield* localSide("src", false)
      const dst = yield* localSide("dst", false)
      return { src, dst, sameFs: true }
    })
  ],
  [
    "memory -> the same memory file system",
    Effect.gen(function*() {
      const fs = yield* MemoryFileSystem.make()
      const src = yield* memorySide(fs, "src")
      const dst = yield* memorySide(fs, "dst")
      return { src, dst, sameFs: true }
    })
  ]
]

for (const [name, make] of pairings) CopyContract.run(name, make)

// ---------------------------------------------------------------- batch fast paths

interface BatchHookOptions {
  /** Rename each file to its `renameTo` (else copy does it). */
  readonly rename: boolean
  /** Leave files larger than this to copy. */
  readonly declineAbove?: number
  /** Fail after writing the file read from this path (its temporary file stays for copy to remove). */
  readonly failOn?: string
  /** Never end the file read from this path, once written. */
  readonly stallOn?: string
  /** Called with each batch offered. */
  readonly offered?: (files: ReadonlyArray<FileSystem.BatchFile>) => void
}

/**
 * A batch hook writing into `into` with its primitives, one effect per file: what a backend's own engine
 * does, for testing what `copy` does around it.
 */
const batchInto = (into: FileSystem.Backend, hook: BatchHookOptions) =>
(
  source: FileSystem.Backend,
  files: ReadonlyArray<FileSystem.BatchFile>,
  batch: FileSystem.BatchOptions
): Effect.Effect<void, FileSystemError.FileSystemError> => {
  hook.offered?.(files)
  return Effect.forEach(files.map((f, i) => [f, i] as const), ([f, i]) =>
    Effect.gen(function*() {
      if (hook.declineAbove !== undefined && f.size > hook.declineAbove) {
        return batch.onEnd(i, { transferred: false, bytes: 0, createdWithMode: false, renamed: false })
      }
      batch.onStart(i)
      let bytes = 0
      const data = source.readStream(f.from).pipe(Stream.tap((c) =>
        Effect.sync(() => {
          bytes += c.length
          batch.onProgress(i, c.length)
        })
      ))
      yield* into.writeStream(f.to, data, { mode: f.mode })
      if (f.from === hook.failOn) {
        return yield* Effect.fail(FileSystemError.make("Io", { path: f.to, operation: "writeStream", description: "injected" }))
      }
      if (f.from === hook.stallOn) return yield* Effect.never
      const renamed = hook.rename && f.renameTo !== undefined
      if (renamed) yield* into.rename(f.to, f.renameTo!)
      batch.onEnd(i, { transferred: true, bytes, createdWithMode: f.mode !== undefined, renamed })
    }), { concurrency: batch.concurrency, discard: true })
}

const batchPairings: ReadonlyArray<Pairing> = [
  [
    "memory -> memory, through the target's batch hook (receiveManyFrom), which renames",
    Effect.gen(function*() {
      const a = yield* MemoryFileSystem.make()
      const b = yield* MemoryFileSystem.make()
      const dst = wrap(b, { receiveManyFrom: batchInto(b, { rename: true }) })
      return { src: yield* memorySide(a, "src"), dst: yield* memorySide(dst, "dst"), sameFs: false }
    })
  ],
  [
    "memory -> memory, through the source's batch hook (sendManyTo), which leaves files over 100 bytes and the renames to copy",
    Effect.gen(function*() {
      const a = yield* MemoryFileSystem.make()
      const b = yield* MemoryFileSystem.make()
      const src = wrap(a, {
        sendManyTo: (files, target, batch) => batchInto(target, { rename: false, declineAbove: 100 })(a, files, batch)
      })
      return { src: yield* memorySide(src, "src"), dst: yield* memorySide(b, "dst"), sameFs: false }
    })
  ]
]

for (const [name, make] of batchPairings) {
  // a source wrapped to inject slowness or failure reads through its own readStream: without the batch hook
  CopyContract.run(name, make, { wrap: (fs, overrides) => wrap(fs, { ...overrides, sendManyTo: undefined }) })
}

describe("copy, batch fast paths", () => {
  /** A tree of `n` files in two directories, file i of i * 10 bytes, and a memory target. */
  const setup = (n: number) =>
    Effect.gen(function*() {
      const a = yield* MemoryFileSystem.make()
      const b = yield* MemoryFileSystem.make({ umask: 0o027 })
      for (const d of ["d1", "d2"]) yield* Effect.orDie(a.path("t", d).mkdir({ parents: true }))
      const files: Array<string> = []
      for (let i = 0; i < n; i++) {
        const path = `/t/d${1 + (i % 2)}/f${i}`
        yield* Effect.orDie(a.path(path).writeText("x".repeat(i * 10)))
        files.push(path)
      }
      return { a, b, files }
    })

  it.effect("offers every file once; declined ones are copied one by one, the others put in place with their modes", () =>
    Effect.gen(function*() {
      const { a, b, files } = yield* setup(20)
      yield* Effect.orDie(a.path("/t/d1/f4").chmod(0o600))
      yield* Effect.orDie(a.path("/t/d2/f5").chmod(0o444))
      const offered: Array<FileSystem.BatchFile> = []
      const renames: Array<string> = []
      const dst = wrap(b, {
        receiveManyFrom: batchInto(b, { rename: false, declineAbove: 100, offered: (f) => offered.push(...f) }),
        rename: (from, to) => Effect.andThen(Effect.sync(() => renames.push(to)), b.rename(from, to))
      })
      const last = yield* copyAll(a.path("t"), dst.path("u"))
      assert.deepStrictEqual(offered.map((f) => f.from).sort(), [...files].sort())
      for (const f of offered) {
        assert.match(f.to, /\/\.f\d+\.cerulean-[0-9a-z]+\.tmp$/)
        assert.strictEqual(f.size, Number(f.from.slice(f.from.lastIndexOf("f") + 1)) * 10)
      }
      // every file got its rename from copy (the hook renamed none), the declined ones included
      assert.strictEqual(renames.length, files.length)
      for (const [i, path] of files.entries()) {
        const target = dst.path(path.replace("/t/", "/u/"))
        assert.strictEqual(yield* text(target), "x".repeat(i * 10), path)
      }
      // modes: the source's less the target's umask (0o027); a read-only file stays read-only
      assert.strictEqual(yield* mode(dst.path("/u/d1/f0")), 0o640)
      assert.strictEqual(yield* mode(dst.path("/u/d1/f4")), 0o600)
      assert.strictEqual(yield* mode(dst.path("/u/d2/f5")), 0o440)
      assert.strictEqual(last.filesDone, files.length)
      assert.strictEqual(last.bytesDone, last.bytesTotal)
      assert.strictEqual(last.bytesTotal, files.reduce((n, _, i) => n + i * 10, 0))
      assert.deepStrictEqual(yield* CopyContract.leftovers(dst.path("u")), [])
    }))

  it.effect("a file that fails fails the copy under its target's name; nothing half-done is left", () =>
    Effect.gen(function*() {
      const { a, b, files } = yield* setup(40)
      const dst = wrap(b, { receiveManyFrom: batchInto(b, { rename: true, failOn: files[17]! }) })
      const error = yield* failure(copyAll(a.path("t"), dst.path("u"), { concurrency: 4 }))
      assert.strictEqual(error.reason._tag, "Io")
      assert.strictEqual(error.reason.path, files[17]!.replace("/t/", "/u/"))
      for (const [i, path] of files.entries()) {
        const target = dst.path(path.replace("/t/", "/u/"))
        if (yield* exists(target)) assert.strictEqual(yield* text(target), "x".repeat(i * 10), path)
      }
      assert.isFalse(yield* exists(dst.path(files[17]!.replace("/t/", "/u/"))))
      assert.deepStrictEqual(yield* CopyContract.leftovers(dst.path("u")), [])
    }))

  it.effect("interrupting a batch removes the temporary files of the files in flight", () =>
    Effect.gen(function*() {
      const { a, b, files } = yield* setup(40)
      const dst = wrap(b, { receiveManyFrom: batchInto(b, { rename: true, stallOn: files[9]! }) })
      const fiber = yield* Effect.forkChild(copyAll(a.path("t"), dst.path("u"), { concurrency: 4 }))
      const temporaries = Effect.flatMap(
        exists(dst.path("u")),
        (there) => (there ? CopyContract.leftovers(dst.path("u")) : Effect.succeed([]))
      )
      // the stalled file's temporary name exists, complete, while its batch waits
      for (let i = 0; i < 1000 && (yield* temporaries).length === 0; i++) yield* Effect.yieldNow
      assert.strictEqual((yield* temporaries).length, 1)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(yield* CopyContract.leftovers(dst.path("u")), [])
      assert.isFalse(yield* exists(dst.path(files[9]!.replace("/t/", "/u/"))))
    }))

  it.effect("fastPaths: false offers no batch", () =>
    Effect.gen(function*() {
      const { a, b, files } = yield* setup(6)
      let offered = 0
      const dst = wrap(b, { receiveManyFrom: batchInto(b, { rename: true, offered: () => offered++ }) })
      const last = yield* copyAll(a.path("t"), dst.path("u"), { fastPaths: false })
      assert.strictEqual(offered, 0)
      assert.strictEqual(last.filesDone, files.length)
    }))
})

// ---------------------------------------------------------------- fast paths and features

describe("copy, fast paths", () => {
  it.effect("uses copyFile within one file system and reports its bytes", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem.make()
      const calls: Array<string> = []
      const fs = wrap(mem, {
        copyFile: (from, to, options) =>
          Effect.gen(function*() {
            calls.push(`${from} -> ${to}`)
            const data = yield* mem.readStream(from).pipe(Stream.runCollect)
            yield* mem.writeStream(to, Stream.fromIterable(data), { mode: options?.mode })
          })
      })
      yield* Effect.orDie(fs.path("a").writeText(hello))
      const last = yield* copyAll(fs.path("a"), fs.path("b"))
      assert.strictEqual(calls.length, 1)
      assert.match(calls[0]!, /^\/a -> \/\.b\.cerulean-[0-9a-z]+\.tmp$/)
      assert.strictEqual(yield* text(fs.path("b")), hello)
      assert.strictEqual(last.bytesDone, 12)
      // Turned off, or across file systems, it is not used.
      yield* copyAll(fs.path("a"), fs.path("c"), { fastPaths: false })
      const other = yield* MemoryFileSystem.make()
      yield* copyAll(fs.path("a"), other.path("d"))
      assert.strictEqual(calls.length, 1)
      assert.strictEqual(yield* text(other.path("d")), hello)
    }))

  it.effect("uses sendTo when the source offers it for the target, else receiveFrom, else the stream", () =>
    Effect.gen(function*() {
      const a = yield* MemoryFileSystem.make()
      const b = yield* MemoryFileSystem.make()
      const used: Array<string> = []
      const pipe = (
        label: string,
        from: FileSystem.Backend,
        path: string,
        to: FileSystem.Backend,
        dest: string,
        options?: FileSystem.TransferOptions
      ) =>
        Effect.gen(function*() {
          used.push(label)
          let n = 0
          yield* to.writeStream(
            dest,
            from.readStream(path).pipe(Stream.tap((c) => Effect.sync(() => {
              n += c.length
              options?.onProgress?.(c.length)
            }))),
            { mode: options?.mode }
          )
          return n
        }).pipe(Effect.asVoid)
      const src = wrap(a, {
        sendTo: (from, target, to, options) =>
          target.location === b.location ? pipe("sendTo", a, from, target, to, options) : undefined
      })
      const dst = wrap(b, {
        receiveFrom: (source, from, to, options) => pipe("receiveFrom", source, from, b, to, options)
      })
      yield* Effect.orDie(src.path("f").writeText(hello))
      const last = yield* copyAll(src.path("f"), dst.path("f"))
      assert.deepStrictEqual(used, ["sendTo"])
      assert.strictEqual(last.bytesDone, 12)
      const c = yield* MemoryFileSystem.make()
      const toC = wrap(c, {
        receiveFrom: (source, from, to, options) => pipe("receiveFrom", source, from, c, to, options)
      })
      yield* copyAll(src.path("f"), toC.path("f"))
      assert.deepStrictEqual(used, ["sendTo", "receiveFrom"])
      yield* copyAll(src.path("f"), c.path("g"))
      assert.deepStrictEqual(used, ["sendTo", "receiveFrom"])
      assert.strictEqual(yield* text(c.path("g")), hello)
    }))

  it.effect("fast paths: created with the mode asked for spares the chmod, renamed into place spares the rename", () =>
    Effect.gen(function*() {
      const a = yield* MemoryFileSystem.make()
      const b = yield* MemoryFileSystem.make({ umask: 0o027 })
      const chmods: Array<string> = []
      const renames: Array<string> = []
      const asked: Array<{ from: string; renameTo: string | undefined; mode: number | undefined }> = []
      let probeFails = false
      type Hook = FileSystem.Backend["receiveFrom"]
      const hook = (report: boolean, rename: boolean): Hook => (source, from, to, options) =>
        Effect.gen(function*() {
          asked.push({ from, renameTo: options?.renameTo, mode: options?.mode })
          yield* b.writeStream(to, source.readStream(from), { mode: options?.mode })
          if (report) options?.onCreatedWithMode?.()
          if (rename && options?.renameTo !== undefined) {
            yield* b.rename(to, options.renameTo)
            options.onRenamed?.()
          }
        })
      const target = (report: boolean, rename: boolean) =>
        wrap(b, {
          receiveFrom: hook(report, rename),
          makeDirectory: (path, mode) =>
            probeFails && path.includes(".umask.cerulean-")
              ? Effect.fail(FileSystemError.make("PermissionDenied", { path, operation: "makeDirectory" }))
              : b.makeDirectory(path, mode),
          chmod: (path, mode) => Effect.andThen(Effect.sync(() => chmods.push(path)), b.chmod(path, mode)),
          rename: (from, to) => Effect.andThen(Effect.sync(() => renames.push(to)), b.rename(from, to))
        })
      for (const d of ["d1", "d2"]) {
        yield* Effect.orDie(a.path("t", d).mkdir({ parents: true }))
        for (const f of ["f1", "f2", "f3"]) yield* Effect.orDie(a.path("t", d, f).writeText(hello))
      }
      yield* Effect.orDie(a.path("t", "d1", "f1").chmod(0o640))
      const files = ["/u/d1/f1", "/u/d1/f2", "/u/d1/f3", "/u/d2/f1", "/u/d2/f2", "/u/d2/f3"]
      const fileBits = (dir: string) =>
        Effect.forEach(files, (f) => mode(b.path(dir, ...f.split("/").slice(2))))
      const isFile = (path: string) => files.some((f) => path === f || path.endsWith(`/${f.split("/").pop()}`))

      // Reported and renamed: no chmod and no rename by copy for the files, the final bits all the same.
      yield* copyAll(a.path("t"), target(true, true).path("u"))
      assert.deepStrictEqual(asked.map((x) => x.renameTo).sort(), files)
      assert.deepStrictEqual(chmods.filter(isFile), [])
      assert.deepStrictEqual(renames, [])
      assert.deepStrictEqual(yield* fileBits("u"), [0o640, 0o640, 0o640, 0o640, 0o640, 0o640])
      assert.deepStrictEqual(yield* names(b.path("u", "d1")), ["f1", "f2", "f3"])
      // The files in flight alternate between the directories.
      assert.deepStrictEqual(asked.map((x) => x.from.split("/")[2]), ["d1", "d2", "d1", "d2", "d1", "d2"])

      // Reported, not renamed: copy renames; not reported: copy also sets the bits.
      asked.length = 0
      yield* copyAll(a.path("t"), target(true, false).path("v"))
      assert.deepStrictEqual(chmods.filter(isFile), [])
      assert.strictEqual(renames.length, 6)
      yield* copyAll(a.path("t"), target(false, false).path("w"))
      const fileChmods = chmods.filter((p) => p.startsWith("/w/") && !p.endsWith("/d1") && !p.endsWith("/d2"))
      assert.strictEqual(fileChmods.length, 6)
      assert.deepStrictEqual(yield* fileBits("w"), [0o640, 0o640, 0o640, 0o640, 0o640, 0o640])

      // copyPermissions: the file is created owner-only, so the chmod stays and no rename is offered.
      asked.length = 0
      chmods.length = 0
      yield* copyAll(a.path("t"), target(true, true).path("x"), { copyPermissions: true })
      assert.isTrue(asked.length === 6 && asked.every((x) => x.renameTo === undefined))
      assert.deepStrictEqual(yield* fileBits("x"), [0o640, 0o644, 0o644, 0o644, 0o644, 0o644])

      // An unknown umask (022 assumed): no report is trusted, every file gets copy's bits by a chmod, and its rename.
      probeFails = true
      asked.length = 0
      chmods.length = 0
      yield* copyAll(a.path("t"), target(true, true).path("y"))
      assert.isTrue(asked.length === 6 && asked.every((x) => x.renameTo === undefined))
      assert.strictEqual(chmods.filter((p) => p.includes(".cerulean-")).length, 6)
      assert.deepStrictEqual(yield* fileBits("y"), [0o640, 0o644, 0o644, 0o644, 0o644, 0o644])
      const left = yield* Effect.orDie(b.path("y", "d1").iterdir().pipe(Stream.runCollect))
      assert.strictEqual(left.length, 3)
    }))

  it.effect("an interrupted fast path leaves no temporary file", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem.make()
      const fs = wrap(mem, {
        copyFile: (_from, to) => Effect.andThen(mem.writeStream(to, Stream.succeed(new Uint8Array(10))), Effect.never)
      })
      yield* Effect.orDie(fs.path("a").writeText(hello))
      const fiber = yield* Effect.forkChild(copyAll(fs.path("a"), fs.path("b")))
      yield* Effect.yieldNow
      yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(yield* names(fs.root), ["a"])
    }))

  it.live("the local copyFile fast path, interrupted at any moment, leaves no file behind", () =>
    Effect.gen(function*() {
      const side = yield* localSide("fast", true)
      assert.isDefined(side.fs.copyFile, "LocalFileSystem offers the copyFile fast path")
      const file = side.scratch.join("src")
      yield* bigFile(file, 16 * 1024 * 1024)
      const big = side.scratch.join("big")
      yield* bigFile(big, 80 * 1024 * 1024)
      const out = side.scratch.join("out")
      yield* Effect.orDie(out.mkdir())
      for (let i = 0; i < 12; i++) {
        // Kernel copies (uninterruptible, waited for) and chunked ones (stopped between chunks).
        const fiber = yield* Effect.forkChild(copyAll(i % 3 === 2 ? big : file, out.join(`copy${i}`)))
        yield* Effect.sleep(`${i % 4} millis`)
        yield* Fiber.interrupt(fiber)
        const left = (yield* names(out)).filter((n) => n !== `copy${i}`)
        assert.deepStrictEqual(left.filter((n) => !n.startsWith("copy")), [], `round ${i}`)
        const done = yield* exists(out.join(`copy${i}`))
        const whole = i % 3 === 2 ? 80 * 1024 * 1024 : 16 * 1024 * 1024
        if (done) assert.strictEqual(yield* Effect.orDie(out.join(`copy${i}`).size()), whole, "complete if there")
      }
      // And it copies, with the right bits.
      const last = yield* copyAll(file, out.join("whole"))
      assert.strictEqual(last.bytesDone, 16 * 1024 * 1024)
      assert.isTrue(yield* sameBytes(file, out.join("whole")))
      assert.strictEqual(yield* mode(out.join("whole")), (yield* defaultMode(out, "file")) & (yield* mode(file)))
      yield* copyAll(big, out.join("whole-big"))
      assert.isTrue(yield* sameBytes(big, out.join("whole-big")))
    }))

  it.effect("dereferences links into the tree on a target without links, and skips a link to an ancestor", () =>
    Effect.gen(function*() {
      const a = yield* MemoryFileSystem.make()
      const mem = yield* MemoryFileSystem.make()
      const noLinks = wrap(mem, { features: { ...mem.features, symlinks: false } })
      yield* Effect.orDie(a.path("t", "d").mkdir({ parents: true }))
      yield* Effect.orDie(a.path("t", "f").writeText(hello))
      yield* Effect.orDie(a.path("t", "l").symlinkTo("f"))
      yield* Effect.orDie(a.path("t", "d", "up").symlinkTo(".."))
      const last = yield* copyAll(a.path("t"), noLinks.path("t"))
      assert.strictEqual(yield* text(mem.path("t", "l")), hello)
      assert.isFalse(yield* Effect.orDie(mem.path("t", "l").isSymlink()))
      assert.deepStrictEqual(yield* names(mem.path("t", "d")), [])
      assert.strictEqual(last.skipped, 1)
    }))

  it.effect("copies a top-level link to a directory as the directory", () =>
    Effect.gen(function*() {
      const a = yield* MemoryFileSystem.make()
      yield* Effect.orDie(a.path("real", "x").mkdir({ parents: true }))
      yield* Effect.orDie(a.path("real", "x", "f").writeText(hello))
      yield* Effect.orDie(a.path("real", "abs").symlinkTo(a.path("real", "x", "f")))
      yield* Effect.orDie(a.path("alias").symlinkTo("real"))
      const b = yield* MemoryFileSystem.make()
      yield* copyAll(a.path("alias"), b.path("copy"))
      assert.isFalse(yield* Effect.orDie(b.path("copy").isSymlink()))
      assert.strictEqual(yield* text(b.path("copy", "x", "f")), hello)
      // A link into the real tree is inside the copy too.
      assert.strictEqual(yield* Effect.orDie(b.path("copy", "abs").readlinkText()), "/copy/x/f")
    }))

  it.effect("CopyProgress.fraction and done", () =>
    Effect.sync(() => {
      const p = new CopyProgress({
        phase: "Copying",
        bytesDone: 5,
        bytesTotal: 10,
        filesDone: 0,
        filesTotal: 1,
        skipped: 0,
        currentPath: "/x"
      })
      assert.strictEqual(p.fraction, 0.5)
      assert.isFalse(p.done)
      assert.strictEqual(new CopyProgress({ ...p, phase: "Done", bytesDone: 0, bytesTotal: 0 }).fraction, 1)
    }))

  it.effect("logs the plan, the fast path, skipped entries and removed temporary files at Debug", () =>
    Effect.gen(function*() {
      const lines: Array<{ readonly message: unknown; readonly annotations: Record<string, unknown> }> = []
      const capture = Logger.layer([Logger.map(Logger.formatStructured, (entry) => {
        lines.push(entry)
      })])
      const mem = yield* MemoryFileSystem.make()
      const fs = wrap(mem, {
        copyFile: (from, to, options) => mem.writeStream(to, mem.readStream(from), { mode: options?.mode })
      })
      yield* Effect.orDie(fs.path("t").mkdir())
      yield* Effect.orDie(fs.path("t", "f").writeText(hello))
      yield* Effect.orDie(fs.path("t", "broken").symlinkTo("/nowhere"))
      const failing = wrap(mem, {
        copyFile: undefined,
        readStream: (path) =>
          Stream.concat(
            mem.readStream(path),
            Stream.fail(FileSystemError.make("Io", { path, operation: "readStream" }))
          )
      })
      const run = Effect.gen(function*() {
        yield* copyAll(fs.path("t"), fs.path("u"))
        yield* Effect.flip(copyAll(failing.path("t", "f"), fs.path("v")))
      }).pipe(Effect.provide(capture), Effect.provideService(References.MinimumLogLevel, "Debug"))
      yield* run
      const messages = lines.map((l) => String(l.message))
      const find = (re: RegExp) => lines.find((l) => re.test(String(l.message)))
      assert.isDefined(find(/^copy: 1 files \(12 bytes\), 1 directories, 0 links, 1 skipped$/), messages.join("\n"))
      assert.isDefined(find(/^copy: used copyFile \(1 files\)$/))
      assert.strictEqual(find(/^copy: skipping broken link$/)?.annotations.path, "/t/broken")
      assert.strictEqual(find(/^copy: skipping broken link$/)?.annotations.source, "memory:/t")
      const removed = find(/^copy: removed the temporary file of an unfinished transfer$/)
      assert.match(String(removed?.annotations.path), /^\/\.v\.cerulean-[0-9a-z]+\.tmp$/)
    }))

  it.effect("copies an empty directory, ending with a Done element", () =>
    Effect.gen(function*() {
      const a = yield* MemoryFileSystem.make()
      yield* Effect.orDie(a.path("empty").mkdir())
      const b = yield* MemoryFileSystem.make()
      const last = yield* Stream.runLast(copy(a.path("empty"), b.path("empty")))
      assert.isTrue(Option.isSome(last))
      assert.isTrue(yield* Effect.orDie(b.path("empty").isDir()))
    }))
})
