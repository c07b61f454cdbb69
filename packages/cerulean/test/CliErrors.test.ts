import * as FileSystemError from "@cerulean/core/FileSystemError"
import { SchedulerError, UnknownJob } from "@cerulean/core/Scheduler"
import { TerminalError, Timeout } from "@cerulean/core/Terminal"
import { AuthenticationFailed, HostKeyUnknown, SshError } from "@cerulean/ssh/SshError"
import { assert, describe, it } from "@effect/vitest"
import { Cause } from "effect"
import { FactoryError, InvalidLocation } from "../src/FactoryError.ts"
import { CliFailure, report, reportCause } from "../src/internal/cli/errors.ts"

const single = (line: string) => assert.notMatch(line, /[\r\n]/, "one line")

describe("error lines", () => {
  it("an unknown host key: what, where, what to try; exit 1", () => {
    const error = new SshError({
      reason: new HostKeyUnknown({
        host: "::1",
        port: 2222,
        keyType: "ssh-ed25519",
        fingerprint: "SHA256:abc",
        knownHostsFiles: ["/home/me/.ssh/known_hosts"]
      })
    })
    const r = report("ls", error)
    single(r.line)
    assert.match(r.line, /^cerulean ls: /)
    assert.include(r.line, "[::1]:2222")
    assert.include(r.line, "SHA256:abc")
    assert.include(r.line, "/home/me/.ssh/known_hosts")
    assert.include(r.line, "--host-key-policy accept-new")
    assert.strictEqual(r.exitCode, 1)
  })

  it("a wrong password names the account and the ways to log in", () => {
    const r = report(
      "cp",
      new SshError({
        reason: new AuthenticationFailed({
          host: "h",
          port: 22,
          description: "cerulean: All configured authentication methods failed"
        })
      })
    )
    single(r.line)
    assert.include(r.line, "authentication failed at h:22")
    assert.include(r.line, "--password-env")
    assert.include(r.line, "--identity")
  })

  it("a file-system error names the operation and the path", () => {
    const r = report(
      "cat",
      FileSystemError.make("NotFound", { path: "/home/x/missing.txt", operation: "readStream", description: "ENOENT" })
    )
    single(r.line)
    assert.strictEqual(
      r.line,
      "cerulean cat: readStream /home/x/missing.txt: no such file or directory (ENOENT); " +
        "check the path (remote paths are absolute, e.g. sftp://host/home/user/file)"
    )
  })

  it("a bad location is a usage error (exit 2)", () => {
    const r = report("cp", new FactoryError({ reason: new InvalidLocation({ input: "sftp:/x", description: "did you mean sftp://...?" }) }))
    single(r.line)
    assert.include(r.line, "sftp:/x")
    assert.strictEqual(r.exitCode, 2)
  })

  it("a timeout exits 124 as timeout(1); scheduler errors point at the job", () => {
    const t = report("run", new TerminalError({ reason: new Timeout({ command: "sleep 100", stdout: "", stderr: "" }) }))
    assert.strictEqual(t.exitCode, 124)
    assert.include(t.line, "sleep 100")
    const s = report("status", new SchedulerError({ reason: new UnknownJob({ jobId: "42", description: "not in squeue or sacct" }) }))
    assert.include(s.line, "job 42")
    assert.include(s.line, "--scheduler")
  })

  it("messages over several lines are folded into one", () => {
    const r = report("run", new CliFailure({ what: "first\nsecond\r\n third", hint: "try\nthis", exitCode: 3 }))
    assert.strictEqual(r.line, "cerulean run: first second third; try this")
    assert.strictEqual(r.exitCode, 3)
  })

  it("defects are reported as internal errors; interruption exits 130", () => {
    const d = reportCause("cp", Cause.die(new Error("boom\nat stack line")))
    single(d.line)
    assert.include(d.line, "internal error: boom")
    assert.include(d.line, "--verbose")
    assert.notInclude(d.line, "at stack line at")
    assert.strictEqual(reportCause("cp", Cause.interrupt()).exitCode, 130)
  })
})
