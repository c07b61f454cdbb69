/**
 * The local `copyFile` hook's three ways (kernel copy, `cp` child, chunked
 * fallback), driven with stand-in `cp` scripts where a real `cp` cannot be
 * made to go slowly, fail or be of the wrong kind.
 */
import { copyAll, LocalFileSystem } from "@cerulean/core"
import * as FileSystem from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import * as EffectFileSystem from "effect/FileSystem"
import type * as PlatformError from "effect/PlatformError"
import * as Crypto from "node:crypto"
import * as NFS from "node:fs"
import * as OS from "node:os"
import * as NodePath from "node:path"
import { kernelCopyLimit, makeLocalCopyFile } from "../src/internal/localCopyFile.ts"
import type { LocalCopyFileOptions } from "../src/internal/localCopyFile.ts"

const toError = (operation: string, path: string) => (cause: PlatformError.PlatformError) =>
  FileSystemError.make("Io", { path, operation, description: cause.message, cause })

/** A fresh scratch directory, removed with the test's scope. */
const scratch = Effect.acquireRelease(
  Effect.sync(() => NFS.mkdtempSync(NodePath.join(OS.tmpdir(), "cerulean-local-copyfile-"))),
  (dir) => Effect.sync(() => NFS.rmSync(dir, { recursive: true, force: true }))
)

const hook = (settings?: LocalCopyFileOptions) =>
  Effect.gen(function*() {
    const efs = yield* EffectFileSystem.FileSystem
    return yield* makeLocalCopyFile(efs, toError, settings)
  }).pipe(Effect.provide(NodeFileSystem.layer))

/** Just above the in-process kernel copy's limit: the size that goes to `cp` (or the chunked fallback). */
const large = kernelCopyLimit + 4096 + 7

const writeRandom = (path: string, size: number) =>
  Effect.sync(() => {
    const fd = NFS.openSync(path, "w")
    const chunk = Buffer.alloc(4 * 1024 * 1024)
    for (let done = 0; done < size; done += chunk.length) {
      Crypto.randomFillSync(chunk)
      NFS.writeSync(fd, chunk, 0, Math.min(chunk.length, size - done))
    }
    NFS.closeSync(fd)
  })

const same = (a: string, b: string) =>
  Effect.sync(() => {
    const digest = (p: string) => Crypto.createHash("sha256").update(NFS.readFileSync(p)).digest("hex")
    return digest(a) === digest(b)
  })

/**
 * A stand-in `cp` (a shell script) in `dir`: `--version` runs the shell
 * command `version`; a copy appends its arguments to `dir/args`, its pid to
 * `dir/pid`, and runs `body` with `$from` and `$to` set to the last two
 * arguments.
 */
const fakeCp = (dir: string, name: string, version: string, body: string) =>
  Effect.sync(() => {
    const path = NodePath.join(dir, name)
    NFS.writeFileSync(
      path,
      [
        "#!/bin/sh",
        `if [ "$1" = "--version" ]; then ${version}; exit; fi`,
        `echo "$@" >> '${dir}/args'`,
        `echo $$ > '${dir}/pid'`,
        "prev=; for a; do from=$prev; prev=$a; done; to=$prev",
        body
      ].join("\n"),
      { mode: 0o755 }
    )
    return path
  })

const gnu = "echo 'cp (GNU coreutils) 9.1'"

/** Whether the running totals of `reported` pass through `total` exactly (a poll saw that size). */
const seen = (reported: ReadonlyArray<number>, total: number) => {
  let sum = 0
  return reported.some((n) => (sum += n) === total)
}

const argsOf = (dir: string) =>
  Effect.sync(() => (NFS.existsSync(`${dir}/args`) ? NFS.readFileSync(`${dir}/args`, "utf8").trim().split("\n") : []))

const isRunning = (pid: number) => {
  const signal = Effect.try(() => process.kill(pid, 0))
  return Effect.match(signal, { onFailure: () => false, onSuccess: () => true })
}

describe("the local copyFile hook", () => {
  it.live("copies a large file with cp (options before --, odd names), reporting progress while it runs", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      // Half the file at once, the rest after a pause: the poll must see the first half.
      const cp = yield* fakeCp(
        dir,
        "cp",
        gnu,
        `head -c 1048576 "$from" > "$to"; sleep 0.3; tail -c +1048577 "$from" >> "$to"`
      )
      const from = NodePath.join(dir, "-from file")
      const to = NodePath.join(dir, "-to file")
      yield* writeRandom(from, large)
      const copyFile = yield* hook({ cp })
      const reported: Array<number> = []
      yield* copyFile(from, to, {
        size: large,
        progressInterval: Duration.millis(20),
        onProgress: (n) => reported.push(n)
      })
      assert.isTrue(yield* same(from, to))
      assert.strictEqual(reported.reduce((a, b) => a + b, 0), large)
      assert.isTrue(seen(reported, 1048576), "the poll saw the first part while cp paused")
      assert.deepStrictEqual(yield* argsOf(dir), [
        `--reflink=auto --sparse=auto --remove-destination -T -- ${from} ${to}`
      ])
    }))

  it.live("with the real cp: copies a large file, and replaces rather than follows a link at the target", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      // A wrapper that records that it ran, then is the real cp.
      const cp = yield* fakeCp(dir, "cp", `exec cp "$@"`, `exec cp "$@"`)
      const from = NodePath.join(dir, "from")
      yield* writeRandom(from, large)
      const victim = NodePath.join(dir, "victim")
      NFS.writeFileSync(victim, "keep me\n")
      const to = NodePath.join(dir, "to")
      NFS.symlinkSync(victim, to)
      const copyFile = yield* hook({ cp })
      let total = 0
      yield* copyFile(from, to, { size: large, onProgress: (n) => (total += n) })
      assert.isTrue(yield* same(from, to))
      assert.isFalse(NFS.lstatSync(to).isSymbolicLink())
      assert.strictEqual(NFS.readFileSync(victim, "utf8"), "keep me\n")
      assert.strictEqual(total, large)
      assert.strictEqual((yield* argsOf(dir)).length, 1, "cp ran once")
    }))

  it.live("falls back to the chunked copy without a usable cp: missing, not GNU's, or turned off", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const from = NodePath.join(dir, "from")
      yield* writeRandom(from, large)
      const busybox = yield* fakeCp(dir, "busybox-cp", "echo 'BusyBox v1.36.1 multi-call binary.'", "exit 3")
      for (const cp of [NodePath.join(dir, "missing-cp"), busybox, null]) {
        const to = NodePath.join(dir, `to-${String(cp).replaceAll("/", "_")}`)
        const copyFile = yield* hook({ cp })
        const reported: Array<number> = []
        yield* copyFile(from, to, { size: large, onProgress: (n) => reported.push(n) })
        assert.isTrue(yield* same(from, to), String(cp))
        assert.strictEqual(reported.reduce((a, b) => a + b, 0), large)
        assert.isAbove(reported.length, 1, "in chunks")
      }
      assert.deepStrictEqual(yield* argsOf(dir), [], "BusyBox's cp was asked its version only")
    }))

  it.live("when cp fails midway, the chunked copy redoes the file and no byte is reported twice", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const cp = yield* fakeCp(
        dir,
        "cp",
        gnu,
        `head -c 3000000 /dev/zero > "$to"; sleep 0.2; echo "cp: error writing: No space left on device" >&2; exit 1`
      )
      const from = NodePath.join(dir, "from")
      const to = NodePath.join(dir, "to")
      yield* writeRandom(from, large)
      const copyFile = yield* hook({ cp })
      const reported: Array<number> = []
      yield* copyFile(from, to, {
        size: large,
        progressInterval: Duration.millis(20),
        onProgress: (n) => reported.push(n)
      })
      assert.isTrue(yield* same(from, to))
      assert.isTrue(seen(reported, 3000000), "the failed cp's bytes were seen")
      assert.strictEqual(reported.reduce((a, b) => a + b, 0), large)
      // And a missing source still fails with the errno's error, not cp's message.
      const missing = yield* Effect.flip(copyFile(NodePath.join(dir, "missing"), to, { size: large }))
      assert.strictEqual(missing.reason.path, NodePath.join(dir, "missing"))
    }))

  it.live("interrupted, it kills cp at once and waits for it, so nothing writes afterwards", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const cp = yield* fakeCp(dir, "cp", gnu, `head -c 1048576 "$from" > "$to"; exec sleep 30`)
      const from = NodePath.join(dir, "from")
      const to = NodePath.join(dir, "to")
      yield* writeRandom(from, large)
      const copyFile = yield* hook({ cp })
      const fiber = yield* Effect.forkChild(copyFile(from, to, { size: large }))
      // Until the stand-in has written its part.
      while (!NFS.existsSync(`${dir}/pid`) || !NFS.existsSync(to) || NFS.statSync(to).size < 1048576) {
        yield* Effect.sleep("5 millis")
      }
      const pid = Number(NFS.readFileSync(`${dir}/pid`, "utf8"))
      assert.isTrue(yield* isRunning(pid))
      const start = Date.now()
      yield* Fiber.interrupt(fiber)
      assert.isBelow(Date.now() - start, 1000, "promptly")
      assert.isFalse(yield* isRunning(pid), "cp is gone when the interruption returns")
    }))

  it.live("through copy: interrupting a cp copy leaves no target and no temporary file", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const cp = yield* fakeCp(dir, "cp", gnu, `head -c 1048576 "$from" > "$to"; exec sleep 30`)
      const local = yield* LocalFileSystem.make.pipe(Effect.provide(NodeFileSystem.layer))
      const fs = FileSystem.make({ ...local, copyFile: yield* hook({ cp }) })
      const from = NodePath.join(dir, "from")
      yield* writeRandom(from, large)
      const out = NodePath.join(dir, "out")
      NFS.mkdirSync(out)
      const fiber = yield* Effect.forkChild(copyAll(fs.path(from), fs.path(out, "copy")))
      while (NFS.readdirSync(out).length === 0 || !NFS.existsSync(`${dir}/pid`)) yield* Effect.sleep("5 millis")
      yield* Effect.sleep("20 millis")
      const pid = Number(NFS.readFileSync(`${dir}/pid`, "utf8"))
      yield* Fiber.interrupt(fiber)
      assert.isFalse(yield* isRunning(pid))
      assert.deepStrictEqual(NFS.readdirSync(out), [])
    }))
})
