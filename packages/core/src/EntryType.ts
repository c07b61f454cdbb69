/**
 * The kinds of directory entry, as in Cerulean's `EntryType`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The kind of entry a path refers to.
 *
 * @since 0.1.0
 * @category models
 */
export const EntryType = Schema.Literals([
  "Directory",
  "File",
  "SymbolicLink",
  "CharacterDevice",
  "BlockDevice",
  "Fifo",
  "Socket"
])

/**
 * The kind of entry a path refers to.
 *
 * @since 0.1.0
 * @category models
 */
export type EntryType = typeof EntryType.Type

/**
 * The `S_IFMT` bits of a POSIX mode for each entry type (SFTP and `stat(2)` agree on them).
 *
 * @since 0.1.0
 * @category constants
 */
export const modeBits: Readonly<Record<EntryType, number>> = {
  Directory: 0o040000,
  File: 0o100000,
  SymbolicLink: 0o120000,
  CharacterDevice: 0o020000,
  BlockDevice: 0o060000,
  Fifo: 0o010000,
  Socket: 0o140000
}

/**
 * The entry type encoded in a full POSIX mode (`st_mode`), if it is a known one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromMode = (mode: number): EntryType | undefined => {
  const fmt = mode & 0o170000
  for (const [type, bits] of Object.entries(modeBits)) {
    if (bits === fmt) return type as EntryType
  }
  return undefined
}
