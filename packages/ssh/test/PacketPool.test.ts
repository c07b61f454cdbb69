// Unit tests of the pooled SSH packets (packetPool.ts) with ssh2's own ciphers and deciphers: every packet a
// wrapped cipher sends decrypts to the payload given, in order, whatever the cipher, while the socket holds
// written packets for a while before it reports them sent (a buffer reused too early would fail the MAC).
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { createRequire } from "node:module"
import type * as NodeNet from "node:net"
import type { Client } from "ssh2"
import * as PacketPool from "../src/internal/packetPool.ts"

const require = createRequire(import.meta.url)

interface Info {
  readonly keyLen: number
  readonly ivLen: number
  readonly len?: number
}
interface Crypto {
  readonly CIPHER_INFO: Record<string, Info>
  readonly MAC_INFO: Record<string, Info>
  readonly init: Promise<void>
  createCipher(config: object): { allocPacket(n: number): Buffer; encrypt(p: Buffer): void }
  createDecipher(config: object): { decrypt(data: Buffer, p: number, len: number): unknown }
}
const crypto = require("ssh2/lib/protocol/crypto.js") as Crypto

/** A socket that keeps what is written and reports it sent only when flushed, as a busy kernel would. */
class SlowSocket {
  readonly sent: Array<Buffer> = []
  private readonly pending: Array<{ chunk: Buffer; cb: ((error?: Error) => void) | undefined }> = []
  write(chunk: Buffer, cb?: (error?: Error) => void): boolean {
    this.pending.push({ chunk, cb })
    return true
  }
  flush(): void {
    for (const { chunk, cb } of this.pending.splice(0)) {
      this.sent.push(Buffer.from(chunk))
      cb?.()
    }
  }
}

const suites: ReadonlyArray<readonly [cipher: string, mac: string | undefined]> = [
  ["aes128-gcm@openssh.com", undefined],
  ["chacha20-poly1305@openssh.com", undefined],
  ["aes128-ctr", "hmac-sha2-256"],
  ["aes256-ctr", "hmac-sha2-512-etm@openssh.com"]
]

describe("PacketPool", () => {
  for (const [cipherName, macName] of suites) {
    it.effect(`${cipherName}${macName ? ` + ${macName}` : ""}: every packet decrypts to its payload, in order`, () =>
      Effect.gen(function*() {
        yield* Effect.promise(() => crypto.init)
        const cipherInfo = crypto.CIPHER_INFO[cipherName]!
        const macInfo = macName === undefined ? undefined : crypto.MAC_INFO[macName]!
        const key = randomBytes(cipherInfo.keyLen)
        const iv = randomBytes(cipherInfo.ivLen)
        const macKey = macInfo === undefined ? undefined : randomBytes(macInfo.len!)
        const socket = new SlowSocket()
        const cipher = crypto.createCipher({
          outbound: {
            onWrite: (data: Buffer) => socket.write(data),
            seqno: 0,
            cipherInfo,
            cipherIV: iv,
            cipherKey: key,
            macInfo,
            macKey
          }
        })
        const protocol = { _cipher: cipher }
        PacketPool.install({ _protocol: protocol } as unknown as Client, socket as unknown as NodeNet.Socket)

        const payloads: Array<Buffer> = []
        for (let i = 0; i < 300; i++) {
          // mostly bulk pieces (pooled), some small control packets, lengths over every remainder of 16
          const length = i % 5 === 0 ? 9 + (i % 40) : 32 * 1024 + 9 + (i % 3)
          const payload = randomBytes(length)
          payloads.push(payload)
          const packet = protocol._cipher.allocPacket(length)
          packet.set(payload, 5)
          protocol._cipher.encrypt(packet)
          if (i % 7 === 6) socket.flush()
        }
        socket.flush()

        const received: Array<Buffer> = []
        const decipher = crypto.createDecipher({
          inbound: {
            onPayload: (payload: Buffer) => {
              received.push(Buffer.from(payload))
            },
            seqno: 0,
            decipherInfo: cipherInfo,
            decipherIV: iv,
            decipherKey: key,
            macInfo,
            macKey
          }
        })
        const stream = Buffer.concat(socket.sent)
        decipher.decrypt(stream, 0, stream.length)
        assert.strictEqual(received.length, payloads.length)
        for (let i = 0; i < payloads.length; i++) assert.isTrue(received[i]!.equals(payloads[i]!), `payload ${i}`)
      }))
  }
})
