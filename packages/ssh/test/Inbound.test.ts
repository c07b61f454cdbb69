// Unit tests of the connection's single read buffer (inbound.ts) against stand-ins for ssh2's client, protocol
// and decipher: nothing ssh2 keeps from one read is overwritten by the next, and only the data of channels
// that copy it out at once is handed on as a view of the buffer.
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { EventEmitter } from "node:events"
import type * as NodeNet from "node:net"
import type { Client } from "ssh2"
import { copiesOut, Inbound } from "../src/internal/inbound.ts"

/** A decipher that, like ssh2's, keeps a view of the read when a packet's body ends it (MAC still to come). */
class FakeDecipher {
  _packet: Uint8Array | null = null
  readonly payloads: Array<{ bytes: Buffer; shared: boolean }> = []
  private readonly buffer: ArrayBufferLike
  constructor(buffer: ArrayBufferLike) {
    this.buffer = buffer
  }
  _onPayload = (payload: Buffer): unknown => {
    this.payloads.push({ bytes: Buffer.from(payload), shared: payload.buffer === this.buffer })
    return undefined
  }
}

const setup = () => {
  const inbound = new Inbound()
  const socket = new EventEmitter()
  inbound.attach(socket as unknown as NodeNet.Socket)
  const decipher = new FakeDecipher(inbound.readBuffer.buffer)
  const sftpChannel = {}
  const execChannel = {}
  copiesOut(sftpChannel)
  const protocol = { _decipher: decipher as unknown }
  const client = { _protocol: protocol, _chanMgr: { _channels: { 0: sftpChannel, 1: execChannel } } }
  const reads: Array<Buffer> = []
  socket.on("data", (chunk: Buffer) => reads.push(chunk))
  /** Delivers `bytes` as one socket read into the shared buffer. */
  const read = (bytes: Buffer) => {
    inbound.onread.buffer().set(bytes)
    inbound.onread.callback(bytes.length)
  }
  return { inbound, client: client as unknown as Client, protocol, decipher, reads, read, socket }
}

const channelData = (channel: number, text: string) => {
  const data = Buffer.from(text)
  const payload = Buffer.alloc(9 + data.length)
  payload[0] = 94
  payload.writeUInt32BE(channel, 1)
  payload.writeUInt32BE(data.length, 5)
  data.copy(payload, 9)
  return payload
}

describe("Inbound", () => {
  it("copies every read until the client is guarded", () => {
    const { read, reads, inbound } = setup()
    read(Buffer.from("SSH-2.0-server\r\n"))
    assert.strictEqual(reads[0]!.toString(), "SSH-2.0-server\r\n")
    assert.notStrictEqual(reads[0]!.buffer, inbound.readBuffer.buffer)
  })

  it("keeps what the decipher holds across reads intact", () => {
    const { read, reads, inbound, client, decipher, socket } = setup()
    inbound.guard(client)
    socket.on("data", (chunk: Buffer) => {
      // the body of a packet ends this read: ssh2 keeps a view of it and waits for the MAC
      if (decipher._packet === null) decipher._packet = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)
    })
    read(Buffer.from("packet body"))
    assert.strictEqual(reads[0]!.buffer, inbound.readBuffer.buffer, "after the guard, reads are views")
    read(Buffer.from("MAC OF THE PACKET"))
    assert.strictEqual(Buffer.from(decipher._packet!).toString(), "packet body")
    assert.notStrictEqual(decipher._packet!.buffer, inbound.readBuffer.buffer)
  })

  it("hands on as views only the data of channels that copy it out, and guards a decipher set later", () => {
    const { inbound, client, decipher, protocol } = setup()
    inbound.guard(client)
    const view = (payload: Buffer) => {
      inbound.readBuffer.set(payload)
      return inbound.readBuffer.subarray(0, payload.length)
    }
    const guarded = protocol._decipher as FakeDecipher
    guarded._onPayload(view(channelData(0, "sftp data")))
    guarded._onPayload(view(channelData(1, "command output")))
    guarded._onPayload(view(Buffer.from([20, 1, 2, 3])))
    assert.deepStrictEqual(decipher.payloads.map((p) => [p.bytes.subarray(9).toString(), p.shared]), [
      ["sftp data", true],
      ["command output", false],
      ["", false]
    ])

    // a key exchange brings a new decipher: it is guarded too
    const next = new FakeDecipher(inbound.readBuffer.buffer)
    protocol._decipher = next
    const current = protocol._decipher as FakeDecipher
    current._onPayload(view(channelData(1, "more output")))
    assert.deepStrictEqual(next.payloads.map((p) => p.shared), [false])
  })

  it("hands on AES-GCM reads in whole packets, keeping an incomplete last one for the next read", () => {
    /** Stands in for ssh2's AES-GCM decipher: the framing reads its class name and its between-packets state. */
    class AESGCMDecipherBinding {
      _lenBytes = 0
      _pktLen = 0
      _tagPos = 0
      _packet = null
      _onPayload = (): unknown => undefined
    }
    const gcmPacket = (length: number, fill: number) => {
      const packet = Buffer.alloc(4 + length + 16, fill)
      packet.writeUInt32BE(length, 0)
      return packet
    }
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 16, max: 40_000 }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 30 }),
      (lengths, reads) => {
        const inbound = new Inbound()
        const socket = new EventEmitter()
        inbound.attach(socket as unknown as NodeNet.Socket)
        const client = { _protocol: { _decipher: new AESGCMDecipherBinding() }, _chanMgr: { _channels: {} } }
        inbound.guard(client as unknown as Client)
        const chunks: Array<Buffer> = []
        socket.on("data", (chunk: Buffer) => chunks.push(Buffer.from(chunk)))
        // a first read while the decipher sits between packets switches the framing on
        inbound.onread.callback(0)
        const stream = Buffer.concat(lengths.map((length, i) => gcmPacket(length, i + 1)))
        let at = 0
        for (let i = 0; at < stream.length; i++) {
          const room = inbound.onread.buffer()
          const n = Math.min(reads[i % reads.length]!, room.length, stream.length - at)
          room.set(stream.subarray(at, at + n))
          inbound.onread.callback(n)
          at += n
        }
        assert.deepStrictEqual(Buffer.concat(chunks), stream, "every byte, in order, once all have been read")
        for (const chunk of chunks) {
          let p = 0
          while (p < chunk.length) p += 4 + chunk.readUInt32BE(p) + 16
          assert.strictEqual(p, chunk.length, "each read handed on ends at a packet boundary")
        }
      }
    ))
  })
})
