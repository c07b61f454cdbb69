/**
 * The SFTP channels of one `SftpFileSystem`: a main channel for metadata
 * and single transfers (opened again if it was closed while the SSH
 * connection lives on), and extra channels that parallel copies open for
 * their own duration.
 *
 * @internal
 */
import type * as FileSystemError from "@cerulean/core/FileSystemError"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type { SFTPWrapper } from "ssh2"
import { Session } from "./sftpSession.ts"

/** Opens one SFTP channel on the connection for the life of the scope (taking one of its channel slots). */
export type OpenSftp = Effect.Effect<SFTPWrapper, FileSystemError.FileSystemError, Scope.Scope>

const describe = (session: Session) => ({
  maxRead: session.maxRead,
  maxWrite: session.maxWrite,
  limits: session.hasLimits,
  extensions: Object.keys(session.extensions).join(",")
})

/** Opens a channel in the given scope and wraps it. */
export const openSession = (open: OpenSftp): Effect.Effect<Session, FileSystemError.FileSystemError, Scope.Scope> =>
  Effect.map(open, (sftp) => new Session(sftp)).pipe(
    Effect.tap((session) => Effect.logDebug("SFTP channel open", describe(session)))
  )

export class Channels {
  private readonly open: OpenSftp
  private readonly scope: Scope.Scope
  private readonly lock: Semaphore.Semaphore
  private current: { readonly session: Session; readonly scope: Scope.Closeable } | undefined = undefined

  private constructor(open: OpenSftp, scope: Scope.Scope, lock: Semaphore.Semaphore) {
    this.open = open
    this.scope = scope
    this.lock = lock
  }

  /** Opens the main channel now (so a bad connection fails at construction), in the caller's scope. */
  static make(open: OpenSftp): Effect.Effect<Channels, FileSystemError.FileSystemError, Scope.Scope> {
    return Effect.gen(function*() {
      const scope = yield* Effect.scope
      const lock = yield* Semaphore.make(1)
      const channels = new Channels(open, scope, lock)
      yield* channels.main
      return channels
    })
  }

  /** The session of the current main channel, if it is open, without waiting. */
  get currentSession(): Session | undefined {
    const current = this.current
    return current !== undefined && !current.session.closed ? current.session : undefined
  }

  /** The main channel, opened again if the server or the connection closed it. */
  get main(): Effect.Effect<Session, FileSystemError.FileSystemError> {
    const session = this.currentSession
    if (session !== undefined) return Effect.succeed(session)
    return this.lock.withPermits(1)(Effect.suspend(() => {
      const again = this.currentSession
      if (again !== undefined) return Effect.succeed(again)
      const previous = this.current
      this.current = undefined
      return Effect.gen({ self: this }, function*() {
        if (previous !== undefined) yield* Scope.close(previous.scope, Exit.void)
        const child = yield* Scope.fork(this.scope)
        const opened = yield* Effect.exit(Scope.provide(openSession(this.open), child))
        if (Exit.isFailure(opened)) {
          yield* Scope.close(child, Exit.void)
          return yield* opened
        }
        this.current = { session: opened.value, scope: child }
        return opened.value
      })
    }))
  }

  /** An extra channel for the caller's scope (closed when it ends). */
  get extra(): Effect.Effect<Session, FileSystemError.FileSystemError, Scope.Scope> {
    return openSession(this.open)
  }
}
