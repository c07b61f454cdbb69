/**
 * The SFTP channels of one `SftpFileSystem` on its SSH connection.
 *
 * The main channel serves metadata requests and is opened again if it was
 * closed while the connection lives on. Transfers lease channels: a lease
 * takes the least busy ones and opens more (up to `max`) while every open
 * channel is busy, so concurrent files spread over several SFTP server
 * processes and a large file can be striped over several channels. An extra
 * channel nobody used for `idle` is closed again, giving its session slot
 * back to the connection.
 *
 * @internal
 */
import type * as FileSystemError from "@cerulean/core/FileSystemError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type { SFTPWrapper } from "ssh2"
import { Session } from "./sftpSession.ts"

/**
 * One SFTP channel: ssh2's client for it and, optionally, an effect that
 * fails when the connection carrying it drops.
 */
export interface SftpChannel {
  readonly sftp: SFTPWrapper
  readonly lost?: Effect.Effect<never, unknown> | undefined
}

/** Opens one SFTP channel on the connection for the life of the scope (taking one of its channel slots). */
export type OpenSftp = Effect.Effect<SftpChannel, FileSystemError.FileSystemError, Scope.Scope>

interface Entry {
  readonly session: Session
  readonly scope: Scope.Closeable
  readonly main: boolean
  users: number
  /** Bumped on every use, so an idle timer knows whether the channel was used since it started. */
  generation: number
}

const describe = (session: Session) => ({
  maxRead: session.maxRead,
  maxWrite: session.maxWrite,
  limits: session.hasLimits,
  extensions: Object.keys(session.extensions).join(",")
})

export class Channels {
  private readonly open: OpenSftp
  private readonly scope: Scope.Scope
  private readonly lock: Semaphore.Semaphore
  private readonly max: number
  private readonly idle: Duration.Duration
  private readonly canOpen: Effect.Effect<boolean>
  private mainEntry: Entry | undefined = undefined
  private extras: Array<Entry> = []

  private constructor(
    open: OpenSftp,
    scope: Scope.Scope,
    lock: Semaphore.Semaphore,
    max: number,
    idle: Duration.Duration,
    canOpen: Effect.Effect<boolean>
  ) {
    this.open = open
    this.scope = scope
    this.lock = lock
    this.max = Math.max(1, max)
    this.idle = idle
    this.canOpen = canOpen
  }

  /** Opens the main channel now (so a bad connection fails at construction); all channels close with the scope. */
  static make(
    open: OpenSftp,
    options: {
      readonly max: number
      readonly idle: Duration.Input
      /** Whether a channel slot is free right now: extra channels are opened only then, never waited for. */
      readonly canOpen: Effect.Effect<boolean>
    }
  ): Effect.Effect<Channels, FileSystemError.FileSystemError, Scope.Scope> {
    return Effect.gen(function*() {
      const scope = yield* Effect.scope
      const lock = yield* Semaphore.make(1)
      const channels = new Channels(
        open,
        scope,
        lock,
        options.max,
        Duration.fromInputUnsafe(options.idle),
        options.canOpen
      )
      yield* channels.main
      return channels
    })
  }

  private openEntry(main: boolean): Effect.Effect<Entry, FileSystemError.FileSystemError> {
    return Effect.gen({ self: this }, function*() {
      const child = yield* Scope.fork(this.scope)
      const opened = yield* Effect.exit(Scope.provide(this.open, child))
      if (Exit.isFailure(opened)) {
        yield* Scope.close(child, Exit.void)
        return yield* Effect.failCause(opened.cause)
      }
      const session = new Session(opened.value.sftp)
      const lost = opened.value.lost
      if (lost !== undefined) {
        // the connection's own signal, in case the channel's close event never comes
        yield* Effect.forkIn(Effect.ignore(Effect.andThen(lost, Effect.void)).pipe(
          Effect.ensuring(Effect.sync(() => session.markClosed()))
        ), child)
      }
      yield* Effect.logDebug(main ? "SFTP main channel open" : "SFTP extra channel open", describe(session))
      return { session, scope: child, main, users: 0, generation: 0 }
    })
  }

  private get openMain(): Entry | undefined {
    const entry = this.mainEntry
    return entry !== undefined && !entry.session.closed ? entry : undefined
  }

  /** The main entry, opened again (under the lock) if its channel closed. */
  private readonly mainLocked: Effect.Effect<Entry, FileSystemError.FileSystemError> = Effect.suspend(() => {
    const entry = this.openMain
    if (entry !== undefined) return Effect.succeed(entry)
    const previous = this.mainEntry
    this.mainEntry = undefined
    return Effect.gen({ self: this }, function*() {
      if (previous !== undefined) yield* Scope.close(previous.scope, Exit.void)
      const fresh = yield* this.openEntry(true)
      this.mainEntry = fresh
      return fresh
    })
  })

  /** The session of the main channel, opened again if the server or the connection closed it. */
  readonly main: Effect.Effect<Session, FileSystemError.FileSystemError> = Effect.suspend(() => {
    const entry = this.openMain
    if (entry !== undefined) return Effect.succeed(entry.session)
    return this.lock.withPermits(1)(Effect.map(this.mainLocked, (e) => e.session))
  })

  /** Whether the main channel's server announced an extension (checked on the channel open now). */
  has(extension: string): boolean {
    return this.mainEntry?.session.has(extension) ?? false
  }

  /** Picks `count` channels, least busy first, opening new ones while all open ones are busy. */
  private pick(count: number): Effect.Effect<Array<Entry>, FileSystemError.FileSystemError> {
    return this.lock.withPermits(1)(Effect.gen({ self: this }, function*() {
      const closed = this.extras.filter((e) => e.session.closed)
      if (closed.length > 0) {
        this.extras = this.extras.filter((e) => !e.session.closed)
        for (const e of closed) yield* Scope.close(e.scope, Exit.void)
      }
      const main = yield* this.mainLocked
      const picked: Array<Entry> = []
      for (let i = 0; i < count; i++) {
        let best: Entry | undefined
        for (const e of [main, ...this.extras]) {
          if (picked.includes(e)) continue
          if (best === undefined || e.users < best.users) best = e
        }
        if ((best === undefined || best.users > 0) && 1 + this.extras.length < this.max && (yield* this.canOpen)) {
          const opened = yield* Effect.exit(this.openEntry(false))
          if (Exit.isSuccess(opened)) {
            this.extras.push(opened.value)
            best = opened.value
          } else if (best === undefined && picked.length === 0) {
            best = main
          }
          // a refused extra channel (the connection's session limit) just means fewer channels
        }
        if (best === undefined) break
        best.users++
        best.generation++
        picked.push(best)
      }
      return picked
    }))
  }

  /**
   * The least busy channel, picked without the lock when no channel would be
   * opened or dropped: every open channel is busy and no more may be opened,
   * or one is idle. A tree of small files leases a channel per file, and
   * waiting for the lock each time cost more than the file's own requests.
   */
  private pickOpen(count: number): Array<Entry> | undefined {
    const main = this.openMain
    if (count !== 1 || main === undefined) return undefined
    let best = main
    for (const e of this.extras) {
      if (e.session.closed) return undefined
      if (e.users < best.users) best = e
    }
    if (best.users > 0 && 1 + this.extras.length < this.max) return undefined
    best.users++
    best.generation++
    return [best]
  }

  private release(entries: ReadonlyArray<Entry>): Effect.Effect<void> {
    return Effect.suspend(() => {
      const idle: Array<Entry> = []
      for (const e of entries) {
        e.users--
        if (e.users === 0 && !e.main) idle.push(e)
      }
      if (idle.length === 0) return Effect.void
      return Effect.forEach(idle, (e) => {
        const generation = e.generation
        return Effect.forkIn(
          Effect.andThen(
            Effect.sleep(this.idle),
            this.lock.withPermits(1)(Effect.suspend(() => {
              if (e.users > 0 || e.generation !== generation || !this.extras.includes(e)) return Effect.void
              this.extras = this.extras.filter((x) => x !== e)
              return Effect.andThen(
                Effect.logDebug("SFTP extra channel closed after idling"),
                Scope.close(e.scope, Exit.void)
              )
            }))
          ),
          this.scope
        )
      }, { discard: true })
    })
  }

  private acquire(count: number): Effect.Effect<Array<Entry>, FileSystemError.FileSystemError> {
    return Effect.suspend(() => {
      const now = this.pickOpen(Math.max(1, count))
      return now !== undefined ? Effect.succeed(now) : this.pick(Math.max(1, count))
    })
  }

  /**
   * Runs `use` with `count` leased channels (as {@link lease}, without a
   * scope: one file of a tree of small files is over in a few callbacks).
   */
  withLease<A, E>(
    count: number,
    use: (sessions: ReadonlyArray<Session>) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | FileSystemError.FileSystemError> {
    return Effect.acquireUseRelease(
      this.acquire(count),
      (entries) => use(entries.map((e) => e.session)),
      (entries) => this.release(entries)
    )
  }

  /**
   * Leases `count` channels (distinct where the limit allows, at least one)
   * for the caller's scope.
   */
  lease(count: number): Effect.Effect<ReadonlyArray<Session>, FileSystemError.FileSystemError, Scope.Scope> {
    return Effect.map(
      Effect.acquireRelease(this.acquire(count), (entries) => this.release(entries)),
      (entries) => entries.map((e) => e.session)
    )
  }
}
