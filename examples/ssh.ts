/**
 * Commands over SSH with Cerulean: connect with a key checked against
 * known_hosts, run commands (arguments quoted, environment, working
 * directory), many at once over the one connection, a timeout that kills the
 * remote command, an SFTP session on the same connection, and what an
 * unknown host key looks like as a typed error.
 *
 *   node examples/ssh.ts [HOST[:PORT]]
 *
 * HOST:PORT defaults to the testbed's `127.0.0.1:2222`; the user, key file and
 * known_hosts file come from $CERULEAN_USER, $CERULEAN_KEY and
 * $CERULEAN_KNOWN_HOSTS (default the testbed's).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import * as NFS from "node:fs"
import * as OS from "node:os"
import * as NodePath from "node:path"
import { PubKeyCredential, SshTerminal, Terminal } from "cerulean"

const [host, port] = (process.argv[2] ?? "127.0.0.1:2222").split(":")
const testbed = NodePath.join(import.meta.dirname, "..", ".testbed")
const options = {
  host: host!,
  port: Number(port ?? 22),
  knownHosts: process.env.CERULEAN_KNOWN_HOSTS ?? NodePath.join(testbed, "known_hosts"),
  credential: new PubKeyCredential({
    username: process.env.CERULEAN_USER ?? "cerulean",
    publicKey: process.env.CERULEAN_KEY ?? NodePath.join(testbed, "keys", "id_ed25519")
  })
}

const program = Effect.gen(function*() {
  // Any code written against the generic Terminal runs here over SSH.
  const terminal = yield* Terminal
  const whoami = yield* terminal.run("echo \"$(whoami) on $(hostname)\"")
  yield* Console.log(`${terminal.location}: ${whoami.stdout.trim()}`)

  // Arguments are passed verbatim, one word each; env and workdir are set for the command.
  const listed = yield* terminal.run("printf '<%s>\\n'", ["two words", "$(not run)"], {
    env: { GREETING: "hello" },
    workdir: "/tmp"
  })
  yield* Console.log(listed.stdout.trim())

  // Many commands at once share the connection (one channel each, at most 10 open at a time).
  const started = Date.now()
  const results = yield* Effect.forEach(
    Array.from({ length: 30 }, (_, i) => i),
    (i) => terminal.run("sleep 0.2; echo", [String(i)]),
    { concurrency: "unbounded" }
  )
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  const allOk = results.every((r) => r.exitCode === 0)
  yield* Console.log(`30 commands of 0.2 s each took ${seconds} s, all exit 0: ${allOk}`)

  // A timeout kills the remote command and its children and keeps the output so far.
  const timedOut = yield* Effect.flip(terminal.run("echo working; sleep 600", [], { timeout: "1 second" }))
  const soFar = timedOut.reason._tag === "Timeout" ? timedOut.reason.stdout.trim() : ""
  yield* Console.log(`${timedOut.reason._tag}, output so far: ${soFar}`)

  // The SFTP file system uses the same connection: here ssh2's raw SFTP session.
  const ssh = yield* SshTerminal
  const names = yield* Effect.scoped(Effect.flatMap(ssh.openSftp, ({ sftp }) =>
    Effect.callback<ReadonlyArray<string>, Error>((resume) =>
      sftp.readdir(".", (err, list) => resume(err ? Effect.fail(err) : Effect.succeed(list.map((e) => e.filename))))
    )))
  yield* Console.log(`home directory has ${names.length} entries (over SFTP)`)
})

// An unknown host key is refused before any credential is sent, with the key's fingerprint.
const unknownHost = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => NFS.mkdtempSync(NodePath.join(OS.tmpdir(), "ssh-example-"))),
    (d) => Effect.sync(() => NFS.rmSync(d, { recursive: true, force: true }))
  )
  const empty = NodePath.join(dir, "known_hosts")
  yield* Effect.scoped(SshTerminal.make({ ...options, knownHosts: empty })).pipe(
    Effect.catchReason("SshError", "HostKeyUnknown", (reason) =>
      Console.log(`refused: ${reason.keyType} key ${reason.fingerprint} is not in ${reason.knownHostsFiles.join(", ")}`)
    )
  )
})

NodeRuntime.runMain(
  program.pipe(Effect.provide(SshTerminal.layer(options)), Effect.andThen(Effect.scoped(unknownHost)))
)
