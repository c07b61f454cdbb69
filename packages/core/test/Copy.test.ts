import { copy, copyAll, CopyError, CopyProgress } from "@cerulean/core"
import * as FileSystem from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import { LocalFileSystem } from "@cerulean/core/LocalFileSystem"
import type { Path } from "@cerulean/core/Path"
import { MemoryFileSystem } from "@cerulean/testing/MemoryFileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Logger, Option, References, Scope, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import * as NFS from "node:fs"
import * as OS from "node:os"
import * as NodePath from "node:path"

// ---------------------------------------------------------------- environments

/** One side of a copy: a file system, a fresh scratch directory on it, and a way to make a special entry there. */
interface Side {
  readonly fs: FileSystem.FileSystem
  readonly scratch: Path
  /** Creates a FIFO (and, where possible, another special entry) in `dir`; returns the names made. */
  readonly specials: (dir: Path) => Effect.Effect<ReadonlyArray<string>>
}

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

interface Env {
  readonly src: Side
  readonly dst: Side
  /** Source and target are one file system. */
  readonly sameFs: boolean
}

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

// ---------------------------------------------------------------- helpers

const hello = "Hello World\n"

/** Cerulean's `test_files` fixture (tests/…/create-test-files.sh), plus the links the fixed bugs need. */
const fixture = (side: Side) =>
  Effect.gen(function*() {
    const root = side.scratch.join("test_files")
    const links = root.join("links")
    yield* links.mkdir({ parents: true })
    yield* links.join("file0").writeText(hello)
    yield* links.join("file1").writeText("")
    yield* links.join("executable").writeText("#!/bin/sh\necho hi\n")
    yield* links.join("executable").chmod(0o744)
    yield* links.join("private").writeText("secret\n")
    yield* links.join("private").chmod(0o600)
    yield* links.join("link0").symlinkTo(links.join("file0"))
    yield* links.join("link1").symlinkTo(links.join("link0"))
    yield* links.join("link2").symlinkTo("/doesnotexist")
    yield* links.join("link3").symlinkTo(links.join("link4"))
    yield* links.join("link4").symlinkTo(links.join("link3"))
    // Ours: relative links into the tree, a link to outside it, a link to an ancestor.
    yield* links.join("rel").symlinkTo("file0")
    yield* links.join("sub").mkdir()
    yield* links.join("sub", "up").symlinkTo("../file0")
    yield* links.join("sub", "parent").symlinkTo("..")
    yield* root.join("outside.txt").writeText("outside\n")
    yield* links.join("outside").symlinkTo(root.join("outside.txt"))
    const specials = yield* side.specials(links)
    return { root, links, specials }
  }).pipe(Effect.orDie)

/** Runs the copy to its end, returning every progress element. */
const run = (source: Path, target: Path, options?: Parameters<typeof copy>[2]) =>
  Stream.runCollect(copy(source, target, options))

/** The reason tag of a failed copy. */
const failure = <A>(effect: Effect.Effect<A, CopyError>) =>
  Effect.map(Effect.flip(effect), (e) => {
    assert.instanceOf(e, CopyError)
    return e
  })

const names = (dir: Path) =>
  Effect.map(Effect.orDie(dir.fs.readDirectory(dir.path)), (entries) => entries.map((e) => e.name).sort())

/** Temporary files anywhere below `dir`. */
const leftovers = (dir: Path): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function*() {
    const found: Array<string> = []
    const walk = (d: Path): Effect.Effect<void> =>
      Effect.gen(function*() {
        const entries = yield* Effect.orDie(d.fs.readDirectory(d.path))
        for (const e of entries) {
          if (/\.cerulean-[0-9a-z]+\.tmp$/.test(e.name)) found.push(d.join(e.name).path)
          if (e.info.type === "Directory") yield* walk(d.joinpath(e.name))
        }
      })
    yield* walk(dir)
    return found
  })

const exists = (p: Path) =>
  Effect.orDie(
    p.lstat().pipe(Effect.as(true), Effect.catchIf((e) => e.reason._tag === "NotFound", () => Effect.succeed(false)))
  )

const mode = (p: Path) => Effect.orDie(Effect.map(p.stat(), (i) => i.mode))

/** The permission bits a new file or directory gets on this file system (its umask at work). */
const defaultMode = (dir: Path, kind: "file" | "dir") =>
  Effect.orDie(Effect.gen(function*() {
    const probe = dir.join(`probe-${kind}`)
    if (kind === "file") yield* probe.touch()
    else yield* probe.mkdir()
    const m = (yield* probe.stat()).mode
    yield* probe.remove()
    return m
  }))

const text = (p: Path) => Effect.orDie(p.readText())

const bytesOf = (n: number, seed: number) => {
  const out = new Uint8Array(n)
  let x = seed
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/** Writes a file of `size` bytes, chunk by chunk, without holding it in memory twice. */
const bigFile = (p: Path, size: number) => {
  const chunk = bytesOf(1024 * 1024, size)
  const chunks = Math.ceil(size / chunk.length)
  return Effect.orDie(
    p.writeStream(
      Stream.range(0, chunks - 1).pipe(
        Stream.map((i) => (i === chunks - 1 ? chunk.subarray(0, size - i * chunk.length) : chunk))
      )
    )
  )
}

/** The same backend with some primitives replaced (its `location` kept, so it `equals` the original). */
const wrap = (fs: FileSystem.FileSystem, overrides: Partial<FileSystem.Backend>): FileSystem.FileSystem =>
  FileSystem.make({ ...fs, ...overrides })

/** A source whose reads take about 2 ms per 64 KiB chunk, so a copy can be caught midway (no fast path). */
const slow = (fs: FileSystem.FileSystem) =>
  wrap(fs, {
    copyFile: undefined,
    readStream: (path) => fs.readStream(path, { chunkSize: 64 * 1024 }).pipe(Stream.tap(() => Effect.sleep("2 millis")))
  })

const sameBytes = (a: Path, b: Path) =>
  Effect.orDie(Effect.gen(function*() {
    const x = yield* a.readBytes()
    const y = yield* b.readBytes()
    return x.length === y.length && x.every((v, i) => v === y[i])
  }))

// ---------------------------------------------------------------- the suite

const suite = (make: Effect.Effect<Env, never, Scope.Scope>) => {
  // ---- test_copy_file_args
  it.effect("rejects a bad overwrite option (and other bad options) with InvalidOptions, writing nothing", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const file = src.scratch.join("a")
      yield* Effect.orDie(file.writeText(hello))
      const target = dst.scratch.join("b")
      for (const options of [
        { overwrite: "sometimes" as "never" },
        { concurrency: 0 },
        { chunkSize: -1 },
        { progressInterval: "Infinity" as const }
      ]) {
        const e = yield* failure(copyAll(file, target, options))
        assert.strictEqual(e.reason._tag, "InvalidOptions")
      }
      assert.isFalse(yield* exists(target))
    }))

  // ---- test_copy_into
  it.effect("copies a file into an existing directory as dir/name", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links } = yield* fixture(src)
      const dir = dst.scratch.join("dir")
      yield* Effect.orDie(dir.mkdir())
      const last = yield* copyAll(links.join("file0"), dir)
      assert.strictEqual(yield* text(dir.join("file0")), hello)
      assert.strictEqual(last.phase, "Done")
      assert.strictEqual(last.filesDone, 1)
      assert.strictEqual(last.bytesDone, 12)
    }))

  // ---- test_copy_dir_onto_nonexistent
  it.effect("copies a directory onto a new name with copyInto false", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links } = yield* fixture(src)
      const target = dst.scratch.join("newdir")
      yield* copyAll(links, target, { copyInto: false, overwrite: "always" })
      assert.isTrue(yield* Effect.orDie(target.isDir()))
      assert.strictEqual(yield* text(target.join("file0")), hello)
    }))

  // ---- test_copy_file_onto_dir
  it.effect("replaces a directory by a file with copyInto false and overwrite always", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links } = yield* fixture(src)
      const dir = dst.scratch.join("dir")
      yield* Effect.orDie(dir.join("inner").mkdir({ parents: true }))
      yield* Effect.orDie(dir.join("inner", "x").writeText("x"))
      yield* copyAll(links.join("file0"), dir, { copyInto: false, overwrite: "always" })
      assert.isTrue(yield* Effect.orDie(dir.isFile()))
      assert.strictEqual(yield* text(dir), hello)
    }))

  // ---- test_copy_file_single_fs / test_copy_file_cross_fs
  it.effect("copies a file under each overwrite mode as Cerulean does", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links } = yield* fixture(src)
      const file0 = links.join("file0")
      const t = (n: string) => dst.scratch.join(n)
      yield* copyAll(file0, t("new1"))
      yield* copyAll(file0, t("new2"), { overwrite: "raise" })
      yield* copyAll(file0, t("new3"), { overwrite: "always" })
      for (const n of ["new1", "new2", "new3"]) assert.strictEqual(yield* text(t(n)), hello)

      yield* Effect.orDie(t("existing").touch())
      const kept = yield* copyAll(file0, t("existing"), { overwrite: "never" })
      assert.strictEqual(yield* Effect.orDie(t("existing").size()), 0)
      assert.strictEqual(kept.skipped, 1)
      assert.strictEqual(kept.filesTotal, 0)

      const raised = yield* copyAll(file0, t("existing"), { overwrite: "raise" }).pipe(
        Effect.as("copied"),
        Effect.catchReason("CopyError", "AlreadyExists", (reason) => Effect.succeed(`exists: ${reason.path}`))
      )
      assert.strictEqual(raised, `exists: ${t("existing").path}`)
      assert.strictEqual(yield* Effect.orDie(t("existing").size()), 0)

      yield* copyAll(file0, t("existing"), { overwrite: "always" })
      assert.strictEqual(yield* Effect.orDie(t("existing").size()), 12)

      const missing = yield* failure(copyAll(links.join("nonexistent"), t("nothing")))
      assert.strictEqual(missing.reason._tag, "NotFound")
      assert.strictEqual(missing.source, links.join("nonexistent").path)
      assert.isFalse(yield* exists(t("nothing")))
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])
    }))

  // ---- test_copy_file_permissions
  it.effect("gives copies the source's permission bits with copyPermissions, set-uid included", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links } = yield* fixture(src)
      const t = (n: string) => dst.scratch.join(n)
      yield* copyAll(links.join("executable"), t("executable"), { copyPermissions: true })
      assert.strictEqual(yield* mode(t("executable")), 0o744)
      yield* copyAll(links.join("private"), t("private"), { copyPermissions: true })
      assert.strictEqual(yield* mode(t("private")), 0o600)
      // Overwriting keeps the same rule.
      yield* Effect.orDie(t("private").chmod(0o666))
      yield* copyAll(links.join("private"), t("private"), { copyPermissions: true, overwrite: "always" })
      assert.strictEqual(yield* mode(t("private")), 0o600)
      yield* copyAll(links.join("executable"), t("executable"), { copyPermissions: true, overwrite: "always" })
      assert.strictEqual(yield* mode(t("executable")), 0o744)
      const suid = links.join("suid")
      yield* Effect.orDie(suid.writeText("x"))
      yield* Effect.orDie(suid.chmod(0o4755))
      yield* copyAll(suid, t("suid"), { copyPermissions: true })
      assert.strictEqual(yield* mode(t("suid")), 0o4755)
      // Directories too.
      const dir = src.scratch.join("d750")
      yield* Effect.orDie(dir.mkdir())
      yield* Effect.orDie(dir.chmod(0o750))
      yield* copyAll(dir, t("d750"), { copyPermissions: true })
      assert.strictEqual(yield* mode(t("d750")), 0o750)
    }))

  // ---- test_no_copy_file_permissions
  it.effect("gives copies the target's default bits AND the source's without copyPermissions", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links } = yield* fixture(src)
      const t = (n: string) => dst.scratch.join(n)
      const fileDefault = yield* defaultMode(dst.scratch, "file")
      const dirDefault = yield* defaultMode(dst.scratch, "dir")
      yield* copyAll(links.join("executable"), t("executable"))
      assert.strictEqual(yield* mode(t("executable")), fileDefault & 0o744)
      assert.strictEqual((yield* mode(t("executable"))) & 0o100, 0, "the execute bit is dropped")
      yield* Effect.orDie(t("existing").writeText("old"))
      yield* Effect.orDie(t("existing").chmod(0o660))
      yield* copyAll(links.join("executable"), t("existing"), { overwrite: "always" })
      assert.strictEqual(yield* mode(t("existing")), fileDefault & 0o744)
      yield* copyAll(links.join("private"), t("private"))
      assert.strictEqual(yield* mode(t("private")), 0o600)
      const suid = links.join("suid")
      yield* Effect.orDie(suid.writeText("x"))
      yield* Effect.orDie(suid.chmod(0o4755))
      yield* copyAll(suid, t("suid"))
      assert.strictEqual(yield* mode(t("suid")), fileDefault & 0o755)
      const dir = src.scratch.join("d751")
      yield* Effect.orDie(dir.mkdir())
      yield* Effect.orDie(dir.chmod(0o751))
      yield* copyAll(dir, t("d751"))
      assert.strictEqual(yield* mode(t("d751")), dirDefault & 0o751)
    }))

  // ---- test_copy_symlink_single_fs / cross_fs
  it.effect("copies a top-level link (a chain link -> link -> file) as a regular file", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links } = yield* fixture(src)
      const target = dst.scratch.join("new_file")
      yield* copyAll(links.join("link1"), target)
      assert.isFalse(yield* Effect.orDie(target.isSymlink()))
      assert.isTrue(yield* Effect.orDie(target.isFile()))
      assert.strictEqual(yield* Effect.orDie(target.size()), 12)
      // A top-level broken link is skipped, as in Cerulean.
      const broken = yield* copyAll(links.join("link2"), dst.scratch.join("broken"))
      assert.strictEqual(broken.skipped, 1)
      assert.isFalse(yield* exists(dst.scratch.join("broken")))
    }))

  // ---- test_copy_dir_single_fs (+2, +3) / cross_fs
  it.effect("copies a directory: files, links recreated inside the copy, specials and broken links skipped", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links, specials } = yield* fixture(src)
      const target = dst.scratch.join("testdir")
      const last = yield* copyAll(links, target, { copyInto: false })
      const got = yield* names(target)
      const expected = ["executable", "file0", "file1", "private", "link0", "link1", "link3", "link4", "rel", "sub"]
      for (const n of [...expected, "outside"]) {
        assert.include(got, n)
      }
      for (const n of [...specials, "link2"]) assert.notInclude(got, n)
      assert.strictEqual(yield* text(target.join("file0")), hello)
      assert.strictEqual(last.skipped, specials.length + 1)
      // Absolute links into the tree point into the copy.
      const pairs = [["link0", "file0"], ["link1", "link0"], ["link3", "link4"], ["link4", "link3"]] as const
      for (const [link, to] of pairs) {
        assert.isTrue(yield* Effect.orDie(target.join(link).isSymlink()), link)
        assert.strictEqual(yield* Effect.orDie(target.join(link).readlinkText()), target.join(to).path)
      }
      assert.strictEqual(yield* text(target.join("link1")), hello)
      // A link to outside the tree is copied as its content.
      assert.isFalse(yield* Effect.orDie(target.join("outside").isSymlink()))
      assert.strictEqual(yield* text(target.join("outside")), "outside\n")

      // raise with copyInto false onto an existing directory
      const raised = yield* failure(copyAll(links, target, { copyInto: false, overwrite: "raise" }))
      assert.strictEqual(raised.reason._tag, "AlreadyExists")

      // always restores a deleted file
      yield* Effect.orDie(target.join("file0").unlink())
      yield* copyAll(links, target, { copyInto: false, overwrite: "always" })
      assert.strictEqual(yield* text(target.join("file0")), hello)

      // copyInto into an existing directory gives dir/links/file0
      const into = dst.scratch.join("into")
      yield* Effect.orDie(into.mkdir())
      yield* copyAll(links, into)
      assert.strictEqual(yield* text(into.join("links", "file0")), hello)
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])
    }))

  // ---- fixed bug: internal links point inside the copy, relative links stay relative
  it.effect("keeps relative links relative and points them inside the copy", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links } = yield* fixture(src)
      const target = dst.scratch.join("copy")
      yield* copyAll(links, target, { copyInto: false })
      assert.strictEqual(yield* Effect.orDie(target.join("rel").readlinkText()), "file0")
      assert.strictEqual(yield* Effect.orDie(target.join("sub", "up").readlinkText()), "../file0")
      assert.strictEqual(yield* Effect.orDie(target.join("sub", "parent").readlinkText()), "..")
      assert.strictEqual(yield* text(target.join("sub", "up")), hello)
      // They resolve inside the copy: changing the source does not show through.
      yield* Effect.orDie(links.join("file0").writeText("changed"))
      assert.strictEqual(yield* text(target.join("rel")), hello)
    }))

  // ---- fixed bug: always onto a link to a directory never deletes what the link points to
  it.effect("replaces a link to a directory under overwrite always, leaving the linked directory intact", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links } = yield* fixture(src)
      const precious = dst.scratch.join("precious")
      yield* Effect.orDie(precious.mkdir())
      yield* Effect.orDie(precious.join("keep.txt").writeText("keep"))
      // Inside a merged tree: target/links/sub is a link to `precious`.
      const into = dst.scratch.join("into")
      yield* Effect.orDie(into.join("links").mkdir({ parents: true }))
      yield* Effect.orDie(into.join("links", "sub").symlinkTo(precious))
      yield* copyAll(links, into, { overwrite: "always" })
      assert.deepStrictEqual(yield* names(precious), ["keep.txt"])
      assert.strictEqual(yield* text(precious.join("keep.txt")), "keep")
      assert.isFalse(yield* Effect.orDie(into.join("links", "sub").isSymlink()))
      assert.isTrue(yield* Effect.orDie(into.join("links", "sub").isDir()))
      // At the top: copyInto false onto a link to a directory.
      const top = dst.scratch.join("top")
      yield* Effect.orDie(top.symlinkTo(precious))
      yield* copyAll(links, top, { copyInto: false, overwrite: "always" })
      assert.deepStrictEqual(yield* names(precious), ["keep.txt"])
      assert.isFalse(yield* Effect.orDie(top.isSymlink()))
      assert.strictEqual(yield* text(top.join("file0")), hello)
      // A file onto a link to a file: the link is replaced, its target untouched.
      const linked = dst.scratch.join("linked.txt")
      yield* Effect.orDie(linked.writeText("linked"))
      yield* Effect.orDie(dst.scratch.join("flink").symlinkTo(linked))
      yield* copyAll(links.join("file0"), dst.scratch.join("flink"), { overwrite: "always" })
      assert.strictEqual(yield* text(linked), "linked")
      assert.isFalse(yield* Effect.orDie(dst.scratch.join("flink").isSymlink()))
      assert.strictEqual(yield* text(dst.scratch.join("flink")), hello)
    }))

  // ---- fixed bug: never merges into an existing directory
  it.effect("merges into an existing directory under overwrite never, keeping what is there", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links } = yield* fixture(src)
      const target = dst.scratch.join("merge")
      yield* Effect.orDie(target.join("sub").mkdir({ parents: true }))
      yield* Effect.orDie(target.join("file0").writeText("mine"))
      yield* Effect.orDie(target.join("extra").writeText("extra"))
      const last = yield* copyAll(links, target, { copyInto: false, overwrite: "never" })
      assert.strictEqual(yield* text(target.join("file0")), "mine")
      assert.strictEqual(yield* text(target.join("extra")), "extra")
      assert.strictEqual(yield* text(target.join("file1")), "")
      assert.strictEqual(yield* text(target.join("private")), "secret\n")
      assert.strictEqual(yield* Effect.orDie(target.join("sub", "up").readlinkText()), "../file0")
      assert.isAtLeast(last.skipped, 1)
      // With always, existing entries inside are replaced.
      yield* copyAll(links, target, { copyInto: false, overwrite: "always" })
      assert.strictEqual(yield* text(target.join("file0")), hello)
      assert.strictEqual(yield* text(target.join("extra")), "extra")
    }))

  it.effect("refuses to copy a directory into itself on one file system, and copies it across two", () =>
    Effect.gen(function*() {
      const { dst, sameFs, src } = yield* make
      const { links } = yield* fixture(src)
      // The same path text on the target file system.
      const inside = dst.fs.path(links.path, "copy")
      const result = yield* Effect.exit(copyAll(links, inside))
      if (sameFs) {
        assert.isTrue(Exit.isFailure(result))
        const e = yield* failure(copyAll(links, inside))
        assert.strictEqual(e.reason._tag, "InvalidOptions")
        assert.isFalse(yield* exists(links.join("copy")))
      } else {
        // Across file systems the parent of that path does not exist on the target.
        const e = yield* failure(copyAll(links, inside))
        assert.strictEqual(e.reason._tag, "NotFound")
      }
    }))

  it.effect("copies entries with odd names (spaces, quotes, newlines, unicode, a leading dash, a 255-byte name)", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const dir = src.scratch.join("odd dir 'x'")
      yield* Effect.orDie(dir.mkdir())
      const odd = ["with space", "quote'\"s", "new\nline", "ünïcødé ✓", "-dash", "$(echo pwned)", "a".repeat(255)]
      for (const n of odd) yield* Effect.orDie(dir.join(n).writeText(`content of ${n}`))
      yield* Effect.orDie(dir.join("link to space").symlinkTo("with space"))
      const target = dst.scratch.join("out ✓")
      yield* copyAll(dir, target, { copyInto: false })
      for (const n of odd) assert.strictEqual(yield* text(target.join(n)), `content of ${n}`)
      assert.strictEqual(yield* Effect.orDie(target.join("link to space").readlinkText()), "with space")
      // Overwriting a 255-byte name needs a shortened temporary name.
      yield* Effect.orDie(dir.join("a".repeat(255)).writeText("new"))
      yield* copyAll(dir.join("a".repeat(255)), target.join("a".repeat(255)), { overwrite: "always" })
      assert.strictEqual(yield* text(target.join("a".repeat(255))), "new")
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])
    }))

  it.effect("copies many small files concurrently, all complete and counted", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const dir = src.scratch.join("many")
      for (let d = 0; d < 5; d++) {
        yield* Effect.orDie(dir.join(`d${d}`).mkdir({ parents: true }))
        for (let f = 0; f < 40; f++) {
          yield* Effect.orDie(dir.join(`d${d}`, `f${f}`).writeBytes(bytesOf(4096, d * 100 + f)))
        }
      }
      const target = dst.scratch.join("many")
      const all = yield* run(dir, target, { concurrency: 16 })
      const last = all[all.length - 1]!
      assert.strictEqual(last.filesDone, 200)
      assert.strictEqual(last.filesTotal, 200)
      assert.strictEqual(last.bytesDone, 200 * 4096)
      for (let d = 0; d < 5; d++) {
        for (const f of [0, 17, 39]) {
          assert.isTrue(yield* sameBytes(dir.join(`d${d}`, `f${f}`), target.join(`d${d}`, `f${f}`)))
        }
        assert.strictEqual((yield* names(target.join(`d${d}`))).length, 40)
      }
    }))

  it.live("interrupting a large copy midway (Stream.takeUntil) leaves no target file and no temporary file", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const size = 128 * 1024 * 1024
      const big = src.scratch.join("big")
      yield* bigFile(big, size)
      const target = dst.scratch.join("big")
      const seen = yield* copy(big, target, { progressInterval: "5 millis", chunkSize: 64 * 1024 }).pipe(
        Stream.takeUntil((p) => p.phase === "Copying" && p.bytesDone > 0),
        Stream.runCollect
      )
      const last = seen[seen.length - 1]!
      assert.strictEqual(last.phase, "Copying")
      assert.isAbove(last.bytesDone, 0)
      assert.isBelow(last.bytesDone, size, "stopped midway")
      assert.isFalse(yield* exists(target))
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])
    }))

  it.live("Stream.take(2), Effect.timeout and Fiber.interrupt abort a transfer promptly and clean up", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const big = src.scratch.join("big")
      yield* bigFile(big, 32 * 1024 * 1024) // about a second through the slow reader
      const source = slow(src.fs).path(big.path)
      const target = dst.scratch.join("big")

      const two = yield* Stream.runCollect(Stream.take(copy(source, target, { progressInterval: "20 millis" }), 2))
      assert.deepStrictEqual(two.map((p) => p.phase), ["Started", "Copying"])
      assert.isFalse(yield* exists(target))
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])

      const start = Date.now()
      const timedOut = yield* Effect.exit(Effect.timeout(copyAll(source, target), "100 millis"))
      assert.isTrue(Exit.isFailure(timedOut))
      assert.isBelow(Date.now() - start, 600, "the timeout took effect promptly")
      assert.isFalse(yield* exists(target))
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])

      const fiber = yield* Effect.forkChild(copyAll(source, target))
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(fiber)
      assert.isFalse(yield* exists(target))
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])
    }))

  // ---- test_copy_callback_abort: a consumer that fails aborts the copy
  it.live("a progress consumer that fails aborts the copy, at the start or midway, leaving nothing behind", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const big = src.scratch.join("big")
      yield* bigFile(big, 16 * 1024 * 1024)
      const source = slow(src.fs).path(big.path)
      const target = dst.scratch.join("big")
      for (const at of ["Started", "Copying"] as const) {
        const result = yield* copy(source, target, { progressInterval: "20 millis" }).pipe(
          Stream.runForEach((p) => (p.phase === at ? Effect.fail(`abort at ${at}`) : Effect.void)),
          Effect.flip
        )
        assert.strictEqual(result, `abort at ${at}`)
        assert.isFalse(yield* exists(target))
        assert.deepStrictEqual(yield* leftovers(dst.scratch), [])
      }
    }))

  it.live("reports progress: Started at 0, monotone, bounded in rate, Done with bytesDone = bytesTotal = size", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const size = 24 * 1024 * 1024 + 123
      const big = src.scratch.join("big")
      yield* bigFile(big, size)
      const target = dst.scratch.join("big")
      const interval = 50
      const seen: Array<{ readonly p: CopyProgress; readonly at: number }> = []
      const start = Date.now()
      yield* copy(slow(src.fs).path(big.path), target, { progressInterval: `${interval} millis` }).pipe(
        Stream.runForEach((p) => Effect.sync(() => seen.push({ p, at: Date.now() })))
      )
      const elapsed = Date.now() - start
      const first = seen[0]!.p
      const last = seen[seen.length - 1]!.p
      assert.strictEqual(first.phase, "Started")
      assert.strictEqual(first.bytesDone, 0)
      assert.strictEqual(first.bytesTotal, size)
      assert.strictEqual(first.filesTotal, 1)
      assert.strictEqual(last.phase, "Done")
      assert.isTrue(last.done)
      assert.strictEqual(last.bytesDone, size)
      assert.strictEqual(last.bytesTotal, size)
      assert.strictEqual(last.filesDone, 1)
      for (let i = 1; i < seen.length; i++) {
        assert.isAtLeast(seen[i]!.p.bytesDone, seen[i - 1]!.p.bytesDone, "monotone")
        assert.isAtLeast(seen[i]!.p.filesDone, seen[i - 1]!.p.filesDone, "monotone")
      }
      const middle = seen.filter((s) => s.p.phase === "Copying")
      assert.isAtLeast(middle.length, 2, "elements while data flows")
      assert.isAtMost(middle.length, Math.ceil(elapsed / interval) + 1, "at most one per interval")
      for (let i = 1; i < middle.length; i++) {
        assert.isAtLeast(middle[i]!.at - middle[i - 1]!.at, interval * 0.8, "spaced by the interval")
      }
      assert.isTrue(yield* sameBytes(big, target))
    }))

  it.effect("a source that fails mid-file leaves no target and no temporary file, and reports the reason", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const big = src.scratch.join("big")
      yield* bigFile(big, 4 * 1024 * 1024)
      const failing = wrap(src.fs, {
        copyFile: undefined,
        readStream: (path) =>
          Stream.concat(
            src.fs.readStream(path, { chunkSize: 64 * 1024 }).pipe(Stream.take(5)),
            Stream.fail(
              FileSystemError.make("ConnectionLost", { path, operation: "readStream", description: "injected" })
            )
          )
      })
      const target = dst.scratch.join("big")
      const e = yield* failure(copyAll(failing.path(big.path), target))
      assert.strictEqual(e.reason._tag, "ConnectionLost")
      assert.isFalse(yield* exists(target))
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])
      // Overwriting: the old file stays whole.
      yield* Effect.orDie(target.writeText("old"))
      yield* failure(copyAll(failing.path(big.path), target, { overwrite: "always" }))
      assert.strictEqual(yield* text(target), "old")
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])
      // In a tree: the files that failed are absent, none is half there.
      const tree = src.scratch.join("tree")
      yield* Effect.orDie(tree.mkdir())
      for (let i = 0; i < 6; i++) yield* bigFile(tree.join(`f${i}`), i % 2 === 0 ? 100 : 1024 * 1024)
      yield* failure(copyAll(failing.path(tree.path), dst.scratch.join("tree"), { concurrency: 2 }))
      for (const n of yield* names(dst.scratch.join("tree"))) {
        assert.strictEqual(yield* Effect.orDie(dst.scratch.join("tree", n).size()), 100, n)
      }
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])
    }))
}

for (const [name, make] of pairings) {
  describe(`copy, ${name}`, () => suite(make))
}

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
