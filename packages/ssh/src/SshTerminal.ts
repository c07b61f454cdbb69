/**
 * A `Terminal` on a remote machine over SSH (ssh2), and the SSH connection
 * that the SFTP file system and the schedulers on the same host share.
 *
 * One terminal is one SSH connection. Commands run in parallel are
 * multiplexed over it as separate channels, at most `maxChannels` at once
 * (sshd's `MaxSessions` is 10 by default); more wait for a free channel and
 * are never failed because of the limit. SFTP channels take slots from the
 * same limit.
 *
 * @since 0.1.0
 */
import type { Credential, RunOptions } from "@cerulean/core"
import { Terminal } from "@cerulean/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { ClientChannel, SFTPWrapper } from "ssh2"
import * as Connection from "./internal/connection.ts"
import * as Run from "./internal/run.ts"
import * as KnownHosts from "./KnownHosts.ts"
import * as SshError from "./SshError.ts"

/**
 * How to reach and trust the server.
 *
 * @since 0.1.0
 * @category models
 */
export interface SshTerminalOptions {
  /** Host name or IP address (IPv6 without brackets). */
  readonly host: string
  /** TCP port; default 22. */
  readonly port?: number | undefined
  /** Password, private key file (with optional passphrase) or SSH agent; the user name is part of it. */
  readonly credential: Credential
  /**
   * known_hosts file to check the server's host key against (and where
   * `accept-new` records new hosts). Default `~/.ssh/known_hosts`, plus the
   * read-only system file `/etc/ssh/ssh_known_hosts`.
   */
  readonly knownHosts?: string | undefined
  /**
   * - `"strict"` (default): the host key must be in known_hosts.
   * - `"accept-new"`: an unknown host's key is recorded on first connect (trust on first use);
   *   a changed key is refused.
   * - `"accept-any"`: no check at all (a warning is logged); must be asked for by name.
   *
   * A refused key fails the connection before any credential is sent.
   */
  readonly hostKeyPolicy?: "strict" | "accept-new" | "accept-any" | undefined
  /** Limit on TCP connect + SSH handshake + authentication; default 20 seconds. */
  readonly connectTimeout?: Duration.Input | undefined
  /**
   * Interval of SSH keepalive probes; after 3 unanswered probes the connection counts as lost.
   * Default 15 seconds; `false` turns keepalives off.
   */
  readonly keepAlive?: Duration.Input | false | undefined
  /** Most channels (commands, SFTP sessions) open at once; default 10, sshd's default `MaxSessions`. */
  readonly maxChannels?: number | undefined
  /**
   * Reconnecting after a lost connection: attempts after the first failure and the first delay
   * (doubling each time). Default 4 attempts from 200 ms. Only connection failures and timeouts
   * are retried, never authentication or host-key failures, and never a command.
   */
  readonly reconnect?:
    | { readonly attempts?: number | undefined; readonly delay?: Duration.Input | undefined }
    | undefined
}

/**
 * Channel slots of a connection. Every exec and SFTP channel holds one slot
 * while open; `take` lets other code hold one (e.g. for a channel opened by
 * hand on {@link SshTerminalShape.exec}'s connection).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelLimiter {
  /** The most channels open at once (`options.maxChannels`, default 10). */
  readonly maxChannels: number
  /** Slots held right now. */
  readonly inUse: Effect.Effect<number>
  /** Holds one slot until the scope closes, waiting while all are taken. */
  readonly take: Effect.Effect<void, never, Scope.Scope>
}

/**
 * An SFTP session on the terminal's connection, open until the scope closes.
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpSession {
  /** ssh2's SFTP client for this channel. */
  readonly sftp: SFTPWrapper
  /**
   * Fails with a `ConnectionLost` SshError when the connection carrying this
   * session drops (never succeeds): race operations against it to turn a
   * drop into a typed error instead of ssh2's "No response from server".
   */
  readonly lost: Effect.Effect<never, SshError.SshError>
  /** Which connection of the terminal this is (1 = first, 2 = after the first reconnect, ...). */
  readonly connectionId: number
}

/**
 * A raw exec channel: the command text goes to the server as given (through
 * the user's login shell, no quoting, no `sh -c`, no kill on timeout).
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecChannel {
  readonly channel: ClientChannel
  /** As {@link SftpSession.lost}. */
  readonly lost: Effect.Effect<never, SshError.SshError>
  readonly connectionId: number
}

/**
 * What an SSH terminal offers: the `Terminal` contract plus access to its
 * connection for the SFTP file system and other channel users.
 *
 * @since 0.1.0
 * @category models
 */
export interface SshTerminalShape extends Terminal {
  readonly protocol: "ssh"
  readonly host: string
  readonly port: number
  readonly username: string
  /** The options as given. */
  readonly options: SshTerminalOptions
  /** The channel slots shared by commands and SFTP sessions. */
  readonly channels: ChannelLimiter
  /**
   * Opens an SFTP session holding one channel slot; closing the scope closes
   * the session and gives the slot back. Reconnects first if the connection
   * was lost.
   */
  readonly openSftp: Effect.Effect<SftpSession, SshError.SshError, Scope.Scope>
  /** Opens a raw exec channel holding one slot until the scope closes (see {@link ExecChannel}). */
  readonly exec: (command: string) => Effect.Effect<ExecChannel, SshError.SshError, Scope.Scope>
  /** Makes sure the connection is up, reconnecting if it was lost. */
  readonly connect: Effect.Effect<void, SshError.SshError>
}

const sftpOpener: Connection.Opener<SFTPWrapper> = {
  label: "an SFTP",
  open: (client, callback) => client.sftp(callback),
  close: (sftp) => sftp.end()
}

const invalid = (host: string, port: number, description: string) =>
  SshError.make("ConnectionFailed", { host, port, description: `invalid options: ${description}` })

const resolveSettings = (options: SshTerminalOptions): Effect.Effect<Connection.Settings, SshError.SshError> =>
  Effect.suspend(() => {
    const host = options.host
    const port = options.port ?? 22
    const fail = (description: string) => Effect.fail(invalid(host, port, description))
    if (typeof host !== "string" || host === "") return fail("host is empty")
    if (!Number.isInteger(port) || port < 1 || port > 65535) return fail(`port ${port} is not in 1..65535`)
    const maxChannels = options.maxChannels ?? 10
    if (!Number.isInteger(maxChannels) || maxChannels < 1) {
      return fail(`maxChannels ${maxChannels} is not a positive integer`)
    }
    const policy = options.hostKeyPolicy ?? "strict"
    if (policy !== "strict" && policy !== "accept-new" && policy !== "accept-any") {
      return fail(`hostKeyPolicy ${String(policy)} is not strict, accept-new or accept-any`)
    }
    const duration = (input: Duration.Input) => {
      const d = Duration.fromInput(input)
      return d._tag === "Some" && Duration.isFinite(d.value) && Duration.toMillis(d.value) >= 0 ? d.value : undefined
    }
    const connectTimeout = duration(options.connectTimeout ?? "20 seconds")
    if (connectTimeout === undefined) return fail("connectTimeout is not a finite duration")
    const keepAlive = options.keepAlive === false ? Duration.zero : duration(options.keepAlive ?? "15 seconds")
    if (keepAlive === undefined) return fail("keepAlive is not a finite duration")
    const reconnectDelay = duration(options.reconnect?.delay ?? "200 millis")
    if (reconnectDelay === undefined) return fail("reconnect.delay is not a finite duration")
    const reconnectAttempts = options.reconnect?.attempts ?? 4
    if (!Number.isInteger(reconnectAttempts) || reconnectAttempts < 0) {
      return fail("reconnect.attempts is not a non-negative integer")
    }
    const credential = options.credential
    return Effect.succeed({
      host,
      port,
      username: credential.username,
      credential,
      knownHostsFiles: options.knownHosts !== undefined
        ? [options.knownHosts]
        : [KnownHosts.userFile(), KnownHosts.globalFile],
      hostKeyPolicy: policy,
      connectTimeout,
      keepAliveInterval: Duration.toMillis(keepAlive),
      keepAliveCountMax: 3,
      maxChannels,
      reconnectAttempts,
      reconnectDelay
    })
  })

const locationOf = (username: string, host: string, port: number) =>
  `${username}@${host.includes(":") ? `[${host}]` : host}:${port}`

const makeShape = Effect.fnUntraced(function*(options: SshTerminalOptions): Effect.fn.Return<
  SshTerminalShape,
  SshError.SshError,
  Scope.Scope
> {
  const settings = yield* resolveSettings(options)
  const conn = yield* Connection.make(settings)
  const location = locationOf(settings.username, settings.host, settings.port)
  const annotations = { terminal: location }

  const run = Effect.fn("SshTerminal.run")(
    function*(command: string, args: ReadonlyArray<string> = [], runOptions: RunOptions = {}) {
      yield* Effect.annotateCurrentSpan({ command, args: args.length })
      const started = yield* Clock.currentTimeMillis
      return yield* Run.run(conn, command, args, runOptions).pipe(
        Effect.onExit((exit) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.logDebug("command run").pipe(Effect.annotateLogs({
              command,
              args,
              workdir: typeof runOptions.workdir === "object" ? runOptions.workdir.path : runOptions.workdir,
              // names only: values may be tokens
              env: Object.keys(runOptions.env ?? {}),
              outcome: Exit.isSuccess(exit)
                ? exit.value.signal ?? `exit ${exit.value.exitCode}`
                : Exit.hasInterrupts(exit)
                ? "interrupted"
                : Option.match(Cause.findErrorOption(exit.cause), {
                  onNone: () => "failed",
                  onSome: (error) => error.reason._tag
                }),
              durationMs: now - started
            })))
        )
      )
    },
    Effect.annotateLogs(annotations)
  )

  const openSftp = Effect.gen(function*() {
    const { channel, live } = yield* conn.openChannel(sftpOpener)
    return { sftp: channel, lost: Deferred.await(live.lost), connectionId: live.id } satisfies SftpSession
  }).pipe(Effect.withSpan("SshTerminal.openSftp"), Effect.annotateLogs(annotations))

  const exec = Effect.fn("SshTerminal.exec")(function*(command: string) {
    const { channel, live } = yield* conn.openChannel(Run.execOpener(command))
    return { channel, lost: Deferred.await(live.lost), connectionId: live.id } satisfies ExecChannel
  }, Effect.annotateLogs(annotations))

  return {
    protocol: "ssh",
    location,
    host: settings.host,
    port: settings.port,
    username: settings.username,
    options,
    channels: {
      maxChannels: conn.limiter.maxChannels,
      inUse: Effect.sync(conn.limiter.inUse),
      take: conn.limiter.take
    },
    run,
    openSftp,
    exec,
    connect: Effect.asVoid(conn.get).pipe(Effect.withSpan("SshTerminal.connect"))
  } satisfies SshTerminalShape
})

/**
 * The SSH terminal service; its layer also provides the generic `Terminal`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { PubKeyCredential, Terminal } from "@cerulean/core"
 * import { SshTerminal } from "@cerulean/ssh"
 *
 * const program = Effect.gen(function*() {
 *   const terminal = yield* Terminal
 *   const result = yield* terminal.run("hostname")
 *   console.log(result.stdout)
 * }).pipe(
 *   Effect.provide(SshTerminal.layer({
 *     host: "cluster.example.org",
 *     credential: new PubKeyCredential({ username: "me", publicKey: "/home/me/.ssh/id_ed25519" })
 *   }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class SshTerminal extends Context.Service<SshTerminal, SshTerminalShape>()("@cerulean/ssh/SshTerminal") {
  /**
   * Connects and returns the terminal; the connection closes with the scope.
   * Fails with an {@link SshError.SshError} if the first connection cannot be
   * made (it is not retried).
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly make = (
    options: SshTerminalOptions
  ): Effect.Effect<SshTerminalShape, SshError.SshError, Scope.Scope> =>
    makeShape(options).pipe(Effect.withSpan("SshTerminal.make"))

  /**
   * A layer providing one terminal under both `SshTerminal` and `Terminal`.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (options: SshTerminalOptions): Layer.Layer<SshTerminal | Terminal, SshError.SshError> =>
    Layer.effectContext(
      Effect.map(SshTerminal.make(options), (terminal) =>
        Context.make(SshTerminal, terminal).pipe(Context.add(Terminal, terminal)))
    )
}
