/**
 * Every way SshTerminal authenticates, against the testbed's OpenSSH sshd, and every way
 * authentication fails, each with its typed reason (and never with a secret in the error).
 */
import { AgentCredential, type Credential, PasswordCredential, PubKeyCredential } from "@cerulean/core"
import { assert, describe, it } from "@effect/vitest"
import * as Testbed from "@cerulean/testing/Testbed"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as NodeFs from "node:fs"
import type { SshError } from "../src/SshError.ts"
import { SshTerminal, type SshTerminalOptions } from "../src/SshTerminal.ts"
import { startAgent, startSshd } from "./utils/sshServers.ts"

const tb = Testbed.load()

const options = (credential: Credential, extra: Partial<SshTerminalOptions> = {}): SshTerminalOptions => ({
  host: tb.sshHost,
  port: tb.sshPort,
  knownHosts: tb.knownHosts,
  credential,
  ...extra
})

/** Connects, runs `whoami` and returns the user name the server ran it as. */
const whoami = (opts: SshTerminalOptions) =>
  Effect.scoped(
    Effect.gen(function*() {
      const terminal = yield* SshTerminal.make(opts)
      const result = yield* terminal.run("whoami")
      assert.strictEqual(result.exitCode, 0, result.stderr)
      return result.stdout.trim()
    })
  )

/** Connecting fails; returns the SshError after checking it names the server and no secret. */
const failure = (opts: SshTerminalOptions, secrets: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const error: SshError = yield* Effect.flip(Effect.scoped(SshTerminal.make(opts)))
    assert.strictEqual(error._tag, "SshError")
    assert.strictEqual(error.host, opts.host)
    assert.strictEqual(error.port, opts.port)
    for (const secret of [...secrets, tb.password, tb.keyPassphrase]) {
      assert.notInclude(error.message, secret)
      assert.notInclude(JSON.stringify(error), secret)
    }
    return error
  })

const keyUser = (publicKey: string, passphrase?: string) =>
  new PubKeyCredential({ username: tb.keyUser, publicKey, passphrase })

describe("SshTerminal authentication", () => {
  it.live("password", () =>
    Effect.gen(function*() {
      const credential = new PasswordCredential({ username: tb.user, password: tb.password })
      assert.strictEqual(yield* whoami(options(credential)), tb.user)
    }))

  it.live("password over keyboard-interactive when the server allows only that", () =>
    Effect.gen(function*() {
      const sshd = yield* startSshd(tb, ["PasswordAuthentication no", "KbdInteractiveAuthentication yes"])
      const user = yield* whoami({
        host: "127.0.0.1",
        port: sshd.port,
        knownHosts: sshd.knownHosts,
        credential: new PasswordCredential({ username: tb.user, password: tb.password })
      })
      assert.strictEqual(user, tb.user)
      assert.include(NodeFs.readFileSync(sshd.log, "utf8"), `Accepted keyboard-interactive/pam for ${tb.user}`)
    }))

  const keys: ReadonlyArray<readonly [string, string, string | undefined]> = [
    ["RSA, OpenSSH format", tb.keyRsa, undefined],
    ["RSA, PEM format", tb.keyRsaPem, undefined],
    ["ECDSA", tb.keyEcdsa, undefined],
    ["ed25519", tb.keyEd25519, undefined],
    ["RSA, OpenSSH format, with passphrase", tb.keyRsaPass, tb.keyPassphrase],
    ["RSA, encrypted PEM, with passphrase", tb.keyRsaPemPass, tb.keyPassphrase],
    ["ECDSA with passphrase", tb.keyEcdsaPass, tb.keyPassphrase],
    ["ed25519 with passphrase", tb.keyEd25519Pass, tb.keyPassphrase]
  ]
  for (const [name, file, passphrase] of keys) {
    it.live(`private key: ${name}`, () =>
      Effect.gen(function*() {
        // keyuser accepts public keys only (AuthenticationMethods publickey)
        assert.strictEqual(yield* whoami(options(keyUser(file, passphrase))), tb.keyUser)
      }))
  }

  it.live("SSH agent, socket given and from SSH_AUTH_SOCK", () =>
    Effect.gen(function*() {
      const agent = yield* startAgent([tb.keyEd25519])
      assert.strictEqual(
        yield* whoami(options(new AgentCredential({ username: tb.keyUser, socket: agent.socket }))),
        tb.keyUser
      )
      assert.strictEqual(
        yield* whoami(options(new AgentCredential({ username: tb.keyUser }))).pipe(
          Effect.provideService(
            ConfigProvider.ConfigProvider,
            ConfigProvider.fromUnknown({ SSH_AUTH_SOCK: agent.socket })
          )
        ),
        tb.keyUser
      )
    }))

  it.live("wrong password: AuthenticationFailed", () =>
    Effect.gen(function*() {
      const error = yield* failure(options(new PasswordCredential({ username: tb.user, password: "wrong-secret" })), [
        "wrong-secret"
      ])
      assert.strictEqual(error.reason._tag, "AuthenticationFailed")
    }))

  it.live("password for a user that accepts keys only: AuthenticationFailed", () =>
    Effect.gen(function*() {
      const error = yield* failure(options(new PasswordCredential({ username: tb.keyUser, password: tb.password })))
      assert.strictEqual(error.reason._tag, "AuthenticationFailed")
    }))

  it.live("wrong, missing or needless passphrase and unusable key files: AuthenticationFailed", () =>
    Effect.gen(function*() {
      const wrong = yield* failure(options(keyUser(tb.keyEd25519Pass, "not-the-passphrase")), ["not-the-passphrase"])
      assert.strictEqual(wrong.reason._tag, "AuthenticationFailed")
      assert.include(wrong.message, "passphrase")
      assert.include(wrong.message, tb.keyEd25519Pass)

      const wrongPem = yield* failure(options(keyUser(tb.keyRsaPemPass, "not-the-passphrase")), ["not-the-passphrase"])
      assert.strictEqual(wrongPem.reason._tag, "AuthenticationFailed")

      const missing = yield* failure(options(keyUser(tb.keyRsaPass)))
      assert.strictEqual(missing.reason._tag, "AuthenticationFailed")
      assert.include(missing.message, "passphrase")

      const noFile = yield* failure(options(keyUser(`${tb.keyEd25519}.does-not-exist`)))
      assert.strictEqual(noFile.reason._tag, "AuthenticationFailed")
      assert.include(noFile.message, "does-not-exist")

      const publicOnly = yield* failure(options(keyUser(`${tb.keyEd25519}.pub`)))
      assert.strictEqual(publicOnly.reason._tag, "AuthenticationFailed")
    }))

  it.live("a key the server does not accept: AuthenticationFailed", () =>
    Effect.gen(function*() {
      // the sshd's own host key is a valid private key that is in no authorized_keys
      const error = yield* failure(options(keyUser(`${tb.dir}/etc/wrong-hostkeys/ssh_host_ed25519_key`)))
      assert.strictEqual(error.reason._tag, "AuthenticationFailed")
    }))

  it.live("agent: no socket, no keys, dead socket: AuthenticationFailed", () =>
    Effect.gen(function*() {
      const noSocket = yield* failure(options(new AgentCredential({ username: tb.keyUser }))).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromUnknown({}))
      )
      assert.strictEqual(noSocket.reason._tag, "AuthenticationFailed")
      assert.include(noSocket.message, "SSH_AUTH_SOCK")

      const empty = yield* startAgent([])
      const noKeys = yield* failure(options(new AgentCredential({ username: tb.keyUser, socket: empty.socket })))
      assert.strictEqual(noKeys.reason._tag, "AuthenticationFailed")

      const gone = new AgentCredential({ username: tb.keyUser, socket: `${empty.socket}.gone` })
      const dead = yield* failure(options(gone))
      assert.strictEqual(dead.reason._tag, "AuthenticationFailed")
    }))
})
