// Unit tests of the pipelined SFTP reader and writer against a fake SFTP channel that answers out of order,
// caps or refuses requests, counts what is outstanding, and can close mid-transfer.
import * as FileSystemError from "@cerulean/core/FileSystemError"
import { bytesOf } from "@cerulean/testing/CopyContract"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { EventEmitter } from "node:events"
import type { SFTPWrapper } from "ssh2"
import { type Lane, PipelinedReader, PipelinedWriter } from "../src/internal/sftpPipeline.ts"
import { safeRequestSize, Session, Status, toFileSystemError } from "../src/internal/sftpSession.ts"

interface FakeOptions {
  /** Largest READ answer (a server capping reads). */
  readonly readCap?: number
  /** Requests larger than this fail with FAILURE (a server refusing big requests). */
  readonly refuseAbove?: number
  /** Every WRITE fails with this status code. */
  readonly writeStatus?: number
  readonly limits?: number
}

type Callback = (error: (Error & { code?: number }) | undefined, n?: number) => void

/** An in-memory SFTP channel: one file, answers in random order on later ticks. */
class FakeSftp extends EventEmitter {
  readonly _extensions: Record<string, string>
  readonly _maxReadLen: number
  readonly _maxWriteLen: number
  readonly outgoing = { state: "open" }
  file: Uint8Array
  outstanding = 0
  maxOutstanding = 0
  requests = 0
  readonly sizes: Array<number> = []
  private readonly pending: Array<() => void> = []
  private readonly options: FakeOptions

  constructor(content: Uint8Array, options: FakeOptions = {}) {
    super()
    this.file = content
    this.options = options
    this._extensions = options.limits === undefined ? {} : { "limits@openssh.com": "1" }
    this._maxReadLen = options.limits ?? 0
    this._maxWriteLen = options.limits ?? 0
  }

  private answer(f: () => void) {
    this.outstanding++
    this.requests++
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding)
    this.pending.push(() => {
      this.outstanding--
      f()
    })
    if (this.pending.length === 1) setImmediate(() => this.flush())
  }

  /** Answers everything pending, in a shuffled order. */
  private flush() {
    const batch = this.pending.splice(0)
    for (let i = batch.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1))
      const t = batch[i]!
      batch[i] = batch[j]!
      batch[j] = t
    }
    for (const f of batch) f()
  }

  private refused(len: number) {
    return this.options.refuseAbove !== undefined && len > this.options.refuseAbove
  }

  read(_handle: Buffer, buf: Buffer, off: number, len: number, position: number, cb: Callback) {
    if (this.outgoing.state !== "open") return
    this.sizes.push(len)
    this.answer(() => {
      if (this.refused(len)) return cb(Object.assign(new Error("Failure"), { code: Status.FAILURE }))
      const n = Math.max(0, Math.min(len, this.options.readCap ?? len, this.file.length - position))
      buf.set(this.file.subarray(position, position + n), off)
      cb(undefined, n)
    })
  }

  write(_handle: Buffer, buf: Buffer, off: number, len: number, position: number, cb: Callback) {
    if (this.outgoing.state !== "open") return
    const data = Uint8Array.from(buf.subarray(off, off + len))
    this.sizes.push(len)
    this.answer(() => {
      if (this.options.writeStatus !== undefined) {
        return cb(Object.assign(new Error("Permission denied"), { code: this.options.writeStatus }))
      }
      if (this.refused(len)) return cb(Object.assign(new Error("Failure"), { code: Status.FAILURE }))
      if (position + len > this.file.length) {
        const grown = new Uint8Array(position + len)
        grown.set(this.file)
        this.file = grown
      }
      this.file.set(data, position)
      cb(undefined)
    })
  }

  /** The channel closes: ssh2 answers what is outstanding with "No response from server" and then ends. */
  closeNow() {
    this.outgoing.state = "closed"
    for (const f of this.pending.splice(0)) {
      this.outstanding--
      void f
    }
    this.emit("end")
    this.emit("close")
  }
}

const lane = (fake: FakeSftp): Lane => ({
  session: new Session(fake as unknown as SFTPWrapper),
  handle: Buffer.from([0])
})

const bytes = (n: number, seed = 1) => bytesOf(n, seed)

const concat = (chunks: ReadonlyArray<Uint8Array>) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

const readAll = (reader: PipelinedReader) =>
  Effect.map(Stream.runCollect(Stream.fromPull(Effect.succeed(reader.pull))), concat)

const S = 4096

describe("PipelinedReader", () => {
  it.effect("delivers every byte in file order although answers arrive out of order, on one or three channels", () =>
    Effect.gen(function*() {
      for (const size of [0, 1, S - 1, S, S + 1, 10 * S + 3]) {
        for (const lanes of [1, 3]) {
          const content = bytes(size, size + lanes)
          const fakes = Array.from({ length: lanes }, () => new FakeSftp(content))
          const reader = new PipelinedReader(fakes.map(lane), "/f", size, { requestSize: S, maxRequests: 4 })
          const got = yield* readAll(reader)
          assert.deepStrictEqual(got, content, `size ${size}, ${lanes} lanes`)
          for (const f of fakes) assert.isAtMost(f.maxOutstanding, 4 + 1)
        }
      }
    }))

  it.effect("a small file costs one request into a buffer of its own size", () =>
    Effect.gen(function*() {
      const content = bytes(100)
      const fake = new FakeSftp(content)
      const got = yield* readAll(new PipelinedReader([lane(fake)], "/f", 100, { requestSize: S, maxRequests: 8 }))
      assert.deepStrictEqual(got, content)
      assert.strictEqual(fake.requests, 1)
      assert.deepStrictEqual(fake.sizes, [101])
    }))

  it.effect("asks again for the rest when a server answers a read short inside the file", () =>
    Effect.gen(function*() {
      const content = bytes(5 * S + 17)
      const fake = new FakeSftp(content, { readCap: 1000 })
      const got = yield* readAll(new PipelinedReader([lane(fake)], "/f", content.length, { requestSize: S, maxRequests: 4 }))
      assert.deepStrictEqual(got, content)
    }))

  it.effect("reads on when the file grew since its size was taken", () =>
    Effect.gen(function*() {
      const content = bytes(7 * S + 5)
      const fake = new FakeSftp(content)
      const got = yield* readAll(new PipelinedReader([lane(fake)], "/f", 2 * S, { requestSize: S, maxRequests: 3 }))
      assert.deepStrictEqual(got, content)
    }))

  it.effect("falls back to smaller, fewer requests when the server refuses large ones", () =>
    Effect.gen(function*() {
      const size = 6 * 64 * 1024 + 9
      const content = bytes(size)
      const fake = new FakeSftp(content, { refuseAbove: safeRequestSize, limits: 256 * 1024 })
      const reader = new PipelinedReader([lane(fake)], "/f", size, { requestSize: 64 * 1024, maxRequests: 16 })
      const got = yield* readAll(reader)
      assert.deepStrictEqual(got, content)
      assert.isTrue(fake.sizes.some((n) => n > safeRequestSize), "tried large requests first")
      assert.isTrue(fake.sizes.slice(-3).every((n) => n <= safeRequestSize + 1), "then smaller ones")
    }))

  it.effect("keeps memory bounded: no more than maxRequests outstanding while the consumer is slow", () =>
    Effect.gen(function*() {
      const size = 50 * S
      const fake = new FakeSftp(bytes(size))
      const reader = new PipelinedReader([lane(fake)], "/f", size, { requestSize: S, maxRequests: 5 })
      let total = 0
      yield* Stream.fromPull(Effect.succeed(reader.pull)).pipe(
        Stream.runForEach((chunk) =>
          Effect.promise(() => new Promise<void>((r) => setTimeout(r, 1))).pipe(
            Effect.andThen(Effect.sync(() => {
              total += chunk.length
            }))
          )
        )
      )
      assert.strictEqual(total, size)
      assert.isAtMost(fake.maxOutstanding, 5)
    }))

  it.effect("fails with ConnectionLost when the channel closes mid-file", () =>
    Effect.gen(function*() {
      const size = 40 * S
      const fake = new FakeSftp(bytes(size))
      const reader = new PipelinedReader([lane(fake)], "/f", size, { requestSize: S, maxRequests: 4 })
      let seen = 0
      const error = yield* Stream.fromPull(Effect.succeed(reader.pull)).pipe(
        Stream.runForEach((chunk) =>
          Effect.sync(() => {
            seen += chunk.length
            if (seen >= 8 * S) fake.closeNow()
          })
        ),
        Effect.flip
      )
      assert.isTrue(FileSystemError.hasReason(error, "ConnectionLost"))
    }))
})

const chunked = (content: Uint8Array, sizes: ReadonlyArray<number>) => {
  const out: Array<Uint8Array> = []
  for (let at = 0, i = 0; at < content.length; i++) {
    const n = sizes[i % sizes.length]!
    out.push(content.subarray(at, at + n))
    at += n
  }
  return Stream.fromIterable(out)
}

const write = (writer: PipelinedWriter, data: Stream.Stream<Uint8Array>) =>
  Effect.andThen(Stream.runForEachArray(data, (chunks) => writer.push(chunks)), writer.finish())

describe("PipelinedWriter", () => {
  it.effect("writes chunks of any size (coalesced and split into requests) on one or three channels", () =>
    Effect.gen(function*() {
      for (const sizes of [[1], [S - 1, 3], [S], [3 * S + 7], [100, 5000, 1, 12000]]) {
        for (const lanes of [1, 3]) {
          const content = bytes(9 * S + 11, sizes[0]!)
          const fakes = Array.from({ length: lanes }, () => new FakeSftp(new Uint8Array(0)))
          const writer = new PipelinedWriter(fakes.map(lane), "/f", { requestSize: S, maxRequests: 3 })
          const written = yield* write(writer, chunked(content, sizes))
          assert.strictEqual(written, content.length)
          // every lane wrote its blocks into its own copy of the file: together they make the content
          const merged = new Uint8Array(content.length)
          for (const f of fakes) {
            for (let i = 0; i < f.file.length; i++) if (f.file[i] !== 0) merged[i] = f.file[i]!
          }
          for (let i = 0; i < content.length; i++) {
            if (content[i] !== 0 && merged[i] !== content[i]) assert.fail(`byte ${i} differs (${sizes}, ${lanes} lanes)`)
          }
          for (const f of fakes) {
            assert.isAtMost(f.maxOutstanding, 3)
            assert.isTrue(f.sizes.every((n) => n <= S))
          }
        }
      }
    }))

  it.effect("applies back-pressure: the source is pulled no further ahead than the requests in flight", () =>
    Effect.gen(function*() {
      const fake = new FakeSftp(new Uint8Array(0))
      const writer = new PipelinedWriter([lane(fake)], "/f", { requestSize: S, maxRequests: 2 })
      let pulled = 0
      let maxAhead = 0
      const data = Stream.range(1, 64).pipe(
        Stream.rechunk(1),
        Stream.map(() => {
          pulled++
          maxAhead = Math.max(maxAhead, pulled - (fake.requests - fake.outstanding))
          return bytes(S)
        })
      )
      yield* write(writer, data)
      assert.strictEqual(fake.file.length, 64 * S)
      assert.isAtMost(maxAhead, 2 + 2)
    }))

  it.effect("falls back to smaller requests when the server refuses large ones", () =>
    Effect.gen(function*() {
      const content = bytes(5 * 64 * 1024 + 3)
      const fake = new FakeSftp(new Uint8Array(0), { refuseAbove: safeRequestSize, limits: 256 * 1024 })
      const writer = new PipelinedWriter([lane(fake)], "/f", { requestSize: 64 * 1024, maxRequests: 16 })
      yield* write(writer, chunked(content, [64 * 1024]))
      assert.deepStrictEqual(fake.file, content)
    }))

  it.effect("fails with the status's reason (PermissionDenied) and with ConnectionLost when the channel closes", () =>
    Effect.gen(function*() {
      const denied = new FakeSftp(new Uint8Array(0), { writeStatus: Status.PERMISSION_DENIED })
      const e1 = yield* Effect.flip(
        write(new PipelinedWriter([lane(denied)], "/f", { requestSize: S, maxRequests: 2 }), chunked(bytes(10 * S), [S]))
      )
      assert.isTrue(FileSystemError.hasReason(e1, "PermissionDenied"))

      const closing = new FakeSftp(new Uint8Array(0))
      let n = 0
      const data = Stream.range(1, 100).pipe(
        Stream.map(() => {
          if (++n === 20) closing.closeNow()
          return bytes(S)
        })
      )
      const e2 = yield* Effect.flip(write(new PipelinedWriter([lane(closing)], "/f", { requestSize: S, maxRequests: 2 }), data))
      assert.isTrue(FileSystemError.hasReason(e2, "ConnectionLost"))
    }))
})

describe("SFTP status codes", () => {
  it("map to FileSystemError reasons", () => {
    const reason = (code: number | undefined, closed = false) =>
      toFileSystemError(Object.assign(new Error("x"), code === undefined ? {} : { code }), { operation: "op", path: "/p" }, closed)
        .reason._tag
    assert.strictEqual(reason(Status.NO_SUCH_FILE), "NotFound")
    assert.strictEqual(reason(Status.PERMISSION_DENIED), "PermissionDenied")
    assert.strictEqual(reason(Status.FAILURE), "Io")
    assert.strictEqual(reason(Status.OP_UNSUPPORTED), "Unsupported")
    assert.strictEqual(reason(Status.CONNECTION_LOST), "ConnectionLost")
    assert.strictEqual(reason(Status.NO_CONNECTION), "ConnectionLost")
    assert.strictEqual(reason(undefined, true), "ConnectionLost")
    assert.strictEqual(reason(undefined, false), "Io")
    assert.strictEqual(
      toFileSystemError(new Error("No response from server"), { operation: "op", path: "/p" }, false).reason._tag,
      "ConnectionLost"
    )
  })
})
