// Unit tests of the SFTP wire against a stand-in for ssh2's SFTP object (the fields the wire uses): incoming
// bytes cut at any points reach read buffers and ssh2's parser exactly as sent, and WRITE requests leave as
// channel data that parses back to the request, or go to ssh2 when the window or its queue says so.
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { SFTPWrapper } from "ssh2"
import { SftpWire } from "../src/internal/sftpWire.ts"

type Request = { cb: (...args: Array<unknown>) => void; buffer?: Buffer }

/** The parts of ssh2's SFTP object the wire reads and writes, recording what passes. */
class FakeSftp {
  readonly _requests: Record<number, Request> = {}
  _writeReqid = 41
  readonly outgoing = { id: 7, window: 1024 * 1024, packetSize: 32 * 1024, state: "open" }
  readonly _buffer: Array<Buffer> = []
  _waitWindow = false
  readonly _maxInPktLen = 256 * 1024
  readonly _pktLenBytes = 0
  readonly _pktPos = 0
  /** What ssh2's own parser was handed. */
  readonly pushed: Array<Buffer | null> = []
  /** Channel data sent through the wire. */
  readonly sent: Array<Buffer> = []
  /** Writes handed to ssh2's own `write`. */
  readonly ssh2Writes: Array<{ data: Buffer; offset: number }> = []
  readonly _protocol = {
    channelData: (id: number, data: Buffer) => {
      assert.strictEqual(id, this.outgoing.id)
      assert.isAtMost(data.length, this.outgoing.packetSize)
      this.sent.push(Buffer.from(data))
    }
  }

  push(data: Buffer | null): void {
    this.pushed.push(data === null ? null : Buffer.from(data))
  }

  write(_handle: Buffer, data: Buffer, off: number, len: number, offset: number) {
    this.ssh2Writes.push({ data: Buffer.from(data.subarray(off, off + len)), offset })
  }
}

const wireOf = (fake: FakeSftp) => {
  const wire = SftpWire.make(fake as unknown as SFTPWrapper)
  assert.isDefined(wire)
  return wire!
}

const frame = (type: number, body: Buffer) => {
  const head = Buffer.alloc(5)
  head.writeUInt32BE(body.length + 1, 0)
  head[4] = type
  return Buffer.concat([head, body])
}
const u32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n, 0)
  return b
}
const dataFrame = (id: number, data: Buffer) => frame(103, Buffer.concat([u32(id), u32(data.length), data]))
const statusFrame = (id: number, code: number) => frame(101, Buffer.concat([u32(id), u32(code), u32(0), u32(0)]))
const handleFrame = (id: number, handle: Buffer) => frame(102, Buffer.concat([u32(id), u32(handle.length), handle]))

/** Feeds `bytes` to the fake's (wired) push, cut at `cuts`. */
const feed = (fake: FakeSftp, bytes: Buffer, cuts: ReadonlyArray<number>) => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  let from = 0
  for (const at of [...points, bytes.length]) {
    // each piece in a scratch buffer that is overwritten afterwards, as the connection's read buffer is
    const piece = Buffer.from(bytes.subarray(from, at))
    fake.push(piece)
    piece.fill(0xee)
    from = at
  }
}

describe("SftpWire", () => {
  it("delivers DATA answers into the reads' buffers and every other packet whole and in order, wherever the bytes are cut", () => {
    fc.assert(fc.property(fc.array(fc.nat(), { maxLength: 12 }), fc.uint8Array({ minLength: 0, maxLength: 3000 }), (cuts, content) => {
      const fake = new FakeSftp()
      wireOf(fake)
      const data = Buffer.from(content)
      const answers: Array<{ id: number; bytes: number; view: Buffer }> = []
      const read = (id: number, size: number) => {
        const buffer = Buffer.alloc(size)
        fake._requests[id] = {
          buffer,
          cb: (error, view, bytes) => {
            assert.isUndefined(error)
            answers.push({ id, bytes: bytes as number, view: Buffer.from((view as Buffer).subarray(0, bytes as number)) })
          }
        }
      }
      read(1, data.length + 10)
      read(2, 5)
      read(3, 16)
      const others = [statusFrame(9, 0), handleFrame(10, Buffer.from("handle-10")), dataFrame(11, Buffer.from("no buffer"))]
      const stream = Buffer.concat([
        others[0]!,
        dataFrame(1, data),
        dataFrame(2, Buffer.alloc(0)),
        others[1]!,
        // an answer longer than the read's buffer: left to ssh2, which reports it
        dataFrame(3, Buffer.alloc(17, 1)),
        others[2]!
      ])
      feed(fake, stream, cuts)

      assert.deepStrictEqual(answers.map((a) => [a.id, a.bytes]), [[1, data.length], [2, 0]])
      assert.deepStrictEqual(answers[0]!.view, data)
      assert.isUndefined(fake._requests[1])
      assert.isUndefined(fake._requests[2])
      assert.isDefined(fake._requests[3], "the oversized answer's request is ssh2's to settle")
      assert.deepStrictEqual(fake.pushed, [others[0], others[1], dataFrame(3, Buffer.alloc(17, 1)), others[2]])
    }))
  })

  it("hands a broken frame length to ssh2 as it came, and everything after it", () => {
    const fake = new FakeSftp()
    wireOf(fake)
    const bad = Buffer.concat([u32(fake._maxInPktLen + 1), Buffer.from([103, 1, 2, 3])])
    feed(fake, bad, [2, 6])
    assert.deepStrictEqual(Buffer.concat(fake.pushed.filter((b): b is Buffer => b !== null)), bad)
    fake.push(null)
    assert.strictEqual(fake.pushed.at(-1), null)
  })

  it("sends a WRITE as channel data that parses back to the request, and registers its callback", () => {
    const fake = new FakeSftp()
    const wire = wireOf(fake)
    const handle = Buffer.from("h-01")
    const data = Buffer.alloc(100_000)
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff
    const offset = 5 * 2 ** 32 + 12345
    let acknowledged: unknown = "pending"
    wire.write(handle, data, offset, (error) => {
      acknowledged = error
    })
    const bytes = Buffer.concat(fake.sent)
    assert.strictEqual(bytes.readUInt32BE(0), bytes.length - 4)
    assert.strictEqual(bytes[4], 6)
    const id = bytes.readUInt32BE(5)
    assert.strictEqual(id, 42)
    assert.strictEqual(bytes.readUInt32BE(9), handle.length)
    assert.deepStrictEqual(bytes.subarray(13, 17), handle)
    assert.strictEqual(bytes.readUInt32BE(17) * 2 ** 32 + bytes.readUInt32BE(21), offset)
    assert.strictEqual(bytes.readUInt32BE(25), data.length)
    assert.deepStrictEqual(bytes.subarray(29), data)
    assert.strictEqual(fake.outgoing.window, 1024 * 1024 - bytes.length)
    // the data may be reused at once: what was sent is a copy
    data.fill(0)
    assert.notDeepEqual(Buffer.concat(fake.sent).subarray(29), data)
    fake._requests[id]!.cb()
    assert.isUndefined(acknowledged)
    assert.deepStrictEqual(fake.ssh2Writes, [])
  })

  it("leaves a WRITE to ssh2 when the window is too small or ssh2 has data queued", () => {
    const fake = new FakeSftp()
    const wire = wireOf(fake)
    const handle = Buffer.from("h")
    fake.outgoing.window = 1000
    wire.write(handle, Buffer.alloc(2000, 1), 0, () => {})
    fake.outgoing.window = 1024 * 1024
    fake._buffer.push(Buffer.alloc(10))
    wire.write(handle, Buffer.alloc(10, 2), 2000, () => {})
    assert.deepStrictEqual(fake.sent, [])
    assert.deepStrictEqual(fake.ssh2Writes.map((w) => [w.data.length, w.offset]), [[2000, 0], [10, 2000]])
  })

  it("stays off when ssh2's object is not as expected", () => {
    const fake = new FakeSftp()
    Reflect.set(fake, "_pktPos", 3)
    assert.isUndefined(SftpWire.make(fake as unknown as SFTPWrapper))
    assert.isUndefined(SftpWire.make(new (class {})() as unknown as SFTPWrapper))
  })
})
