/**
 * examples/workflow.ts against the testbed: inputs staged over SFTP, a real
 * Slurm job counting their words, watched to the end, results copied back.
 */
import { PasswordCredential } from "@cerulean/core"
import { load } from "@cerulean/testing/Testbed"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { cerulean } from "../packages/cerulean/test/utils/child.ts"
import { clusterLayer, workflow } from "./workflow.ts"

const tb = load()

const tempDir = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "workflow-it-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
)

describe("examples/workflow.ts on the testbed", () => {
  it.live("stages inputs over SFTP, runs a Slurm job, watches it, and brings the results back", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const inputs = NodePath.join(dir, "inputs")
      NodeFs.mkdirSync(inputs)
      NodeFs.writeFileSync(NodePath.join(inputs, "alpha.txt"), "one two three\n")
      NodeFs.writeFileSync(NodePath.join(inputs, "beta.txt"), "a b c d e f g\nh i j\n")
      NodeFs.writeFileSync(NodePath.join(inputs, "empty.txt"), "")
      const remoteDir = `${tb.userHome}/workflow-${process.pid}-${Date.now()}`
      yield* Effect.addFinalizer(() =>
        Effect.asVoid(cerulean([
          "rm", "-r", "--password-env", "TB_PW", "--known-hosts", tb.knownHosts,
          `sftp://${tb.user}@${tb.sshHost}:${tb.sshPort}${remoteDir}`
        ], { env: { TB_PW: tb.password } }))
      )
      const results = NodePath.join(dir, "results")
      const report = yield* workflow({ inputs, results, remoteDir, partition: tb.slurmDefaultPartition }).pipe(
        Effect.provide(clusterLayer({
          host: tb.sshHost,
          port: tb.sshPort,
          credential: new PasswordCredential({ username: tb.user, password: tb.password }),
          knownHosts: tb.knownHosts
        }))
      )
      assert.match(report.jobId, /^\d+$/)
      assert.strictEqual(report.exitCode, 0)
      assert.strictEqual(report.states.at(-1), "Done")
      assert.strictEqual(report.stagedFiles, 3)
      assert.strictEqual(report.fetchedFiles, 3)
      const read = (name: string) => NodeFs.readFileSync(NodePath.join(results, name), "utf8")
      assert.strictEqual(read("alpha.count"), "3\n")
      assert.strictEqual(read("beta.count"), "10\n")
      assert.strictEqual(read("empty.count"), "0\n")
    }), 180_000)
})
