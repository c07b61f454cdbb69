/**
 * The contract every `FileSystem` implementation must pass: a function that
 * registers vitest tests (through `@effect/vitest`) for one implementation.
 * It ports every case of Python Cerulean's `test_file_systems.py` and
 * `test_path.py` with this project's fixed semantics (see `docs/core.md`),
 * and adds cases for `stat`, sorted listings, odd file names, many-chunk
 * and large streaming writes, permission denial and error reasons.
 *
 * Each test gets its own fresh scratch directory from {@link Options.scratch}
 * and removes it afterwards. The fixture tree of Cerulean's test images
 * (`test_files/links/file0` "Hello World\n", `file1`, `executable` 744,
 * `private` 600, `link0 -> links/file0` (absolute), `link1 -> link0`,
 * `link2 -> /doesnotexist`, `link3 <-> link4`, `fifo`, `blockdev`,
 * `chardev`) is either created by the suite in each test's scratch
 * directory (`fixtures: "create"`, for local and in-memory file systems) or
 * read, never modified, where it already exists on a server
 * (`fixtures: { root }`, for SFTP and WebDAV testbeds). Every test that
 * modifies anything works in its scratch directory.
 *
 * @example
 * ```ts
 * import { FileSystemContract, MemoryFileSystem } from "@cerulean/testing"
 *
 * FileSystemContract.run("MemoryFileSystem", {
 *   layer: MemoryFileSystem.layer,
 *   scratch: FileSystemContract.scratchIn((fs) => fs.root),
 *   makeFifo: MemoryFileSystem.mkfifo
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as FileSystem from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import { Path, type WalkOptions } from "@cerulean/core/Path"
import * as Permission from "@cerulean/core/Permission"
import { assert, describe, layer } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createHash, randomUUID } from "node:crypto"
import { MemoryFileSystem } from "./MemoryFileSystem.ts"

/**
 * The kinds of special entry a fixture tree can hold.
 *
 * @since 0.1.0
 * @category models
 */
export type Special = "Fifo" | "BlockDevice" | "CharacterDevice"

/**
 * A fixture tree that already exists (on a test server). The suite only
 * reads it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExistingFixtures {
  /** The `test_files` directory, e.g. `(fs) => fs.path("home", "cerulean", "test_files")`. */
  readonly root: (fs: FileSystem.FileSystem) => Path
  /**
   * The special entries present at `<root>/fifo`, `<root>/blockdev` and
   * `<root>/chardev` (default `["Fifo", "BlockDevice"]`; none without links).
   */
  readonly specials?: ReadonlyArray<Special> | undefined
  /** Who owns the tree, when not the user the tests run as (default: {@link Options.owner}). */
  readonly owner?: { readonly uid: number; readonly gid: number } | undefined
}

/**
 * What the file system under test can do, declared by the caller when the
 * tests are registered (before the layer is built). Tests needing a feature
 * the backend lacks are replaced by tests of how it refuses.
 *
 * @since 0.1.0
 * @category models
 */
export interface Features {
  /**
   * Symbolic links exist (default `true`). Without them the fixture tree is
   * the flattened one of Cerulean's WebDAV image: `link0` and `link1` are
   * plain files with `file0`'s content, `link2`..`link4` and the special
   * entries are absent, and `symlinkTo` must fail with `Unsupported`.
   */
  readonly symlinks: boolean
  /** Permission bits can be read and set (default `true`); without them `chmod` must fail with `Unsupported`. */
  readonly permissions: boolean
  /**
   * Permission bits actually stop the user the tests run as (default: as
   * `permissions`). `false` for root on a local file system, which reads
   * and lists whatever the bits say; the suite then checks that root really
   * gets through.
   */
  readonly deniesAccess: boolean
  /** The umask new entries are created under (default `0o022`). */
  readonly umask: number
  /** Granularity of modification times in milliseconds (default 1000: SFTP v3 has whole seconds). */
  readonly mtimeResolution: number
  /** How far the file system's clock may be from the test's, in milliseconds (default 120 000). */
  readonly clockSkew: number
  /** Size of the large round-trip file in bytes (default 8 MiB). */
  readonly largeFileSize: number
  /** The odd file names to create, list, read, rename and remove (default {@link defaultOddNames}). */
  readonly oddNames: ReadonlyArray<string>
}

/**
 * The options of {@link run}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E = never, E2 = never> {
  /** Provides the file system under test; built once for the whole suite. */
  readonly layer: Layer.Layer<FileSystem.FileSystem, E>
  /**
   * A fresh, empty, writable directory for one test, removed when the
   * test's scope closes. {@link scratchIn} makes one below a given directory.
   */
  readonly scratch: (fs: FileSystem.FileSystem) => Effect.Effect<Path, E2, Scope.Scope>
  /** `"create"` (the default) builds the fixture tree in each test's scratch directory. */
  readonly fixtures?: "create" | ExistingFixtures | undefined
  /** With `"create"`: makes a FIFO (the `Path` API cannot); without it the tree has no `fifo`. */
  readonly makeFifo?: ((path: Path) => Effect.Effect<void, unknown>) | undefined
  /** With `"create"`: makes a device entry; without it the tree has no `blockdev` or `chardev`. */
  readonly makeDevice?:
    | ((path: Path, type: "BlockDevice" | "CharacterDevice") => Effect.Effect<void, unknown>)
    | undefined
  /**
   * Who owns whatever the tests create (and a created fixture tree). Without
   * it the suite checks that the owner of the tree is the owner of a newly
   * created file.
   */
  readonly owner?: { readonly uid: number; readonly gid: number } | undefined
  readonly features?: Partial<Features> | undefined
  /** Timeout of each test in milliseconds (default: vitest's). */
  readonly timeout?: number | undefined
}

/**
 * Names that trip up shells, URL encoders and careless quoting.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultOddNames: ReadonlyArray<string> = [
  "with space",
  " leading and trailing ",
  "it's",
  "say \"hi\"",
  "new\nline",
  "tab\there",
  "$(touch pwned)",
  "`id`",
  "semi;colon & amp | pipe > out",
  "back\\slash",
  "star*?[ab]",
  "-rf",
  "--help",
  "#hash %20 ?query",
  "ünïcødé 日本語 🐟",
  "a".repeat(200)
]

/**
 * A scratch-directory maker for {@link Options.scratch}: a new directory
 * with a unique name below `parent`, removed recursively (links are removed,
 * never followed) when the scope closes. Permissions inside are opened up
 * first, so a test that locked a directory still gets cleaned up.
 *
 * @since 0.1.0
 * @category constructors
 */
export const scratchIn = (parent: (fs: FileSystem.FileSystem) => Path) =>
(
  fs: FileSystem.FileSystem
): Effect.Effect<Path, FileSystemError.FileSystemError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const dir = parent(fs).join(`cerulean-contract-${randomUUID()}`)
      yield* dir.mkdir()
      return dir
    }),
    (dir) => Effect.orDie(Effect.andThen(unlock(dir), dir.rmdir({ recursive: true })))
  )

/** Gives the owner full access to every directory of the tree, so it can be removed. */
const unlock = (dir: Path): Effect.Effect<void, FileSystemError.FileSystemError> =>
  !dir.fs.features.permissions ? Effect.void : Effect.gen(function*() {
    const info = yield* dir.lstat()
    if (info.type !== "Directory") return
    if ((info.mode & 0o700) !== 0o700) yield* dir.chmod(info.mode | 0o700)
    const entries = yield* dir.fs.readDirectory(dir.path)
    for (const entry of entries) {
      if (entry.info.type === "Directory") yield* unlock(dir.joinpath(entry.name))
    }
  })

// ------------------------------------------------------------------------------------------- fixtures

interface Fixture {
  readonly root: Path
  readonly dir: Path
  readonly file: Path
  readonly otherFile: Path
  readonly executable: Path
  readonly private: Path
  readonly link: Path
  readonly multiLink: Path
  readonly brokenLink: Path
  readonly linkLoop: Path
  readonly linkLoop2: Path
  readonly fifo: Path
  readonly blockdev: Path
  readonly chardev: Path
}

const fixturePaths = (root: Path): Fixture => {
  const dir = root.join("links")
  return {
    root,
    dir,
    file: dir.join("file0"),
    otherFile: dir.join("file1"),
    executable: dir.join("executable"),
    private: dir.join("private"),
    link: dir.join("link0"),
    multiLink: dir.join("link1"),
    brokenLink: dir.join("link2"),
    linkLoop: dir.join("link3"),
    linkLoop2: dir.join("link4"),
    fifo: root.join("fifo"),
    blockdev: root.join("blockdev"),
    chardev: root.join("chardev")
  }
}

const hello = "Hello World\n"
const encoder = new TextEncoder()
const decoder = new TextDecoder()

const resolveFeatures = (options: Options<unknown, unknown>): Features => {
  const permissions = options.features?.permissions ?? true
  return {
    symlinks: options.features?.symlinks ?? true,
    permissions,
    deniesAccess: options.features?.deniesAccess ?? permissions,
    umask: options.features?.umask ?? 0o022,
    mtimeResolution: options.features?.mtimeResolution ?? 1000,
    clockSkew: options.features?.clockSkew ?? 120_000,
    largeFileSize: options.features?.largeFileSize ?? 8 * 1024 * 1024,
    oddNames: options.features?.oddNames ?? defaultOddNames
  }
}

const specialsOf = (options: Options<unknown, unknown>, features: Features): ReadonlyArray<Special> => {
  if (!features.symlinks) return []
  const fixtures = options.fixtures ?? "create"
  if (fixtures !== "create") return fixtures.specials ?? ["Fifo", "BlockDevice"]
  return [
    ...(options.makeFifo ? ["Fifo" as const] : []),
    ...(options.makeDevice ? ["BlockDevice" as const, "CharacterDevice" as const] : [])
  ]
}

/** Builds the fixture tree of Cerulean's test image below `root`, exactly as its `create-test-files.sh`. */
const createFixtures = (root: Path, options: Options<unknown, unknown>, features: Features) =>
  Effect.gen(function*() {
    const fx = fixturePaths(root)
    const chmod = (path: Path, mode: number) => features.permissions ? path.chmod(mode) : Effect.void
    yield* root.mkdir()
    yield* fx.dir.mkdir()
    yield* chmod(root, 0o755)
    yield* chmod(fx.dir, 0o755)
    yield* fx.file.writeText(hello)
    yield* fx.otherFile.touch()
    yield* fx.executable.touch()
    yield* fx.private.touch()
    yield* chmod(fx.file, 0o644)
    yield* chmod(fx.otherFile, 0o644)
    yield* chmod(fx.executable, 0o744)
    yield* chmod(fx.private, 0o600)
    if (features.symlinks) {
      yield* fx.link.symlinkTo(fx.file)
      yield* fx.multiLink.symlinkTo(fx.link)
      yield* fx.brokenLink.symlinkTo("/doesnotexist")
      yield* fx.linkLoop2.symlinkTo(fx.linkLoop)
      yield* fx.linkLoop.symlinkTo(fx.linkLoop2)
    } else {
      yield* fx.link.writeText(hello)
      yield* fx.multiLink.writeText(hello)
    }
    if (features.symlinks && options.makeFifo) yield* options.makeFifo(fx.fifo)
    if (features.symlinks && options.makeDevice) {
      yield* options.makeDevice(fx.blockdev, "BlockDevice")
      yield* options.makeDevice(fx.chardev, "CharacterDevice")
    }
    return fx
  })

// ------------------------------------------------------------------------------------------- helpers

const noFailure: unique symbol = Symbol("noFailure")

/** Asserts that `effect` fails with a `FileSystemError` of the given reason (and path, if given). */
const failsWith = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  reason: FileSystemError.ReasonTag,
  path?: Path
): Effect.Effect<void, never, R> =>
  Effect.map(
    Effect.match(effect, { onFailure: (e): unknown => e, onSuccess: (): unknown => noFailure }),
    (error) => {
      if (error === noFailure) return assert.fail(`expected a ${reason} failure, but the operation succeeded`)
      if (!FileSystemError.hasReason(error, reason)) {
        return assert.fail(`expected a ${reason} failure, got ${String(error)}`)
      }
      if (path !== undefined) assert.strictEqual(error.path, path.path, `path of the ${reason} error`)
    }
  )

const sortedNames = (dir: Path) =>
  Effect.map(Stream.runCollect(dir.iterdir()), (entries) => entries.map((p) => p.name))

const modeOf = (path: Path) => Effect.map(path.stat(), (info) => info.mode)

const collectWalk = (top: Path, options?: WalkOptions) =>
  Effect.map(Stream.runCollect(top.walk(options)), (steps) => {
    const dirs: Array<string> = []
    const subdirs: Array<string> = []
    const files: Array<string> = []
    for (const step of steps) {
      dirs.push(step.dir.toString())
      for (const name of [...step.dirnames].sort()) subdirs.push(step.dir.join(name).toString())
      for (const name of [...step.filenames].sort()) files.push(step.dir.join(name).toString())
    }
    return { dirs, subdirs, files }
  })

/**
 * The walk tree of Cerulean's test_path.py: `dir1/{dir2/, file1, dir_link -> dir3}`, `dir3/`,
 * `file2`, `file3` (without `dir_link` where there are no links).
 */
const makeWalkDir = (top: Path, links: boolean) =>
  Effect.gen(function*() {
    yield* top.mkdir()
    yield* top.join("dir1").mkdir()
    yield* top.join("dir1", "dir2").mkdir()
    yield* top.join("dir1", "file1").touch()
    yield* top.join("dir3").mkdir()
    yield* top.join("file2").touch()
    yield* top.join("file3").touch()
    if (links) yield* top.join("dir1", "dir_link").symlinkTo(top.join("dir3"))
  })

/** Deterministic pseudo-random bytes (xorshift32), generated chunk by chunk. */
const noise = (size: number, chunkSize: number): Stream.Stream<Uint8Array> =>
  Stream.unfold({ offset: 0, state: 0x9e3779b9 }, ({ offset, state }) =>
    Effect.sync(() => {
      if (offset >= size) return undefined
      const chunk = new Uint8Array(Math.min(chunkSize, size - offset))
      let x = state
      for (let i = 0; i < chunk.length; i++) {
        x ^= x << 13
        x ^= x >>> 17
        x ^= x << 5
        chunk[i] = x & 0xff
      }
      return [chunk, { offset: offset + chunk.length, state: x }] as const
    }))

const digest = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Effect.map(
    Stream.runFold(stream, () => ({ hash: createHash("sha256"), bytes: 0, chunks: 0 }), (acc, chunk) => {
      acc.hash.update(chunk)
      acc.bytes += chunk.length
      acc.chunks += 1
      return acc
    }),
    (acc) => ({ sha256: acc.hash.digest("hex"), bytes: acc.bytes, chunks: acc.chunks })
  )

const allPermissions = Permission.all

/** The permissions of mode 0o755. */
const rwxrxrx: ReadonlyArray<Permission.Permission> = [
  "OwnerRead",
  "OwnerWrite",
  "OwnerExecute",
  "GroupRead",
  "GroupExecute",
  "OthersRead",
  "OthersExecute"
]

// ------------------------------------------------------------------------------------------- the suite

/**
 * Registers the contract tests for one file-system implementation under a
 * `describe(name)` block. Call it at the top level of a test file.
 *
 * @example
 * ```ts
 * import { LocalFileSystem } from "@cerulean/core"
 * import { FileSystemContract } from "@cerulean/testing"
 * import * as os from "node:os"
 *
 * FileSystemContract.run("LocalFileSystem", {
 *   layer: LocalFileSystem.layer,
 *   scratch: FileSystemContract.scratchIn((fs) => fs.path(os.tmpdir())),
 *   features: { umask: process.umask(), mtimeResolution: 50 }
 * })
 * ```
 *
 * @since 0.1.0
 * @category testing
 */
export const run = <E, E2>(name: string, options: Options<E, E2>): void => {
  const features = resolveFeatures(options)
  const specials = specialsOf(options, features)
  const fixtures = options.fixtures ?? "create"
  const { umask } = features

  layer(options.layer, { excludeTestServices: true })(name, (it) => {
    type Body = Effect.Effect<void, unknown, FileSystem.FileSystem | Scope.Scope>
    const test = (title: string, body: () => Body) => it.effect(title, body, options.timeout)

    /** The file system and a fresh scratch directory. */
    const setup = Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const scratch = yield* options.scratch(fs)
      return { fs, scratch }
    })

    /** Like {@link setup}, plus the fixture tree. */
    const withFixtures = Effect.gen(function*() {
      const { fs, scratch } = yield* setup
      const fx = fixtures === "create"
        ? yield* createFixtures(scratch.join("test_files"), options, features)
        : fixturePaths(fixtures.root(fs))
      return { fs, scratch, fx }
    })

    /** The owner of created entries: the declared owner, or whoever owns a fresh file. */
    const expectedOwner = (scratch: Path) =>
      options.owner !== undefined ? Effect.succeed(options.owner) : Effect.gen(function*() {
        const probe = scratch.join("owner-probe")
        yield* probe.touch()
        return { uid: yield* probe.uid(), gid: yield* probe.gid() }
      })

    /** The owner of the fixture tree. */
    const fixtureOwner = (scratch: Path) =>
      fixtures !== "create" && fixtures.owner !== undefined ? Effect.succeed(fixtures.owner) : expectedOwner(scratch)

    // ------------------------------------------------------------------ test_file_systems.py

    describe("file system", () => {
      test("equality: a file system equals itself, not another one; paths compare file system and text", () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const other = MemoryFileSystem.makeUnsafe()
          assert.isTrue(fs.equals(fs))
          assert.isFalse(fs.equals(other))
          assert.isFalse(other.equals(fs))
          assert.isTrue(fs.path("tmp").equals(fs.path("tmp")))
          assert.isFalse(fs.path("tmp").equals(other.path("tmp")))
          assert.isFalse(fs.path("tmp").equals(fs.path("tmp2")))
        }))

      test("declared features match the suite's", () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          assert.strictEqual(fs.features.symlinks, features.symlinks, "features.symlinks")
          assert.strictEqual(fs.features.permissions, features.permissions, "features.permissions")
        }))

      test("root: fs.root equals fs.path(\"\") and fs.path(\"/\"); fs.path(\"tmp\") equals root.join(\"tmp\")", () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          assert.strictEqual(fs.root.toString(), "/")
          assert.isTrue(fs.root.equals(fs.path("")))
          assert.isTrue(fs.root.equals(fs.path("/")))
          assert.isTrue(fs.path("tmp").equals(fs.root.join("tmp")))
          assert.isTrue(yield* fs.root.isDir())
        }))

      test("exists: root, directory, file and link exist; a broken link, a link loop and a missing path do not", () =>
        Effect.gen(function*() {
          const { fs, fx } = yield* withFixtures
          assert.isTrue(yield* fs.root.exists())
          assert.isTrue(yield* fx.root.exists())
          assert.isTrue(yield* fx.dir.exists())
          assert.isTrue(yield* fx.file.exists())
          assert.isTrue(yield* fx.link.exists())
          assert.isFalse(yield* fx.root.join("nonexistent").exists())
          assert.isFalse(yield* fx.file.join("below-a-file").exists())
          if (features.symlinks) {
            assert.isTrue(yield* fx.multiLink.exists())
            assert.isFalse(yield* fx.brokenLink.exists())
            assert.isFalse(yield* fx.linkLoop.exists())
          }
        }))

      test("touch creates an empty file under the umask", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const path = scratch.join("test.txt")
          yield* path.touch()
          assert.isTrue(yield* path.exists())
          assert.isTrue(yield* path.isFile())
          assert.strictEqual(yield* path.size(), 0)
          if (features.permissions) assert.strictEqual(yield* modeOf(path), 0o666 & ~umask)
          yield* path.unlink()
          assert.isFalse(yield* path.exists())
        }))

      test("touch updates the modification time of an existing file and keeps its content", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const path = scratch.join("touched.txt")
          yield* path.writeText("keep me")
          const before = (yield* path.stat()).mtime
          assert.isDefined(before)
          yield* Effect.sleep(features.mtimeResolution + 50)
          yield* path.touch()
          const after = (yield* path.stat()).mtime
          assert.isDefined(after)
          assert.isAbove(after!.getTime(), before!.getTime())
          assert.strictEqual(yield* path.readText(), "keep me")
        }))

      test("touch of a missing path below a missing directory fails with NotFound", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          yield* failsWith(scratch.join("missing", "x").touch(), "NotFound")
        }))

      test("mkdir: plain, with parents, with a mode under the umask, existing (existsOk)", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const newDir = scratch.join("testdir")
          const deepNewDir = scratch.join("testdir2", "testdeepdir")

          yield* newDir.mkdir()
          assert.isTrue(yield* newDir.isDir())
          yield* newDir.rmdir()

          yield* deepNewDir.mkdir({ parents: true })
          assert.isTrue(yield* deepNewDir.parent.isDir())
          assert.isTrue(yield* deepNewDir.isDir())
          yield* deepNewDir.rmdir()
          yield* deepNewDir.parent.rmdir()

          if (features.permissions) {
            yield* deepNewDir.mkdir({ mode: 0o660, parents: true })
            assert.isTrue(yield* deepNewDir.parent.isDir())
            // Missing parents get the default mode, the leaf the requested one; the umask applies to both.
            assert.strictEqual(yield* modeOf(deepNewDir.parent), 0o777 & ~umask)
            assert.strictEqual(yield* modeOf(deepNewDir), 0o660 & ~umask)
            // Cerulean's checks, for its umask 022: the parent is others-readable and not group- or
            // others-writable; the leaf is neither owner-executable nor others-readable.
            for (const p of allPermissions) {
              const parentMode = 0o777 & ~umask
              const leafMode = 0o660 & ~umask
              assert.strictEqual(yield* deepNewDir.parent.hasPermission(p), Permission.isSet(parentMode, p), p)
              assert.strictEqual(yield* deepNewDir.hasPermission(p), Permission.isSet(leafMode, p), p)
            }
          } else {
            yield* deepNewDir.mkdir({ parents: true })
          }

          yield* failsWith(deepNewDir.mkdir(), "AlreadyExists", deepNewDir)
          yield* deepNewDir.mkdir({ existsOk: true })
          yield* deepNewDir.mkdir({ parents: true, existsOk: true })
          assert.isTrue(yield* deepNewDir.isDir())
          yield* deepNewDir.rmdir()
          yield* deepNewDir.parent.rmdir()
          assert.isFalse(yield* deepNewDir.parent.exists())
        }))

      test("mkdir fails with NotFound without parents, NotADirectory below a file, AlreadyExists on a file", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          yield* failsWith(scratch.join("a", "b").mkdir(), "NotFound")
          const file = scratch.join("file")
          yield* file.touch()
          yield* failsWith(file.join("sub").mkdir(), "NotADirectory")
          yield* failsWith(file.join("sub", "deeper").mkdir({ parents: true }), "NotADirectory")
          yield* failsWith(file.mkdir(), "AlreadyExists", file)
          // existsOk accepts an existing directory only.
          yield* failsWith(file.mkdir({ existsOk: true }), "AlreadyExists", file)
          assert.isFalse(yield* scratch.join("a").exists())
        }))

      test("iterdir lists the fixture directory: exactly its entries, sorted by name, as paths below it", () =>
        Effect.gen(function*() {
          const { fx } = yield* withFixtures
          const entries = yield* Stream.runCollect(fx.dir.iterdir())
          const expected = features.symlinks
            ? ["executable", "file0", "file1", "link0", "link1", "link2", "link3", "link4", "private"]
            : ["executable", "file0", "file1", "link0", "link1", "private"]
          assert.deepStrictEqual(entries.map((p) => p.name), expected)
          for (const entry of entries) {
            assert.isTrue(entry.parent.equals(fx.dir), `${entry} is below ${fx.dir}`)
          }
        }))

      test("iterdir is sorted by name whatever the creation order, and empty for an empty directory", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          assert.deepStrictEqual(yield* sortedNames(scratch), [])
          const names = ["b", "a", "C", "10", "9", ".hidden", "a.txt", "B"]
          for (const n of names) yield* scratch.join(n).touch()
          assert.deepStrictEqual(yield* sortedNames(scratch), [...names].sort())
        }))

      test("iterdir fails with NotADirectory on a file and NotFound on a missing path", () =>
        Effect.gen(function*() {
          const { fx } = yield* withFixtures
          yield* failsWith(Stream.runCollect(fx.file.iterdir()), "NotADirectory", fx.file)
          yield* failsWith(Stream.runCollect(fx.root.join("nonexistent").iterdir()), "NotFound")
        }))

      test("readDirectory gives the lstat information of each entry", () =>
        Effect.gen(function*() {
          const { fs, fx } = yield* withFixtures
          const entries = yield* fs.readDirectory(fx.dir.path)
          const byName = new Map(entries.map((e) => [e.name, e.info]))
          assert.strictEqual(byName.get("file0")?.type, "File")
          assert.strictEqual(byName.get("file0")?.size, 12)
          assert.strictEqual(byName.get("file1")?.size, 0)
          if (features.symlinks) {
            assert.strictEqual(byName.get("link0")?.type, "SymbolicLink")
            assert.strictEqual(byName.get("link2")?.type, "SymbolicLink")
            assert.strictEqual(byName.get("link3")?.type, "SymbolicLink")
          }
          if (features.permissions) {
            assert.strictEqual(byName.get("executable")?.mode, 0o744)
            assert.strictEqual(byName.get("private")?.mode, 0o600)
          }
        }))

      test("rmdir: empty, non-empty (DirectoryNotEmpty), recursive, a file (NotADirectory), missing (NotFound)", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const newDir = scratch.join("testdir")
          yield* newDir.mkdir()
          yield* newDir.rmdir()
          assert.isFalse(yield* newDir.exists())

          yield* scratch.join("keep").touch()
          yield* failsWith(scratch.rmdir(), "DirectoryNotEmpty", scratch)
          assert.isTrue(yield* scratch.join("keep").exists())

          yield* newDir.mkdir()
          yield* newDir.join("file.txt").touch()
          yield* newDir.join("sub", "deeper").mkdir({ parents: true })
          yield* newDir.join("sub", "deeper", "x").writeText("x")
          yield* newDir.rmdir({ recursive: true })
          assert.isFalse(yield* newDir.exists())

          const file = scratch.join("keep")
          yield* failsWith(file.rmdir(), "NotADirectory", file)
          yield* failsWith(file.rmdir({ recursive: true }), "NotADirectory", file)
          assert.isTrue(yield* file.exists())
          yield* failsWith(newDir.rmdir(), "NotFound", newDir)
          yield* failsWith(newDir.rmdir({ recursive: true }), "NotFound", newDir)
        }))

      test("readStream: the chunks join to the file's content", () =>
        Effect.gen(function*() {
          const { fx } = yield* withFixtures
          const chunks = yield* Stream.runCollect(fx.file.readStream())
          assert.strictEqual(chunks.map((c) => decoder.decode(c)).join(""), hello)
          assert.strictEqual(decoder.decode(yield* fx.link.readBytes()), hello)
          assert.deepStrictEqual(yield* Stream.runCollect(fx.otherFile.readStream()).pipe(
            Effect.map((cs) => cs.reduce((n, c) => n + c.length, 0))
          ), 0)
        }))

      test("readStream fails with NotFound on a missing file and IsADirectory on a directory", () =>
        Effect.gen(function*() {
          const { fx } = yield* withFixtures
          const missing = fx.root.join("nonexistent")
          yield* failsWith(Stream.runCollect(missing.readStream()), "NotFound", missing)
          yield* failsWith(Stream.runCollect(fx.dir.readStream()), "IsADirectory", fx.dir)
          if (features.symlinks) yield* failsWith(fx.brokenLink.readText(), "NotFound", fx.brokenLink)
        }))

      test("writeStream: Helo + , world! reads back as Helo, world!; the new file gets 0o666 under the umask", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const newFile = scratch.join("test.txt")
          yield* newFile.writeStream(Stream.make(encoder.encode("Helo"), encoder.encode(", world!")))
          const chunks = yield* Stream.runCollect(newFile.readStream())
          assert.strictEqual(chunks.map((c) => decoder.decode(c)).join(""), "Helo, world!")
          if (features.permissions) assert.strictEqual(yield* modeOf(newFile), 0o666 & ~umask)
          yield* newFile.unlink()
          assert.isFalse(yield* newFile.exists())
        }))

      test("writeStream replaces (truncates) an existing file and keeps its permissions", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const path = scratch.join("over.txt")
          yield* path.writeText("a rather long first version of the content")
          if (features.permissions) yield* path.chmod(0o640)
          yield* path.writeStream(Stream.make(encoder.encode("short")))
          assert.strictEqual(yield* path.readText(), "short")
          assert.strictEqual(yield* path.size(), 5)
          if (features.permissions) assert.strictEqual(yield* modeOf(path), 0o640)
        }))

      test("writeStream of an empty stream creates an empty file", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const path = scratch.join("empty")
          yield* path.writeStream(Stream.empty)
          assert.isTrue(yield* path.isFile())
          assert.strictEqual(yield* path.size(), 0)
        }))

      test("writeStream of many small chunks keeps every byte in order", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const path = scratch.join("many")
          const chunks = Array.from({ length: 3000 }, (_, i) => {
            const c = new Uint8Array(1 + (i * 37) % 97)
            c.fill(i % 251)
            return c
          })
          yield* path.writeStream(Stream.fromIterable(chunks))
          const expected = yield* digest(Stream.fromIterable(chunks))
          const actual = yield* digest(path.readStream())
          assert.strictEqual(actual.bytes, expected.bytes)
          assert.strictEqual(actual.sha256, expected.sha256)
          assert.strictEqual(yield* path.size(), expected.bytes)
        }))

      test("writeStream fails with the source stream's own error", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const path = scratch.join("broken-source")
          const error = yield* Effect.flip(
            path.writeStream(
              Stream.concat(Stream.make(encoder.encode("partial")), Stream.fail("source failed" as const))
            )
          )
          assert.strictEqual(error, "source failed")
        }))

      test("writeStream fails with IsADirectory on a directory and NotFound below a missing directory", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          yield* failsWith(scratch.writeText("x"), "IsADirectory", scratch)
          yield* failsWith(scratch.join("missing", "x").writeText("x"), "NotFound")
        }))

      test("large file: a streamed round trip keeps size and SHA-256, and is read in several chunks", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const path = scratch.join("large.bin")
          const size = features.largeFileSize
          yield* path.writeStream(noise(size, 64 * 1024))
          const expected = yield* digest(noise(size, 64 * 1024))
          assert.strictEqual(yield* path.size(), size)
          const actual = yield* digest(path.readStream())
          assert.strictEqual(actual.bytes, size)
          assert.strictEqual(actual.sha256, expected.sha256)
          assert.isAbove(actual.chunks, 1, "read as a stream, not as one buffer")
        }))

      test("readBytes, readText, writeBytes, writeText round trip", () =>
        Effect.gen(function*() {
          const { scratch, fx } = yield* withFixtures
          assert.deepStrictEqual(yield* fx.file.readBytes(), encoder.encode(hello))
          assert.strictEqual(yield* fx.file.readText(), hello)
          const newFile = scratch.join("test.txt")
          const data = encoder.encode("Hello, world!")
          yield* newFile.writeBytes(data)
          assert.deepStrictEqual(yield* newFile.readBytes(), data)
          const text = "Hello, wörld! ✓ 日本\n"
          yield* newFile.writeText(text)
          assert.strictEqual(yield* newFile.readText(), text)
          yield* newFile.unlink()
        }))

      test("readText fails with Io on invalid UTF-8", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const path = scratch.join("latin1")
          yield* path.writeBytes(new Uint8Array([0x48, 0xe9, 0x6c, 0x6c, 0x6f]))
          yield* failsWith(path.readText(), "Io")
        }))

      test("rename: file to a new name and back", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const file = scratch.join("file0")
          const newFile = scratch.join("test.txt")
          yield* file.writeText(hello)
          yield* file.rename(newFile)
          assert.isFalse(yield* file.exists())
          assert.strictEqual(yield* newFile.readText(), hello)
          yield* newFile.rename(file)
          assert.isFalse(yield* newFile.exists())
          assert.strictEqual(yield* file.readText(), hello)
        }))

      test("rename replaces an existing file, moves directories with their content", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const a = scratch.join("a")
          const b = scratch.join("b")
          yield* a.writeText("from a")
          yield* b.writeText("from b, longer")
          yield* a.rename(b)
          assert.isFalse(yield* a.exists())
          assert.strictEqual(yield* b.readText(), "from a")

          const dir = scratch.join("dir")
          yield* dir.join("sub").mkdir({ parents: true })
          yield* dir.join("sub", "f").writeText("inside")
          const moved = scratch.join("moved")
          yield* dir.rename(moved)
          assert.isFalse(yield* dir.exists())
          assert.strictEqual(yield* moved.join("sub", "f").readText(), "inside")
          yield* moved.join("sub", "f").rename(scratch.join("out"))
          assert.strictEqual(yield* scratch.join("out").readText(), "inside")
        }))

      test("rename fails: NotFound (missing source), IsADirectory (onto a directory), Unsupported (across)", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const missing = scratch.join("missing")
          yield* failsWith(missing.rename(scratch.join("x")), "NotFound")
          const file = scratch.join("f")
          yield* file.writeText("f")
          const dir = scratch.join("d")
          yield* dir.join("inside").mkdir({ parents: true })
          yield* failsWith(file.rename(dir), "IsADirectory")
          yield* failsWith(dir.rename(file), "NotADirectory")
          const other = MemoryFileSystem.makeUnsafe()
          yield* failsWith(file.rename(other.path("f")), "Unsupported", file)
          assert.strictEqual(yield* file.readText(), "f")
          assert.isTrue(yield* dir.join("inside").isDir())
        }))

      test("unlink removes a file; NotFound when missing, IsADirectory on a directory", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const newFile = scratch.join("test.txt")
          yield* newFile.touch()
          assert.isTrue(yield* newFile.exists())
          yield* newFile.unlink()
          assert.isFalse(yield* newFile.exists())
          yield* failsWith(newFile.unlink(), "NotFound", newFile)
          const dir = scratch.join("dir")
          yield* dir.mkdir()
          yield* failsWith(dir.unlink(), "IsADirectory", dir)
          assert.isTrue(yield* dir.isDir())
        }))

      test("entry types: isDir, isFile, isSymlink and entryType of the fixtures", () =>
        Effect.gen(function*() {
          const { fx } = yield* withFixtures
          const newDir = fx.root.join("testdir-that-does-not-exist")
          const newFile = fx.root.join("test-that-does-not-exist.txt")
          assert.isTrue(yield* fx.root.isDir())
          assert.isFalse(yield* fx.file.isDir())
          assert.isFalse(yield* newDir.isDir())

          assert.isTrue(yield* fx.file.isFile())
          assert.isFalse(yield* fx.root.isFile())
          assert.isFalse(yield* newFile.isFile())

          assert.isFalse(yield* newFile.isSymlink())
          assert.isFalse(yield* fx.file.isSymlink())
          assert.isTrue(yield* fx.link.isFile())
          assert.isFalse(yield* fx.link.isDir())

          assert.strictEqual(yield* fx.root.entryType(), "Directory")
          assert.strictEqual(yield* fx.file.entryType(), "File")
          yield* failsWith(newFile.entryType(), "NotFound", newFile)

          if (features.symlinks) {
            assert.isTrue(yield* fx.link.isSymlink())
            assert.isTrue(yield* fx.brokenLink.isSymlink())
            assert.isFalse(yield* fx.brokenLink.isFile())
            assert.isFalse(yield* fx.brokenLink.isDir())
            assert.isTrue(yield* fx.linkLoop.isSymlink())
            assert.isFalse(yield* fx.linkLoop.isFile())
            assert.strictEqual(yield* fx.link.entryType(), "SymbolicLink")
            // Fixed: Cerulean's local backend raised FileNotFoundError here; every backend now agrees.
            assert.strictEqual(yield* fx.brokenLink.entryType(), "SymbolicLink")
            assert.strictEqual(yield* fx.linkLoop.entryType(), "SymbolicLink")
          } else {
            assert.strictEqual(yield* fx.link.entryType(), "File")
          }
          if (specials.includes("Fifo")) assert.strictEqual(yield* fx.fifo.entryType(), "Fifo")
          if (specials.includes("BlockDevice")) assert.strictEqual(yield* fx.blockdev.entryType(), "BlockDevice")
          if (specials.includes("CharacterDevice")) {
            assert.strictEqual(yield* fx.chardev.entryType(), "CharacterDevice")
          }
          for (const special of specials) {
            const path = special === "Fifo" ? fx.fifo : special === "BlockDevice" ? fx.blockdev : fx.chardev
            assert.isTrue(yield* path.exists())
            assert.isFalse(yield* path.isFile())
            assert.isFalse(yield* path.isDir())
            assert.isFalse(yield* path.isSymlink())
          }
        }))

      test("size: file0 is 12, file1 is 0, link0 (followed) is 12; NotFound when missing", () =>
        Effect.gen(function*() {
          const { fx } = yield* withFixtures
          assert.strictEqual(yield* fx.file.size(), 12)
          assert.strictEqual(yield* fx.otherFile.size(), 0)
          assert.strictEqual(yield* fx.root.join("links", "file1").size(), 0)
          assert.strictEqual(yield* fx.link.size(), 12)
          assert.strictEqual(yield* fx.multiLink.size(), 12)
          yield* failsWith(fx.root.join("nonexistent").size(), "NotFound")
          if (features.symlinks) yield* failsWith(fx.brokenLink.size(), "NotFound")
        }))

      test("stat: type, size, mode and a recent modification time; lstat does not follow a link", () =>
        Effect.gen(function*() {
          const { scratch, fx } = yield* withFixtures
          const before = yield* Clock.currentTimeMillis
          const path = scratch.join("stat.txt")
          yield* path.writeText(hello)
          const after = yield* Clock.currentTimeMillis
          const info = yield* path.stat()
          assert.strictEqual(info.type, "File")
          assert.strictEqual(info.size, 12)
          if (features.permissions) assert.strictEqual(info.mode, 0o666 & ~umask)
          assert.isDefined(info.mtime)
          const slack = features.mtimeResolution + features.clockSkew
          assert.isAtLeast(info.mtime!.getTime(), before - slack)
          assert.isAtMost(info.mtime!.getTime(), after + slack)

          assert.strictEqual((yield* fx.file.stat()).size, 12)
          assert.strictEqual((yield* fx.dir.stat()).type, "Directory")
          if (features.symlinks) {
            assert.strictEqual((yield* fx.link.stat()).type, "File")
            assert.strictEqual((yield* fx.link.lstat()).type, "SymbolicLink")
            assert.strictEqual((yield* fx.brokenLink.lstat()).type, "SymbolicLink")
            yield* failsWith(fx.brokenLink.stat(), "NotFound", fx.brokenLink)
            yield* failsWith(fx.linkLoop.stat(), "LinkLoop", fx.linkLoop)
          }
        }))

      test("owner: uid and gid of the fixtures (links followed) are the expected owner's", () =>
        Effect.gen(function*() {
          const { scratch, fx } = yield* withFixtures
          const treeOwner = yield* fixtureOwner(scratch)
          for (const path of [fx.root, fx.dir, fx.file, fx.link]) {
            assert.strictEqual(yield* path.uid(), treeOwner.uid, `uid of ${path}`)
            assert.strictEqual(yield* path.gid(), treeOwner.gid, `gid of ${path}`)
          }
          const owner = yield* expectedOwner(scratch)
          const created = scratch.join("mine")
          yield* created.mkdir()
          assert.strictEqual(yield* created.uid(), owner.uid)
          assert.strictEqual(yield* created.gid(), owner.gid)
          yield* failsWith(fx.root.join("nonexistent").uid(), "NotFound")
        }))

      if (features.permissions) {
        test("hasPermission: the fixture root is 755, file0 644, executable 744, private 600", () =>
          Effect.gen(function*() {
            const { fx } = yield* withFixtures
            for (const p of allPermissions) {
              assert.strictEqual(yield* fx.root.hasPermission(p), rwxrxrx.includes(p), `${p} of ${fx.root}`)
            }
            assert.isFalse(yield* fx.file.hasPermission("OthersWrite"))
            assert.strictEqual(yield* modeOf(fx.root), 0o755)
            assert.strictEqual(yield* modeOf(fx.file), 0o644)
            assert.strictEqual(yield* modeOf(fx.executable), 0o744)
            assert.strictEqual(yield* modeOf(fx.private), 0o600)
            // Permissions of a link are those of its target.
            assert.strictEqual(yield* modeOf(fx.link), 0o644)
          }))

        test("setPermission: clearing all twelve bits, then setting each one alone", () =>
          Effect.gen(function*() {
            const { scratch } = yield* setup
            const dir = scratch.join("perms")
            yield* dir.mkdir()
            yield* Effect.addFinalizer(() => Effect.ignore(dir.chmod(0o755)))
            for (const p of allPermissions) yield* dir.setPermission(p, false)
            for (const p of allPermissions) assert.isFalse(yield* dir.hasPermission(p), `${p} cleared`)
            assert.strictEqual(yield* modeOf(dir), 0)
            for (const p of allPermissions) {
              yield* dir.setPermission(p, true)
              for (const p2 of allPermissions) {
                assert.strictEqual(yield* dir.hasPermission(p2), p === p2, `${p2} after setting only ${p}`)
              }
              assert.strictEqual(yield* modeOf(dir), Permission.bits[p])
              yield* dir.setPermission(p, false)
            }
            yield* dir.chmod(0o755)
            yield* dir.setPermission("OwnerWrite", true)
            assert.strictEqual(yield* modeOf(dir), 0o755)
            yield* dir.setPermission("GroupWrite")
            assert.strictEqual(yield* modeOf(dir), 0o775)
          }))

        test("chmod: 0o000 clears every bit, 0o755 gives exactly rwxr-xr-x; a link's target changes", () =>
          Effect.gen(function*() {
            const { scratch } = yield* setup
            const dir = scratch.join("chmod")
            yield* dir.mkdir()
            yield* Effect.addFinalizer(() => Effect.ignore(dir.chmod(0o755)))
            yield* dir.chmod(0o000)
            for (const p of allPermissions) assert.isFalse(yield* dir.hasPermission(p))
            yield* dir.chmod(0o755)
            for (const p of allPermissions) assert.strictEqual(yield* dir.hasPermission(p), rwxrxrx.includes(p), p)
            assert.strictEqual(yield* modeOf(dir), 0o755)

            const file = scratch.join("file")
            yield* file.touch()
            yield* file.chmod(0o4751)
            assert.strictEqual(yield* modeOf(file), 0o4751)
            if (features.symlinks) {
              const link = scratch.join("link")
              yield* link.symlinkTo(file)
              yield* link.chmod(0o600)
              assert.strictEqual(yield* modeOf(file), 0o600)
              assert.strictEqual((yield* link.lstat()).type, "SymbolicLink")
            }
            yield* failsWith(scratch.join("missing").chmod(0o644), "NotFound")
          }))
      } else {
        test("chmod and setPermission fail with Unsupported", () =>
          Effect.gen(function*() {
            const { scratch } = yield* setup
            const file = scratch.join("file")
            yield* file.touch()
            yield* failsWith(file.chmod(0o644), "Unsupported")
            yield* failsWith(file.setPermission("OthersWrite", true), "Unsupported")
          }))
      }

      if (features.symlinks) {
        test("symlinkTo: the link is a symlink and a file; unlinking it leaves the target", () =>
          Effect.gen(function*() {
            const { scratch, fx } = yield* withFixtures
            const newFile = scratch.join("test.txt")
            yield* newFile.symlinkTo(fx.file)
            assert.isTrue(yield* newFile.isSymlink())
            assert.isTrue(yield* newFile.isFile())
            assert.strictEqual(yield* newFile.readText(), hello)
            assert.strictEqual(yield* newFile.readlinkText(), fx.file.path)
            yield* newFile.unlink()
            assert.isFalse(yield* newFile.exists())
            assert.isTrue(yield* fx.file.exists())
          }))

        test("symlinkTo: relative text stays relative; links to directories; AlreadyExists; Unsupported across", () =>
          Effect.gen(function*() {
            const { scratch } = yield* setup
            yield* scratch.join("target", "sub").mkdir({ parents: true })
            yield* scratch.join("target", "f").writeText("rel")
            const rel = scratch.join("rel")
            yield* rel.symlinkTo("target/f")
            assert.strictEqual(yield* rel.readlinkText(), "target/f")
            assert.strictEqual(yield* rel.readText(), "rel")
            const dirLink = scratch.join("dirlink")
            yield* dirLink.symlinkTo(scratch.join("target"))
            assert.isTrue(yield* dirLink.isDir())
            assert.isTrue(yield* dirLink.isSymlink())
            assert.deepStrictEqual(yield* sortedNames(dirLink), ["f", "sub"])
            // Links in the middle of a path are followed.
            assert.strictEqual(yield* dirLink.join("f").readText(), "rel")
            yield* failsWith(rel.symlinkTo("elsewhere"), "AlreadyExists", rel)
            yield* failsWith(scratch.join("target", "f").symlinkTo("x"), "AlreadyExists")
            const other = MemoryFileSystem.makeUnsafe()
            yield* failsWith(scratch.join("cross").symlinkTo(other.path("f")), "Unsupported")
            assert.isFalse(yield* scratch.join("cross").isSymlink())
          }))

        test("touch and writeStream through a broken link create its target", () =>
          Effect.gen(function*() {
            const { scratch } = yield* setup
            const link = scratch.join("dangling")
            yield* link.symlinkTo("target.txt")
            assert.isFalse(yield* link.exists())
            yield* link.touch()
            assert.isTrue(yield* scratch.join("target.txt").isFile())
            assert.isTrue(yield* link.isSymlink())
            const link2 = scratch.join("dangling2")
            yield* link2.symlinkTo(scratch.join("target2.txt"))
            yield* link2.writeText("through")
            assert.strictEqual(yield* scratch.join("target2.txt").readText(), "through")
          }))

        test("readlink: absolute targets, recursive chains, a broken link, a loop (LinkLoop)", () =>
          Effect.gen(function*() {
            const { fx } = yield* withFixtures
            const links = fx.dir.path
            assert.strictEqual((yield* fx.link.readlink()).toString(), `${links}/file0`)
            assert.strictEqual((yield* fx.multiLink.readlink()).toString(), `${links}/link0`)
            assert.strictEqual((yield* fx.multiLink.readlink({ recursive: true })).toString(), `${links}/file0`)
            assert.strictEqual((yield* fx.brokenLink.readlink()).toString(), "/doesnotexist")
            assert.strictEqual((yield* fx.brokenLink.readlink({ recursive: true })).toString(), "/doesnotexist")
            assert.strictEqual((yield* fx.linkLoop.readlink()).toString(), `${links}/link4`)
            assert.isTrue((yield* fx.link.readlink()).fs.equals(fx.link.fs))
            yield* failsWith(fx.linkLoop.readlink({ recursive: true }), "LinkLoop", fx.linkLoop)
          }))

        test("readlink: relative link texts resolve against the link's directory; non-links fail", () =>
          Effect.gen(function*() {
            const { scratch } = yield* setup
            yield* scratch.join("a").mkdir()
            yield* scratch.join("b").mkdir()
            yield* scratch.join("c").mkdir()
            yield* scratch.join("c", "file").writeText("end")
            yield* scratch.join("a", "l1").symlinkTo("../b/l2")
            yield* scratch.join("b", "l2").symlinkTo("../c/file")
            assert.strictEqual(yield* scratch.join("a", "l1").readlinkText(), "../b/l2")
            assert.strictEqual((yield* scratch.join("a", "l1").readlink()).toString(), scratch.join("b", "l2").path)
            assert.strictEqual(
              (yield* scratch.join("a", "l1").readlink({ recursive: true })).toString(),
              scratch.join("c", "file").path
            )
            assert.strictEqual(yield* scratch.join("a", "l1").readText(), "end")
            yield* failsWith(scratch.join("c", "file").readlink(), "Io")
            yield* failsWith(scratch.join("missing").readlink(), "NotFound")
          }))
      } else {
        test("symlinkTo fails with Unsupported", () =>
          Effect.gen(function*() {
            const { scratch } = yield* setup
            yield* scratch.join("target").touch()
            yield* failsWith(scratch.join("link").symlinkTo(scratch.join("target")), "Unsupported")
          }))
      }

      if (features.deniesAccess) {
        test("permission denied: reading, listing, creating in and passing through locked entries", () =>
          Effect.gen(function*() {
            const { scratch } = yield* setup
            const file = scratch.join("secret")
            yield* file.writeText("secret")
            yield* file.chmod(0o000)
            yield* failsWith(file.readText(), "PermissionDenied", file)
            yield* failsWith(file.writeText("x"), "PermissionDenied", file)
            const dir = scratch.join("locked")
            yield* dir.join("inside").mkdir({ parents: true })
            yield* Effect.addFinalizer(() => Effect.ignore(dir.chmod(0o755)))
            yield* dir.chmod(0o000)
            yield* failsWith(Stream.runCollect(dir.iterdir()), "PermissionDenied", dir)
            yield* failsWith(dir.join("inside").exists(), "PermissionDenied")
            // Not finding out whether something is there is not "nothing to remove".
            yield* failsWith(dir.join("inside").remove(), "PermissionDenied")
            yield* failsWith(dir.join("new").touch(), "PermissionDenied")
            yield* dir.chmod(0o555)
            yield* failsWith(dir.join("new").touch(), "PermissionDenied")
            yield* failsWith(dir.join("new").mkdir(), "PermissionDenied")
            yield* failsWith(dir.join("inside").rmdir(), "PermissionDenied")
            assert.deepStrictEqual(yield* sortedNames(dir), ["inside"])
            // Listing needs read permission even when there is nothing to stat.
            const writeOnly = scratch.join("write-only")
            yield* writeOnly.mkdir()
            yield* Effect.addFinalizer(() => Effect.ignore(writeOnly.chmod(0o755)))
            yield* writeOnly.chmod(0o300)
            yield* failsWith(Stream.runCollect(writeOnly.iterdir()), "PermissionDenied", writeOnly)
            yield* writeOnly.join("created").touch()
          }))
      } else if (features.permissions) {
        test("permission bits do not stop this user (root): locked entries are still read and listed", () =>
          Effect.gen(function*() {
            const { scratch } = yield* setup
            const file = scratch.join("secret")
            yield* file.writeText("secret")
            yield* file.chmod(0o000)
            assert.strictEqual(yield* file.readText(), "secret")
            const dir = scratch.join("locked")
            yield* dir.join("inside").mkdir({ parents: true })
            yield* dir.chmod(0o000)
            yield* Effect.addFinalizer(() => Effect.ignore(dir.chmod(0o755)))
            assert.deepStrictEqual(yield* sortedNames(dir), ["inside"])
            yield* dir.join("new").touch()
            assert.isTrue(yield* dir.join("new").exists())
          }))
      }
    })

    // ------------------------------------------------------------------ test_path.py

    describe("path", () => {
      test("create: the root path prints as /", () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          assert.strictEqual(new Path(fs, "/").toString(), "/")
          assert.strictEqual(fs.root.toString(), "/")
        }))

      test("joinpath and join (Cerulean's /) build the fixture paths", () =>
        Effect.gen(function*() {
          const { fx } = yield* withFixtures
          assert.isTrue(fx.root.joinpath("links").equals(fx.dir))
          assert.isTrue(fx.dir.join("file0").equals(fx.file))
          assert.isTrue(fx.root.join("/links/", "file0").equals(fx.file))
          assert.isTrue(fx.root.join("links/file0").equals(fx.file))
        }))

      test("withName: /home becomes /usr; withSuffix: /test.txt becomes /test.dat", () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          assert.strictEqual(fs.path("home").withName("usr").toString(), "/usr")
          assert.strictEqual(fs.path("test.txt").withSuffix(".dat").toString(), "/test.dat")
        }))

      test("readBytes of file0 decodes to Hello World", () =>
        Effect.gen(function*() {
          const { fx } = yield* withFixtures
          assert.strictEqual(decoder.decode(yield* fx.file.readBytes()), hello)
        }))

      test("writeText then readText gives the text back", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const newFile = scratch.join("test.txt")
          yield* newFile.writeText(hello)
          const text = yield* newFile.readText()
          yield* newFile.unlink()
          assert.strictEqual(text, hello)
        }))

      test("remove: a file, an empty directory, a nested directory; a missing path is a no-op", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const newFile = scratch.join("test.txt")
          const newDir = scratch.join("testdir")
          yield* newFile.writeText("Hello, world")
          yield* newFile.remove()
          assert.isFalse(yield* newFile.exists())

          yield* newDir.mkdir()
          yield* newDir.remove()
          assert.isFalse(yield* newDir.exists())

          yield* newDir.mkdir()
          yield* newDir.join("test").mkdir()
          yield* newDir.join("test", "test.txt").writeText("testing")
          yield* newDir.remove()
          assert.isFalse(yield* newDir.exists())

          yield* newDir.remove()
          yield* newFile.remove()
          assert.isFalse(yield* newDir.exists())
        }))

      if (features.symlinks) {
        test("remove of a link removes the link only: its target (file or directory tree) stays", () =>
          Effect.gen(function*() {
            const { scratch } = yield* setup
            const file = scratch.join("file0")
            yield* file.writeText(hello)
            const newFile = scratch.join("test.txt")
            yield* newFile.symlinkTo(file)
            yield* newFile.remove()
            assert.isFalse(yield* newFile.exists())
            assert.isFalse(yield* newFile.isSymlink())
            assert.isTrue(yield* file.exists())

            const outside = scratch.join("outside")
            yield* outside.join("sub").mkdir({ parents: true })
            yield* outside.join("sub", "precious").writeText("keep")
            const tree = scratch.join("tree")
            yield* tree.mkdir()
            yield* tree.join("to-dir").symlinkTo(outside)
            yield* tree.join("to-file").symlinkTo(outside.join("sub", "precious"))
            yield* tree.join("broken").symlinkTo("/doesnotexist")
            yield* tree.join("to-dir").remove()
            assert.strictEqual(yield* outside.join("sub", "precious").readText(), "keep")
            yield* tree.remove()
            assert.isFalse(yield* tree.exists())
            assert.strictEqual(yield* outside.join("sub", "precious").readText(), "keep")

            const broken = scratch.join("broken")
            yield* broken.symlinkTo("/doesnotexist")
            yield* broken.remove()
            assert.isFalse(yield* broken.isSymlink())
          }))

        test("rmdir of a link to a directory fails with NotADirectory and leaves both in place", () =>
          Effect.gen(function*() {
            const { scratch } = yield* setup
            const target = scratch.join("target")
            yield* target.join("f").mkdir({ parents: true })
            const link = scratch.join("link")
            yield* link.symlinkTo(target)
            yield* failsWith(link.rmdir(), "NotADirectory", link)
            yield* failsWith(link.rmdir({ recursive: true }), "NotADirectory", link)
            assert.isTrue(yield* link.isSymlink())
            assert.isTrue(yield* target.join("f").isDir())
          }))
      }

      /** Cerulean's walk expectations, without the `dir_link` entries where there are no links. */
      const linked = (paths: ReadonlyArray<string>) =>
        features.symlinks ? paths : paths.filter((p) => !p.endsWith("/dir_link"))

      test("walk top-down", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const newdir = scratch.join("testdir")
          yield* makeWalkDir(newdir, features.symlinks)
          const { dirs, files, subdirs } = yield* collectWalk(newdir)
          const n = newdir.toString()
          assert.deepStrictEqual(dirs, [n, `${n}/dir1`, `${n}/dir1/dir2`, `${n}/dir3`])
          assert.deepStrictEqual(subdirs, linked([`${n}/dir1`, `${n}/dir3`, `${n}/dir1/dir2`, `${n}/dir1/dir_link`]))
          assert.deepStrictEqual(files, [`${n}/file2`, `${n}/file3`, `${n}/dir1/file1`])
          yield* newdir.rmdir({ recursive: true })
          assert.isTrue(yield* scratch.exists())
          assert.isFalse(yield* newdir.exists())
        }))

      test("walk bottom-up", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const newdir = scratch.join("testdir")
          yield* makeWalkDir(newdir, features.symlinks)
          const { dirs, files, subdirs } = yield* collectWalk(newdir, { topDown: false })
          const n = newdir.toString()
          assert.deepStrictEqual(dirs, [`${n}/dir1/dir2`, `${n}/dir1`, `${n}/dir3`, n])
          assert.deepStrictEqual(subdirs, linked([`${n}/dir1/dir2`, `${n}/dir1/dir_link`, `${n}/dir1`, `${n}/dir3`]))
          assert.deepStrictEqual(files, [`${n}/dir1/file1`, `${n}/file2`, `${n}/file3`])
        }))

      if (features.symlinks) {
        test("walk following links to directories", () =>
          Effect.gen(function*() {
            const { scratch } = yield* setup
            yield* makeWalkDir(scratch.join("testdir"), true)
            const dir1 = scratch.join("testdir", "dir1")
            const { dirs, files, subdirs } = yield* collectWalk(dir1, { followLinks: true })
            const d = dir1.toString()
            assert.deepStrictEqual(dirs, [d, `${d}/dir2`, `${d}/dir_link`])
            assert.deepStrictEqual(subdirs, [`${d}/dir2`, `${d}/dir_link`])
            assert.deepStrictEqual(files, [`${d}/file1`])
          }))
      }

      if (features.permissions) {
        test("walk with onError: an unreadable directory is reported once, with its path", () =>
          Effect.gen(function*() {
            const { scratch } = yield* setup
            const newdir = scratch.join("testdir")
            yield* makeWalkDir(newdir, features.symlinks)
            const dir1 = newdir.join("dir1")
            yield* Effect.addFinalizer(() => Effect.ignore(dir1.chmod(0o755)))
            yield* dir1.chmod(0o000)
            const reported: Array<FileSystemError.FileSystemError> = []
            const { dirs } = yield* collectWalk(newdir, {
              onError: (error) => Effect.sync(() => reported.push(error))
            })
            if (features.deniesAccess) {
              assert.strictEqual(reported.length, 1)
              assert.strictEqual(reported[0]!.path, dir1.path)
              assert.strictEqual(reported[0]!.reason._tag, "PermissionDenied")
              assert.deepStrictEqual(dirs, [newdir.toString(), newdir.join("dir3").toString()])
              yield* failsWith(Stream.runCollect(newdir.walk({ onError: "fail" })), "PermissionDenied", dir1)
              const ignored = yield* collectWalk(newdir)
              assert.deepStrictEqual(ignored.dirs, dirs)
            } else {
              // Nothing stops this user (root ignores the bits): dir1 is listed like any other.
              assert.strictEqual(reported.length, 0)
              assert.include(dirs, dir1.toString())
            }
          }))
      }

      test("walk of a missing directory reports NotFound (or fails with onError: \"fail\")", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const missing = scratch.join("missing")
          const reported: Array<FileSystemError.FileSystemError> = []
          const steps = yield* Stream.runCollect(missing.walk({
            onError: (error) => Effect.sync(() => reported.push(error))
          }))
          assert.strictEqual(steps.length, 0)
          assert.strictEqual(reported.length, 1)
          assert.strictEqual(reported[0]!.reason._tag, "NotFound")
          yield* failsWith(Stream.runCollect(missing.walk({ onError: "fail" })), "NotFound", missing)
        }))

      test("walk of a directory tree without links lists everything", () =>
        Effect.gen(function*() {
          const { scratch } = yield* setup
          const top = scratch.join("top")
          yield* top.join("a", "b").mkdir({ parents: true })
          yield* top.join("a", "x.txt").writeText("x")
          yield* top.join("y.txt").writeText("y")
          const { dirs, files, subdirs } = yield* collectWalk(top)
          const t = top.toString()
          assert.deepStrictEqual(dirs, [t, `${t}/a`, `${t}/a/b`])
          assert.deepStrictEqual(subdirs, [`${t}/a`, `${t}/a/b`])
          assert.deepStrictEqual(files, [`${t}/y.txt`, `${t}/a/x.txt`])
        }))
    })

    // ------------------------------------------------------------------ odd names

    describe("odd names", () => {
      for (const odd of features.oddNames) {
        test(`${JSON.stringify(odd)}: created, listed, read, renamed, removed`, () =>
          Effect.gen(function*() {
            const { scratch } = yield* setup
            const file = scratch.join(odd)
            assert.strictEqual(file.name, odd)
            yield* file.writeText(odd)
            assert.deepStrictEqual(yield* sortedNames(scratch), [odd])
            assert.strictEqual(yield* file.readText(), odd)
            assert.isTrue(yield* file.isFile())
            const renamed = scratch.join(`${odd} (renamed)`)
            yield* file.rename(renamed)
            assert.isFalse(yield* file.exists())
            assert.strictEqual(yield* renamed.readText(), odd)
            const dir = scratch.join(`dir ${odd}`)
            yield* dir.mkdir()
            yield* dir.join(odd).writeText("inside")
            assert.deepStrictEqual(yield* sortedNames(dir), [odd])
            assert.deepStrictEqual(yield* sortedNames(scratch), [`${odd} (renamed)`, `dir ${odd}`].sort())
            yield* renamed.unlink()
            yield* dir.rmdir({ recursive: true })
            assert.deepStrictEqual(yield* sortedNames(scratch), [])
          }))
      }
    })
  })
}
