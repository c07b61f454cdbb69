/**
 * `copy`: copies a file, a link or a directory tree from one `Path` to
 * another, on the same file system or between any two (local, memory, SFTP,
 * WebDAV), as a `Stream` of {@link CopyProgress} elements. Running the
 * stream performs the copy; interrupting it aborts the copy and removes the
 * temporary file of every transfer in flight.
 *
 * The semantics are Cerulean's `copy` (`overwrite`, `copy_into`,
 * `copy_permissions`) with its known bugs fixed; docs/copy.md lists the
 * differences.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import type { BatchFile, BatchOptions, FileInfo, FileSystem, TransferOptions } from "./FileSystem.ts"
import * as FileSystemError from "./FileSystemError.ts"
import * as posix from "./internal/posixPath.ts"
import { Path } from "./Path.ts"
import * as Permission from "./Permission.ts"

// ---------------------------------------------------------------- options

/**
 * What to do when something already exists where `copy` would create an
 * entry: keep it (`"never"`), replace it (`"always"`) or fail with an
 * `AlreadyExists` reason (`"raise"`).
 *
 * @since 0.1.0
 * @category models
 */
export const Overwrite = Schema.Literals(["never", "always", "raise"])

/**
 * What to do when something already exists where `copy` would create an entry.
 *
 * @since 0.1.0
 * @category models
 */
export type Overwrite = typeof Overwrite.Type

/**
 * Options of {@link copy}.
 *
 * @since 0.1.0
 * @category models
 */
export interface CopyOptions {
  /**
   * What to do with an existing entry at the target (default `"never"`).
   * Directories are merged under `"never"` and `"always"`; under `"never"`
   * existing entries inside them are kept, under `"always"` replaced.
   */
  readonly overwrite?: Overwrite | undefined
  /** When the target is an existing directory, copy to `target/<source name>` (default `true`). */
  readonly copyInto?: boolean | undefined
  /**
   * Give each copy the source's permission bits, set-uid, set-gid and sticky
   * included (default `false`: the target's default for a new entry AND the
   * source's bits, as in Cerulean).
   */
  readonly copyPermissions?: boolean | undefined
  /**
   * Files transferred (and directories listed) at once (default 8). Files a
   * batch fast path moves (small files, a few requests each: see
   * `Backend.sendManyTo`) are kept in flight by `batchConcurrency` when this
   * is not given, by this number when it is.
   */
  readonly concurrency?: number | undefined
  /** Least time between two progress elements while data flows (default 250 ms). */
  readonly progressInterval?: Duration.Input | undefined
  /** Chunk size asked of the source's `readStream` (default 256 KiB). */
  readonly chunkSize?: number | undefined
  /**
   * Use a file system's own transfer where both ends allow it: `copyFile`
   * within one file system, `sendTo` / `receiveFrom` between two (default
   * `true`). With `false` every file goes through `readStream` → `writeStream`.
   */
  readonly fastPaths?: boolean | undefined
}

/**
 * The defaults of {@link CopyOptions}.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  overwrite: "never",
  copyInto: true,
  copyPermissions: false,
  concurrency: 8,
  /**
   * Files in flight in a batch fast path when `concurrency` is not given:
   * a small file costs a few requests and a few KiB of memory, and each
   * waits for two or three round trips, which many files in flight hide.
   */
  batchConcurrency: 64,
  progressInterval: Duration.millis(250),
  chunkSize: 256 * 1024,
  fastPaths: true
} as const

// ----------------------------------------------------------------- errors

/**
 * The options of `copy` were unusable, or the copy makes no sense (a
 * directory into itself). Nothing was written.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>()("InvalidOptions", {
  /** The path the problem concerns. */
  path: Schema.String,
  operation: Schema.String,
  description: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect())
}) {
  override get message() {
    return `InvalidOptions: ${this.operation} ${this.path}${this.description ? `: ${this.description}` : ""}`
  }
}

/**
 * Why a copy failed: one of the `FileSystemError` reasons (each carrying the
 * entry it concerns), or {@link InvalidOptions}.
 *
 * @since 0.1.0
 * @category models
 */
export const CopyErrorReason = Schema.Union([
  FileSystemError.NotFound,
  FileSystemError.AlreadyExists,
  FileSystemError.NotADirectory,
  FileSystemError.IsADirectory,
  FileSystemError.DirectoryNotEmpty,
  FileSystemError.PermissionDenied,
  FileSystemError.LinkLoop,
  FileSystemError.Unsupported,
  FileSystemError.ConnectionLost,
  FileSystemError.Io,
  InvalidOptions
])

/**
 * Why a copy failed.
 *
 * @since 0.1.0
 * @category models
 */
export type CopyErrorReason = typeof CopyErrorReason.Type

/**
 * The error of {@link copy}: the source and target as given, and the reason
 * (`Effect.catchReason("CopyError", "AlreadyExists", ...)` handles one).
 *
 * @since 0.1.0
 * @category errors
 */
export class CopyError extends Schema.TaggedError<CopyError>()("CopyError", {
  source: Schema.String,
  target: Schema.String,
  reason: CopyErrorReason
}) {
  override get message(): string {
    return `copy ${this.source} -> ${this.target}: ${this.reason.message}`
  }
}

// --------------------------------------------------------------- progress

/**
 * Where a copy is: `"Started"` (the first element, with the totals and
 * nothing done), `"Copying"` (while data flows) or `"Done"` (the last
 * element; `bytesDone === bytesTotal` and `filesDone === filesTotal`).
 *
 * @since 0.1.0
 * @category models
 */
export const CopyPhase = Schema.Literals(["Started", "Copying", "Done"])

/**
 * Where a copy is.
 *
 * @since 0.1.0
 * @category models
 */
export type CopyPhase = typeof CopyPhase.Type

/**
 * One element of the {@link copy} stream. Totals count what will actually be
 * transferred: regular files (a link that is copied as its content counts as
 * a file), not entries kept under `overwrite: "never"` nor skipped ones.
 *
 * @since 0.1.0
 * @category models
 */
export class CopyProgress extends Schema.Class<CopyProgress>("@cerulean/core/CopyProgress")({
  phase: CopyPhase,
  /** Bytes written so far. Never decreases. */
  bytesDone: Schema.Number,
  /** Bytes to write in all; adjusted if a file changes size while it is copied. */
  bytesTotal: Schema.Number,
  /** Regular files completed (renamed into place). */
  filesDone: Schema.Number,
  filesTotal: Schema.Number,
  /** Entries left alone: existing ones under `"never"`, broken links, FIFOs, devices, sockets. */
  skipped: Schema.Number,
  /** The source path of the file being copied (the copy's source at the start and the end). */
  currentPath: Schema.String
}) {
  /** Whether this is the last element. */
  get done(): boolean {
    return this.phase === "Done"
  }

  /** `bytesDone / bytesTotal`, between 0 and 1 (1 for an empty copy that is done). */
  get fraction(): number {
    if (this.bytesTotal === 0) return this.done ? 1 : 0
    return Math.min(1, this.bytesDone / this.bytesTotal)
  }
}

/** Mutable counters shared by the transfers and the progress sampler. */
class Tracker {
  bytesDone = 0
  bytesTotal: number
  filesDone = 0
  readonly filesTotal: number
  readonly skipped: number
  current: string
  private version = 0
  private emitted = -1

  constructor(plan: Plan, root: string) {
    this.bytesTotal = plan.bytes
    this.filesTotal = plan.files.length
    this.skipped = plan.skipped
    this.current = root
  }

  add(bytes: number): void {
    this.bytesDone += bytes
    this.version++
  }

  start(path: string): void {
    this.current = path
    this.version++
  }

  /** A file is in place: its actual size replaces the planned one in the total. */
  finish(planned: number, actual: number): void {
    this.bytesTotal += actual - planned
    this.filesDone++
    this.version++
  }

  changed(): boolean {
    return this.version !== this.emitted
  }

  snapshot(phase: CopyPhase, currentPath?: string): CopyProgress {
    this.emitted = this.version
    return new CopyProgress({
      phase,
      bytesDone: this.bytesDone,
      bytesTotal: Math.max(this.bytesTotal, this.bytesDone),
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
      skipped: this.skipped,
      currentPath: currentPath ?? this.current
    })
  }
}

// ------------------------------------------------------------------- plan

/**
 * What is at a target position that an operation replaces: nothing, a
 * non-directory (a file, a link, a special file; replaced by a rename, never
 * followed), or a real directory (removed recursively first, links in it
 * unlinked, never followed).
 */
type Existing = "none" | "entry" | "tree"

interface DirOp {
  readonly source: string
  readonly target: string
  readonly depth: number
  /** Create the directory (after unlinking a non-directory there when `existing` is `"entry"`). */
  readonly create: boolean
  readonly existing: Existing
  /** The source's permission bits, or `undefined` to leave the target's as they are. */
  readonly mode: number | undefined
}

interface FileOp {
  readonly source: string
  readonly target: string
  readonly size: number
  readonly mode: number
  readonly existing: Existing
}

interface LinkOp {
  readonly source: string
  readonly target: string
  readonly text: string
  readonly existing: Existing
}

interface Plan {
  readonly dirs: Array<DirOp>
  files: Array<FileOp>
  readonly links: Array<LinkOp>
  skipped: number
  bytes: number
}

interface Resolved {
  readonly overwrite: Overwrite
  readonly copyInto: boolean
  readonly copyPermissions: boolean
  readonly concurrency: number
  readonly batchConcurrency: number
  readonly progressInterval: Duration.Duration
  readonly chunkSize: number
  readonly fastPaths: boolean
}

/** A tree root on the source (as named, and where a top-level link leads) and its place on the target. */
interface Root {
  readonly source: string
  readonly target: string
}

interface Context {
  readonly src: FileSystem
  readonly dst: FileSystem
  readonly opts: Resolved
  readonly roots: Array<Root>
  /** Runs a backend call within the concurrency limit. */
  readonly io: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly plan: Plan
}

const absolute = (p: Path): string => (posix.isAbsolute(p.path) ? p.path : posix.normalize("/" + p.path))

const isMissing = (e: FileSystemError.FileSystemError) =>
  e.reason._tag === "NotFound" || e.reason._tag === "NotADirectory" || e.reason._tag === "LinkLoop"

/** `lstat`, with `undefined` when nothing is there. */
const lstatOption = (
  fs: FileSystem,
  path: string
): Effect.Effect<FileInfo | undefined, FileSystemError.FileSystemError> =>
  fs.lstat(path).pipe(
    Effect.catchIf((e) => e.reason._tag === "NotFound", () => Effect.succeed(undefined))
  )

const alreadyExists = (target: string) =>
  FileSystemError.make("AlreadyExists", {
    path: target,
    operation: "copy",
    description: "the target exists and overwrite is \"raise\""
  })

const skip = (ctx: Context, path: string, why: string) =>
  Effect.suspend(() => {
    ctx.plan.skipped++
    return Effect.logDebug(`copy: skipping ${why}`).pipe(Effect.annotateLogs({ path }))
  })

/**
 * Decides what to do about an existing target entry: `undefined` means skip
 * (overwrite `"never"`), otherwise how to replace it.
 */
const decide = (
  ctx: Context,
  target: string,
  existing: FileInfo | undefined
): Effect.Effect<Existing | undefined, FileSystemError.FileSystemError> => {
  if (existing === undefined) return Effect.succeed("none")
  switch (ctx.opts.overwrite) {
    case "never":
      return Effect.succeed(undefined)
    case "raise":
      return Effect.fail(alreadyExists(target))
    case "always":
      return Effect.succeed(existing.type === "Directory" ? "tree" : "entry")
  }
}

/**
 * The entry `name` of a listing inside the normalized absolute `dir`: a
 * listing's names are single segments, so no normalization is needed (a tree
 * of many files joins three paths per entry).
 */
const child = (dir: string, name: string): string =>
  name.includes("/") || name === "." || name === ".." || name === ""
    ? posix.join(dir, name)
    : dir === "/"
    ? `/${name}`
    : `${dir}/${name}`

/** The tree root (the innermost, if they nest) that `path` lies in, if any. */
const rootOf = (roots: ReadonlyArray<Root>, path: string): Root | undefined => {
  let best: Root | undefined
  for (const root of roots) {
    if (posix.isWithin(path, root.source) && (best === undefined || root.source.length > best.source.length)) {
      best = root
    }
  }
  return best
}

const visit = (
  ctx: Context,
  source: string,
  info: FileInfo,
  target: string,
  existing: FileInfo | undefined,
  depth: number,
  top: boolean,
  real: string,
  ancestors: ReadonlyArray<string>
): Effect.Effect<void, FileSystemError.FileSystemError> => {
  switch (info.type) {
    case "SymbolicLink":
      return visitLink(ctx, source, target, existing, depth, top, ancestors)
    case "File":
      return planFile(ctx, source, info, target, existing)
    case "Directory":
      return visitDir(ctx, source, info, target, existing, depth, real, ancestors)
    default:
      return skip(ctx, source, `special entry (${info.type})`)
  }
}

const planFile = (ctx: Context, source: string, info: FileInfo, target: string, existing: FileInfo | undefined) =>
  Effect.flatMap(decide(ctx, target, existing), (how) => {
    if (how === undefined) return skip(ctx, source, "file: the target exists and overwrite is \"never\"")
    ctx.plan.files.push({ source, target, size: info.size, mode: info.mode, existing: how })
    ctx.plan.bytes += info.size
    return Effect.void
  })

const visitLink = (
  ctx: Context,
  source: string,
  target: string,
  existing: FileInfo | undefined,
  depth: number,
  top: boolean,
  ancestors: ReadonlyArray<string>
): Effect.Effect<void, FileSystemError.FileSystemError> =>
  Effect.gen(function*() {
    const { dst, io, src } = ctx
    const text = yield* io(src.readLink(source))
    const pointsTo = posix.resolveDots(posix.join(posix.dirname(source), text))
    const root = top ? undefined : rootOf(ctx.roots, pointsTo)
    if (root !== undefined && dst.features.symlinks) {
      // A link into the copied tree points at the same place in the copy: an absolute
      // link at the corresponding absolute path, a relative one by a relative path.
      const mapped = posix.join(root.target, posix.relative(pointsTo, root.source) ?? ".")
      const newText = posix.isAbsolute(text) ? mapped : posix.relativeLink(posix.dirname(target), mapped)
      const how = yield* decide(ctx, target, existing)
      if (how === undefined) return yield* skip(ctx, source, "link: the target exists and overwrite is \"never\"")
      ctx.plan.links.push({ source, target, text: newText, existing: how })
      return
    }
    // A link to outside the tree (or the top-level source itself) is copied as what it points to.
    const resolved = yield* io(src.stat(source)).pipe(
      Effect.map(Option.some),
      Effect.catchIf(isMissing, () => Effect.succeed(Option.none<FileInfo>()))
    )
    if (Option.isNone(resolved)) return yield* skip(ctx, source, "broken link")
    const info = resolved.value
    if (info.type !== "Directory") {
      return yield* visit(ctx, source, info, target, existing, depth, top, source, ancestors)
    }
    const real = (yield* io(new Path(src, source).readlink({ recursive: true }))).path
    // Descending into a link to a directory that contains it would never end.
    if (ancestors.some((a) => posix.isWithin(a, real))) {
      return yield* skip(ctx, source, "link to a directory that contains it")
    }
    return yield* visitDir(ctx, source, info, target, existing, depth, real, ancestors)
  })

const visitDir = (
  ctx: Context,
  source: string,
  info: FileInfo,
  target: string,
  existing: FileInfo | undefined,
  depth: number,
  real: string,
  ancestors: ReadonlyArray<string>
): Effect.Effect<void, FileSystemError.FileSystemError> =>
  Effect.gen(function*() {
    const { dst, io, opts, src } = ctx
    let targetEntries = new Map<string, FileInfo>()
    if (existing === undefined) {
      ctx.plan.dirs.push({ source, target, depth, create: true, existing: "none", mode: info.mode })
    } else if (existing.type === "Directory") {
      // A real directory (never a link to one: links are replaced, not written through) is merged into.
      if (opts.overwrite === "raise") return yield* alreadyExists(target)
      const merged = opts.copyPermissions && opts.overwrite === "always" ? info.mode : undefined
      ctx.plan.dirs.push({ source, target, depth, create: false, existing: "none", mode: merged })
      const listing = yield* io(dst.readDirectory(target))
      targetEntries = new Map(listing.map((e) => [e.name, e.info]))
    } else {
      const how = yield* decide(ctx, target, existing)
      if (how === undefined) {
        return yield* skip(ctx, source, "directory: a non-directory is at the target and overwrite is \"never\"")
      }
      ctx.plan.dirs.push({ source, target, depth, create: true, existing: how, mode: info.mode })
    }
    const entries = yield* io(src.readDirectory(source))
    const inside = [...ancestors, real]
    // Files and special entries are decided on the spot; directories and links, which need
    // more requests, are visited concurrently (each request within the concurrency limit).
    const later: Array<typeof entries[number]> = []
    for (const entry of entries) {
      if (entry.info.type === "Directory" || entry.info.type === "SymbolicLink") {
        later.push(entry)
        continue
      }
      yield* visit(
        ctx,
        child(source, entry.name),
        entry.info,
        child(target, entry.name),
        targetEntries.get(entry.name),
        depth + 1,
        false,
        child(real, entry.name),
        inside
      )
    }
    yield* Effect.forEach(
      later,
      (entry) =>
        visit(
          ctx,
          child(source, entry.name),
          entry.info,
          child(target, entry.name),
          targetEntries.get(entry.name),
          depth + 1,
          false,
          child(real, entry.name),
          inside
        ),
      { concurrency: "unbounded", discard: true }
    )
  })

/**
 * The files in path order within each directory, taken from the directories
 * in turn: the files in flight at once land in different directories, so
 * their creations do not wait on each other for one directory's lock (a
 * file system serializes the entries made in one directory).
 */
const interleave = (files: Array<FileOp>): Array<FileOp> => {
  const byDirectory = new Map<string, Array<FileOp>>()
  for (const op of files) {
    const dir = op.target.slice(0, op.target.lastIndexOf("/"))
    const group = byDirectory.get(dir)
    if (group === undefined) byDirectory.set(dir, [op])
    else group.push(op)
  }
  if (byDirectory.size < 2) return files
  let groups = [...byDirectory.values()]
  const out: Array<FileOp> = []
  for (let i = 0; groups.length > 0; i++) {
    for (const group of groups) out.push(group[i]!)
    groups = groups.filter((group) => group.length > i + 1)
  }
  return out
}

const makePlan = (
  src: FileSystem,
  dst: FileSystem,
  source: string,
  target: string,
  opts: Resolved
): Effect.Effect<{ plan: Plan; target: string }, FileSystemError.FileSystemError | InvalidOptions> =>
  Effect.gen(function*() {
    const info = yield* src.lstat(source)
    let t = target
    if (opts.copyInto && (yield* new Path(dst, target).isDir())) t = posix.join(target, posix.basename(source))
    const roots: Array<Root> = [{ source, target: t }]
    let resolved: FileInfo | undefined = info
    let real = source
    if (info.type === "SymbolicLink") {
      resolved = yield* src.stat(source).pipe(Effect.catchIf(isMissing, () => Effect.succeed(undefined)))
      if (resolved !== undefined) {
        real = (yield* new Path(src, source).readlink({ recursive: true })).path
        roots.push({ source: real, target: t })
      }
    }
    if (
      resolved?.type === "Directory" && src.equals(dst) &&
      (posix.isWithin(t, source) || posix.isWithin(t, real))
    ) {
      return yield* new InvalidOptions({
        path: t,
        operation: "copy",
        description: `cannot copy the directory ${source} into itself`
      })
    }
    const existing = yield* lstatOption(dst, t)
    const plan: Plan = { dirs: [], files: [], links: [], skipped: 0, bytes: 0 }
    const semaphore = yield* Semaphore.make(opts.concurrency)
    const ctx: Context = { src, dst, opts, roots, io: semaphore.withPermits(1), plan }
    yield* visit(ctx, source, info, t, existing, 0, true, real, [])
    const byPath = (a: { readonly source: string }, b: { readonly source: string }) =>
      a.source < b.source ? -1 : a.source > b.source ? 1 : 0
    plan.files.sort(byPath)
    plan.files = interleave(plan.files)
    plan.links.sort(byPath)
    plan.dirs.sort((a, b) => a.depth - b.depth || byPath(a, b))
    return { plan, target: t }
  })

// ---------------------------------------------------------------- execute

/** UTF-8 length of a string, for the 255-byte name limit. */
const utf8Length = (s: string): number => (ascii.test(s) ? s.length : new TextEncoder().encode(s).length)

const ascii = /^[\x00-\x7f]*$/

/**
 * A hidden name next to `target`: `.<name>.cerulean-<n in base 36>.tmp`,
 * with the name shortened if the whole would pass the 255-byte limit.
 */
const temporaryNameWith = (target: string, n: number): string => {
  const suffix = `.cerulean-${n.toString(36).padStart(8, "0")}.tmp`
  // target is absolute and normalized (a plan's path): its name follows the last slash
  const slash = target.lastIndexOf("/")
  let name = target.slice(slash + 1)
  const budget = 255 - 1 - suffix.length
  while (utf8Length(name) > budget) name = Array.from(name).slice(0, -1).join("")
  return `${slash === 0 ? "" : target.slice(0, slash)}/.${name}${suffix}`
}

/** A hidden, unique name next to `target` (see {@link temporaryNameWith}), with a random number. */
const temporaryName = (target: string): Effect.Effect<string> =>
  Effect.map(Random.nextIntBetween(0, 36 ** 8), (n) => temporaryNameWith(target, n))

/** An error about a temporary file reported against the target it stands for. */
const onTarget = (temp: string, target: string) => (e: FileSystemError.FileSystemError) =>
  e.reason.path === temp
    ? FileSystemError.make(e.reason._tag, {
      path: target,
      operation: e.reason.operation,
      description: e.reason.description,
      cause: e
    })
    : e

/** Removes a temporary file left by an unfinished transfer (a missing one is fine, other failures are logged). */
const removeTemporary = (fs: FileSystem, temp: string): Effect.Effect<void> =>
  fs.unlink(temp).pipe(
    Effect.andThen(Effect.logDebug("copy: removed the temporary file of an unfinished transfer")),
    Effect.catchIf((e) => e.reason._tag === "NotFound", () => Effect.void),
    Effect.catchCause((cause) => Effect.logDebug("copy: could not remove a temporary file", cause)),
    Effect.annotateLogs({ path: temp })
  )

/** Runs `use` on a fresh temporary name next to `target`, removing whatever is left there unless `use` succeeds. */
const withTemporary = <A, E>(
  fs: FileSystem,
  target: string,
  use: (temp: string) => Effect.Effect<A, E>
): Effect.Effect<A, E | FileSystemError.FileSystemError> =>
  Effect.flatMap(temporaryName(target), (temp) =>
    Effect.acquireUseRelease(
      Effect.succeed(temp),
      (t) =>
        Effect.mapError(use(t), (e) => (e instanceof FileSystemError.FileSystemError ? onTarget(t, target)(e) : e)),
      (t, exit) => (Exit.isSuccess(exit) ? Effect.void : removeTemporary(fs, t))
    ))

/**
 * The umask of the target, learnt by creating (and removing) one directory
 * with mode 0o777 next to the target. The creation is the (uninterruptible)
 * acquisition, so an interruption cannot slip between it and the removal.
 */
const probeUmask = (fs: FileSystem, dir: string): Effect.Effect<number | undefined> =>
  Effect.flatMap(temporaryName(posix.join(dir, "umask")), (probe) =>
    Effect.acquireUseRelease(
      Effect.as(fs.makeDirectory(probe, 0o777), probe),
      (p) => Effect.map(fs.stat(p), (info): number | undefined => 0o777 & ~info.mode),
      (p) => Effect.ignore(fs.removeDirectory(p))
    )).pipe(
      Effect.catchCause((cause) =>
        Effect.as(Effect.logDebug("copy: could not learn the target's umask, assuming 022", cause), undefined)
      )
    )

/** What one file's transfer did. */
interface Transferred {
  /** Bytes written. */
  bytes: number
  /** The file was created with the mode asked for (its bits are that mode less the umask). */
  modeSet: boolean
  /** A fast path renamed it into place. */
  renamed: boolean
}

/** Groups operations by depth, in the order given. */
const byDepth = <A extends { readonly depth: number }>(ops: ReadonlyArray<A>): Array<Array<A>> => {
  const groups: Array<Array<A>> = []
  for (const op of ops) {
    const last = groups[groups.length - 1]
    if (last !== undefined && last[0]!.depth === op.depth) last.push(op)
    else groups.push([op])
  }
  return groups
}

const execute = (
  src: FileSystem,
  dst: FileSystem,
  target: string,
  plan: Plan,
  opts: Resolved,
  tracker: Tracker
): Effect.Effect<void, FileSystemError.FileSystemError> =>
  Effect.gen(function*() {
    const permissions = dst.features.permissions
    const needsUmask = permissions && !opts.copyPermissions &&
      (plan.files.length > 0 || plan.dirs.some((d) => d.mode !== undefined))
    const learnt = needsUmask ? yield* probeUmask(dst, posix.dirname(target)) : undefined
    const umask = learnt ?? 0o022
    // A fast path's "created with the mode asked for" gives the final bits only if the umask is the one learnt
    // (without copyPermissions the final bits leave out the umask's); otherwise every file gets its chmod.
    const umaskKnown = learnt !== undefined
    const concurrency = opts.concurrency

    /** The final bits of a new entry: the source's, or the target's default AND the source's. */
    const finalMode = (sourceMode: number, base: number) =>
      opts.copyPermissions ? sourceMode & Permission.mask : sourceMode & base & ~umask

    // 1. Directories, parents first. They are created owner-only, so that
    // nobody else sees a half-filled tree and a read-only source directory
    // can still be filled; the final bits come last.
    for (const group of byDepth(plan.dirs)) {
      yield* Effect.forEach(group, (op) =>
        Effect.gen(function*() {
          if (!op.create) return
          if (op.existing === "entry") yield* dst.unlink(op.target)
          yield* dst.makeDirectory(op.target, permissions ? 0o700 : undefined)
        }), { concurrency, discard: true })
    }

    // 2. Files, each written under a temporary name and renamed into place.
    /** Files moved by each fast path, logged once at the end rather than once per file. */
    const fastUsed = new Map<FastPath, number>()

    /**
     * Moves one file's data to `temp`. `renameTo`, given when nothing remains to be done to the file
     * but its rename, lets a fast path rename it into place itself once it is complete.
     */
    const transfer = (
      op: FileOp,
      temp: string,
      mode: number | undefined,
      renameTo: string | undefined
    ): Effect.Effect<Transferred, FileSystemError.FileSystemError> => {
      const result: Transferred = { bytes: 0, modeSet: false, renamed: false }
      const options: TransferOptions = {
        chunkSize: opts.chunkSize,
        size: op.size,
        progressInterval: opts.progressInterval,
        onProgress: (bytes) => {
          result.bytes += bytes
          tracker.add(bytes)
        },
        // a hook that created the file with the mode asked for gave it the bits writeStream would have
        onCreatedWithMode: () => {
          result.modeSet = umaskKnown
        },
        onRenamed: () => {
          result.renamed = true
        },
        ...(mode !== undefined ? { mode } : {}),
        ...(renameTo !== undefined ? { renameTo } : {})
      }
      const fast = opts.fastPaths ? fastPath(src, dst, op.source, temp, options) : undefined
      if (fast !== undefined) {
        return Effect.map(fast.effect, () => {
          fastUsed.set(fast.kind, (fastUsed.get(fast.kind) ?? 0) + 1)
          // A hook that reported nothing moved the file as planned.
          if (result.bytes === 0 && op.size > 0) options.onProgress!(op.size)
          return result
        })
      }
      // A small file is read in one chunk sized to it (plus one byte to see the end), not into a
      // buffer of the full chunk size: thousands of small files would otherwise churn memory.
      const chunkSize = Math.min(opts.chunkSize, op.size + 1)
      const data = src.readStream(op.source, { chunkSize }).pipe(
        Stream.tap((chunk) =>
          Effect.sync(() => {
            result.bytes += chunk.length
            tracker.add(chunk.length)
          })
        )
      )
      return Effect.map(dst.writeStream(temp, data, mode !== undefined ? { mode } : {}), () => {
        result.modeSet = true
        return result
      })
    }

    /**
     * The mode to create a file with and, when nothing but the rename is left after its
     * transfer, its final name for a fast path to rename it to.
     */
    const creation = (op: FileOp) => {
      const final = permissions ? finalMode(op.mode, 0o666) : undefined
      // Without copyPermissions the final bits are within the umask's default, so the file
      // can be created with them when they let the owner write; otherwise it is created
      // owner-only and gets one chmod.
      const createMode = final === undefined
        ? undefined
        : !opts.copyPermissions && (final & 0o600) === 0o600
        ? final
        : 0o600
      // Only the rename is left after the transfer when no chmod follows and no directory is in the way.
      const renameTo = (final === undefined || (umaskKnown && final === createMode)) && op.existing !== "tree"
        ? op.target
        : undefined
      return { final, createMode, renameTo }
    }

    /** What is left to do to a transferred file at `temp`: its chmod, the removal of a tree in the way, its rename. */
    const putInPlace = (op: FileOp, temp: string, result: Transferred): Effect.Effect<void, FileSystemError.FileSystemError> => {
      if (result.renamed) return Effect.void
      const { final, createMode } = creation(op)
      let finish: Effect.Effect<void, FileSystemError.FileSystemError> = dst.rename(temp, op.target)
      if (op.existing === "tree") {
        finish = Effect.andThen(new Path(dst, op.target).rmdir({ recursive: true }), finish)
      }
      if (final !== undefined && (!result.modeSet || final !== createMode)) {
        finish = Effect.andThen(dst.chmod(temp, final), finish)
      }
      return finish
    }

    const copyFile = (op: FileOp) => {
      tracker.start(op.source)
      const { createMode, renameTo } = creation(op)
      return withTemporary(dst, op.target, (temp) =>
        Effect.flatMap(transfer(op, temp, createMode, renameTo), (result) =>
          Effect.as(putInPlace(op, temp, result), result.bytes))).pipe(
          Effect.map((bytes) => tracker.finish(op.size, bytes))
        )
    }

    /**
     * Offers the files to a batch fast path, if the pair has one: the files it
     * leaves alone, for `copyFile`. Every file it started and did not put in
     * place is removed again if the batch fails or is interrupted.
     */
    const copyBatch = (files: ReadonlyArray<FileOp>): Effect.Effect<ReadonlyArray<FileOp>, FileSystemError.FileSystemError> =>
      files.length === 0 || (src.sendManyTo === undefined && dst.receiveManyFrom === undefined)
        ? Effect.succeed(files)
        : Effect.flatMap(Random.nextIntBetween(0, 36 ** 8), (n) => {
          const batch: Array<BatchFile> = files.map((op, i) => {
            const { createMode, renameTo } = creation(op)
            // one random number for the batch, plus the file's index: unique even where long names are shortened alike
            const to = temporaryNameWith(op.target, (n + i) % 36 ** 8)
            return { from: op.source, to, size: op.size, mode: createMode, renameTo }
          })
          /** Files started and not in place yet: their temporary names may exist. */
          const started = new Set<number>()
          /** Bytes reported through `onProgress`, per file that reported any. */
          const landed = new Map<number, number>()
          const left: Array<FileOp> = []
          const toPlace: Array<readonly [number, Transferred]> = []
          const options: BatchOptions = {
            concurrency: opts.batchConcurrency,
            onStart: (i) => {
              started.add(i)
              tracker.start(files[i]!.source)
            },
            onProgress: (i, bytes) => {
              landed.set(i, (landed.get(i) ?? 0) + bytes)
              tracker.add(bytes)
            },
            onEnd: (i, outcome) => {
              const op = files[i]!
              if (!outcome.transferred) {
                started.delete(i)
                left.push(op)
                return
              }
              tracker.add(outcome.bytes - (landed.get(i) ?? 0))
              const result = { bytes: outcome.bytes, modeSet: outcome.createdWithMode && umaskKnown, renamed: outcome.renamed }
              if (!outcome.renamed) return void toPlace.push([i, result])
              started.delete(i)
              tracker.finish(op.size, outcome.bytes)
            }
          }
          const send = src.sendManyTo?.(batch, dst, options)
          const hook = send ?? dst.receiveManyFrom?.(src, batch, options)
          if (hook === undefined) return Effect.succeed(files)
          const kind: FastPath = send !== undefined ? "sendManyTo" : "receiveManyFrom"
          const placed = Effect.forEach(toPlace, ([i, result]) =>
            Effect.map(putInPlace(files[i]!, batch[i]!.to, result), () => {
              started.delete(i)
              tracker.finish(files[i]!.size, result.bytes)
            }), { concurrency, discard: true })
          return Effect.andThen(hook, Effect.suspend(() => placed)).pipe(
            Effect.mapError((e) => {
              const i = batch.findIndex((f) => f.to === e.reason.path)
              return i < 0 ? e : onTarget(batch[i]!.to, files[i]!.target)(e)
            }),
            Effect.onExit((exit) =>
              Exit.isSuccess(exit)
                ? Effect.sync(() => fastUsed.set(kind, (fastUsed.get(kind) ?? 0) + files.length - left.length))
                : Effect.forEach([...started], (i) => removeTemporary(dst, batch[i]!.to), { concurrency, discard: true })
            ),
            Effect.as(left)
          )
        })

    const single = opts.fastPaths ? yield* copyBatch(plan.files) : plan.files
    yield* Effect.forEach(single, copyFile, { concurrency, discard: true })
    for (const [kind, files] of fastUsed) {
      yield* Effect.logDebug(`copy: used ${describeFastPath(kind, src, dst)} (${files} files)`)
    }

    // 3. Links, made under a temporary name where something is to be replaced.
    yield* Effect.forEach(plan.links, (op) => {
      if (op.existing === "none") return dst.symlink(op.target, op.text)
      return withTemporary(dst, op.target, (temp) =>
        Effect.gen(function*() {
          yield* dst.symlink(temp, op.text)
          if (op.existing === "tree") yield* new Path(dst, op.target).rmdir({ recursive: true })
          yield* dst.rename(temp, op.target)
        }))
    }, { concurrency, discard: true })

    // 4. Directory permissions, children first (a read-only directory would refuse its children's changes).
    if (permissions) {
      for (const group of byDepth(plan.dirs).reverse()) {
        yield* Effect.forEach(group, (op) => {
          if (op.mode === undefined) return Effect.void
          const final = finalMode(op.mode, 0o777)
          return op.create && final === (0o700 & ~umask) ? Effect.void : dst.chmod(op.target, final)
        }, { concurrency, discard: true })
      }
    }
  })

/** The fast path both ends allow for one file, if any. */
const fastPath = (
  src: FileSystem,
  dst: FileSystem,
  from: string,
  to: string,
  options: TransferOptions
): { readonly kind: FastPath; readonly effect: Effect.Effect<void, FileSystemError.FileSystemError> } | undefined => {
  if (src.equals(dst) && src.copyFile !== undefined && dst.copyFile !== undefined) {
    return { kind: "copyFile", effect: src.copyFile(from, to, options) }
  }
  const send = src.sendTo?.(from, dst, to, options)
  if (send !== undefined) return { kind: "sendTo", effect: send }
  const receive = dst.receiveFrom?.(src, from, to, options)
  if (receive !== undefined) return { kind: "receiveFrom", effect: receive }
  return undefined
}

type FastPath = "copyFile" | "sendTo" | "receiveFrom" | "sendManyTo" | "receiveManyFrom"

/** How the Debug log names a fast path. */
const describeFastPath = (kind: FastPath, src: FileSystem, dst: FileSystem): string =>
  kind === "copyFile"
    ? "copyFile"
    : kind === "sendTo" || kind === "sendManyTo"
    ? `${src.protocol} ${kind} ${dst.protocol}`
    : `${dst.protocol} ${kind} ${src.protocol}`

// -------------------------------------------------------------------- api

const validate = (options: CopyOptions, source: string): Effect.Effect<Resolved, InvalidOptions> => {
  const invalid = (description: string) =>
    Effect.fail(new InvalidOptions({ path: source, operation: "copy", description }))
  const overwrite = options.overwrite ?? defaults.overwrite
  if (!Overwrite.literals.includes(overwrite)) {
    return invalid(`overwrite must be "never", "always" or "raise", not ${JSON.stringify(overwrite)}`)
  }
  const concurrency = options.concurrency ?? defaults.concurrency
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    return invalid(`concurrency must be a positive integer, not ${String(concurrency)}`)
  }
  const chunkSize = options.chunkSize ?? defaults.chunkSize
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    return invalid(`chunkSize must be a positive integer, not ${String(chunkSize)}`)
  }
  const interval = options.progressInterval === undefined
    ? Option.some(defaults.progressInterval)
    : Duration.fromInput(options.progressInterval)
  if (Option.isNone(interval) || !Duration.isFinite(interval.value) || !Duration.isPositive(interval.value)) {
    return invalid("progressInterval must be a positive, finite duration")
  }
  return Effect.succeed({
    overwrite,
    copyInto: options.copyInto ?? defaults.copyInto,
    copyPermissions: options.copyPermissions ?? defaults.copyPermissions,
    concurrency,
    batchConcurrency: options.concurrency ?? defaults.batchConcurrency,
    progressInterval: interval.value,
    chunkSize,
    fastPaths: options.fastPaths ?? defaults.fastPaths
  })
}

/**
 * Copies `source` to `target`, which may be on another file system, as a
 * stream of progress reports: one at the start (nothing done, the totals
 * known), one every `progressInterval` at most while data flows, and a last
 * one (`phase: "Done"`) when everything is in place.
 *
 * - A file is written to a hidden temporary name next to its target and
 *   renamed into place when complete, so no half-written file ever has the
 *   final name; a failed or interrupted transfer removes its temporary file.
 * - A directory is copied recursively. An existing directory is merged
 *   into (`"never"` keeps what is there, `"always"` replaces it).
 * - A link whose target lies inside the copied tree is recreated pointing at
 *   the same place in the copy (relative links stay relative); other links
 *   are copied as what they point to. Broken links, FIFOs, devices and sockets
 *   are skipped.
 * - A link at the target is never written through: `"always"` replaces the
 *   link itself.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { copy, LocalFileSystem } from "@cerulean/core"
 *
 * const program = Effect.gen(function*() {
 *   const fs = yield* LocalFileSystem
 *   yield* copy(fs.path("data", "in"), fs.path("backup"), { overwrite: "always" }).pipe(
 *     Stream.runForEach((p) => Effect.log(`${p.bytesDone}/${p.bytesTotal} ${p.currentPath}`))
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const copy = (source: Path, target: Path, options: CopyOptions = {}): Stream.Stream<CopyProgress, CopyError> => {
  const src = source.fs
  const dst = target.fs
  const sourcePath = absolute(source)
  const targetPath = absolute(target)
  const toCopyError = (e: FileSystemError.FileSystemError | InvalidOptions) =>
    new CopyError({ source: sourcePath, target: targetPath, reason: e instanceof InvalidOptions ? e : e.reason })
  const annotations = { source: `${src.protocol}:${sourcePath}`, target: `${dst.protocol}:${targetPath}` }
  return Stream.unwrap(Effect.gen(function*() {
    const opts = yield* validate(options, sourcePath)
    const { plan, target: finalTarget } = yield* makePlan(src, dst, sourcePath, targetPath, opts)
    yield* Effect.logDebug(
      `copy: ${plan.files.length} files (${plan.bytes} bytes), ${plan.dirs.length} directories, ` +
        `${plan.links.length} links, ${plan.skipped} skipped`
    )
    const tracker = new Tracker(plan, sourcePath)
    const work = Stream.fromEffectDrain(
      execute(src, dst, finalTarget, plan, opts, tracker).pipe(
        Effect.mapError(toCopyError),
        Effect.annotateLogs(annotations)
      )
    )
    const samples = Stream.tick(opts.progressInterval).pipe(
      Stream.drop(1),
      Stream.filter(() => tracker.changed()),
      Stream.map(() => tracker.snapshot("Copying"))
    )
    return Stream.sync(() => tracker.snapshot("Started")).pipe(
      Stream.concat(Stream.merge(samples, work, { haltStrategy: "right" })),
      Stream.concat(Stream.sync(() => tracker.snapshot("Done", sourcePath)))
    )
  }).pipe(
    Effect.mapError(toCopyError),
    Effect.annotateLogs(annotations)
  )).pipe(Stream.withSpan("Copy.copy", { attributes: { source: sourcePath, target: targetPath } }))
}

/**
 * Runs {@link copy} to the end and returns its last progress element (the
 * totals), for programs that want no progress reports.
 *
 * @since 0.1.0
 * @category constructors
 */
export const copyAll: (
  source: Path,
  target: Path,
  options?: CopyOptions
) => Effect.Effect<CopyProgress, CopyError> = Effect.fn("Copy.copyAll")(
  function*(source: Path, target: Path, options?: CopyOptions) {
    const last = yield* Stream.runLast(copy(source, target, options))
    if (Option.isNone(last)) return yield* Effect.die(new Error("copy ended without a final progress element"))
    return last.value
  }
)
