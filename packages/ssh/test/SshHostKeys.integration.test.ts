/**
 * Host-key checking against the testbed's OpenSSH sshd: strict against plain and hashed
 * known_hosts, unknown and changed keys refused before any credential is sent (the sshd log
 * never sees the user), accept-new recording a first key and refusing a changed one,
 * accept-any, @revoked keys, and host-key algorithm preference from known_hosts.
 */
import { PasswordCredential, PubKeyCredential } from "@cerulean/core"
import { assert, describe, it } from "@effect/vitest"
import * as Testbed from "@cerulean/testing/Testbed"
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import type { SshError } from "../src/SshError.ts"
import { SshTerminal, type SshTerminalOptions } from "../src/SshTerminal.ts"
import { tempDir } from "./utils/sshServers.ts"

const tb = Testbed.load()
const key = new PubKeyCredential({ username: tb.user, publicKey: tb.keyEd25519 })

const connects = (opts: SshTerminalOptions) =>
  Effect.scoped(
    Effect.gen(function*() {
      const terminal = yield* SshTerminal.make(opts)
      return (yield* terminal.run("echo ok")).stdout
    })
  )

const fails = (opts: SshTerminalOptions) => Effect.flip(Effect.scoped(SshTerminal.make(opts)))

const hostKeyLine = (type: string) => {
  const [, , blob] = NodeFs.readFileSync(tb.knownHosts, "utf8").split("\n").find((l) =>
    l.startsWith(`[${tb.sshHost}]:${tb.sshPort} ${type} `)
  )!.split(" ")
  return { type, blob: blob! }
}

/** `ssh-keygen -l` of the server's own public host key file. */
const serverFingerprint = (file: string) =>
  execFileSync("ssh-keygen", ["-l", "-f", NodePath.join(tb.dir, "etc", "hostkeys", file)], { encoding: "utf8" })
    .split(" ")[1]

/**
 * A user name nobody has: if a credential (or any authentication request) for it reached the
 * server, sshd logs "Invalid user <name>".
 */
const probeUser = () => `cerulean-probe-${Math.random().toString(36).slice(2, 10)}`

const sshdLogMentions = (name: string) =>
  Effect.gen(function*() {
    // sshd writes its log asynchronously to the connection ending
    yield* Effect.sleep("300 millis")
    return NodeFs.readFileSync(tb.sshdLog, "utf8").includes(name)
  })

const assertHostKeyError = (
  error: SshError,
  tag: "HostKeyUnknown" | "HostKeyMismatch",
  files: ReadonlyArray<string>
) => {
  assert.strictEqual(error.reason._tag, tag)
  if (error.reason._tag === tag) {
    assert.strictEqual(error.reason.keyType, "ssh-ed25519")
    assert.strictEqual(error.reason.fingerprint, serverFingerprint("ssh_host_ed25519_key.pub"))
    assert.deepStrictEqual(error.reason.knownHostsFiles, files)
    assert.strictEqual(error.reason.host, tb.sshHost)
    assert.strictEqual(error.reason.port, tb.sshPort)
  }
}

const base = { host: tb.sshHost, port: tb.sshPort, credential: key }

describe("SshTerminal host keys", () => {
  it.live("strict: accepts the server listed in known_hosts, plain or hashed, by IPv4, IPv6 and name", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* connects({ ...base, knownHosts: tb.knownHosts }), "ok\n")
      assert.strictEqual(yield* connects({ ...base, knownHosts: tb.knownHostsHashed }), "ok\n")
      assert.strictEqual(yield* connects({ ...base, host: "::1", knownHosts: tb.knownHostsHashed }), "ok\n")
      assert.strictEqual(yield* connects({ ...base, host: "localhost", knownHosts: tb.knownHosts }), "ok\n")
      // strict is the default policy
      assert.strictEqual(yield* connects({ ...base, knownHosts: tb.knownHosts, hostKeyPolicy: "strict" }), "ok\n")
    }))

  it.live("strict: an unknown host fails with HostKeyUnknown before any credential is sent", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("kh")
      const empty = NodePath.join(dir, "known_hosts")
      NodeFs.writeFileSync(empty, `[elsewhere]:${tb.sshPort} ssh-ed25519 ${hostKeyLine("ssh-ed25519").blob}\n`)
      const user = probeUser()
      const credential = new PasswordCredential({ username: user, password: tb.password })
      const error = yield* fails({ ...base, knownHosts: empty, credential })
      assertHostKeyError(error, "HostKeyUnknown", [empty])
      assert.isFalse(yield* sshdLogMentions(user), "the server saw an authentication request")
      // a file that does not exist knows no host either
      const absent = NodePath.join(dir, "absent")
      assertHostKeyError(yield* fails({ ...base, knownHosts: absent }), "HostKeyUnknown", [absent])
      assert.isFalse(NodeFs.existsSync(absent), "strict must not write known_hosts")
    }))

  it.live("a changed host key fails with HostKeyMismatch before any credential is sent, whatever the policy", () =>
    Effect.gen(function*() {
      const user = probeUser()
      const credential = new PasswordCredential({ username: user, password: tb.password })
      for (const policy of ["strict", "accept-new"] as const) {
        const error = yield* fails({ ...base, knownHosts: tb.knownHostsWrong, hostKeyPolicy: policy, credential })
        assertHostKeyError(error, "HostKeyMismatch", [tb.knownHostsWrong])
      }
      assert.isFalse(yield* sshdLogMentions(user), "the server saw an authentication request")
      // control: the same user does reach the server once the key is accepted
      yield* Effect.flip(Effect.scoped(SshTerminal.make({ ...base, knownHosts: tb.knownHosts, credential })))
      assert.isTrue(yield* sshdLogMentions(user), "the log check cannot see authentication requests")
    }))

  it.live("accept-new records an unknown host, after which strict accepts it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("kh")
      const file = NodePath.join(dir, "sub", "known_hosts")
      assert.strictEqual(yield* connects({ ...base, knownHosts: file, hostKeyPolicy: "accept-new" }), "ok\n")
      const { blob } = hostKeyLine("ssh-ed25519")
      assert.strictEqual(NodeFs.readFileSync(file, "utf8"), `[${tb.sshHost}]:${tb.sshPort} ssh-ed25519 ${blob}\n`)
      assert.strictEqual(yield* connects({ ...base, knownHosts: file, hostKeyPolicy: "strict" }), "ok\n")
      // a second accept-new connect adds nothing
      assert.strictEqual(yield* connects({ ...base, knownHosts: file, hostKeyPolicy: "accept-new" }), "ok\n")
      assert.strictEqual(NodeFs.readFileSync(file, "utf8").split("\n").length, 2)
    }))

  it.live("accept-new leaves a file with a changed key alone", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("kh")
      const file = NodePath.join(dir, "known_hosts")
      NodeFs.copyFileSync(tb.knownHostsWrong, file)
      const before = NodeFs.readFileSync(file, "utf8")
      const error = yield* fails({ ...base, knownHosts: file, hostKeyPolicy: "accept-new" })
      assertHostKeyError(error, "HostKeyMismatch", [file])
      assert.strictEqual(NodeFs.readFileSync(file, "utf8"), before)
    }))

  it.live("accept-any connects to an unknown or changed host when asked for by name", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("kh")
      const wrong = { ...base, knownHosts: tb.knownHostsWrong, hostKeyPolicy: "accept-any" } as const
      assert.strictEqual(yield* connects(wrong), "ok\n")
      const absent = NodePath.join(dir, "absent")
      assert.strictEqual(yield* connects({ ...base, knownHosts: absent, hostKeyPolicy: "accept-any" }), "ok\n")
      assert.isFalse(NodeFs.existsSync(absent), "accept-any must not write known_hosts")
    }))

  it.live("a key marked @revoked is refused, even with accept-any", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("kh")
      const file = NodePath.join(dir, "known_hosts")
      const { blob } = hostKeyLine("ssh-ed25519")
      NodeFs.writeFileSync(file, `@revoked * ssh-ed25519 ${blob}\n${NodeFs.readFileSync(tb.knownHosts, "utf8")}`)
      for (const policy of ["strict", "accept-new", "accept-any"] as const) {
        const error = yield* fails({ ...base, knownHosts: file, hostKeyPolicy: policy })
        assertHostKeyError(error, "HostKeyMismatch", [file])
        assert.include(error.message, "revoked")
      }
    }))

  it.live("asks the server for a key type known_hosts holds (only an RSA or ECDSA line for the host)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("kh")
      for (const type of ["ssh-rsa", "ecdsa-sha2-nistp256"]) {
        const file = NodePath.join(dir, `known_hosts_${type}`)
        NodeFs.writeFileSync(file, `[${tb.sshHost}]:${tb.sshPort} ${type} ${hostKeyLine(type).blob}\n`)
        assert.strictEqual(yield* connects({ ...base, knownHosts: file }), "ok\n", type)
      }
    }))
})
