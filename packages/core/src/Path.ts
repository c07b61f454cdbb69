/**
 * `Path`: an immutable, pathlib-like path that carries its file system.
 * Pure members (joining, names, parents) are synchronous; members that touch
 * the file system return an `Effect` or a `Stream` failing with
 * `FileSystemError`. Semantics follow Cerulean's `Path`, with its
 * inconsistencies between backends removed (see docs/core.md).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { EntryType } from "./EntryType.ts"
import type { FileInfo, FileSystem } from "./FileSystem.ts"
import * as FileSystemError from "./FileSystemError.ts"
import * as posix from "./internal/posixPath.ts"
import * as Permission from "./Permission.ts"

/**
 * How many links `readlink({ recursive: true })` follows before giving up
 * with `LinkLoop` (Linux's own limit is 40; Cerulean used 32).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxLinkHops = 32

/**
 * Options of {@link Path.mkdir}.
 *
 * @since 0.1.0
 * @category models
 */
export interface MkdirOptions {
  /** Permission bits for the new directory (the umask applies); missing parents get the default. */
  readonly mode?: number | undefined
  /** Create missing ancestors too. */
  readonly parents?: boolean | undefined
  /** Succeed if a directory is already there (Cerulean spells it `exists_ok`). */
  readonly existsOk?: boolean | undefined
}

/**
 * One step of {@link Path.walk}: a directory and the names of its
 * subdirectories and other entries, as `os.walk` gives them.
 *
 * @since 0.1.0
 * @category models
 */
export interface WalkEntry {
  readonly dir: Path
  readonly dirnames: ReadonlyArray<string>
  readonly filenames: ReadonlyArray<string>
}

/**
 * Options of {@link Path.walk}.
 *
 * @since 0.1.0
 * @category models
 */
export interface WalkOptions {
  /** Yield a directory before its subdirectories (default `true`). */
  readonly topDown?: boolean | undefined
  /** Descend into symbolic links to directories (default `false`; they are listed either way). */
  readonly followLinks?: boolean | undefined
  /**
   * What to do when a directory cannot be listed: `"ignore"` skips it (the
   * default, as `os.walk` does), `"fail"` fails the stream, and a function is
   * called with the error and may decide by failing or succeeding.
   */
  readonly onError?:
    | "ignore"
    | "fail"
    | ((error: FileSystemError.FileSystemError) => Effect.Effect<void, FileSystemError.FileSystemError>)
    | undefined
}

const missing = (e: FileSystemError.FileSystemError) =>
  e.reason._tag === "NotFound" || e.reason._tag === "NotADirectory" || e.reason._tag === "LinkLoop"

/** Runs a probe that answers `false` when the path does not resolve. */
const orFalse = <E extends FileSystemError.FileSystemError>(
  effect: Effect.Effect<boolean, E>
): Effect.Effect<boolean, E> =>
  Effect.catchIf(effect, (e): e is E => missing(e), () => Effect.succeed(false))

const encoder = new TextEncoder()

/**
 * A path on a particular file system.
 *
 * @since 0.1.0
 * @category models
 */
export class Path {
  /** The file system this path belongs to. */
  readonly fs: FileSystem
  /** The normalized path text. */
  readonly path: string

  constructor(fs: FileSystem, path: string) {
    this.fs = fs
    this.path = posix.normalize(path)
  }

  /** Cerulean's name for {@link fs}. */
  get filesystem(): FileSystem {
    return this.fs
  }

  // ------------------------------------------------------------------ pure

  private with(path: string): Path {
    return new Path(this.fs, path)
  }

  /**
   * Appends segments like Cerulean's `/`: a string is stripped of leading and
   * trailing slashes and always appended (so `join("/x")` appends `x`), a
   * `Path` is joined with pathlib semantics (an absolute one replaces).
   */
  join(...segments: ReadonlyArray<string | Path>): Path {
    let out = this.path
    for (const s of segments) {
      out = typeof s === "string" ? posix.join(out, s.replace(/^\/+|\/+$/g, "")) : posix.join(out, s.path)
    }
    return this.with(out)
  }

  /** pathlib's `joinpath`: an absolute segment replaces everything before it. */
  joinpath(...segments: ReadonlyArray<string | Path>): Path {
    return this.with(posix.join(this.path, ...segments.map((s) => (typeof s === "string" ? s : s.path))))
  }

  /** The final component (`""` for the root). */
  get name(): string {
    return posix.basename(this.path)
  }

  /** The final component without its last suffix. */
  get stem(): string {
    return posix.stem(this.name)
  }

  /** The last dot-suffix of the name, such as `".gz"`, or `""`. */
  get suffix(): string {
    return posix.suffix(this.name)
  }

  /** All dot-suffixes of the name, such as `[".tar", ".gz"]`. */
  get suffixes(): ReadonlyArray<string> {
    return posix.suffixes(this.name)
  }

  /** The components, starting with `"/"` for an absolute path. */
  get parts(): ReadonlyArray<string> {
    const s = posix.segments(this.path)
    return this.isAbsolute() ? ["/", ...s] : s
  }

  /** The logical parent; the root is its own parent. */
  get parent(): Path {
    return this.with(posix.dirname(this.path))
  }

  /** All logical ancestors, nearest first. */
  get parents(): ReadonlyArray<Path> {
    const out: Array<Path> = []
    let current: Path = this
    while (current.parent.path !== current.path) {
      current = current.parent
      out.push(current)
    }
    return out
  }

  /** `"/"` for an absolute path, `""` otherwise. */
  get root(): string {
    return this.isAbsolute() ? "/" : ""
  }

  /** Drive plus root; on POSIX the same as {@link root}. */
  get anchor(): string {
    return this.root
  }

  /** This path with its name replaced. */
  withName(name: string): Path {
    if (this.name === "" || name === "" || name.includes("/") || name === ".") {
      throw new TypeError(`Invalid name ${JSON.stringify(name)} for path ${this.path}`)
    }
    return this.parent.joinpath(name)
  }

  /** This path with its last suffix replaced (or added, or removed with `""`). */
  withSuffix(suffix: string): Path {
    if (suffix !== "" && (!suffix.startsWith(".") || suffix === "." || suffix.includes("/"))) {
      throw new TypeError(`Invalid suffix ${JSON.stringify(suffix)}`)
    }
    return this.withName(this.stem + suffix)
  }

  /** This path relative to an ancestor; throws when it is not one. */
  relativeTo(other: Path | string): Path {
    const base = typeof other === "string" ? posix.normalize(other) : other.path
    const rel = posix.relative(this.path, base)
    if (rel === undefined) throw new TypeError(`${this.path} is not within ${base}`)
    return this.with(rel)
  }

  /** Whether this path is `other` or lies below it. */
  isRelativeTo(other: Path | string): boolean {
    return posix.isWithin(this.path, typeof other === "string" ? posix.normalize(other) : other.path)
  }

  isAbsolute(): boolean {
    return posix.isAbsolute(this.path)
  }

  asPosix(): string {
    return this.path
  }

  toString(): string {
    return this.path
  }

  toJSON(): unknown {
    return { _id: "Path", fs: `${this.fs.protocol}:${this.fs.location}`, path: this.path }
  }

  /** How `console.log` and `util.inspect` show a path: `Path(local:localhost /tmp/x)`, not the whole file system. */
  [NodeInspectSymbol](): string {
    return `Path(${this.fs.protocol}:${this.fs.location} ${this.path})`
  }

  /** Same file system and same path. */
  equals(that: Path): boolean {
    return this.path === that.path && this.fs.equals(that.fs)
  }

  /** The absolute text used for backend calls: a relative path is taken from the root. */
  private get abs(): string {
    return this.isAbsolute() ? this.path : "/" + this.path
  }

  // ------------------------------------------------------------ effectful

  /** `stat`, following links. */
  stat(): Effect.Effect<FileInfo, FileSystemError.FileSystemError> {
    return this.fs.stat(this.abs)
  }

  /** `lstat`: the entry itself, not what a link points to. */
  lstat(): Effect.Effect<FileInfo, FileSystemError.FileSystemError> {
    return this.fs.lstat(this.abs)
  }

  /** Whether something exists here, following links: a broken link or a loop is `false`. */
  exists(): Effect.Effect<boolean, FileSystemError.FileSystemError> {
    return orFalse(Effect.as(this.stat(), true))
  }

  /** Whether this is a directory, following links. */
  isDir(): Effect.Effect<boolean, FileSystemError.FileSystemError> {
    return orFalse(Effect.map(this.stat(), (i) => i.type === "Directory"))
  }

  /** Whether this is a regular file, following links. */
  isFile(): Effect.Effect<boolean, FileSystemError.FileSystemError> {
    return orFalse(Effect.map(this.stat(), (i) => i.type === "File"))
  }

  /** Whether this is a symbolic link (a broken one too). */
  isSymlink(): Effect.Effect<boolean, FileSystemError.FileSystemError> {
    return orFalse(Effect.map(this.lstat(), (i) => i.type === "SymbolicLink"))
  }

  /**
   * The kind of entry, not following a final link: a link (even a broken
   * one) is `"SymbolicLink"` on every backend. Fails with `NotFound` when
   * nothing is there.
   */
  entryType(): Effect.Effect<EntryType, FileSystemError.FileSystemError> {
    return Effect.map(this.lstat(), (i) => i.type)
  }

  /** Size in bytes, following links. */
  size(): Effect.Effect<number, FileSystemError.FileSystemError> {
    return Effect.map(this.stat(), (i) => i.size)
  }

  /** Owner user id, following links. */
  uid(): Effect.Effect<number, FileSystemError.FileSystemError> {
    return Effect.map(this.stat(), (i) => i.uid)
  }

  /** Owner group id, following links. */
  gid(): Effect.Effect<number, FileSystemError.FileSystemError> {
    return Effect.map(this.stat(), (i) => i.gid)
  }

  /** Whether the permission bit is set, following links. */
  hasPermission(permission: Permission.Permission): Effect.Effect<boolean, FileSystemError.FileSystemError> {
    return Effect.map(this.stat(), (i) => Permission.isSet(i.mode, permission))
  }

  /** Sets or clears one permission bit, leaving the others as they are. */
  setPermission(permission: Permission.Permission, value = true): Effect.Effect<void, FileSystemError.FileSystemError> {
    return Effect.flatMap(this.stat(), (i) => {
      const mode = Permission.set(i.mode, permission, value)
      return mode === i.mode ? Effect.void : this.fs.chmod(this.abs, mode)
    })
  }

  /** Sets all twelve permission bits. */
  chmod(mode: number): Effect.Effect<void, FileSystemError.FileSystemError> {
    return this.fs.chmod(this.abs, mode & Permission.mask)
  }

  /** Creates this directory. */
  mkdir(options: MkdirOptions = {}): Effect.Effect<void, FileSystemError.FileSystemError> {
    const { existsOk = false, mode, parents = false } = options
    const self = this
    return Effect.gen(function*() {
      if (parents) {
        const missingAncestors: Array<Path> = []
        for (const ancestor of self.parents) {
          if (yield* ancestor.exists()) break
          missingAncestors.unshift(ancestor)
        }
        for (const ancestor of missingAncestors) {
          yield* Effect.catchIf(
            self.fs.makeDirectory(ancestor.abs, undefined),
            (e) => e.reason._tag === "AlreadyExists",
            () => Effect.void
          )
        }
      }
      yield* Effect.catchIf(
        self.fs.makeDirectory(self.abs, mode),
        (e) => existsOk && e.reason._tag === "AlreadyExists",
        (e) => Effect.flatMap(self.isDir(), (isDir) => (isDir ? Effect.void : Effect.fail(e)))
      )
    })
  }

  /** The entries of this directory, sorted by name. */
  iterdir(): Stream.Stream<Path, FileSystemError.FileSystemError> {
    return Stream.fromIterableEffect(
      Effect.map(this.fs.readDirectory(this.abs), (entries) =>
        entries.map((e) => e.name).sort().map((name) => this.joinpath(name)))
    )
  }

  /**
   * Walks the tree below this directory like `os.walk`: symbolic links to
   * directories are listed among `dirnames` but only entered with
   * `followLinks`.
   */
  walk(options: WalkOptions = {}): Stream.Stream<WalkEntry, FileSystemError.FileSystemError> {
    const { followLinks = false, onError = "ignore", topDown = true } = options
    const visit = (dir: Path): Stream.Stream<WalkEntry, FileSystemError.FileSystemError> =>
      Stream.unwrap(Effect.gen(function*() {
        const listing = yield* Effect.result(dir.fs.readDirectory(dir.abs))
        if (listing._tag === "Failure") {
          if (onError === "ignore") return Stream.empty
          if (onError === "fail") return Stream.fail(listing.failure)
          return Stream.fromEffectDrain(onError(listing.failure))
        }
        const dirnames: Array<string> = []
        const filenames: Array<string> = []
        const descend: Array<Path> = []
        for (const entry of [...listing.success].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
          const child = dir.joinpath(entry.name)
          let isDir = entry.info.type === "Directory"
          if (entry.info.type === "SymbolicLink") isDir = yield* child.isDir()
          if (isDir) {
            dirnames.push(entry.name)
            if (entry.info.type !== "SymbolicLink" || followLinks) descend.push(child)
          } else {
            filenames.push(entry.name)
          }
        }
        const here = Stream.succeed<WalkEntry>({ dir, dirnames, filenames })
        const below = Stream.flatMap(Stream.fromIterable(descend), visit)
        return topDown ? Stream.concat(here, below) : Stream.concat(below, here)
      }))
    return visit(this)
  }

  /**
   * Removes this directory. Without `recursive` it must be empty. With it,
   * the tree is removed bottom-up and links are removed, never followed, so
   * nothing outside the tree is touched.
   */
  rmdir(
    options: { readonly recursive?: boolean | undefined } = {}
  ): Effect.Effect<void, FileSystemError.FileSystemError> {
    const self = this
    return Effect.gen(function*() {
      const info = yield* self.lstat()
      if (info.type !== "Directory") {
        return yield* FileSystemError.make("NotADirectory", { path: self.path, operation: "rmdir" })
      }
      if (!options.recursive) return yield* self.fs.removeDirectory(self.abs)
      if (self.fs.removeTree) return yield* self.fs.removeTree(self.abs)
      yield* removeTree(self.fs, self.abs)
    })
  }

  /**
   * Removes whatever is here, if anything: a link is unlinked (its target
   * stays), a directory is removed recursively, anything else is unlinked.
   */
  remove(): Effect.Effect<void, FileSystemError.FileSystemError> {
    // Only "nothing is there" makes this a no-op; any other failure (PermissionDenied, a lost
    // connection) must not look like a successful removal.
    const lookup = Effect.catchIf(Effect.map(this.lstat(), Option.some), missing, () => Effect.succeedNone)
    return Effect.flatMap(lookup, (info) =>
      Option.match(info, {
        onNone: () => Effect.void,
        onSome: (i) => (i.type === "Directory" ? this.rmdir({ recursive: true }) : this.fs.unlink(this.abs))
      }))
  }

  /** Removes a file or link; `IsADirectory` for a directory. */
  unlink(): Effect.Effect<void, FileSystemError.FileSystemError> {
    return this.fs.unlink(this.abs)
  }

  /** Creates an empty file, or updates the modification time of an existing one. */
  touch(): Effect.Effect<void, FileSystemError.FileSystemError> {
    return this.fs.touch(this.abs)
  }

  /** Renames this entry to `target` on the same file system, replacing a file there. */
  rename(target: Path): Effect.Effect<void, FileSystemError.FileSystemError> {
    if (!target.fs.equals(this.fs)) {
      return Effect.fail(FileSystemError.make("Unsupported", {
        path: this.path,
        operation: "rename",
        description: `cannot rename across file systems (to ${target.fs.protocol}:${target.fs.location}${target.path})`
      }))
    }
    return this.fs.rename(this.abs, target.abs)
  }

  /**
   * Makes this path a symbolic link to `target`. A `Path` target must be on
   * the same file system and is written as its absolute text; a string is
   * written as given, so relative links stay relative.
   */
  symlinkTo(target: Path | string): Effect.Effect<void, FileSystemError.FileSystemError> {
    if (typeof target !== "string" && !target.fs.equals(this.fs)) {
      return Effect.fail(FileSystemError.make("Unsupported", {
        path: this.path,
        operation: "symlinkTo",
        description: "the link target is on another file system"
      }))
    }
    return this.fs.symlink(this.abs, typeof target === "string" ? target : target.path)
  }

  /** The raw text of this link, exactly as stored (possibly relative). */
  readlinkText(): Effect.Effect<string, FileSystemError.FileSystemError> {
    return this.fs.readLink(this.abs)
  }

  /**
   * Where this link points, as an absolute path (a relative link text is
   * resolved against the link's directory). With `recursive`, follows the
   * chain to its end, which need not exist; a loop fails with `LinkLoop`.
   */
  readlink(
    options: { readonly recursive?: boolean | undefined } = {}
  ): Effect.Effect<Path, FileSystemError.FileSystemError> {
    const self = this
    const step = (link: Path) =>
      Effect.map(link.readlinkText(), (text) => link.with(posix.resolveDots(posix.join(link.parent.abs, text))))
    if (!options.recursive) return step(this)
    return Effect.gen(function*() {
      let current = yield* step(self)
      for (let hop = 1; hop < maxLinkHops; hop++) {
        if (!(yield* current.isSymlink())) return current
        current = yield* step(current)
      }
      return yield* FileSystemError.make("LinkLoop", {
        path: self.path,
        operation: "readlink",
        description: `more than ${maxLinkHops} symbolic links`
      })
    })
  }

  /** The content as a stream of chunks. */
  readStream(
    options?: { readonly chunkSize?: number | undefined }
  ): Stream.Stream<Uint8Array, FileSystemError.FileSystemError> {
    return this.fs.readStream(this.abs, options)
  }

  /** Creates or truncates the file and writes the stream into it. */
  writeStream<E>(data: Stream.Stream<Uint8Array, E>): Effect.Effect<void, FileSystemError.FileSystemError | E> {
    return this.fs.writeStream(this.abs, data)
  }

  /** The whole content. */
  readBytes(): Effect.Effect<Uint8Array, FileSystemError.FileSystemError> {
    return Effect.map(Stream.runCollect(this.readStream()), concatBytes)
  }

  /** The whole content, decoded as UTF-8; invalid UTF-8 fails with `Io`. */
  readText(): Effect.Effect<string, FileSystemError.FileSystemError> {
    return Effect.flatMap(this.readBytes(), (bytes) =>
      Effect.try({
        try: () => new TextDecoder("utf-8", { fatal: true }).decode(bytes),
        catch: (cause) =>
          FileSystemError.make("Io", { path: this.path, operation: "readText", description: "not valid UTF-8", cause })
      }))
  }

  /** Creates or replaces the file with these bytes. */
  writeBytes(data: Uint8Array): Effect.Effect<void, FileSystemError.FileSystemError> {
    return this.writeStream(Stream.succeed(data))
  }

  /** Creates or replaces the file with this text, encoded as UTF-8. */
  writeText(text: string): Effect.Effect<void, FileSystemError.FileSystemError> {
    return this.writeBytes(encoder.encode(text))
  }
}

const concatBytes = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (chunks.length === 1) return chunks[0]!
  let length = 0
  for (const c of chunks) length += c.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}

/** Bottom-up removal that unlinks links instead of following them. */
const removeTree = (fs: FileSystem, dir: string): Effect.Effect<void, FileSystemError.FileSystemError> =>
  Effect.gen(function*() {
    const entries = yield* fs.readDirectory(dir)
    for (const entry of entries) {
      const child = posix.join(dir, entry.name)
      if (entry.info.type === "Directory") yield* removeTree(fs, child)
      else yield* fs.unlink(child)
    }
    yield* fs.removeDirectory(dir)
  })

/**
 * Whether `u` is a {@link Path}.
 *
 * @since 0.1.0
 * @category guards
 */
export const isPath = (u: unknown): u is Path => u instanceof Path
