/**
 * The README's first command runs examples/local-job.ts: run it as a person
 * would (a child process, no server) and check what it printed and what it
 * left on disk.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { repoRoot, runNode } from "../packages/cerulean/test/utils/child.ts"

const script = NodePath.join(repoRoot, "examples/local-job.ts")

const tempDir = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "local-job-test-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
)

describe("examples/local-job.ts", () => {
  it.live("runs the job on this machine and tells what it did", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const result = yield* runNode(script, [dir])
      assert.strictEqual(result.exitCode, 0, result.stderr)
      const out = result.stdout
      assert.include(out, `Working in ${dir}`)
      // Each step is reported, in order.
      const steps = ["1. Made the input files", "2. Ran a command", "3. Copied inputs/", "4. Submitted a job", "5. Copied the job's output"]
      const positions = steps.map((s) => out.indexOf(s))
      for (const [i, p] of positions.entries()) assert.isAtLeast(p, 0, `missing step: ${steps[i]}`)
      assert.deepStrictEqual([...positions].sort((a, b) => a - b), positions)
      // The terminal's output is shown: wc counted 1000 numbers and one greeting line.
      assert.match(out, /^\s+1000 numbers\.txt$/m)
      assert.match(out, /^\s+1 greeting\.txt$/m)
      assert.match(out, /Done, exit code 0/)
      assert.include(out, "sum: 500500")

      // What it made is really there.
      const read = (p: string) => NodeFs.readFileSync(NodePath.join(dir, p), "utf8")
      assert.strictEqual(read("inputs/numbers.txt").split("\n").filter((l) => l !== "").length, 1000)
      assert.strictEqual(read("job/inputs/numbers.txt"), read("inputs/numbers.txt"))
      assert.strictEqual(read("job/inputs/greeting.txt"), "Hello from Cerulean\n")
      assert.strictEqual(read("results/output.txt"), "sum: 500500\nHello from Cerulean\n")
      assert.strictEqual(read("job/errors.txt"), "")
    }), 60_000)

  it.live("makes a fresh directory when none is given, and says where", () =>
    Effect.gen(function*() {
      const result = yield* runNode(script, [])
      assert.strictEqual(result.exitCode, 0, result.stderr)
      const dir = /Working in (\S+)/.exec(result.stdout)?.[1]
      assert.isDefined(dir)
      yield* Effect.addFinalizer(() => Effect.sync(() => NodeFs.rmSync(dir!, { recursive: true, force: true })))
      assert.isTrue(dir!.startsWith(NodeOs.tmpdir()))
      assert.strictEqual(NodeFs.readFileSync(NodePath.join(dir!, "results/output.txt"), "utf8"), "sum: 500500\nHello from Cerulean\n")
    }), 60_000)
})
