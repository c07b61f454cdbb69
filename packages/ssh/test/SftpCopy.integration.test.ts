// The copy contract of @cerulean/testing (CopyContract: Cerulean's test_copy_files cases, the fixed bugs,
// interruption, mid-file failure, progress, odd names, many files) on SFTP: local -> SFTP, SFTP -> local,
// SFTP -> the same SFTP connection (the server-side copy-data fast path) and SFTP on OpenSSH -> SFTP on
// dropbear (a pipelined download piped into a pipelined upload). The wrapper that injects slowness or failure
// into a source also renames its protocol, so that the SFTP fast paths (which read a "local" source straight
// from disk) do not bypass the injected behaviour.
import { PasswordCredential } from "@cerulean/core/Credential"
import * as FileSystem from "@cerulean/core/FileSystem"
import { LocalFileSystem } from "@cerulean/core/LocalFileSystem"
import * as CopyContract from "@cerulean/testing/CopyContract"
import type { Env, Side } from "@cerulean/testing/CopyContract"
import * as Testbed from "@cerulean/testing/Testbed"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Effect, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import { randomUUID } from "node:crypto"
import * as NFS from "node:fs"
import * as OS from "node:os"
import * as NodePath from "node:path"
import { SftpFileSystem } from "../src/SftpFileSystem.ts"
import { SshTerminal } from "../src/SshTerminal.ts"

// ---------------------------------------------------------------- environments

const tb = Testbed.load()
const credential = new PasswordCredential({ username: tb.user, password: tb.password })

const localFs = LocalFileSystem.make.pipe(Effect.provide(NodeFileSystem.layer))

const localSide = (name: string): Effect.Effect<Side, never, Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* localFs
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => NFS.mkdtempSync(NodePath.join(OS.tmpdir(), `cerulean-sftp-copy-${name}-`))),
      (d) => Effect.sync(() => NFS.rmSync(d, { recursive: true, force: true }))
    )
    return {
      fs,
      scratch: fs.path(dir),
      specials: (d) => Effect.as(Effect.sync(() => ChildProcess.execFileSync("mkfifo", [d.join("fifo").path])), ["fifo"])
    }
  })

/** An SFTP file system on its own SSH connection, with a scratch directory in the test user's home. */
const sftpSide = (port: number, name: string): Effect.Effect<Side, never, Scope.Scope> =>
  Effect.orDie(Effect.gen(function*() {
    const terminal = yield* SshTerminal.make({ host: tb.sshHost, port, credential, knownHosts: tb.knownHosts })
    const fs = yield* SftpFileSystem.make(terminal)
    return yield* sftpScratch(fs, terminal, name)
  }))

const sftpScratch = (
  fs: FileSystem.FileSystem,
  terminal: SshTerminal["Service"],
  name: string
): Effect.Effect<Side, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scratch = yield* Effect.acquireRelease(
      Effect.orDie(Effect.gen(function*() {
        const dir = fs.path(tb.userHome, `cerulean-sftp-copy-${name}-${randomUUID()}`)
        yield* dir.mkdir()
        return dir
      })),
      (dir) => Effect.orDie(dir.rmdir({ recursive: true }))
    )
    return {
      fs,
      scratch,
      specials: (d) =>
        Effect.orDie(Effect.as(terminal.run("mkfifo", [d.join("fifo").path]), ["fifo"]))
    }
  })

type Pairing = readonly [name: string, make: Effect.Effect<Env, never, Scope.Scope>]

const pairings: ReadonlyArray<Pairing> = [
  [
    "local -> SFTP (OpenSSH)",
    Effect.gen(function*() {
      return { src: yield* localSide("src"), dst: yield* sftpSide(tb.sshPort, "dst"), sameFs: false }
    })
  ],
  [
    "SFTP (OpenSSH) -> local",
    Effect.gen(function*() {
      return { src: yield* sftpSide(tb.sshPort, "src"), dst: yield* localSide("dst"), sameFs: false }
    })
  ],
  [
    "SFTP -> the same SFTP connection (server-side copy)",
    Effect.orDie(Effect.gen(function*() {
      const terminal = yield* SshTerminal.make({ host: tb.sshHost, port: tb.sshPort, credential, knownHosts: tb.knownHosts })
      const fs = yield* SftpFileSystem.make(terminal)
      const src = yield* sftpScratch(fs, terminal, "src")
      const dst = yield* sftpScratch(fs, terminal, "dst")
      return { src, dst, sameFs: true }
    }))
  ],
  [
    "SFTP (OpenSSH) -> SFTP (dropbear)",
    Effect.gen(function*() {
      return { src: yield* sftpSide(tb.sshPort, "src"), dst: yield* sftpSide(tb.dropbearPort, "dst"), sameFs: false }
    })
  ]
]

/**
 * The source with some primitives replaced and no fast path, under another protocol name: the SFTP hooks
 * recognise a "local" source or target by its protocol and would read or write it directly, bypassing the slowness
 * or failure the contract injects.
 */
const wrap = (fs: FileSystem.FileSystem, overrides: Partial<FileSystem.Backend>): FileSystem.FileSystem =>
  FileSystem.make({
    ...fs,
    protocol: `${fs.protocol}+wrapped`,
    copyFile: undefined,
    sendTo: undefined,
    receiveFrom: undefined,
    ...overrides
  })

for (const [name, make] of pairings) CopyContract.run(name, make, { wrap })
