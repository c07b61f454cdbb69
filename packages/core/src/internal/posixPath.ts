/**
 * Pure POSIX path arithmetic with Python `PurePosixPath` semantics: repeated
 * slashes collapse, `.` segments vanish, `..` is kept (it is only meaningful
 * against the real file system, which a pure path never consults).
 *
 * @internal
 */

/** Splits a path into its segments, dropping empty and `.` segments. */
export const segments = (path: string): Array<string> =>
  path.split("/").filter((s) => s !== "" && s !== ".")

/** The canonical text of a path: `/` for the root, `.` for the empty relative path. */
export const normalize = (path: string): string => {
  const absolute = path.startsWith("/")
  const body = segments(path).join("/")
  if (absolute) return "/" + body
  return body === "" ? "." : body
}

export const isAbsolute = (path: string): boolean => path.startsWith("/")

/** pathlib `joinpath`: an absolute segment replaces everything before it. */
export const join = (base: string, ...more: ReadonlyArray<string>): string => {
  let out = base
  for (const segment of more) {
    if (segment === "") continue
    out = isAbsolute(segment) ? segment : out === "." ? segment : `${out}/${segment}`
  }
  return normalize(out)
}

/** The final segment, or `""` for the root. */
export const basename = (path: string): string => {
  const parts = segments(path)
  return parts.length === 0 ? "" : parts[parts.length - 1]!
}

/** The logical parent; the root (and `.`) are their own parents. */
export const dirname = (path: string): string => {
  const parts = segments(path)
  if (parts.length === 0) return normalize(path)
  parts.pop()
  return isAbsolute(path) ? "/" + parts.join("/") : parts.length === 0 ? "." : parts.join("/")
}

/** pathlib `suffix`: the last dot-suffix of the name, unless the name starts with its only dot. */
export const suffix = (name: string): string => {
  const i = name.lastIndexOf(".")
  return i > 0 && i < name.length - 1 ? name.slice(i) : ""
}

export const suffixes = (name: string): Array<string> => {
  if (name.endsWith(".")) return []
  const trimmed = name.replace(/^\.+/, "")
  const pieces = trimmed.split(".").slice(1)
  return pieces.map((p) => "." + p)
}

export const stem = (name: string): string => {
  const s = suffix(name)
  return s === "" ? name : name.slice(0, name.length - s.length)
}

/** Whether `ancestor` is `path` itself or one of its ancestors (purely textual). */
export const isWithin = (path: string, ancestor: string): boolean => {
  const p = segments(path)
  const a = segments(ancestor)
  if (isAbsolute(path) !== isAbsolute(ancestor) || a.length > p.length) return false
  return a.every((s, i) => p[i] === s)
}

/** The relative path from `ancestor` to `path`, or `undefined` when `path` is not within it. */
export const relative = (path: string, ancestor: string): string | undefined => {
  if (!isWithin(path, ancestor)) return undefined
  const rest = segments(path).slice(segments(ancestor).length)
  return rest.length === 0 ? "." : rest.join("/")
}

/**
 * A relative link text that leads from the directory `fromDir` to `to`
 * (both absolute), e.g. `("/a/b", "/a/c/d")` gives `"../c/d"`.
 */
export const relativeLink = (fromDir: string, to: string): string => {
  const from = segments(fromDir)
  const dest = segments(to)
  let common = 0
  while (common < from.length && common < dest.length && from[common] === dest[common]) common++
  const up = from.slice(common).map(() => "..")
  const rel = [...up, ...dest.slice(common)].join("/")
  return rel === "" ? "." : rel
}

/**
 * Resolves `..` lexically (`/a/b/../c` gives `/a/c`), as a server-side link
 * target is resolved when its intermediate directories are not themselves links.
 */
export const resolveDots = (path: string): string => {
  const out: Array<string> = []
  for (const s of segments(path)) {
    if (s === "..") out.pop()
    else out.push(s)
  }
  return isAbsolute(path) ? "/" + out.join("/") : out.length === 0 ? "." : out.join("/")
}
