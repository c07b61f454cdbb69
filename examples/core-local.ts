/**
 * Cerulean's core model on the local file system: make a directory tree with
 * files and a symbolic link, list it, read through the link, and handle a
 * typed error. Run it with `node examples/core-local.ts` (Node 24).
 */
import { LocalFileSystem, type Path } from "@cerulean/core"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Stream } from "effect"
import * as os from "node:os"

const octal = (mode: number) => `0o${mode.toString(8).padStart(3, "0")}`

const program = Effect.gen(function*() {
  const fs = yield* LocalFileSystem

  // A scratch directory that is removed (with everything in it) when the program ends.
  const base = fs.path(os.tmpdir(), `cerulean-example-${process.pid}`)
  yield* Effect.acquireRelease(base.mkdir(), () => Effect.orDie(base.rmdir({ recursive: true })))

  const data = base.join("data")
  yield* data.join("raw").mkdir({ parents: true })
  yield* data.join("raw", "hello.txt").writeText("Hello World\n")
  yield* data.join("notes.md").writeText("# Notes\n\nMade by Cerulean.\n")
  yield* data.join("latest").symlinkTo("raw/hello.txt")
  const script = base.join("run.sh")
  yield* script.writeText("#!/bin/sh\necho hi\n")
  yield* script.chmod(0o755)
  yield* Console.log(`Created a tree in ${base}`)

  // walk: every directory with its subdirectories and other entries, top-down.
  yield* Stream.runForEach(base.walk(), ({ dir, dirnames, filenames }) =>
    Effect.gen(function*() {
      yield* Console.log(`${dir.relativeTo(base)}/`)
      for (const name of [...dirnames, ...filenames].sort()) {
        const entry: Path = dir.join(name)
        const info = yield* entry.lstat()
        const detail = info.type === "SymbolicLink"
          ? `-> ${yield* entry.readlinkText()}`
          : `${info.size} bytes, ${octal(info.mode)}`
        yield* Console.log(`  ${name.padEnd(10)} ${info.type.padEnd(13)} ${detail}`)
      }
    }))

  // Links are followed when reading; readlink resolves them to absolute paths.
  const latest = data.join("latest")
  yield* Console.log(`latest points to ${yield* latest.readlink()} and reads ${JSON.stringify(yield* latest.readText())}`)
  yield* Console.log(`run.sh is owner-executable: ${yield* script.hasPermission("OwnerExecute")}`)

  // Every failure is a FileSystemError with a reason; handle one reason, let the others through.
  const missing = data.join("missing.txt")
  const text = yield* missing.readText().pipe(
    Effect.catchReason("FileSystemError", "NotFound", (reason) =>
      Effect.as(Console.log(`${reason._tag}: ${reason.operation} ${reason.path}`), "(default text)"))
  )
  yield* Console.log(`missing.txt gave ${JSON.stringify(text)}`)
})

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(LocalFileSystem.layer)))
