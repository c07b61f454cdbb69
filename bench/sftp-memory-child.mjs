/**
 * The copying side of `bench/sftp-memory.ts`, in a process of its own that
 * loads only what a copy needs (deep imports: the package barrels would load
 * every module of `@effect/platform-node`): connects to the testbed's sshd,
 * copies one file up or down, samples its own resident set size every 10 ms
 * and prints the figures as one JSON line.
 *
 * It is plain JavaScript so that, run with `--conditions=cerulean-compiled`,
 * it loads the packages' compiled `dist/` (what an installed package runs)
 * and nothing makes Node load its TypeScript stripper; without that
 * condition it loads the TypeScript sources, as the tests do.
 *
 *   node [--conditions=cerulean-compiled] bench/sftp-memory-child.mjs up|down <from> <to>
 */
import { copyAll } from "@cerulean/core/Copy"
import { PubKeyCredential } from "@cerulean/core/Credential"
import { LocalFileSystem } from "@cerulean/core/LocalFileSystem"
import { SftpFileSystem } from "@cerulean/ssh/SftpFileSystem"
import { SshTerminal } from "@cerulean/ssh/SshTerminal"
import * as Testbed from "@cerulean/testing/Testbed"
import * as Effect from "effect/Effect"

const [direction, from, to] = process.argv.slice(2)
const tb = Testbed.load()
const credential = new PubKeyCredential({ username: tb.user, publicKey: tb.keyEd25519 })

const startRss = process.memoryUsage().rss
let peakRss = startRss
let atPeak = process.memoryUsage()
const timer = setInterval(() => {
  const m = process.memoryUsage()
  if (m.rss > peakRss) {
    peakRss = m.rss
    atPeak = m
  }
}, 10)

const program = Effect.gen(function*() {
  const start = performance.now()
  const local = yield* LocalFileSystem
  const terminal = yield* SshTerminal.make({ host: tb.sshHost, port: tb.sshPort, credential, knownHosts: tb.knownHosts })
  const sftp = yield* SftpFileSystem.make(terminal)
  yield* direction === "up"
    ? copyAll(local.path(from), sftp.path(to))
    : copyAll(sftp.path(from), local.path(to))
  return (performance.now() - start) / 1000
}).pipe(Effect.scoped, Effect.provide(LocalFileSystem.layer))

Effect.runPromise(program).then(
  (seconds) => {
    clearInterval(timer)
    console.log(JSON.stringify({ startRss, peakRss, seconds, atPeak }))
  },
  (error) => {
    clearInterval(timer)
    console.error(error)
    process.exit(1)
  }
)
