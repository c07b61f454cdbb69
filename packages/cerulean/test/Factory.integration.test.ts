/**
 * The factories against the testbed: Cerulean's `make_file_system('sftp', 'host:port', cred)` forms,
 * an IPv6 literal (which Cerulean could not parse), the WebDAV options Cerulean's factory could not
 * pass, and schedulers built by name on an SSH terminal.
 */
import { JobDescription, PasswordCredential, PubKeyCredential } from "@cerulean/core"
import { load } from "@cerulean/testing/Testbed"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option } from "effect"
import { makeFileSystem, makePath, makeScheduler, makeTerminal } from "../src/Factory.ts"

const tb = load()
const password = new PasswordCredential({ username: tb.user, password: tb.password })
const ssh = { knownHosts: tb.knownHosts }

describe("factories against the testbed", () => {
  it.live("sftp by host:port, by [::1]:port and by URL reach the same files", () =>
    Effect.gen(function*() {
      const file = `${tb.testFiles}/links/file0`
      for (const location of [`${tb.sshHost}:${tb.sshPort}`, `[::1]:${tb.sshPort}`, `localhost:${tb.sshPort}`]) {
        const fs = yield* makeFileSystem("sftp", location, password, ssh)
        assert.strictEqual(fs.protocol, "sftp")
        assert.strictEqual(yield* fs.path(file).readText(), "Hello World\n", location)
      }
      const key = new PubKeyCredential({ username: tb.keyUser, publicKey: tb.keyEd25519 })
      const fromUrl = yield* makeFileSystem(`sftp://${tb.keyUser}@[::1]:${tb.sshPort}/ignored`, undefined, key, ssh)
      assert.strictEqual(yield* fromUrl.path(file).readText(), "Hello World\n")
      const path = yield* makePath(`sftp://${tb.user}@${tb.sshHost}:${tb.sshPort}${file}`, password, ssh)
      assert.strictEqual(yield* path.size(), 12)
    }), 60_000)

  it.live("ssh terminals run commands; a strict host-key check is the default", () =>
    Effect.gen(function*() {
      const terminal = yield* makeTerminal("ssh", `[::1]:${tb.sshPort}`, password, ssh)
      const result = yield* terminal.run("whoami")
      assert.strictEqual(result.stdout, `${tb.user}\n`)
      const refused = yield* Effect.exit(
        Effect.scoped(makeTerminal("ssh", `${tb.sshHost}:${tb.sshPort}`, password, { knownHosts: tb.knownHostsWrong }))
      )
      assert.isTrue(Exit.isFailure(refused))
      assert.include(JSON.stringify(refused), "HostKeyMismatch")
    }), 60_000)

  it.live("WebDAV: the CA file and unsupportedMethodsRaise reach the file system", () =>
    Effect.gen(function*() {
      const url = `${tb.webdavHttps}/protected_files`
      const raising = yield* makeFileSystem("webdav", url, password, { hostCaCertFile: tb.webdavCa })
      const file = raising.path(`factory-${process.pid}-${Date.now()}.txt`)
      yield* Effect.addFinalizer(() => Effect.ignore(file.unlink()))
      yield* file.writeText("x")
      const chmod = yield* Effect.exit(file.chmod(0o600))
      assert.isTrue(Exit.isFailure(chmod), "chmod fails with unsupportedMethodsRaise (default true)")
      const quiet = yield* makeFileSystem(`webdav+${url}`, undefined, password, {
        hostCaCertFile: tb.webdavCa,
        unsupportedMethodsRaise: false
      })
      yield* quiet.path(file.path).chmod(0o600)
      assert.strictEqual(yield* quiet.path(file.path).readText(), "x")
    }), 60_000)

  it.live("schedulers by name on an SSH terminal: slurm runs a job", () =>
    Effect.gen(function*() {
      const terminal = yield* makeTerminal(`ssh://${tb.user}@${tb.sshHost}:${tb.sshPort}`, undefined, password, ssh)
      const slurm = yield* makeScheduler("slurm", terminal)
      const id = yield* slurm.submit(new JobDescription({ command: "exit 3", workingDirectory: tb.userHome, systemOutFile: "/dev/null" }))
      const code = yield* slurm.wait(id, { timeout: "100 seconds" })
      assert.deepStrictEqual(code, Option.some(3))
    }), 150_000)
})
