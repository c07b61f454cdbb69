// The contract in its "existing fixtures" mode (the mode SFTP and WebDAV runs use), against the
// fixture tree that the testbed's up.sh builds locally at /home/cerulean/test_files: read only;
// everything that writes goes to a scratch directory in the temporary directory.
import { LocalFileSystem } from "@cerulean/core"
import { FileSystemContract } from "@cerulean/testing"
import { load } from "@cerulean/testing/Testbed"
import * as NFS from "node:fs"
import * as os from "node:os"

const tb = load()

FileSystemContract.run("LocalFileSystem on the testbed fixture tree", {
  layer: LocalFileSystem.layer,
  scratch: FileSystemContract.scratchIn((fs) => fs.path(os.tmpdir())),
  fixtures: {
    root: (fs) => fs.path(tb.testFiles),
    owner: { uid: tb.userUid, gid: Number(tb.raw["CERULEAN_TB_USER_GID"]) },
    // up.sh tolerates a machine that refuses mknod for the character device.
    specials: ["Fifo", "BlockDevice", ...(NFS.existsSync(`${tb.testFiles}/chardev`) ? ["CharacterDevice" as const] : [])]
  },
  owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
  features: { umask: process.umask(), deniesAccess: process.getuid?.() !== 0, mtimeResolution: 50 }
})
