/**
 * WebDAV transfer benchmark: Cerulean's `copy` between the local file system
 * and `WebdavFileSystem` against `curl`, in the same run, on the testbed's
 * Apache mod_dav (`/protected_files`, Basic auth), over http and https (with
 * the testbed's CA file, `--cacert` for curl):
 *   up:   a local file of random bytes to the server (`curl -T`),
 *   down: the server's file to a new local file (`curl -o`).
 * Each tool runs N times per direction, interleaved (curl, cerulean, curl,
 * ...); the table shows the median and the best, MB/s (10^6 bytes/s), and the
 * ratio of Cerulean's median MB/s to curl's (higher is better; the goal is at
 * least 0.9). Every transfer is checked by SHA-256 outside the timer: an
 * upload by hashing the file in the server's directory, a download by
 * hashing the local file.
 *
 *   node bench/webdav.ts [--runs N] [--size-mib N] [--protocol http|https|both] [--dir PATH]
 *
 * Needs the testbed (scripts/testbed/up.sh) and curl. Scratch data goes to
 * bench/.work/ (gitignored) unless --dir says otherwise, and is removed at
 * the end, on the server too, also after a failure or Ctrl-C.
 */
import { copyAll, LocalFileSystem, PasswordCredential } from "@cerulean/core"
import type * as FileSystem from "@cerulean/core/FileSystem"
import * as Testbed from "@cerulean/testing/Testbed"
import { WebdavFileSystem, type WebdavFileSystemOptions } from "@cerulean/webdav"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as NFS from "node:fs"
import * as NodePath from "node:path"

const args = process.argv.slice(2)
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}
const runs = Number(option("runs") ?? 3)
const sizeMiB = Number(option("size-mib") ?? 256)
const protocols = (option("protocol") ?? "both") === "both" ? ["http", "https"] : [option("protocol")!]
const base = option("dir") ?? NodePath.join(import.meta.dirname, ".work")

const tb = Testbed.load()
const bytes = sizeMiB * 1024 * 1024
const remoteName = `cerulean-bench-${process.pid}.bin`

interface Row {
  readonly protocol: string
  readonly direction: "up" | "down"
  readonly tool: "curl" | "cerulean"
  readonly seconds: ReadonlyArray<number>
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const mbps = (seconds: number) => bytes / seconds / 1e6

// ------------------------------------------------------------- data and checks

const makeBigFile = (path: string) =>
  Effect.sync(() => {
    const fd = NFS.openSync(path, "w")
    const chunk = Buffer.alloc(8 * 1024 * 1024)
    for (let done = 0; done < bytes; done += chunk.length) {
      Crypto.randomFillSync(chunk)
      NFS.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done))
    }
    NFS.closeSync(fd)
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

const remove = (path: string) => Effect.sync(() => NFS.rmSync(path, { force: true }))

// ------------------------------------------------------------------ the tools

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    yield* effect
    return (performance.now() - start) / 1000
  })

const curl = (argv: ReadonlyArray<string>) =>
  Effect.sync(() => {
    const result = ChildProcess.spawnSync("curl", ["-sS", "--fail", ...argv], { stdio: ["ignore", "ignore", "inherit"] })
    if (result.status !== 0) throw new Error(`curl ${argv.join(" ")} exited with ${result.status}`)
  })

const ceruleanCopy = (from: FileSystem.FileSystem, fromPath: string, to: FileSystem.FileSystem, toPath: string) =>
  copyAll(from.path(fromPath), to.path(toPath), { overwrite: "always", copyInto: false })

// ------------------------------------------------------------------- the run

const benchProtocol = (protocol: string, local: FileSystem.FileSystem, source: string, download: string, expected: string) =>
  Effect.gen(function*() {
    const url = `${protocol === "https" ? tb.webdavHttps : tb.webdavHttp}/protected_files`
    const options: WebdavFileSystemOptions = {
      url,
      credential: new PasswordCredential({ username: tb.user, password: tb.password }),
      ...(protocol === "https" ? { hostCaCertFile: tb.webdavCa } : {})
    }
    const dav = yield* WebdavFileSystem.make(options)
    const serverFile = NodePath.join(tb.webdavProtectedDir, remoteName)
    yield* Effect.addFinalizer(() => remove(serverFile))
    const curlAuth = ["-u", `${tb.user}:${tb.password}`, ...(protocol === "https" ? ["--cacert", tb.webdavCa] : [])]
    const tools = {
      up: {
        curl: curl([...curlAuth, "-T", source, "-o", "/dev/null", `${url}/${remoteName}`]),
        cerulean: ceruleanCopy(local, source, dav, `/${remoteName}`)
      },
      down: {
        curl: curl([...curlAuth, "-o", download, `${url}/${remoteName}`]),
        cerulean: ceruleanCopy(dav, `/${remoteName}`, local, download)
      }
    } as const
    const rows: Array<Row> = []
    for (const direction of ["up", "down"] as const) {
      const seconds = { curl: [] as Array<number>, cerulean: [] as Array<number> }
      for (let r = 0; r < runs; r++) {
        for (const tool of ["curl", "cerulean"] as const) {
          if (direction === "down") yield* remove(download)
          const s = yield* timed(tools[direction][tool])
          const got = yield* sha256File(direction === "up" ? serverFile : download)
          if (got !== expected) return yield* Effect.die(new Error(`${protocol} ${direction}: ${tool} gave other bytes`))
          seconds[tool].push(s)
          yield* Console.log(
            `  ${protocol} ${direction} ${tool.padEnd(8)} run ${r + 1}: ${s.toFixed(3)} s, ${mbps(s).toFixed(0)} MB/s (sha256 ok)`
          )
        }
      }
      rows.push({ protocol, direction, tool: "curl", seconds: seconds.curl })
      rows.push({ protocol, direction, tool: "cerulean", seconds: seconds.cerulean })
    }
    yield* remove(download)
    return rows
  }).pipe(Effect.scoped)

const table = (rows: ReadonlyArray<Row>) => {
  const header = ["protocol", "direction", "tool", "median s", "best s", "MB/s (median)", "MB/s (best)", "ratio vs curl"]
  const lines = rows.map((row) => {
    const curlRow = rows.find((r) => r.protocol === row.protocol && r.direction === row.direction && r.tool === "curl")!
    const m = median(row.seconds)
    return [
      row.protocol,
      row.direction,
      row.tool,
      m.toFixed(3),
      Math.min(...row.seconds).toFixed(3),
      mbps(m).toFixed(0),
      mbps(Math.min(...row.seconds)).toFixed(0),
      (mbps(m) / mbps(median(curlRow.seconds))).toFixed(2)
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
      return NFS.mkdtempSync(NodePath.join(base, "webdav-"))
    }),
    (dir) => Effect.sync(() => NFS.rmSync(dir, { recursive: true, force: true }))
  )
  const curlVersion = ChildProcess.execFileSync("curl", ["--version"], { encoding: "utf8" }).split("\n")[0]
  yield* Console.log(`webdav: ${sizeMiB} MiB, ${runs} runs each, node ${process.version}, ${curlVersion}`)
  const source = NodePath.join(work, "big.bin")
  yield* Console.log(`making ${sizeMiB} MiB of random data ...`)
  yield* makeBigFile(source)
  const expected = yield* sha256File(source)
  const local = yield* LocalFileSystem
  const rows: Array<Row> = []
  for (const protocol of protocols) {
    rows.push(...(yield* benchProtocol(protocol, local, source, NodePath.join(work, "down.bin"), expected)))
  }
  yield* Console.log("")
  yield* Console.log(table(rows))
}).pipe(Effect.scoped, Effect.provide(LocalFileSystem.layer))

NodeRuntime.runMain(program)
