/**
 * Memory of a large local-to-local copy: copies a 4 GiB sparse file (reading
 * it still streams 4 GiB of zeros) with Cerulean's `copy`, through the stream
 * pipe (`fastPaths: false`) and through LocalFileSystem's `copyFile` fast
 * path (a `cp` child process at this size, which copies a sparse file as a
 * sparse file: no data through this process at all), and prints the peak
 * resident memory of this process (sampled every 20 ms, and the kernel's
 * maxRSS) against its resident memory before the copy.
 *
 *   node bench/copy-memory.ts [--size-gib N] [--dir PATH]
 *
 * Run one mode alone for a clean maxRSS: --mode stream | fast.
 */
import { copy, LocalFileSystem } from "@cerulean/core"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Stream } from "effect"
import * as NFS from "node:fs"
import * as NodePath from "node:path"

const args = process.argv.slice(2)
const arg = (name: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}
const sizeGiB = Number(arg("size-gib") ?? 4)
const modes = arg("mode") !== undefined ? [arg("mode")!] : ["stream", "fast"]
const base = arg("dir") ?? NodePath.join(import.meta.dirname, ".work")

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`

const program = Effect.gen(function*() {
  const work = yield* Effect.acquireRelease(
    Effect.sync(() => {
      NFS.mkdirSync(base, { recursive: true })
      return NFS.mkdtempSync(NodePath.join(base, "copy-memory-"))
    }),
    (dir) => Effect.sync(() => NFS.rmSync(dir, { recursive: true, force: true }))
  )
  const source = NodePath.join(work, "sparse.bin")
  const size = sizeGiB * 1024 * 1024 * 1024
  // A sparse file: no blocks on disk, but reading it yields `size` bytes of zeros.
  yield* Effect.sync(() => {
    const fd = NFS.openSync(source, "w")
    NFS.ftruncateSync(fd, size)
    NFS.closeSync(fd)
  })
  const fs = yield* LocalFileSystem

  for (const mode of modes) {
    const target = NodePath.join(work, `copy-${mode}.bin`)
    const before = process.memoryUsage().rss
    let peak = before
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss)
    }, 20)
    const start = performance.now()
    const elements = yield* Stream.runCount(
      copy(fs.path(source), fs.path(target), { fastPaths: mode === "fast" })
    )
    clearInterval(sampler)
    peak = Math.max(peak, process.memoryUsage().rss)
    const seconds = (performance.now() - start) / 1000
    const copied = NFS.statSync(target).size
    if (copied !== size) return yield* Effect.die(new Error(`copied ${copied} bytes, expected ${size}`))
    yield* Console.log(
      `${mode}: ${mib(size)} in ${seconds.toFixed(1)} s (${(size / seconds / 1e6).toFixed(0)} MB/s), ` +
        `${elements} progress elements; rss before ${mib(before)}, peak ${mib(peak)} ` +
        `(+${mib(peak - before)}); kernel maxRSS so far ${mib(process.resourceUsage().maxRSS * 1024)}`
    )
    NFS.rmSync(target)
  }
}).pipe(Effect.scoped, Effect.provide(LocalFileSystem.layer))

NodeRuntime.runMain(program)
