// The copy tests of Cerulean's test_copy_files.py (and this project's fixed bugs, interruption, failure mid-file,
// progress, odd names, many files) with WebDAV at one end at least: local -> WebDAV, WebDAV -> local (the local
// fast paths), WebDAV -> the same WebDAV (server-side COPY), WebDAV -> another WebDAV (http anonymous to https with
// Basic auth: the generic stream pipe), and WebDAV <-> SFTP. WebDAV has no links and no permission bits: a link in a
// local or SFTP source is copied as what it points to, and copies on WebDAV report the emulated modes.
import { copy, copyAll } from "@cerulean/core"
import { PasswordCredential } from "@cerulean/core/Credential"
import * as FileSystem from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import { LocalFileSystem } from "@cerulean/core/LocalFileSystem"
import type { Path } from "@cerulean/core/Path"
import { SftpFileSystem } from "@cerulean/ssh/SftpFileSystem"
import { SshTerminal } from "@cerulean/ssh/SshTerminal"
import {
  bigFile,
  bytesOf,
  exists,
  failure,
  hello,
  leftovers,
  names,
  sameBytes,
  text
} from "@cerulean/testing/CopyContract"
import * as Testbed from "@cerulean/testing/Testbed"
import { WebdavFileSystem, type WebdavFileSystemOptions } from "@cerulean/webdav/WebdavFileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import { randomUUID } from "node:crypto"
import * as NFS from "node:fs"
import * as OS from "node:os"
import * as NodePath from "node:path"

// ---------------------------------------------------------------- environments

const tb = Testbed.load()
const credential = new PasswordCredential({ username: tb.user, password: tb.password })
const httpBasic: WebdavFileSystemOptions = { url: `${tb.webdavHttp}/protected_files`, credential }
const httpAnonymous: WebdavFileSystemOptions = { url: `${tb.webdavHttp}/files` }
const httpsBasic: WebdavFileSystemOptions = { ...httpBasic, url: `${tb.webdavHttps}/protected_files`, hostCaCertFile: tb.webdavCa }

/** One side of a copy: a file system, a fresh scratch directory on it, and what it can hold. */
interface Side {
  readonly fs: FileSystem.FileSystem
  readonly scratch: Path
  /** Creates special entries (a FIFO) in `dir` where the file system has them; returns their names. */
  readonly specials: (dir: Path) => Effect.Effect<ReadonlyArray<string>>
}

interface Env {
  readonly src: Side
  readonly dst: Side
  readonly sameFs: boolean
}

const localSide = (name: string): Effect.Effect<Side, never, Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* LocalFileSystem.make.pipe(Effect.provide(NodeFileSystem.layer))
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => NFS.mkdtempSync(NodePath.join(OS.tmpdir(), `cerulean-webdav-copy-${name}-`))),
      (d) => Effect.sync(() => NFS.rmSync(d, { recursive: true, force: true }))
    )
    return {
      fs,
      scratch: fs.path(dir),
      specials: (d) => Effect.as(Effect.sync(() => ChildProcess.execFileSync("mkfifo", [d.join("fifo").path])), ["fifo"])
    }
  })

const scratchOn = (parent: Path, name: string): Effect.Effect<Path, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.orDie(Effect.gen(function*() {
      const dir = parent.join(`cerulean-webdav-copy-${name}-${randomUUID()}`)
      yield* dir.mkdir()
      return dir
    })),
    (dir) => Effect.orDie(dir.rmdir({ recursive: true }))
  )

const webdavScratch = (fs: FileSystem.FileSystem, name: string): Effect.Effect<Side, never, Scope.Scope> =>
  Effect.map(scratchOn(fs.root, name), (scratch) => ({ fs, scratch, specials: () => Effect.succeed([]) }))

const webdavSide = (options: WebdavFileSystemOptions, name: string): Effect.Effect<Side, never, Scope.Scope> =>
  Effect.flatMap(Effect.orDie(WebdavFileSystem.make(options)), (fs) => webdavScratch(fs, name))

const sftpSide = (name: string): Effect.Effect<Side, never, Scope.Scope> =>
  Effect.gen(function*() {
    const terminal = yield* Effect.orDie(
      SshTerminal.make({ host: tb.sshHost, port: tb.sshPort, credential, knownHosts: tb.knownHosts })
    )
    const fs = yield* Effect.orDie(SftpFileSystem.make(terminal))
    const scratch = yield* scratchOn(fs.path(tb.userHome), name)
    return {
      fs,
      scratch,
      specials: (d: Path) => Effect.orDie(Effect.as(terminal.run("mkfifo", [d.join("fifo").path]), ["fifo"]))
    }
  })

type Pairing = readonly [name: string, make: Effect.Effect<Env, never, Scope.Scope>]

const pairings: ReadonlyArray<Pairing> = [
  ["local -> WebDAV", Effect.gen(function*() {
    return { src: yield* localSide("src"), dst: yield* webdavSide(httpBasic, "dst"), sameFs: false }
  })],
  ["WebDAV -> local", Effect.gen(function*() {
    return { src: yield* webdavSide(httpBasic, "src"), dst: yield* localSide("dst"), sameFs: false }
  })],
  ["WebDAV -> the same WebDAV (server-side COPY)", Effect.gen(function*() {
    const fs = yield* Effect.orDie(WebdavFileSystem.make(httpBasic))
    return { src: yield* webdavScratch(fs, "src"), dst: yield* webdavScratch(fs, "dst"), sameFs: true }
  })],
  ["WebDAV (http, anonymous) -> WebDAV (https, Basic auth)", Effect.gen(function*() {
    return { src: yield* webdavSide(httpAnonymous, "src"), dst: yield* webdavSide(httpsBasic, "dst"), sameFs: false }
  })],
  ["SFTP -> WebDAV", Effect.gen(function*() {
    return { src: yield* sftpSide("src"), dst: yield* webdavSide(httpBasic, "dst"), sameFs: false }
  })],
  ["WebDAV -> SFTP", Effect.gen(function*() {
    return { src: yield* webdavSide(httpsBasic, "src"), dst: yield* sftpSide("dst"), sameFs: false }
  })]
]

// ---------------------------------------------------------------- helpers

/**
 * Cerulean's `test_files` fixture on the source: with links where the file system has them (plus a relative link
 * into the tree, a broken one and a loop), and as Cerulean's WebDAV image has it elsewhere (`link0` and `link1`
 * plain files with file0's content).
 */
const fixture = (side: Side) =>
  Effect.gen(function*() {
    const root = side.scratch.join("test_files")
    const links = root.join("links")
    yield* links.mkdir({ parents: true })
    yield* links.join("file0").writeText(hello)
    yield* links.join("file1").writeText("")
    yield* links.join("executable").writeText("#!/bin/sh\necho hi\n")
    yield* links.join("private").writeText("secret\n")
    yield* links.join("sub").mkdir()
    yield* links.join("sub", "inner").writeText("inner\n")
    yield* links.join("empty").mkdir()
    const withLinks = side.fs.features.symlinks
    if (withLinks) {
      yield* links.join("link0").symlinkTo(links.join("file0"))
      yield* links.join("link1").symlinkTo(links.join("link0"))
      yield* links.join("link2").symlinkTo("/doesnotexist")
      yield* links.join("link3").symlinkTo(links.join("link4"))
      yield* links.join("link4").symlinkTo(links.join("link3"))
      yield* links.join("rel").symlinkTo("file0")
    } else {
      yield* links.join("link0").writeText(hello)
      yield* links.join("link1").writeText(hello)
    }
    const specials = yield* side.specials(links)
    // Entries a copy must skip: specials, the broken link and the loop.
    const skipped = withLinks ? [...specials, "link2", "link3", "link4"] : specials
    return { root, links, skipped, withLinks }
  }).pipe(Effect.orDie)

/** The same backend with some primitives replaced and no fast path, under another protocol name. */
const wrap = (fs: FileSystem.FileSystem, overrides: Partial<FileSystem.Backend>): FileSystem.FileSystem =>
  FileSystem.make({
    ...fs,
    protocol: `${fs.protocol}+wrapped`,
    copyFile: undefined,
    sendTo: undefined,
    receiveFrom: undefined,
    ...overrides
  })

/** A source whose reads take about 2 ms per 64 KiB, so that a copy can be caught midway. */
const slow = (fs: FileSystem.FileSystem) =>
  wrap(fs, {
    readStream: (path) => fs.readStream(path, { chunkSize: 64 * 1024 }).pipe(Stream.tap(() => Effect.sleep("2 millis")))
  })

// ---------------------------------------------------------------- the suite

const suite = (make: Effect.Effect<Env, never, Scope.Scope>) => {
  // ---- test_copy_file_args
  it.live("rejects a bad overwrite option (and other bad options) with InvalidOptions, writing nothing", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const file = src.scratch.join("a")
      yield* Effect.orDie(file.writeText(hello))
      const target = dst.scratch.join("b")
      for (const options of [{ overwrite: "sometimes" as "never" }, { concurrency: 0 }, { chunkSize: -1 }]) {
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
  it.live("copies a directory onto a new name with copyInto false: files, subdirectories, empty ones", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links } = yield* fixture(src)
      const target = dst.scratch.join("newdir")
      yield* copyAll(links, target, { copyInto: false, overwrite: "always" })
      assert.isTrue(yield* Effect.orDie(target.isDir()))
      assert.strictEqual(yield* text(target.join("file0")), hello)
      assert.strictEqual(yield* text(target.join("sub", "inner")), "inner\n")
      assert.deepStrictEqual(yield* names(target.join("empty")), [])
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
      assert.isFalse(yield* exists(t("nothing")))
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])
    }))

  // ---- test_copy_file_permissions / test_no_copy_file_permissions, where one end has no permission bits
  it.live("permissions: WebDAV reports its emulated bits, and copyPermissions does not fail for lack of them", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links } = yield* fixture(src)
      const t = (n: string) => dst.scratch.join(n)
      yield* copyAll(links.join("private"), t("with"), { copyPermissions: true })
      yield* copyAll(links.join("private"), t("without"))
      const sourceMode = (yield* Effect.orDie(links.join("private").stat())).mode
      for (const n of ["with", "without"]) {
        const m = (yield* Effect.orDie(t(n).stat())).mode
        if (!dst.fs.features.permissions) assert.strictEqual(m, 0o600, `${n}: WebDAV's emulated file mode`)
        else if (n === "with") assert.strictEqual(m, sourceMode)
        // Without copyPermissions: the target's default AND the source's (WebDAV's 0o600).
        else assert.strictEqual(m & ~sourceMode, 0)
        assert.strictEqual(yield* text(t(n)), "secret\n")
      }
    }))

  // ---- test_copy_symlink_single_fs / cross_fs
  it.live("copies a top-level link (a chain link -> link -> file) as a regular file", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links, withLinks } = yield* fixture(src)
      const target = dst.scratch.join("new_file")
      yield* copyAll(links.join("link1"), target)
      assert.isFalse(yield* Effect.orDie(target.isSymlink()))
      assert.isTrue(yield* Effect.orDie(target.isFile()))
      assert.strictEqual(yield* Effect.orDie(target.size()), 12)
      if (withLinks) {
        const broken = yield* copyAll(links.join("link2"), dst.scratch.join("broken"))
        assert.strictEqual(broken.skipped, 1)
        assert.isFalse(yield* exists(dst.scratch.join("broken")))
      }
    }))

  // ---- test_copy_dir_single_fs (+2, +3) / cross_fs
  it.live("copies a directory: files; links as links where both ends have them, else as content; specials skipped", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const { links, skipped, withLinks } = yield* fixture(src)
      const target = dst.scratch.join("testdir")
      const last = yield* copyAll(links, target, { copyInto: false })
      const got = yield* names(target)
      for (const n of ["executable", "file0", "file1", "private", "link0", "link1", "sub", "empty"]) assert.include(got, n)
      for (const n of skipped) assert.notInclude(got, n)
      assert.strictEqual(yield* text(target.join("file0")), hello)
      assert.strictEqual(yield* text(target.join("link1")), hello)
      if (withLinks && !dst.fs.features.symlinks) {
        // A link into the tree becomes what it points to on WebDAV (a loop has nothing to point to).
        assert.isFalse(yield* Effect.orDie(target.join("link0").isSymlink()))
        assert.strictEqual(yield* text(target.join("rel")), hello)
        assert.strictEqual(last.skipped, skipped.length)
      }

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
      assert.strictEqual(yield* text(target.join("sub", "inner")), "inner\n")
      assert.isAtLeast(last.skipped, 1)
      yield* copyAll(links, target, { copyInto: false, overwrite: "always" })
      assert.strictEqual(yield* text(target.join("file0")), hello)
      assert.strictEqual(yield* text(target.join("extra")), "extra")
    }))

  it.live("refuses to copy a directory into itself on one file system", () =>
    Effect.gen(function*() {
      const { dst, sameFs, src } = yield* make
      const { links } = yield* fixture(src)
      const inside = sameFs ? dst.fs.path(links.path, "copy") : dst.scratch.join("missing", "copy")
      const e = yield* failure(copyAll(links, inside))
      assert.strictEqual(e.reason._tag, sameFs ? "InvalidOptions" : "NotFound")
      assert.isFalse(yield* exists(links.join("copy")))
    }))

  it.live("copies entries with odd names (spaces, quotes, %, #, ?, unicode, a leading dash, a long name)", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const dir = src.scratch.join("odd dir 'x'")
      yield* Effect.orDie(dir.mkdir())
      const odd = ["with space", "quote'\"s", "100% #1 ?", "ünïcødé ✓", "-dash", "$(echo pwned)", "a+b&c=d", "a".repeat(200)]
      for (const n of odd) yield* Effect.orDie(dir.join(n).writeText(`content of ${n}`))
      const target = dst.scratch.join("out ✓")
      yield* copyAll(dir, target, { copyInto: false })
      for (const n of odd) assert.strictEqual(yield* text(target.join(n)), `content of ${n}`)
      yield* Effect.orDie(dir.join("a".repeat(200)).writeText("new"))
      yield* copyAll(dir.join("a".repeat(200)), target.join("a".repeat(200)), { overwrite: "always" })
      assert.strictEqual(yield* text(target.join("a".repeat(200))), "new")
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])
    }))

  it.live("copies many small files concurrently, all complete and counted", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const dir = src.scratch.join("many")
      for (let d = 0; d < 4; d++) {
        yield* Effect.orDie(dir.join(`d${d}`).mkdir({ parents: true }))
        yield* Effect.forEach(
          Array.from({ length: 25 }, (_, f) => f),
          (f) => Effect.orDie(dir.join(`d${d}`, `f${f}`).writeBytes(bytesOf(4096, d * 100 + f))),
          { concurrency: 8, discard: true }
        )
      }
      const target = dst.scratch.join("many")
      const last = yield* copyAll(dir, target, { concurrency: 16 })
      assert.strictEqual(last.filesDone, 100)
      assert.strictEqual(last.filesTotal, 100)
      assert.strictEqual(last.bytesDone, 100 * 4096)
      for (let d = 0; d < 4; d++) {
        for (const f of [0, 13, 24]) {
          assert.isTrue(yield* sameBytes(dir.join(`d${d}`, `f${f}`), target.join(`d${d}`, `f${f}`)))
        }
        assert.strictEqual((yield* names(target.join(`d${d}`))).length, 25)
      }
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])
    }))

  it.live("a 20 MiB file: progress Started at 0, monotone, Done with bytesDone = bytesTotal, same bytes", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const size = 20 * 1024 * 1024 + 123
      const big = src.scratch.join("big")
      yield* bigFile(big, size)
      const target = dst.scratch.join("big")
      const seen = yield* Stream.runCollect(copy(slow(src.fs).path(big.path), target, { progressInterval: "20 millis" }))
      const first = seen[0]!
      const last = seen[seen.length - 1]!
      assert.strictEqual(first.phase, "Started")
      assert.strictEqual(first.bytesDone, 0)
      assert.strictEqual(first.bytesTotal, size)
      assert.strictEqual(last.phase, "Done")
      assert.strictEqual(last.bytesDone, size)
      assert.strictEqual(last.filesDone, 1)
      for (let i = 1; i < seen.length; i++) assert.isAtLeast(seen[i]!.bytesDone, seen[i - 1]!.bytesDone, "monotone")
      assert.isAtLeast(seen.filter((p) => p.phase === "Copying").length, 2, "elements while data flows")
      assert.isTrue(yield* sameBytes(big, target))
      // And through the file systems' own transfer (fast paths where both ends offer one).
      const fast = yield* copyAll(big, dst.scratch.join("big2"))
      assert.strictEqual(fast.bytesDone, size)
      assert.isTrue(yield* sameBytes(big, dst.scratch.join("big2")))
    }))

  it.live("interrupting a copy midway leaves no file under the target name and no temporary file", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const big = src.scratch.join("big")
      yield* bigFile(big, 32 * 1024 * 1024)
      const source = slow(src.fs).path(big.path)
      const target = dst.scratch.join("big")

      const seen = yield* copy(source, target, { progressInterval: "5 millis" }).pipe(
        Stream.takeUntil((p) => p.phase === "Copying" && p.bytesDone > 0),
        Stream.runCollect
      )
      assert.isBelow(seen[seen.length - 1]!.bytesDone, 32 * 1024 * 1024, "stopped midway")
      assert.isFalse(yield* exists(target))
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])

      const timedOut = yield* Effect.exit(Effect.timeout(copyAll(source, target), "100 millis"))
      assert.isTrue(Exit.isFailure(timedOut))
      assert.isFalse(yield* exists(target))
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])

      const fiber = yield* Effect.forkChild(copyAll(source, target))
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(fiber)
      assert.isFalse(yield* exists(target))
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])
    }))

  it.live("a source that fails mid-file leaves no target and no temporary file, and reports the reason", () =>
    Effect.gen(function*() {
      const { dst, src } = yield* make
      const big = src.scratch.join("big")
      yield* bigFile(big, 4 * 1024 * 1024)
      const failing = wrap(src.fs, {
        readStream: (path) =>
          Stream.concat(
            src.fs.readStream(path, { chunkSize: 64 * 1024 }).pipe(Stream.take(3)),
            Stream.fail(FileSystemError.make("ConnectionLost", { path, operation: "readStream", description: "injected" }))
          )
      })
      const target = dst.scratch.join("big")
      const e = yield* failure(copyAll(failing.path(big.path), target))
      assert.strictEqual(e.reason._tag, "ConnectionLost")
      assert.isFalse(yield* exists(target))
      // Overwriting: the old file stays whole.
      yield* Effect.orDie(target.writeText("old"))
      yield* failure(copyAll(failing.path(big.path), target, { overwrite: "always" }))
      assert.strictEqual(yield* text(target), "old")
      assert.deepStrictEqual(yield* leftovers(dst.scratch), [])
    }))
}

for (const [name, make] of pairings) {
  describe(`copy, ${name}`, () => suite(make))
}

describe("copy within one WebDAV server", () => {
  it.live("uses the server-side COPY: no byte goes through the client", () =>
    Effect.gen(function*() {
      const fs = yield* Effect.orDie(WebdavFileSystem.make(httpBasic))
      const { scratch } = yield* webdavScratch(fs, "fast")
      yield* bigFile(scratch.join("big"), 8 * 1024 * 1024)
      const urlPath = new URL(`${httpBasic.url}${scratch.path}`).pathname
      yield* Effect.sleep("300 millis")
      const before = NFS.statSync(tb.webdavAccessLog).size
      const last = yield* copyAll(scratch.join("big"), scratch.join("copy"))
      assert.strictEqual(last.bytesDone, 8 * 1024 * 1024)
      assert.isTrue(yield* sameBytes(scratch.join("big"), scratch.join("copy")))
      yield* Effect.sleep("300 millis")
      const fd = NFS.openSync(tb.webdavAccessLog, "r")
      const buffer = Buffer.alloc(NFS.fstatSync(fd).size - before)
      NFS.readSync(fd, buffer, 0, buffer.length, before)
      NFS.closeSync(fd)
      const lines = buffer.toString("utf8").split("\n").filter((l) => l.includes(urlPath))
      const methods = lines.map((l) => l.split(" ")[0])
      assert.include(methods, "COPY")
      // The copy itself: no PUT, and the only GETs are the two reads of the check above.
      assert.notInclude(methods, "PUT")
      assert.strictEqual(methods.filter((m) => m === "GET").length, 2, lines.join("\n"))
    }))
})
