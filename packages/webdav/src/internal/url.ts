/**
 * The base URL of a WebDAV file system and the mapping between file-system
 * paths (absolute POSIX text, unencoded) and request URLs (percent-encoded,
 * below the base).
 *
 * @internal
 */
import * as QueryString from "node:querystring"

/** A validated base URL: no credentials, query or fragment, and no trailing slash. */
export interface Base {
  /** `"http:"` or `"https:"`. */
  readonly protocol: "http:" | "https:"
  /** `http://host:port`, as the URL parser normalizes it. */
  readonly origin: string
  /** The encoded path of the base without a trailing slash: `""` for the server root, `"/files"`, ... */
  readonly pathname: string
  /** `origin + pathname`: what every request URL starts with and what identifies the file system. */
  readonly href: string
}

/** Why a base URL was refused, in words for the error description. */
export type BaseProblem = { readonly unsupported: boolean; readonly message: string }

/**
 * Validates and normalizes a base URL. Credentials inside the URL are
 * refused: they would end up in `location` (which identifies the file system
 * and is logged) instead of in a `Redacted` credential.
 */
export const parseBase = (url: string): Base | BaseProblem => {
  if (!URL.canParse(url)) return { unsupported: false, message: `not a valid URL: ${JSON.stringify(url)}` }
  const parsed = new URL(url)
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return { unsupported: true, message: `only http and https URLs are supported, not ${parsed.protocol}` }
  }
  if (parsed.username !== "" || parsed.password !== "") {
    return { unsupported: false, message: "the URL must not contain credentials; pass a PasswordCredential" }
  }
  if (parsed.search !== "" || parsed.hash !== "") {
    return { unsupported: false, message: "the URL must not have a query or a fragment" }
  }
  const pathname = parsed.pathname.replace(/\/+$/, "")
  return { protocol: parsed.protocol, origin: parsed.origin, pathname, href: parsed.origin + pathname }
}

/** Whether {@link parseBase} refused the URL. */
export const isProblem = (b: Base | BaseProblem): b is BaseProblem => "message" in b

/** Percent-encodes each segment of a path, keeping the slashes. */
export const encodePath = (path: string): string => path.split("/").map(encodeURIComponent).join("/")

/**
 * The request URL of a path. Collections get a trailing slash, as RFC 4918
 * §5.2 has it and as servers that redirect `dir` to `dir/` expect.
 */
export const urlOf = (base: Base, path: string, collection = false): string => {
  const encoded = encodePath(path)
  return base.href + (collection && !encoded.endsWith("/") ? encoded + "/" : encoded)
}

/** The path with a trailing slash (the request path of a collection), `/` stays `/`. */
export const asCollection = (path: string): string => (path.endsWith("/") ? path : path + "/")

/** Percent-decoding that never throws: a malformed escape is kept as it is. */
const decodeSegment = (segment: string): string => QueryString.unescape(segment)

/**
 * The file-system path an `href` of a PROPFIND response names, or
 * `undefined` when it lies outside the base. Servers may answer with a full
 * URL or an absolute path, encode characters we left alone (or the other
 * way round), and end collections with a slash; all of that is normalized.
 */
export const hrefToPath = (base: Base, href: string): string | undefined => {
  const pathname = href.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "")
  const segments = pathname.split("/").filter((s) => s !== "").map(decodeSegment)
  const baseSegments = base.pathname.split("/").filter((s) => s !== "").map(decodeSegment)
  if (segments.length < baseSegments.length) return undefined
  for (let i = 0; i < baseSegments.length; i++) if (segments[i] !== baseSegments[i]) return undefined
  return "/" + segments.slice(baseSegments.length).join("/")
}
