/**
 * One SSH connection per terminal: connecting (TCP_NODELAY socket, host-key
 * check in ssh2's hostVerifier, authentication), reconnecting on demand after
 * a loss, and opening channels on it under a channel limit.
 */
import type { Credential, PubKeyCredential } from "@cerulean/core"
import * as Config from "effect/Config"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type { EventEmitter } from "node:events"
import * as NodeFs from "node:fs/promises"
import * as NodeNet from "node:net"
import ssh2 from "ssh2"
import type {
  AnyAuthMethod,
  AuthenticationType,
  Client,
  ConnectConfig,
  ParsedKey,
  Prompt,
  ServerHostKeyAlgorithm
} from "ssh2"
import * as KnownHosts from "../KnownHosts.ts"
import * as SshError from "../SshError.ts"
import * as Inbound from "./inbound.ts"
import * as PacketPool from "./packetPool.ts"

/** Options after defaults and validation. */
export interface Settings {
  readonly host: string
  readonly port: number
  readonly username: string
  readonly credential: Credential
  /** Files consulted for host keys, in order; the first one is where `accept-new` writes. */
  readonly knownHostsFiles: ReadonlyArray<string>
  readonly hostKeyPolicy: "strict" | "accept-new" | "accept-any"
  readonly connectTimeout: Duration.Duration
  /** Milliseconds between keepalive probes; 0 turns them off. */
  readonly keepAliveInterval: number
  readonly keepAliveCountMax: number
  readonly maxChannels: number
  readonly reconnectAttempts: number
  readonly reconnectDelay: Duration.Duration
}

/** One established, authenticated SSH connection. */
export interface Live {
  /** 1 for the first connection of a terminal, 2 after the first reconnect, ... */
  readonly id: number
  readonly client: Client
  readonly socket: NodeNet.Socket
  /** Fails with a `ConnectionLost` SshError once the connection is gone; never succeeds. */
  readonly lost: Deferred.Deferred<never, SshError.SshError>
}

const errorFor = (
  settings: Settings,
  tag: "AuthenticationFailed" | "ConnectionFailed" | "ConnectionLost" | "Timeout",
  description: string,
  cause?: unknown
) => SshError.make(tag, { host: settings.host, port: settings.port, description, cause })

const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

// ---------------------------------------------------------------------------------------------- authentication

type AuthMaterial =
  | { readonly _tag: "Password"; readonly password: Redacted.Redacted<string> }
  | { readonly _tag: "Key"; readonly key: ParsedKey; readonly file: string }
  | { readonly _tag: "Agent"; readonly socket: string }

const readKey = Effect.fnUntraced(function*(settings: Settings, credential: PubKeyCredential) {
  const file = credential.publicKey
  const data = yield* Effect.tryPromise({
    try: () => NodeFs.readFile(file),
    catch: (cause) =>
      errorFor(settings, "AuthenticationFailed", `cannot read private key file ${file}: ${messageOf(cause)}`)
  })
  const passphrase = credential.passphrase === undefined ? undefined : Redacted.value(credential.passphrase)
  const parsed = ssh2.utils.parseKey(data, passphrase)
  // ssh2's messages ("... bad passphrase?", "... no passphrase given") never contain the passphrase
  if (parsed instanceof Error) {
    return yield* errorFor(settings, "AuthenticationFailed", `cannot use private key file ${file}: ${parsed.message}`)
  }
  const key: ParsedKey | undefined = Array.isArray(parsed) ? parsed[0] : parsed
  if (key === undefined || !key.isPrivateKey()) {
    return yield* errorFor(settings, "AuthenticationFailed", `${file} holds no private key`)
  }
  return { _tag: "Key", key, file } satisfies AuthMaterial
})

const prepareAuth = (settings: Settings): Effect.Effect<AuthMaterial, SshError.SshError> => {
  const credential = settings.credential
  switch (credential._tag) {
    case "PasswordCredential":
      return Effect.succeed({ _tag: "Password", password: credential.password })
    case "PubKeyCredential":
      return readKey(settings, credential)
    case "AgentCredential":
      return Effect.gen(function*() {
        const fromEnv = yield* Config.option(Config.String("SSH_AUTH_SOCK")).pipe(
          Effect.orElseSucceed(() => Option.none<string>())
        )
        const socket = credential.socket ?? Option.getOrUndefined(fromEnv)
        if (socket === undefined || socket === "") {
          return yield* errorFor(settings, "AuthenticationFailed", "no SSH agent: SSH_AUTH_SOCK is not set")
        }
        return { _tag: "Agent", socket } satisfies AuthMaterial
      })
  }
}

// Password answers keyboard-interactive prompts for a few rounds (PAM may ask more than once);
// after that empty answers make the server give up instead of looping.
const maxPromptRounds = 3

/**
 * ssh2 auth handler: "none" first (learns the server's methods, as OpenSSH does), then the one
 * method the credential stands for. A password goes over "password" when the server offers it,
 * else over "keyboard-interactive"; never both, so a wrong password costs one failure delay.
 */
const makeAuthHandler = (username: string, auth: AuthMaterial) => {
  const tried = new Set<string>()
  let promptRounds = 0
  const firstTime = (method: string) => (tried.has(method) ? false : (tried.add(method), true))
  return (methodsLeft: Array<AuthenticationType> | null): AnyAuthMethod | false => {
    if (methodsLeft === null) return { type: "none", username }
    const offered = (method: AuthenticationType) => methodsLeft.includes(method)
    switch (auth._tag) {
      case "Password": {
        if (tried.size > 0) return false
        if (offered("password") && firstTime("password")) {
          return { type: "password", username, password: Redacted.value(auth.password) }
        }
        if (offered("keyboard-interactive") && firstTime("keyboard-interactive")) {
          return {
            type: "keyboard-interactive",
            username,
            prompt: (_name: string, _instructions: string, _lang: string, prompts: Array<Prompt>, finish) => {
              promptRounds++
              const answer = promptRounds <= maxPromptRounds ? Redacted.value(auth.password) : ""
              finish(prompts.map(() => answer))
            }
          }
        }
        return false
      }
      case "Key":
        return offered("publickey") && firstTime("publickey") ? { type: "publickey", username, key: auth.key } : false
      case "Agent":
        return offered("publickey") && firstTime("agent") ? { type: "agent", username, agent: auth.socket } : false
    }
  }
}

// ---------------------------------------------------------------------------------------------- host keys

type HostKeyDecision =
  | { readonly _tag: "Accept"; readonly note?: string }
  | { readonly _tag: "Record"; readonly keyType: string; readonly key: string }
  | { readonly _tag: "Reject"; readonly error: SshError.SshError }

const decideHostKey = (
  settings: Settings,
  entries: ReadonlyArray<KnownHosts.Entry>,
  blob: Buffer
): HostKeyDecision => {
  const keyType = KnownHosts.keyTypeOf(blob) ?? "unknown"
  const key = blob.toString("base64")
  const fields = {
    host: settings.host,
    port: settings.port,
    keyType,
    fingerprint: KnownHosts.fingerprint(blob),
    knownHostsFiles: settings.knownHostsFiles
  }
  const name = KnownHosts.hostName(settings.host, settings.port)
  const reject = (Reason: typeof SshError.HostKeyUnknown | typeof SshError.HostKeyMismatch, description: string) => ({
    _tag: "Reject" as const,
    error: new SshError.SshError({ reason: new Reason({ ...fields, description }) })
  })
  const verdict = KnownHosts.check(entries, settings.host, settings.port, keyType, key)
  switch (verdict._tag) {
    case "Known":
      return { _tag: "Accept" }
    case "Revoked":
      return reject(SshError.HostKeyMismatch, `the server's ${keyType} key is marked @revoked in known_hosts`)
    case "Mismatch":
      if (settings.hostKeyPolicy === "accept-any") {
        return { _tag: "Accept", note: `host key differs from known_hosts (line ${verdict.entries[0]!.line})` }
      }
      return reject(
        SshError.HostKeyMismatch,
        `known_hosts holds a different ${keyType} key for ${name} (line ${verdict.entries[0]!.line}): ` +
          "possible man-in-the-middle; no credential was sent"
      )
    case "OtherTypes":
      if (settings.hostKeyPolicy === "accept-any") return { _tag: "Accept", note: "key type not in known_hosts" }
      // accept-new too: a host that is already known never gets a second key type added silently
      return reject(
        SshError.HostKeyUnknown,
        `known_hosts has only ${verdict.keyTypes.join(", ")} keys for ${name}, the server offered ${keyType}`
      )
    case "Unknown":
      switch (settings.hostKeyPolicy) {
        case "strict":
          return reject(SshError.HostKeyUnknown, `${name} is not in known_hosts; no credential was sent`)
        case "accept-new":
          return { _tag: "Record", keyType, key }
        case "accept-any":
          return { _tag: "Accept", note: "host not in known_hosts" }
      }
  }
}

const defaultHostKeyAlgorithms: ReadonlyArray<ServerHostKeyAlgorithm> = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa"
]

/** Ask for a host key of a type known_hosts can vouch for first, as OpenSSH does. */
const isHostKeyAlgorithm = (a: string): a is ServerHostKeyAlgorithm =>
  defaultHostKeyAlgorithms.some((known) => known === a)

const hostKeyAlgorithms = (knownTypes: ReadonlyArray<string>): Array<ServerHostKeyAlgorithm> => {
  const preferred = knownTypes.flatMap((t) => t === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [t])
    .filter(isHostKeyAlgorithm)
  return [...new Set([...preferred, ...defaultHostKeyAlgorithms])]
}

const loadKnownHosts = (settings: Settings) =>
  Effect.forEach(settings.knownHostsFiles, (file) => KnownHosts.read(file)).pipe(
    Effect.map((lists) => lists.flat()),
    Effect.mapError((e) => errorFor(settings, "ConnectionFailed", e.message, e))
  )

// ---------------------------------------------------------------------------------------------- connect

interface Connected {
  readonly live: Live
  readonly decision: HostKeyDecision
  readonly cipher: string | undefined
}

const classifyConnectError = (settings: Settings, err: Error & { level?: string }): SshError.SshError => {
  switch (err.level) {
    case "client-authentication":
      return errorFor(settings, "AuthenticationFailed", `${settings.username}: ${err.message}`)
    case "agent":
      return errorFor(settings, "AuthenticationFailed", `SSH agent: ${err.message}`)
    case "client-timeout":
      return errorFor(settings, "Timeout", err.message)
    default:
      return errorFor(settings, "ConnectionFailed", err.message, err)
  }
}

const connectOnce = (
  settings: Settings,
  auth: AuthMaterial,
  entries: ReadonlyArray<KnownHosts.Entry>,
  id: number
): Effect.Effect<Connected, SshError.SshError> =>
  Effect.callback<Connected, SshError.SshError>((resume) => {
    const inbound = new Inbound.Inbound()
    const socket = NodeNet.connect({ host: settings.host, port: settings.port, onread: inbound.onread })
    inbound.attach(socket)
    // Without it every command waits for the peer's 40 ms delayed ACK (48 ms vs 2.5 ms per command).
    socket.setNoDelay(true)
    const client = new ssh2.Client()
    const lost = Deferred.makeUnsafe<never, SshError.SshError>()
    let settled = false
    let decision: HostKeyDecision = { _tag: "Accept" }
    let cipher: string | undefined
    const settle = (effect: Effect.Effect<Connected, SshError.SshError>) => {
      if (settled) return false
      settled = true
      resume(effect)
      return true
    }
    const markLost = (description: string, cause?: unknown) =>
      Deferred.doneUnsafe(lost, Exit.fail(errorFor(settings, "ConnectionLost", description, cause)))
    client.on("error", (err) => {
      const hostKeyError = decision._tag === "Reject" ? decision.error : undefined
      if (settle(Effect.fail(hostKeyError ?? classifyConnectError(settings, err)))) {
        socket.destroy()
        return
      }
      markLost(err.message, err)
    })
    client.on("close", () => {
      const hostKeyError = decision._tag === "Reject" ? decision.error : undefined
      const error = hostKeyError ?? errorFor(settings, "ConnectionFailed", "connection closed by the server")
      if (settle(Effect.fail(error))) return
      markLost("connection closed")
    })
    client.on("handshake", (negotiated) => {
      cipher = negotiated.cs.cipher
    })
    client.once("ready", () => {
      PacketPool.install(client, socket)
      inbound.guard(client)
      settle(Effect.succeed({ live: { id, client, socket, lost }, decision, cipher }))
    })
    const config: ConnectConfig = {
      sock: socket,
      username: settings.username,
      // ssh2 calls this after key exchange and before authentication: a rejected key never sees a credential
      hostVerifier: (blob: Buffer): boolean => {
        decision = decideHostKey(settings, entries, blob)
        return decision._tag !== "Reject"
      },
      authHandler: makeAuthHandler(settings.username, auth),
      keepaliveInterval: settings.keepAliveInterval,
      keepaliveCountMax: settings.keepAliveCountMax,
      // the whole connect is bounded by connectTimeout instead
      readyTimeout: 0
    }
    const knownTypes = KnownHosts.keyTypesFor(entries, settings.host, settings.port)
    if (settings.hostKeyPolicy !== "accept-any" && knownTypes.length > 0) {
      const order = hostKeyAlgorithms(knownTypes)
      config.algorithms = { serverHostKey: order }
    }
    client.connect(config)
    return Effect.sync(() => {
      if (settle(Effect.interrupt)) {
        client.destroy()
        socket.destroy()
      }
    })
  })

const isRetryable = (e: SshError.SshError) => e.reason._tag === "ConnectionFailed" || e.reason._tag === "Timeout"

/** Ends a connection politely, waits (bounded) for the socket to close, then destroys it. */
const closeLive = (live: Live): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (live.socket.destroyed) {
      resume(Effect.void)
      return
    }
    live.socket.once("close", () => resume(Effect.void))
    live.client.end()
  }).pipe(
    Effect.timeoutOption("2 seconds"),
    Effect.ensuring(Effect.sync(() => live.socket.destroy())),
    Effect.asVoid
  )

// ---------------------------------------------------------------------------------------------- channels

/** A channel kind we can open: how to ask ssh2 for it and how to close it. */
export interface Opener<C extends EventEmitter> {
  readonly label: string
  readonly open: (client: Client, callback: (err: Error | undefined, channel: C) => void) => void
  readonly close: (channel: C) => void
}

/** The channel slots of one connection. */
export interface Limiter {
  readonly maxChannels: number
  readonly inUse: () => number
  readonly take: Effect.Effect<void, never, Scope.Scope>
}

type OpenFailure =
  | { readonly _tag: "Refused"; readonly description: string }
  /** The connection was found dead before anything was sent: reconnecting and opening again is safe. */
  | { readonly _tag: "Stale" }
  | { readonly _tag: "Failed"; readonly error: SshError.SshError }

/** The connection of one terminal, shared by its commands, SFTP channels and schedulers. */
export interface Connection {
  readonly settings: Settings
  /** The live connection, reconnecting (with backoff) if the last one was lost. */
  readonly get: Effect.Effect<Live, SshError.SshError>
  /** The live connection if there is one right now (no reconnect). */
  readonly current: () => Live | undefined
  readonly limiter: Limiter
  /**
   * Opens a channel holding one slot until the scope closes; the channel is closed (and its close
   * awaited) before the slot is given back. With `bypassLimit` no slot is taken (used to kill a
   * timed-out command while every slot is busy).
   */
  readonly openChannel: <C extends EventEmitter>(
    opener: Opener<C>,
    options?: { readonly bypassLimit?: boolean }
  ) => Effect.Effect<{ readonly channel: C; readonly live: Live }, SshError.SshError, Scope.Scope>
}

const isSocketWritable = (socket: NodeNet.Socket) => socket.writable && !socket.destroyed && !socket.readableEnded

const rawOpen = <C extends EventEmitter>(
  settings: Settings,
  live: Live,
  opener: Opener<C>
): Effect.Effect<C, OpenFailure> =>
  Effect.callback<C, OpenFailure>((resume) => {
    let abandoned = false
    const lostFailure = (description: string): OpenFailure => ({
      _tag: "Failed",
      error: errorFor(settings, "ConnectionLost", description)
    })
    if (Deferred.isDoneUnsafe(live.lost) || !isSocketWritable(live.socket)) {
      resume(Effect.fail({ _tag: "Stale" }))
      return
    }
    opener.open(live.client, (err, channel) => {
      if (abandoned) {
        if (err === undefined) opener.close(channel)
        return
      }
      if (err === undefined) {
        resume(Effect.succeed(channel))
      } else if ("reason" in err && typeof err.reason === "number") {
        // CHANNEL_OPEN_FAILURE: OpenSSH answers "open failed" (reason 2) when MaxSessions is reached
        resume(Effect.fail({ _tag: "Refused", description: err.message }))
      } else if (/^Unable to (exec|start subsystem)/.test(err.message)) {
        // the server opened the channel but refused to start the command (dropbear does when it
        // cannot fork under load): nothing ran, so this is retried like a refused open
        resume(Effect.fail({ _tag: "Refused", description: err.message }))
      } else if (Deferred.isDoneUnsafe(live.lost) || !isSocketWritable(live.socket)) {
        // ssh2 fails channel opens still waiting for their confirmation with exactly this message
        // when the socket closes; the request for the command (exec, subsystem) was never sent
        resume(Effect.fail(err.message === "No response from server" ? { _tag: "Stale" } : lostFailure(err.message)))
      } else {
        resume(Effect.fail({
          _tag: "Failed",
          error: errorFor(settings, "ConnectionFailed", `cannot open ${opener.label} channel: ${err.message}`, err)
        }))
      }
    })
    return Effect.sync(() => {
      abandoned = true
    })
  })

/** Waits (bounded) for a channel's "close" after asking for it. */
const closeChannel = <C extends EventEmitter>(
  opener: Opener<C>,
  channel: C,
  closed: Deferred.Deferred<void>
): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (Deferred.isDoneUnsafe(closed)) return Effect.void
    opener.close(channel)
    return Deferred.await(closed).pipe(Effect.timeoutOption("5 seconds"), Effect.asVoid)
  })

/**
 * Connects (no retries: a wrong host, key or password fails at once) and returns the managed
 * connection; the scope closes the connection.
 */
export const make = Effect.fnUntraced(function*(settings: Settings): Effect.fn.Return<
  Connection,
  SshError.SshError,
  Scope.Scope
> {
  const state: { current: Live | undefined; closed: boolean; connects: number } = {
    current: undefined,
    closed: false,
    connects: 0
  }
  const annotations = { host: settings.host, port: settings.port, user: settings.username }

  const connectNow: Effect.Effect<Live, SshError.SshError> = Effect.gen(function*() {
    const auth = yield* prepareAuth(settings)
    const entries = yield* loadKnownHosts(settings)
    const id = ++state.connects
    const connected = yield* connectOnce(settings, auth, entries, id).pipe(
      Effect.timeoutOrElse({
        duration: settings.connectTimeout,
        orElse: () =>
          Effect.fail(
            errorFor(settings, "Timeout", `no SSH session within ${Duration.format(settings.connectTimeout)}`)
          )
      })
    )
    const { decision, live } = connected
    if (decision._tag === "Record") {
      const file = settings.knownHostsFiles[0]!
      yield* KnownHosts.append(file, settings.host, settings.port, decision.keyType, decision.key).pipe(
        Effect.tap(() => Effect.logDebug(`recorded new ${decision.keyType} host key in ${file}`)),
        // OpenSSH goes on too when it cannot write known_hosts; the key was still checked by policy
        Effect.catch((e) => Effect.logWarning(`could not record the host key: ${e.message}`))
      )
    } else if (decision._tag === "Accept" && decision.note !== undefined) {
      yield* Effect.logWarning(`hostKeyPolicy accept-any: ${decision.note}`)
    }
    yield* Effect.logDebug(`connected (connection ${id}, cipher ${connected.cipher ?? "?"})`)
    return live
  }).pipe(Effect.annotateLogs(annotations))

  const mutex = yield* Semaphore.make(1)
  const isUsable = (live: Live | undefined): live is Live => live !== undefined && !Deferred.isDoneUnsafe(live.lost)

  const reconnect = Effect.suspend(() => {
    if (isUsable(state.current)) return Effect.succeed(state.current)
    if (state.closed) {
      return Effect.fail(errorFor(settings, "ConnectionFailed", "the terminal is closed"))
    }
    const previous = state.current
    state.current = undefined
    return Effect.gen(function*() {
      if (previous !== undefined) {
        yield* closeLive(previous)
        yield* Effect.logDebug("connection was lost; reconnecting")
      }
      const live = yield* Effect.retry(connectNow, {
        schedule: Schedule.exponential(settings.reconnectDelay),
        times: settings.reconnectAttempts,
        while: isRetryable
      })
      state.current = live
      return live
    }).pipe(Effect.annotateLogs(annotations))
  })

  const get: Effect.Effect<Live, SshError.SshError> = Effect.suspend(() =>
    isUsable(state.current) ? Effect.succeed(state.current) : mutex.withPermit(reconnect)
  )

  state.current = yield* connectNow
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() => {
      state.closed = true
      const live = state.current
      return live === undefined ? Effect.void : closeLive(live)
    }).pipe(Effect.tap(() => Effect.logDebug("disconnected")), Effect.annotateLogs(annotations))
  )

  // channel slots
  const semaphore = yield* Semaphore.make(settings.maxChannels)
  let inUse = 0
  const take: Effect.Effect<void, never, Scope.Scope> = Effect.gen(function*() {
    yield* semaphore.takeScoped(1)
    inUse++
    yield* Effect.addFinalizer(() => Effect.sync(() => inUse--))
  })
  const limiter: Limiter = { maxChannels: settings.maxChannels, inUse: () => inUse, take }

  // completed (and replaced) whenever one of our channels closes: a refused open waits for it
  let channelClosed = Deferred.makeUnsafe<void>()
  let openChannels = 0
  const notifyClosed = () => {
    const done = channelClosed
    channelClosed = Deferred.makeUnsafe<void>()
    Deferred.doneUnsafe(done, Exit.void)
  }

  const openChannelIn = <C extends EventEmitter>(opener: Opener<C>, options?: { readonly bypassLimit?: boolean }) =>
    Effect.gen(function*() {
      if (options?.bypassLimit !== true) yield* take
      let refusals = 0
      while (true) {
        const live = yield* get
        const closedSignal = channelClosed
        const result = yield* Effect.result(rawOpen(settings, live, opener))
        if (Result.isSuccess(result)) {
          const channel = result.success
          const closed = Deferred.makeUnsafe<void>()
          openChannels++
          channel.once("close", () => {
            openChannels--
            Deferred.doneUnsafe(closed, Exit.void)
            notifyClosed()
          })
          // an "error" without a listener would crash the process
          channel.on("error", () => {})
          yield* Effect.addFinalizer(() => closeChannel(opener, channel, closed))
          return { channel, live }
        }
        const failure = result.failure
        if (failure._tag === "Failed") return yield* failure.error
        if (failure._tag === "Stale") {
          // dead before its "close" event was seen: mark it, so `get` reconnects
          Deferred.doneUnsafe(live.lost, Exit.fail(errorFor(settings, "ConnectionLost", "connection closed")))
          continue
        }
        // The server's session limit (sshd MaxSessions) is lower than ours, or a session whose
        // command outlived its channel still counts: wait for one of ours to close, then retry.
        refusals++
        if (openChannels === 0 && refusals > 20) {
          const description = `the server refuses new channels: ${failure.description}`
          return yield* errorFor(settings, "ConnectionFailed", description)
        }
        if (refusals === 1) {
          yield* Effect.logDebug(`channel refused (${failure.description}); waiting for a free session`)
        }
        yield* Effect.raceFirst(
          Deferred.await(closedSignal),
          Effect.sleep(Duration.millis(Math.min(1000, 25 * 2 ** Math.min(refusals, 6))))
        )
      }
    })

  // The slot and the channel live in a child scope of the caller's: a failed or interrupted open gives
  // the slot back at once instead of when the caller's (possibly long-lived) scope closes.
  const openChannel = <C extends EventEmitter>(opener: Opener<C>, options?: { readonly bypassLimit?: boolean }) =>
    Effect.gen(function*() {
      const child = yield* Scope.fork(yield* Effect.scope)
      return yield* openChannelIn(opener, options).pipe(
        Scope.provide(child),
        Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Scope.close(child, exit))
      )
    })

  return {
    settings,
    get,
    current: () => (isUsable(state.current) ? state.current : undefined),
    limiter,
    openChannel
  } satisfies Connection
})
