/**
 * The twelve POSIX permission bits, named as in Cerulean's `Permission`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Each permission with its POSIX mode bit. The order is Cerulean's: owner,
 * group, others (read, write, execute), then set-uid, set-gid and sticky.
 *
 * @since 0.1.0
 * @category constants
 */
export const bits = {
  OwnerRead: 0o400,
  OwnerWrite: 0o200,
  OwnerExecute: 0o100,
  GroupRead: 0o40,
  GroupWrite: 0o20,
  GroupExecute: 0o10,
  OthersRead: 0o4,
  OthersWrite: 0o2,
  OthersExecute: 0o1,
  Suid: 0o4000,
  Sgid: 0o2000,
  Sticky: 0o1000
} as const

/**
 * One permission bit, by name.
 *
 * @since 0.1.0
 * @category models
 */
export const Permission = Schema.Literals([
  "OwnerRead",
  "OwnerWrite",
  "OwnerExecute",
  "GroupRead",
  "GroupWrite",
  "GroupExecute",
  "OthersRead",
  "OthersWrite",
  "OthersExecute",
  "Suid",
  "Sgid",
  "Sticky"
])

/**
 * One permission bit, by name.
 *
 * @since 0.1.0
 * @category models
 */
export type Permission = typeof Permission.Type

/**
 * Every permission, in Cerulean's order.
 *
 * @since 0.1.0
 * @category constants
 */
export const all: ReadonlyArray<Permission> = Permission.literals

/**
 * The mask of all twelve permission bits.
 *
 * @since 0.1.0
 * @category constants
 */
export const mask = 0o7777

/**
 * Whether `mode` has the bit of `permission` set.
 *
 * @since 0.1.0
 * @category guards
 */
export const isSet = (mode: number, permission: Permission): boolean => (mode & bits[permission]) !== 0

/**
 * `mode` with the bit of `permission` set or cleared.
 *
 * @since 0.1.0
 * @category combinators
 */
export const set = (mode: number, permission: Permission, value: boolean): number =>
  value ? (mode | bits[permission]) & mask : mode & ~bits[permission] & mask
