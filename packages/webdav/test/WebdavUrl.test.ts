// Unit tests of the pure parts of the WebDAV file system: base URL validation, path encoding, and the
// mapping of HTTP statuses and network errors to FileSystemError reasons.
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Errors from "../src/internal/errors.ts"
import * as Url from "../src/internal/url.ts"

const base = (url: string): Url.Base => {
  const b = Url.parseBase(url)
  if (Url.isProblem(b)) return assert.fail(`refused ${url}: ${b.message}`)
  return b
}

describe("parseBase", () => {
  it("strips trailing slashes, so /files and /files/ are one file system", () => {
    assert.strictEqual(base("http://127.0.0.1:8080/files").href, "http://127.0.0.1:8080/files")
    assert.strictEqual(base("http://127.0.0.1:8080/files/").href, "http://127.0.0.1:8080/files")
    assert.strictEqual(base("http://127.0.0.1:8080/files//").href, "http://127.0.0.1:8080/files")
    assert.strictEqual(base("https://localhost:8443").href, "https://localhost:8443")
    assert.strictEqual(base("https://localhost:8443/").pathname, "")
    assert.strictEqual(base("HTTP://Example.ORG:80/x").href, "http://example.org/x")
  })

  it("refuses other schemes as Unsupported and malformed URLs, credentials, queries as errors", () => {
    const ftp = Url.parseBase("ftp://host/x")
    assert.isTrue(Url.isProblem(ftp) && ftp.unsupported)
    for (const bad of ["not a url", "http://user:secret@host/x", "http://host/x?q=1", "http://host/x#frag", ""]) {
      const p = Url.parseBase(bad)
      assert.isTrue(Url.isProblem(p) && !p.unsupported, bad)
    }
    const withPassword = Url.parseBase("http://user:secret@host/x")
    assert.isTrue(Url.isProblem(withPassword) && !withPassword.message.includes("secret"))
  })
})

describe("urlOf", () => {
  const b = base("http://127.0.0.1:8080/files")

  it("appends the percent-encoded path to the base", () => {
    assert.strictEqual(Url.urlOf(b, "/"), "http://127.0.0.1:8080/files/")
    assert.strictEqual(Url.urlOf(b, "/a/b.txt"), "http://127.0.0.1:8080/files/a/b.txt")
    assert.strictEqual(Url.urlOf(b, "/with space/#hash %20 ?q"), "http://127.0.0.1:8080/files/with%20space/%23hash%20%2520%20%3Fq")
    assert.strictEqual(Url.urlOf(b, "/ünï"), "http://127.0.0.1:8080/files/%C3%BCn%C3%AF")
  })

  it("gives collections a trailing slash, once", () => {
    assert.strictEqual(Url.urlOf(b, "/d", true), "http://127.0.0.1:8080/files/d/")
    assert.strictEqual(Url.urlOf(b, "/", true), "http://127.0.0.1:8080/files/")
    assert.strictEqual(Url.asCollection("/d"), "/d/")
    assert.strictEqual(Url.asCollection("/"), "/")
  })

  // "." and ".." are no file names (URLs resolve them like paths do, which is right on WebDAV: it has no links).
  it("every name survives encoding: decoding the URL path gives the name back", () =>
    fc.assert(fc.property(
      fc.string({ minLength: 1, unit: "grapheme" }).filter((s) => !s.includes("/") && s !== "." && s !== ".."),
      (name) => {
        const url = new URL(Url.urlOf(b, `/dir/${name}`))
        const segments = url.pathname.split("/")
        assert.strictEqual(segments.length, 4)
        assert.strictEqual(decodeURIComponent(segments[3]!), name)
      }
    )))
})

describe("status and error mapping", () => {
  it("maps statuses to reasons", () => {
    const cases: ReadonlyArray<[number, string]> = [
      [401, "PermissionDenied"],
      [403, "PermissionDenied"],
      [423, "PermissionDenied"],
      [404, "NotFound"],
      [410, "NotFound"],
      [409, "NotFound"],
      [412, "AlreadyExists"],
      [405, "Unsupported"],
      [507, "Io"],
      [500, "Io"],
      [400, "Io"]
    ]
    for (const [status, reason] of cases) assert.strictEqual(Errors.reasonOfStatus(status), reason, String(status))
  })

  it("keeps the status in the description", () => {
    const e = Errors.fromStatus("writeStream", "/a", { status: 507, statusText: "Insufficient Storage" })
    assert.strictEqual(e.reason._tag, "Io")
    assert.strictEqual(e.reason.description, "HTTP 507 Insufficient Storage")
    assert.strictEqual(e.path, "/a")
  })

  it("maps client errors with a status, network errors and TLS errors", () => {
    const map = Errors.fromCause("stat", "/x")
    assert.strictEqual(map(Object.assign(new Error("Invalid response: 401"), { status: 401 })).reason._tag, "PermissionDenied")
    assert.strictEqual(map(Object.assign(new Error("connect"), { code: "ECONNREFUSED" })).reason._tag, "ConnectionLost")
    assert.strictEqual(map(Object.assign(new Error("x"), { code: "ECONNRESET" })).reason._tag, "ConnectionLost")
    assert.strictEqual(map(new Error("aborted")).reason._tag, "ConnectionLost")
    const tls = map(Object.assign(new Error("unable to verify"), { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" }))
    assert.strictEqual(tls.reason._tag, "Io")
    assert.include(tls.reason.description ?? "", "hostCaCertFile")
    assert.strictEqual(map(Object.assign(new Error("x"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" })).reason._tag, "Io")
    assert.strictEqual(map(new Error("something else")).reason._tag, "Io")
  })
})
