/**
 * The contract `copy` must meet between two file systems: a function that
 * registers vitest tests (through `@effect/vitest`) for one pairing of a
 * source and a target file system. It ports Python Cerulean's
 * `test_copy_files.py` with this project's fixed semantics (see
 * `docs/copy.md`) and adds the fixed bugs, odd names, many files at once,
 * interruption in every way a caller can interrupt, a progress consumer
 * that fails, progress reports and a source that fails mid-file: nothing
 * half-done may be left under a final name, and no temporary file at all.
 *
 * Each test gets the two sides from `make`, built in the test's scope: a
 * file system with a fresh scratch directory each (the same file system
 * twice is a pairing too), and a way to make special entries (a FIFO) on the
 * source. The fixture tree is created in the source's scratch directory.
 *
 * @example
 * ```ts
 * import { CopyContract, MemoryFileSystem } from "@cerulean/testing"
 * import { Effect } from "effect"
 *
 * CopyContract.run("memory -> memory", Effect.gen(function*() {
 *   const fs = yield* MemoryFileSystem.make()
 *   const side = (name: string) => Effect.as(Effect.orDie(fs.path(name).mkdir()), {
 *     fs,
 *     scratch: fs.path(name),
 *     specials: (dir) => Effect.orDie(Effect.as(MemoryFileSystem.mkfifo(dir.join("fifo")), ["fifo"]))
 *   })
 *   return { src: yield* side("/src"), dst: yield* side("/dst"), sameFs: true }
 * }))
 * ```
 *
 * @since 0.1.0
 */
import { copy, copyAll, CopyError, type CopyOptions, CopyProgress } from "@cerulean/core/Copy"
import * as FileSystem from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import type { Path } from "@cerulean/core/Path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/**
 * One side of a copy: a file system, a fresh scratch directory on it, and a
 * way to make special entries there.
 *
 * @since 0.1.0
 * @category models
 */
export interface Side {
  readonly fs: FileSystem.FileSystem
  readonly scratch: Path
  /** Creates a FIFO (and, where possible, another special entry) in `dir`; returns the names made. */
  readonly specials: (dir: Path) => Effect.Effect<ReadonlyArray<string>>
}

/**
 * The two sides of a copy.
 *
 * @since 0.1.0
 * @category models
 */
export interface Env {
  readonly src: Side
  readonly dst: Side
  /** Source and target are one file system. */
  readonly sameFs: boolean
}

/**
 * How the contract runs for one pairing.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * How the tests give a source slow or failing reads: a file system made
   * from the source with some primitives replaced. Default {@link wrap}. A
   * file system whose fast paths recognise their peer (by its `protocol`)
   * and would read it directly must get a wrapper that changes the protocol
   * and drops the fast paths, or the injected behaviour is bypassed.
   */
  readonly wrap?: ((fs: FileSystem.FileSystem, overrides: Partial<FileSystem.Backend>) => FileSystem.FileSystem) | undefined
}

/**
 * The content of the fixture's `file0`.
 *
 * @since 0.1.0
 * @category fixtures
 */
export const hello = "Hello World\n"

/**
 * Cerulean's `test_files` fixture (tests/…/create-test-files.sh) in a side's
 * scratch directory, plus the links the fixed bugs need: relative links into
 * the tree, a link out of it and a link to an ancestor.
 *
 * @since 0.1.0
 * @category fixtures
 */
export const fixture = (side: Side) =>
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

/**
 * Runs a copy to its end, returning every progress element.
 *
 * @since 0.1.0
 * @category helpers
 */
export const runCopy = (source: Path, target: Path, options?: CopyOptions) =>
  Stream.runCollect(copy(source, target, options))

/**
 * The error of a copy expected to fail.
 *
 * @since 0.1.0
 * @category helpers
 */
export const failure = <A>(effect: Effect.Effect<A, CopyError>) =>
  Effect.map(Effect.flip(effect), (e) => {
    assert.instanceOf(e, CopyError)
    return e
  })

/**
 * The sorted names in a directory.
 *
 * @since 0.1.0
 * @category helpers
 */
export const names = (dir: Path) =>
  Effect.map(Effect.orDie(dir.fs.readDirectory(dir.path)), (entries) => entries.map((e) => e.name).sort())

/**
 * The temporary files of `copy` anywhere below `dir`: a copy that ended,
 * failed or was interrupted must leave none.
 *
 * @since 0.1.0
 * @category helpers
 */
export const leftovers = (dir: Path): Effect.Effect<ReadonlyArray<string>> =>
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

/**
 * Whether anything (a broken link included) is at `p`.
 *
 * @since 0.1.0
 * @category helpers
 */
export const exists = (p: Path) =>
  Effect.orDie(
    p.lstat().pipe(Effect.as(true), Effect.catchIf((e) => e.reason._tag === "NotFound", () => Effect.succeed(false)))
  )

/**
 * The permission bits of what `p` points to.
 *
 * @since 0.1.0
 * @category helpers
 */
export const mode = (p: Path) => Effect.orDie(Effect.map(p.stat(), (i) => i.mode))

/**
 * The permission bits a new file or directory gets in `dir` (the file
 * system's umask at work).
 *
 * @since 0.1.0
 * @category helpers
 */
export const defaultMode = (dir: Path, kind: "file" | "dir") =>
  Effect.orDie(Effect.gen(function*() {
    const probe = dir.join(`probe-${kind}`)
    if (kind === "file") yield* probe.touch()
    else yield* probe.mkdir()
    const m = (yield* probe.stat()).mode
    yield* probe.remove()
    return m
  }))

/**
 * The text content of a file.
 *
 * @since 0.1.0
 * @category helpers
 */
export const text = (p: Path) => Effect.orDie(p.readText())

/**
 * `n` pseudo-random bytes, the same for the same seed.
 *
 * @since 0.1.0
 * @category fixtures
 */
export const bytesOf = (n: number, seed: number) => {
  const out = new Uint8Array(n)
  let x = seed
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/**
 * Writes a file of `size` pseudo-random bytes, chunk by chunk, without
 * holding it in memory.
 *
 * @since 0.1.0
 * @category fixtures
 */
export const bigFile = (p: Path, size: number) => {
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

/**
 * The same backend with some primitives replaced (its `location` kept, so
 * it `equals` the original).
 *
 * @since 0.1.0
 * @category helpers
 */
export const wrap = (fs: FileSystem.FileSystem, overrides: Partial<FileSystem.Backend>): FileSystem.FileSystem =>
  FileSystem.make({ ...fs, ...overrides })

/**
 * Whether two files have the same bytes.
 *
 * @since 0.1.0
 * @category helpers
 */
export const sameBytes = (a: Path, b: Path) =>
  Effect.orDie(Effect.gen(function*() {
    const x = yield* a.readBytes()
    const y = yield* b.readBytes()
    return x.length === y.length && x.every((v, i) => v === y[i])
  }))

const suite = (make: Effect.Effect<Env, never, Scope.Scope>, options: Options) => {
  const wrapSource = options.wrap ?? wrap
  /** A source whose reads take about 2 ms per 64 KiB chunk, so a copy can be caught midway (no fast path). */
  const slow = (fs: FileSystem.FileSystem) =>
    wrapSource(fs, {
      copyFile: undefined,
      readStream: (path) => fs.readStream(path, { chunkSize: 64 * 1024 }).pipe(Stream.tap(() => Effect.sleep("2 millis")))
    })

  // ---- test_copy_file_args
  it.live("rejects a bad overwrite option (and other bad options) with InvalidOptions, writing nothing", () =>
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
  it.live("copies a file into an existing directory as dir/name", () =>
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
  it.live("copies a directory onto a new name with copyInto false", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links } = yield* fixture(src)
      const target = dst.scratch.join("newdir")
      yield* copyAll(links, target, { copyInto: false, overwrite: "always" })
      assert.isTrue(yield* Effect.orDie(target.isDir()))
      assert.strictEqual(yield* text(target.join("file0")), hello)
    }))

  // ---- test_copy_file_onto_dir
  it.live("replaces a directory by a file with copyInto false and overwrite always", () =>
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
  it.live("copies a file under each overwrite mode as Cerulean does", () =>
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
  it.live("gives copies the source's permission bits with copyPermissions, set-uid included", () =>
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
  it.live("gives copies the target's default bits AND the source's without copyPermissions", () =>
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
  it.live("copies a top-level link (a chain link -> link -> file) as a regular file", () =>
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
  it.live("copies a directory: files, links recreated inside the copy, specials and broken links skipped", () =>
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
  it.live("keeps relative links relative and points them inside the copy", () =>
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
  it.live("replaces a link to a directory under overwrite always, leaving the linked directory intact", () =>
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
  it.live("merges into an existing directory under overwrite never, keeping what is there", () =>
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

  it.live("refuses to copy a directory into itself on one file system, and copies it across two", () =>
    Effect.gen(function*() {
      const { dst, sameFs, src } = yield* make
      const { links } = yield* fixture(src)
      // The same path text on the target file system. Across file systems the original uses that text too and
      // expects NotFound (the path does not exist there); where both sides see one disk (a local file system and
      // a server on this machine), the cross-file-system case puts the same text below a missing directory.
      const inside = sameFs ? dst.fs.path(links.path, "copy") : dst.scratch.join("missing", links.path, "copy")
      const result = yield* Effect.exit(copyAll(links, inside))
      if (sameFs) {
        assert.isTrue(Exit.isFailure(result))
        const e = yield* failure(copyAll(links, inside))
        assert.strictEqual(e.reason._tag, "InvalidOptions")
        assert.isFalse(yield* exists(links.join("copy")))
      } else {
        const e = yield* failure(copyAll(links, inside))
        assert.strictEqual(e.reason._tag, "NotFound")
      }
    }))

  it.live("copies entries with odd names (spaces, quotes, newlines, unicode, a leading dash, a 255-byte name)", () =>
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

  it.live("copies many small files concurrently, all complete and counted", () =>
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
      const all = yield* runCopy(dir, target, { concurrency: 16 })
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

  it.live("a source that fails mid-file leaves no target and no temporary file, and reports the reason", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const big = src.scratch.join("big")
      yield* bigFile(big, 4 * 1024 * 1024)
      const failing = wrapSource(src.fs, {
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


/**
 * Registers the contract's tests for one pairing, under `copy, <name>`.
 *
 * @since 0.1.0
 * @category testing
 */
export const run = (name: string, make: Effect.Effect<Env, never, Scope.Scope>, options: Options = {}): void => {
  describe(`copy, ${name}`, () => suite(make, options))
}
