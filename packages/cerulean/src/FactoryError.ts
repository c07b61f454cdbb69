/**
 * The error of the factories (`makeFileSystem`, `makeTerminal`,
 * `makeScheduler`, `makePath`) when what they were asked for cannot be
 * built: an unknown protocol, a missing or unreadable location, a missing
 * credential. Failures of the connection itself keep their own errors
 * (`SshError`, `FileSystemError`).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The protocol or scheduler name is not one the factory knows.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownProtocol extends Schema.TaggedError<UnknownProtocol>()("UnknownProtocol", {
  /** What was asked for. */
  protocol: Schema.String,
  /** What the factory accepts. */
  known: Schema.Array(Schema.String)
}) {
  override get message() {
    return `unknown ${JSON.stringify(this.protocol)} (expected ${this.known.join(", ")})`
  }
}

/**
 * The protocol needs a location (host, URL) and none was given.
 *
 * @since 0.1.0
 * @category errors
 */
export class MissingLocation extends Schema.TaggedError<MissingLocation>()("MissingLocation", {
  protocol: Schema.String,
  /** What the location should look like. */
  expected: Schema.String
}) {
  override get message() {
    return `${this.protocol} needs a location (${this.expected})`
  }
}

/**
 * The protocol needs a credential and none was given.
 *
 * @since 0.1.0
 * @category errors
 */
export class MissingCredential extends Schema.TaggedError<MissingCredential>()("MissingCredential", {
  protocol: Schema.String,
  location: Schema.String
}) {
  override get message() {
    return `${this.protocol} to ${this.location} needs a credential (password, key file or agent)`
  }
}

/**
 * The location could not be understood.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidLocation extends Schema.TaggedError<InvalidLocation>()("InvalidLocation", {
  /** The location as given. */
  input: Schema.String,
  description: Schema.String
}) {
  override get message() {
    return `invalid location ${JSON.stringify(this.input)}: ${this.description}`
  }
}

/**
 * The credential cannot be used with this protocol (an SSH key for WebDAV).
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedCredential extends Schema.TaggedError<UnsupportedCredential>()("UnsupportedCredential", {
  protocol: Schema.String,
  credential: Schema.String
}) {
  override get message() {
    return `${this.protocol} cannot use a ${this.credential}`
  }
}

/**
 * The error of the factories.
 *
 * @since 0.1.0
 * @category errors
 */
export class FactoryError extends Schema.TaggedError<FactoryError>()("FactoryError", {
  reason: Schema.Union([UnknownProtocol, MissingLocation, MissingCredential, InvalidLocation, UnsupportedCredential])
}) {
  override get message(): string {
    return this.reason.message
  }
}
