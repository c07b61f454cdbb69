// Runs examples/webdav.ts as a user would (`node examples/webdav.ts`) against the testbed's Apache WebDAV over
// https, and checks what it prints.
import * as Testbed from "@cerulean/testing/Testbed"
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as NodePath from "node:path"

const tb = Testbed.load()

describe("examples/webdav.ts", () => {
  it("connects with the CA file and a password, lists, copies up and back, reports refusals", () => {
    const script = NodePath.join(import.meta.dirname, "webdav.ts")
    const output = execFileSync(process.execPath, [script, `${tb.webdavHttps}/protected_files`], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, CERULEAN_USER: tb.user, CERULEAN_PASSWORD: tb.password, CERULEAN_CA: tb.webdavCa }
    })
    const dir = /working in \/(webdav-example-\d+)$/m.exec(output)?.[1]
    assert.isDefined(dir)
    assert.match(output, /^ {2}notes\.txt {2}File {6}18 bytes, 0o600$/m)
    assert.match(output, /^ {2}sub {8}Directory 0 bytes, 0o700$/m)
    assert.include(output, "copied 3145728 bytes up and 3145728 bytes back")
    assert.include(output, "notes.txt is owner-writable: true")
    assert.include(output, "chmod: Unsupported")
    assert.include(output, "NotFound: HTTP 404 Not Found")
    assert.match(output, /NotFound: HTTP 409 Conflict: .*\/no\/such\/dir does not exist/)
    assert.include(output, `left in ${dir}: data.bin, notes.txt, sub`)
    // The program removed its directory on the server.
    const check = execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", `${tb.user}:${tb.password}`,
      "--cacert", tb.webdavCa, "-X", "PROPFIND", "-H", "Depth: 0", `${tb.webdavHttps}/protected_files/${dir}`], {
      encoding: "utf8"
    })
    assert.strictEqual(check, "404")
  })
})
