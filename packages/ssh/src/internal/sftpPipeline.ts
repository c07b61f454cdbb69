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

interface ReadSlot {
  offset: number
  length: number
  state: "pending" | "done" | "failed"
  data: Uint8Array | undefined
  eof: boolean
  retried: boolean
  error: FileSystemError.FileSystemError | undefined
}

/**
 * Reads a file through an open handle. `size` is the file's size when it was
 * opened: reads are issued up to it plus one request at `size` that confirms
 * the end (answered at the same time as the others); if that request returns
 * data the file has grown and reading continues until the server reports the
 * end of the file.
 */
export class PipelinedReader {
  private readonly session: Session
  private readonly handle: Buffer
  private readonly path: string
  private options: PipelineOptions
  private readonly size: number
  private slots: Array<ReadSlot> = []
  private next = 0
  private grown = false
  private ended = false
  private disposed = false
  private waiter: (() => void) | undefined = undefined
  private readonly removeCloseListener: () => void
  /** Bytes delivered so far. */
  delivered = 0

  constructor(session: Session, handle: Buffer, path: string, size: number, options: PipelineOptions) {
    this.session = session
    this.handle = handle
    this.path = path
    this.size = size
    this.options = { requestSize: Math.min(options.requestSize, session.maxRead), maxRequests: options.maxRequests }
    this.removeCloseListener = session.whenClosed(() => this.onChannelClosed())
    this.fill()
  }

  private context() {
    return { operation: "readStream", path: this.path }
  }

  private onChannelClosed(): void {
    for (const slot of this.slots) {
      if (slot.state === "pending") {
        slot.state = "failed"
        slot.error = this.session.lost(this.context())
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
    while (this.slots.length < this.options.maxRequests && this.mayIssue()) {
      const slot: ReadSlot = {
        offset: this.next,
        length: this.options.requestSize,
        state: "pending",
        data: undefined,
        eof: false,
        retried: false,
        error: undefined
      }
      this.next += slot.length
      this.slots.push(slot)
      this.issue(slot)
    }
  }

  private issue(slot: ReadSlot): void {
    if (this.session.closed) {
      slot.state = "failed"
      slot.error = this.session.lost(this.context())
      return
    }
    const buffer = Buffer.allocUnsafe(slot.length)
    this.session.sftp.read(this.handle, buffer, 0, slot.length, slot.offset, (error, bytesRead) => {
      if (this.disposed || slot.state !== "pending") return
      if (error) this.onError(slot, error)
      else this.onData(slot, buffer, bytesRead)
      this.wake()
    })
  }

  private onError(slot: ReadSlot, error: unknown): void {
    if (!slot.retried && slot.length > safeRequestSize && isRefusal(error) && !this.session.closed) {
      // the server refused a large read: read this block again in safe pieces, and use smaller, fewer requests
      this.options = fallback(this.options)
      const index = this.slots.indexOf(slot)
      const pieces: Array<ReadSlot> = []
      for (let offset = slot.offset; offset < slot.offset + slot.length; offset += safeRequestSize) {
        pieces.push({
          offset,
          length: Math.min(safeRequestSize, slot.offset + slot.length - offset),
          state: "pending",
          data: undefined,
          eof: false,
          retried: true,
          error: undefined
        })
      }
      this.slots.splice(index, 1, ...pieces)
      for (const piece of pieces) this.issue(piece)
      return
    }
    slot.state = "failed"
    slot.error = this.session.error(error, this.context())
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
      const rest: ReadSlot = {
        offset: end,
        length: slot.length - bytesRead,
        state: "pending",
        data: undefined,
        eof: false,
        retried: slot.retried,
        error: undefined
      }
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
        return { _tag: "Fail", error: head.error ?? this.session.lost(this.context()) }
      }
      this.slots.shift()
      if (head.data !== undefined) {
        out.push(head.data)
        this.delivered += head.data.length
      }
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
    this.removeCloseListener()
  }
}

interface WriteBlock {
  offset: number
  data: Uint8Array
}

/**
 * Writes a stream of chunks through an open handle, `requestSize` bytes per
 * WRITE, at most `maxRequests` outstanding. `push` suspends the producer while
 * the pipe is full, which is the back-pressure a `Stream` source needs.
 */
export class PipelinedWriter {
  private readonly session: Session
  private readonly handle: Buffer
  private readonly path: string
  private options: PipelineOptions
  private inflight = 0
  private offset = 0
  private block: Buffer
  private fillLevel = 0
  private failure: FileSystemError.FileSystemError | undefined = undefined
  private queue: ReadonlyArray<Uint8Array> = []
  private queueIndex = 0
  private chunkOffset = 0
  private waiter: (() => void) | undefined = undefined
  private readonly removeCloseListener: () => void
  /** Bytes acknowledged by the server so far. */
  written = 0

  constructor(session: Session, handle: Buffer, path: string, options: PipelineOptions) {
    this.session = session
    this.handle = handle
    this.path = path
    this.options = { requestSize: Math.min(options.requestSize, session.maxWrite), maxRequests: options.maxRequests }
    this.block = Buffer.allocUnsafe(this.options.requestSize)
    this.removeCloseListener = session.whenClosed(() => {
      this.fail(this.session.lost(this.context()))
    })
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

  private send(block: WriteBlock, retried: boolean): void {
    this.inflight++
    const data = Buffer.from(block.data.buffer, block.data.byteOffset, block.data.byteLength)
    this.session.sftp.write(this.handle, data, 0, data.length, block.offset, (error) => {
      this.inflight--
      if (error) {
        if (!retried && data.length > safeRequestSize && isRefusal(error) && !this.session.closed) {
          this.options = fallback(this.options)
          this.resend(block)
          return
        }
        this.fail(this.session.error(error, this.context()))
        return
      }
      this.written += data.length
      this.wake()
    })
  }

  /** Sends a refused block again in safe pieces. */
  private resend(block: WriteBlock): void {
    for (let at = 0; at < block.data.length; at += safeRequestSize) {
      const piece = block.data.subarray(at, Math.min(at + safeRequestSize, block.data.length))
      this.send({ offset: block.offset + at, data: piece }, true)
    }
  }

  private emit(data: Uint8Array): void {
    const block = { offset: this.offset, data }
    this.offset += data.length
    this.send(block, false)
  }

  /** Moves queued bytes into requests; `false` when it stopped because the pipe is full. */
  private drain(): boolean {
    const size = this.options.requestSize
    while (this.queueIndex < this.queue.length) {
      if (this.failure !== undefined) return true
      if (this.inflight >= this.options.maxRequests) return false
      const chunk = this.queue[this.queueIndex]!
      const available = chunk.length - this.chunkOffset
      if (available === 0) {
        this.queueIndex++
        this.chunkOffset = 0
        continue
      }
      if (this.fillLevel === 0 && available >= size) {
        // a whole request's worth straight from the caller's chunk: no copy
        this.emit(chunk.subarray(this.chunkOffset, this.chunkOffset + size))
        this.chunkOffset += size
        continue
      }
      const n = Math.min(available, size - this.fillLevel)
      this.block.set(chunk.subarray(this.chunkOffset, this.chunkOffset + n), this.fillLevel)
      this.fillLevel += n
      this.chunkOffset += n
      if (this.fillLevel === size) {
        // the block stays referenced until acknowledged (it may be sent again in pieces), so start a new one
        this.emit(this.block)
        this.block = Buffer.allocUnsafe(size)
        this.fillLevel = 0
      }
    }
    return true
  }

  /** Writes these chunks, suspending while `maxRequests` writes are outstanding. */
  push(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, FileSystemError.FileSystemError> {
    return Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      this.queue = chunks
      this.queueIndex = 0
      this.chunkOffset = 0
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

  /** Sends the last partial block and waits until every write is acknowledged. */
  finish(): Effect.Effect<number, FileSystemError.FileSystemError> {
    return Effect.suspend(() => {
      if (this.failure === undefined && this.fillLevel > 0) {
        this.emit(this.block.subarray(0, this.fillLevel))
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
    this.removeCloseListener()
  }
}
