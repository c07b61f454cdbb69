/**
 * `WebdavFileSystem`: a WebDAV server (RFC 4918) as a Cerulean file system,
 * over http or https, anonymous or with HTTP Basic auth, on one pool of
 * keep-alive connections.
 *
 * WebDAV has no symbolic links, owners or permissions. As in Cerulean, reads
 * of them are emulated (no entry is a link; every entry belongs to uid and
 * gid 0; files have mode `0o600` and directories `0o700`), and writes of them
 * (`chmod`, `setPermission`, `symlinkTo`, `mkdir` with a mode) fail with
 * `Unsupported`, or do nothing when `unsupportedMethodsRaise` is `false`.
 *
 * Unlike Cerulean, every response status is checked: a refused PUT, MKCOL,
 * MOVE, COPY or DELETE is a `FileSystemError` carrying the HTTP status, and a
 * GET that answers with an error page fails instead of yielding the page as
 * file content. Listings take one `PROPFIND` with `Depth: 1`.
 *
 * @since 0.1.0
 */
import type * as Credential from "@cerulean/core/Credential"
import * as FileSystem from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"
import * as NFS from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Posix from "node:path/posix"
import { createClient, type FileStat, parseXML, prepareFileFromProps, type WebDAVClient } from "webdav"
import { BlockPool } from "./internal/blocks.ts"
import * as Download from "./internal/download.ts"
import * as Errors from "./internal/errors.ts"
import * as HttpBody from "./internal/http.ts"
import * as LocalFile from "./internal/localFile.ts"
import * as Url from "./internal/url.ts"

/**
 * Options of {@link WebdavFileSystem.make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface WebdavFileSystemOptions {
  /**
   * The base URL, `http://host[:port]/base` or `https://...`. File-system
   * paths are appended to it: with `https://host/dav`, the path `/a/b` is
   * `https://host/dav/a/b`. It must not contain credentials.
   */
  readonly url: string
  /** A `PasswordCredential`, sent as HTTP Basic auth. Without one, requests are anonymous. */
  readonly credential?: Credential.Credential | undefined
  /**
   * A PEM file with the certificate(s) of the CA that signed the server's
   * certificate, for servers with a private CA or a self-signed certificate.
   * When given, only these CAs are trusted (whatever `NODE_EXTRA_CA_CERTS` or
   * `*_CA_BUNDLE` say), as Cerulean's `host_ca_cert_file`.
   */
  readonly hostCaCertFile?: string | undefined
  /**
   * How long to wait for the server (default 2 minutes): for the answer to a
   * request, and during a transfer for the next piece of data. A server that
   * stays silent longer fails the operation with `ConnectionLost`. Time the
   * program itself takes with the data does not count.
   */
  readonly timeout?: Duration.Input | undefined
  /**
   * What `chmod`, `setPermission`, `symlinkTo` and `mkdir` with a mode do:
   * fail with `Unsupported` (`true`, the default) or nothing (`false`).
   * `readlink` fails either way.
   */
  readonly unsupportedMethodsRaise?: boolean | undefined
}

/**
 * The permission bits every file reports: owner read and write, as
 * Cerulean emulates them.
 *
 * @since 0.1.0
 * @category constants
 */
export const emulatedFileMode = 0o600

/**
 * The permission bits every directory reports: owner read, write and execute.
 *
 * @since 0.1.0
 * @category constants
 */
export const emulatedDirectoryMode = 0o700

/** How long to wait for the server when the options do not say. */
const defaultTimeout = Duration.minutes(2)

/** How much a transfer buffers (and so the largest block it hands on): large enough that per-block costs vanish. */
const transferBlockSize = 1024 * 1024

/** How many blocks an upload reads ahead of the network. */
const readAhead = 4

/** How many blocks a download on its own connection reads into: one being written, the others filling. */
const downloadBlocks = 4

/**
 * From this size on, `copy` to a local file downloads on a connection of
 * its own. Below it, a new connection's handshake (two round trips with
 * TLS) would cost more than the faster reading saves.
 */
const directDownloadSize = 4 * 1024 * 1024

const toInfo = (stat: FileStat): FileSystem.FileInfo => {
  const directory = stat.type === "directory"
  const mtime = stat.lastmod ? new Date(stat.lastmod) : undefined
  return {
    type: directory ? "Directory" : "File",
    size: directory || !Number.isFinite(stat.size) ? 0 : stat.size,
    mode: directory ? emulatedDirectoryMode : emulatedFileMode,
    uid: 0,
    gid: 0,
    mtime: mtime !== undefined && !Number.isNaN(mtime.getTime()) ? mtime : undefined,
    atime: undefined
  }
}

/** The statuses of a successful MOVE, COPY or DELETE (207 is a partial failure, not a success). */
const isDone = (status: number) => status === 200 || status === 201 || status === 204

const readCaFile = (file: string) =>
  Effect.tryPromise({
    try: () => NFS.promises.readFile(file),
    catch: (cause) => {
      const code = Predicate.hasProperty(cause, "code") && Predicate.isString(cause.code) ? cause.code : undefined
      return FileSystemError.make(
        code === "ENOENT" ? "NotFound" : code === "EACCES" || code === "EPERM" ? "PermissionDenied" : "Io",
        { path: file, operation: "make", description: `cannot read hostCaCertFile (${code ?? String(cause)})`, cause }
      )
    }
  })

const makeFileSystem = Effect.fnUntraced(function*(options: WebdavFileSystemOptions) {
  const base = Url.parseBase(options.url)
  if (Url.isProblem(base)) {
    return yield* FileSystemError.make(base.unsupported ? "Unsupported" : "Io", {
      path: "/",
      operation: "make",
      description: base.message
    })
  }
  const raise = options.unsupportedMethodsRaise ?? true
  const timeout = options.timeout === undefined ? Option.some(defaultTimeout) : Duration.fromInput(options.timeout)
  if (Option.isNone(timeout) || !Duration.isPositive(timeout.value)) {
    return yield* FileSystemError.make("Io", {
      path: "/",
      operation: "make",
      description: `timeout must be a positive duration, not ${String(options.timeout)}`
    })
  }
  const credential = options.credential
  if (credential !== undefined && credential._tag !== "PasswordCredential") {
    return yield* FileSystemError.make("Unsupported", {
      path: "/",
      operation: "make",
      description: `WebDAV takes a PasswordCredential (HTTP Basic auth), not a ${credential._tag}`
    })
  }
  const ca = base.protocol === "https:" && options.hostCaCertFile !== undefined
    ? yield* readCaFile(options.hostCaCertFile)
    : undefined

  // One pool of keep-alive connections for the whole file system, shared by the `webdav`
  // client (metadata requests) and the streaming GET/PUT; closed with the scope.
  const agent: Http.Agent = yield* Effect.acquireRelease(
    Effect.sync(() =>
      base.protocol === "https:"
        ? new Https.Agent({ keepAlive: true, ...(ca !== undefined ? { ca } : {}) })
        : new Http.Agent({ keepAlive: true })
    ),
    (agent) => Effect.sync(() => agent.destroy())
  )
  const client: WebDAVClient = createClient(base.href, {
    httpAgent: agent,
    httpsAgent: agent,
    headers: { "User-Agent": HttpBody.userAgent },
    ...(credential !== undefined
      ? { username: credential.username, password: Redacted.value(credential.password) }
      : {})
  })
  const transport: HttpBody.Transport = {
    base,
    agent,
    timeout: timeout.value,
    ca,
    authorization: credential === undefined ? undefined : Redacted.make(
      "Basic " + Buffer.from(`${credential.username}:${Redacted.value(credential.password)}`).toString("base64")
    )
  }

  const log = (method: string, path: string) =>
    Effect.logDebug(`${method} ${path}`).pipe(Effect.annotateLogs({ webdav: base.href }))

  /** A call into the `webdav` client, aborted on interruption, its failure mapped. */
  const call = <A>(operation: string, path: string, f: (signal: AbortSignal) => Promise<A>) =>
    HttpBody.waitForServer(
      transport,
      Effect.tryPromise({ try: (signal) => f(signal), catch: Errors.fromCause(operation, path) }),
      Errors.fromCause(operation, path)
    )

  /**
   * A request through the `webdav` client whose status this module checks
   * itself: the client counts 207 Multi-Status (a partial failure of a
   * DELETE, MOVE or COPY on a collection) as success. Fails with the client's
   * error for statuses of 400 and above.
   */
  const custom = (
    operation: string,
    path: string,
    requestPath: string,
    method: string,
    headers: Record<string, string>,
    url?: string
  ) =>
    Effect.flatMap(
      call(operation, path, (signal) =>
        client.customRequest(requestPath, { method, headers, signal, ...(url !== undefined ? { url } : {}) })),
      (response) =>
        call(operation, path, () => response.text()).pipe(
          Effect.map((body) => ({ status: response.status, statusText: response.statusText, body }))
        )
    )

  const unsupported = (operation: string, path: string, what: string) =>
    raise
      ? Effect.fail(FileSystemError.make("Unsupported", { path, operation, description: `WebDAV has no ${what}` }))
      : Effect.void

  const refuseRoot = (operation: string, path: string) =>
    Posix.normalize(path) === "/"
      ? Effect.fail(FileSystemError.make("PermissionDenied", {
        path,
        operation,
        description: "the root of a WebDAV file system cannot be removed or renamed"
      }))
      : Effect.void

  /**
   * One PROPFIND, with the collection URL (trailing slash) for a listing.
   * Without a body (allprop), as Cerulean sent it: every server answers it,
   * and no property comes back in a separate 404 block, which the `webdav`
   * client's parser would take for the whole answer.
   */
  const propfind = (operation: string, path: string, depth: "0" | "1") =>
    Effect.gen(function*() {
      const url = Url.urlOf(base, path, depth === "1")
      const response = yield* custom(operation, path, path, "PROPFIND", { Depth: depth }, url)
      if (response.status !== 207) return yield* Errors.fromStatus(operation, path, response)
      const result = yield* call(operation, path, () => parseXML(response.body))
      const entries: Array<{ readonly path: string; readonly stat: FileStat }> = []
      for (const r of result.multistatus.response) {
        // A member the server could not describe comes with a status and no properties.
        if (r.propstat === undefined || !/^HTTP\/\d(\.\d)? 2\d\d/.test(String(r.propstat.status))) continue
        const entryPath = Url.hrefToPath(base, String(r.href))
        if (entryPath === undefined) continue
        const stat = yield* Effect.try({
          try: () => prepareFileFromProps(r.propstat!.prop, entryPath),
          catch: Errors.fromCause(operation, path)
        })
        entries.push({ path: entryPath, stat })
      }
      return entries
    })

  /** `stat` without explanations: `None` when the server says 404. */
  const statRaw = (operation: string, path: string): Effect.Effect<Option.Option<FileStat>, FileSystemError.FileSystemError> =>
    propfind(operation, path, "0").pipe(
      Effect.flatMap((entries) => {
        const entry = entries.find((e) => e.path === Posix.normalize(path)) ?? entries[0]
        return entry === undefined
          ? Effect.fail(FileSystemError.make("Io", { path, operation, description: "PROPFIND answered without properties" }))
          : Effect.succeed(Option.some(entry.stat))
      }),
      Effect.catchIf((e) => e.reason._tag === "NotFound", () => Effect.succeed(Option.none()))
    )

  /**
   * Why a request on `path` failed when the status alone does not say:
   * Apache answers 400 when a component of the path is a file, and 409 or
   * 500 when a parent directory is missing. Looks at the ancestors.
   */
  const explain = (
    operation: string,
    path: string,
    failure: Errors.StatusFailure,
    fallback: FileSystemError.ReasonTag
  ): Effect.Effect<never, FileSystemError.FileSystemError> =>
    Effect.gen(function*() {
      const parent = Posix.dirname(path)
      if (parent === path) return yield* Errors.fromStatus(operation, path, failure, fallback)
      const info = yield* Effect.result(statRaw(operation, parent))
      if (info._tag === "Failure") {
        const tag = info.failure.reason._tag
        if (tag === "NotADirectory" || tag === "NotFound") {
          return yield* Errors.fromStatus(operation, path, failure, tag, `at ${parent}`)
        }
        return yield* Errors.fromStatus(operation, path, failure, fallback)
      }
      if (Option.isNone(info.success)) {
        return yield* Errors.fromStatus(operation, path, failure, "NotFound", `${parent} does not exist`)
      }
      if (info.success.value.type !== "directory") {
        return yield* Errors.fromStatus(operation, path, failure, "NotADirectory", `${parent} is a file`)
      }
      return yield* Errors.fromStatus(operation, path, failure, fallback)
    })

  /** Fails with the status of a client error, explaining 400/409/500 through the ancestors. */
  const explainFailure = (operation: string, path: string, fallback: FileSystemError.ReasonTag = "Io") =>
  (
    e: FileSystemError.FileSystemError
  ): Effect.Effect<never, FileSystemError.FileSystemError> => {
    const status = statusOfError(e)
    if (status === 400 || status === 409 || status === 500) {
      return explain(operation, path, { status }, status === 409 ? "NotFound" : fallback)
    }
    return Effect.fail(e)
  }

  const statInfo = (operation: string, path: string) =>
    Effect.flatMap(statRaw(operation, path), (stat) =>
      Option.match(stat, {
        onNone: () => Effect.fail(FileSystemError.make("NotFound", { path, operation, description: "HTTP 404" })),
        onSome: (s) => Effect.succeed(s)
      })).pipe(Effect.catchIf((e) => statusOfError(e) === 400, explainFailure(operation, path)))

  const stat = Effect.fn("WebdavFileSystem.stat")(function*(path: string) {
    yield* log("PROPFIND 0", path)
    return toInfo(yield* statInfo("stat", path))
  })

  const lstat = Effect.fn("WebdavFileSystem.lstat")(function*(path: string) {
    yield* log("PROPFIND 0", path)
    return toInfo(yield* statInfo("lstat", path))
  })

  /** One PROPFIND with Depth 1 on the collection URL: the entries, without the collection itself. */
  const list = (operation: string, path: string) =>
    propfind(operation, path, "1").pipe(
      Effect.catchIf(
        (e) => statusOfError(e) === 400 || statusOfError(e) === 404,
        (e) =>
          // `dir/` of a file is 400 or 404 depending on the server: ask about `dir` itself.
          Effect.flatMap(Effect.result(statRaw(operation, path)), (r) => {
            if (r._tag === "Success" && Option.isSome(r.success)) {
              return r.success.value.type === "directory"
                ? Effect.fail(e)
                : Effect.fail(FileSystemError.make("NotADirectory", { path, operation, description: "a file" }))
            }
            return explain(operation, path, { status: statusOfError(e) ?? 404 }, "NotFound")
          })
      ),
      Effect.flatMap((entries) => {
        // Lexically, as the server resolves `..` in the URL (right on WebDAV: there are no links).
        const here = Posix.normalize(path)
        const self = entries.find((e) => e.path === here)
        if (self !== undefined && self.stat.type !== "directory") {
          return Effect.fail(FileSystemError.make("NotADirectory", { path, operation, description: "a file" }))
        }
        const children: Array<FileSystem.DirectoryEntry> = []
        for (const e of entries) {
          // Only direct children: the collection itself and anything from elsewhere are left out.
          if (e.path === here || Posix.dirname(e.path) !== here) continue
          children.push({ name: Posix.basename(e.path), info: toInfo(e.stat) })
        }
        return Effect.succeed(children)
      })
    )

  const readDirectory = Effect.fn("WebdavFileSystem.readDirectory")(function*(path: string) {
    yield* log("PROPFIND 1", path)
    return yield* list("readDirectory", path)
  })

  const makeDirectory = Effect.fn("WebdavFileSystem.makeDirectory")(function*(path: string, mode: number | undefined) {
    if (mode !== undefined) yield* unsupported("mkdir", path, "permissions (mkdir with a mode)")
    yield* log("MKCOL", path)
    const response = yield* custom("mkdir", path, Url.asCollection(path), "MKCOL", {}).pipe(
      Effect.catchIf((e) => statusOfError(e) === 405, () =>
        Effect.fail(FileSystemError.make("AlreadyExists", { path, operation: "mkdir", description: "HTTP 405" }))),
      Effect.catchIf((e) => statusOfError(e) === 507, (e) =>
        Effect.fail(FileSystemError.make("Io", {
          path,
          operation: "mkdir",
          description: "HTTP 507 Insufficient Storage",
          cause: e
        }))),
      Effect.catchIf(
        (e) => statusOfError(e) === 400,
        (e) =>
          // `file/` is 400 on Apache: something that is not a collection is already there.
          Effect.flatMap(Effect.result(statRaw("mkdir", path)), (r) =>
            r._tag === "Success" && Option.isSome(r.success)
              ? Effect.fail(FileSystemError.make("AlreadyExists", { path, operation: "mkdir", description: "a file" }))
              : explainFailure("mkdir", path)(e))
      ),
      Effect.catchIf((e) => isExplainable(e), explainFailure("mkdir", path))
    )
    if (response.status !== 201 && response.status !== 200) {
      return yield* Errors.fromStatus("mkdir", path, response)
    }
  })

  /** DELETE of a collection and its contents; a 207 lists members that could not be removed. */
  const deleteTree = (operation: string, path: string) =>
    Effect.gen(function*() {
      yield* refuseRoot(operation, path)
      yield* log("DELETE", path)
      const response = yield* custom(operation, path, Url.asCollection(path), "DELETE", {})
      if (!isDone(response.status)) {
        const refused = /HTTP\/1\.[01] (403|423)/.test(response.body)
        return yield* Errors.fromStatus(
          operation,
          path,
          response,
          refused ? "PermissionDenied" : "Io",
          response.status === 207 ? "some entries could not be removed" : undefined
        )
      }
    })

  const removeDirectory = Effect.fn("WebdavFileSystem.removeDirectory")(function*(path: string) {
    yield* log("PROPFIND 1", path)
    const entries = yield* list("rmdir", path)
    if (entries.length > 0) {
      return yield* FileSystemError.make("DirectoryNotEmpty", {
        path,
        operation: "rmdir",
        description: `${entries.length} entries`
      })
    }
    // WebDAV has no "remove if empty": an entry created between the listing and the DELETE is removed too.
    yield* deleteTree("rmdir", path)
  })

  const removeTree = Effect.fn("WebdavFileSystem.removeTree")(function*(path: string) {
    yield* deleteTree("rmdir", path)
  })

  const unlink = Effect.fn("WebdavFileSystem.unlink")(function*(path: string) {
    yield* refuseRoot("unlink", path)
    // DELETE of a collection would remove the whole tree: make sure it is not one.
    yield* log("PROPFIND 0", path)
    const info = yield* statInfo("unlink", path)
    if (info.type === "directory") {
      return yield* FileSystemError.make("IsADirectory", { path, operation: "unlink" })
    }
    yield* log("DELETE", path)
    const response = yield* custom("unlink", path, path, "DELETE", {})
    if (!isDone(response.status)) return yield* Errors.fromStatus("unlink", path, response)
  })

  /**
   * Gives an existing file a new modification time. WebDAV cannot set one
   * (`getlastmodified` is a protected property: PROPPATCH is refused), so the
   * server copies the file to a temporary name next to it and moves the copy
   * over the original: content unchanged, no data through the client, but a
   * server-side copy of the whole file, and for the moment of the MOVE the
   * name is absent. The temporary copy is removed if anything fails.
   */
  const refreshModificationTime = (path: string) => {
    const temp = Posix.join(Posix.dirname(path), `.${Posix.basename(path)}.cerulean-touch-${randomUUID()}`)
    return Effect.acquireUseRelease(
      Effect.gen(function*() {
        yield* log("COPY", `${path} -> ${temp}`)
        const copied = yield* custom("touch", path, path, "COPY", {
          Destination: Url.urlOf(base, temp),
          Overwrite: "F",
          Depth: "0"
        })
        if (!isDone(copied.status)) return yield* Errors.fromStatus("touch", path, copied)
        return temp
      }),
      (temp) =>
        Effect.gen(function*() {
          yield* log("MOVE", `${temp} -> ${path}`)
          const moved = yield* custom("touch", path, temp, "MOVE", { Destination: Url.urlOf(base, path), Overwrite: "T" })
          if (!isDone(moved.status)) return yield* Errors.fromStatus("touch", path, moved)
        }),
      (temp, exit) =>
        Exit.isSuccess(exit) ? Effect.void : Effect.ignore(custom("touch", path, temp, "DELETE", {}))
    )
  }

  const touch = Effect.fn("WebdavFileSystem.touch")(function*(path: string) {
    yield* log("PUT If-None-Match: *", path)
    // One request that creates the file only if nothing is there (412 otherwise).
    const done = yield* call("touch", path, (signal) =>
      // A Buffer: the client would JSON-encode a bare Uint8Array (`{}`).
      client.putFileContents(path, Buffer.alloc(0), { overwrite: false, contentLength: 0, signal })).pipe(
        Effect.catchIf(
          (e) => statusOfError(e) === 405 || statusOfError(e) === 409,
          (e) =>
            // Apache answers a PUT on a collection with 409, as it does a PUT below a missing one.
            // A directory keeps its time: refreshing it would mean copying the whole tree.
            Effect.flatMap(statRaw("touch", path), (s) =>
              Option.isSome(s) && s.value.type === "directory" ? Effect.succeed(true) : explainFailure("touch", path)(e))
        ),
        Effect.catchIf((e) => statusOfError(e) === 400, explainFailure("touch", path))
      )
    if (!done) yield* refreshModificationTime(path)
  })

  const rename = Effect.fn("WebdavFileSystem.rename")(function*(from: string, to: string) {
    yield* refuseRoot("rename", from)
    if (from === to) {
      yield* statInfo("rename", from)
      return
    }
    if (Posix.normalize(to).startsWith(Posix.normalize(from) + "/")) {
      return yield* FileSystemError.make("Io", {
        path: from,
        operation: "rename",
        description: `cannot move a directory into itself (${to})`
      })
    }
    yield* refuseRoot("rename", to)
    // MOVE with Overwrite: T would delete whatever is at the target, a whole directory tree
    // included; rename(2) replaces only a file, or an empty directory by a directory.
    yield* log("PROPFIND 0", to)
    const target = yield* statRaw("rename", to).pipe(Effect.catchIf((e) => statusOfError(e) === 400, explainFailure("rename", to)))
    if (Option.isSome(target)) {
      const source = yield* statInfo("rename", from)
      if (target.value.type === "directory") {
        if (source.type !== "directory") {
          return yield* FileSystemError.make("IsADirectory", { path: to, operation: "rename" })
        }
        const entries = yield* list("rename", to)
        if (entries.length > 0) {
          return yield* FileSystemError.make("DirectoryNotEmpty", { path: to, operation: "rename" })
        }
      } else if (source.type === "directory") {
        return yield* FileSystemError.make("NotADirectory", { path: to, operation: "rename" })
      }
    }
    yield* log("MOVE", `${from} -> ${to}`)
    const response = yield* custom("rename", from, from, "MOVE", { Destination: Url.urlOf(base, to), Overwrite: "T" })
      .pipe(
        Effect.catchIf((e) => isExplainable(e), explainFailure("rename", to))
      )
    if (!isDone(response.status)) return yield* Errors.fromStatus("rename", from, response)
  })

  const copyFile = Effect.fn("WebdavFileSystem.copyFile")(
    function*(from: string, to: string, transfer?: FileSystem.TransferOptions) {
      // `copy` passes the size it planned with; only without it is one PROPFIND needed.
      let size = transfer?.size
      if (size === undefined) {
        yield* log("PROPFIND 0", from)
        const source = yield* statInfo("copyFile", from)
        if (source.type === "directory") {
          return yield* FileSystemError.make("IsADirectory", { path: from, operation: "copyFile" })
        }
        size = source.size
      }
      yield* log("COPY", `${from} -> ${to}`)
      const response = yield* custom("copyFile", from, from, "COPY", {
        Destination: Url.urlOf(base, to),
        Overwrite: "T",
        Depth: "0"
      }).pipe(
        Effect.catchIf((e) => isExplainable(e), explainFailure("copyFile", to))
      )
      if (!isDone(response.status)) return yield* Errors.fromStatus("copyFile", to, response)
      transfer?.onProgress?.(Number.isFinite(size) ? size : 0)
    }
  )

  const symlink = Effect.fn("WebdavFileSystem.symlink")(function*(path: string, _target: string) {
    yield* unsupported("symlink", path, "symbolic links")
  })

  const readLink = Effect.fn("WebdavFileSystem.readLink")(function*(path: string) {
    // As in Cerulean, in both modes: there is no link to read, and returning anything would lie.
    return yield* FileSystemError.make("Unsupported", {
      path,
      operation: "readlink",
      description: "WebDAV has no symbolic links"
    })
  })

  const chmod = Effect.fn("WebdavFileSystem.chmod")(function*(path: string, _mode: number) {
    yield* unsupported("chmod", path, "permissions")
  })

  const getError = (path: string) => Errors.fromCause("readStream", path)

  /**
   * Checks the head of a GET's response: an error status is the error it
   * stands for, and a collection's generated index page (what a server
   * answers a GET of a directory with) is `IsADirectory`, never content.
   */
  const checkGet = (path: string, status: number, statusText: string | undefined, contentType: string) =>
    Effect.gen(function*() {
      if (status < 200 || status > 299) {
        const failure = { status, statusText }
        if (status === 400) return yield* explain("readStream", path, failure, "Io")
        if (status === 404) {
          // A component that is a file gives 404 too: say NotADirectory then.
          return yield* explain("readStream", path, failure, "NotFound")
        }
        return yield* Errors.fromStatus("readStream", path, failure)
      }
      if (contentType.startsWith("text/html") || contentType.startsWith("httpd/unix-directory")) {
        const info = yield* statInfo("readStream", path)
        if (info.type === "directory") {
          return yield* FileSystemError.make("IsADirectory", { path, operation: "readStream" })
        }
      }
    })

  /** A GET whose status and type have been checked: the body is the file's content. */
  const get = (path: string, highWaterMark: number) =>
    Stream.unwrap(Effect.gen(function*() {
      yield* log("GET", path)
      const response = yield* HttpBody.openGet(transport, Url.urlOf(base, path), getError(path))
      const status = response.statusCode ?? 0
      // An error page is read to its end first, so that its socket can serve the next request.
      if (status < 200 || status > 299) yield* HttpBody.discard(response)
      yield* checkGet(path, status, response.statusMessage, String(response.headers["content-type"] ?? ""))
      return HttpBody.body(transport, response, getError(path), highWaterMark)
    }))

  const readStream = (path: string, options?: FileSystem.ReadStreamOptions) =>
    get(path, Math.max(options?.chunkSize ?? 0, transferBlockSize)).pipe(
      // One chunk per batch of network reads (up to about `transferBlockSize`): far fewer,
      // larger writes wherever the data goes, for one copy in memory.
      Stream.mapArray((batch) => (batch.length === 1 ? batch : [Buffer.concat(batch)])),
      Stream.withSpan("WebdavFileSystem.readStream", { attributes: { path } })
    )

  /** A PUT of `data`, its status checked and explained. */
  const put = <E>(
    path: string,
    data: Stream.Stream<Uint8Array, E>,
    headers: Record<string, string>,
    sent?: (chunk: Uint8Array) => void
  ) =>
    Effect.gen(function*() {
      yield* log("PUT", path)
      const response = yield* HttpBody.put(
        transport,
        Url.urlOf(base, path),
        data,
        headers,
        Errors.fromCause("writeStream", path),
        sent
      )
      const status = response.statusCode ?? 0
      if (status === 200 || status === 201 || status === 204) return
      const failure = { status, statusText: response.statusMessage }
      if (status === 405 || status === 409) {
        const s = yield* statRaw("writeStream", path)
        if (Option.isSome(s) && s.value.type === "directory") {
          return yield* Errors.fromStatus("writeStream", path, failure, "IsADirectory")
        }
        return yield* explain("writeStream", path, failure, "NotFound")
      }
      if (status === 400) return yield* explain("writeStream", path, failure, "Io")
      return yield* Errors.fromStatus("writeStream", path, failure)
    })

  const writeStream = <E>(
    path: string,
    data: Stream.Stream<Uint8Array, E>,
    _options?: FileSystem.WriteStreamOptions
  ): Effect.Effect<void, FileSystemError.FileSystemError | E> =>
    // The mode of a new file is not an error even in raise mode: files get the emulated
    // permissions, and `copy` to WebDAV must work as it did in Cerulean.
    put(path, data, {}).pipe(Effect.withSpan("WebdavFileSystem.writeStream", { attributes: { path } }))

  /** Progress reports for a fast path, as the bytes go by. */
  const reporting = <E>(data: Stream.Stream<Uint8Array, E>, transfer: FileSystem.TransferOptions | undefined) => {
    const onProgress = transfer?.onProgress
    return onProgress === undefined ? data : Stream.tap(data, (chunk) => Effect.sync(() => onProgress(chunk.length)))
  }

  /**
   * Fast path of `copy` from the local file system: the file is read in
   * large blocks straight from disk and sent with its length announced
   * (`Content-Length`), so a file that changes size meanwhile fails the
   * request instead of being stored short. The blocks are recycled as soon
   * as the socket has sent them.
   */
  const receiveFrom = (
    source: FileSystem.Backend,
    from: string,
    to: string,
    transfer?: FileSystem.TransferOptions
  ): Effect.Effect<void, FileSystemError.FileSystemError> | undefined => {
    if (source.protocol !== "local") return undefined
    return Effect.scoped(Effect.gen(function*() {
      const local = yield* LocalFile.openSource(from)
      // Reading runs a few blocks ahead of the network, so disk and socket work at the same time;
      // the pool has room for those, the one being read and the ones the socket still holds.
      const pool = new BlockPool(Math.max(transfer?.chunkSize ?? 0, transferBlockSize), readAhead + 4)
      const blocks = LocalFile.readBlocks(local, from, local.size, pool).pipe(Stream.buffer({ capacity: readAhead }))
      const headers = { "content-length": String(local.size) }
      yield* put(to, reporting(blocks, transfer), headers, (chunk) => pool.release(chunk))
    })).pipe(Effect.withSpan("WebdavFileSystem.receiveFrom", { attributes: { from, to } }))
  }

  /**
   * A large download into a local file on a connection of its own, whose
   * socket reads straight into a few recycled blocks, each written with one
   * system call (see `internal/download.ts`).
   */
  const download = (from: string, to: string, transfer: FileSystem.TransferOptions | undefined) =>
    Effect.scoped(Effect.gen(function*() {
      yield* log("GET", from)
      const blockSize = Math.max(transfer?.chunkSize ?? 0, transferBlockSize)
      const response = yield* Download.get(transport, Url.urlOf(base, from), getError(from), blockSize, downloadBlocks)
      const head = response.head
      yield* checkGet(from, head.status, head.statusText, head.headers["content-type"] ?? "")
      yield* LocalFile.writeFile(
        to,
        transfer?.mode,
        response.body,
        transfer?.onProgress ?? (() => {}),
        (blocks) => {
          for (const block of blocks) response.release(block)
        }
      )
    }))

  /**
   * Fast path of `copy` to the local file system: the download goes into the
   * file in large blocks, one write each, never through a link at the
   * target's name. A file of `directDownloadSize` or more (or of unknown
   * size) gets a connection of its own ({@link download}), a smaller one
   * the file system's pool of keep-alive connections, where no handshake
   * is spent on it.
   */
  const sendTo = (
    from: string,
    target: FileSystem.Backend,
    to: string,
    transfer?: FileSystem.TransferOptions
  ): Effect.Effect<void, FileSystemError.FileSystemError> | undefined => {
    if (target.protocol !== "local") return undefined
    const size = transfer?.size
    const effect = size === undefined || size >= directDownloadSize
      ? download(from, to, transfer)
      : LocalFile.writeFile(
        to,
        transfer?.mode,
        get(from, Math.max(transfer?.chunkSize ?? 0, transferBlockSize)),
        transfer?.onProgress ?? (() => {})
      )
    return effect.pipe(Effect.withSpan("WebdavFileSystem.sendTo", { attributes: { from, to } }))
  }

  const fs = FileSystem.make({
    protocol: "webdav",
    location: base.href,
    features: { symlinks: false, permissions: false, devices: false, atomicRename: true },
    stat,
    lstat,
    readDirectory,
    makeDirectory,
    removeDirectory,
    removeTree,
    unlink,
    touch,
    rename,
    symlink,
    readLink,
    chmod,
    readStream,
    writeStream,
    copyFile,
    sendTo,
    receiveFrom
  })

  // Cerulean checked the base URL at construction (HEAD must be 200); a PROPFIND also proves
  // that the server speaks WebDAV there and that the credentials are accepted.
  yield* log("PROPFIND 0", "/")
  const root = yield* statInfo("make", "/").pipe(Effect.mapError((e) => {
    // Apache answers 400 for `file/`: the base URL names a file.
    if (statusOfError(e) === 400) {
      return FileSystemError.make("NotADirectory", {
        path: "/",
        operation: "make",
        description: `${base.href} is not a WebDAV collection (HTTP 400)`,
        cause: e
      })
    }
    if (e.reason._tag !== "PermissionDenied") return e
    const why = credential === undefined ? "authentication required" : "credentials refused"
    return FileSystemError.make("PermissionDenied", {
      path: "/",
      operation: "make",
      description: `${base.href}: ${why} (${e.reason.description ?? "HTTP 401"})`,
      cause: e
    })
  }))
  if (root.type !== "directory") {
    return yield* FileSystemError.make("NotADirectory", {
      path: "/",
      operation: "make",
      description: `${base.href} is not a WebDAV collection`
    })
  }
  return fs
})

const statusOfError = (e: FileSystemError.FileSystemError): number | undefined => {
  const cause = e.reason.cause
  if (Predicate.hasProperty(cause, "status") && Predicate.isNumber(cause.status)) return cause.status
  const match = /^HTTP (\d{3})/.exec(e.reason.description ?? "")
  return match ? Number(match[1]) : undefined
}

const isExplainable = (e: FileSystemError.FileSystemError) => {
  const status = statusOfError(e)
  return status === 400 || status === 409 || status === 500
}

/**
 * A WebDAV server as a file system. Its shape is the generic `FileSystem`;
 * {@link WebdavFileSystem.layer} provides this tag and `FileSystem` from one
 * instance.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { PasswordCredential } from "@cerulean/core"
 * import { WebdavFileSystem } from "@cerulean/webdav"
 *
 * const program = Effect.gen(function*() {
 *   const fs = yield* WebdavFileSystem
 *   yield* fs.path("hello.txt").writeText("Hello World\n")
 *   return yield* Stream.runCollect(fs.root.iterdir())
 * }).pipe(Effect.provide(WebdavFileSystem.layer({
 *   url: "https://dav.example.org/files",
 *   credential: new PasswordCredential({ username: "cerulean", password: "kingfisher" }),
 *   hostCaCertFile: "/etc/ssl/example-ca.pem"
 * })))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class WebdavFileSystem extends Context.Service<WebdavFileSystem, FileSystem.FileSystem>()(
  "@cerulean/webdav/WebdavFileSystem"
) {
  /**
   * Connects to the server: checks with one `PROPFIND` that the base URL is
   * a collection and that the credentials are accepted (a wrong password
   * fails here with `PermissionDenied`). The connection pool is closed when
   * the scope closes.
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly make: (
    options: WebdavFileSystemOptions
  ) => Effect.Effect<FileSystem.FileSystem, FileSystemError.FileSystemError, Scope.Scope> = Effect.fn(
    "WebdavFileSystem.make"
  )(function*(options: WebdavFileSystemOptions) {
    return yield* makeFileSystem(options)
  })

  /**
   * The file system as a layer, provided as both `WebdavFileSystem` and `FileSystem`.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (
    options: WebdavFileSystemOptions
  ): Layer.Layer<WebdavFileSystem | FileSystem.FileSystem, FileSystemError.FileSystemError> =>
    Layer.effectContext(
      Effect.map(
        WebdavFileSystem.make(options),
        (fs) => Context.make(WebdavFileSystem, fs).pipe(Context.add(FileSystem.FileSystem, fs))
      )
    )
}
