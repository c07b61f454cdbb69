// The direct download path (a GET on a connection of its own, read into recycled blocks) against in-process servers
// that write the response byte for byte: every framing a GET can get back (Content-Length, chunked with extensions
// and trailers, the end of the connection, interim 1xx responses), cut into pieces at any point; broken and
// malformed responses; a silent server; a consumer slower than the timeout. Then `copy` from a fake WebDAV server to
// a local file, which takes this path for large files: complete files, the request it sends, and nothing left
// behind by a failure or an interruption.
import { copyAll } from "@cerulean/core"
import { LocalFileSystem } from "@cerulean/core/LocalFileSystem"
import { WebdavFileSystem } from "@cerulean/webdav/WebdavFileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import { createHash, randomBytes } from "node:crypto"
import * as NFS from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as OS from "node:os"
import * as NodePath from "node:path"
import * as Download from "../src/internal/download.ts"
import * as Errors from "../src/internal/errors.ts"
import type { Transport } from "../src/internal/http.ts"
import * as Url from "../src/internal/url.ts"

// ---------------------------------------------------------------- a raw HTTP server

interface RawServer {
  readonly port: number
  /** The head of every request received, in order. */
  readonly requests: ReadonlyArray<string>
  /** How many connections are open now. */
  readonly open: () => number
}

/** A TCP server that reads a request head and lets `reply` write whatever it likes on the socket. */
const rawServer = (reply: (socket: Net.Socket, request: string) => void) =>
  Effect.acquireRelease(
    Effect.callback<RawServer & { readonly server: Net.Server; readonly sockets: Set<Net.Socket> }>((resume) => {
      const requests: Array<string> = []
      const sockets = new Set<Net.Socket>()
      const server = Net.createServer((socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => {})
        socket.setNoDelay(true)
        let head = ""
        const onData = (data: Buffer) => {
          head += data.toString("latin1")
          const end = head.indexOf("\r\n\r\n")
          if (end < 0) return
          socket.off("data", onData)
          requests.push(head.slice(0, end))
          reply(socket, head.slice(0, end))
        }
        socket.on("data", onData)
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, sockets, port, requests, open: () => sockets.size }))
      })
    }),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  )

/** Writes the pieces one by one with a pause between them, so that they arrive as separate reads. */
const sendPieces = (socket: Net.Socket, pieces: ReadonlyArray<Uint8Array>, end: boolean, gapMillis = 3) => {
  const next = (i: number) => {
    if (socket.destroyed) return
    if (i === pieces.length) {
      if (end) socket.end()
      return
    }
    socket.write(pieces[i]!)
    setTimeout(() => next(i + 1), gapMillis)
  }
  next(0)
}

/** Cuts `data` at the given offsets (sorted, deduplicated, inside the data). */
const cut = (data: Uint8Array, at: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(at.filter((p) => p > 0 && p < data.length))].sort((a, b) => a - b)
  const pieces: Array<Uint8Array> = []
  let from = 0
  for (const p of points) {
    pieces.push(data.subarray(from, p))
    from = p
  }
  pieces.push(data.subarray(from))
  return pieces
}

const transportOf = (port: number, timeout: Duration.Input = "5 seconds"): Transport => {
  const base = Url.parseBase(`http://127.0.0.1:${port}/dav`)
  if (Url.isProblem(base)) return assert.fail(base.message)
  return {
    base,
    agent: new Http.Agent(),
    authorization: Redacted.make("Basic dXNlcjpwYXNz"),
    ca: undefined,
    timeout: Duration.fromInputUnsafe(timeout)
  }
}

const blockSize = 64 * 1024

/**
 * Downloads `/dav/file` from the server; returns the head, the body (copied out of each block before the block
 * goes back) and the size of each block.
 */
interface FetchOptions {
  readonly timeout?: Duration.Input
  readonly blocks?: number
  /** Runs before each block is taken: a slow consumer. */
  readonly perBlock?: Effect.Effect<void>
}

const fetch = (port: number, options: FetchOptions = {}) =>
  Effect.scoped(Effect.gen(function*() {
    const download = yield* Download.get(
      transportOf(port, options.timeout),
      `http://127.0.0.1:${port}/dav/file`,
      Errors.fromCause("readStream", "/file"),
      blockSize,
      options.blocks ?? 4
    )
    const parts: Array<Buffer> = []
    const sizes: Array<number> = []
    yield* Stream.runForEach(download.body, (block) =>
      Effect.map(options.perBlock ?? Effect.void, () => {
        parts.push(Buffer.from(block))
        sizes.push(block.length)
        download.release(block)
      }))
    return { head: download.head, body: Buffer.concat(parts), sizes }
  }))

const head = (status: string, fields: ReadonlyArray<string>) =>
  Buffer.from([`HTTP/1.1 ${status}`, ...fields, "", ""].join("\r\n"), "latin1")

/** A whole response: the head, then `body` as it is (framing included, if any). */
const response = (status: string, fields: ReadonlyArray<string>, body: string | Uint8Array) =>
  Buffer.concat([head(status, fields), typeof body === "string" ? Buffer.from(body, "latin1") : body])

/** The body in chunked transfer coding: chunks of the given sizes (cycled), each with or without an extension. */
const chunked = (
  body: Uint8Array,
  sizes: ReadonlyArray<number>,
  extensions: boolean,
  trailers: ReadonlyArray<string>
) => {
  const parts: Array<Uint8Array> = []
  let at = 0
  for (let i = 0; at < body.length; i++) {
    const size = Math.min(sizes[i % sizes.length]!, body.length - at)
    const ext = extensions && i % 2 === 0 ? `;name=value${i}` : ""
    parts.push(Buffer.from(`${size.toString(16)}${ext}\r\n`, "latin1"))
    parts.push(body.subarray(at, at + size), Buffer.from("\r\n"))
    at += size
  }
  parts.push(Buffer.from(`0\r\n${trailers.map((t) => `${t}\r\n`).join("")}\r\n`, "latin1"))
  return Buffer.concat(parts)
}

const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex")

// ---------------------------------------------------------------- the response as sent

describe("direct download: framing", () => {
  it.live("sends one GET with the URL's path, Host, Basic auth and Connection: close", () =>
    Effect.gen(function*() {
      const server = yield* rawServer((socket) => socket.end(response("200 OK", ["Content-Length: 2"], "ok")))
      const got = yield* fetch(server.port)
      assert.strictEqual(got.body.toString(), "ok")
      assert.strictEqual(server.requests.length, 1)
      const lines = server.requests[0]!.split("\r\n")
      assert.strictEqual(lines[0], "GET /dav/file HTTP/1.1")
      assert.include(lines, `Host: 127.0.0.1:${server.port}`)
      assert.include(lines, "Authorization: Basic dXNlcjpwYXNz")
      assert.include(lines, "Connection: close")
    }))

  it.live("Content-Length: the body arrives whole in full blocks, however the response is cut", () =>
    Effect.gen(function*() {
      const body = randomBytes(5 * blockSize + 1234)
      const responseHead = head("200 OK", [`Content-Length: ${body.length}`, "Content-Type: application/octet-stream"])
      const wire = Buffer.concat([responseHead, body])
      let points: ReadonlyArray<number> = []
      const server = yield* rawServer((socket) => sendPieces(socket, cut(wire, points), true))
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 6 * blockSize }), { maxLength: 6 }), (at) => {
            // Among the cuts: inside the status line, at each byte of the CRLF CRLF that ends the head, right after it.
            const h = responseHead.length
            points = [...at, 5, h - 3, h - 2, h - 1, h, h + 1]
            return Effect.runPromise(Effect.gen(function*() {
              const got = yield* fetch(server.port)
              assert.strictEqual(got.head.status, 200)
              assert.strictEqual(got.head.headers["content-type"], "application/octet-stream")
              assert.strictEqual(sha(got.body), sha(body))
              assert.deepStrictEqual(got.sizes, [blockSize, blockSize, blockSize, blockSize, blockSize, 1234])
            }))
          }),
          { numRuns: 15 }
        )
      )
    }), 60_000)

  it.live("chunked: sizes, extensions and trailers of any shape, cut anywhere, give the body and nothing else", () =>
    Effect.gen(function*() {
      let wire = Buffer.alloc(0)
      let points: ReadonlyArray<number> = []
      const server = yield* rawServer((socket) => sendPieces(socket, cut(wire, points), true, 1))
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 0, max: 3 * blockSize }),
            fc.array(fc.integer({ min: 1, max: 2 * blockSize }), { minLength: 1, maxLength: 4 }),
            fc.boolean(),
            fc.constantFrom([], ["Expires: never"], ["X-A: 1", "X-B: 2"]),
            fc.array(fc.integer({ min: 1, max: 4 * blockSize }), { maxLength: 8 }),
            (size, sizes, extensions, trailers, at) => {
              const body = randomBytes(size)
              wire = response("200 OK", ["Transfer-Encoding: chunked"], chunked(body, sizes, extensions, trailers))
              points = at
              return Effect.runPromise(Effect.gen(function*() {
                const got = yield* fetch(server.port)
                assert.strictEqual(got.body.length, body.length)
                assert.strictEqual(sha(got.body), sha(body))
                for (const s of got.sizes.slice(0, -1)) assert.strictEqual(s, blockSize)
              }))
            }
          ),
          { numRuns: 25 }
        )
      )
    }), 60_000)

  it.live("no length and no chunking: the body is what comes until the server closes", () =>
    Effect.gen(function*() {
      const body = randomBytes(2 * blockSize + 17)
      const server = yield* rawServer((socket) =>
        sendPieces(socket, [head("200 OK", ["Content-Type: text/plain"]), ...cut(body, [1000])], true))
      const got = yield* fetch(server.port)
      assert.strictEqual(sha(got.body), sha(body))
    }))

  it.live("interim 1xx responses are skipped; 204 has no body", () =>
    Effect.gen(function*() {
      let status = "200 OK"
      const server = yield* rawServer((socket) =>
        socket.end(Buffer.concat([
          head("103 Early Hints", ["Link: </style.css>; rel=preload"]),
          head("100 Continue", []),
          head(status, status.startsWith("204") ? [] : ["Content-Length: 5"]),
          Buffer.from(status.startsWith("204") ? "" : "hello")
        ])))
      const got = yield* fetch(server.port)
      assert.strictEqual(got.head.status, 200)
      assert.strictEqual(got.body.toString(), "hello")
      status = "204 No Content"
      const empty = yield* fetch(server.port)
      assert.strictEqual(empty.head.status, 204)
      assert.strictEqual(empty.body.length, 0)
    }))

  it.live("an error status comes back as a head like any other, with its text", () =>
    Effect.gen(function*() {
      const server = yield* rawServer((socket) =>
        socket.end(response("404 Not Found", ["Content-Length: 9", "Content-Type: text/html"], "not found")))
      const got = yield* fetch(server.port)
      assert.strictEqual(got.head.status, 404)
      assert.strictEqual(got.head.statusText, "Not Found")
      assert.strictEqual(got.head.headers["content-type"], "text/html")
    }))
})

describe("direct download: broken responses", () => {
  const failureOf = (reply: (socket: Net.Socket) => void, timeout: Duration.Input = "5 seconds") =>
    Effect.gen(function*() {
      const server = yield* rawServer(reply)
      return yield* Effect.flip(fetch(server.port, { timeout }))
    })

  it.live("a body that breaks off is ConnectionLost, never a short file", () =>
    Effect.gen(function*() {
      const short = yield* failureOf((socket) =>
        socket.end(response("200 OK", ["Content-Length: 100000"], randomBytes(70000))))
      assert.strictEqual(short.reason._tag, "ConnectionLost")
      const chunkedShort = yield* failureOf((socket) =>
        socket.end(response("200 OK", ["Transfer-Encoding: chunked"], "10\r\n0123456789abcdef\r\n")))
      assert.strictEqual(chunkedShort.reason._tag, "ConnectionLost")
      const noHead = yield* failureOf((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Le"))
      assert.strictEqual(noHead.reason._tag, "ConnectionLost")
    }))

  it.live("malformed framing is an error that says what is wrong", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, Buffer]> = [
        ["chunk size", response("200 OK", ["Transfer-Encoding: chunked"], "zz\r\nhello\r\n0\r\n\r\n")],
        ["CRLF", response("200 OK", ["Transfer-Encoding: chunked"], "5\r\nhelloX\r\n0\r\n\r\n")],
        ["Content-Length", response("200 OK", ["Content-Length: 5", "Content-Length: 6"], "hello")],
        ["Content-Length", response("200 OK", ["Content-Length: -5"], "hello")],
        ["status line", Buffer.from("ICY 200 OK\r\n\r\nhello")],
        ["header field", Buffer.from("HTTP/1.1 200 OK\r\nno colon here\r\n\r\nhello")],
        ["too large", Buffer.concat([Buffer.from("HTTP/1.1 200 OK\r\n"), Buffer.alloc(70 * 1024, "X-Pad: 1\r\n")])]
      ]
      for (const [what, wire] of cases) {
        const e = yield* failureOf((socket) => socket.end(wire))
        assert.strictEqual(e.reason._tag, "Io", what)
        assert.include(e.reason.description ?? "", what, what)
      }
    }))

  it.live("a server silent for longer than the timeout is ConnectionLost (ETIMEDOUT), before or after the head", () =>
    Effect.gen(function*() {
      const start = Date.now()
      const beforeHead = yield* failureOf(() => {}, "300 millis")
      assert.strictEqual(beforeHead.reason._tag, "ConnectionLost")
      assert.include(beforeHead.reason.description ?? "", "ETIMEDOUT")
      const midBody = yield* failureOf(
        (socket) => socket.write(response("200 OK", ["Content-Length: 1000000"], randomBytes(1000))),
        "300 millis"
      )
      assert.strictEqual(midBody.reason._tag, "ConnectionLost")
      assert.include(midBody.reason.description ?? "", "ETIMEDOUT")
      assert.isBelow(Date.now() - start, 5000)
    }))

  it.live("a refused connection is ConnectionLost", () =>
    Effect.gen(function*() {
      // A port that was free a moment ago: nobody listens on it once the probe is closed.
      const port = yield* Effect.callback<number>((resume) => {
        const probe = Net.createServer()
        probe.listen(0, "127.0.0.1", () => {
          const address = probe.address()
          const free = typeof address === "object" && address !== null ? address.port : 0
          probe.close(() => resume(Effect.succeed(free)))
        })
      })
      const e = yield* Effect.flip(fetch(port))
      assert.strictEqual(e.reason._tag, "ConnectionLost")
      assert.include(e.reason.description ?? "", "ECONNREFUSED")
    }))
})

describe("direct download: back-pressure", () => {
  it.live("a consumer slower than the timeout gets every byte: reading stops while all blocks are out", () =>
    Effect.gen(function*() {
      const body = randomBytes(48 * 1024 * 1024 + 5)
      let sent = 0
      const server = yield* rawServer((socket) => {
        const wire = response("200 OK", [`Content-Length: ${body.length}`], body)
        // Small writes, as long as the socket takes them, so that `sent` tells how far the client let it go.
        const pump = () => {
          while (sent < wire.length) {
            const piece = wire.subarray(sent, sent + 64 * 1024)
            sent += piece.length
            if (!socket.write(piece)) return socket.once("drain", pump)
          }
          socket.end()
        }
        pump()
      })
      let taken = 0
      let sentMeanwhile = 0
      const got = yield* fetch(server.port, {
        timeout: "200 millis",
        blocks: 2,
        perBlock: Effect.suspend(() => {
          taken++
          if (taken > 4) return Effect.void
          if (taken === 4) sentMeanwhile = sent
          // Longer than the timeout over each of the first blocks: the server waits for us, which is not its silence.
          return Effect.sleep("250 millis")
        })
      }).pipe(Effect.timeout("60 seconds"))
      assert.strictEqual(sha(got.body), sha(body))
      // After three long pauses the server had sent two blocks plus what the kernel buffers, far from everything.
      assert.isBelow(sentMeanwhile, body.length / 2, `sent ${sentMeanwhile} of ${body.length}`)
    }), 90_000)
})

// ---------------------------------------------------------------- copy from a fake WebDAV server

const fileSize = 6 * 1024 * 1024 + 321

const propfind = (size: number) =>
  `<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:">
<D:response><D:href>/dav/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype>
<D:getlastmodified>Sat, 28 Nov 2026 17:21:30 GMT</D:getlastmodified></D:prop>
<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/dav/big</D:href><D:propstat><D:prop><D:resourcetype/>
<D:getcontentlength>${size}</D:getcontentlength>
<D:getlastmodified>Sat, 28 Nov 2026 17:21:30 GMT</D:getlastmodified></D:prop>
<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
</D:multistatus>`

/**
 * PROPFIND describes `/dav/` (a collection) and `/dav/big` (a file of `fileSize` bytes); a GET of `/dav/big` is
 * answered by `get` on the raw socket.
 */
const fakeDav = (get: (socket: Net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: Http.Server; readonly url: string; readonly gets: () => number }>((resume) => {
      let gets = 0
      const server = Http.createServer((req, res) => {
        if (req.method === "PROPFIND") {
          const body = propfind(fileSize)
          res.writeHead(207, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) })
          res.end(body)
        } else if (req.method === "GET" && req.url === "/dav/big") {
          gets++
          get(req.socket)
        } else {
          res.writeHead(404, { "content-length": 0 })
          res.end()
        }
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}/dav`, gets: () => gets }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

const localDir = Effect.acquireRelease(
  Effect.sync(() => NFS.mkdtempSync(NodePath.join(OS.tmpdir(), "cerulean-webdav-download-"))),
  (dir) => Effect.sync(() => NFS.rmSync(dir, { recursive: true, force: true }))
)

const local = LocalFileSystem.make.pipe(Effect.provide(NodeFileSystem.layer))

describe("copy from WebDAV to a local file (the direct download)", () => {
  it.live("a large file arrives whole, on a connection of its own", () =>
    Effect.gen(function*() {
      const body = randomBytes(fileSize)
      const dav = yield* fakeDav((socket) =>
        sendPieces(socket, [head("200 OK", [`Content-Length: ${fileSize}`]), ...cut(body, [100])], true))
      const fs = yield* WebdavFileSystem.make({ url: dav.url })
      const dir = yield* localDir
      const lfs = yield* local
      const done = yield* copyAll(fs.path("/big"), lfs.path(dir, "big"))
      assert.strictEqual(done.bytesDone, fileSize)
      assert.strictEqual(dav.gets(), 1)
      assert.strictEqual(sha(NFS.readFileSync(NodePath.join(dir, "big"))), sha(body))
    }))

  it.live("a server that stops mid-file: ConnectionLost after the timeout, and no file, not even a temporary one", () =>
    Effect.gen(function*() {
      const dav = yield* fakeDav((socket) =>
        socket.write(response("200 OK", [`Content-Length: ${fileSize}`], randomBytes(3 * 1024 * 1024))))
      const fs = yield* WebdavFileSystem.make({ url: dav.url, timeout: "400 millis" })
      const dir = yield* localDir
      const lfs = yield* local
      const e = yield* Effect.flip(copyAll(fs.path("/big"), lfs.path(dir, "big")))
      assert.strictEqual(e.reason._tag, "ConnectionLost")
      assert.deepStrictEqual(NFS.readdirSync(dir), [])
    }))

  it.live("an error page is the error its status stands for, never the file's content", () =>
    Effect.gen(function*() {
      const dav = yield* fakeDav((socket) =>
        socket.end(response("403 Forbidden", ["Content-Length: 9", "Content-Type: text/html"], "forbidden")))
      const fs = yield* WebdavFileSystem.make({ url: dav.url })
      const dir = yield* localDir
      const lfs = yield* local
      const e = yield* Effect.flip(copyAll(fs.path("/big"), lfs.path(dir, "big")))
      assert.strictEqual(e.reason._tag, "PermissionDenied")
      assert.include(e.reason.description ?? "", "403")
      assert.deepStrictEqual(NFS.readdirSync(dir), [])
    }))

  it.live("interrupted midway: no file is left, and the connection is closed", () =>
    Effect.gen(function*() {
      let serverSocket: Net.Socket | undefined
      const dav = yield* fakeDav((socket) => {
        serverSocket = socket
        // Half the file, then nothing: the copy is caught with data written and more to come.
        socket.write(response("200 OK", [`Content-Length: ${fileSize}`], randomBytes(3 * 1024 * 1024)))
      })
      const fs = yield* WebdavFileSystem.make({ url: dav.url })
      const dir = yield* localDir
      const lfs = yield* local
      const fiber = yield* Effect.forkChild(copyAll(fs.path("/big"), lfs.path(dir, "big")))
      // Wait until the temporary file holds some of the data (copy also makes and removes a directory, to learn
      // the umask: that is not it).
      const writing = () =>
        NFS.readdirSync(dir).some((name) => {
          const info = NFS.statSync(NodePath.join(dir, name), { throwIfNoEntry: false })
          return info !== undefined && info.isFile() && info.size > 0
        })
      for (let i = 0; i < 500 && !writing(); i++) yield* Effect.sleep("10 millis")
      assert.isTrue(writing(), "the copy started writing")
      const exit = yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(NFS.readdirSync(dir), [])
      for (let i = 0; i < 100 && serverSocket?.destroyed !== true; i++) yield* Effect.sleep("10 millis")
      assert.isTrue(serverSocket?.destroyed, "the server saw the connection close")
    }))
})
