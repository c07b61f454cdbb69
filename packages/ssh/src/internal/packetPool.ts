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
 * reused while still queued).
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

/** How the cipher lays out a packet of one payload length: its first 5 bytes, padding and total length. */
interface Layout {
  readonly head: Buffer
  readonly padding: number
  readonly length: number
  readonly free: Array<Buffer>
}

class Pool {
  /** Pooled buffers lent out: given back when written, or when `encrypt` did not write them. */
  private readonly lent = new Set<ArrayBufferLike>()
  private readonly owners = new Map<ArrayBufferLike, Layout>()
  private written = false

  wrap(cipher: Cipher): void {
    // a layout belongs to one cipher (the packet length field depends on its block and MAC sizes)
    const layouts = new Map<number, Layout>()
    const allocPacket = cipher.allocPacket.bind(cipher)
    const encrypt = cipher.encrypt.bind(cipher)
    cipher.allocPacket = (payloadLength: number): Buffer => {
      if (payloadLength < minPooledPayload) return allocPacket(payloadLength)
      const layout = layouts.get(payloadLength)
      if (layout === undefined) {
        const packet = allocPacket(payloadLength)
        if (layouts.size < maxSizes) {
          layouts.set(payloadLength, {
            head: Buffer.from(packet.subarray(0, 5)),
            padding: packet[4]!,
            length: packet.length,
            free: []
          })
        }
        return packet
      }
      const packet = layout.free.pop() ?? Buffer.from(new ArrayBuffer(layout.length))
      packet.set(layout.head, 0)
      randomFillSync(packet, 5 + payloadLength, layout.padding)
      this.lent.add(packet.buffer)
      this.owners.set(packet.buffer, layout)
      return packet
    }
    cipher.encrypt = (packet: Buffer): void => {
      this.written = false
      encrypt(packet)
      if (!this.written) this.release(packet.buffer)
    }
  }

  /** Whether `chunk` is a lent packet; notes that it went to the socket. */
  claim(chunk: unknown): chunk is Buffer {
    if (!Buffer.isBuffer(chunk) || !this.lent.has(chunk.buffer)) return false
    this.written = true
    return true
  }

  release(buffer: ArrayBufferLike): void {
    if (!this.lent.delete(buffer)) return
    const layout = this.owners.get(buffer)
    this.owners.delete(buffer)
    if (layout !== undefined && layout.free.length < maxFreePerSize) layout.free.push(Buffer.from(buffer))
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
