/**
 * The file-system contract. A `FileSystem` is a value (so `copy` can hold two
 * at once) and also a service tag for dependency injection. Implementations
 * supply a small set of primitives on absolute POSIX path strings (a
 * {@link Backend}); {@link make} turns them into a `FileSystem`, and every
 * `Path` member is built on those primitives with the same semantics on
 * every backend.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Context from "effect/Context"
import type * as Stream from "effect/Stream"
import type { EntryType } from "./EntryType.ts"
import type { FileSystemError } from "./FileSystemError.ts"
import * as posix from "./internal/posixPath.ts"
import { Path } from "./Path.ts"

/**
 * What `stat` tells about an entry.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileInfo {
  readonly type: EntryType
  /** Size in bytes (0 where the backend does not say). */
  readonly size: number
  /** The twelve permission bits (`mode & 0o7777`). */
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly mtime: Date | undefined
  readonly atime: Date | undefined
}

/**
 * One entry of a directory listing, with its `lstat` information.
 *
 * @since 0.1.0
 * @category models
 */
export interface DirectoryEntry {
  readonly name: string
  readonly info: FileInfo
}

/**
 * What a file system supports. `copy` consults these to decide, for example,
 * whether links can be recreated or whether a temporary name can be renamed
 * into place.
 *
 * @since 0.1.0
 * @category models
 */
export interface Features {
  readonly symlinks: boolean
  readonly permissions: boolean
  readonly devices: boolean
  /** `rename` replaces an existing target atomically. */
  readonly atomicRename: boolean
}

/**
 * Options of {@link Backend.readStream}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadStreamOptions {
  /** Preferred chunk size in bytes; backends may deliver other sizes. */
  readonly chunkSize?: number | undefined
}

/**
 * Options of {@link Backend.writeStream}.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteStreamOptions {
  /** The permission bits to create a new file with (before the umask); existing files keep theirs. */
  readonly mode?: number | undefined
}

/**
 * Options of the optional fast-path hooks {@link Backend.copyFile},
 * {@link Backend.sendTo} and {@link Backend.receiveFrom}, which `copy` uses in
 * place of its own `readStream` → `writeStream` pipe.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransferOptions {
  /**
   * The permission bits to create the new file with (before the umask), as
   * {@link WriteStreamOptions.mode}. `copy` sets the final mode with one
   * `chmod` afterwards unless the hook calls {@link onCreatedWithMode}, so a
   * hook that cannot honour this (a server-side copy that clones the
   * source's mode) still gives the right result.
   */
  readonly mode?: number | undefined
  /**
   * Called by a hook that created `to` new (an exclusive create, nothing
   * was there) with {@link mode}, so that its permission bits are `mode`
   * less the target's umask, as for a new file of `writeStream`. `copy` then
   * spares its `chmod` when those are the final bits. A hook that truncated
   * an existing file, or cannot tell, does not call it.
   */
  readonly onCreatedWithMode?: (() => void) | undefined
  /**
   * The file's final name, for a hook that can put the file there itself
   * (saving its caller a request): once `to` is complete (created new with
   * {@link mode}, every byte written and the file closed without error) the
   * hook renames it to `renameTo` (replacing a non-directory there, as
   * `rename`) and calls {@link onRenamed}. A hook that cannot, or whose
   * rename fails, leaves `to` in place without an error, for the caller to
   * rename (and report a failure). Never given for a file whose mode must
   * still change after the transfer.
   */
  readonly renameTo?: string | undefined
  /** Called by a hook that renamed the file to {@link renameTo}. */
  readonly onRenamed?: (() => void) | undefined
  /** Preferred chunk size in bytes for a hook that moves data through the client. */
  readonly chunkSize?: number | undefined
  /**
   * The size of the source file when the copy was planned: a hint (the file
   * may have changed since), which spares a hook a `stat`.
   */
  readonly size?: number | undefined
  /**
   * How often the caller samples progress: a hook that learns progress by
   * polling (the size of a file another process writes) polls at this rate.
   */
  readonly progressInterval?: Duration.Duration | undefined
  /**
   * Called with the number of bytes written since the previous call (not a
   * running total), as the data lands; `copy` turns these into its progress
   * elements. A hook that learns nothing until the end (a server-side copy)
   * calls it once with the file's size.
   */
  readonly onProgress?: ((bytes: number) => void) | undefined
}

/**
 * One file of a batch transfer ({@link Backend.sendManyTo},
 * {@link Backend.receiveManyFrom}): `from` on the source, written to the
 * new file `to` on the target, with the meaning of {@link TransferOptions}
 * for `mode`, `renameTo` and `size`.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchFile {
  readonly from: string
  readonly to: string
  /** The size of `from` when the copy was planned (a hint: it may have changed since). */
  readonly size: number
  readonly mode?: number | undefined
  readonly renameTo?: string | undefined
}

/**
 * How a file of a batch ended, when it ended without error.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchOutcome {
  /**
   * `false`: the hook left this file alone (too large for it, something in
   * the way) and nothing of it is at `to`; the caller copies it on its own.
   */
  readonly transferred: boolean
  /** Bytes written. */
  readonly bytes: number
  /** As {@link TransferOptions.onCreatedWithMode}. */
  readonly createdWithMode: boolean
  /** As {@link TransferOptions.onRenamed}: the file is at its `renameTo`. */
  readonly renamed: boolean
}

/**
 * Options of the batch fast paths.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchOptions {
  /** Files in flight at once. */
  readonly concurrency: number
  /** A file is about to be created at its `to` (from here on, something may be there). */
  readonly onStart: (index: number) => void
  /**
   * Bytes of a file written since the previous call, as they land (as
   * {@link TransferOptions.onProgress}); optional for a hook: what a file's
   * `onEnd` counts beyond these is counted then.
   */
  readonly onProgress: (index: number, bytes: number) => void
  /** A file ended without error. */
  readonly onEnd: (index: number, outcome: BatchOutcome) => void
}

/**
 * The primitives an implementation provides. Paths are absolute, normalized
 * POSIX strings. Each primitive fails with a `FileSystemError` whose reason
 * follows the POSIX error it corresponds to.
 *
 * @since 0.1.0
 * @category models
 */
export interface Backend {
  /** `"local"`, `"sftp"`, `"webdav"`, `"memory"`, ... */
  readonly protocol: string
  /** Identifies the file system: two `FileSystem`s with the same protocol and location are equal. */
  readonly location: string
  readonly features: Features
  /** Information about the entry, following symbolic links. */
  readonly stat: (path: string) => Effect.Effect<FileInfo, FileSystemError>
  /** Information about the entry itself, not following a final symbolic link. */
  readonly lstat: (path: string) => Effect.Effect<FileInfo, FileSystemError>
  /** The entries of a directory with their `lstat` information, in one listing where the backend can. */
  readonly readDirectory: (path: string) => Effect.Effect<ReadonlyArray<DirectoryEntry>, FileSystemError>
  /** Creates one directory; its parent must exist. `AlreadyExists` if anything is at the path. */
  readonly makeDirectory: (path: string, mode: number | undefined) => Effect.Effect<void, FileSystemError>
  /** Removes one empty directory. */
  readonly removeDirectory: (path: string) => Effect.Effect<void, FileSystemError>
  /**
   * Removes a directory tree in one operation, never following links, where
   * the backend has such a thing (WebDAV `DELETE`); otherwise `Path.rmdir`
   * walks the tree.
   */
  readonly removeTree?: ((path: string) => Effect.Effect<void, FileSystemError>) | undefined
  /** Removes a non-directory entry (a link itself, not its target). */
  readonly unlink: (path: string) => Effect.Effect<void, FileSystemError>
  /** Creates an empty file, or updates the modification time of an existing one. */
  readonly touch: (path: string) => Effect.Effect<void, FileSystemError>
  /** Renames, replacing an existing non-directory target. */
  readonly rename: (from: string, to: string) => Effect.Effect<void, FileSystemError>
  /** Creates a symbolic link at `path` whose text is `target` (absolute or relative). */
  readonly symlink: (path: string, target: string) => Effect.Effect<void, FileSystemError>
  /** The raw text of a symbolic link. */
  readonly readLink: (path: string) => Effect.Effect<string, FileSystemError>
  /** Sets the twelve permission bits. */
  readonly chmod: (path: string, mode: number) => Effect.Effect<void, FileSystemError>
  /** The content of a file as a stream of chunks, in order. */
  readonly readStream: (path: string, options?: ReadStreamOptions) => Stream.Stream<Uint8Array, FileSystemError>
  /** Creates or truncates the file and writes the stream to it. */
  readonly writeStream: <E>(
    path: string,
    data: Stream.Stream<Uint8Array, E>,
    options?: WriteStreamOptions
  ) => Effect.Effect<void, FileSystemError | E>
  /**
   * Optional fast path: copies the regular file `from` to `to`, both on this
   * file system, without moving the data through the client (WebDAV `COPY`,
   * a server-side `cp` over SSH, `copy_file_range(2)` locally). `copy` uses it
   * when source and target are the same file system (`equals`).
   *
   * Contract: creates or truncates `to` (never following a link there), and
   * fails with a `FileSystemError` rather than leaving a complete-looking
   * file after an error. On interruption it stops promptly; `copy` removes
   * whatever is left at `to`, which is always a temporary name.
   */
  readonly copyFile?:
    | ((from: string, to: string, options?: TransferOptions) => Effect.Effect<void, FileSystemError>)
    | undefined
  /**
   * Optional fast path: this file system's own transfer of its file `from`
   * to the path `to` on another file system `target` (for example SFTP's
   * pipelined download straight into a local file). The hook looks at
   * `target.protocol` (and `location`) and returns `undefined` for pairings
   * it does not handle, in which case `copy` tries `target.receiveFrom` and
   * then its own stream pipe. The contract on `to` is that of
   * {@link copyFile}; bytes are reported through `options.onProgress`.
   */
  readonly sendTo?:
    | ((
      from: string,
      target: Backend,
      to: string,
      options?: TransferOptions
    ) => Effect.Effect<void, FileSystemError> | undefined)
    | undefined
  /**
   * Optional fast path, the mirror of {@link sendTo}: this file system's own
   * transfer of the file `from` on another file system `source` to its path
   * `to` (for example SFTP's pipelined upload of a local file). Returns
   * `undefined` for pairings it does not handle.
   */
  readonly receiveFrom?:
    | ((
      source: Backend,
      from: string,
      to: string,
      options?: TransferOptions
    ) => Effect.Effect<void, FileSystemError> | undefined)
    | undefined
  /**
   * Optional fast path for many files at once: the batch form of
   * {@link sendTo}, which `copy` offers a tree's files before copying them
   * one by one. A tree of small files is bound by the client's work per
   * file, and a batch spares the effect, scope and lease of each. Returns
   * `undefined` for pairings it does not handle.
   *
   * Contract: each file is reported through `options.onStart` before
   * anything is created at its `to`, and through `options.onEnd` once it
   * ended without error (`transferred: false` for a file the hook left
   * alone). On the first error the hook starts no further file and fails
   * once the files in flight have ended; on interruption it stops the same
   * way. `copy` removes the `to` of every file started and not renamed into
   * place.
   */
  readonly sendManyTo?:
    | ((
      files: ReadonlyArray<BatchFile>,
      target: Backend,
      options: BatchOptions
    ) => Effect.Effect<void, FileSystemError> | undefined)
    | undefined
  /** Optional fast path, the mirror of {@link sendManyTo} (the batch form of {@link receiveFrom}). */
  readonly receiveManyFrom?:
    | ((
      source: Backend,
      files: ReadonlyArray<BatchFile>,
      options: BatchOptions
    ) => Effect.Effect<void, FileSystemError> | undefined)
    | undefined
}

/**
 * The type id of {@link FileSystem} values.
 *
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId: TypeId = "~@cerulean/core/FileSystem"

/**
 * The type id of {@link FileSystem} values.
 *
 * @since 0.1.0
 * @category type IDs
 */
export type TypeId = "~@cerulean/core/FileSystem"

/**
 * A file system: its primitives plus the root `Path` and a path builder.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileSystem extends Backend {
  readonly [TypeId]: TypeId
  /** The path `/`. */
  readonly root: Path
  /**
   * A path from the root: `fs.path("home", "user")` is `/home/user`. Like
   * Cerulean's `fs / "home" / "user"`, slashes around each segment are
   * stripped, so every segment is appended.
   */
  readonly path: (...segments: ReadonlyArray<string>) => Path
  /** Same protocol and location. */
  readonly equals: (that: FileSystem) => boolean
}

/**
 * The file system a program works with, for dependency injection. Each
 * implementation's `layer` provides this tag and its own.
 *
 * @since 0.1.0
 * @category services
 */
export const FileSystem: Context.Service<FileSystem, FileSystem> = Context.Service<FileSystem>(
  "@cerulean/core/FileSystem"
)

/**
 * Builds a `FileSystem` from an implementation's primitives.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (backend: Backend): FileSystem => {
  const fs: FileSystem = {
    ...backend,
    [TypeId]: TypeId,
    get root() {
      return new Path(fs, "/")
    },
    path: (...segments) => new Path(fs, "/").join(...segments),
    equals: (that) => that.protocol === backend.protocol && that.location === backend.location
  }
  return fs
}

/**
 * Whether `u` is a {@link FileSystem}.
 *
 * @since 0.1.0
 * @category guards
 */
export const isFileSystem = (u: unknown): u is FileSystem =>
  typeof u === "object" && u !== null && TypeId in u

/**
 * Normalizes a path string the way every backend expects it: absolute, no
 * repeated slashes, no `.` segments.
 *
 * @since 0.1.0
 * @category constructors
 */
export const normalizePath = (path: string): string => posix.normalize(posix.join("/", path))
