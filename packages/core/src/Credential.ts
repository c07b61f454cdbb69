/**
 * Credentials for remote machines. Secrets are `Redacted`: they print as
 * `<redacted>` in logs, errors and `JSON.stringify`, and are unwrapped only
 * at the moment they are handed to the SSH or HTTP client.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Redacted from "effect/Redacted"

const redact = (value: string | Redacted.Redacted<string>): Redacted.Redacted<string> =>
  Redacted.isRedacted(value) ? value : Redacted.make(value)

/**
 * A user name and password (SSH password or keyboard-interactive, WebDAV Basic auth).
 *
 * @example
 * ```ts
 * import { PasswordCredential } from "@cerulean/core"
 * const credential = new PasswordCredential({ username: "cerulean", password: "kingfisher" })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class PasswordCredential extends Data.TaggedClass("PasswordCredential")<{
  readonly username: string
  readonly password: Redacted.Redacted<string>
}> {
  constructor(args: { readonly username: string; readonly password: string | Redacted.Redacted<string> }) {
    super({ username: args.username, password: redact(args.password) })
  }
}

/**
 * A user name and a private key file. As in Cerulean, `publicKey` is the
 * path of the *private* key file on the local machine (OpenSSH or PEM; RSA,
 * ECDSA or Ed25519), optionally protected by `passphrase`.
 *
 * @since 0.1.0
 * @category models
 */
export class PubKeyCredential extends Data.TaggedClass("PubKeyCredential")<{
  readonly username: string
  readonly publicKey: string
  readonly passphrase: Redacted.Redacted<string> | undefined
}> {
  constructor(args: {
    readonly username: string
    readonly publicKey: string
    readonly passphrase?: string | Redacted.Redacted<string> | undefined
  }) {
    super({
      username: args.username,
      publicKey: args.publicKey,
      passphrase: args.passphrase === undefined ? undefined : redact(args.passphrase)
    })
  }
}

/**
 * A user name and an SSH agent; `socket` defaults to `$SSH_AUTH_SOCK`.
 *
 * @since 0.1.0
 * @category models
 */
export class AgentCredential extends Data.TaggedClass("AgentCredential")<{
  readonly username: string
  readonly socket: string | undefined
}> {
  constructor(args: { readonly username: string; readonly socket?: string | undefined }) {
    super({ username: args.username, socket: args.socket })
  }
}

/**
 * Any credential.
 *
 * @since 0.1.0
 * @category models
 */
export type Credential = PasswordCredential | PubKeyCredential | AgentCredential
