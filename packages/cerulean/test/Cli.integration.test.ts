/**
 * The `cerulean` command against the testbed's servers, run as a child
 * process exactly as a person types it: SFTP and WebDAV copies that must
 * come back byte for byte, remote exit codes, Slurm jobs, and the failures
 * a person meets first (bad URL, wrong password, unknown host key), each of
 * which must be one clear line and a non-zero exit code.
 */
import { load } from "@cerulean/testing/Testbed"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { cerulean as ceruleanIn } from "./utils/child.ts"

const tb = load()
const unique = `cli-${process.pid}-${Date.now()}`

const tempDir = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "cerulean-cli-it-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
)

// A home without ~/.ssh and no agent: every credential the tests use is given explicitly.
const home = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "cerulean-cli-home-"))
const env = { HOME: home, SSH_AUTH_SOCK: undefined, CERULEAN_TEST_PW: tb.password, CERULEAN_WRONG_PW: "not-the-password" }
const cerulean = (args: ReadonlyArray<string>) => ceruleanIn(args, { env, timeoutMs: 120_000 })

const ssh = `${tb.user}@${tb.sshHost}:${tb.sshPort}`
const login = ["--password-env", "CERULEAN_TEST_PW", "--known-hosts", tb.knownHosts]
const remoteDir = `${tb.userHome}/${unique}`

/** Removes the remote directory after the test, whatever happened. */
const remoteCleanup = Effect.addFinalizer(() => Effect.asVoid(cerulean(["rm", "-r", ...login, `sftp://${ssh}${remoteDir}`])))

const oneLine = (stderr: string) => {
  const lines = stderr.trimEnd().split("\n")
  assert.strictEqual(lines.length, 1, `expected one line, got:\n${stderr}`)
  assert.match(lines[0]!, /^cerulean \w+: /)
  return lines[0]!
}

describe("cerulean against the testbed", () => {
  it.live("cp local -> SFTP -> local gives identical bytes", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* remoteCleanup
      const data = NodeCrypto.randomBytes(3 * 1024 * 1024 + 17)
      const source = NodePath.join(dir, "data.bin")
      NodeFs.writeFileSync(source, data)
      const mkdir = yield* cerulean(["mkdir", "-p", ...login, `sftp://${ssh}${remoteDir}/in`])
      assert.strictEqual(mkdir.exitCode, 0, mkdir.stderr)
      const up = yield* cerulean(["cp", ...login, source, `sftp://${ssh}${remoteDir}/in/`])
      assert.strictEqual(up.exitCode, 0, up.stderr)
      assert.match(up.stdout, /^Copied 1 file \(3\.00 MiB\) to sftp:\/\//)
      const ls = yield* cerulean(["ls", "--json", ...login, `sftp://${ssh}${remoteDir}/in`])
      assert.strictEqual(ls.exitCode, 0, ls.stderr)
      assert.deepInclude(JSON.parse(ls.stdout), { name: "data.bin", type: "File", size: data.length })
      const back = NodePath.join(dir, "back.bin")
      const down = yield* cerulean(["cp", ...login, `sftp://${ssh}${remoteDir}/in/data.bin`, back])
      assert.strictEqual(down.exitCode, 0, down.stderr)
      assert.isTrue(NodeFs.readFileSync(back).equals(data), "the bytes came back unchanged")
    }), 120_000)

  it.live("cp a tree to SFTP with a key, and back through cat", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* remoteCleanup
      NodeFs.mkdirSync(NodePath.join(dir, "tree/sub"), { recursive: true })
      NodeFs.writeFileSync(NodePath.join(dir, "tree/sub/a b.txt"), "spaces and üñïçødé\n")
      const keyLogin = ["--identity", tb.keyEd25519, "--known-hosts", tb.knownHosts]
      const up = yield* cerulean(["cp", ...keyLogin, NodePath.join(dir, "tree"), `sftp://${ssh}${remoteDir}`])
      assert.strictEqual(up.exitCode, 0, up.stderr)
      const cat = yield* cerulean(["cat", ...keyLogin, `sftp://${ssh}${remoteDir}/sub/a%20b.txt`])
      assert.strictEqual(cat.exitCode, 0, cat.stderr)
      assert.strictEqual(cat.stdout, "spaces and üñïçødé\n")
    }), 120_000)

  it.live("cp local -> WebDAV (https, CA file, base found by asking) -> local gives identical bytes", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const data = NodeCrypto.randomBytes(200_000)
      NodeFs.writeFileSync(NodePath.join(dir, "w.bin"), data)
      const url = `webdav+${tb.webdavHttps}/protected_files/${unique}.bin`
      const dav = ["--password-env", "CERULEAN_TEST_PW", "--ca-file", tb.webdavCa]
      yield* Effect.addFinalizer(() => Effect.asVoid(cerulean(["rm", ...dav, url.replace("//", `//${tb.user}@`)])))
      const withUser = url.replace("//", `//${tb.user}@`)
      const up = yield* cerulean(["cp", ...dav, NodePath.join(dir, "w.bin"), withUser])
      assert.strictEqual(up.exitCode, 0, up.stderr)
      const down = yield* cerulean(["cp", ...dav, withUser, NodePath.join(dir, "back.bin")])
      assert.strictEqual(down.exitCode, 0, down.stderr)
      assert.isTrue(NodeFs.readFileSync(NodePath.join(dir, "back.bin")).equals(data))
    }), 120_000)

  it.live("run returns the remote exit code and output", () =>
    Effect.gen(function*() {
      const r = yield* cerulean(["run", ...login, "--on", `ssh://${ssh}`, "--", "hostname >/dev/null; echo on $(whoami); exit 42"])
      assert.strictEqual(r.exitCode, 42, r.stderr)
      assert.strictEqual(r.stdout, `on ${tb.user}\n`)
      const ok = yield* cerulean(["run", ...login, "--on", `ssh://${ssh}`, "--json", "--", "true"])
      assert.strictEqual(ok.exitCode, 0, ok.stderr)
      assert.deepInclude(JSON.parse(ok.stdout), { exitCode: 0, stdout: "", stderr: "" })
    }), 60_000)

  it.live("submit + wait on Slurm over SSH: wait exits with the job's exit code", () =>
    Effect.gen(function*() {
      yield* remoteCleanup
      const mk = yield* cerulean(["mkdir", "-p", ...login, `sftp://${ssh}${remoteDir}`])
      assert.strictEqual(mk.exitCode, 0, mk.stderr)
      const on = ["--scheduler", "slurm", "--on", `ssh://${ssh}`]
      const submitted = yield* cerulean([
        "submit", ...login, ...on, "--name", unique, "--workdir", remoteDir, "--stdout", `${remoteDir}/job.out`,
        "--time", "120", "--", "echo hello from $SLURM_JOB_ID; exit 5"
      ])
      assert.strictEqual(submitted.exitCode, 0, submitted.stderr)
      const id = submitted.stdout.trim()
      assert.match(id, /^\d+$/)
      const waited = yield* cerulean(["wait", ...login, ...on, "--timeout", "100", id])
      assert.strictEqual(waited.exitCode, 5, waited.stderr)
      assert.strictEqual(waited.stdout, "5\n")
      const status = yield* cerulean(["status", ...login, ...on, "--json", id])
      assert.deepInclude(JSON.parse(status.stdout), { jobId: id, status: "Done", exitCode: 5 })
      const out = yield* cerulean(["cat", ...login, `sftp://${ssh}${remoteDir}/job.out`])
      assert.strictEqual(out.stdout, `hello from ${id}\n`)
    }), 180_000)

  it.live("a bad URL: one line, exit 2", () =>
    Effect.gen(function*() {
      const r = yield* cerulean(["cp", ...login, "/etc/hostname", `sftp:/${tb.sshHost}/tmp`])
      assert.strictEqual(r.exitCode, 2)
      const line = oneLine(r.stderr)
      assert.include(line, "did you mean sftp://")
      const port = yield* cerulean(["ls", ...login, `sftp://${tb.sshHost}:99999/`])
      assert.strictEqual(port.exitCode, 2)
      oneLine(port.stderr)
    }), 60_000)

  it.live("a wrong password: one line naming the server and what to try, exit 1, no secret", () =>
    Effect.gen(function*() {
      const r = yield* cerulean([
        "ls", "--password-env", "CERULEAN_WRONG_PW", "--known-hosts", tb.knownHosts, `sftp://${ssh}/tmp`
      ])
      assert.strictEqual(r.exitCode, 1)
      const line = oneLine(r.stderr)
      assert.include(line, "authentication failed")
      assert.include(line, `${tb.sshHost}:${tb.sshPort}`)
      assert.include(line, "--identity")
      assert.notInclude(r.stderr + r.stdout, "not-the-password")
    }), 60_000)

  it.live("an unknown host key: one line with the fingerprint and the way out, exit 1; accept-new records it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const empty = NodePath.join(dir, "known_hosts")
      NodeFs.writeFileSync(empty, "")
      const args = ["--password-env", "CERULEAN_TEST_PW", "--known-hosts", empty]
      const r = yield* cerulean(["ls", ...args, `sftp://${ssh}/tmp`])
      assert.strictEqual(r.exitCode, 1)
      const line = oneLine(r.stderr)
      assert.include(line, `${tb.sshHost}:${tb.sshPort}`)
      assert.include(line, "SHA256:")
      assert.include(line, "--host-key-policy accept-new")
      const accepted = yield* cerulean(["ls", ...args, "--host-key-policy", "accept-new", `sftp://${ssh}${tb.userHome}`])
      assert.strictEqual(accepted.exitCode, 0, accepted.stderr)
      assert.include(NodeFs.readFileSync(empty, "utf8"), `[${tb.sshHost}]:${tb.sshPort}`)
      const changed = yield* cerulean([
        "ls", "--password-env", "CERULEAN_TEST_PW", "--known-hosts", tb.knownHostsWrong, `sftp://${ssh}/tmp`
      ])
      assert.strictEqual(changed.exitCode, 1)
      assert.include(oneLine(changed.stderr), "differs")
    }), 60_000)
})
