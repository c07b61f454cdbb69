/**
 * How the `cerulean` command reaches what a location names: credentials
 * (agent, `~/.ssh` keys, `--identity`, a password from an environment
 * variable or a prompt), host keys (known_hosts, strict unless told
 * otherwise), and the file system, terminal or scheduler itself.
 */
import { AgentCredential, type Credential, PasswordCredential, PubKeyCredential } from "@cerulean/core/Credential"
import type { FileSystemError } from "@cerulean/core/FileSystemError"
import type { Path } from "@cerulean/core/Path"
import type { Scheduler } from "@cerulean/core/Scheduler"
import type { Terminal } from "@cerulean/core/Terminal"
import type { SshError } from "@cerulean/ssh/SshError"
import { SshTerminal, type SshTerminalShape } from "@cerulean/ssh/SshTerminal"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as Factory from "../../Factory.ts"
import type { FactoryError } from "../../FactoryError.ts"
import * as Location from "../../Location.ts"
import * as Schedulers from "../schedulers.ts"
import { CliFailure, usageExitCode } from "./errors.ts"

/** The connection flags every command takes. */
export interface ConnectOptions {
  /** Private key file (`--identity`). */
  readonly identity: string | undefined
  /** Environment variable holding the password (`--password-env`). */
  readonly passwordEnv: string | undefined
  /** Environment variable holding the key passphrase (`--passphrase-env`). */
  readonly passphraseEnv: string | undefined
  /** `--host-key-policy`. */
  readonly hostKeyPolicy: "strict" | "accept-new" | "accept-any"
  /** `--known-hosts`. */
  readonly knownHosts: string | undefined
  /** `--ca-file` (WebDAV over https). */
  readonly caFile: string | undefined
  /** `--webdav-base`. */
  readonly webdavBase: string | undefined
  /** `--connect-timeout` in seconds. */
  readonly connectTimeout: number | undefined
}

/** What the process environment offers; a parameter so tests can pass their own. */
export interface Environment {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly home: string
  readonly user: string
  /** Whether a password may be asked for on the terminal. */
  readonly interactive: boolean
  /** Asks for a password (only called when `interactive`). */
  readonly askPassword: (prompt: string) => Effect.Effect<Redacted.Redacted<string>, CliFailure>
}

/** The process's own environment. */
export const processEnvironment = (
  askPassword: Environment["askPassword"]
): Environment => ({
  env: process.env,
  home: NodeOs.homedir(),
  user: process.env.USER ?? process.env.LOGNAME ?? NodeOs.userInfo().username,
  interactive: process.stdin.isTTY === true && process.stderr.isTTY === true,
  askPassword
})

/** One way to log in, tried in order until the server accepts one. */
export type Candidate =
  | { readonly _tag: "Credential"; readonly label: string; readonly credential: Credential }
  | { readonly _tag: "Prompt"; readonly label: string }

const defaultKeys = ["id_ed25519", "id_ecdsa", "id_rsa"] as const

const fromEnv = (environment: Environment, name: string, flag: string) =>
  Effect.suspend(() => {
    const value = environment.env[name]
    return value === undefined
      ? Effect.fail(
        new CliFailure({
          what: `${flag} ${name}: the environment variable ${name} is not set`,
          hint: `export ${name}=... first (the value is never printed)`,
          exitCode: usageExitCode
        })
      )
      : Effect.succeed(value)
  })

/**
 * The credentials to try for `username`, in the order ssh(1) tries them:
 * an explicit `--password-env` or `--identity` alone; otherwise the agent,
 * then `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`, then a password prompt
 * on a terminal.
 */
export const candidates = (
  username: string,
  options: ConnectOptions,
  environment: Environment
): Effect.Effect<ReadonlyArray<Candidate>, CliFailure> =>
  Effect.gen(function*() {
    const passphrase = options.passphraseEnv === undefined
      ? undefined
      : Redacted.make(yield* fromEnv(environment, options.passphraseEnv, "--passphrase-env"))
    if (options.passwordEnv !== undefined) {
      const password = yield* fromEnv(environment, options.passwordEnv, "--password-env")
      return [{
        _tag: "Credential",
        label: `password from $${options.passwordEnv}`,
        credential: new PasswordCredential({ username, password })
      }]
    }
    if (options.identity !== undefined) {
      const file = NodePath.resolve(options.identity)
      if (!NodeFs.existsSync(file)) {
        return yield* new CliFailure({
          what: `--identity ${options.identity}: no such file`,
          hint: "give the path of your private key file, e.g. ~/.ssh/id_ed25519",
          exitCode: usageExitCode
        })
      }
      return [{
        _tag: "Credential",
        label: `key ${file}`,
        credential: new PubKeyCredential({ username, publicKey: file, passphrase })
      }]
    }
    const list: Array<Candidate> = []
    const socket = environment.env.SSH_AUTH_SOCK
    if (socket !== undefined && socket !== "") {
      list.push({ _tag: "Credential", label: "ssh-agent", credential: new AgentCredential({ username, socket }) })
    }
    for (const name of defaultKeys) {
      const file = NodePath.join(environment.home, ".ssh", name)
      if (NodeFs.existsSync(file)) {
        list.push({
          _tag: "Credential",
          label: `key ${file}`,
          credential: new PubKeyCredential({ username, publicKey: file, passphrase })
        })
      }
    }
    if (environment.interactive) list.push({ _tag: "Prompt", label: "password" })
    return list
  })

const sshOptions = (options: ConnectOptions) => ({
  hostKeyPolicy: options.hostKeyPolicy,
  knownHosts: options.knownHosts,
  ...(options.connectTimeout !== undefined ? { connectTimeout: `${options.connectTimeout} seconds` as const } : {})
})

const where = (username: string, host: string, port: number) =>
  `${username}@${host.includes(":") ? `[${host}]` : host}:${port}`

/**
 * Connects over SSH, trying each candidate credential in turn: the next one
 * only after the server refused the previous (a host-key or network failure
 * ends the attempts at once). Each failed attempt's connection is closed
 * before the next starts.
 */
export const connectSsh = (
  location: { readonly host: string; readonly port: number; readonly username: string | undefined },
  options: ConnectOptions,
  environment: Environment
): Effect.Effect<SshTerminalShape, SshError | CliFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const username = location.username ?? environment.user
    const list = yield* candidates(username, options, environment)
    if (list.length === 0) {
      return yield* new CliFailure({
        what: `no credential to log in to ${where(username, location.host, location.port)}`,
        hint: "give --identity FILE or --password-env VAR, or start ssh-agent with your key"
      })
    }
    const outer = yield* Scope.Scope
    let lastError: SshError | undefined
    for (const candidate of list) {
      const credential: Credential = candidate._tag === "Credential"
        ? candidate.credential
        : new PasswordCredential({
          username,
          password: yield* environment.askPassword(`${where(username, location.host, location.port)} password: `)
        })
      yield* Effect.logDebug(`trying ${candidate.label}`)
      const attemptScope = yield* Scope.fork(outer, "sequential")
      const attempt = yield* Effect.exit(
        Scope.provide(attemptScope)(
          SshTerminal.make({ ...sshOptions(options), host: location.host, port: location.port, credential })
        )
      )
      if (Exit.isSuccess(attempt)) return attempt.value
      yield* Scope.close(attemptScope, attempt)
      // Only a refused credential moves on to the next one; anything else is the answer.
      const error = Cause.findErrorOption(attempt.cause)
      if (Option.isNone(error) || error.value.reason._tag !== "AuthenticationFailed") {
        return yield* Effect.failCause(attempt.cause)
      }
      lastError = error.value
    }
    return yield* Effect.fail(lastError!)
  })

/** The `Path` a location names, on a file system opened for it in the current scope. */
export const openPath = (
  url: string,
  options: ConnectOptions,
  environment: Environment
): Effect.Effect<Path, FactoryError | SshError | CliFailure | FileSystemError, Scope.Scope> =>
  Effect.gen(function*() {
    const parsed = Location.parse(url)
    if (parsed instanceof Location.LocationError) {
      return yield* new CliFailure({ what: parsed.message, hint: locationHint, exitCode: usageExitCode })
    }
    switch (parsed._tag) {
      case "Local":
        return yield* Factory.makePath(url)
      case "Ssh": {
        const terminal = yield* connectSsh(parsed, options, environment)
        const fs = yield* Factory.makeSftpFileSystem(terminal)
        return fs.path(parsed.path)
      }
      case "Webdav": {
        const credential = options.passwordEnv === undefined ? undefined : new PasswordCredential({
          username: parsed.username ?? environment.user,
          password: yield* fromEnv(environment, options.passwordEnv, "--password-env")
        })
        return yield* Factory.makePath(url, credential, {
          hostCaCertFile: options.caFile,
          webdavBase: options.webdavBase
        })
      }
    }
  })

/** Hint shown with every location error. */
export const locationHint = "locations are sftp://user@host[:port]/path, ssh://user@host[:port], " +
  "webdav+https://host/path, file:///path or a local path"

/** The terminal `--on` names: `ssh://user@host[:port]`, or this machine without it. */
export const openTerminal = (
  on: string | undefined,
  options: ConnectOptions,
  environment: Environment
): Effect.Effect<Terminal, FactoryError | SshError | CliFailure, Scope.Scope> =>
  Effect.gen(function*() {
    if (on === undefined || on === "local" || on === "file://" || on === "file:///") {
      return yield* Factory.makeTerminal("local")
    }
    const parsed = Location.parse(on)
    if (parsed instanceof Location.LocationError) {
      return yield* new CliFailure({
        what: `--on: ${parsed.message}`,
        hint: "give --on ssh://user@host[:port]",
        exitCode: usageExitCode
      })
    }
    if (parsed._tag !== "Ssh") {
      return yield* new CliFailure({
        what: `--on ${on}: commands and jobs run over SSH or locally`,
        hint: "give --on ssh://user@host[:port], or leave --on out to run on this machine",
        exitCode: usageExitCode
      })
    }
    return yield* connectSsh(parsed, options, environment)
  })

/**
 * The scheduler `--scheduler` names on `terminal`; without `--scheduler`,
 * DirectGnu (jobs as plain processes) wherever the terminal is.
 */
export const openScheduler = (
  name: string | undefined,
  terminal: Terminal,
  prefix: string
): Effect.Effect<Scheduler, CliFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const make = Schedulers.byName(name ?? "directgnu")
    if (make === undefined) {
      return yield* new CliFailure({
        what: `--scheduler ${name}: unknown scheduler`,
        hint: `use one of ${Schedulers.names.join(", ")}`,
        exitCode: usageExitCode
      })
    }
    return yield* make(terminal, prefix)
  })
