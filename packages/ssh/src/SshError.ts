/**
 * The one error an SSH connection fails with. Its `reason` says what went
 * wrong (Effect's reason pattern) and every reason names the host and port, so
 * `Effect.catchReason("SshError", "HostKeyMismatch", ...)` handles one case
 * and lets the others through. No reason ever carries a password, passphrase
 * or key material: only host, port, key fingerprints and descriptions.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

const reasonFields = {
  /** The host as given in the options. */
  host: Schema.String,
  /** The TCP port. */
  port: Schema.Number,
  /** What happened, in words (never a secret). */
  description: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect())
}

const hostKeyFields = {
  ...reasonFields,
  /** The server's host key type, e.g. `ssh-ed25519`. */
  keyType: Schema.String,
  /** The server's host key fingerprint, `SHA256:...` as `ssh-keygen -l` prints it. */
  fingerprint: Schema.String,
  /** The known_hosts files that were consulted. */
  knownHostsFiles: Schema.Array(Schema.String)
}

const describe = (tag: string, r: { host: string; port: number; description?: string | undefined }) =>
  `${tag}: ${r.host.includes(":") ? `[${r.host}]` : r.host}:${r.port}${r.description ? `: ${r.description}` : ""}`

/**
 * The server's host key is not in known_hosts (policy `strict`), so the
 * connection was refused before any credential was sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class HostKeyUnknown extends Schema.TaggedError<HostKeyUnknown>()("HostKeyUnknown", hostKeyFields) {
  override get message() {
    return `${describe(this._tag, this)} (${this.keyType} ${this.fingerprint})`
  }
}

/**
 * known_hosts holds a different key for this host (or the key is marked
 * `@revoked`). Possibly a man-in-the-middle: the connection was refused
 * before any credential was sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class HostKeyMismatch extends Schema.TaggedError<HostKeyMismatch>()("HostKeyMismatch", hostKeyFields) {
  override get message() {
    return `${describe(this._tag, this)} (${this.keyType} ${this.fingerprint})`
  }
}

/**
 * The server refused the credential, or the credential could not be used
 * (unreadable key file, wrong passphrase, no agent).
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthenticationFailed
  extends Schema.TaggedError<AuthenticationFailed>()("AuthenticationFailed", reasonFields)
{
  override get message() {
    return describe(this._tag, this)
  }
}

/**
 * No SSH session could be set up: the TCP connection was refused or reset,
 * the name did not resolve, the SSH handshake failed, or the server refused
 * to open a channel.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionFailed extends Schema.TaggedError<ConnectionFailed>()("ConnectionFailed", reasonFields) {
  override get message() {
    return describe(this._tag, this)
  }
}

/**
 * An established connection dropped (the server went away, the keepalive got
 * no answer). Work in flight on it fails with this reason; nothing is re-run.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionLost extends Schema.TaggedError<ConnectionLost>()("ConnectionLost", reasonFields) {
  override get message() {
    return describe(this._tag, this)
  }
}

/**
 * Connecting (TCP, handshake and authentication together) took longer than
 * `connectTimeout`.
 *
 * @since 0.1.0
 * @category errors
 */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", reasonFields) {
  override get message() {
    return describe(this._tag, this)
  }
}

/**
 * All reasons an SSH connection can fail for.
 *
 * @since 0.1.0
 * @category models
 */
export const SshErrorReason = Schema.Union([
  HostKeyUnknown,
  HostKeyMismatch,
  AuthenticationFailed,
  ConnectionFailed,
  ConnectionLost,
  Timeout
])

/**
 * All reasons an SSH connection can fail for.
 *
 * @since 0.1.0
 * @category models
 */
export type SshErrorReason = typeof SshErrorReason.Type

/**
 * The tags of {@link SshErrorReason}.
 *
 * @since 0.1.0
 * @category models
 */
export type ReasonTag = SshErrorReason["_tag"]

/**
 * The error of connecting to an SSH server and of keeping the connection.
 *
 * @since 0.1.0
 * @category errors
 */
export class SshError extends Schema.TaggedError<SshError>()("SshError", {
  reason: SshErrorReason
}) {
  /** The host the connection was for. */
  get host(): string {
    return this.reason.host
  }
  /** The port the connection was for. */
  get port(): number {
    return this.reason.port
  }
  override get message(): string {
    return this.reason.message
  }
}

const constructors = {
  AuthenticationFailed,
  ConnectionFailed,
  ConnectionLost,
  Timeout
} as const

/**
 * Builds an {@link SshError} for a reason that carries no host key.
 *
 * @example
 * ```ts
 * import * as SshError from "@cerulean/ssh/SshError"
 * SshError.make("ConnectionFailed", { host: "example.org", port: 22, description: "connection refused" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  tag: keyof typeof constructors,
  fields: { host: string; port: number; description?: string | undefined; cause?: unknown }
): SshError => {
  const Reason = constructors[tag]
  const { description, cause, host, port } = fields
  return new SshError({
    reason: new Reason({
      host,
      port,
      ...(description !== undefined ? { description } : {}),
      ...(cause !== undefined ? { cause } : {})
    })
  })
}

/**
 * Whether `u` is an {@link SshError} with the given reason.
 *
 * @since 0.1.0
 * @category guards
 */
export const hasReason = (u: unknown, tag: ReasonTag): u is SshError => u instanceof SshError && u.reason._tag === tag
