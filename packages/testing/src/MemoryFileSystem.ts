/**
 * `MemoryFileSystem`: a complete POSIX-like file system in memory, for
 * users' own tests. It has directories, files, symbolic links (relative and
 * absolute, chains, loops, links in the middle of paths, `..` resolved
 * physically after a link as the kernel does), permission bits with an
 * optional check against a configurable user, owners, modification times
 * (from effect's `Clock`, so `TestClock` controls them), FIFOs and devices
 * (made with the test-only {@link MemoryFileSystem.mknod}), and a umask.
 * It passes the same contract suite as `LocalFileSystem` and fails with the
 * same `FileSystemError` reasons.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import type { Path } from "@cerulean/core/Path"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"

/**
 * Settings of one {@link MemoryFileSystem}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Bits cleared from the mode of every new entry (default `0o022`). */
  readonly umask?: number | undefined
  /** The user the file system acts as: owner of new entries, subject of permission checks (default 1000). */
  readonly uid?: number | undefined
  /** The group of new entries (default 1000). */
  readonly gid?: number | undefined
  /**
   * Check permission bits as the kernel does for a non-root user: search
   * permission on every directory passed through, read permission to list a
   * directory or read a file, write and search permission on a directory to
   * change its entries, ownership for `chmod`. Off by default, which behaves
   * like root. With `uid: 0` checks always pass, as for root.
   */
  readonly enforcePermissions?: boolean | undefined
}

/**
 * The settings of a {@link MemoryFileSystem}, defaults filled in.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly umask: number
  readonly uid: number
  readonly gid: number
  readonly enforcePermissions: boolean
}

/**
 * The kinds of special entry {@link MemoryFileSystem.mknod} can create.
 *
 * @since 0.1.0
 * @category models
 */
export type SpecialType = "Fifo" | "CharacterDevice" | "BlockDevice" | "Socket"

/**
 * The type id of memory file systems.
 *
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId: TypeId = "~@cerulean/testing/MemoryFileSystem"

/**
 * The type id of memory file systems.
 *
 * @since 0.1.0
 * @category type IDs
 */
export type TypeId = "~@cerulean/testing/MemoryFileSystem"

/**
 * A memory file system: a `FileSystem` plus test-only operations that the
 * `Path` API does not have.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryFileSystemShape extends FileSystem.FileSystem {
  readonly [TypeId]: TypeId
  /** The settings in effect, defaults filled in. */
  readonly options: Settings
  /** Creates a FIFO, as `mkfifo(3)`: the umask applies, `AlreadyExists` if anything is there. */
  readonly mkfifo: (path: string, mode?: number) => Effect.Effect<void, FileSystemError.FileSystemError>
  /** Creates a FIFO, device or socket entry, as `mknod(2)`. */
  readonly mknod: (
    path: string,
    type: SpecialType,
    mode?: number
  ) => Effect.Effect<void, FileSystemError.FileSystemError>
  /**
   * Changes the owner of an entry (following links) as root's `chown(2)`
   * would, whatever the settings: a test sets up entries owned by others with it.
   */
  readonly chown: (path: string, uid: number, gid: number) => Effect.Effect<void, FileSystemError.FileSystemError>
}

// ---------------------------------------------------------------------------- the tree

interface Base {
  mode: number
  uid: number
  gid: number
  mtime: number
  atime: number
}

interface DirectoryNode extends Base {
  readonly kind: "Directory"
  readonly entries: Map<string, Inode>
}

interface FileNode extends Base {
  readonly kind: "File"
  /** Capacity may exceed `size`; bytes past `size` are garbage. */
  data: Uint8Array
  size: number
}

interface LinkNode extends Base {
  readonly kind: "SymbolicLink"
  readonly target: string
}

interface SpecialNode extends Base {
  readonly kind: SpecialType
}

type Inode = DirectoryNode | FileNode | LinkNode | SpecialNode

/** What path resolution found: the directory chain down to the parent, the final name and its entry. */
interface Located {
  /** Directories from the root down to the one holding `name`; for the root itself (or a final `..`), down to it. */
  readonly chain: ReadonlyArray<DirectoryNode>
  /** The final name; `""` when the path names the root or ends in `..` (no entry to create or remove). */
  readonly name: string
  readonly node: Inode | undefined
}

type Errno =
  | "ENOENT"
  | "EEXIST"
  | "ENOTDIR"
  | "EISDIR"
  | "ENOTEMPTY"
  | "EACCES"
  | "EPERM"
  | "ELOOP"
  | "EINVAL"
  | "EBUSY"

const reasonOf: Readonly<Record<Errno, FileSystemError.ReasonTag>> = {
  ENOENT: "NotFound",
  EEXIST: "AlreadyExists",
  ENOTDIR: "NotADirectory",
  EISDIR: "IsADirectory",
  ENOTEMPTY: "DirectoryNotEmpty",
  EACCES: "PermissionDenied",
  EPERM: "PermissionDenied",
  ELOOP: "LinkLoop",
  EINVAL: "Io",
  EBUSY: "Io"
}

class Failure {
  readonly errno: Errno
  constructor(errno: Errno) {
    this.errno = errno
  }
}

/** Linux's limit on links followed in one path resolution. */
const maxLinks = 40

const pathSegments = (path: string): Array<string> => path.split("/").filter((s) => s !== "" && s !== ".")

const byteLength = (text: string): number => new TextEncoder().encode(text).length

const R = 4
const W = 2
const X = 1

let instances = 0

/**
 * Builds a memory file system synchronously (for module-level test values);
 * {@link MemoryFileSystem.make} is the effectful form.
 */
const makeUnsafe = (options: Options = {}): MemoryFileSystemShape => {
  const settings: Settings = {
    umask: options.umask ?? 0o022,
    uid: options.uid ?? 1000,
    gid: options.gid ?? 1000,
    enforcePermissions: options.enforcePermissions ?? false
  }
  const { gid, uid, umask } = settings
  const checks = settings.enforcePermissions && uid !== 0
  // The random part keeps two copies of this module (two bundles, two vitest workers) from
  // handing out equal locations.
  const location = `memory-${++instances}-${randomUUID().slice(0, 8)}`

  const root: DirectoryNode = { kind: "Directory", entries: new Map(), mode: 0o755, uid, gid, mtime: 0, atime: 0 }

  const allowed = (node: Inode, want: number): boolean => {
    if (!checks) return true
    const bits = node.uid === uid ? node.mode >> 6 : node.gid === gid ? node.mode >> 3 : node.mode
    return (bits & want) === want
  }

  /** The sticky bit lets only the owners of an entry or of the directory remove or rename it. */
  const stickyAllows = (dir: DirectoryNode, node: Inode): boolean =>
    !checks || (dir.mode & 0o1000) === 0 || node.uid === uid || dir.uid === uid

  /**
   * Resolves `segments` starting at the directory chain `start`, following
   * links in the middle of the path always and a final link only when
   * `followFinal` is set. `hops` counts links across nested resolutions.
   */
  const walk = (
    start: ReadonlyArray<DirectoryNode>,
    segments: ReadonlyArray<string>,
    followFinal: boolean,
    hops: { n: number }
  ): Located | Failure => {
    let chain = [...start]
    if (segments.length === 0) return { chain, name: "", node: chain[chain.length - 1] }
    for (let i = 0; i < segments.length; i++) {
      const dir = chain[chain.length - 1]!
      if (!allowed(dir, X)) return new Failure("EACCES")
      const name = segments[i]!
      const last = i === segments.length - 1
      if (name === "..") {
        if (chain.length > 1) chain.pop()
        if (last) return { chain, name: "", node: chain[chain.length - 1] }
        continue
      }
      const child = dir.entries.get(name)
      if (child === undefined) return last ? { chain, name, node: undefined } : new Failure("ENOENT")
      if (child.kind === "SymbolicLink" && (!last || followFinal)) {
        if (++hops.n > maxLinks) return new Failure("ELOOP")
        if (child.target === "") return new Failure("ENOENT")
        const found = walk(child.target.startsWith("/") ? [root] : chain, pathSegments(child.target), true, hops)
        if (found instanceof Failure || last) return found
        if (found.node === undefined) return new Failure("ENOENT")
        if (found.node.kind !== "Directory") return new Failure("ENOTDIR")
        chain = found.name === "" ? [...found.chain] : [...found.chain, found.node]
        continue
      }
      if (last) return { chain, name, node: child }
      if (child.kind !== "Directory") return new Failure("ENOTDIR")
      chain.push(child)
    }
    return new Failure("EINVAL")
  }

  const locate = (path: string, followFinal: boolean): Located | Failure =>
    walk([root], pathSegments(path), followFinal, { n: 0 })

  const fail = (operation: string, path: string, errno: Errno) =>
    Effect.fail(FileSystemError.make(reasonOf[errno], { path, operation, description: errno }))

  /** Runs a synchronous operation on the tree at the current `Clock` time, turning a `Failure` into its error. */
  const run = <A>(operation: string, path: string, f: (now: number) => A | Failure) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const result = f(now)
      return result instanceof Failure ? fail(operation, path, result.errno) : Effect.succeed(result)
    })

  const parentOf = (at: Located): DirectoryNode => at.chain[at.chain.length - 1]!

  const info = (node: Inode): FileSystem.FileInfo => ({
    type: node.kind,
    size: node.kind === "File"
      ? node.size
      : node.kind === "Directory"
      ? 4096
      : node.kind === "SymbolicLink"
      ? byteLength(node.target)
      : 0,
    mode: node.mode & 0o7777,
    uid: node.uid,
    gid: node.gid,
    mtime: new Date(node.mtime),
    atime: new Date(node.atime)
  })

  const statOf = (at: Located | Failure): FileSystem.FileInfo | Failure => {
    if (at instanceof Failure) return at
    return at.node === undefined ? new Failure("ENOENT") : info(at.node)
  }

  /** Adds a new entry where `at` points, checking what `creat`/`mkdir`/`symlink` check. */
  const create = (at: Located, node: Inode, now: number): Inode | Failure => {
    if (at.node !== undefined || at.name === "") return new Failure("EEXIST")
    const parent = parentOf(at)
    if (!allowed(parent, W | X)) return new Failure("EACCES")
    parent.entries.set(at.name, node)
    parent.mtime = now
    return node
  }

  /** Attributes of a new entry: the umask applies, and a set-gid directory passes on its group. */
  const fresh = (at: Located, mode: number, now: number): Base => {
    const parent = parentOf(at)
    const inherit = (parent.mode & 0o2000) !== 0
    return { mode: mode & ~umask & 0o7777, uid, gid: inherit ? parent.gid : gid, mtime: now, atime: now }
  }

  const stat = Effect.fn("MemoryFileSystem.stat")(function*(path: string) {
    return yield* run("stat", path, () => statOf(locate(path, true)))
  })

  const lstat = Effect.fn("MemoryFileSystem.lstat")(function*(path: string) {
    return yield* run("lstat", path, () => statOf(locate(path, false)))
  })

  const readDirectory = Effect.fn("MemoryFileSystem.readDirectory")(function*(path: string) {
    return yield* run("readDirectory", path, (now): ReadonlyArray<FileSystem.DirectoryEntry> | Failure => {
      const at = locate(path, true)
      if (at instanceof Failure) return at
      if (at.node === undefined) return new Failure("ENOENT")
      if (at.node.kind !== "Directory") return new Failure("ENOTDIR")
      // Listing names needs read permission; the lstat information of each entry needs search
      // permission, as a LocalFileSystem listing (readdir, then lstat per entry) does.
      if (!allowed(at.node, R)) return new Failure("EACCES")
      if (at.node.entries.size > 0 && !allowed(at.node, X)) return new Failure("EACCES")
      at.node.atime = now
      return [...at.node.entries].map(([name, node]) => ({ name, info: info(node) }))
    })
  })

  const makeDirectory = Effect.fn("MemoryFileSystem.makeDirectory")(function*(path: string, mode: number | undefined) {
    yield* run("makeDirectory", path, (now) => {
      const at = locate(path, false)
      if (at instanceof Failure) return at
      const attributes = fresh(at, (mode ?? 0o777) & 0o1777, now)
      const parent = parentOf(at)
      if ((parent.mode & 0o2000) !== 0) attributes.mode |= 0o2000
      return create(at, { kind: "Directory", entries: new Map(), ...attributes }, now)
    })
  })

  /** Checks shared by `rmdir`, `unlink` and both ends of `rename`: write access to the directory, the sticky bit. */
  const mayRemove = (at: Located): Failure | undefined => {
    const parent = parentOf(at)
    if (!allowed(parent, W | X)) return new Failure("EACCES")
    if (at.node !== undefined && !stickyAllows(parent, at.node)) return new Failure("EPERM")
    return undefined
  }

  const removeDirectory = Effect.fn("MemoryFileSystem.removeDirectory")(function*(path: string) {
    yield* run("removeDirectory", path, (now) => {
      const at = locate(path, false)
      if (at instanceof Failure) return at
      if (at.node === undefined) return new Failure("ENOENT")
      if (at.name === "") return new Failure("EBUSY")
      const denied = mayRemove(at)
      if (denied) return denied
      if (at.node.kind !== "Directory") return new Failure("ENOTDIR")
      if (at.node.entries.size > 0) return new Failure("ENOTEMPTY")
      const parent = parentOf(at)
      parent.entries.delete(at.name)
      parent.mtime = now
      return undefined
    })
  })

  const unlink = Effect.fn("MemoryFileSystem.unlink")(function*(path: string) {
    yield* run("unlink", path, (now) => {
      const at = locate(path, false)
      if (at instanceof Failure) return at
      if (at.node === undefined) return new Failure("ENOENT")
      if (at.name === "" || at.node.kind === "Directory") return new Failure("EISDIR")
      const denied = mayRemove(at)
      if (denied) return denied
      const parent = parentOf(at)
      parent.entries.delete(at.name)
      parent.mtime = now
      return undefined
    })
  })

  const touch = Effect.fn("MemoryFileSystem.touch")(function*(path: string) {
    yield* run("touch", path, (now) => {
      const at = locate(path, true)
      if (at instanceof Failure) return at
      if (at.node !== undefined) {
        // Setting the times to "now" needs ownership or write permission, as utimensat(2) with UTIME_NOW.
        if (checks && at.node.uid !== uid && !allowed(at.node, W)) return new Failure("EACCES")
        at.node.mtime = now
        at.node.atime = now
        return undefined
      }
      return create(at, { kind: "File", data: new Uint8Array(0), size: 0, ...fresh(at, 0o666, now) }, now)
    })
  })

  const rename = Effect.fn("MemoryFileSystem.rename")(function*(from: string, to: string) {
    yield* run("rename", from, (now) => {
      const source = locate(from, false)
      if (source instanceof Failure) return source
      if (source.node === undefined) return new Failure("ENOENT")
      const target = locate(to, false)
      if (target instanceof Failure) return target
      if (source.name === "" || target.name === "") return new Failure("EBUSY")
      const denied = mayRemove(source) ?? mayRemove(target)
      if (denied) return denied
      if (target.node === source.node) return undefined
      if (source.node.kind === "Directory") {
        // A directory cannot move below itself.
        if (target.chain.includes(source.node)) return new Failure("EINVAL")
        if (target.node !== undefined) {
          if (target.node.kind !== "Directory") return new Failure("ENOTDIR")
          if (target.node.entries.size > 0) return new Failure("ENOTEMPTY")
        }
      } else if (target.node?.kind === "Directory") {
        return new Failure("EISDIR")
      }
      const sourceParent = parentOf(source)
      const targetParent = parentOf(target)
      sourceParent.entries.delete(source.name)
      targetParent.entries.set(target.name, source.node)
      sourceParent.mtime = now
      targetParent.mtime = now
      return undefined
    })
  })

  const symlink = Effect.fn("MemoryFileSystem.symlink")(function*(path: string, target: string) {
    yield* run("symlink", path, (now) => {
      const at = locate(path, false)
      if (at instanceof Failure) return at
      if (target === "") return new Failure("ENOENT")
      // Links are always 0o777; the umask does not apply to them.
      return create(at, { kind: "SymbolicLink", target, mode: 0o777, uid, gid, mtime: now, atime: now }, now)
    })
  })

  const readLink = Effect.fn("MemoryFileSystem.readLink")(function*(path: string) {
    return yield* run("readLink", path, (): string | Failure => {
      const at = locate(path, false)
      if (at instanceof Failure) return at
      if (at.node === undefined) return new Failure("ENOENT")
      return at.node.kind === "SymbolicLink" ? at.node.target : new Failure("EINVAL")
    })
  })

  const chmod = Effect.fn("MemoryFileSystem.chmod")(function*(path: string, mode: number) {
    yield* run("chmod", path, () => {
      const at = locate(path, true)
      if (at instanceof Failure) return at
      if (at.node === undefined) return new Failure("ENOENT")
      if (checks && at.node.uid !== uid) return new Failure("EPERM")
      // Like the kernel, drop set-gid for a non-root user outside the file's group.
      const sgid = checks && at.node.gid !== gid ? ~0o2000 : ~0
      at.node.mode = mode & 0o7777 & sgid
      return undefined
    })
  })

  /** Opens `path` for reading: the entry it resolves to, after the checks of `open(O_RDONLY)`. */
  const openRead = (path: string) =>
    run("readStream", path, (now): Inode | Failure => {
      const at = locate(path, true)
      if (at instanceof Failure) return at
      if (at.node === undefined) return new Failure("ENOENT")
      if (at.node.kind === "Directory") return new Failure("EISDIR")
      if (!allowed(at.node, R)) return new Failure("EACCES")
      at.node.atime = now
      return at.node
    })

  const readStream = (path: string, options?: FileSystem.ReadStreamOptions) => {
    const chunkSize = Math.max(1, options?.chunkSize ?? 256 * 1024)
    return Stream.unwrap(Effect.map(openRead(path), (node) =>
      // Reads the live file at each pull, as a descriptor would: a FIFO or device yields nothing.
      Stream.unfold(0, (offset) =>
        Effect.sync(() =>
          node.kind !== "File" || offset >= node.size
            ? undefined
            : [node.data.slice(offset, Math.min(node.size, offset + chunkSize)), offset + chunkSize] as const
        ))))
      .pipe(Stream.withSpan("MemoryFileSystem.readStream", { attributes: { path } }))
  }

  /** Opens `path` for writing: creates the file (umask applies) or truncates an existing one. */
  const openWrite = (path: string, mode: number | undefined) =>
    run("writeStream", path, (now): Inode | Failure => {
      const at = locate(path, true)
      if (at instanceof Failure) return at
      if (at.node === undefined) {
        return create(at, { kind: "File", data: new Uint8Array(0), size: 0, ...fresh(at, mode ?? 0o666, now) }, now)
      }
      if (at.node.kind === "Directory") return new Failure("EISDIR")
      if (!allowed(at.node, W)) return new Failure("EACCES")
      if (at.node.kind === "File") {
        at.node.data = new Uint8Array(0)
        at.node.size = 0
      }
      at.node.mtime = now
      return at.node
    })

  const append = (node: Inode, chunk: Uint8Array, now: number) => {
    if (node.kind !== "File") return
    const needed = node.size + chunk.length
    if (needed > node.data.length) {
      const grown = new Uint8Array(Math.max(needed, node.data.length * 2, 4096))
      grown.set(node.data.subarray(0, node.size))
      node.data = grown
    }
    node.data.set(chunk, node.size)
    node.size = needed
    node.mtime = now
  }

  const writeStream = <E>(
    path: string,
    data: Stream.Stream<Uint8Array, E>,
    options?: FileSystem.WriteStreamOptions
  ): Effect.Effect<void, FileSystemError.FileSystemError | E> =>
    Effect.flatMap(openWrite(path, options?.mode), (node) =>
      Stream.runForEach(data, (chunk) => Effect.map(Clock.currentTimeMillis, (now) => append(node, chunk, now))))
      .pipe(Effect.withSpan("MemoryFileSystem.writeStream", { attributes: { path } }))

  const mknod = Effect.fn("MemoryFileSystem.mknod")(function*(path: string, type: SpecialType, mode?: number) {
    yield* run("mknod", path, (now) => {
      const at = locate(path, false)
      if (at instanceof Failure) return at
      return create(at, { kind: type, ...fresh(at, mode ?? 0o666, now) }, now)
    })
  })

  const chown = Effect.fn("MemoryFileSystem.chown")(function*(path: string, newUid: number, newGid: number) {
    yield* run("chown", path, () => {
      const at = locate(path, true)
      if (at instanceof Failure) return at
      if (at.node === undefined) return new Failure("ENOENT")
      at.node.uid = newUid
      at.node.gid = newGid
      return undefined
    })
  })

  const fs = FileSystem.make({
    protocol: "memory",
    location,
    features: { symlinks: true, permissions: true, devices: true, atomicRename: true },
    stat,
    lstat,
    readDirectory,
    makeDirectory,
    removeDirectory,
    unlink,
    touch,
    rename,
    symlink,
    readLink,
    chmod,
    readStream,
    writeStream
  })
  const extras: Omit<MemoryFileSystemShape, keyof FileSystem.FileSystem> = {
    [TypeId]: TypeId,
    options: settings,
    mkfifo: (path, mode) => mknod(path, "Fifo", mode),
    mknod,
    chown
  }
  // Assigned onto the made object (not spread) so that its `root` getter keeps working.
  return Object.assign(fs, extras)
}

/**
 * Whether `u` is a memory file system.
 *
 * @since 0.1.0
 * @category guards
 */
export const isMemoryFileSystem = (u: unknown): u is MemoryFileSystemShape =>
  typeof u === "object" && u !== null && TypeId in u

const onMemory = (
  path: Path,
  operation: string,
  f: (fs: MemoryFileSystemShape) => Effect.Effect<void, FileSystemError.FileSystemError>
) =>
  isMemoryFileSystem(path.fs)
    ? f(path.fs)
    : Effect.fail(FileSystemError.make("Unsupported", {
      path: path.path,
      operation,
      description: `${path.fs.protocol} is not a MemoryFileSystem`
    }))

const absolute = (path: Path) => FileSystem.normalizePath(path.path)

/**
 * An in-memory file system as a service. Its layers provide this tag and
 * the generic `FileSystem` from one instance; every `make` (and every build
 * of a layer) is a new, empty, independent file system with its own
 * `location`, so two of them are never `equals`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FileSystem } from "@cerulean/core"
 * import { MemoryFileSystem } from "@cerulean/testing"
 *
 * const program = Effect.gen(function*() {
 *   const fs = yield* FileSystem
 *   yield* fs.path("data").mkdir()
 *   yield* fs.path("data", "a.txt").writeText("hello")
 *   return yield* fs.path("data", "a.txt").readText()
 * }).pipe(Effect.provide(MemoryFileSystem.layerWith({ enforcePermissions: true })))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class MemoryFileSystem extends Context.Service<MemoryFileSystem, MemoryFileSystemShape>()(
  "@cerulean/testing/MemoryFileSystem"
) {
  /**
   * A new, empty memory file system, built synchronously.
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly makeUnsafe: (options?: Options) => MemoryFileSystemShape = makeUnsafe

  /**
   * A new, empty memory file system.
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly make = (options?: Options): Effect.Effect<MemoryFileSystemShape> =>
    Effect.sync(() => makeUnsafe(options))

  /**
   * A layer with a new memory file system built from `options`, provided as
   * `MemoryFileSystem` and `FileSystem`.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerWith = (options?: Options): Layer.Layer<MemoryFileSystem | FileSystem.FileSystem> =>
    Layer.effectContext(
      Effect.map(
        MemoryFileSystem.make(options),
        (fs) => Context.make(MemoryFileSystem, fs).pipe(Context.add(FileSystem.FileSystem, fs))
      )
    )

  /**
   * A layer with a new memory file system with the default settings.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer: Layer.Layer<MemoryFileSystem | FileSystem.FileSystem> = MemoryFileSystem.layerWith()

  /**
   * Creates a FIFO at `path`, which must be on a memory file system
   * (`Unsupported` otherwise). The `Path` API has no way to make one.
   *
   * @since 0.1.0
   * @category combinators
   */
  static readonly mkfifo = (path: Path, mode?: number): Effect.Effect<void, FileSystemError.FileSystemError> =>
    onMemory(path, "mkfifo", (fs) => fs.mkfifo(absolute(path), mode))

  /**
   * Creates a FIFO, device or socket entry at `path` on a memory file system.
   *
   * @since 0.1.0
   * @category combinators
   */
  static readonly mknod = (
    path: Path,
    type: SpecialType,
    mode?: number
  ): Effect.Effect<void, FileSystemError.FileSystemError> =>
    onMemory(path, "mknod", (fs) => fs.mknod(absolute(path), type, mode))

  /**
   * Changes the owner of the entry at `path` on a memory file system, as
   * root would (permission checks do not apply to this test helper).
   *
   * @since 0.1.0
   * @category combinators
   */
  static readonly chown = (
    path: Path,
    uid: number,
    gid: number
  ): Effect.Effect<void, FileSystemError.FileSystemError> =>
    onMemory(path, "chown", (fs) => fs.chown(absolute(path), uid, gid))
}
