import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as KnownHosts from "../src/KnownHosts.ts"

// Fixtures made with OpenSSH's ssh-keygen (independent of this code): two ed25519 keys and an
// ECDSA key; `ssh-keygen -l` printed the fingerprint of K1; `ssh-keygen -H` hashed the two lines
// "example.org K1" and "[example.org]:2222 K1" into HASHED.
const K1 = "AAAAC3NzaC1lZDI1NTE5AAAAIHKrpVWKiomRUSaYXhU/YaIV8Cd6Ho1qfuYPEniqXMnt"
const K1_FINGERPRINT = "SHA256:b5Q2p0j0p9H/MUzdBOlWDjYjyLHSTOxpjcPC2vqVD/A"
const K2 = "AAAAC3NzaC1lZDI1NTE5AAAAIBEJJAfGmtTrure9XQOz9JbwSiDLFLiMLybgBtCX8zY8"
const K3 = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHzAEDDL4/qXkyaskbaUHl+2Z4fTz5vRBW65TFyNCgulBrcG" +
  "fY0tGQmD9izPIsSeYTyDS+3N1tA6ObzzxqhaEOU="
const HASHED = [
  `|1|fL7oKWGjgQnt69c4SgCqgUcQm4Y=|O4mKcadQ+vvonGqh8THFBlU9Gsw= ssh-ed25519 ${K1}`,
  `|1|c1KGum8KWZKHcJT9da9rpalm7FQ=|6CDaow3ZdlZvpPs9foEslD40Nas= ssh-ed25519 ${K1}`
].join("\n")

const one = (line: string): KnownHosts.Entry => {
  const entries = KnownHosts.parse(line)
  assert.strictEqual(entries.length, 1, `parsed ${JSON.stringify(line)}`)
  return entries[0]!
}

describe("KnownHosts.parse", () => {
  it("reads entries with line numbers, markers and comments, and skips what is not an entry", () => {
    const text = [
      "# a comment",
      "",
      `host1,host2 ssh-ed25519 ${K1} me@laptop`,
      "   ",
      `@revoked * ssh-ed25519 ${K2}`,
      `@cert-authority *.example.org ssh-ed25519 ${K2}`,
      `@unknown-marker host ssh-ed25519 ${K2}`,
      "host-without-key ssh-ed25519",
      "host ssh-ed25519 not*base64",
      `|1|bad-salt|x ssh-ed25519 ${K1}`,
      `\t[h]:2222 ecdsa-sha2-nistp256 ${K3}\r`
    ].join("\n")
    const entries = KnownHosts.parse(text)
    assert.deepStrictEqual(entries.map((e) => [e.line, e.marker, e.keyType]), [
      [3, undefined, "ssh-ed25519"],
      [5, "revoked", "ssh-ed25519"],
      [6, "cert-authority", "ssh-ed25519"],
      [11, undefined, "ecdsa-sha2-nistp256"]
    ])
    assert.strictEqual(entries[0]!.comment, "me@laptop")
    assert.deepStrictEqual(entries[0]!.hosts, { _tag: "Patterns", patterns: ["host1", "host2"] })
    assert.strictEqual(entries[3]!.key, K3)
  })
})

describe("KnownHosts.matches", () => {
  it("names hosts as OpenSSH does: bare on port 22, [host]:port otherwise, in lower case", () => {
    assert.strictEqual(KnownHosts.hostName("Example.ORG", 22), "example.org")
    assert.strictEqual(KnownHosts.hostName("example.org", 2222), "[example.org]:2222")
    assert.strictEqual(KnownHosts.hostName("::1", 2222), "[::1]:2222")
  })

  it("matches host lists, ports, wildcards and negations", () => {
    const plain = one(`a.example.org,B.example.org ssh-ed25519 ${K1}`)
    assert.isTrue(KnownHosts.matches(plain, "a.example.org", 22))
    assert.isTrue(KnownHosts.matches(plain, "b.example.org", 22))
    assert.isFalse(KnownHosts.matches(plain, "a.example.org", 2222), "a bare name is for port 22 only")
    assert.isFalse(KnownHosts.matches(plain, "c.example.org", 22))

    const ported = one(`[a.example.org]:2222 ssh-ed25519 ${K1}`)
    assert.isTrue(KnownHosts.matches(ported, "a.example.org", 2222))
    assert.isFalse(KnownHosts.matches(ported, "a.example.org", 22))
    assert.isFalse(KnownHosts.matches(ported, "a.example.org", 2223))

    const wild = one(`*.example.org,!bad.example.org,node?? ssh-ed25519 ${K1}`)
    assert.isTrue(KnownHosts.matches(wild, "x.example.org", 22))
    assert.isTrue(KnownHosts.matches(wild, "deep.x.example.org", 22))
    assert.isFalse(KnownHosts.matches(wild, "bad.example.org", 22), "negation wins")
    assert.isTrue(KnownHosts.matches(wild, "node01", 22))
    assert.isFalse(KnownHosts.matches(wild, "node1", 22))
    assert.isFalse(KnownHosts.matches(wild, "example.org", 22))

    const ipv6 = one(`[::1]:2222 ssh-ed25519 ${K1}`)
    assert.isTrue(KnownHosts.matches(ipv6, "::1", 2222))
  })

  it("matches names hashed by ssh-keygen -H, and nothing else", () => {
    const [bare, ported] = KnownHosts.parse(HASHED)
    assert.strictEqual(bare!.hosts._tag, "Hashed")
    assert.isTrue(KnownHosts.matches(bare!, "example.org", 22))
    assert.isTrue(KnownHosts.matches(bare!, "EXAMPLE.org", 22))
    assert.isFalse(KnownHosts.matches(bare!, "example.org", 2222))
    assert.isFalse(KnownHosts.matches(bare!, "example.com", 22))
    assert.isTrue(KnownHosts.matches(ported!, "example.org", 2222))
    assert.isFalse(KnownHosts.matches(ported!, "example.org", 22))
  })
})

describe("KnownHosts.check", () => {
  const entries = KnownHosts.parse([
    `h1 ssh-ed25519 ${K1}`,
    `h2 ssh-ed25519 ${K2}`,
    `h3 ecdsa-sha2-nistp256 ${K3}`,
    `@revoked h4 ssh-ed25519 ${K1}`,
    `h4 ssh-ed25519 ${K1}`,
    `@cert-authority h5 ssh-ed25519 ${K1}`,
    HASHED
  ].join("\n"))

  it("knows a host whose key is listed, plain or hashed", () => {
    assert.strictEqual(KnownHosts.check(entries, "h1", 22, "ssh-ed25519", K1)._tag, "Known")
    assert.strictEqual(KnownHosts.check(entries, "example.org", 2222, "ssh-ed25519", K1)._tag, "Known")
  })

  it("reports a different key of the same type as a mismatch", () => {
    const verdict = KnownHosts.check(entries, "h2", 22, "ssh-ed25519", K1)
    assert.strictEqual(verdict._tag, "Mismatch")
    assert.strictEqual(verdict._tag === "Mismatch" ? verdict.entries[0]!.line : 0, 2)
    assert.strictEqual(KnownHosts.check(entries, "example.org", 22, "ssh-ed25519", K2)._tag, "Mismatch")
  })

  it("tells a host known only with other key types apart from an unknown one", () => {
    assert.deepStrictEqual(KnownHosts.check(entries, "h3", 22, "ssh-ed25519", K1), {
      _tag: "OtherTypes",
      keyTypes: ["ecdsa-sha2-nistp256"]
    })
    assert.strictEqual(KnownHosts.check(entries, "nowhere", 22, "ssh-ed25519", K1)._tag, "Unknown")
    assert.strictEqual(KnownHosts.check(entries, "h1", 2222, "ssh-ed25519", K1)._tag, "Unknown")
  })

  it("refuses a revoked key even when it is also listed, and never trusts a cert-authority line", () => {
    assert.strictEqual(KnownHosts.check(entries, "h4", 22, "ssh-ed25519", K1)._tag, "Revoked")
    assert.strictEqual(KnownHosts.check(entries, "h5", 22, "ssh-ed25519", K1)._tag, "Unknown")
  })

  it("lists the key types known for a host, for host-key algorithm preference", () => {
    assert.deepStrictEqual(KnownHosts.keyTypesFor(entries, "h3", 22), ["ecdsa-sha2-nistp256"])
    assert.deepStrictEqual(KnownHosts.keyTypesFor(entries, "h5", 22), [])
  })
})

describe("KnownHosts key blobs", () => {
  it("reads the key type from a blob and prints the fingerprint ssh-keygen prints", () => {
    const blob = Buffer.from(K1, "base64")
    assert.strictEqual(KnownHosts.keyTypeOf(blob), "ssh-ed25519")
    assert.strictEqual(KnownHosts.keyTypeOf(Buffer.from(K3, "base64")), "ecdsa-sha2-nistp256")
    assert.strictEqual(KnownHosts.fingerprint(blob), K1_FINGERPRINT)
    assert.strictEqual(KnownHosts.keyTypeOf(new Uint8Array([0, 0, 0, 9, 1])), undefined)
  })
})

describe("KnownHosts files", () => {
  const tempDir = Effect.acquireRelease(
    Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "cerulean-known-hosts-"))),
    (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
  )

  it.effect("reads an absent file as empty", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      assert.deepStrictEqual(yield* KnownHosts.read(NodePath.join(dir, "absent")), [])
    }))

  it.effect("append creates the directory (0700) and file (0600), once per key, after a missing final newline", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = NodePath.join(dir, "ssh", "known_hosts")
      yield* KnownHosts.append(file, "Example.org", 2222, "ssh-ed25519", K1)
      yield* KnownHosts.append(file, "example.org", 2222, "ssh-ed25519", K1)
      assert.strictEqual(NodeFs.readFileSync(file, "utf8"), `[example.org]:2222 ssh-ed25519 ${K1}\n`)
      assert.strictEqual(NodeFs.statSync(file).mode & 0o777, 0o600)
      assert.strictEqual(NodeFs.statSync(NodePath.dirname(file)).mode & 0o777, 0o700)

      NodeFs.writeFileSync(file, `h1 ssh-ed25519 ${K2}`)
      yield* KnownHosts.append(file, "h2", 22, "ssh-ed25519", K1)
      assert.strictEqual(NodeFs.readFileSync(file, "utf8"), `h1 ssh-ed25519 ${K2}\nh2 ssh-ed25519 ${K1}\n`)
      const entries = yield* KnownHosts.read(file)
      assert.strictEqual(KnownHosts.check(entries, "h2", 22, "ssh-ed25519", K1)._tag, "Known")
    }))

  it.effect("fails with KnownHostsError when the file cannot be read", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const error = yield* Effect.flip(KnownHosts.read(dir))
      assert.strictEqual(error._tag, "KnownHostsError")
      assert.strictEqual(error.path, dir)
    }))
})
