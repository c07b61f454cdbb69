/**
 * Cerulean's factories: build a file system, a terminal or a scheduler from
 * a protocol name and a location, as `make_file_system`, `make_terminal` and
 * `make_scheduler` do in Python, or from a URL (`sftp://user@host:2222/path`,
 * `ssh://user@host`, `webdav+https://host/base`, `file:///path`, a plain
 * path). Each returns a scoped `Effect`: the connection it opens is closed
 * when the scope closes.
 *
 * Differences from the Python factories (all fixes):
 * - `host:port` locations accept IPv6 literals (`[::1]:2222`, `::1`);
 * - WebDAV's CA file and `unsupportedMethodsRaise` can be given;
 * - SSH host keys are checked against known_hosts (strict by default);
 * - an unknown protocol or a missing location is a typed `FactoryError`, not a `ValueError`.
 *
 * @since 0.1.0
 */
import type { Credential } from "@cerulean/core"
import { LocalFileSystem, LocalTerminal, type Path } from "@cerulean/core"
import type * as FileSystem from "@cerulean/core/FileSystem"
import type * as FileSystemError from "@cerulean/core/FileSystemError"
import type { Scheduler } from "@cerulean/core/Scheduler"
import type { Terminal } from "@cerulean/core/Terminal"
import { SftpFileSystem, type SftpFileSystemOptions } from "@cerulean/ssh/SftpFileSystem"
import type { SshError } from "@cerulean/ssh/SshError"
import { SshTerminal, type SshTerminalOptions, type SshTerminalShape } from "@cerulean/ssh/SshTerminal"
import { WebdavFileSystem } from "@cerulean/webdav/WebdavFileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as NodePath from "node:path"
import {
  FactoryError,
  InvalidLocation,
  MissingCredential,
  MissingLocation,
  UnknownProtocol,
  UnsupportedCredential
} from "./FactoryError.ts"
import * as Location from "./Location.ts"
import * as Schedulers from "./internal/schedulers.ts"

/**
 * How to connect over SSH, beyond host, port and credential (see `SshTerminalOptions`).
 *
 * @since 0.1.0
 * @category models
 */
export type SshOptions = Omit<SshTerminalOptions, "host" | "port" | "credential">

/**
 * Options of {@link makeTerminal}.
 *
 * @since 0.1.0
 * @category models
 */
export interface TerminalOptions extends SshOptions {}

/**
 * Options of {@link makeFileSystem} and {@link makePath}.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileSystemOptions extends SshOptions {
  /** SFTP tuning (request size, channels). */
  readonly sftp?: SftpFileSystemOptions | undefined
  /** WebDAV over https: a PEM file with the CA certificate(s) to trust instead of the system's. */
  readonly hostCaCertFile?: string | undefined
  /** WebDAV: whether `chmod`, `symlinkTo`, ... fail with `Unsupported` (default `true`) or do nothing. */
  readonly unsupportedMethodsRaise?: boolean | undefined
  /**
   * WebDAV URLs given to {@link makePath}: the part of the URL path that is
   * the server's WebDAV root (e.g. `/files`). Without it, the shortest
   * leading part of the path that the server answers as a collection is used.
   */
  readonly webdavBase?: string | undefined
}

/**
 * The protocols {@link makeFileSystem} knows.
 *
 * @since 0.1.0
 * @category constants
 */
export const fileSystemProtocols: ReadonlyArray<string> = ["local", "sftp", "webdav"]

/**
 * The protocols {@link makeTerminal} knows.
 *
 * @since 0.1.0
 * @category constants
 */
export const terminalProtocols: ReadonlyArray<string> = ["local", "ssh"]

/**
 * The scheduler names {@link makeScheduler} knows.
 *
 * @since 0.1.0
 * @category constants
 */
export const schedulerNames: ReadonlyArray<string> = Schedulers.names

const fail = (reason: FactoryError["reason"]) => Effect.fail(new FactoryError({ reason }))

const invalid = (input: string, description: string) => fail(new InvalidLocation({ input, description }))

const fromLocationError = (e: Location.LocationError) => invalid(e.input, e.description)

const isUrl = (text: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(text)

const describeCredential = (credential: Credential) => credential._tag

// Built in the caller's scope, so whatever the layers hold lives as long as the file system or terminal.
const localFileSystem: Effect.Effect<FileSystem.FileSystem, never, Scope.Scope> = Effect.map(
  Layer.build(LocalFileSystem.layer),
  (context) => Context.get(context, LocalFileSystem)
)

const localTerminal: Effect.Effect<Terminal, never, Scope.Scope> = Effect.map(
  Layer.build(LocalTerminal.layer),
  (context) => Context.get(context, LocalTerminal)
)

/** Checks that the user named in a URL (if any) is the credential's. */
const checkUser = (input: string, urlUser: string | undefined, credential: Credential) =>
  urlUser !== undefined && urlUser !== credential.username
    ? invalid(input, `the URL names user ${JSON.stringify(urlUser)} but the credential is for ${
      JSON.stringify(credential.username)
    }`)
    : Effect.void

const sshTerminal = (
  input: string,
  host: string,
  port: number,
  urlUser: string | undefined,
  credential: Credential | undefined,
  options: SshOptions
): Effect.Effect<SshTerminalShape, FactoryError | SshError, Scope.Scope> =>
  Effect.gen(function*() {
    if (credential === undefined) {
      return yield* fail(new MissingCredential({ protocol: "ssh", location: input }))
    }
    yield* checkUser(input, urlUser, credential)
    return yield* SshTerminal.make({ ...options, host, port, credential })
  })

/**
 * An SFTP file system on a terminal's connection, the terminal staying open
 * as long as the file system (Cerulean's `SftpFileSystem(term, own_term=True)`).
 */
const sftpOn = (
  terminal: SshTerminalShape,
  options: SftpFileSystemOptions | undefined
): Effect.Effect<FileSystem.FileSystem, FileSystemError.FileSystemError, Scope.Scope> =>
  SftpFileSystem.make(terminal, options)

const webdavFileSystem = (
  input: string,
  url: string,
  credential: Credential | undefined,
  options: FileSystemOptions
): Effect.Effect<FileSystem.FileSystem, FactoryError | FileSystemError.FileSystemError, Scope.Scope> =>
  Effect.gen(function*() {
    if (credential !== undefined && credential._tag !== "PasswordCredential") {
      return yield* fail(
        new UnsupportedCredential({ protocol: "webdav", credential: describeCredential(credential) })
      )
    }
    if (!/^https?:\/\//i.test(url)) {
      return yield* invalid(input, "a WebDAV location is an http:// or https:// URL")
    }
    return yield* WebdavFileSystem.make({
      url,
      credential,
      hostCaCertFile: options.hostCaCertFile,
      unsupportedMethodsRaise: options.unsupportedMethodsRaise
    })
  })

/** `webdav+https://host/base` or `https://host/base` as the `https://host/base` WebDAV expects. */
const webdavUrl = (location: string): string => location.replace(/^webdav\+/i, "")

const sshOptionsOf = (options: SshOptions): SshOptions => {
  const { connectTimeout, hostKeyPolicy, keepAlive, knownHosts, maxChannels, reconnect } = options
  return { connectTimeout, hostKeyPolicy, keepAlive, knownHosts, maxChannels, reconnect }
}

const fileSystemFromUrl = (
  input: string,
  location: Location.Location,
  credential: Credential | undefined,
  options: FileSystemOptions
): Effect.Effect<FileSystem.FileSystem, FactoryError | SshError | FileSystemError.FileSystemError, Scope.Scope> => {
  switch (location._tag) {
    case "Local":
      return localFileSystem
    case "Ssh":
      return Effect.flatMap(
        sshTerminal(input, location.host, location.port, location.username, credential, sshOptionsOf(options)),
        (terminal) => sftpOn(terminal, options.sftp)
      )
    case "Webdav":
      return Effect.gen(function*() {
        if (credential !== undefined) yield* checkUser(input, location.username, credential)
        return yield* webdavFileSystem(input, location.origin + location.path, credential, options)
      })
  }
}

/**
 * Builds a file system, as Cerulean's `make_file_system`:
 *
 * - `makeFileSystem("local")`;
 * - `makeFileSystem("sftp", "host[:port]", credential, options?)` (IPv6:
 *   `"[::1]:2222"`); the SSH connection is opened for the file system and
 *   closed with it;
 * - `makeFileSystem("webdav", "https://host/base", credential?, options?)`,
 *   with `options.hostCaCertFile` and `options.unsupportedMethodsRaise`;
 * - or a URL in place of protocol and location:
 *   `makeFileSystem("sftp://user@host:2222", undefined, credential)`,
 *   `makeFileSystem("webdav+https://host/base")`, `makeFileSystem("file:///")`.
 *   The file system of an `sftp://` URL is rooted at `/` whatever the URL's
 *   path; a WebDAV URL's whole path is the server base (see {@link makePath}
 *   for a URL that names a file).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { makeFileSystem, PasswordCredential } from "cerulean"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const credential = new PasswordCredential({ username: "cerulean", password: "kingfisher" })
 *   const fs = yield* makeFileSystem("sftp", "[::1]:2222", credential)
 *   return yield* fs.path("home", "cerulean").isDir()
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFileSystem = (
  protocol: string,
  location?: string | undefined,
  credential?: Credential | undefined,
  options: FileSystemOptions = {}
): Effect.Effect<FileSystem.FileSystem, FactoryError | SshError | FileSystemError.FileSystemError, Scope.Scope> =>
  Effect.gen(function*() {
    if (isUrl(protocol) || protocol.startsWith("/")) {
      if (location !== undefined) {
        return yield* invalid(protocol, "give either a URL, or a protocol and a location, not both")
      }
      const parsed = Location.parse(protocol)
      if (parsed instanceof Location.LocationError) return yield* fromLocationError(parsed)
      return yield* fileSystemFromUrl(protocol, parsed, credential, options)
    }
    switch (protocol) {
      case "local":
        return yield* localFileSystem
      case "sftp": {
        if (location === undefined) {
          return yield* fail(new MissingLocation({ protocol, expected: "host, host:port or [IPv6]:port" }))
        }
        const hostPort = Location.parseHostPort(location, 22)
        if (hostPort instanceof Location.LocationError) return yield* fromLocationError(hostPort)
        const ssh = sshOptionsOf(options)
        const terminal = yield* sshTerminal(location, hostPort.host, hostPort.port, undefined, credential, ssh)
        return yield* sftpOn(terminal, options.sftp)
      }
      case "webdav": {
        if (location === undefined) {
          return yield* fail(new MissingLocation({ protocol, expected: "the server URL, https://host/base" }))
        }
        return yield* webdavFileSystem(location, webdavUrl(location), credential, options)
      }
      default:
        return yield* fail(new UnknownProtocol({ protocol, known: fileSystemProtocols }))
    }
  }).pipe(Effect.withSpan("Factory.makeFileSystem", { attributes: { protocol } }))

/**
 * Builds a terminal, as Cerulean's `make_terminal`:
 *
 * - `makeTerminal("local")`;
 * - `makeTerminal("ssh", "host[:port]", credential, options?)`, with
 *   `options.knownHosts` and `options.hostKeyPolicy` (strict by default);
 * - or `makeTerminal("ssh://user@host:port", undefined, credential, options?)`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeTerminal = (
  protocol: string,
  location?: string | undefined,
  credential?: Credential | undefined,
  options: TerminalOptions = {}
): Effect.Effect<Terminal, FactoryError | SshError, Scope.Scope> =>
  Effect.gen(function*() {
    if (isUrl(protocol)) {
      if (location !== undefined) {
        return yield* invalid(protocol, "give either a URL, or a protocol and a location, not both")
      }
      const parsed = Location.parse(protocol)
      if (parsed instanceof Location.LocationError) return yield* fromLocationError(parsed)
      switch (parsed._tag) {
        case "Local":
          return yield* localTerminal
        case "Ssh":
          return yield* sshTerminal(
            protocol,
            parsed.host,
            parsed.port,
            parsed.username,
            credential,
            sshOptionsOf(options)
          )
        case "Webdav":
          return yield* invalid(protocol, "WebDAV has no terminal; use ssh://user@host[:port]")
      }
    }
    switch (protocol) {
      case "local":
        return yield* localTerminal
      case "ssh": {
        if (location === undefined) {
          return yield* fail(new MissingLocation({ protocol, expected: "host, host:port or [IPv6]:port" }))
        }
        const hostPort = Location.parseHostPort(location, 22)
        if (hostPort instanceof Location.LocationError) return yield* fromLocationError(hostPort)
        return yield* sshTerminal(location, hostPort.host, hostPort.port, undefined, credential, sshOptionsOf(options))
      }
      default:
        return yield* fail(new UnknownProtocol({ protocol, known: terminalProtocols }))
    }
  }).pipe(Effect.withSpan("Factory.makeTerminal", { attributes: { protocol } }))

/**
 * An SFTP file system on an existing SSH terminal's connection (the
 * terminal is shared, not owned: it stays open as long as its own scope).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSftpFileSystem = (
  terminal: SshTerminalShape,
  options?: SftpFileSystemOptions
): Effect.Effect<FileSystem.FileSystem, FileSystemError.FileSystemError, Scope.Scope> =>
  sftpOn(terminal, options).pipe(Effect.withSpan("Factory.makeSftpFileSystem"))

/**
 * Builds a scheduler on a terminal, as Cerulean's `make_scheduler`:
 * `"directgnu"`, `"slurm"` or `"torque"`. `prefix` is shell text run before
 * each scheduler command (e.g. `"module load slurm;"`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeScheduler = (
  name: string,
  terminal: Terminal,
  prefix: string = ""
): Effect.Effect<Scheduler, FactoryError, Scope.Scope> =>
  Effect.gen(function*() {
    const make = Schedulers.byName(name)
    if (make === undefined) return yield* fail(new UnknownProtocol({ protocol: name, known: schedulerNames }))
    return yield* make(terminal, prefix)
  }).pipe(Effect.withSpan("Factory.makeScheduler", { attributes: { name } }))

const webdavBases = (path: string): ReadonlyArray<string> => {
  const segments = path.split("/").filter((s) => s !== "")
  return ["/", ...segments.map((_, i) => "/" + segments.slice(0, i + 1).join("/"))]
}

const relativeTo = (base: string, path: string): string => {
  if (base === "/") return path
  const rest = path.slice(base.length)
  return rest === "" ? "/" : rest
}

/** Whether a failure to open a WebDAV base means "not the base, try deeper" rather than a real failure. */
const notABase = (e: FactoryError | FileSystemError.FileSystemError) =>
  e._tag === "FileSystemError" &&
  (e.reason._tag === "NotFound" || e.reason._tag === "NotADirectory" || e.reason._tag === "Unsupported")

const webdavPath = (
  input: string,
  location: Extract<Location.Location, { _tag: "Webdav" }>,
  credential: Credential | undefined,
  options: FileSystemOptions
): Effect.Effect<Path, FactoryError | FileSystemError.FileSystemError, Scope.Scope> =>
  Effect.gen(function*() {
    if (credential !== undefined) yield* checkUser(input, location.username, credential)
    const open = (base: string) =>
      Effect.map(
        webdavFileSystem(input, location.origin + (base === "/" ? "/" : base), credential, options),
        (fs) => fs.path(relativeTo(base, location.path))
      )
    if (options.webdavBase !== undefined) {
      const base = "/" + options.webdavBase.split("/").filter((s) => s !== "").join("/")
      if (base !== "/" && location.path !== base && !location.path.startsWith(base + "/")) {
        return yield* invalid(input, `the path does not start with the WebDAV base ${base}`)
      }
      return yield* open(base)
    }
    const candidates = webdavBases(location.path)
    // A server may refuse a level above its WebDAV area (Apache answers 403 at "/"), so every level is tried;
    // if none is a collection, the most telling failure (a refusal over a mere "not here") is reported.
    let telling: FileSystemError.FileSystemError | undefined
    let last: FileSystemError.FileSystemError | undefined
    for (const base of candidates) {
      const attempt = yield* Effect.result(open(base))
      if (attempt._tag === "Success") return attempt.success
      if (attempt.failure._tag === "FactoryError") return yield* Effect.fail(attempt.failure)
      last = attempt.failure
      if (telling === undefined && !notABase(attempt.failure)) telling = attempt.failure
    }
    if (telling !== undefined) return yield* Effect.fail(telling)
    return yield* invalid(
      input,
      `no WebDAV collection found on the way to ${location.path}${last ? ` (${last.message})` : ""}; ` +
        "give the server's base path (--webdav-base)"
    )
  })

/**
 * The `Path` a URL or a local path names, on a file system opened for it
 * (and closed with the scope): `sftp://user@host:2222/home/user/data`,
 * `webdav+https://host/files/data.txt`, `file:///tmp/x`, `./relative`. A
 * relative local path is resolved against the current directory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePath = (
  url: string,
  credential?: Credential | undefined,
  options: FileSystemOptions = {}
): Effect.Effect<Path, FactoryError | SshError | FileSystemError.FileSystemError, Scope.Scope> =>
  Effect.gen(function*() {
    const parsed = Location.parse(url)
    if (parsed instanceof Location.LocationError) return yield* fromLocationError(parsed)
    switch (parsed._tag) {
      case "Local": {
        const fs = yield* localFileSystem
        return fs.path(NodePath.resolve(parsed.path))
      }
      case "Ssh": {
        const fs = yield* fileSystemFromUrl(url, parsed, credential, options)
        return fs.path(parsed.path)
      }
      case "Webdav":
        return yield* webdavPath(url, parsed, credential, options)
    }
  }).pipe(Effect.withSpan("Factory.makePath"))
