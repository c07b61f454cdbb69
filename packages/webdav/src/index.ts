/**
 * `@cerulean/webdav`: a WebDAV server as a Cerulean file system.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export { WebdavFileSystem, type WebdavFileSystemOptions } from "./WebdavFileSystem.ts"
