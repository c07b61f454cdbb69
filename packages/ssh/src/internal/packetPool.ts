/**
 * Reuses the buffers of outgoing SSH packets.
 *
 * ssh2 allocates a fresh buffer for every packet it sends (32 KiB for each
 * piece of a large channel write) and drops it once the socket has it.
 * Node counts those buffers as external memory and V8 answers every ~64 MB
 * of it with a full collection of the heap (docs/sftp.md): an upload of
 * 1 GiB cost ~50 of them. Here the packets of the sizes a transfer sends
 * over and over come from a pool instead, and go back to it when the socket
 * reports them written (Node holds a buffer until then, so it is never
 * reused while still queued). Every packet's random padding is cut from a
 * block of random bytes drawn at once, not drawn per packet.
 *
 * It wraps two methods of ssh2's current cipher (`allocPacket`, `encrypt`),
 * which ssh2 replaces at every key exchange (hence the accessor on its
 * protocol object), and the `write` of the connection's own socket. A cipher
 * that encrypts into new buffers instead of in place (the non-native ones)
 * never writes a pooled packet itself: such a packet goes back to the pool
 * as soon as `encrypt` returns.
 *
 * @internal
 */
import * as Predicate from "effect/Predicate"
import type * as NodeNet from "node:net"
import { randomFillSync } from "node:crypto"
import type { Client } from "ssh2"

/** Payloads from this size up are pooled: the bulk pieces of channel data, not the small control packets. */
const minPooledPayload = 16 * 1024
/** Free buffers kept per packet size (about 2 MiB of 32 KiB packets). */
const maxFreePerSize = 64
/** Packet sizes pooled at once: a connection sends a few bulk sizes (one per channel packet size). */
const maxSizes = 4

interface Cipher {
  allocPacket(payloadLength: number): Buffer
  encrypt(packet: Buffer): void
}

const isCipher = (u: unknown): u is Cipher =>
  Predicate.hasProperty(u, "allocPacket") && typeof u.allocPacket === "function" &&
  Predicate.hasProperty(u, "encrypt") && typeof u.encrypt === "function"

/**
 * How a cipher lays out a packet around a payload of `length` bytes: the
 * packet length field, the padding and the whole buffer (MAC or tag
 * included). Padding only depends on the length modulo the cipher's block
 * (8 or 16 bytes), so one shape per remainder modulo 16 covers every length.
 */
interface Shape {
  /** The packet length field minus the payload length. */
  readonly field: number
  readonly padding: number
  /** The buffer's length minus the payload length. */
  readonly extra: number
}

const period = 16

/**
 * The shapes of a cipher's packets, read from the packets its own
 * `allocPacket` makes for two runs of lengths; `undefined` if they do not
 * repeat with the period (a layout this module does not know).
 */
const probe = (allocPacket: (length: number) => Buffer): ReadonlyArray<Shape> | undefined => {
  const shapeAt = (length: number): Shape => {
    const packet = allocPacket(length)
    return { field: packet.readUInt32BE(0) - length, padding: packet[4]!, extra: packet.length - length }
  }
  const shapes: Array<Shape> = []
  for (let i = 0; i < period; i++) {
    const a = shapeAt(4 * 1024 + i)
    const b = shapeAt(32 * 1024 + i)
    if (a.field !== b.field || a.padding !== b.padding || a.extra !== b.extra) return undefined
    shapes.push(a)
  }
  return shapes
}

/**
 * Random bytes for padding, drawn from a block filled at once: a
 * `randomFillSync` per packet cost ~8 us, a tenth of an upload's CPU.
 */
class Randomness {
  private readonly block = Buffer.allocUnsafe(64 * 1024)
  private used = this.block.length

  fill(target: Buffer, offset: number, length: number): void {
    if (this.used + length > this.block.length) {
      randomFillSync(this.block)
      this.used = 0
    }
    this.block.copy(target, offset, this.used, this.used + length)
    this.used += length
  }
}

class Pool {
  /** Pooled buffers lent out: given back when written, or when `encrypt` did not write them. */
  private readonly lent = new Set<ArrayBufferLike>()
  /** Free buffers by length (the few sizes of bulk data packets). */
  private readonly free = new Map<number, Array<Buffer>>()
  private readonly randomness = new Randomness()
  private written = false

  wrap(cipher: Cipher): void {
    const allocPacket = cipher.allocPacket.bind(cipher)
    const encrypt = cipher.encrypt.bind(cipher)
    const shapes = probe(allocPacket)
    if (shapes === undefined) return
    cipher.allocPacket = (payloadLength: number): Buffer => {
      const shape = shapes[payloadLength % period]!
      const length = payloadLength + shape.extra
      const packet = payloadLength >= minPooledPayload ? this.take(length) : Buffer.allocUnsafe(length)
      packet.writeUInt32BE(payloadLength + shape.field, 0)
      packet[4] = shape.padding
      this.randomness.fill(packet, 5 + payloadLength, shape.padding)
      return packet
    }
    cipher.encrypt = (packet: Buffer): void => {
      this.written = false
      encrypt(packet)
      if (!this.written) this.release(packet.buffer)
    }
  }

  private take(length: number): Buffer {
    let free = this.free.get(length)
    if (free === undefined && this.free.size < maxSizes) this.free.set(length, free = [])
    const packet = free?.pop() ?? Buffer.from(new ArrayBuffer(length))
    if (free !== undefined) this.lent.add(packet.buffer)
    return packet
  }

  /** Whether `chunk` is a lent packet; notes that it went to the socket. */
  claim(chunk: unknown): chunk is Buffer {
    if (!Buffer.isBuffer(chunk) || !this.lent.has(chunk.buffer)) return false
    this.written = true
    return true
  }

  release(buffer: ArrayBufferLike): void {
    if (!this.lent.delete(buffer)) return
    const free = this.free.get(buffer.byteLength)
    if (free !== undefined && free.length < maxFreePerSize) free.push(Buffer.from(buffer))
  }
}

/**
 * Pools the packets of a connected client's bulk channel data. Does nothing
 * if ssh2's protocol object is not as expected.
 */
export const install = (client: Client, socket: NodeNet.Socket): void => {
  const protocol: unknown = Reflect.get(client, "_protocol")
  if (!Predicate.isObject(protocol)) return
  const current: unknown = Reflect.get(protocol, "_cipher")
  if (!isCipher(current)) return
  const pool = new Pool()
  let cipher: unknown = current
  pool.wrap(current)
  Object.defineProperty(protocol, "_cipher", {
    configurable: true,
    enumerable: true,
    get: () => cipher,
    set: (next: unknown) => {
      cipher = next
      if (isCipher(next)) pool.wrap(next)
    }
  })
  const write = socket.write
  // ssh2 writes each encrypted packet with `sock.write(packet)` and no callback
  socket.write = function(this: NodeNet.Socket, ...args: Array<unknown>): boolean {
    const chunk = args[0]
    if (args.length === 1 && pool.claim(chunk)) {
      return Reflect.apply(write, this, [chunk, (error: Error | null | undefined) => {
        // a failed write may still be referenced by the dying socket: leave that buffer to the collector
        if (!error) pool.release(chunk.buffer)
      }])
    }
    return Reflect.apply(write, this, args)
  } as NodeNet.Socket["write"]
}
