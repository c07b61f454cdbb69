/**
 * The bulk-data path of one SFTP channel without a buffer per request.
 *
 * ssh2's SFTP client copies every WRITE into a fresh request-sized buffer
 * and assembles every DATA answer into another before copying it where the
 * caller asked: two 128 KiB allocations per request, 2 GiB per GiB moved.
 * Node counts them as external memory, and V8 answers every ~64 MB of it
 * with a full collection of the heap: ~50 per GiB, a quarter of the client's
 * CPU on the 2-core testbed (docs/sftp.md). This module replaces both copies
 * on ssh2's own SFTP object:
 *
 * - `write` sends the request's header and the caller's bytes as channel
 *   data directly (the SSH layer copies them into its packets anyway), when
 *   the whole request fits in the channel's window and ssh2 has nothing
 *   queued; otherwise it hands the request to ssh2, which queues it.
 * - incoming channel data is framed here first: the payload of a DATA
 *   answer to a read that has a destination buffer is copied straight into
 *   it; every other packet is copied and handed to ssh2 whole, in order, as
 *   one frame. Nothing of the incoming bytes is kept, so the connection may
 *   hand this channel views of its read buffer (inbound.ts).
 *
 * Both lean on fields of ssh2's SFTP object that are not part of its typed
 * API (`_requests`, `_writeReqid`, `outgoing`, `_protocol`, `_buffer`); the
 * wire checks their shape once and stays off (ssh2's own paths are used)
 * if anything differs.
 *
 * @internal
 */
import * as Predicate from "effect/Predicate"
import type { SFTPWrapper } from "ssh2"
import * as Inbound from "./inbound.ts"

/** SFTP packet types this module builds or reads. */
const WRITE = 6
const DATA = 103
/** Request ids are unsigned 32-bit numbers and wrap to 0. */
const requestIds = 2 ** 32
/** `length`, `type`, `request id` and the data's `length`: the fixed head of a DATA answer. */
const dataHeadLength = 13
/** `length` and `type`: enough to tell a DATA answer from anything else. */
const typeHeadLength = 5

type WriteCallback = (error: Error | null | undefined) => void

interface ReadRequest {
  readonly buffer: Buffer
  readonly cb: (error: undefined, buffer: Buffer, bytes: number) => void
}

interface Outgoing {
  readonly id: number
  window: number
  readonly packetSize: number
  readonly state: string
}

interface Protocol {
  channelData(channel: number, data: Buffer): void
}

const isOutgoing = (u: unknown): u is Outgoing =>
  Predicate.hasProperty(u, "id") && typeof u.id === "number" &&
  Predicate.hasProperty(u, "window") && typeof u.window === "number" &&
  Predicate.hasProperty(u, "packetSize") && typeof u.packetSize === "number" && u.packetSize > 0 &&
  Predicate.hasProperty(u, "state") && typeof u.state === "string"

const isProtocol = (u: unknown): u is Protocol =>
  Predicate.hasProperty(u, "channelData") && typeof u.channelData === "function"

const isReadRequest = (u: unknown): u is ReadRequest =>
  Predicate.hasProperty(u, "buffer") && Buffer.isBuffer(u.buffer) &&
  Predicate.hasProperty(u, "cb") && typeof u.cb === "function"

/** ssh2's internals this module uses, if they have the expected shape. */
interface Internals {
  readonly requests: Record<number, unknown>
  readonly outgoing: Outgoing
  readonly protocol: Protocol
  readonly queued: ReadonlyArray<unknown>
  readonly push: (data: Buffer | null) => void
  readonly maxPacket: number
}

const internalsOf = (sftp: SFTPWrapper): Internals | undefined => {
  const requests: unknown = Reflect.get(sftp, "_requests")
  const outgoing: unknown = Reflect.get(sftp, "outgoing")
  const protocol: unknown = Reflect.get(sftp, "_protocol")
  const queued: unknown = Reflect.get(sftp, "_buffer")
  const push: unknown = Reflect.get(sftp, "push")
  const maxPacket: unknown = Reflect.get(sftp, "_maxInPktLen")
  const reqid: unknown = Reflect.get(sftp, "_writeReqid")
  // ssh2's own parser must sit between two packets, or the frames handed to it would be misread
  const idle = Reflect.get(sftp, "_pktLenBytes") === 0 && Reflect.get(sftp, "_pktPos") === 0
  if (
    !Predicate.isObject(requests) || !isOutgoing(outgoing) || !isProtocol(protocol) || !Array.isArray(queued) ||
    typeof push !== "function" || typeof maxPacket !== "number" || typeof reqid !== "number" || !idle
  ) return undefined
  return {
    requests: requests as Record<number, unknown>,
    outgoing,
    protocol,
    queued,
    push: (data) => Reflect.apply(push, sftp, [data]),
    maxPacket
  }
}

/** The frame being taken apart: its head, then either its data (into a read's buffer) or all of it (for ssh2). */
type Mode =
  | { readonly _tag: "Head" }
  | { readonly _tag: "Data"; readonly request: ReadRequest; readonly id: number; readonly length: number; filled: number }
  | { readonly _tag: "Frame"; readonly frame: Buffer; filled: number }
  | { readonly _tag: "Passthrough" }

const wires = new WeakMap<SFTPWrapper, SftpWire>()

/**
 * The wire of one SFTP channel. `make` installs it (or returns `undefined`
 * when ssh2's internals are not as expected); from then on every byte the
 * server sends on the channel passes through it.
 */
export class SftpWire {
  private readonly sftp: SFTPWrapper
  private readonly internals: Internals
  private readonly head = Buffer.alloc(dataHeadLength)
  private headFilled = 0
  private mode: Mode = { _tag: "Head" }

  private constructor(sftp: SFTPWrapper, internals: Internals) {
    this.sftp = sftp
    this.internals = internals
  }

  static make(sftp: SFTPWrapper): SftpWire | undefined {
    // one wire per channel: a second would frame the first one's frames again
    const existing = wires.get(sftp)
    if (existing !== undefined) return existing
    const internals = internalsOf(sftp)
    if (internals === undefined) return undefined
    const wire = new SftpWire(sftp, internals)
    Reflect.set(sftp, "push", (data: Buffer | null) => wire.receive(data))
    Inbound.copiesOut(sftp)
    wires.set(sftp, wire)
    return wire
  }

  /**
   * Sends a WRITE of `data` at `offset`. The caller's bytes are copied into
   * SSH packets before this returns when the request goes out directly, so
   * `data` may be reused as soon as it returns; when ssh2 queues the request
   * instead, it has made its own copy too.
   */
  write(handle: Buffer, data: Buffer, offset: number, callback: WriteCallback): void {
    const { outgoing, protocol, queued, requests } = this.internals
    const headerLength = 4 + 1 + 4 + 4 + handle.length + 8 + 4
    const total = headerLength + data.length
    if (outgoing.state !== "open" || queued.length > 0 || Reflect.get(this.sftp, "_waitWindow") === true || outgoing.window < total) {
      this.sftp.write(handle, data, 0, data.length, offset, callback)
      return
    }
    // not `& (2 ** 32 - 1)` as ssh2 writes it: JavaScript's bitwise operators are signed
    const reqid = (Number(Reflect.get(this.sftp, "_writeReqid")) + 1) % requestIds
    Reflect.set(this.sftp, "_writeReqid", reqid)
    const header = Buffer.allocUnsafe(headerLength)
    header.writeUInt32BE(total - 4, 0)
    header[4] = WRITE
    header.writeUInt32BE(reqid, 5)
    header.writeUInt32BE(handle.length, 9)
    header.set(handle, 13)
    let p = 13 + handle.length
    header.writeUInt32BE(Math.floor(offset / 2 ** 32), p)
    header.writeUInt32BE(offset >>> 0, p + 4)
    header.writeUInt32BE(data.length, p + 8)
    requests[reqid] = { cb: (error: Error | undefined) => callback(error) }
    outgoing.window -= total
    protocol.channelData(outgoing.id, header)
    for (p = 0; p < data.length; p += outgoing.packetSize) {
      protocol.channelData(outgoing.id, data.subarray(p, Math.min(p + outgoing.packetSize, data.length)))
    }
  }

  /** ssh2's `push`: the channel's incoming bytes, or `null` at its end. */
  private receive(data: Buffer | null): void {
    if (data === null) return this.internals.push(data)
    let p = 0
    while (p < data.length) {
      const mode: Mode = this.mode
      switch (mode._tag) {
        case "Head": {
          p = this.readHead(data, p)
          break
        }
        case "Data": {
          const n = Math.min(mode.length - mode.filled, data.length - p)
          mode.request.buffer.set(data.subarray(p, p + n), mode.filled)
          mode.filled += n
          p += n
          if (mode.filled === mode.length) {
            this.mode = { _tag: "Head" }
            delete this.internals.requests[mode.id]
            mode.request.cb(undefined, mode.request.buffer, mode.length)
          }
          break
        }
        case "Frame": {
          const n = Math.min(mode.frame.length - mode.filled, data.length - p)
          mode.frame.set(data.subarray(p, p + n), mode.filled)
          mode.filled += n
          p += n
          if (mode.filled === mode.frame.length) {
            this.mode = { _tag: "Head" }
            this.internals.push(mode.frame)
          }
          break
        }
        case "Passthrough":
          return this.internals.push(data.subarray(p))
      }
    }
  }

  /** Gathers a frame's head and decides where the rest goes; returns the new position in `data`. */
  private readHead(data: Buffer, start: number): number {
    const before = this.headFilled
    const want = before < typeHeadLength || this.head[4] !== DATA ? typeHeadLength : dataHeadLength
    const n = Math.min(want - before, data.length - start)
    this.head.set(data.subarray(start, start + n), before)
    this.headFilled += n
    const p = start + n
    if (this.headFilled < typeHeadLength) return p
    const length = this.head.readUInt32BE(0)
    if (length === 0 || length > this.internals.maxPacket) {
      // a broken frame: ssh2 reports it (and ends the channel) from the bytes as they came
      this.mode = { _tag: "Passthrough" }
      this.internals.push(Buffer.from(this.head.subarray(0, this.headFilled)))
      return p
    }
    const type = this.head[4]
    if (type === DATA && length >= dataHeadLength - 4 && this.headFilled < dataHeadLength) return p
    const gathered = this.headFilled
    this.headFilled = 0
    if (type === DATA && length >= dataHeadLength - 4) {
      const id = this.head.readUInt32BE(5)
      const bytes = this.head.readUInt32BE(9)
      const request = this.internals.requests[id]
      if (isReadRequest(request) && bytes === length - 9 && bytes <= request.buffer.length) {
        if (bytes > 0) {
          this.mode = { _tag: "Data", request, id, length: bytes, filled: 0 }
        } else {
          delete this.internals.requests[id]
          request.cb(undefined, request.buffer, 0)
        }
        return p
      }
    }
    // a copy even when the whole frame is in this chunk: ssh2 keeps parts of some answers (handles), and the
    // chunk may be a view of the connection's read buffer (inbound.ts)
    const frame = Buffer.allocUnsafe(4 + length)
    frame.set(this.head.subarray(0, gathered))
    this.mode = { _tag: "Frame", frame, filled: gathered }
    return p
  }
}
