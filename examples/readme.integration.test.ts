/**
 * Every TypeScript snippet of the README's tour is a complete program: run
 * each one as a user would (written to a file in the repository, so that
 * `cerulean` resolves, and started with `node`), against the testbed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import * as Testbed from "@cerulean/testing/Testbed"
import { repoRoot, runNode } from "../packages/cerulean/test/utils/child.ts"

const readme = NodeFs.readFileSync(NodePath.join(repoRoot, "README.md"), "utf8")
const snippets = [...readme.matchAll(/^### (.+)\n[\s\S]*?```ts\n([\s\S]*?)```/gm)].map((m) => ({
  title: m[1]!,
  code: m[2]!
}))

/** What each snippet must print, by its section title: checks of the snippet's own effect. */
const expected: Record<string, RegExp> = {
  "Local: paths, files and commands": /\[ 'hello\.txt' \] 0 12 hello\.txt/,
  "SSH: one connection, many commands": /'job 0: \$\(not run\)'/,
  "SFTP: copy with progress": /remote size 8388608/,
  "WebDAV": /Hello over WebDAV\n 18/,
  "Slurm: submit, watch, exit code": /COMPLETED[\s\S]*exit code \{[\s\S]*value: 0/
}

// The README names the testbed's default state folder; the testbed may live elsewhere (CERULEAN_TESTBED_DIR).
const testbedDir = Testbed.load().dir
const locate = (code: string) => code.replaceAll("\".testbed/", `"${testbedDir}/`)

const scriptFile = (title: string, code: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const file = NodePath.join(repoRoot, "examples", `.readme-${title.replace(/\W+/g, "-")}-${process.pid}.ts`)
      NodeFs.writeFileSync(file, locate(code))
      return file
    }),
    (file) => Effect.sync(() => NodeFs.rmSync(file, { force: true }))
  )

describe("README tour", () => {
  it("has the five snippets this test knows", () => {
    assert.deepStrictEqual(snippets.map((s) => s.title), Object.keys(expected))
  })

  for (const { code, title } of snippets) {
    it.live(title, () =>
      Effect.gen(function*() {
        const file = yield* scriptFile(title, code)
        const result = yield* runNode(file, [], { timeoutMs: 180_000 })
        assert.strictEqual(result.exitCode, 0, `${result.stdout}\n${result.stderr}`)
        assert.match(result.stdout, expected[title]!)
      }), 200_000)
  }
})
