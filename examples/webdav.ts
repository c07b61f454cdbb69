/**
 * WebDAV as a Cerulean file system: connect over https with a private CA and
 * Basic auth, make a directory, write and list files (one PROPFIND), copy a
 * local file up and back with `copy`, see the emulated permissions, and get
 * typed errors for what the server refuses.
 *
 *   node examples/webdav.ts [URL]
 *
 * URL defaults to the testbed's `https://localhost:8443/protected_files`; the
 * user and password come from $CERULEAN_USER / $CERULEAN_PASSWORD (default
 * the testbed's), the CA file from $CERULEAN_CA (default the testbed's).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Stream } from "effect"
import * as NFS from "node:fs"
import * as OS from "node:os"
import * as NodePath from "node:path"
import { copyAll, LocalFileSystem, PasswordCredential, WebdavFileSystem } from "cerulean"

const url = process.argv[2] ?? "https://localhost:8443/protected_files"
const credential = new PasswordCredential({
  username: process.env.CERULEAN_USER ?? "cerulean",
  password: process.env.CERULEAN_PASSWORD ?? "kingfisher"
})
const hostCaCertFile = process.env.CERULEAN_CA ?? NodePath.join(import.meta.dirname, "..", ".testbed/etc/tls/ca.crt")

const program = Effect.gen(function*() {
  const dav = yield* WebdavFileSystem
  const local = yield* LocalFileSystem

  // A directory of our own, removed (tree and all) when the program ends.
  const dir = yield* Effect.acquireRelease(
    Effect.as(dav.path(`webdav-example-${process.pid}`).mkdir(), dav.path(`webdav-example-${process.pid}`)),
    (d) => Effect.orDie(d.rmdir({ recursive: true }))
  )
  yield* Console.log(`Connected to ${dav.location}, working in ${dir}`)

  yield* dir.join("notes.txt").writeText("Hello over WebDAV\n")
  yield* dir.join("sub").mkdir()
  for (const entry of yield* dav.readDirectory(dir.path)) {
    yield* Console.log(`  ${entry.name.padEnd(10)} ${entry.info.type.padEnd(9)} ${entry.info.size} bytes, 0o${entry.info.mode.toString(8)}`)
  }

  // Up and back with copy: the file goes through the local fast paths, in large blocks.
  const localDir = NFS.mkdtempSync(NodePath.join(OS.tmpdir(), "webdav-example-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => NFS.rmSync(localDir, { recursive: true, force: true })))
  NFS.writeFileSync(NodePath.join(localDir, "data.bin"), Buffer.alloc(3 * 1024 * 1024, 42))
  const up = yield* copyAll(local.path(localDir, "data.bin"), dir)
  const back = yield* copyAll(dir.join("data.bin"), local.path(localDir, "back.bin"))
  yield* Console.log(`copied ${up.bytesDone} bytes up and ${back.bytesDone} bytes back`)

  // WebDAV has no permissions: reads are emulated, changes are refused (unsupportedMethodsRaise: true).
  yield* Console.log(`notes.txt is owner-writable: ${yield* dir.join("notes.txt").hasPermission("OwnerWrite")}`)
  const chmod = yield* Effect.flip(dir.join("notes.txt").chmod(0o644))
  yield* Console.log(`chmod: ${chmod.reason._tag}`)

  // What the server refuses is a typed error, with the HTTP status.
  const missing = yield* Effect.flip(dir.join("missing.txt").readText())
  yield* Console.log(`${missing.reason._tag}: ${missing.reason.description}`)
  const orphan = yield* Effect.flip(dir.join("no", "such", "dir", "x.txt").writeText("x"))
  yield* Console.log(`${orphan.reason._tag}: ${orphan.reason.description}`)
  const listed = yield* Stream.runCollect(dir.iterdir())
  yield* Console.log(`left in ${dir.name}: ${listed.map((p) => p.name).join(", ")}`)
})

program.pipe(
  Effect.scoped,
  Effect.provide([WebdavFileSystem.layer({ url, credential, hostCaCertFile }), LocalFileSystem.layer]),
  NodeRuntime.runMain
)
