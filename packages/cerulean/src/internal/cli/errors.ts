/**
 * How the `cerulean` command reports a failure: one line saying what failed,
 * where, and what to try, and an exit code. The stack and the full cause are
 * for `--verbose` only.
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"

/**
 * A failure found by the command itself (a missing environment variable, no
 * usable credential), already phrased for a person.
 */
export class CliFailure extends Data.TaggedError("CliFailure")<{
  /** What failed, and where. */
  readonly what: string
  /** What to try. */
  readonly hint?: string | undefined
  /** Exit code (default 1). */
  readonly exitCode?: number | undefined
}> {
  override get message() {
    return this.hint ? `${this.what}; ${this.hint}` : this.what
  }
}

/** Exit code of a usage error (bad flag, bad URL), as most Unix tools. */
export const usageExitCode = 2

/** Exit code after an interruption (Ctrl-C), as shells report SIGINT. */
export const interruptedExitCode = 130

/** What the command prints for a failure, and how it exits. */
export interface Report {
  readonly line: string
  readonly exitCode: number
}

interface Described {
  readonly what: string
  readonly hint?: string | undefined
  readonly exitCode?: number | undefined
}

type Tagged = { readonly _tag: string; readonly message: string }

const isTagged = (u: unknown): u is Tagged & Record<string, unknown> =>
  typeof u === "object" && u !== null && typeof (u as { _tag?: unknown })._tag === "string"

const str = (u: unknown): string | undefined => (typeof u === "string" ? u : undefined)

const hostPort = (reason: Record<string, unknown>): string => {
  const host = str(reason.host) ?? "?"
  const port = typeof reason.port === "number" ? reason.port : undefined
  const shown = host.includes(":") ? `[${host}]` : host
  return port === undefined ? shown : `${shown}:${port}`
}

const detail = (reason: Record<string, unknown>): string => {
  const description = str(reason.description)
  return description ? `: ${description}` : ""
}

const describeSsh = (reason: Tagged & Record<string, unknown>): Described => {
  const where = hostPort(reason)
  switch (reason._tag) {
    case "HostKeyUnknown": {
      const files = Array.isArray(reason.knownHostsFiles) ? reason.knownHostsFiles.join(", ") : "known_hosts"
      return {
        what: `cannot connect to ${where}: its host key (${str(reason.keyType)} ${
          str(reason.fingerprint)
        }) is not in ${files}`,
        hint: "check the fingerprint with the server's administrator, then add it (ssh-keyscan) or rerun with " +
          "--host-key-policy accept-new to record it on first use"
      }
    }
    case "HostKeyMismatch":
      return {
        what: `cannot connect to ${where}: its host key (${str(reason.keyType)} ${
          str(reason.fingerprint)
        }) differs from the one in known_hosts (possible man-in-the-middle)`,
        hint: "if the server's key really changed, remove the old entry with ssh-keygen -R and add the new one"
      }
    case "AuthenticationFailed":
      return {
        what: `authentication failed at ${where}${detail(reason)}`,
        hint: "check the user name and password (--password-env VAR), or give a key with --identity FILE, " +
          "or load your key into ssh-agent"
      }
    case "ConnectionFailed":
      return {
        what: `cannot connect to ${where}${detail(reason)}`,
        hint: "check the host name and port, and that the SSH server runs and is reachable"
      }
    case "ConnectionLost":
      return {
        what: `the connection to ${where} was lost${detail(reason)}`,
        hint: "check the network and rerun; nothing was retried, so check what was done already"
      }
    case "Timeout":
      return {
        what: `connecting to ${where} timed out${detail(reason)}`,
        hint: "check that the host is reachable (firewall, VPN) and the port is right"
      }
    default:
      return { what: `SSH error at ${where}: ${reason.message}` }
  }
}

const fileHints: Record<string, string> = {
  NotFound: "check the path (remote paths are absolute, e.g. sftp://host/home/user/file)",
  AlreadyExists: "choose another name, or pass --overwrite always",
  NotADirectory: "a part of the path is a file, not a directory",
  IsADirectory: "it is a directory: use -r/--recursive where that makes sense",
  DirectoryNotEmpty: "the directory has entries: use rm -r to remove it with its contents",
  PermissionDenied: "check the permissions on the server, or the user name and password",
  LinkLoop: "symbolic links there form a loop",
  Unsupported: "this file system cannot do that (WebDAV has no links or permissions)",
  ConnectionLost: "check the network and rerun",
  Io: "see --verbose for the server's answer"
}

const fileWords: Record<string, string> = {
  NotFound: "no such file or directory",
  AlreadyExists: "already exists",
  NotADirectory: "not a directory",
  IsADirectory: "is a directory",
  DirectoryNotEmpty: "directory not empty",
  PermissionDenied: "permission denied",
  LinkLoop: "too many levels of symbolic links",
  Unsupported: "not supported",
  ConnectionLost: "connection lost",
  Io: "input/output error"
}

const describeFileReason = (reason: Tagged & Record<string, unknown>, prefix: string): Described => {
  const operation = str(reason.operation)
  const path = str(reason.path) ?? "?"
  const description = str(reason.description)
  const words = fileWords[reason._tag] ?? reason._tag
  return {
    what: `${prefix}${operation ? `${operation} ` : ""}${path}: ${words}${description ? ` (${description})` : ""}`,
    hint: fileHints[reason._tag]
  }
}

const describeOne = (error: unknown): Described => {
  if (!isTagged(error)) {
    if (error instanceof Error) {
      return { what: `internal error: ${error.message}`, hint: "rerun with --verbose and report it" }
    }
    return { what: `internal error: ${String(error)}`, hint: "rerun with --verbose and report it" }
  }
  const reason = isTagged(error.reason) ? error.reason : undefined
  switch (error._tag) {
    case "CliFailure":
      return {
        what: str(error.what) ?? error.message,
        hint: str(error.hint),
        exitCode: typeof error.exitCode === "number" ? error.exitCode : undefined
      }
    case "FactoryError":
      return {
        what: reason?.message ?? error.message,
        hint: reason?._tag === "InvalidLocation"
          ? "locations are sftp://user@host[:port]/path, ssh://user@host[:port], webdav+https://host/path, " +
            "file:///path or a local path"
          : undefined,
        exitCode: reason?._tag === "InvalidLocation" || reason?._tag === "UnknownProtocol" ? usageExitCode : undefined
      }
    case "LocationError":
      return {
        what: error.message,
        hint: "locations are sftp://user@host[:port]/path, ssh://user@host[:port], webdav+https://host/path, " +
          "file:///path or a local path",
        exitCode: usageExitCode
      }
    case "SshError":
      return reason ? describeSsh(reason) : { what: error.message }
    case "FileSystemError":
      return reason ? describeFileReason(reason, "") : { what: error.message }
    case "CopyError": {
      if (!reason) return { what: error.message }
      const prefix = `copy ${str(error.source)} -> ${str(error.target)}: `
      if (reason._tag === "InvalidOptions") return { what: prefix + reason.message, exitCode: usageExitCode }
      return describeFileReason(reason, prefix)
    }
    case "TerminalError": {
      if (!reason) return { what: error.message }
      const command = str(reason.command) ?? ""
      switch (reason._tag) {
        case "Timeout":
          return { what: `command timed out and was killed: ${command}`, hint: "raise --timeout", exitCode: 124 }
        case "SpawnFailed":
          return { what: `cannot start the command ${command}${detail(reason)}` }
        case "ConnectionLost":
          return {
            what: `the connection was lost while running ${command}${detail(reason)}`,
            hint: "the command may have run (it is never re-run): check before retrying"
          }
        case "InvalidArgument":
          return { what: `invalid command: ${command}${detail(reason)}`, exitCode: usageExitCode }
        default:
          return { what: `running ${command} failed${detail(reason)}` }
      }
    }
    case "SchedulerError": {
      if (!reason) return { what: error.message }
      const description = str(reason.description) ?? ""
      switch (reason._tag) {
        case "InvalidJob":
          return { what: `invalid job: ${description}`, exitCode: usageExitCode }
        case "SubmitFailed":
          return { what: `the scheduler refused the job: ${description}`, hint: "check the queue name and limits" }
        case "UnknownJob":
          return {
            what: `the scheduler does not know job ${str(reason.jobId)}: ${description}`,
            hint: "check the job id and that --scheduler and --on are the ones it was submitted with"
          }
        case "Unavailable":
          return { what: `the scheduler cannot be reached: ${description}`, hint: "check that it runs, then retry" }
        case "ParseError":
          return {
            what: `unexpected answer from the scheduler: ${description}`,
            hint: "rerun with --verbose and report it"
          }
        default:
          return { what: error.message }
      }
    }
    case "QuitError":
      return { what: "cancelled", exitCode: interruptedExitCode }
    default:
      return { what: error.message || error._tag }
  }
}

const oneLine = (text: string): string => text.replace(/\s*[\r\n]+\s*/g, " ").trim()

/**
 * The one line and exit code for a failure of `command` (`"cp"`, `"run"`, ...).
 */
export const report = (command: string, error: unknown): Report => {
  const d = describeOne(error)
  const text = d.hint ? `${d.what}; ${d.hint}` : d.what
  return { line: oneLine(`cerulean ${command}: ${text}`), exitCode: d.exitCode ?? 1 }
}

/**
 * The report for a failed or interrupted program: the first failure (or
 * defect) of the cause; interruption alone gives exit code 130.
 */
export const reportCause = (command: string, cause: Cause.Cause<unknown>): Report => {
  if (Cause.hasInterruptsOnly(cause)) return { line: `cerulean ${command}: interrupted`, exitCode: interruptedExitCode }
  return report(command, Cause.squash(cause))
}

/** The full account for `--verbose`: every failure of the cause with its stack. */
export const verboseText = (cause: Cause.Cause<unknown>): string => Cause.pretty(cause)
