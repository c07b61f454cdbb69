// Runs examples/copy-progress.ts as a user would (`node examples/copy-progress.ts`) and checks what it prints.
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as NFS from "node:fs"
import * as NodePath from "node:path"

describe("examples/copy-progress.ts", () => {
  it("draws a progress bar to 100 %, drains, handles AlreadyExists, times out cleanly, and cleans up", () => {
    const script = NodePath.join(import.meta.dirname, "copy-progress.ts")
    const output = execFileSync(process.execPath, [script], { encoding: "utf8", timeout: 60_000 })
    const data = /^Data in (.+)$/m.exec(output)?.[1]
    assert.isDefined(data)
    const bars = output.split("\n").filter((l) => l.startsWith("["))
    assert.match(bars[0]!, /^\[\.{30}\]   0% 0\.0\/209\.7 MB, 0\/101 files Started$/)
    assert.match(bars[bars.length - 1]!, /^\[#{30}\] 100% 209\.7\/209\.7 MB, 101\/101 files Done$/)
    const percents = bars.map((l) => Number(/\]\s+(\d+)%/.exec(l)![1]))
    assert.deepStrictEqual([...percents].sort((a, b) => a - b), percents, "the bar only moves forward")
    assert.include(output, "backup/latest -> small/file99.txt")
    assert.include(output, "copyAll: 101 files, 209716690 bytes")
    assert.include(output, `already there: ${NodePath.dirname(data!)}/backup`)
    assert.include(output, "timed out; target exists: false; temporary files left: 0")
    assert.isFalse(NFS.existsSync(NodePath.dirname(data!)), "the scratch directory is removed at the end")
  })
})
