// The FileSystemContract of @cerulean/testing against the testbed's Apache WebDAV: http and https (with the
// testbed's CA file), anonymous (/files) and with Basic auth (/protected_files). The fixture tree is the one of
// Cerulean's WebDAV image (links served as plain files, no fifo or devices), read but never modified; every
// test works in a scratch directory of its own at the area's root.
import { PasswordCredential } from "@cerulean/core/Credential"
import { FileSystemContract } from "@cerulean/testing"
import * as Testbed from "@cerulean/testing/Testbed"
import { WebdavFileSystem, type WebdavFileSystemOptions } from "@cerulean/webdav/WebdavFileSystem"

const tb = Testbed.load()
const credential = new PasswordCredential({ username: tb.user, password: tb.password })

const runs: ReadonlyArray<readonly [string, WebdavFileSystemOptions]> = [
  ["http, anonymous", { url: `${tb.webdavHttp}/files` }],
  ["http, Basic auth", { url: `${tb.webdavHttp}/protected_files`, credential }],
  ["https with the CA file, anonymous", { url: `${tb.webdavHttps}/files`, hostCaCertFile: tb.webdavCa }],
  ["https with the CA file, Basic auth", {
    url: `${tb.webdavHttps}/protected_files`,
    credential,
    hostCaCertFile: tb.webdavCa
  }]
]

for (const [name, options] of runs) {
  FileSystemContract.run(`WebdavFileSystem (${name})`, {
    layer: WebdavFileSystem.layer(options),
    scratch: FileSystemContract.scratchIn((fs) => fs.root),
    fixtures: { root: (fs) => fs.path(tb.webdavTestFiles), specials: [] },
    // WebDAV has no owners: every entry reports uid and gid 0, as in Cerulean.
    owner: { uid: 0, gid: 0 },
    features: { symlinks: false, permissions: false },
    timeout: 60_000
  })
}
