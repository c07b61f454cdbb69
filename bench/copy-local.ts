/**
 * Local-to-local copy benchmark: Cerulean's `copy` against `cp` / `cp -r`, in
 * the same run, on
 *   A. one 1 GiB file of random bytes, and
 *   B. 5,000 files of 4 KiB in 50 folders,
 * with Cerulean's defaults (LocalFileSystem's `copyFile` fast path: a kernel
 * copy per file up to 64 MiB, a `cp` child process above), with the fast path's
 * fallback for machines without GNU `cp` (a chunked copy through two buffers),
 * and with `fastPaths: false` (every file through the `readStream` →
 * `writeStream` pipe).
 * Each tool runs 3 times per workload, interleaved (cerulean, cp, cerulean,
 * cp, ...; the order rotates from one run to the next); the table shows the
 * median and the best, MB/s (10^6 bytes/s) and the ratio of Cerulean's median
 * time to cp's (lower is better; 1.00 = as fast as cp), and the same for CPU
 * seconds (user + system, threads included; cp's from /usr/bin/time;
 * Cerulean's includes the `cp` children it runs for large files), which a
 * busy machine disturbs less than wall time.
 * Every copy is checked against the source by SHA-256 outside the timer.
 *
 *   node bench/copy-local.ts [--runs N] [--size-mib N] [--files N] [--dir PATH] [--only A|B]
 *
 * Scratch data goes to bench/.work/ (gitignored) unless --dir says otherwise,
 * and is removed at the end, also after a failure or Ctrl-C.
 */
import { copyAll, LocalFileSystem } from "@cerulean/core"
import type { CopyOptions } from "@cerulean/core"
import * as FileSystem from "@cerulean/core/FileSystem"
import * as FileSystemError from "@cerulean/core/FileSystemError"
import { NodeRuntime } from "@effect/platform-node"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Console, Effect } from "effect"
import * as EffectFileSystem from "effect/FileSystem"
import type * as PlatformError from "effect/PlatformError"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as NFS from "node:fs"
import * as NodePath from "node:path"
import { makeLocalCopyFile } from "../packages/core/src/internal/localCopyFile.ts"

const args = process.argv.slice(2)
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const runs = flag("runs", 3)
const sizeMiB = flag("size-mib", 1024)
const fileCount = flag("files", 5000)
const folders = 50
const dirArg = args.indexOf("--dir")
const base = dirArg >= 0 ? args[dirArg + 1]! : NodePath.join(import.meta.dirname, ".work")
const onlyArg = args.indexOf("--only")
const only = onlyArg >= 0 ? args[onlyArg + 1]! : "AB"

interface Row {
  readonly workload: string
  readonly tool: string
  readonly timings: ReadonlyArray<Timing>
  readonly bytes: number
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

// ------------------------------------------------------------- data and checks

const makeBigFile = (path: string, bytes: number) =>
  Effect.sync(() => {
    const fd = NFS.openSync(path, "w")
    const chunk = Buffer.alloc(8 * 1024 * 1024)
    for (let done = 0; done < bytes; done += chunk.length) {
      Crypto.randomFillSync(chunk)
      NFS.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done))
    }
    NFS.closeSync(fd)
  })

const makeTree = (dir: string, files: number) =>
  Effect.sync(() => {
    for (let f = 0; f < files; f++) {
      const folder = NodePath.join(dir, `folder${String(f % folders).padStart(2, "0")}`)
      if (f < folders) NFS.mkdirSync(folder, { recursive: true })
      NFS.writeFileSync(NodePath.join(folder, `file${String(f).padStart(5, "0")}`), Crypto.randomBytes(4096))
    }
  })

const sha256File = (path: string) =>
  Effect.sync(() => {
    const hash = Crypto.createHash("sha256")
    const fd = NFS.openSync(path, "r")
    const buf = Buffer.alloc(8 * 1024 * 1024)
    for (let n = NFS.readSync(fd, buf); n > 0; n = NFS.readSync(fd, buf)) hash.update(buf.subarray(0, n))
    NFS.closeSync(fd)
    return hash.digest("hex")
  })

/** A digest of a tree: SHA-256 over the sorted "relative path + file digest" lines. */
const sha256Tree = (dir: string) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const entries = NFS.readdirSync(dir, { recursive: true, withFileTypes: true })
    for (const e of entries) {
      if (!e.isFile()) continue
      const full = NodePath.join(e.parentPath, e.name)
      lines.push(`${NodePath.relative(dir, full)} ${yield* sha256File(full)}`)
    }
    lines.sort()
    return { digest: Crypto.createHash("sha256").update(lines.join("\n")).digest("hex"), files: lines.length }
  })

const remove = (path: string) => Effect.sync(() => NFS.rmSync(path, { recursive: true, force: true }))

// ------------------------------------------------------------------ the tools

/** Wall-clock and CPU seconds (user + system) of one run; a tool that measures its own CPU returns it. */
interface Timing {
  readonly wall: number
  readonly cpu: number
}

/**
 * CPU seconds (user + system) of the children this process has waited for (Linux's
 * /proc/self/stat fields cutime and cstime, in clock ticks of 1/100 s): Cerulean's copy
 * runs `cp` in a child process for large files, whose time counts as Cerulean's.
 */
const childrenCpu = (): number => {
  const fields = NFS.readFileSync("/proc/self/stat", "utf8").replace(/^.*\) /, "").split(" ")
  // After "pid (comm) ", field 3 (state) is index 0: cutime (16) and cstime (17) are at 13 and 14.
  return (Number(fields[13]) + Number(fields[14])) / 100
}

const timed = <E, R>(effect: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const cpu0 = process.cpuUsage()
    const children0 = childrenCpu()
    const result = yield* effect
    const cpu = process.cpuUsage(cpu0)
    const children = childrenCpu() - children0
    const wall = (performance.now() - start) / 1000
    // cp runs in a child process: its own CPU figure comes back from /usr/bin/time.
    return { wall, cpu: typeof result === "number" ? result : (cpu.user + cpu.system) / 1e6 + children }
  })

/** Runs cp under /usr/bin/time; returns the child's CPU seconds. */
const cp = (argv: ReadonlyArray<string>) =>
  Effect.sync(() => {
    const result = ChildProcess.spawnSync("/usr/bin/time", ["-f", "%U %S", "cp", ...argv], { encoding: "utf8" })
    if (result.status !== 0) throw new Error(`cp ${argv.join(" ")} exited with ${result.status}: ${result.stderr}`)
    const [user, system] = result.stderr.trim().split("\n").pop()!.split(" ").map(Number)
    return user! + system!
  })

const cerulean = (from: string, to: string, options?: CopyOptions) =>
  Effect.gen(function*() {
    const fs = yield* LocalFileSystem
    return yield* copyAll(fs.path(from), fs.path(to), options)
  })

/** LocalFileSystem with the copyFile fast path of a machine without GNU `cp`: chunked above 64 MiB. */
const withoutCpChild = Effect.gen(function*() {
  const fs = yield* LocalFileSystem
  const efs = yield* EffectFileSystem.FileSystem
  const toError = (operation: string, path: string) => (cause: PlatformError.PlatformError) =>
    FileSystemError.make("Io", { path, operation, description: cause.message, cause })
  return FileSystem.make({ ...fs, copyFile: yield* makeLocalCopyFile(efs, toError, { cp: null }) })
}).pipe(Effect.provide(NodeFileSystem.layer))

const ceruleanChunked = (from: string, to: string) =>
  Effect.flatMap(withoutCpChild, (fs) => copyAll(fs.path(from), fs.path(to)))

// ------------------------------------------------------------------- the run

const workload = (
  name: string,
  source: string,
  target: string,
  bytes: number,
  check: (path: string) => Effect.Effect<string>,
  tools: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown, LocalFileSystem>]>
) =>
  Effect.gen(function*() {
    const expected = yield* check(source)
    const timings = tools.map(() => [] as Array<Timing>)
    for (let r = 0; r < runs; r++) {
      // The order rotates from run to run, so that no tool always runs right after the same
      // other one: what a run leaves in the page cache and the disk queue can weigh on the next.
      for (let k = 0; k < tools.length; k++) {
        const i = (k + r) % tools.length
        const [tool, run] = tools[i]!
        yield* remove(target)
        // Flush the previous runs' dirty pages first, so that no run pays for another's writeback.
        yield* Effect.sync(() => ChildProcess.spawnSync("sync"))
        const t = yield* timed(run)
        const got = yield* check(target)
        if (got !== expected) return yield* Effect.die(new Error(`${name}: ${tool} produced a different copy`))
        timings[i]!.push(t)
        yield* Console.log(
          `  ${name} ${tool} run ${r + 1}: ${t.wall.toFixed(3)} s, cpu ${t.cpu.toFixed(3)} s (checksum ok)`
        )
      }
    }
    yield* remove(target)
    return tools.map(([tool], i): Row => ({ workload: name, tool, timings: timings[i]!, bytes }))
  })

const table = (rows: ReadonlyArray<Row>) => {
  const header = [
    "workload",
    "tool",
    "median s",
    "best s",
    "MB/s (median)",
    "ratio vs cp (time)",
    "cpu s (median)",
    "ratio vs cp (cpu)"
  ]
  const lines = rows.map((row) => {
    const cpRow = rows.find((r) => r.workload === row.workload && r.tool.startsWith("cp"))!
    const wall = median(row.timings.map((t) => t.wall))
    const cpu = median(row.timings.map((t) => t.cpu))
    return [
      row.workload,
      row.tool,
      wall.toFixed(3),
      Math.min(...row.timings.map((t) => t.wall)).toFixed(3),
      (row.bytes / wall / 1e6).toFixed(0),
      (wall / median(cpRow.timings.map((t) => t.wall))).toFixed(2),
      cpu.toFixed(3),
      (cpu / Math.max(0.001, median(cpRow.timings.map((t) => t.cpu)))).toFixed(2)
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const fmt = (cells: ReadonlyArray<string>) => "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |"
  return [fmt(header), fmt(widths.map((w) => "-".repeat(w))), ...lines.map(fmt)].join("\n")
}

const program = Effect.gen(function*() {
  const work = yield* Effect.acquireRelease(
    Effect.sync(() => {
      NFS.mkdirSync(base, { recursive: true })
      return NFS.mkdtempSync(NodePath.join(base, "copy-local-"))
    }),
    remove
  )
  yield* Console.log(`copy-local: ${runs} runs each, scratch in ${work}, node ${process.version}`)

  const rows: Array<Row> = []
  if (only.includes("A")) {
    const bigBytes = sizeMiB * 1024 * 1024
    const big = NodePath.join(work, "big.bin")
    yield* Console.log(`making ${sizeMiB} MiB of random data ...`)
    yield* makeBigFile(big, bigBytes)
    const bigCopy = NodePath.join(work, "big.copy")
    rows.push(
      ...yield* workload(`A: 1 file, ${sizeMiB} MiB`, big, bigCopy, bigBytes, sha256File, [
        ["cerulean copy", cerulean(big, bigCopy)],
        ["cerulean copy, no cp child (chunked)", ceruleanChunked(big, bigCopy)],
        ["cerulean copy, fastPaths: false", cerulean(big, bigCopy, { fastPaths: false })],
        ["cp", cp([big, bigCopy])]
      ])
    )
    yield* remove(big)
  }

  if (only.includes("B")) {
    const tree = NodePath.join(work, "tree")
    yield* Console.log(`making ${fileCount} files of 4 KiB in ${folders} folders ...`)
    yield* makeTree(tree, fileCount)
    const treeCheck = (dir: string) =>
      Effect.map(sha256Tree(dir), (t) => (t.files === fileCount ? t.digest : `only ${t.files} files`))
    const treeCopy = NodePath.join(work, "tree.copy")
    rows.push(
      ...yield* workload(`B: ${fileCount} x 4 KiB`, tree, treeCopy, fileCount * 4096, treeCheck, [
        ["cerulean copy", cerulean(tree, treeCopy)],
        ["cerulean copy, concurrency 1", cerulean(tree, treeCopy, { concurrency: 1 })],
        ["cerulean copy, fastPaths: false", cerulean(tree, treeCopy, { fastPaths: false })],
        ["cp -r", cp(["-r", tree, treeCopy])]
      ])
    )
  }

  yield* Console.log("")
  const load = NFS.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
  yield* Console.log(`load average at the end: ${load} (on ${navigator.hardwareConcurrency} cores)`)
  yield* Console.log(table(rows))
}).pipe(Effect.scoped, Effect.provide(LocalFileSystem.layer))

NodeRuntime.runMain(program)
