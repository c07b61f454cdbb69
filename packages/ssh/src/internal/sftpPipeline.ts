/**
 * Pipelined SFTP reads and writes: many READ/WRITE requests outstanding on
 * one handle, delivered in file order, with memory bounded by
 * `maxRequests * requestSize` and back-pressure from the consumer (reads) or
 * the server (writes).
 *
 * The hot loop is plain callbacks (one Effect per pulled batch or pushed
 * chunk array, not per SFTP request): a fiber per 256 KiB block would cost
 * more than the block's encryption.
 *
 * @internal
 */
import * as FileSystemError from "@cerulean/core/FileSystemError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Arr from "effect/Array"
import { safeRequestSize, type Session, Status, statusOf } from "./sftpSession.ts"

/** How many requests of what size a transfer keeps outstanding. */
export interface PipelineOptions {
  /** Bytes per READ/WRITE request (capped by the server's limits). */
  readonly requestSize: number
  /** Requests outstanding at once. */
  readonly maxRequests: number
}

/** Statuses a server answers with when it does not like a request's size or the number outstanding. */
const isRefusal = (error: unknown): boolean => {
  const status = statusOf(error)
  return status === Status.FAILURE || status === Status.BAD_MESSAGE || status === Status.OP_UNSUPPORTED
}

/** The smaller, fewer requests used after a server refused the configured ones. */
const fallback = (options: PipelineOptions): PipelineOptions => ({
  requestSize: Math.min(options.requestSize, safeRequestSize),
  maxRequests: Math.max(1, Math.min(options.maxRequests, 8))
})

type Taken =
  | { readonly _tag: "Chunks"; readonly chunks: Arr.NonEmptyReadonlyArray<Uint8Array> }
  | { readonly _tag: "Fail"; readonly error: FileSystemError.FileSystemError }
  | "wait"
  | "done"

/**
 * Request-sized buffers used again once their data has gone out or been
 * consumed: a transfer then allocates a bounded set of them instead of one
 * per request, which V8 would collect only after tens of megabytes (it
 * counts buffers as external memory, and collects them late).
 */
export class BufferPool {
  readonly size: number
  private readonly max: number
  private readonly free: Array<Buffer> = []
  private readonly owned = new Map<ArrayBufferLike, Buffer>()

  constructor(size: number, max: number) {
    this.size = size
    this.max = max
  }

  /** A buffer of at least `length` bytes (exactly `size` ones come from the pool). */
  take(length: number): Buffer {
    if (length !== this.size) return Buffer.allocUnsafe(length)
    const reused = this.free.pop()
    if (reused !== undefined) return reused
    // its own ArrayBuffer (allocUnsafe may share a slab for small sizes), so it can be recognised on release
    const buffer = Buffer.from(new ArrayBuffer(this.size))
    if (this.owned.size < this.max) this.owned.set(buffer.buffer, buffer)
    return buffer
  }

  /** Gives back the pool's buffer that `view` lies in, if it is one; its content may be overwritten at once. */
  release(view: Uint8Array): void {
    const buffer = this.owned.get(view.buffer)
    if (buffer !== undefined && this.free.length < this.max && !this.free.includes(buffer)) this.free.push(buffer)
  }
}

/** One open handle of the file on one channel; a transfer may stripe its requests over several. */
export interface Lane {
  readonly session: Session
  readonly handle: Buffer
}

interface LaneState extends Lane {
  inflight: number
}

const leastBusy = (lanes: ReadonlyArray<LaneState>): LaneState => {
  let best = lanes[0]!
  for (let i = 1; i < lanes.length; i++) if (lanes[i]!.inflight < best.inflight) best = lanes[i]!
  return best
}

interface ReadSlot {
  offset: number
  length: number
  state: "pending" | "done" | "failed"
  data: Uint8Array | undefined
  eof: boolean
  retried: boolean
  error: FileSystemError.FileSystemError | undefined
}

const newSlot = (offset: number, length: number, retried: boolean): ReadSlot => ({
  offset,
  length,
  state: "pending",
  data: undefined,
  eof: false,
  retried,
  error: undefined
})

/**
 * Reads a file through open handles (one per lane). `size` is the file's
 * size when it was opened: reads are issued up to it plus one request at
 * `size` that confirms the end (answered at the same time as the others); if
 * that request returns data the file has grown and reading continues until
 * the server reports the end of the file.
 */
export class PipelinedReader {
  private readonly lanes: ReadonlyArray<LaneState>
  private readonly path: string
  private options: PipelineOptions
  private readonly size: number
  private slots: Array<ReadSlot> = []
  private next = 0
  private grown = false
  private ended = false
  private disposed = false
  private waiter: (() => void) | undefined = undefined
  private readonly removeCloseListeners: ReadonlyArray<() => void>

  /** Where read buffers come from: a pool whose buffers the consumer gives back, or fresh ones. */
  private readonly pool: BufferPool | undefined

  constructor(lanes: ReadonlyArray<Lane>, path: string, size: number, options: PipelineOptions, pool?: BufferPool) {
    this.pool = pool
    this.lanes = lanes.map((lane) => ({ ...lane, inflight: 0 }))
    this.path = path
    this.size = size
    const maxRead = Math.min(...lanes.map((lane) => lane.session.maxRead))
    this.options = { requestSize: Math.min(options.requestSize, maxRead), maxRequests: options.maxRequests }
    this.removeCloseListeners = lanes.map((lane) => lane.session.whenClosed(() => this.onChannelClosed(lane.session)))
    this.fill()
  }

  private context() {
    return { operation: "readStream", path: this.path }
  }

  private onChannelClosed(session: Session): void {
    for (const slot of this.slots) {
      if (slot.state === "pending") {
        slot.state = "failed"
        slot.error = session.lost(this.context())
      }
    }
    this.wake()
  }

  private wake(): void {
    const waiter = this.waiter
    this.waiter = undefined
    if (waiter) waiter()
  }

  private mayIssue(): boolean {
    return !this.ended && !this.disposed && (this.grown || this.next <= this.size)
  }


  private fill(): void {
    const capacity = this.options.maxRequests * this.lanes.length
    while (this.slots.length < capacity && this.mayIssue()) {
      // up to the known end plus one byte: the short answer there is the end of the file, and a small file
      // costs one request into a buffer of its own size
      const length = this.grown
        ? this.options.requestSize
        : Math.max(1, Math.min(this.options.requestSize, this.size - this.next + 1))
      const slot = newSlot(this.next, length, false)
      this.next += slot.length
      this.slots.push(slot)
      this.issue(slot)
    }
  }

  private issue(slot: ReadSlot): void {
    const lane = leastBusy(this.lanes)
    if (lane.session.closed) {
      slot.state = "failed"
      slot.error = lane.session.lost(this.context())
      return
    }
    lane.inflight++
    const buffer = this.pool !== undefined ? this.pool.take(slot.length) : Buffer.allocUnsafe(slot.length)
    lane.session.batch()
    lane.session.sftp.read(lane.handle, buffer, 0, slot.length, slot.offset, (error, bytesRead) => {
      lane.inflight--
      if (this.disposed || slot.state !== "pending") return
      if (error) this.onError(lane.session, slot, error)
      else this.onData(slot, buffer, bytesRead)
      this.wake()
    })
  }

  private onError(session: Session, slot: ReadSlot, error: unknown): void {
    if (!slot.retried && slot.length > safeRequestSize && isRefusal(error) && !session.closed) {
      // the server refused a large read: read this block again in safe pieces, and use smaller, fewer requests
      this.options = fallback(this.options)
      const pieces: Array<ReadSlot> = []
      for (let offset = slot.offset; offset < slot.offset + slot.length; offset += safeRequestSize) {
        pieces.push(newSlot(offset, Math.min(safeRequestSize, slot.offset + slot.length - offset), true))
      }
      this.slots.splice(this.slots.indexOf(slot), 1, ...pieces)
      for (const piece of pieces) this.issue(piece)
      return
    }
    slot.state = "failed"
    slot.error = session.error(error, this.context())
  }

  private onData(slot: ReadSlot, buffer: Buffer, bytesRead: number): void {
    slot.state = "done"
    if (bytesRead === 0) {
      // ssh2 reports the EOF status as a successful read of 0 bytes
      slot.eof = true
      return
    }
    slot.data = bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead)
    const end = slot.offset + bytesRead
    if (end > this.size) this.grown = true
    if (bytesRead < slot.length) {
      if (end >= this.size && !this.grown) {
        // a short answer that reaches the size the file had when opened: that is its end
        slot.eof = true
        return
      }
      // a short read inside the file (servers may cap a read's length): ask for the rest, keeping the order
      const rest = newSlot(end, slot.length - bytesRead, slot.retried)
      this.slots.splice(this.slots.indexOf(slot) + 1, 0, rest)
      this.issue(rest)
    }
  }

  /** Takes the completed blocks at the head, in order. */
  private take(): Taken {
    const out: Array<Uint8Array> = []
    while (this.slots.length > 0) {
      const head = this.slots[0]!
      if (head.state === "pending") break
      if (head.state === "failed") {
        if (out.length > 0) break
        return { _tag: "Fail", error: head.error ?? this.lanes[0]!.session.lost(this.context()) }
      }
      this.slots.shift()
      if (head.data !== undefined) out.push(head.data)
      if (head.eof) {
        this.ended = true
        this.slots = []
        break
      }
    }
    this.fill()
    if (Arr.isReadonlyArrayNonEmpty(out)) return { _tag: "Chunks", chunks: out }
    if (this.ended || this.slots.length === 0) return "done"
    return "wait"
  }

  /** The pull of a `Stream`: the next blocks, or `Cause.Done` at the end. */
  readonly pull: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, FileSystemError.FileSystemError | Cause.Done> =
    Effect.suspend((): Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, FileSystemError.FileSystemError | Cause.Done> => {
      const taken = this.take()
      if (taken === "done") return Cause.done()
      if (taken === "wait") {
        return Effect.flatMap(
          Effect.callback<void>((resume) => {
            this.waiter = () => resume(Effect.void)
            return Effect.sync(() => {
              this.waiter = undefined
            })
          }),
          () => this.pull
        )
      }
      return taken._tag === "Fail" ? Effect.fail(taken.error) : Effect.succeed(taken.chunks)
    })

  /** Stops issuing requests; answers still in flight are dropped. */
  dispose(): void {
    this.disposed = true
    this.slots = []
    this.waiter = undefined
    for (const remove of this.removeCloseListeners) remove()
  }
}

interface WriteBlock {
  readonly offset: number
  readonly data: Uint8Array
  /** A buffer of the writer's own pool, returned to it once acknowledged. */
  readonly pooled: boolean
  /** The caller's chunk that this block is all of: handed to `onSent` once acknowledged. */
  readonly chunk: Uint8Array | undefined
}

/**
 * Writes a stream of chunks through open handles (one per lane: the same
 * file opened on several channels), `requestSize` bytes per WRITE, at most
 * `maxRequests` outstanding per lane. `push` suspends the producer while the
 * pipe is full, which is the back-pressure a `Stream` source needs.
 */
export class PipelinedWriter {
  private readonly lanes: ReadonlyArray<LaneState>
  private readonly path: string
  private options: PipelineOptions
  private inflight = 0
  private offset = 0
  private block: Buffer | undefined = undefined
  private fillLevel = 0
  private readonly free: Array<Buffer> = []
  private failure: FileSystemError.FileSystemError | undefined = undefined
  private queue: ReadonlyArray<Uint8Array> = []
  private queueIndex = 0
  private chunkOffset = 0
  /** Part of the current chunk went out as a request of its own (so it may not be given back). */
  private chunkSplit = false
  private waiter: (() => void) | undefined = undefined
  private readonly removeCloseListeners: ReadonlyArray<() => void>
  /** Called with the byte count of each acknowledged write. */
  private readonly onWritten: ((bytes: number) => void) | undefined
  /** Called with the caller's data of each acknowledged write, which is then no longer needed. */
  private readonly onSent: ((data: Uint8Array) => void) | undefined

  constructor(
    lanes: ReadonlyArray<Lane>,
    path: string,
    options: PipelineOptions,
    onWritten?: (bytes: number) => void,
    onSent?: (data: Uint8Array) => void
  ) {
    this.onSent = onSent
    this.lanes = lanes.map((lane) => ({ ...lane, inflight: 0 }))
    this.path = path
    const maxWrite = Math.min(...lanes.map((lane) => lane.session.maxWrite))
    this.options = { requestSize: Math.min(options.requestSize, maxWrite), maxRequests: options.maxRequests }
    this.onWritten = onWritten
    this.removeCloseListeners = lanes.map((lane) =>
      lane.session.whenClosed(() => this.fail(lane.session.lost(this.context())))
    )
  }

  private context() {
    return { operation: "writeStream", path: this.path }
  }

  private fail(error: FileSystemError.FileSystemError): void {
    if (this.failure === undefined) this.failure = error
    this.wake()
  }

  private wake(): void {
    const waiter = this.waiter
    this.waiter = undefined
    if (waiter) waiter()
  }

  private get capacity(): number {
    return this.options.maxRequests * this.lanes.length
  }

  private send(block: WriteBlock, retried: boolean): void {
    const lane = leastBusy(this.lanes)
    lane.inflight++
    this.inflight++
    const data = Buffer.from(block.data.buffer, block.data.byteOffset, block.data.byteLength)
    lane.session.batch()
    lane.session.write(lane.handle, data, block.offset, (error) => {
      lane.inflight--
      this.inflight--
      if (error) {
        if (!retried && data.length > safeRequestSize && isRefusal(error) && !lane.session.closed) {
          this.options = fallback(this.options)
          this.resend(block)
          return
        }
        this.fail(lane.session.error(error, this.context()))
        return
      }
      if (block.pooled && data.length === this.options.requestSize && this.free.length < this.capacity) {
        this.free.push(data)
      }
      if (this.onWritten !== undefined) this.onWritten(data.length)
      if (block.chunk !== undefined && this.onSent !== undefined) this.onSent(block.chunk)
      this.wake()
    })
  }

  /** Sends a refused block again in safe pieces. */
  private resend(block: WriteBlock): void {
    for (let at = 0; at < block.data.length; at += safeRequestSize) {
      const piece = block.data.subarray(at, Math.min(at + safeRequestSize, block.data.length))
      this.send({ offset: block.offset + at, data: piece, pooled: false, chunk: undefined }, true)
    }
  }

  private emit(data: Uint8Array, pooled: boolean, chunk?: Uint8Array): void {
    const block = { offset: this.offset, data, pooled, chunk }
    this.offset += data.length
    this.send(block, false)
  }

  /** Moves queued bytes into requests; `false` when it stopped because the pipe is full. */
  private drain(): boolean {
    const size = this.options.requestSize
    while (this.queueIndex < this.queue.length) {
      if (this.failure !== undefined) return true
      if (this.inflight >= this.capacity) return false
      const chunk = this.queue[this.queueIndex]!
      const available = chunk.length - this.chunkOffset
      if (available === 0) {
        this.queueIndex++
        this.chunkOffset = 0
        this.chunkSplit = false
        continue
      }
      if (this.fillLevel === 0 && available >= size) {
        // a whole request's worth straight from the caller's chunk: no copy (a chunk that is exactly one
        // request goes back to the caller once acknowledged; a larger one never, as its parts fly apart)
        const whole = this.chunkOffset === 0 && chunk.length === size
        this.emit(chunk.subarray(this.chunkOffset, this.chunkOffset + size), false, whole ? chunk : undefined)
        this.chunkOffset += size
        this.chunkSplit = !whole
        continue
      }
      const block = this.block ?? (this.block = this.free.pop() ?? Buffer.allocUnsafe(size))
      const n = Math.min(available, size - this.fillLevel)
      block.set(chunk.subarray(this.chunkOffset, this.chunkOffset + n), this.fillLevel)
      this.fillLevel += n
      this.chunkOffset += n
      // copied whole into the writer's own block: the caller's chunk is free again at once
      if (this.chunkOffset === chunk.length && !this.chunkSplit && this.onSent !== undefined) this.onSent(chunk)
      if (this.fillLevel === size) {
        // the block stays with the request until acknowledged (a refused one is sent again in pieces)
        this.emit(block, true)
        this.block = undefined
        this.fillLevel = 0
      }
    }
    return true
  }

  /** Writes these chunks, suspending while the pipe is full. */
  push(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, FileSystemError.FileSystemError> {
    return Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      this.queue = chunks
      this.queueIndex = 0
      this.chunkOffset = 0
      this.chunkSplit = false
      if (this.drain()) return this.failure !== undefined ? Effect.fail(this.failure) : Effect.void
      return Effect.callback<void, FileSystemError.FileSystemError>((resume) => {
        const retry = () => {
          if (this.drain()) resume(this.failure !== undefined ? Effect.fail(this.failure) : Effect.void)
          else this.waiter = retry
        }
        this.waiter = retry
        return Effect.sync(() => {
          this.waiter = undefined
        })
      })
    })
  }

  /** Sends the last partial block and waits until every write is acknowledged; returns the bytes written. */
  finish(): Effect.Effect<number, FileSystemError.FileSystemError> {
    return Effect.suspend(() => {
      if (this.failure === undefined && this.fillLevel > 0 && this.block !== undefined) {
        this.emit(this.block.subarray(0, this.fillLevel), false)
        this.block = undefined
        this.fillLevel = 0
      }
      const settled = () => this.failure !== undefined || this.inflight === 0
      const result = () => (this.failure !== undefined ? Effect.fail(this.failure) : Effect.succeed(this.offset))
      if (settled()) return result()
      return Effect.flatMap(
        Effect.callback<void>((resume) => {
          const check = () => {
            if (settled()) resume(Effect.void)
            else this.waiter = check
          }
          this.waiter = check
          return Effect.sync(() => {
            this.waiter = undefined
          })
        }),
        result
      )
    })
  }

  dispose(): void {
    this.waiter = undefined
    for (const remove of this.removeCloseListeners) remove()
  }
}
