// Runs examples/core-local.ts as a user would (`node examples/core-local.ts`) and checks what it prints.
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as NFS from "node:fs"
import * as NodePath from "node:path"

describe("examples/core-local.ts", () => {
  it("builds, lists and reads a tree, handles NotFound, and cleans up", () => {
    const script = NodePath.join(import.meta.dirname, "core-local.ts")
    const output = execFileSync(process.execPath, [script], { encoding: "utf8", timeout: 30_000 })
    const base = /^Created a tree in (.+)$/m.exec(output)?.[1]
    assert.isDefined(base)
    assert.match(output, /^ {2}hello\.txt {2}File {10}12 bytes, 0o644$/m)
    assert.match(output, /^ {2}run\.sh {5}File {10}18 bytes, 0o755$/m)
    assert.match(output, /^ {2}latest {5}SymbolicLink {2}-> raw\/hello\.txt$/m)
    assert.include(output, `latest points to ${base}/data/raw/hello.txt and reads "Hello World\\n"`)
    assert.include(output, `NotFound: readStream ${base}/data/missing.txt`)
    assert.include(output, `missing.txt gave "(default text)"`)
    assert.isFalse(NFS.existsSync(base!), "the scratch directory is removed at the end")
  })
})
