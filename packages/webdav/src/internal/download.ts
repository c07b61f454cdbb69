/**
 * Large downloads on a connection of their own: a GET whose body the socket
 * reads straight into a few large reusable blocks (`onread`), handed to the
 * consumer as they fill and given back once written.
 *
 * Node's HTTP client delivers a body as one new buffer per network read (at
 * most 64 KiB over TCP, 16 KiB over TLS) that its parser has copied once
 * more, each passed on by an event: for 256 MiB that is 4,000 to 16,000
 * allocations, their garbage collection, and per-chunk work in the stream
 * that carries them. Measured on the testbed, that kept a download to a
 * third of curl's speed. Here the kernel (or TLS) writes into the blocks:
 * no allocation and no copy per read, and one file write per block.
 *
 * The price is a connection per download (`Connection: close`, no pool), so
 * the file system takes this path only for files large enough that a
 * handshake does not matter, and only to write into a local file.
 *
 * The HTTP/1.1 it reads is what a GET can get back (RFC 9112): a status line
 * and header fields (interim 1xx responses skipped), then a body framed by
 * `Content-Length`, by `chunked` transfer coding, or by the end of the
 * connection. A body that ends early, malformed framing and a server that
 * stays silent longer than the timeout (time spent waiting for the consumer
 * does not count) are errors, never a short file.
 *
 * @internal
 */
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { BlockPool } from "./blocks.ts"
import { timedOut, type Transport, userAgent } from "./http.ts"

/** The status line and header fields of a response; header names in lower case, repeated fields joined by `, `. */
export interface Head {
  readonly status: number
  readonly statusText: string
  readonly headers: Readonly<Record<string, string>>
}

/** An open download: the head of the response, then its body as blocks. */
export interface Download<E> {
  readonly head: Head
  /**
   * The body in blocks of the pool's block size (the last one shorter), in
   * order. Each block's memory is read into again once given back with
   * {@link Download.release}; reading stops while every block is out.
   */
  readonly body: Stream.Stream<Uint8Array, E>
  /** Gives a block of {@link Download.body} back once nothing reads it any more. */
  readonly release: (block: Uint8Array) => void
}

/** Too long a head or line is not a WebDAV server talking. */
const maxHeadBytes = 64 * 1024
const maxLineBytes = 4 * 1024

/** Where the socket reads while no block is free: TLS may hand over what it has already decrypted. */
const spillBytes = 64 * 1024

const LF = 0x0a
const CR = 0x0d

/** An error of the protocol, shaped as Node's own (`code`), so that `Errors.fromCause` maps it. */
const protocolError = (message: string) => Object.assign(new Error(message), { code: "HPE_INVALID_RESPONSE" })

const aborted = () => Object.assign(new Error("aborted"), { code: "ECONNRESET" })

type Framing =
  | { readonly _tag: "Length"; remaining: number }
  | { readonly _tag: "Chunked" }
  | { readonly _tag: "Close" }

/** Parses a head (without its final empty line); a string is what is wrong with it. */
export const parseHead = (text: string): Head | string => {
  const lines = text.split(/\r?\n/)
  const statusLine = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? "")
  if (statusLine === null) return `not an HTTP/1.x status line: ${JSON.stringify((lines[0] ?? "").slice(0, 80))}`
  const headers: Record<string, string> = {}
  let last: string | undefined
  for (const line of lines.slice(1)) {
    if ((line.startsWith(" ") || line.startsWith("\t")) && last !== undefined) {
      // obs-fold: a continuation of the previous field's value.
      headers[last] = `${headers[last]} ${line.trim()}`
      continue
    }
    const colon = line.indexOf(":")
    if (colon <= 0) return `malformed header field: ${JSON.stringify(line.slice(0, 80))}`
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
    last = name
  }
  return { status: Number(statusLine[1]), statusText: statusLine[2] ?? "", headers }
}

/** How the body of a response to a GET is delimited (RFC 9112 §6.3); a string is what is wrong. */
export const framingOf = (head: Head): Framing | string => {
  if (head.status === 204 || head.status === 304) return { _tag: "Length", remaining: 0 }
  const coding = head.headers["transfer-encoding"]
  if (coding !== undefined) {
    const codings = coding.split(",").map((c) => c.trim().toLowerCase())
    return codings[codings.length - 1] === "chunked" ? { _tag: "Chunked" } : { _tag: "Close" }
  }
  const length = head.headers["content-length"]
  if (length !== undefined) {
    // Repeated fields with one value are allowed; anything else could be a smuggling attempt.
    const values = new Set(length.split(",").map((v) => v.trim()))
    const [value] = values
    if (values.size !== 1 || value === undefined || !/^\d{1,15}$/.test(value)) {
      return `invalid Content-Length: ${JSON.stringify(length.slice(0, 80))}`
    }
    return { _tag: "Length", remaining: Number(value) }
  }
  return { _tag: "Close" }
}

/**
 * The receiving end of one download: reads into the pool's blocks, takes
 * the head off, undoes the framing in place, and queues each full block.
 */
class Receiver {
  readonly socket: Net.Socket
  private readonly spill = Buffer.allocUnsafeSlow(spillBytes)
  private current: Buffer | undefined
  private fill = 0
  /** Reading is stopped until a block comes back. */
  private stopped = false
  private readonly ready: Array<Uint8Array> = []
  private phase: "head" | "body" | "end" = "head"
  private framing: Framing = { _tag: "Close" }
  private chunk: "size" | "data" | "crlf" | "trailer" = "size"
  private chunkLeft = 0
  private line = ""
  head: Head | undefined
  failure: unknown = undefined
  private wake: (() => void) | undefined
  private readonly pool: BlockPool
  private readonly timeout: Duration.Duration

  constructor(
    pool: BlockPool,
    timeout: Duration.Duration,
    connect: (onread: Net.OnReadOpts) => Net.Socket,
    request: string
  ) {
    this.pool = pool
    this.timeout = timeout
    this.current = pool.takeExtra()
    this.socket = connect({
      buffer: () => (this.current === undefined ? this.spill : this.current.subarray(this.fill)),
      callback: (n, buffer) => this.onRead(n, buffer)
    })
    this.socket.setTimeout(Duration.toMillis(timeout))
    this.socket.on("timeout", () => this.fail(timedOut(timeout)))
    this.socket.on("error", (cause) => this.fail(cause))
    this.socket.on("end", () => this.onEnd())
    this.socket.on("close", () => this.onEnd())
    this.socket.write(request)
  }

  /** Waits until something happened (data, the end, a failure). */
  readonly changed: Effect.Effect<void> = Effect.callback<void>((resume) => {
    this.wake = () => resume(Effect.void)
    return Effect.sync(() => {
      this.wake = undefined
    })
  })

  private signal() {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  /** The body is complete, or the download failed: nothing more is read. */
  private over(): boolean {
    return this.phase === "end" || this.failure !== undefined
  }

  fail(cause: unknown) {
    if (this.over()) return
    this.failure = cause
    this.socket.destroy()
    this.signal()
  }

  private onEnd() {
    if (this.over()) return
    if (this.phase === "body" && this.framing._tag === "Close") return this.finish()
    this.fail(aborted())
  }

  private finish() {
    this.phase = "end"
    if (this.current !== undefined && this.fill > 0) this.ready.push(this.current.subarray(0, this.fill))
    this.current = undefined
    this.socket.destroy()
    this.signal()
  }

  /** The next block(s) of the body: `undefined` at the end, `"wait"` when none is ready yet. */
  takeReady(): ReadonlyArray<Uint8Array> | undefined | "wait" {
    if (this.ready.length > 0) return this.ready.splice(0)
    return this.phase === "end" ? undefined : "wait"
  }

  release(block: Uint8Array) {
    this.pool.release(block)
    if (!this.stopped || this.over()) return
    this.current ??= this.pool.tryTake()
    if (this.current === undefined) return
    this.stopped = false
    this.socket.setTimeout(Duration.toMillis(this.timeout))
    this.socket.resume()
  }

  /** `onread` callback: `n` bytes arrived in `buffer`; `false` stops reading. */
  private onRead(n: number, buffer: Uint8Array): boolean {
    if (this.over()) return false
    if (buffer === this.spill) {
      // Arrived while every block was out (or just before one came back).
      this.current ??= this.pool.takeExtra()
      this.spill.copy(this.current, this.fill, 0, n)
    }
    const block = this.current!
    const end = this.fill + n
    if (this.phase === "head") {
      this.readHead(block, end)
    } else {
      this.fill = this.decode(block, this.fill, end, this.fill)
    }
    if (this.over()) return false
    if (this.fill === block.length) {
      this.ready.push(block)
      this.current = this.pool.tryTake()
      this.fill = 0
      this.signal()
    }
    if (this.current === undefined) {
      // Every block waits for the consumer: so does the server, and its silence is not its fault.
      this.stopped = true
      this.socket.setTimeout(0)
    }
    return !this.stopped
  }

  /** The head is at the start of the block: `end` bytes so far. */
  private readHead(block: Buffer, end: number) {
    for (;;) {
      const stop = headEnd(block, Math.max(0, this.fill - 3), end)
      if (stop === undefined) {
        this.fill = end
        if (end > maxHeadBytes || end === block.length) this.fail(protocolError("response head too large"))
        return
      }
      const head = parseHead(block.toString("latin1", 0, stop.text))
      if (typeof head === "string") return this.fail(protocolError(head))
      if (head.status >= 100 && head.status < 200) {
        if (head.status === 101) return this.fail(protocolError("unexpected 101 Switching Protocols"))
        // An interim response (103 Early Hints, ...): the real one follows.
        block.copyWithin(0, stop.body, end)
        end -= stop.body
        this.fill = 0
        continue
      }
      const framing = framingOf(head)
      if (typeof framing === "string") return this.fail(protocolError(framing))
      this.head = head
      this.framing = framing
      this.phase = "body"
      this.signal()
      if (framing._tag === "Length" && framing.remaining === 0) return this.finish()
      this.fill = this.decode(block, stop.body, end, 0)
      return
    }
  }

  /**
   * Undoes the framing of `block[from, end)` in place: the body bytes move
   * down to `out` (never past what is still to be read), the framing is
   * dropped. Returns where the body now ends.
   */
  private decode(block: Buffer, from: number, end: number, out: number): number {
    let pos = from
    const framing = this.framing
    if (framing._tag === "Close") {
      if (out !== pos) block.copyWithin(out, pos, end)
      return out + (end - pos)
    }
    if (framing._tag === "Length") {
      const m = Math.min(framing.remaining, end - pos)
      if (out !== pos) block.copyWithin(out, pos, pos + m)
      framing.remaining -= m
      // Bytes past the announced length (there should be none: the connection closes) are dropped.
      if (framing.remaining === 0) {
        this.fill = out + m
        this.finish()
      }
      return out + m
    }
    while (pos < end) {
      if (this.chunk === "data") {
        const m = Math.min(this.chunkLeft, end - pos)
        if (out !== pos) block.copyWithin(out, pos, pos + m)
        out += m
        pos += m
        this.chunkLeft -= m
        if (this.chunkLeft === 0) this.chunk = "crlf"
        continue
      }
      // The other states read a line: a chunk size, the CRLF after the data, a trailer field.
      const lf = block.indexOf(LF, pos)
      const stop = lf === -1 || lf >= end ? end : lf
      this.line += block.toString("latin1", pos, stop)
      pos = stop === end ? end : stop + 1
      if (this.line.length > maxLineBytes) {
        this.fail(protocolError("chunked encoding: line too long"))
        return out
      }
      if (stop === end) break
      const line = this.line.endsWith("\r") ? this.line.slice(0, -1) : this.line
      this.line = ""
      if (this.chunk === "crlf") {
        if (line !== "") {
          this.fail(protocolError("chunked encoding: no CRLF after a chunk"))
          return out
        }
        this.chunk = "size"
      } else if (this.chunk === "size") {
        const size = /^([0-9a-fA-F]{1,13})[ \t]*(;.*)?$/.exec(line)
        if (size === null) {
          this.fail(protocolError(`chunked encoding: bad chunk size ${JSON.stringify(line.slice(0, 40))}`))
          return out
        }
        this.chunkLeft = Number.parseInt(size[1]!, 16)
        this.chunk = this.chunkLeft === 0 ? "trailer" : "data"
      } else if (line === "") {
        // The empty line after the trailer fields: the body is complete.
        this.fill = out
        this.finish()
        return out
      }
    }
    return out
  }
}

/** Where the head in `block[0, end)` ends (searching from `from`): its text, and where the body starts. */
const headEnd = (block: Buffer, from: number, end: number): { text: number; body: number } | undefined => {
  for (let i = block.indexOf(LF, from); i !== -1 && i < end; i = block.indexOf(LF, i + 1)) {
    // The text ends with the last field's line, without its line break.
    const text = i > 0 && block[i - 1] === CR ? i - 1 : i
    if (i + 1 < end && block[i + 1] === LF) return { text, body: i + 2 }
    if (i + 2 < end && block[i + 1] === CR && block[i + 2] === LF) return { text, body: i + 3 }
  }
  return undefined
}

/**
 * Sends a GET on a new connection and waits for the head of the response.
 * The connection is closed at the end of the scope.
 */
export const get = <E>(
  transport: Transport,
  url: string,
  onError: (cause: unknown) => E,
  blockSize: number,
  blocks: number
): Effect.Effect<Download<E>, E, Scope.Scope> =>
  Effect.gen(function*() {
    // The URL as node:http would send it (dot segments resolved the same way).
    const target = new URL(url)
    const https = target.protocol === "https:"
    const host = target.hostname.replace(/^\[(.*)\]$/, "$1")
    const port = target.port === "" ? (https ? 443 : 80) : Number(target.port)
    const lines = [
      `GET ${target.pathname}${target.search} HTTP/1.1`,
      `Host: ${target.host}`,
      `User-Agent: ${userAgent}`,
      "Accept: */*",
      ...(transport.authorization !== undefined ? [`Authorization: ${Redacted.value(transport.authorization)}`] : []),
      "Connection: close"
    ]
    // A block must take whatever lands in the spill buffer at once.
    const pool = new BlockPool(Math.max(blockSize, spillBytes), blocks)
    const receiver = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new Receiver(
          pool,
          transport.timeout,
          (onread) => {
            if (!https) return Net.connect({ host, port, onread })
            // tls.connect takes `onread` as net.connect does (Node docs); @types/node lacks it.
            const options: Tls.ConnectionOptions & { readonly onread: Net.OnReadOpts } = {
              host,
              port,
              onread,
              // As https.Agent does: SNI only with a name, never with an address.
              ...(Net.isIP(host) === 0 ? { servername: host } : {}),
              ...(transport.ca !== undefined ? { ca: transport.ca } : {})
            }
            return Tls.connect(options)
          },
          lines.join("\r\n") + "\r\n\r\n"
        )
      ),
      (receiver) => Effect.sync(() => receiver.socket.destroy())
    )
    const head: Effect.Effect<Head, E> = Effect.suspend(() => {
      if (receiver.failure !== undefined) return Effect.fail(onError(receiver.failure))
      if (receiver.head !== undefined) return Effect.succeed(receiver.head)
      return Effect.andThen(receiver.changed, head)
    })
    const pull: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, E | Cause.Done> = Effect.suspend(() => {
      if (receiver.failure !== undefined) return Effect.fail(onError(receiver.failure))
      const ready = receiver.takeReady()
      if (ready === undefined) return Cause.done()
      if (ready !== "wait" && Arr.isReadonlyArrayNonEmpty(ready)) return Effect.succeed(ready)
      return Effect.andThen(receiver.changed, pull)
    })
    return {
      head: yield* head,
      body: Stream.fromPull(Effect.succeed(pull)),
      release: (block: Uint8Array) => receiver.release(block)
    }
  })
