/**
 * Memory of a large SFTP copy: Cerulean's `copy` of one 4 GiB file from the
 * local disk to the testbed's OpenSSH sshd and back. Each copy runs in a
 * child process of its own (bench/sftp-memory-child.mjs) that loads the
 * libraries, connects, copies and samples its own resident set size (RSS)
 * every 10 ms, so the figures are those of a program that does nothing but
 * the copy: the libraries' own footprint included, the test data's
 * preparation not. The transfer keeps a bounded number of requests in
 * flight, so the peak should not grow with the file.
 *
 * Each copy runs twice: on the compiled packages (`dist/`, what an installed
 * package runs; the bench builds them first with `tsc -b`) and on the
 * TypeScript sources as the tests run them, where Node's type stripper
 * adds its own ~27 MB. Every copy is checked by SHA-256 (on the server over
 * SSH, locally here) outside the timer.
 *
 *   node bench/sftp-memory.ts [--size-mib N]
 *
 * Local data goes to bench/.work/ (gitignored), remote data to
 * ~cerulean/bench-sftp-memory-<pid>; both are removed at the end.
 */
import { LocalFileSystem, PubKeyCredential, Shell } from "@cerulean/core"
import { SshTerminal } from "@cerulean/ssh"
import * as Testbed from "@cerulean/testing/Testbed"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as NFS from "node:fs"
import * as NodePath from "node:path"

const args = process.argv.slice(2)
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}
const tb = Testbed.load()
const credential = new PubKeyCredential({ username: tb.user, publicKey: tb.keyEd25519 })
const mb = (n: number) => (n / 1e6).toFixed(1)

interface Sample {
  readonly startRss: number
  readonly peakRss: number
  readonly seconds: number
  readonly atPeak: NodeJS.MemoryUsage
}

/** Builds the packages' `dist/` (incremental: quick when nothing changed), which the compiled runs load. */
const build = Effect.sync(() => {
  const root = NodePath.join(import.meta.dirname, "..")
  const tsc = NodePath.join(root, "node_modules", ".bin", "tsc")
  const r = ChildProcess.spawnSync(tsc, ["-b", "tsconfig.json"], { cwd: root, encoding: "utf8" })
  if (r.status !== 0) throw new Error(`tsc -b failed: ${r.stdout}${r.stderr}`)
})

const runChild = (direction: string, from: string, to: string, nodeFlags: ReadonlyArray<string>) =>
  Effect.sync(() => {
    const script = NodePath.join(import.meta.dirname, "sftp-memory-child.mjs")
    const r = ChildProcess.spawnSync(process.execPath, [...nodeFlags, script, direction, from, to], { encoding: "utf8" })
    if (r.status !== 0) throw new Error(`the ${direction} copy failed: ${r.stderr}`)
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as Sample
  })

const sha256Local = (path: string) =>
  Effect.sync(() => {
    const hash = Crypto.createHash("sha256")
    const fd = NFS.openSync(path, "r")
    const buffer = Buffer.allocUnsafe(4 * 1024 * 1024)
    for (let n = NFS.readSync(fd, buffer); n > 0; n = NFS.readSync(fd, buffer)) hash.update(buffer.subarray(0, n))
    NFS.closeSync(fd)
    return hash.digest("hex")
  })

const parent = Effect.gen(function*() {
  const sizeMiB = Number(flag("size-mib") ?? 4096)
  const bytes = sizeMiB * 1024 * 1024
  const remoteBase = NodePath.posix.join(tb.userHome, `bench-sftp-memory-${process.pid}`)
  const localBase = NodePath.join(import.meta.dirname, ".work", `sftp-memory-${process.pid}`)
  const terminal = yield* SshTerminal.make({ host: tb.sshHost, port: tb.sshPort, credential, knownHosts: tb.knownHosts })
  yield* Effect.addFinalizer(() =>
    Effect.andThen(
      Effect.ignore(terminal.run("rm -rf -- " + Shell.quote(remoteBase))),
      Effect.sync(() => NFS.rmSync(localBase, { recursive: true, force: true }))
    )
  )
  NFS.mkdirSync(localBase, { recursive: true })
  yield* Effect.orDie(terminal.run("mkdir -p -- " + Shell.quote(remoteBase)))
  const source = NodePath.join(localBase, "big.bin")
  yield* Effect.sync(() => {
    const fd = NFS.openSync(source, "w")
    const chunk = Buffer.allocUnsafe(8 * 1024 * 1024)
    for (let done = 0; done < bytes; done += chunk.length) {
      Crypto.randomFillSync(chunk)
      NFS.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done))
    }
    NFS.closeSync(fd)
  })
  const expected = yield* sha256Local(source)
  yield* Console.log(`${sizeMiB} MiB file, each copy in a fresh process; ${process.version}`)
  const report = (name: string, s: Sample) =>
    Console.log(
      `${name}: ${s.seconds.toFixed(2)} s (connect included), ${mb(bytes / s.seconds)} MB/s; RSS at start ` +
        `${mb(s.startRss)} MB, peak ${mb(s.peakRss)} MB (heap ${mb(s.atPeak.heapTotal)} MB, array buffers ` +
        `${mb(s.atPeak.arrayBuffers)} MB at the peak)`
    )

  const remote = NodePath.posix.join(remoteBase, "big.bin")
  const back = NodePath.join(localBase, "back.bin")
  yield* build
  let peak = 0
  for (const flags of [["--conditions=cerulean-compiled"], []]) {
    const label = flags.length > 0 ? "compiled packages" : "TypeScript sources"
    yield* Effect.orDie(terminal.run("rm -f -- " + Shell.quote(remote)))
    NFS.rmSync(back, { force: true })
    const up = yield* runChild("up", source, remote, flags)
    const remoteSum = (yield* Effect.orDie(terminal.run(`sha256sum < ${Shell.quote(remote)}`))).stdout.split(" ")[0]
    if (remoteSum !== expected) return yield* Effect.die(new Error("upload: the copy differs from the source"))
    yield* report(`up   (local -> SFTP), ${label}`, up)
    const down = yield* runChild("down", remote, back, flags)
    if ((yield* sha256Local(back)) !== expected) return yield* Effect.die(new Error("download: the copy differs"))
    yield* report(`down (SFTP -> local), ${label}`, down)
    if (flags.length > 0) peak = Math.max(peak, up.peakRss, down.peakRss)
  }
  yield* Console.log(`sha256 ok for every copy; highest peak RSS of the compiled runs ${mb(peak)} MB (limit 150 MB)`)
}).pipe(Effect.scoped)

parent.pipe(Effect.provide(LocalFileSystem.layer), NodeRuntime.runMain)
