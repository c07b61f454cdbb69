/**
 * The one error every file-system operation fails with. Its `reason` says
 * what went wrong (Effect's reason pattern), and every reason carries the
 * path it concerns, so `Effect.catchReason("FileSystemError", "NotFound", ...)`
 * handles one case and lets the others through.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

const reasonFields = {
  /** The path the operation was applied to. */
  path: Schema.String,
  /** The operation, e.g. `"mkdir"` or `"readStream"`. */
  operation: Schema.String,
  /** Extra detail from the backend (an errno code, an HTTP status, an SFTP message). */
  description: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect())
}

const describe = (tag: string, r: { path: string; operation: string; description?: string | undefined }) =>
  `${tag}: ${r.operation} ${r.path}${r.description ? `: ${r.description}` : ""}`

/**
 * Nothing exists at the path (or a directory on the way is missing).
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", reasonFields) {
  override get message() {
    return describe(this._tag, this)
  }
}

/**
 * Something already exists where the operation would create an entry.
 *
 * @since 0.1.0
 * @category errors
 */
export class AlreadyExists extends Schema.TaggedError<AlreadyExists>()("AlreadyExists", reasonFields) {
  override get message() {
    return describe(this._tag, this)
  }
}

/**
 * A directory was expected but the path (or a component of it) is something else.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotADirectory extends Schema.TaggedError<NotADirectory>()("NotADirectory", reasonFields) {
  override get message() {
    return describe(this._tag, this)
  }
}

/**
 * A non-directory was expected but the path is a directory.
 *
 * @since 0.1.0
 * @category errors
 */
export class IsADirectory extends Schema.TaggedError<IsADirectory>()("IsADirectory", reasonFields) {
  override get message() {
    return describe(this._tag, this)
  }
}

/**
 * A directory could not be removed because it still has entries.
 *
 * @since 0.1.0
 * @category errors
 */
export class DirectoryNotEmpty extends Schema.TaggedError<DirectoryNotEmpty>()("DirectoryNotEmpty", reasonFields) {
  override get message() {
    return describe(this._tag, this)
  }
}

/**
 * The server or the operating system refused the operation (including wrong credentials on WebDAV).
 *
 * @since 0.1.0
 * @category errors
 */
export class PermissionDenied extends Schema.TaggedError<PermissionDenied>()("PermissionDenied", reasonFields) {
  override get message() {
    return describe(this._tag, this)
  }
}

/**
 * Symbolic links form a loop, or a chain longer than the limit.
 *
 * @since 0.1.0
 * @category errors
 */
export class LinkLoop extends Schema.TaggedError<LinkLoop>()("LinkLoop", reasonFields) {
  override get message() {
    return describe(this._tag, this)
  }
}

/**
 * The file system cannot do this (links, permissions or owners on WebDAV, a cross-file-system rename).
 *
 * @since 0.1.0
 * @category errors
 */
export class Unsupported extends Schema.TaggedError<Unsupported>()("Unsupported", reasonFields) {
  override get message() {
    return describe(this._tag, this)
  }
}

/**
 * The connection to the server was lost while the operation ran.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionLost extends Schema.TaggedError<ConnectionLost>()("ConnectionLost", reasonFields) {
  override get message() {
    return describe(this._tag, this)
  }
}

/**
 * Any other input/output failure (a full disk, a server error, undecodable text).
 *
 * @since 0.1.0
 * @category errors
 */
export class Io extends Schema.TaggedError<Io>()("Io", reasonFields) {
  override get message() {
    return describe(this._tag, this)
  }
}

/**
 * All reasons a file-system operation can fail for.
 *
 * @since 0.1.0
 * @category models
 */
export const FileSystemErrorReason = Schema.Union([
  NotFound,
  AlreadyExists,
  NotADirectory,
  IsADirectory,
  DirectoryNotEmpty,
  PermissionDenied,
  LinkLoop,
  Unsupported,
  ConnectionLost,
  Io
])

/**
 * All reasons a file-system operation can fail for.
 *
 * @since 0.1.0
 * @category models
 */
export type FileSystemErrorReason = typeof FileSystemErrorReason.Type

/**
 * The tags of {@link FileSystemErrorReason}.
 *
 * @since 0.1.0
 * @category models
 */
export type ReasonTag = FileSystemErrorReason["_tag"]

/**
 * The error of every `FileSystem` and `Path` operation.
 *
 * @since 0.1.0
 * @category errors
 */
export class FileSystemError extends Schema.TaggedError<FileSystemError>()("FileSystemError", {
  reason: FileSystemErrorReason
}) {
  /** The path the failed operation concerned. */
  get path(): string {
    return this.reason.path
  }
  override get message(): string {
    return this.reason.message
  }
}

const constructors = {
  NotFound,
  AlreadyExists,
  NotADirectory,
  IsADirectory,
  DirectoryNotEmpty,
  PermissionDenied,
  LinkLoop,
  Unsupported,
  ConnectionLost,
  Io
} as const

/**
 * Builds a {@link FileSystemError} from a reason tag, for backends.
 *
 * @example
 * ```ts
 * import { FileSystemError } from "@cerulean/core"
 * FileSystemError.make("NotFound", { path: "/x", operation: "stat" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  tag: ReasonTag,
  fields: { path: string; operation: string; description?: string | undefined; cause?: unknown }
): FileSystemError => {
  const Reason = constructors[tag]
  const { description, cause, ...rest } = fields
  return new FileSystemError({
    reason: new Reason({
      ...rest,
      ...(description !== undefined ? { description } : {}),
      ...(cause !== undefined ? { cause } : {})
    })
  })
}

/**
 * Whether `u` is a {@link FileSystemError} with the given reason.
 *
 * @since 0.1.0
 * @category guards
 */
export const hasReason = (u: unknown, tag: ReasonTag): u is FileSystemError =>
  u instanceof FileSystemError && u.reason._tag === tag
