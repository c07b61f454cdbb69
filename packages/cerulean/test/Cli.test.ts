/**
 * The `cerulean` command on this machine: in-process (through `main` with
 * captured output) for the file commands and the error lines, and as a
 * child process for run, submit, status and wait, as a person runs it.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { CliEnvironment } from "../src/internal/cli/commands.ts"
import { CliFailure } from "../src/internal/cli/errors.ts"
import { main } from "../src/internal/cli/main.ts"
import * as Output from "../src/internal/cli/output.ts"
import { cerulean } from "./utils/child.ts"

const environment = {
  env: {},
  home: "/nonexistent-home",
  user: "tester",
  interactive: false,
  askPassword: () => Effect.fail(new CliFailure({ what: "no prompt in tests" }))
}

/** Runs the command in this process and returns what it printed and its exit code. */
const runCli = (args: ReadonlyArray<string>, options: { readonly tty?: boolean; readonly columns?: number } = {}) =>
  Effect.gen(function*() {
    const captured: Output.Captured = { stdout: [], stderr: [] }
    const exitCode = yield* main(args).pipe(
      Effect.provide(Layer.mergeAll(
        Output.layerCapture(captured, options),
        Layer.succeed(CliEnvironment, environment),
        NodeServices.layer
      ))
    )
    return { exitCode, stdout: captured.stdout.join(""), stderr: captured.stderr.join("") }
  })

const tempDir = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "cerulean-cli-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
)

const oneLine = (text: string) => {
  assert.strictEqual(text.trimEnd().split("\n").length, 1, `expected one line, got:\n${text}`)
  assert.notInclude(text, "    at ", "no stack trace without --verbose")
}

describe("cerulean (local)", () => {
  it.live("cp copies a file byte for byte and ends with a summary", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const data = NodeCrypto.randomBytes(300_000)
      NodeFs.writeFileSync(NodePath.join(dir, "in.bin"), data)
      const r = yield* runCli(["cp", NodePath.join(dir, "in.bin"), NodePath.join(dir, "out.bin")])
      assert.strictEqual(r.exitCode, 0, r.stderr)
      assert.isTrue(NodeFs.readFileSync(NodePath.join(dir, "out.bin")).equals(data))
      assert.match(r.stdout, /^Copied 1 file \(293 KiB\) to .*out\.bin in \d+\.\d s/)
      assert.strictEqual(r.stderr, "", "no progress bar when stderr is not a terminal")
    }))

  it.live("cp --json prints one JSON line per progress element, the last one 'done'", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      NodeFs.mkdirSync(NodePath.join(dir, "tree/sub"), { recursive: true })
      NodeFs.writeFileSync(NodePath.join(dir, "tree/a.txt"), "a".repeat(1000))
      NodeFs.writeFileSync(NodePath.join(dir, "tree/sub/b.txt"), "b".repeat(500))
      const r = yield* runCli(["cp", "--json", NodePath.join(dir, "tree"), "file://" + NodePath.join(dir, "copy")])
      assert.strictEqual(r.exitCode, 0, r.stderr)
      const lines = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l))
      assert.isAtLeast(lines.length, 2)
      assert.strictEqual(lines[0].phase, "Started")
      const last = lines.at(-1)
      assert.strictEqual(last.type, "done")
      assert.strictEqual(last.bytesDone, 1500)
      assert.strictEqual(last.filesDone, 2)
      assert.strictEqual(NodeFs.readFileSync(NodePath.join(dir, "copy/sub/b.txt"), "utf8"), "b".repeat(500))
    }))

  it.live("cp draws the bar on a terminal, and the bar ends at 100%", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      NodeFs.writeFileSync(NodePath.join(dir, "in.bin"), NodeCrypto.randomBytes(100_000))
      const r = yield* runCli(["cp", NodePath.join(dir, "in.bin"), NodePath.join(dir, "out.bin")], { tty: true, columns: 100 })
      assert.strictEqual(r.exitCode, 0, r.stderr)
      const frames = r.stderr.split("\r\x1b[2K").filter((f) => f !== "")
      assert.include(frames.at(-1)!, "100%")
      assert.include(frames.at(-1)!, "97.7 KiB / 97.7 KiB")
      assert.isTrue(frames.every((f) => f.trimEnd().length <= 99))
    }))

  it.live("ls, cat, mkdir -p and rm -r", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      assert.strictEqual((yield* runCli(["mkdir", "-p", NodePath.join(dir, "a/b/c")])).exitCode, 0)
      NodeFs.writeFileSync(NodePath.join(dir, "a/hello.txt"), "Hello World\n")
      const ls = yield* runCli(["ls", NodePath.join(dir, "a")])
      assert.strictEqual(ls.stdout, "b\nhello.txt\n")
      const long = yield* runCli(["ls", "-l", NodePath.join(dir, "a")])
      assert.match(long.stdout, /^d[rwx-]{9} +\d+ b$/m)
      assert.match(long.stdout, /^-rw-[rwx-]{6} +12 hello\.txt$/m)
      const json = yield* runCli(["ls", "--json", NodePath.join(dir, "a/hello.txt")])
      assert.deepInclude(JSON.parse(json.stdout), { name: "hello.txt", type: "File", size: 12 })
      assert.strictEqual((yield* runCli(["cat", NodePath.join(dir, "a/hello.txt")])).stdout, "Hello World\n")
      const notEmpty = yield* runCli(["rm", NodePath.join(dir, "a")])
      assert.strictEqual(notEmpty.exitCode, 1)
      oneLine(notEmpty.stderr)
      assert.include(notEmpty.stderr, "rm -r")
      assert.strictEqual((yield* runCli(["rm", "-r", NodePath.join(dir, "a")])).exitCode, 0)
      assert.isFalse(NodeFs.existsSync(NodePath.join(dir, "a")))
    }))

  it.live("failures are one line with a non-zero exit code; --verbose adds the cause", () =>
    Effect.gen(function*() {
      const missing = yield* runCli(["cat", "/nonexistent/file.txt"])
      assert.strictEqual(missing.exitCode, 1)
      oneLine(missing.stderr)
      assert.match(missing.stderr, /^cerulean cat: .*\/nonexistent\/file\.txt: no such file or directory/)
      const verbose = yield* runCli(["cat", "--verbose", "/nonexistent/file.txt"])
      assert.strictEqual(verbose.exitCode, 1)
      assert.isAbove(verbose.stderr.trimEnd().split("\n").length, 1)
      assert.include(verbose.stderr, "FileSystemError")

      const badUrl = yield* runCli(["ls", "sftp:/cluster/home"])
      assert.strictEqual(badUrl.exitCode, 2)
      oneLine(badUrl.stderr)
      assert.include(badUrl.stderr, "did you mean sftp://")

      const usage = yield* runCli(["cp", "only-one-argument"])
      assert.strictEqual(usage.exitCode, 2)
      oneLine(usage.stderr)
      assert.include(usage.stderr, "Missing required argument")
      assert.strictEqual(usage.stdout, "", "no help dump on a usage error")

      const badRate = yield* runCli(["cp", "--bwlimit", "fast", "a", "b"])
      assert.strictEqual(badRate.exitCode, 2)
      oneLine(badRate.stderr)

      const json = yield* runCli(["cat", "--json", "/nonexistent/file.txt"])
      assert.deepInclude(JSON.parse(json.stdout), { type: "error", exitCode: 1 })
    }))

  it.live("no credential for SSH and no terminal to ask on: one line saying what to give", () =>
    Effect.gen(function*() {
      const r = yield* runCli(["ls", "sftp://someone@127.0.0.1:1/tmp"])
      assert.strictEqual(r.exitCode, 1)
      oneLine(r.stderr)
      assert.include(r.stderr, "someone@127.0.0.1:1")
      assert.include(r.stderr, "--identity")
    }))

  it.live("--password-env names a variable that must be set", () =>
    Effect.gen(function*() {
      const r = yield* runCli(["ls", "--password-env", "CERULEAN_TEST_UNSET_VAR", "sftp://u@127.0.0.1:1/"])
      assert.strictEqual(r.exitCode, 2)
      oneLine(r.stderr)
      assert.include(r.stderr, "CERULEAN_TEST_UNSET_VAR is not set")
    }))
})

describe("cerulean run/submit/status/wait (local, as a child process)", () => {
  it.live("run passes output through and exits with the command's exit code", () =>
    Effect.gen(function*() {
      const r = yield* cerulean(["run", "--", "echo out; echo err >&2; exit 7"])
      assert.strictEqual(r.exitCode, 7)
      assert.strictEqual(r.stdout, "out\n")
      assert.strictEqual(r.stderr, "err\n")
      const args = yield* cerulean(["run", "printf '%s|' \"$@\"", "--", "a b", "$(rm -rf /)", "-l"])
      assert.strictEqual(args.exitCode, 0, args.stderr)
      assert.strictEqual(args.stdout, "a b|$(rm -rf /)|-l|")
    }), 30_000)

  it.live("submit + status + wait run a job locally (DirectGnu) and wait exits with its code", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const out = NodePath.join(dir, "job.out")
      const submitted = yield* cerulean(["submit", "--stdout", out, "--workdir", dir, "--", "sleep 1; pwd; exit 3"])
      assert.strictEqual(submitted.exitCode, 0, submitted.stderr)
      const id = submitted.stdout.trim()
      assert.match(id, /^\S+$/)
      const status = yield* cerulean(["status", "--json", id])
      assert.strictEqual(status.exitCode, 0, status.stderr)
      assert.include(["Waiting", "Running", "Done"], JSON.parse(status.stdout).status)
      const waited = yield* cerulean(["wait", id])
      assert.strictEqual(waited.exitCode, 3, waited.stderr)
      assert.strictEqual(waited.stdout, "3\n")
      assert.include(waited.stderr, "Done")
      assert.strictEqual(NodeFs.readFileSync(out, "utf8"), `${dir}\n`)
    }), 60_000)

  it.live("wait --timeout gives up with 124 and cancel ends the job", () =>
    Effect.gen(function*() {
      const submitted = yield* cerulean(["submit", "--", "sleep 60"])
      assert.strictEqual(submitted.exitCode, 0, submitted.stderr)
      const id = submitted.stdout.trim()
      const waited = yield* cerulean(["wait", "--timeout", "1", id])
      assert.strictEqual(waited.exitCode, 124)
      const cancelled = yield* cerulean(["cancel", id])
      assert.strictEqual(cancelled.exitCode, 0, cancelled.stderr)
      const after = yield* cerulean(["wait", "--timeout", "30", "--json", id])
      const final = JSON.parse(after.stdout.trimEnd().split("\n").at(-1)!)
      assert.strictEqual(final.status, "Done")
      assert.notStrictEqual(after.exitCode, 0)
    }), 90_000)
})
