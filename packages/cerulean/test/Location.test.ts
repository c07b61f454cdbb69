import { assert, describe, it } from "@effect/vitest"
import * as Location from "../src/Location.ts"

const hostPort = (input: string, port = 22) => {
  const r = Location.parseHostPort(input, port)
  if (r instanceof Location.LocationError) throw new Error(`unexpected error for ${input}: ${r.message}`)
  return r
}

const location = (input: string) => {
  const r = Location.parse(input)
  if (r instanceof Location.LocationError) throw new Error(`unexpected error for ${input}: ${r.message}`)
  return r
}

const fails = (r: unknown, fragment: string) => {
  assert.instanceOf(r, Location.LocationError)
  assert.include((r as Location.LocationError).message, fragment)
}

describe("Location.parseHostPort", () => {
  it("takes host and host:port as Cerulean's make_terminal did", () => {
    assert.deepStrictEqual(hostPort("cluster.example.org"), { host: "cluster.example.org", port: 22 })
    assert.deepStrictEqual(hostPort("cluster.example.org:2222"), { host: "cluster.example.org", port: 2222 })
    assert.deepStrictEqual(hostPort("10.0.0.1", 2200), { host: "10.0.0.1", port: 2200 })
    assert.deepStrictEqual(hostPort("  host:1  "), { host: "host", port: 1 })
  })

  it("parses IPv6 literals, which Cerulean split on ':' and broke", () => {
    assert.deepStrictEqual(hostPort("[::1]:2222"), { host: "::1", port: 2222 })
    assert.deepStrictEqual(hostPort("[::1]"), { host: "::1", port: 22 })
    assert.deepStrictEqual(hostPort("::1"), { host: "::1", port: 22 })
    assert.deepStrictEqual(hostPort("2001:db8::42"), { host: "2001:db8::42", port: 22 })
    assert.deepStrictEqual(hostPort("[2001:db8::42]:65535"), { host: "2001:db8::42", port: 65535 })
  })

  it("refuses what is not a host[:port], with the reason", () => {
    fails(Location.parseHostPort("", 22), "no host")
    fails(Location.parseHostPort(":22", 22), "no host")
    fails(Location.parseHostPort("host:", 22), "port")
    fails(Location.parseHostPort("host:0", 22), "port")
    fails(Location.parseHostPort("host:65536", 22), "port")
    fails(Location.parseHostPort("host:22x", 22), "port")
    fails(Location.parseHostPort("[::1]:abc", 22), "port")
    fails(Location.parseHostPort("[::1", 22), "brackets")
    fails(Location.parseHostPort("::1]", 22), "brackets")
    fails(Location.parseHostPort("user@host", 22), "\"@\"")
    fails(Location.parseHostPort("host/path", 22), "\"/\"")
    fails(Location.parseHostPort("my host", 22), "cannot appear")
  })
})

describe("Location.parse", () => {
  it("reads sftp:// and ssh:// URLs with user, port and path", () => {
    assert.deepStrictEqual(location("sftp://cerulean@cluster:2222/home/cerulean/data"), {
      _tag: "Ssh",
      scheme: "sftp",
      username: "cerulean",
      host: "cluster",
      port: 2222,
      path: "/home/cerulean/data"
    })
    assert.deepStrictEqual(location("ssh://cluster"), {
      _tag: "Ssh",
      scheme: "ssh",
      username: undefined,
      host: "cluster",
      port: 22,
      path: "/"
    })
    assert.deepStrictEqual(location("SFTP://u@[::1]:2222/a%20b/%C3%BC"), {
      _tag: "Ssh",
      scheme: "sftp",
      username: "u",
      host: "::1",
      port: 2222,
      path: "/a b/ü"
    })
    const encodedUser = location("sftp://first.last%40lab@h/")
    assert.strictEqual(encodedUser._tag === "Ssh" ? encodedUser.username : undefined, "first.last@lab")
  })

  it("reads WebDAV URLs as an origin and a path", () => {
    assert.deepStrictEqual(location("webdav+https://dav.example.org:8443/files/a.txt"), {
      _tag: "Webdav",
      origin: "https://dav.example.org:8443",
      username: undefined,
      path: "/files/a.txt"
    })
    assert.deepStrictEqual(location("webdav+http://me@[::1]:8080/x"), {
      _tag: "Webdav",
      origin: "http://[::1]:8080",
      username: "me",
      path: "/x"
    })
    assert.strictEqual((location("https://h/") as { origin: string }).origin, "https://h")
  })

  it("reads file:// URLs and plain paths as local", () => {
    assert.deepStrictEqual(location("file:///tmp/x%20y"), { _tag: "Local", path: "/tmp/x y" })
    assert.deepStrictEqual(location("file://localhost/tmp"), { _tag: "Local", path: "/tmp" })
    assert.deepStrictEqual(location("/abs/path"), { _tag: "Local", path: "/abs/path" })
    assert.deepStrictEqual(location("relative/file.txt"), { _tag: "Local", path: "relative/file.txt" })
    assert.deepStrictEqual(location("./sftp:weird"), { _tag: "Local", path: "./sftp:weird" })
    assert.deepStrictEqual(location("100% done?#"), { _tag: "Local", path: "100% done?#" })
  })

  it("refuses bad URLs with a reason instead of guessing or throwing", () => {
    fails(Location.parse(""), "empty")
    fails(Location.parse("sftp://u:secret@h/"), "passwords")
    fails(Location.parse("sftp://h/%zz"), "percent-encoding")
    fails(Location.parse("sftp://h/a?b"), "%3F")
    fails(Location.parse("sftp://h/a#b"), "%23")
    fails(Location.parse("gopher://h/"), "unknown scheme")
    fails(Location.parse("sftp://h:99999/"), "not a valid URL")
    fails(Location.parse("sftp:///path"), "no host")
    fails(Location.parse("file://elsewhere/x"), "local host")
    fails(Location.parse("sftp:/host/x"), "did you mean sftp://")
    fails(Location.parse("webdav+https:host"), "did you mean webdav+https://")
    fails(Location.parse("cluster:/home/me"), "scp syntax")
    fails(Location.parse("me@cluster:data"), "scp syntax")
    fails(Location.parse("sftp://h/a%00b"), "NUL")
  })

  it("never throws, whatever the text", () => {
    for (const input of ["%", "sftp://%", "sftp://[", "sftp://h/%", "::::", "[]", "sftp://@/", "\u0000", "ssh://h:/"]) {
      const r = Location.parse(input)
      assert.isTrue(r instanceof Location.LocationError || typeof r === "object")
      const h = Location.parseHostPort(input, 22)
      assert.isTrue(h instanceof Location.LocationError || typeof h.port === "number")
    }
  })
})
