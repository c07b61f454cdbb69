// The `timeout` option against a tiny in-process HTTP server that misbehaves on purpose: a server that stays
// silent fails the operation with ConnectionLost within the timeout, while a consumer that takes its time with
// the data is never cut off.
import { WebdavFileSystem } from "@cerulean/webdav/WebdavFileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Http from "node:http"

const multistatus = `<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:"><D:response><D:href>/</D:href><D:propstat><D:prop>
<D:resourcetype><D:collection/></D:resourcetype><D:getlastmodified>Sat, 28 Nov 2026 17:21:30 GMT</D:getlastmodified>
</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`

const size = 2 * 1024 * 1024

/** PROPFIND / answers a collection; GET /stall sends 10 bytes of 1000 and stops; GET /big sends 2 MiB at once. */
const server = Effect.acquireRelease(
  Effect.callback<Http.Server>((resume) => {
    const s = Http.createServer((req, res) => {
      if (req.method === "PROPFIND") {
        res.writeHead(207, { "content-type": "application/xml" })
        res.end(multistatus)
      } else if (req.method === "GET" && req.url === "/stall") {
        res.writeHead(200, { "content-length": "1000" })
        res.write(Buffer.alloc(10))
      } else if (req.method === "GET" && req.url === "/big") {
        res.writeHead(200, { "content-length": String(size) })
        res.end(Buffer.alloc(size, 7))
      } else if (req.method === "GET" && req.url === "/silent") {
        // no answer at all
      } else {
        res.writeHead(404)
        res.end()
      }
    })
    s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
  }),
  (s) =>
    Effect.callback<void>((resume) => {
      s.closeAllConnections()
      s.close(() => resume(Effect.void))
    })
)

const urlOf = (s: Http.Server) => {
  const address = s.address()
  return typeof address === "object" && address !== null ? `http://127.0.0.1:${address.port}` : assert.fail("no port")
}

describe("timeout", () => {
  it.live("a download the server stops sending fails with ConnectionLost after the timeout", () =>
    Effect.gen(function*() {
      const s = yield* server
      const fs = yield* WebdavFileSystem.make({ url: urlOf(s), timeout: "500 millis" })
      const start = Date.now()
      const e = yield* Effect.flip(Stream.runDrain(fs.path("stall").readStream()))
      assert.strictEqual(e.reason._tag, "ConnectionLost")
      assert.include(e.reason.description ?? "", "ETIMEDOUT")
      assert.isBelow(Date.now() - start, 5000)
      const silent = yield* Effect.flip(fs.path("silent").readText())
      assert.strictEqual(silent.reason._tag, "ConnectionLost")
    }))

  it.live("a consumer slower than the timeout still gets every byte", () =>
    Effect.gen(function*() {
      const s = yield* server
      // The consumer takes longer over each batch than the timeout allows the server to stay silent.
      const fs = yield* WebdavFileSystem.make({ url: urlOf(s), timeout: "1 second" })
      let bytes = 0
      yield* fs.path("big").readStream().pipe(
        Stream.runForEach((chunk) =>
          Effect.andThen(Effect.sleep("1200 millis"), Effect.sync(() => {
            bytes += chunk.length
          }))
        )
      )
      assert.strictEqual(bytes, size)
    }))

  it.live("a bad timeout is refused at make", () =>
    Effect.gen(function*() {
      const s = yield* server
      const e = yield* Effect.flip(WebdavFileSystem.make({ url: urlOf(s), timeout: "0 millis" }))
      assert.include(e.reason.description ?? "", "timeout")
    }))
})
