/**
 * Reads the connection's socket into one reused buffer.
 *
 * Node's sockets allocate a new buffer for every read (64 KiB each), 1 GiB
 * per GiB downloaded, and V8 answers every ~64 MB of such external memory
 * with a full collection of the heap (docs/sftp.md). Reading into a single
 * buffer (`onread`) avoids that, but ssh2 decrypts packets in place and
 * hands their payloads on as views of the buffer it was given: whatever
 * keeps such a view (a channel's stream, a handle, key-exchange data) would
 * see it overwritten by the next read. So:
 *
 * - until the connection is ready (version exchange, key exchange,
 *   authentication) every read is copied before ssh2 sees it;
 * - afterwards ssh2 gets views, and every decrypted payload is copied before
 *   ssh2 handles it, except the data of a channel whose consumer copies it
 *   out at once (an SFTP channel with its wire, see sftpWire.ts), which is
 *   the bulk of a download;
 * - after each read, whatever the decipher still holds of the buffer (the
 *   body of a packet whose MAC is in the next read) is copied;
 * - with AES-GCM (ssh2's choice where the CPU has AES instructions), reads
 *   are handed on in whole packets, the incomplete last one kept for the
 *   next read, so ssh2 never has to gather a packet in a buffer of its own.
 *
 * The payload check wraps ssh2's current decipher, which ssh2 replaces at
 * every key exchange (hence the accessor on its protocol object). If
 * anything is not as expected, reads stay copies.
 *
 * @internal
 */
import * as Predicate from "effect/Predicate"
import type * as NodeNet from "node:net"
import type { Client } from "ssh2"

/** SSH_MSG_CHANNEL_DATA: `byte 94, uint32 recipient channel, string data`. */
const CHANNEL_DATA = 94
/** Bytes per socket read: several 32 KiB packets. */
const readSize = 256 * 1024
/** The authentication tag after each AES-GCM packet (RFC 5647). */
const gcmTagLength = 16

/** The channel objects (ssh2's) whose incoming data is copied out synchronously by their consumer. */
const copiedOut = new WeakSet<object>()

/** Marks an ssh2 channel object as one whose data may arrive as a view of the read buffer. */
export const copiesOut = (channel: object): void => {
  copiedOut.add(channel)
}

interface Decipher {
  _onPayload: (payload: Buffer) => unknown
}

const isDecipher = (u: unknown): u is Decipher =>
  Predicate.hasProperty(u, "_onPayload") && typeof u._onPayload === "function"

/**
 * Whether ssh2's decipher is its AES-GCM one (native binding) and sits
 * between two packets, so the next byte it gets starts a packet.
 */
const isBetweenGcmPackets = (decipher: unknown): boolean =>
  Predicate.isObject(decipher) && decipher.constructor.name === "AESGCMDecipherBinding" &&
  Reflect.get(decipher, "_lenBytes") === 0 && Reflect.get(decipher, "_pktLen") === 0 &&
  Reflect.get(decipher, "_tagPos") === 0 && Reflect.get(decipher, "_packet") === null

/** The reader of one connection: `onread` for `net.connect`, then `attach` to the socket and `guard` the client. */
export class Inbound {
  private readonly buffer = Buffer.allocUnsafe(readSize)
  private socket: NodeNet.Socket | undefined = undefined
  /** Whether ssh2 gets views of the buffer (only once every payload it keeps is copied). */
  private views = false
  /** ssh2's current decipher, once guarded. */
  private decipher: unknown = undefined

  /** Bytes of an incomplete packet kept at the start of the buffer for the next read (when framing). */
  private carry = 0
  /**
   * Whether reads are handed on in whole packets: possible with AES-GCM,
   * whose packet lengths are not encrypted, once its decipher is between two
   * packets. ssh2 then never sees a packet cut by a read, which it would
   * copy into a buffer of its own.
   */
  private framing = false

  /** The `onread` option of `net.connect`: each read goes after the incomplete packet kept from the last. */
  readonly onread = {
    buffer: (): Uint8Array => this.buffer.subarray(this.carry),
    callback: (bytes: number): boolean => {
      this.receive(bytes)
      return true
    }
  }

  /** The buffer reads land in (for tests). */
  get readBuffer(): Buffer {
    return this.buffer
  }

  private receive(bytes: number): void {
    const socket = this.socket
    if (socket === undefined) return
    const total = this.carry + bytes
    const end = this.framing ? this.wholePackets(total) : total
    if (end > 0) {
      const chunk = this.buffer.subarray(0, end)
      // ssh2 reads the socket through its 'data' listener, which `onread` bypasses
      socket.emit("data", this.views ? chunk : Buffer.from(chunk))
    }
    this.buffer.copyWithin(0, end, total)
    this.carry = total - end
    if (this.views) {
      this.detach()
      this.framing = isBetweenGcmPackets(this.decipher)
    }
  }

  /** Where the last whole AES-GCM packet among the first `total` bytes ends. */
  private wholePackets(total: number): number {
    let end = 0
    while (total - end >= 4) {
      const size = 4 + this.buffer.readUInt32BE(end) + gcmTagLength
      // a packet larger than the buffer cannot be gathered here: ssh2 gathers it
      if (size > this.buffer.length) return total
      if (end + size > total) break
      end += size
    }
    return end
  }

  /**
   * A decipher keeps the packet it is reading across reads (when its body
   * ends a read and its MAC comes in the next one it keeps a view, not a
   * copy): whatever it still holds of the buffer is copied before the next
   * read overwrites it.
   */
  private detach(): void {
    const decipher = this.decipher
    if (!Predicate.isObject(decipher)) return
    for (const key of Object.keys(decipher)) {
      const value: unknown = Reflect.get(decipher, key)
      if (value instanceof Uint8Array && value.buffer === this.buffer.buffer) {
        Reflect.set(decipher, key, Buffer.isBuffer(value) ? Buffer.from(value) : new Uint8Array(value))
      }
    }
  }

  attach(socket: NodeNet.Socket): void {
    this.socket = socket
  }

  /**
   * Wraps the connected client's decipher so that payloads are copied unless
   * they are data of a channel marked with `copiesOut`; from then on ssh2 is
   * handed views of the read buffer.
   */
  guard(client: Client): void {
    const protocol: unknown = Reflect.get(client, "_protocol")
    const manager: unknown = Reflect.get(client, "_chanMgr")
    const channels: unknown = Predicate.isObject(manager) ? Reflect.get(manager, "_channels") : undefined
    if (!Predicate.isObject(protocol) || !Predicate.isObject(channels)) return
    const current: unknown = Reflect.get(protocol, "_decipher")
    if (!isDecipher(current)) return
    const wrap = (decipher: Decipher) => {
      const onPayload = decipher._onPayload
      decipher._onPayload = (payload: Buffer) => {
        const channel: unknown = payload.length >= 5 && payload[0] === CHANNEL_DATA
          ? Reflect.get(channels, payload.readUInt32BE(1))
          : undefined
        return onPayload(Predicate.isObject(channel) && copiedOut.has(channel) ? payload : Buffer.from(payload))
      }
    }
    wrap(current)
    this.decipher = current
    Object.defineProperty(protocol, "_decipher", {
      configurable: true,
      enumerable: true,
      get: () => this.decipher,
      set: (next: unknown) => {
        this.decipher = next
        if (isDecipher(next)) wrap(next)
        // a decipher of another shape could hand on views unchecked: copy every read from now on
        else if (next !== undefined) {
          this.views = false
          this.framing = false
        }
      }
    })
    this.views = true
  }
}
