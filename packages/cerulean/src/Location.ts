/**
 * Parsing of the places Cerulean can reach, given as text: Cerulean's
 * `host[:port]` locations (IPv6 literals included, which the original could
 * not parse) and URLs such as `sftp://user@host:2222/path`,
 * `ssh://user@host`, `webdav+https://host/base/path`, `file:///path` or a
 * plain local path.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * A location that could not be understood.
 *
 * @since 0.1.0
 * @category errors
 */
export class LocationError extends Data.TaggedError("LocationError")<{
  readonly input: string
  readonly description: string
}> {
  override get message() {
    return `Invalid location ${JSON.stringify(this.input)}: ${this.description}`
  }
}

/**
 * A host and port.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostPort {
  readonly host: string
  readonly port: number
}

const parsePort = (input: string, text: string): number | LocationError => {
  const port = Number(text)
  return /^\d+$/.test(text) && port > 0 && port < 65536
    ? port
    : new LocationError({ input, description: `port ${JSON.stringify(text)} is not a number from 1 to 65535` })
}

/**
 * Parses Cerulean's `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6
 * literal (`::1`, which has more than one colon and so no port).
 *
 * @example
 * ```ts
 * import { Location } from "cerulean"
 * Location.parseHostPort("[::1]:2222", 22) // { host: "::1", port: 2222 }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseHostPort = (input: string, defaultPort: number): HostPort | LocationError => {
  const text = input.trim()
  if (text === "") return new LocationError({ input, description: "no host given" })
  // A user name, a path or blanks here mean the caller passed a URL or a typo, not a host: say so instead of
  // trying to connect to a host named "user@host".
  const stray = /[\s/@?#]/.exec(text)
  if (stray) {
    return new LocationError({
      input,
      description: `${
        JSON.stringify(stray[0])
      } cannot appear in a host[:port] location (give the user in the credential)`
    })
  }
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text)
  if (bracketed) {
    const port = bracketed[2] === undefined ? defaultPort : parsePort(input, bracketed[2])
    return typeof port === "number" ? { host: bracketed[1]!, port } : port
  }
  if (text.includes("[") || text.includes("]")) {
    return new LocationError({
      input,
      description: "unbalanced brackets (an IPv6 address with a port is [address]:port)"
    })
  }
  const colons = text.split(":").length - 1
  if (colons > 1) return { host: text, port: defaultPort }
  if (colons === 1) {
    const [host, portText] = text.split(":") as [string, string]
    if (host === "") return new LocationError({ input, description: "no host given" })
    const port = parsePort(input, portText)
    return typeof port === "number" ? { host, port } : port
  }
  return { host: text, port: defaultPort }
}

/**
 * A parsed location URL.
 *
 * @since 0.1.0
 * @category models
 */
export type Location =
  | { readonly _tag: "Local"; readonly path: string }
  | {
    readonly _tag: "Ssh"
    /** `"sftp"` when given as `sftp://`, `"ssh"` for `ssh://`. */
    readonly scheme: "ssh" | "sftp"
    readonly username: string | undefined
    readonly host: string
    readonly port: number
    readonly path: string
  }
  | {
    readonly _tag: "Webdav"
    /** The server URL with `http:` or `https:`, without the path. */
    readonly origin: string
    readonly username: string | undefined
    readonly path: string
  }

const decode = (text: string): string | undefined => {
  // decodeURIComponent throws on a stray "%"; an undecodable URL is a LocationError, never an exception.
  const valid = /^(?:[^%]|%[0-9a-f]{2})*$/i.test(text)
  if (!valid) return undefined
  return decodeURIComponent(text)
}

/**
 * Parses a location URL or a local path. A WebDAV URL's path is everything
 * after the host; which part of it is the server's base is decided by the
 * caller (see `makeFileSystem`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (input: string): Location | LocationError => {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(input)?.[1]?.toLowerCase()
  if (scheme === undefined) {
    if (input === "") return new LocationError({ input, description: "empty location" })
    if (input.includes("\u0000")) return new LocationError({ input, description: "the path contains a NUL character" })
    // Typos of a URL would otherwise become local file names ("sftp:/host/x", scp's "host:path"): refuse them
    // with the right spelling; a local file with such a name can still be given as ./name.
    const typo = /^(sftp|ssh|file|webdav\+https?|https?):/i.exec(input)
    if (typo) {
      return new LocationError({
        input,
        description: `did you mean ${typo[1]!.toLowerCase()}://...? (write ./${input} for a local file)`
      })
    }
    if (/^[^/]*:/.test(input)) {
      return new LocationError({
        input,
        description: `looks like scp syntax; write sftp://user@host/path (or ./${input} for a local file)`
      })
    }
    return { _tag: "Local", path: input }
  }
  const url = URL.canParse(input) ? new URL(input) : undefined
  if (url === undefined) return new LocationError({ input, description: "not a valid URL" })
  const username = url.username === "" ? undefined : decode(url.username)
  if (url.username !== "" && username === undefined) {
    return new LocationError({ input, description: "the user name is not valid percent-encoding" })
  }
  if (url.password !== "") {
    return new LocationError({
      input,
      description: "passwords in URLs are not accepted (they end up in shell history and logs); use a credential"
    })
  }
  if (url.search !== "" || url.hash !== "") {
    // A "?" or "#" would silently cut the path short; a file name holding one must be written %3F / %23.
    return new LocationError({
      input,
      description: "\"?\" and \"#\" are not allowed in a location URL; write them as %3F and %23"
    })
  }
  const decodedPath = decode(url.pathname)
  if (decodedPath === undefined) {
    return new LocationError({ input, description: "the path is not valid percent-encoding" })
  }
  if (decodedPath.includes("\u0000")) {
    return new LocationError({ input, description: "the path contains a NUL character" })
  }
  const path = decodedPath || "/"
  switch (scheme) {
    case "file":
      if (url.host !== "" && url.host !== "localhost") {
        return new LocationError({ input, description: "file:// URLs must name the local host" })
      }
      return { _tag: "Local", path }
    case "ssh":
    case "sftp": {
      if (url.hostname === "") return new LocationError({ input, description: "no host given" })
      const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
      const port = url.port === "" ? 22 : Number(url.port)
      return { _tag: "Ssh", scheme, username, host, port, path }
    }
    case "webdav+http":
    case "webdav+https":
    case "http":
    case "https": {
      if (url.hostname === "") return new LocationError({ input, description: "no host given" })
      const protocol = scheme.endsWith("https") ? "https:" : "http:"
      return { _tag: "Webdav", origin: `${protocol}//${url.host}`, username, path }
    }
    default:
      return new LocationError({
        input,
        description: `unknown scheme ${
          JSON.stringify(scheme)
        } (use sftp://, ssh://, webdav+http(s)://, file:// or a path)`
      })
  }
}
