/**
 * `copy` in use: a progress bar, `Stream.runDrain`, `copyAll`, handling an
 * `AlreadyExists` reason, and interrupting a copy with a timeout. It builds
 * its own data in a scratch directory (removed at the end). Run it with
 * `node examples/copy-progress.ts` (Node 24); on a terminal the bar redraws
 * in place, otherwise each progress element is printed on its own line.
 */
import { copy, copyAll, type CopyProgress, LocalFileSystem, type Path } from "@cerulean/core"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Stream } from "effect"
import * as os from "node:os"

const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1)

/** One line of a text progress bar for a progress element. */
export const bar = (p: CopyProgress, width = 30): string => {
  const filled = Math.round(p.fraction * width)
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(p.fraction * 100).toFixed(0).padStart(3)}% ` +
    `${megabytes(p.bytesDone)}/${megabytes(p.bytesTotal)} MB, ${p.filesDone}/${p.filesTotal} files ${p.phase}`
}

/** Copies `source` to `target`, drawing the bar as the elements arrive; returns the last element. */
export const copyWithBar = (source: Path, target: Path) =>
  copy(source, target, { progressInterval: "100 millis" }).pipe(
    Stream.runForEach((p) =>
      Effect.sync(() => {
        if (process.stdout.isTTY) process.stdout.write(`\r${bar(p)}${p.done ? "\n" : ""}`)
        else console.log(bar(p))
      })
    )
  )

/** Some data to copy: one large file, a hundred small ones, a relative link. */
const makeData = (dir: Path) =>
  Effect.gen(function*() {
    yield* dir.join("small").mkdir({ parents: true })
    const chunk = new Uint8Array(1024 * 1024).map((_, i) => (i * 7) & 0xff)
    yield* dir.join("big.bin").writeStream(Stream.range(1, 200).pipe(Stream.as(chunk)))
    for (let i = 0; i < 100; i++) yield* dir.join("small", `file${i}.txt`).writeText(`file number ${i}\n`)
    yield* dir.join("latest").symlinkTo("small/file99.txt")
  })

const program = Effect.gen(function*() {
  const fs = yield* LocalFileSystem
  const base = fs.path(os.tmpdir(), `cerulean-copy-example-${process.pid}`)
  yield* Effect.acquireRelease(base.mkdir(), () => Effect.orDie(base.rmdir({ recursive: true })))
  const data = base.join("data")
  yield* makeData(data)
  yield* Console.log(`Data in ${data}`)

  // 1. A progress bar: run the stream, one element at a time.
  yield* copyWithBar(data, base.join("backup"))
  yield* Console.log(`backup/latest -> ${yield* base.join("backup", "latest").readlinkText()}`)

  // 2. No interest in progress: drain the stream (or use copyAll, which returns the totals).
  yield* Stream.runDrain(copy(data, base.join("backup"), { overwrite: "always" }))
  const totals = yield* copyAll(data, base.join("backup2"))
  yield* Console.log(`copyAll: ${totals.filesDone} files, ${totals.bytesDone} bytes`)

  // 3. Errors are CopyError with a reason; handle one reason, let the others through.
  const again = yield* copyAll(data, base.join("backup"), { copyInto: false, overwrite: "raise" }).pipe(
    Effect.as("copied"),
    Effect.catchReason("CopyError", "AlreadyExists", (reason) => Effect.succeed(`already there: ${reason.path}`))
  )
  yield* Console.log(again)

  // 4. Interruption: a timeout stops the copy and leaves nothing half-written.
  const target = base.join("interrupted.bin")
  const outcome = yield* copyAll(data.join("big.bin"), target).pipe(
    Effect.timeout("20 millis"),
    Effect.as("finished"),
    Effect.catchTag("TimeoutError", () => Effect.succeed("timed out"))
  )
  const leftovers = (yield* Stream.runCollect(base.iterdir())).filter((p) => p.name.includes(".cerulean-"))
  yield* Console.log(`${outcome}; target exists: ${yield* target.exists()}; temporary files left: ${leftovers.length}`)
})

if (import.meta.main) NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(LocalFileSystem.layer)))
