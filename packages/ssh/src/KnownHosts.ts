/**
 * OpenSSH `known_hosts` files: parse them, decide whether a server's host key
 * is known, and record new keys (for the `accept-new` policy).
 *
 * Understood, as OpenSSH does: comma-separated host patterns with `*`, `?`
 * and `!` negation; `[host]:port` names for ports other than 22; hashed names
 * (`|1|salt|hash`, `HashKnownHosts yes`); `#` comments and blank lines;
 * `@revoked` lines (a revoked key is always refused); `@cert-authority` lines
 * (host certificates are not supported by the SSH client, so such a line
 * never vouches for a key: it is ignored).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { createHash, createHmac, timingSafeEqual } from "node:crypto"
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"

/**
 * Which hosts a known_hosts line is for: a list of patterns, or one hashed name.
 *
 * @since 0.1.0
 * @category models
 */
export type HostMatcher =
  | { readonly _tag: "Patterns"; readonly patterns: ReadonlyArray<string> }
  | { readonly _tag: "Hashed"; readonly salt: Uint8Array; readonly hash: Uint8Array }

/**
 * One line of a known_hosts file.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  /** 1-based line number in the file. */
  readonly line: number
  readonly marker: "cert-authority" | "revoked" | undefined
  readonly hosts: HostMatcher
  /** The key type as written, e.g. `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`. */
  readonly keyType: string
  /** The public key blob, base64 as written. */
  readonly key: string
  readonly comment: string | undefined
}

/**
 * Reading or writing a known_hosts file failed (other than the file being absent).
 *
 * @since 0.1.0
 * @category errors
 */
export class KnownHostsError extends Schema.TaggedError<KnownHostsError>()("KnownHostsError", {
  path: Schema.String,
  operation: Schema.String,
  description: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message() {
    return `KnownHostsError: ${this.operation} ${this.path}: ${this.description}`
  }
}

/**
 * The user's own known_hosts file, `~/.ssh/known_hosts`.
 *
 * @since 0.1.0
 * @category constants
 */
export const userFile = (): string => NodePath.join(NodeOs.homedir(), ".ssh", "known_hosts")

/**
 * The system-wide known_hosts file OpenSSH also reads, `/etc/ssh/ssh_known_hosts`.
 *
 * @since 0.1.0
 * @category constants
 */
export const globalFile = "/etc/ssh/ssh_known_hosts"

const base64Pattern = /^[A-Za-z0-9+/]+={0,2}$/

const parseHosts = (field: string): HostMatcher | undefined => {
  if (field.startsWith("|1|")) {
    const [, , salt, hash] = field.split("|")
    if (salt === undefined || hash === undefined || !base64Pattern.test(salt) || !base64Pattern.test(hash)) {
      return undefined
    }
    return { _tag: "Hashed", salt: Buffer.from(salt, "base64"), hash: Buffer.from(hash, "base64") }
  }
  const patterns = field.split(",").filter((p) => p.length > 0)
  return patterns.length === 0 ? undefined : { _tag: "Patterns", patterns }
}

/**
 * Parses the text of a known_hosts file. Lines that are not valid entries
 * (comments, blanks, garbage) are skipped, as OpenSSH skips them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (text: string): ReadonlyArray<Entry> => {
  const entries: Array<Entry> = []
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i]!.trim()
    if (trimmed === "" || trimmed.startsWith("#")) continue
    const fields = trimmed.split(/\s+/)
    let marker: Entry["marker"] = undefined
    if (fields[0]!.startsWith("@")) {
      const name = fields.shift()!
      if (name === "@revoked") marker = "revoked"
      else if (name === "@cert-authority") marker = "cert-authority"
      else continue
    }
    const [hostField, keyType, key, ...rest] = fields
    if (hostField === undefined || keyType === undefined || key === undefined || !base64Pattern.test(key)) continue
    const hosts = parseHosts(hostField)
    if (hosts === undefined) continue
    entries.push({
      line: i + 1,
      marker,
      hosts,
      keyType,
      key,
      comment: rest.length > 0 ? rest.join(" ") : undefined
    })
  }
  return entries
}

/**
 * The name OpenSSH looks a host up by: `host` on port 22, `[host]:port`
 * otherwise. Host names are compared in lower case.
 *
 * @since 0.1.0
 * @category constructors
 */
export const hostName = (host: string, port: number): string => {
  const h = host.toLowerCase()
  return port === 22 ? h : `[${h}]:${port}`
}

// OpenSSH's match_pattern: `*` any run of characters, `?` any one character, the rest literal.
const globMatch = (text: string, pattern: string): boolean => {
  let t = 0
  let p = 0
  let starP = -1
  let starT = 0
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === "?" || pattern[p] === text[t])) {
      t++
      p++
    } else if (p < pattern.length && pattern[p] === "*") {
      starP = p++
      starT = t
    } else if (starP !== -1) {
      p = starP + 1
      t = ++starT
    } else {
      return false
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++
  return p === pattern.length
}

/**
 * Whether a known_hosts entry is for `host` on `port` (patterns with
 * negation, or a hashed name).
 *
 * @since 0.1.0
 * @category guards
 */
export const matches = (entry: Entry, host: string, port: number): boolean => {
  const name = hostName(host, port)
  const hosts = entry.hosts
  if (hosts._tag === "Hashed") {
    const digest = createHmac("sha1", hosts.salt).update(name).digest()
    return digest.length === hosts.hash.length && timingSafeEqual(digest, hosts.hash)
  }
  let positive = false
  for (const raw of hosts.patterns) {
    const negated = raw.startsWith("!")
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase()
    if (globMatch(name, pattern)) {
      if (negated) return false
      positive = true
    }
  }
  return positive
}

/**
 * The key type named inside an SSH public key blob (its first string field).
 *
 * @since 0.1.0
 * @category constructors
 */
export const keyTypeOf = (blob: Uint8Array): string | undefined => {
  if (blob.length < 4) return undefined
  const length = (blob[0]! << 24) | (blob[1]! << 16) | (blob[2]! << 8) | blob[3]!
  if (length <= 0 || 4 + length > blob.length) return undefined
  return Buffer.from(blob.subarray(4, 4 + length)).toString("latin1")
}

/**
 * The fingerprint of a public key blob as `ssh-keygen -l` prints it: `SHA256:` and unpadded base64.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fingerprint = (blob: Uint8Array): string =>
  "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")

/**
 * What known_hosts says about a server key:
 * - `Known`: a line for this host holds exactly this key;
 * - `Revoked`: the key is marked `@revoked` for this host;
 * - `Mismatch`: lines for this host hold a different key of the same type;
 * - `OtherTypes`: the host is known, but only with keys of other types;
 * - `Unknown`: no line is for this host.
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict =
  | { readonly _tag: "Known"; readonly entry: Entry }
  | { readonly _tag: "Revoked"; readonly entry: Entry }
  | { readonly _tag: "Mismatch"; readonly entries: ReadonlyArray<Entry> }
  | { readonly _tag: "OtherTypes"; readonly keyTypes: ReadonlyArray<string> }
  | { readonly _tag: "Unknown" }

/**
 * Checks a server's host key (type and base64 blob) against known_hosts entries.
 *
 * @since 0.1.0
 * @category combinators
 */
export const check = (
  entries: ReadonlyArray<Entry>,
  host: string,
  port: number,
  keyType: string,
  key: string
): Verdict => {
  const forHost = entries.filter((e) => e.marker !== "cert-authority" && matches(e, host, port))
  const revoked = forHost.find((e) => e.marker === "revoked" && e.key === key)
  if (revoked !== undefined) return { _tag: "Revoked", entry: revoked }
  const plain = forHost.filter((e) => e.marker === undefined)
  const known = plain.find((e) => e.keyType === keyType && e.key === key)
  if (known !== undefined) return { _tag: "Known", entry: known }
  const sameType = plain.filter((e) => e.keyType === keyType)
  if (sameType.length > 0) return { _tag: "Mismatch", entries: sameType }
  if (plain.length > 0) return { _tag: "OtherTypes", keyTypes: [...new Set(plain.map((e) => e.keyType))] }
  return { _tag: "Unknown" }
}

/**
 * The key types known_hosts holds for a host, in file order (used to ask the
 * server for a key of a type we can check, as OpenSSH does).
 *
 * @since 0.1.0
 * @category combinators
 */
export const keyTypesFor = (entries: ReadonlyArray<Entry>, host: string, port: number): ReadonlyArray<string> => [
  ...new Set(entries.filter((e) => e.marker === undefined && matches(e, host, port)).map((e) => e.keyType))
]

/**
 * The line `append` writes for a host key (plain host name, as OpenSSH writes
 * with `HashKnownHosts no`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const formatLine = (host: string, port: number, keyType: string, key: string): string =>
  `${hostName(host, port)} ${keyType} ${key}`

const isNotFound = (cause: unknown): boolean =>
  typeof cause === "object" && cause !== null && "code" in cause && cause.code === "ENOENT"

const describeCause = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/**
 * Reads and parses a known_hosts file; an absent file has no entries.
 *
 * @since 0.1.0
 * @category constructors
 */
export const read: (path: string) => Effect.Effect<ReadonlyArray<Entry>, KnownHostsError> = Effect.fn(
  "KnownHosts.read"
)((path: string) => Effect.map(readText(path, "read"), parse))

const readText = (path: string, operation: string): Effect.Effect<string, KnownHostsError> =>
  Effect.tryPromise({
    try: () =>
      NodeFs.readFile(path, "utf8").catch((cause: unknown) => (isNotFound(cause) ? "" : Promise.reject(cause))),
    catch: (cause) => new KnownHostsError({ path, operation, description: describeCause(cause), cause })
  })

/**
 * Records a host key at the end of a known_hosts file, creating the file
 * (mode 0600) and its directory (mode 0700) if needed. Does nothing when the
 * file already holds this key for this host (two connections that both saw a
 * new host write it once).
 *
 * @since 0.1.0
 * @category combinators
 */
export const append = Effect.fn("KnownHosts.append")(function*(
  path: string,
  host: string,
  port: number,
  keyType: string,
  key: string
): Effect.fn.Return<void, KnownHostsError> {
  const fail = (cause: unknown) =>
    new KnownHostsError({ path, operation: "append", description: describeCause(cause), cause })
  yield* Effect.tryPromise({
    try: () => NodeFs.mkdir(NodePath.dirname(path), { recursive: true, mode: 0o700 }),
    catch: fail
  })
  const current = yield* readText(path, "append")
  if (check(parse(current), host, port, keyType, key)._tag === "Known") return
  const separator = current === "" || current.endsWith("\n") ? "" : "\n"
  yield* Effect.tryPromise({
    try: () => NodeFs.appendFile(path, `${separator}${formatLine(host, port, keyType, key)}\n`, { mode: 0o600 }),
    catch: fail
  })
})
