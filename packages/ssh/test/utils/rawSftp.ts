/**
 * A raw ssh2 connection to the testbed for the SFTP tests, independent of
 * `SshTerminal`: `SftpFileSystem.fromConnection` only needs a scoped way to
 * open SFTP channels.
 */
import * as FileSystemError from "@cerulean/core/FileSystemError"
import * as Testbed from "@cerulean/testing/Testbed"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { Client, type SFTPWrapper } from "ssh2"
import type { SftpConnection } from "../../src/SftpFileSystem.ts"

export interface RawConnection extends SftpConnection {
  readonly client: Client
}

const lost = (cause: unknown) =>
  FileSystemError.make("ConnectionLost", { path: "/", operation: "connect", description: String(cause), cause })

/** Connects as the testbed's password user to the given port (2222 sshd, 2223 dropbear). */
export const connect = (port?: number): Effect.Effect<RawConnection, FileSystemError.FileSystemError, Scope.Scope> =>
  Effect.gen(function*() {
    const tb = Testbed.load()
    const p = port ?? tb.sshPort
    const client = yield* Effect.acquireRelease(
      Effect.callback<Client, FileSystemError.FileSystemError>((resume) => {
        const c = new Client()
        c.once("ready", () => {
          c.setNoDelay(true)
          resume(Effect.succeed(c))
        })
        c.once("error", (e) => resume(Effect.fail(lost(e))))
        c.connect({ host: tb.sshHost, port: p, username: tb.user, password: tb.password, readyTimeout: 20_000 })
      }),
      (c) => Effect.sync(() => c.end())
    )
    client.on("error", () => {})
    const openSftp = Effect.acquireRelease(
      Effect.callback<SFTPWrapper, FileSystemError.FileSystemError>((resume) => {
        client.sftp((error, sftp) => resume(error ? Effect.fail(lost(error)) : Effect.succeed(sftp)))
      }),
      (sftp) => Effect.sync(() => sftp.end())
    ).pipe(Effect.map((sftp) => ({ sftp })))
    return { client, openSftp, location: `${tb.user}@${tb.sshHost}:${p}` }
  })
