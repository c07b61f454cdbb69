/**
 * SFTP benchmark on the testbed's OpenSSH sshd (127.0.0.1:2222): Cerulean's
 * `copy` between LocalFileSystem and SftpFileSystem against OpenSSH `sftp`
 * (batch mode), `scp` and (for the tree) `rsync -a`, in the same run, on
 *   A. one 1 GiB file of random bytes, up and down, and
 *   B. 5,000 files of 4 KiB in 50 folders, up and down.
 *
 * Runs are interleaved (tool 1, tool 2, ..., tool 1, ...), `runs` times per
 * workload; each run of B copies into a folder of its own, all removed
 * when the bench ends (see `workload` for why); the table shows the median and the range, MB/s (10^6 bytes/s)
 * and the ratio of each tool's speed to `sftp`'s (higher is better) and, for
 * B, to `rsync -a`'s. Every copy is checked outside the timer: SHA-256 of the
 * file, or SHA-256 over the sorted per-file SHA-256 list of the tree, each
 * computed where the copy landed (`sha256sum` on the server over SSH).
 *
 * Timing: the CLI tools from process start to exit (connect and auth
 * included); Cerulean runs in a child process of its own and is timed from
 * before `SshTerminal.make` (connect, auth, SFTP channel) to the end of the
 * copy (Node's start-up and the loading of the libraries are not counted,
 * the connection is), with Node's defaults. "busy" is the machine-wide non-idle cores
 * during the run, out of 2.0 on the project's machines: other work on the
 * machine shows there.
 *
 *   node bench/sftp.ts [--runs N] [--size-mib N] [--files N] [--only a|b]
 *   node bench/sftp.ts --child up|down FROM TO   (one Cerulean copy, as the bench runs it)
 *
 * Cerulean copies with copy's default options (a tree's small files go
 * through the batch fast path, 64 in flight).
 *
 * Local data goes to bench/.work/ (gitignored), remote data to
 * ~cerulean/bench-sftp-<pid>; both are removed at the end, also after a
 * failure.
 */
import { copyAll, LocalFileSystem, PubKeyCredential, Shell } from "@cerulean/core"
import type { CopyOptions } from "@cerulean/core"
import { SftpFileSystem, SshTerminal } from "@cerulean/ssh"
import * as Testbed from "@cerulean/testing/Testbed"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as NFS from "node:fs"
import * as NodePath from "node:path"

const args = process.argv.slice(2)
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}
const runs = flag("runs", 3)
const sizeMiB = flag("size-mib", 1024)
const fileCount = flag("files", 5000)
const only = option("only")
const folders = 50

const tb = Testbed.load()
const user = tb.user
const host = tb.sshHost
const port = tb.sshPort
const key = tb.keyEd25519
const credential = new PubKeyCredential({ username: user, publicKey: key })
const sshOptions = [
  "-o", "BatchMode=yes",
  "-o", "IdentitiesOnly=yes",
  "-i", key,
  "-o", `UserKnownHostsFile=${tb.knownHosts}`,
  "-o", "StrictHostKeyChecking=yes"
]
const remoteBase = NodePath.posix.join(tb.userHome, `bench-sftp-${process.pid}`)
const localBase = NodePath.join(import.meta.dirname, ".work", `sftp-${process.pid}`)

// ------------------------------------------------------------------ helpers

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** Non-idle and total jiffies of the whole machine, from /proc/stat. */
const cpuTicks = () => {
  const line = NFS.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
  const idle = line[3]! + line[4]!
  const total = line.reduce((a, b) => a + b, 0)
  return { busy: total - idle, total }
}
const cores = (() => {
  const n = NFS.readFileSync("/proc/stat", "utf8").split("\n").filter((l) => /^cpu\d/.test(l)).length
  return n > 0 ? n : 1
})()

const sh = (command: string) =>
  Effect.sync(() => {
    const r = ChildProcess.spawnSync("sh", ["-c", command], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
    if (r.status !== 0) throw new Error(`${command} exited with ${r.status}: ${r.stderr}`)
    return r.stdout
  })

/** SHA-256 of a file, or over the sorted per-file SHA-256 list of a tree: the same shell text on both sides. */
const digestCommand = (path: string, tree: boolean) =>
  tree
    ? `cd ${Shell.quote(path)} && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum`
    : `sha256sum < ${Shell.quote(path)}`

// ---------------------------------------------------------------- the tools

interface Timing {
  readonly wall: number
  readonly busy: number
}

/** Wall time of an effect and the machine's busy cores meanwhile. */
const timed = <E, R>(effect: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    const t0 = cpuTicks()
    const start = performance.now()
    const reported = yield* effect
    const wall = (performance.now() - start) / 1000
    const t1 = cpuTicks()
    // a Cerulean child reports its own time (connect + copy); a CLI tool is timed from start to exit
    return {
      wall: typeof reported === "number" ? reported : wall,
      busy: ((t1.busy - t0.busy) / Math.max(1, t1.total - t0.total)) * cores
    }
  })

const cli = (program: string, argv: ReadonlyArray<string>, input?: string) =>
  Effect.sync(() => {
    const r = ChildProcess.spawnSync(program, argv, { encoding: "utf8", ...(input !== undefined ? { input } : {}) })
    if (r.status !== 0) throw new Error(`${program} ${argv.join(" ")} exited with ${r.status}: ${r.stderr}`)
  })

const sftpBatch = (batch: string) =>
  cli("sftp", ["-q", "-b", "-", "-P", String(port), ...sshOptions, `${user}@${host}`], batch)

const scp = (from: string, to: string, recursive: boolean) =>
  cli("scp", ["-q", ...(recursive ? ["-r"] : []), "-P", String(port), ...sshOptions, from, to])

const rsync = (from: string, to: string) =>
  cli("rsync", ["-a", "-e", `ssh -p ${port} ${sshOptions.join(" ")}`, from, to])

const remote = (path: string) => `${user}@${host}:${path}`

/**
 * Cerulean, in a child process of its own (`node bench/sftp.ts --child ...`): it connects,
 * opens the SFTP file system and copies, and reports the seconds from before the connect to the end of
 * the copy (Node's own start-up and the loading of the libraries are not counted; the connection is).
 */
const cerulean = (direction: "up" | "down", from: string, to: string) =>
  Effect.sync(() => {
    const r = ChildProcess.spawnSync(process.execPath, [import.meta.filename, "--child", direction, from, to], {
      encoding: "utf8"
    })
    if (r.status !== 0) throw new Error(`cerulean ${direction} failed: ${r.stderr}`)
    return Number(r.stdout.trim().split("\n").pop())
  })

/** The child's side: connect, copy, print the seconds (and its CPU time to stderr with CERULEAN_BENCH_CPU=1). */
const child = (direction: string, from: string, to: string) =>
  Effect.scoped(Effect.gen(function*() {
    const local = yield* LocalFileSystem
    const start = performance.now()
    const cpu0 = process.cpuUsage()
    const terminal = yield* SshTerminal.make({ host, port, credential, knownHosts: tb.knownHosts })
    const sftp = yield* SftpFileSystem.make(terminal)
    // copy's defaults: small files go through the batch fast path, 64 in flight
    const options: CopyOptions = { copyInto: false }
    yield* direction === "up"
      ? copyAll(local.path(from), sftp.path(to), options)
      : copyAll(sftp.path(from), local.path(to), options)
    const cpu = process.cpuUsage(cpu0)
    if (process.env.CERULEAN_BENCH_CPU === "1") yield* Console.error(`cpu user ${cpu.user / 1e6} s, system ${cpu.system / 1e6} s`)
    yield* Console.log(String((performance.now() - start) / 1000))
  }))

// -------------------------------------------------------------------- the run

interface Row {
  readonly workload: string
  readonly tool: string
  readonly timings: ReadonlyArray<Timing>
  readonly bytes: number
}

/** A tool and how it copies the workload's source to a given target. */
type Tool = readonly [name: string, run: (target: string) => Effect.Effect<unknown, unknown, LocalFileSystem>]

const workload = (
  name: string,
  direction: "up" | "down",
  source: string,
  target: string,
  tree: boolean,
  bytes: number,
  tools: ReadonlyArray<Tool>,
  terminal: SshTerminal["Service"]
) =>
  Effect.gen(function*() {
    const digest = (path: string, where: "up" | "down") =>
      where === "up"
        ? Effect.map(Effect.orDie(terminal.run(digestCommand(path, tree))), (r) => r.stdout.trim())
        : sh(digestCommand(path, tree)).pipe(Effect.map((s) => s.trim()))
    // the source is local for an upload, remote for a download; the target the other way round
    const expected = yield* digest(source, direction === "up" ? "down" : "up")
    const remove = (path: string) =>
      direction === "up"
        ? Effect.orDie(terminal.run("rm -rf -- " + Shell.quote(path)))
        : Effect.sync(() => NFS.rmSync(path, { recursive: true, force: true }))
    // A tree goes to a new folder each run, and the trees stay until the whole bench is done (its finalizer
    // removes them): on this VM's ext4 (no journal) creating a file skips every inode freed in the last 60 s,
    // so a tree removed before a run (this workload's or the previous one's, local and remote share the
    // disk) would slow that run's file creation down by 0.3-0.5 ms per file, whatever the tool.
    const targetOf = (r: number, i: number) => (tree ? `${target}.run${r}.tool${i}` : target)
    const timings = tools.map(() => [] as Array<Timing>)
    for (let r = 0; r < runs; r++) {
      for (const [i, [tool, run]] of tools.entries()) {
        const to = targetOf(r, i)
        yield* remove(to)
        // flush earlier runs' dirty pages, so that no run pays for another's writeback
        yield* sh("sync")
        const t = yield* timed(run(to))
        const got = yield* digest(to, direction)
        if (got !== expected) return yield* Effect.die(new Error(`${name}: ${tool} produced a different copy`))
        timings[i]!.push(t)
        yield* Console.log(
          `  ${name} ${tool} run ${r + 1}: ${t.wall.toFixed(3)} s, ${(bytes / t.wall / 1e6).toFixed(1)} MB/s, ` +
            `busy ${t.busy.toFixed(2)} (sha256 ok)`
        )
      }
    }
    if (!tree) yield* remove(target)
    return tools.map(([tool], i): Row => ({ workload: name, tool, timings: timings[i]!, bytes }))
  })

const table = (rows: ReadonlyArray<Row>) => {
  const header = ["workload", "tool", "median s", "range s", "MB/s", "vs sftp", "vs rsync", "busy"]
  const lines = rows.map((row) => {
    const speed = (r: Row) => r.bytes / median(r.timings.map((t) => t.wall))
    const reference = (prefix: string) => rows.find((r) => r.workload === row.workload && r.tool.startsWith(prefix))
    const sftp = reference("sftp")
    const rs = reference("rsync")
    const walls = row.timings.map((t) => t.wall)
    return [
      row.workload,
      row.tool,
      median(walls).toFixed(3),
      `${Math.min(...walls).toFixed(2)}-${Math.max(...walls).toFixed(2)}`,
      (speed(row) / 1e6).toFixed(1),
      sftp ? `${(speed(row) / speed(sftp)).toFixed(2)}x` : "-",
      rs ? `${(speed(row) / speed(rs)).toFixed(2)}x` : "-",
      median(row.timings.map((t) => t.busy)).toFixed(2)
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const fmt = (cells: ReadonlyArray<string>) => "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |"
  return [fmt(header), fmt(widths.map((w) => "-".repeat(w))), ...lines.map(fmt)].join("\n")
}

const main = Effect.gen(function*() {
  const terminal = yield* SshTerminal.make({ host, port, credential, knownHosts: tb.knownHosts })
  const local = yield* LocalFileSystem
  const sftp = yield* SftpFileSystem.make(terminal)
  yield* Effect.addFinalizer(() =>
    Effect.andThen(
      Effect.ignore(terminal.run("rm -rf -- " + Shell.quote(remoteBase))),
      Effect.sync(() => NFS.rmSync(localBase, { recursive: true, force: true }))
    )
  )
  yield* Console.log(
    `SFTP benchmark: ${runs} runs per tool, ${sizeMiB} MiB file, ${fileCount} files of 4 KiB in ${folders} folders; ` +
      `${cores} cores; ${process.version}; ${ChildProcess.spawnSync("ssh", ["-V"], { encoding: "utf8" }).stderr.trim()}`
  )
  NFS.mkdirSync(localBase, { recursive: true })
  yield* Effect.orDie(terminal.run("mkdir -p -- " + Shell.quote(remoteBase)))
  const rows: Array<Row> = []

  if (only === undefined || only === "a") {
    const bytes = sizeMiB * 1024 * 1024
    const localFile = NodePath.join(localBase, "big.bin")
    yield* Effect.sync(() => {
      const fd = NFS.openSync(localFile, "w")
      const chunk = Buffer.alloc(8 * 1024 * 1024)
      for (let done = 0; done < bytes; done += chunk.length) {
        Crypto.randomFillSync(chunk)
        NFS.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done))
      }
      NFS.closeSync(fd)
    })
    const remoteFile = NodePath.posix.join(remoteBase, "big.bin")
    yield* Effect.orDie(copyAll(local.path(localFile), sftp.path(remoteFile)))
    const up = NodePath.posix.join(remoteBase, "up.bin")
    const down = NodePath.join(localBase, "down.bin")
    rows.push(...yield* workload("A up", "up", localFile, up, false, bytes, [
      ["sftp -b put", (to) => sftpBatch(`put ${localFile} ${to}\n`)],
      ["scp", (to) => scp(localFile, remote(to), false)],
      ["cerulean copy", (to) => cerulean("up", localFile, to)]
    ], terminal))
    rows.push(...yield* workload("A down", "down", remoteFile, down, false, bytes, [
      ["sftp -b get", (to) => sftpBatch(`get ${remoteFile} ${to}\n`)],
      ["scp", (to) => scp(remote(remoteFile), to, false)],
      ["cerulean copy", (to) => cerulean("down", remoteFile, to)]
    ], terminal))
    NFS.rmSync(localFile)
    yield* Effect.orDie(terminal.run("rm -f -- " + Shell.quote(remoteFile)))
  }

  if (only === undefined || only === "b") {
    const localTree = NodePath.join(localBase, "tree")
    yield* Effect.sync(() => {
      for (let f = 0; f < fileCount; f++) {
        const folder = NodePath.join(localTree, `folder${String(f % folders).padStart(2, "0")}`)
        if (f < folders) NFS.mkdirSync(folder, { recursive: true })
        NFS.writeFileSync(NodePath.join(folder, `file${String(f).padStart(5, "0")}`), Crypto.randomBytes(4096))
      }
    })
    const remoteTree = NodePath.posix.join(remoteBase, "tree")
    yield* Effect.orDie(copyAll(local.path(localTree), sftp.path(remoteTree)))
    const bytes = fileCount * 4096
    const up = NodePath.posix.join(remoteBase, "up-tree")
    const down = NodePath.join(localBase, "down-tree")
    rows.push(...yield* workload("B up", "up", localTree, up, true, bytes, [
      ["sftp -b put -r", (to) => sftpBatch(`put -r ${localTree} ${to}\n`)],
      ["scp -r", (to) => scp(localTree, remote(to), true)],
      ["rsync -a", (to) => rsync(`${localTree}/`, remote(`${to}/`))],
      ["cerulean copy", (to) => cerulean("up", localTree, to)]
    ], terminal))
    rows.push(...yield* workload("B down", "down", remoteTree, down, true, bytes, [
      ["sftp -b get -r", (to) => sftpBatch(`get -r ${remoteTree} ${to}\n`)],
      ["scp -r", (to) => scp(remote(remoteTree), to, true)],
      ["rsync -a", (to) => rsync(remote(`${remoteTree}/`), `${to}/`)],
      ["cerulean copy", (to) => cerulean("down", remoteTree, to)]
    ], terminal))
  }

  yield* Console.log("\n" + table(rows))
}).pipe(Effect.scoped)

const childAt = args.indexOf("--child")
const program = childAt >= 0
  ? child(args[childAt + 1]!, args[childAt + 2]!, args[childAt + 3]!)
  : main
program.pipe(Effect.provide(LocalFileSystem.layer), NodeRuntime.runMain)
