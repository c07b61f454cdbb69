// The FileSystemContract of @cerulean/testing for SftpFileSystem on the testbed's two SSH servers: OpenSSH
// sshd (:2222) and dropbear (:2223, which runs OpenSSH's sftp-server). The fixture tree at
// /home/cerulean/test_files is read, never modified; every test works in a scratch directory of its own
// in the test user's home.
import { PasswordCredential } from "@cerulean/core/Credential"
import { FileSystemContract } from "@cerulean/testing"
import * as Testbed from "@cerulean/testing/Testbed"
import * as Layer from "effect/Layer"
import { SftpFileSystem } from "../src/SftpFileSystem.ts"
import { SshTerminal } from "../src/SshTerminal.ts"

const tb = Testbed.load()
const credential = new PasswordCredential({ username: tb.user, password: tb.password })

const servers: ReadonlyArray<readonly [string, number]> = [
  ["OpenSSH sshd", tb.sshPort],
  ["dropbear", tb.dropbearPort]
]

for (const [name, port] of servers) {
  const terminal = SshTerminal.layer({ host: tb.sshHost, port, credential, knownHosts: tb.knownHosts })
  FileSystemContract.run(`SftpFileSystem (${name})`, {
    layer: SftpFileSystem.layer().pipe(Layer.provide(terminal)),
    scratch: FileSystemContract.scratchIn((fs) => fs.path(tb.userHome)),
    fixtures: {
      root: (fs) => fs.path(tb.testFiles),
      specials: ["Fifo", "BlockDevice", "CharacterDevice"]
    },
    owner: { uid: tb.userUid, gid: tb.userGid },
    timeout: 60_000
  })
}
