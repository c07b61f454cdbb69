/**
 * A bounded pool of large reusable buffers for the transfers between local
 * files and WebDAV.
 *
 * A fresh buffer per block costs little to allocate but a lot to collect:
 * V8 counts every buffer's memory as external pressure and answers a few
 * hundred MiB of it with full garbage collections, each of which walks the
 * whole heap (Effect, the `webdav` client, ...). Measured on a 256 MiB
 * upload, that was over half a second of CPU. Recycled blocks allocate
 * nothing after the first few.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

export class BlockPool {
  private readonly free: Array<Buffer> = []
  private readonly owned = new Set<ArrayBufferLike>()
  private waiters: Array<() => void> = []

  readonly blockSize: number
  readonly capacity: number

  constructor(blockSize: number, capacity: number) {
    this.blockSize = blockSize
    this.capacity = capacity
  }

  /** A free block, or a new one while fewer than `capacity` exist; `undefined` when all are out. */
  tryTake(): Buffer | undefined {
    const block = this.free.pop()
    if (block !== undefined) return block
    if (this.owned.size >= this.capacity) return undefined
    return this.allocate()
  }

  /** A block even when all are out: one more than `capacity`, dropped instead of kept when it comes back. */
  takeExtra(): Buffer {
    return this.tryTake() ?? Buffer.allocUnsafeSlow(this.blockSize)
  }

  /** Waits for a block when all are out. */
  readonly take: Effect.Effect<Buffer> = Effect.suspend(() => {
    const block = this.tryTake()
    if (block !== undefined) return Effect.succeed(block)
    return Effect.flatMap(
      Effect.callback<void>((resume) => {
        const wake = () => resume(Effect.void)
        this.waiters.push(wake)
        return Effect.sync(() => {
          this.waiters = this.waiters.filter((w) => w !== wake)
        })
      }),
      () => this.take
    )
  })

  /**
   * Gives back the block that `chunk` is (a view of), once nobody reads it
   * any more. Chunks that are not from this pool are ignored, so callers need
   * not know where a chunk came from.
   */
  release(chunk: Uint8Array): void {
    if (!this.owned.has(chunk.buffer)) return
    this.free.push(Buffer.from(chunk.buffer, 0, this.blockSize))
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }

  private allocate(): Buffer {
    // allocUnsafeSlow: a buffer of its own (never a slice of Node's shared pool), so that
    // `chunk.buffer` identifies the block.
    const block = Buffer.allocUnsafeSlow(this.blockSize)
    this.owned.add(block.buffer)
    return block
  }
}
