/**
 * `LocalFileSystem`: the file system of the machine the program runs on,
 * written on effect's `FileSystem` interface (`effect/FileSystem`), which
 * `@effect/platform-node`'s `NodeFileSystem` implements. Every primitive keeps
 * its POSIX meaning (`lstat` does not follow a final link, `rename` replaces,
 * `mkdir` applies the umask), and every `PlatformError` becomes a
 * `FileSystemError` whose reason follows the errno code, with the path and
 * the operation.
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as EffectFileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as PlatformError from "effect/PlatformError"
import * as Predicate from "effect/Predicate"
import * as Stream from "effect/Stream"
import * as NFS from "node:fs"
import type { EntryType } from "./EntryType.ts"
import * as FileSystem from "./FileSystem.ts"
import * as FileSystemError from "./FileSystemError.ts"
import { makeLocalCopyFile } from "./internal/localCopyFile.ts"
import * as Permission from "./Permission.ts"

/**
 * The chunk size of `readStream` when the caller gives none: large enough
 * that per-chunk overhead vanishes against the copy itself, small enough to
 * keep memory flat.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultChunkSize = 256 * 1024

/** errno codes (and Node's own codes) to reasons; anything else is `Io`. */
const reasonByCode: Readonly<Record<string, FileSystemError.ReasonTag>> = {
  ENOENT: "NotFound",
  EEXIST: "AlreadyExists",
  ENOTDIR: "NotADirectory",
  EISDIR: "IsADirectory",
  ERR_FS_EISDIR: "IsADirectory",
  ENOTEMPTY: "DirectoryNotEmpty",
  EACCES: "PermissionDenied",
  EPERM: "PermissionDenied",
  EROFS: "PermissionDenied",
  ELOOP: "LinkLoop",
  EXDEV: "Unsupported",
  ENOSYS: "Unsupported",
  ENOTSUP: "Unsupported",
  EOPNOTSUPP: "Unsupported"
}

/** Reasons for effect's own normalized tags, used when no errno code is available. */
const reasonBySystemTag: Partial<Record<PlatformError.SystemErrorTag, FileSystemError.ReasonTag>> = {
  NotFound: "NotFound",
  AlreadyExists: "AlreadyExists",
  PermissionDenied: "PermissionDenied"
}

const codeOf = (cause: unknown): string | undefined =>
  Predicate.hasProperty(cause, "code") && Predicate.isString(cause.code) ? cause.code : undefined

/**
 * The `FileSystemError` for a failure of `operation` on `path`. effect's
 * `SystemError` tag lumps `EISDIR`, `ENOTDIR` and `ELOOP` together as
 * `BadResource` and `ENOTEMPTY` as `Unknown`, so the errno code of the
 * underlying Node error decides wherever there is one.
 */
const toError = (operation: string, path: string) => (error: PlatformError.PlatformError | Error) => {
  const reason = "reason" in error ? error.reason : undefined
  const code = codeOf(reason?._tag === "BadArgument" ? undefined : reason?.cause ?? error)
  const tag = (code !== undefined ? reasonByCode[code] : undefined) ??
    (reason !== undefined && reason._tag !== "BadArgument" ? reasonBySystemTag[reason._tag] : undefined) ?? "Io"
  return FileSystemError.make(tag, { path, operation, description: code ?? error.message, cause: error })
}

const entryTypes: Partial<Record<EffectFileSystem.File.Type, EntryType>> = {
  File: "File",
  Directory: "Directory",
  SymbolicLink: "SymbolicLink",
  BlockDevice: "BlockDevice",
  CharacterDevice: "CharacterDevice",
  FIFO: "Fifo",
  Socket: "Socket"
}

const toInfo = (operation: string, path: string) =>
(
  info: EffectFileSystem.File.Info
): Effect.Effect<FileSystem.FileInfo, FileSystemError.FileSystemError> => {
  const type = entryTypes[info.type]
  if (type === undefined) {
    return Effect.fail(FileSystemError.make("Io", {
      path,
      operation,
      description: `unknown entry type (mode 0o${info.mode.toString(8)})`
    }))
  }
  return Effect.succeed({
    type,
    size: Number(info.size),
    mode: info.mode & Permission.mask,
    // Node reports owners on every POSIX system; 0 only stands in where a platform has none.
    uid: Option.getOrElse(info.uid, () => 0),
    gid: Option.getOrElse(info.gid, () => 0),
    mtime: Option.getOrUndefined(info.mtime),
    atime: Option.getOrUndefined(info.atime)
  })
}

/** Every change to the file system is logged at Debug, with what it changed. */
const logChange = (operation: string, annotations: Record<string, unknown>) =>
  Effect.annotateLogs(Effect.logDebug(`local file system: ${operation}`), {
    fileSystem: "local",
    operation,
    ...annotations
  })

/**
 * effect's interface removes directories only through `rm`, which refuses an
 * empty directory unless asked to remove recursively, and a recursive `rm`
 * after an emptiness check would race with writers. So this one primitive
 * calls `rmdir(2)` directly.
 */
const rmdir = (path: string): Effect.Effect<void, Error> =>
  Effect.callback<void, Error>((resume) => {
    NFS.rmdir(path, (error) => resume(error ? Effect.fail(error) : Effect.void))
  })

const typeOfStats = (stats: NFS.Stats): EntryType | undefined =>
  stats.isFile()
    ? "File"
    : stats.isDirectory()
    ? "Directory"
    : stats.isSymbolicLink()
    ? "SymbolicLink"
    : stats.isBlockDevice()
    ? "BlockDevice"
    : stats.isCharacterDevice()
    ? "CharacterDevice"
    : stats.isFIFO()
    ? "Fifo"
    : stats.isSocket()
    ? "Socket"
    : undefined

/** Entries whose `lstat` is in flight at once while a directory is listed. */
const listingConcurrency = 16

/**
 * The entries of a directory with their `lstat` information, as one callback
 * chain: a tree of small files is listed entry by entry, and an effect per
 * entry (effect's `lstat` builds a dozen values per call) cost more than the
 * `lstat` itself.
 */
const listDirectory = (
  path: string
): Effect.Effect<Array<FileSystem.DirectoryEntry>, FileSystemError.FileSystemError> =>
  Effect.callback<Array<FileSystem.DirectoryEntry>, FileSystemError.FileSystemError>((resume) => {
    let stopped = false
    NFS.readdir(path, (error, names) => {
      if (stopped) return
      if (error) return resume(Effect.fail(toError("readDirectory", path)(error)))
      const found: Array<FileSystem.DirectoryEntry | undefined> = new Array(names.length)
      let next = 0
      let pending = 0
      const fail = (e: FileSystemError.FileSystemError) => {
        stopped = true
        resume(Effect.fail(e))
      }
      const start = (): void => {
        while (!stopped && pending < listingConcurrency && next < names.length) {
          const index = next++
          const name = names[index]!
          const child = path === "/" ? `/${name}` : `${path}/${name}`
          pending++
          NFS.lstat(child, (statError, stats) => {
            pending--
            if (stopped) return
            if (statError) {
              // An entry removed between the listing and its lstat is simply no longer there.
              if (statError.code !== "ENOENT") {
                const e = toError("lstat", child)(statError)
                // A directory without search permission lists its names but cannot stat them.
                return fail(
                  e.reason._tag === "PermissionDenied"
                    ? FileSystemError.make("PermissionDenied", {
                      path,
                      operation: "readDirectory",
                      description: e.reason.description,
                      cause: e
                    })
                    : e
                )
              }
            } else {
              const type = typeOfStats(stats)
              if (type === undefined) {
                return fail(FileSystemError.make("Io", {
                  path: child,
                  operation: "lstat",
                  description: `unknown entry type (mode 0o${stats.mode.toString(8)})`
                }))
              }
              found[index] = {
                name,
                info: {
                  type,
                  size: stats.size,
                  mode: stats.mode & Permission.mask,
                  uid: stats.uid,
                  gid: stats.gid,
                  mtime: stats.mtime,
                  atime: stats.atime
                }
              }
            }
            if (pending === 0 && next === names.length) {
              stopped = true
              return resume(Effect.succeed(found.filter((e) => e !== undefined)))
            }
            start()
          })
        }
      }
      if (names.length === 0) return resume(Effect.succeed([]))
      start()
    })
    return Effect.sync(() => {
      stopped = true
    })
  })

/**
 * The local file system as a service. Its shape is the generic `FileSystem`;
 * `LocalFileSystem.layer` provides this tag and `FileSystem` from one instance.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { LocalFileSystem } from "@cerulean/core"
 *
 * const program = Effect.gen(function*() {
 *   const fs = yield* LocalFileSystem
 *   const dir = fs.path("tmp", "demo")
 *   yield* dir.mkdir({ existsOk: true })
 *   yield* dir.join("hello.txt").writeText("Hello World\n")
 *   return yield* Stream.runCollect(dir.iterdir())
 * }).pipe(Effect.provide(LocalFileSystem.layer))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class LocalFileSystem extends Context.Service<LocalFileSystem, FileSystem.FileSystem>()(
  "@cerulean/core/LocalFileSystem"
) {
  /**
   * Builds the local file system on effect's `FileSystem` service.
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly make: Effect.Effect<FileSystem.FileSystem, never, EffectFileSystem.FileSystem> = Effect.gen(
    function*() {
      const efs = yield* EffectFileSystem.FileSystem

      const stat = Effect.fn("LocalFileSystem.stat")(
        function*(path: string) {
          return yield* Effect.flatMap(Effect.mapError(efs.stat(path), toError("stat", path)), toInfo("stat", path))
        }
      )

      const lstat = Effect.fn("LocalFileSystem.lstat")(
        function*(path: string) {
          return yield* Effect.flatMap(Effect.mapError(efs.lstat(path), toError("lstat", path)), toInfo("lstat", path))
        }
      )

      const readDirectory = Effect.fn("LocalFileSystem.readDirectory")(
        function*(path: string) {
          return yield* listDirectory(path)
        }
      )

      const makeDirectory = Effect.fn("LocalFileSystem.makeDirectory")(
        function*(path: string, mode: number | undefined) {
          yield* logChange("mkdir", { path, mode })
          yield* Effect.mapError(
            efs.makeDirectory(path, { mode: (mode ?? 0o777) & Permission.mask }),
            toError("makeDirectory", path)
          )
        }
      )

      const removeDirectory = Effect.fn("LocalFileSystem.removeDirectory")(
        function*(path: string) {
          yield* logChange("rmdir", { path })
          yield* Effect.mapError(rmdir(path), toError("removeDirectory", path))
        }
      )

      const unlink = Effect.fn("LocalFileSystem.unlink")(
        function*(path: string) {
          yield* logChange("unlink", { path })
          // `rm` without `recursive` lstat()s first: links are removed, not followed, and a
          // directory is refused with ERR_FS_EISDIR.
          yield* Effect.mapError(efs.remove(path), toError("unlink", path))
        }
      )

      const touch = Effect.fn("LocalFileSystem.touch")(
        function*(path: string) {
          // The kernel stamps a new file with the wall clock, so an existing one must get the
          // wall clock too (not a test clock), or touched and created files would disagree.
          const now = new Date()
          yield* efs.utimes(path, now, now).pipe(
            // utimes first: opening an existing FIFO to create it would block.
            Effect.catchIf(
              (e) => e.reason._tag === "NotFound",
              // Appending nothing creates a missing file (through a dangling link too, as touch(1)).
              () => efs.writeFile(path, new Uint8Array(0), { flag: "a" })
            ),
            Effect.mapError(toError("touch", path))
          )
        }
      )

      const rename = Effect.fn("LocalFileSystem.rename")(
        function*(from: string, to: string) {
          yield* logChange("rename", { path: from, to })
          yield* Effect.mapError(efs.rename(from, to), toError("rename", from))
        }
      )

      const symlink = Effect.fn("LocalFileSystem.symlink")(
        function*(path: string, target: string) {
          yield* logChange("symlink", { path, target })
          // effect's argument order is symlink(target, linkPath), as in symlink(2).
          yield* Effect.mapError(efs.symlink(target, path), toError("symlink", path))
        }
      )

      const readLink = Effect.fn("LocalFileSystem.readLink")(
        function*(path: string) {
          return yield* Effect.mapError(efs.readLink(path), toError("readLink", path))
        }
      )

      const chmod = Effect.fn("LocalFileSystem.chmod")(
        function*(path: string, mode: number) {
          yield* logChange("chmod", { path, mode: `0o${mode.toString(8)}` })
          yield* Effect.mapError(efs.chmod(path, mode & Permission.mask), toError("chmod", path))
        }
      )

      const readStream = (path: string, options?: FileSystem.ReadStreamOptions) =>
        efs.stream(path, { chunkSize: options?.chunkSize ?? defaultChunkSize }).pipe(
          Stream.mapError(toError("readStream", path)),
          Stream.withSpan("LocalFileSystem.readStream", { attributes: { path } })
        )

      const writeStream = <E>(
        path: string,
        data: Stream.Stream<Uint8Array, E>,
        options?: FileSystem.WriteStreamOptions
      ): Effect.Effect<void, FileSystemError.FileSystemError | E> =>
        Effect.gen(function*() {
          yield* logChange("write", { path })
          const file = yield* Effect.mapError(
            efs.open(path, { flag: "w", mode: (options?.mode ?? 0o666) & Permission.mask }),
            toError("writeStream", path)
          )
          // One chunk in flight at a time: the source is pulled only after the previous write
          // completed, which is the back-pressure that keeps memory flat for any file size.
          yield* Stream.runForEach(data, (chunk) => Effect.mapError(file.writeAll(chunk), toError("writeStream", path)))
        }).pipe(Effect.scoped, Effect.withSpan("LocalFileSystem.writeStream", { attributes: { path } }))

      // copy's fast path for a local-to-local file copy: the kernel copies, no data through JavaScript.
      const copyFile = yield* makeLocalCopyFile(efs, toError)

      return FileSystem.make({
        protocol: "local",
        // Every LocalFileSystem is the same file system (Cerulean: LocalFileSystem equals any LocalFileSystem).
        location: "localhost",
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
        writeStream,
        copyFile
      })
    }
  )

  /**
   * The local file system, needing an effect `FileSystem` implementation
   * (for example `NodeFileSystem.layer` or `NodeServices.layer`).
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerNoDeps: Layer.Layer<
    LocalFileSystem | FileSystem.FileSystem,
    never,
    EffectFileSystem.FileSystem
  > = Layer.effectContext(
    Effect.map(
      LocalFileSystem.make,
      (fs) => Context.make(LocalFileSystem, fs).pipe(Context.add(FileSystem.FileSystem, fs))
    )
  )

  /**
   * The local file system on Node's `node:fs`, provided as both
   * `LocalFileSystem` and `FileSystem`.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer: Layer.Layer<LocalFileSystem | FileSystem.FileSystem> = LocalFileSystem.layerNoDeps.pipe(
    Layer.provide(NodeFileSystem.layer)
  )
}
