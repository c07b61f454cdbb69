import { JobDescription, PasswordCredential, PubKeyCredential } from "@cerulean/core"
import { TestTerminal } from "@cerulean/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as NodePath from "node:path"
import { makeFileSystem, makePath, makeScheduler, makeTerminal } from "../src/Factory.ts"
import { FactoryError } from "../src/FactoryError.ts"

const credential = new PasswordCredential({ username: "cerulean", password: "kingfisher" })

/** The reason tag of a failed factory call (any error type). */
const failureOf = <A, E>(effect: Effect.Effect<A, E, never>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(effect)
    assert.isTrue(Exit.isFailure(exit), "expected a failure")
    if (!Exit.isFailure(exit)) return undefined as never
    const reason = exit.cause.reasons[0]
    assert.strictEqual(reason?._tag, "Fail", "expected a typed failure, not a defect")
    return (reason as { error: E }).error
  })

const reasonTag = (e: unknown) => (e instanceof FactoryError ? e.reason._tag : undefined)

describe("makeFileSystem", () => {
  it.live("local, by name and by file:// URL", () =>
    Effect.gen(function*() {
      const fs = yield* makeFileSystem("local")
      assert.strictEqual(fs.protocol, "local")
      assert.isTrue(yield* fs.path("tmp").isDir())
      const fromUrl = yield* makeFileSystem("file:///")
      assert.isTrue(fromUrl.equals(fs))
    }))

  it.live("an unknown protocol is a typed FactoryError, not a throw", () =>
    Effect.gen(function*() {
      const e = yield* failureOf(Effect.scoped(makeFileSystem("ftp", "host")))
      assert.strictEqual(reasonTag(e), "UnknownProtocol")
      assert.include((e as FactoryError).message, "ftp")
      assert.include((e as FactoryError).message, "sftp")
    }))

  it.live("sftp and webdav need a location; sftp needs a credential", () =>
    Effect.gen(function*() {
      assert.strictEqual(reasonTag(yield* failureOf(Effect.scoped(makeFileSystem("sftp")))), "MissingLocation")
      assert.strictEqual(reasonTag(yield* failureOf(Effect.scoped(makeFileSystem("webdav")))), "MissingLocation")
      assert.strictEqual(
        reasonTag(yield* failureOf(Effect.scoped(makeFileSystem("sftp", "localhost:2222")))),
        "MissingCredential"
      )
      assert.strictEqual(
        reasonTag(yield* failureOf(Effect.scoped(makeFileSystem("sftp://u@localhost:2222/x")))),
        "MissingCredential"
      )
    }))

  it.live("bad locations are InvalidLocation", () =>
    Effect.gen(function*() {
      for (const location of ["[::1", "user@host", "host:99999", "host:"]) {
        const e = yield* failureOf(Effect.scoped(makeFileSystem("sftp", location, credential)))
        assert.strictEqual(reasonTag(e), "InvalidLocation", location)
      }
      const both = yield* failureOf(Effect.scoped(makeFileSystem("sftp://h", "h", credential)))
      assert.strictEqual(reasonTag(both), "InvalidLocation")
      const notHttp = yield* failureOf(Effect.scoped(makeFileSystem("webdav", "ftp://h/x")))
      assert.strictEqual(reasonTag(notHttp), "InvalidLocation")
      const otherUser = yield* failureOf(Effect.scoped(makeFileSystem("sftp://someone@h", undefined, credential)))
      assert.strictEqual(reasonTag(otherUser), "InvalidLocation")
      assert.include((otherUser as FactoryError).message, "someone")
    }))

  it.live("an IPv6 location reaches the SSH connection intact", () =>
    Effect.gen(function*() {
      // Nothing listens on port 1: the failure must be a refused connection to ::1, not a parse error.
      const e = yield* failureOf(Effect.scoped(makeFileSystem("sftp", "[::1]:1", credential, { connectTimeout: "5 seconds" })))
      assert.strictEqual((e as { _tag: string })._tag, "SshError")
      assert.strictEqual((e as unknown as { host: string }).host, "::1")
      assert.strictEqual((e as unknown as { port: number }).port, 1)
    }))

  it.live("WebDAV options are passed on: the CA file is read before anything is sent", () =>
    Effect.gen(function*() {
      const e = yield* failureOf(
        Effect.scoped(makeFileSystem("webdav", "https://localhost:1/dav", undefined, {
          hostCaCertFile: "/nonexistent/ca.pem",
          unsupportedMethodsRaise: false
        }))
      )
      assert.strictEqual((e as { _tag: string })._tag, "FileSystemError")
      assert.include((e as { message: string }).message, "/nonexistent/ca.pem")
    }))

  it.live("WebDAV takes only a password credential", () =>
    Effect.gen(function*() {
      const key = new PubKeyCredential({ username: "u", publicKey: "/dev/null" })
      const e = yield* failureOf(Effect.scoped(makeFileSystem("webdav", "https://h/x", key)))
      assert.strictEqual(reasonTag(e), "UnsupportedCredential")
    }))
})

describe("makePath", () => {
  it.live("a relative local path is resolved against the current directory", () =>
    Effect.gen(function*() {
      const path = yield* makePath("some/dir/file.txt")
      assert.strictEqual(path.fs.protocol, "local")
      assert.strictEqual(path.path, NodePath.resolve("some/dir/file.txt"))
      const fromUrl = yield* makePath("file:///tmp/x%20y")
      assert.strictEqual(fromUrl.path, "/tmp/x y")
    }))

  it.live("a bad URL is a typed InvalidLocation", () =>
    Effect.gen(function*() {
      const e = yield* failureOf(Effect.scoped(makePath("sftp:/oops")))
      assert.strictEqual(reasonTag(e), "InvalidLocation")
    }))
})

describe("makeTerminal", () => {
  it.live("local runs commands here", () =>
    Effect.gen(function*() {
      const terminal = yield* makeTerminal("local")
      const result = yield* terminal.run("echo", ["a b"])
      assert.strictEqual(result.stdout, "a b\n")
    }))

  it.live("unknown protocols, missing locations and WebDAV URLs are typed errors", () =>
    Effect.gen(function*() {
      assert.strictEqual(reasonTag(yield* failureOf(Effect.scoped(makeTerminal("telnet", "h")))), "UnknownProtocol")
      assert.strictEqual(reasonTag(yield* failureOf(Effect.scoped(makeTerminal("ssh")))), "MissingLocation")
      assert.strictEqual(reasonTag(yield* failureOf(Effect.scoped(makeTerminal("ssh", "h")))), "MissingCredential")
      assert.strictEqual(
        reasonTag(yield* failureOf(Effect.scoped(makeTerminal("webdav+https://h/x")))),
        "InvalidLocation"
      )
    }))

  it.live("ssh:// URLs carry host and port, IPv6 included", () =>
    Effect.gen(function*() {
      const e = yield* failureOf(
        Effect.scoped(makeTerminal("ssh://cerulean@[::1]:1", undefined, credential, { connectTimeout: "5 seconds" }))
      )
      assert.strictEqual((e as { _tag: string })._tag, "SshError")
      assert.strictEqual((e as unknown as { host: string }).host, "::1")
    }))
})

describe("makeScheduler", () => {
  it.live("builds directgnu, slurm and torque on a terminal, with the prefix before each command", () =>
    Effect.gen(function*() {
      const terminal = yield* TestTerminal.make([
        { match: () => true, reply: { exitCode: 0, stdout: "4242\n" } }
      ])
      for (const name of ["directgnu", "slurm", "torque", "SLURM"]) {
        const scheduler = yield* makeScheduler(name, terminal, "echo prefixtest;")
        assert.strictEqual(scheduler.name, name.toLowerCase())
      }
      const slurm = yield* makeScheduler("slurm", terminal, "echo prefixtest;")
      yield* Effect.exit(slurm.submit(new JobDescription({ command: "true" })))
      const calls = yield* terminal.calls
      assert.isAbove(calls.length, 0)
      assert.isTrue(calls.every((c) => c.shellLine.includes("echo prefixtest;")), calls.map((c) => c.shellLine).join("\n"))
    }))

  it.live("an unknown scheduler is a typed error listing the known ones", () =>
    Effect.gen(function*() {
      const terminal = yield* TestTerminal.make([])
      const e = yield* failureOf(Effect.scoped(makeScheduler("pbs", terminal)))
      assert.strictEqual(reasonTag(e), "UnknownProtocol")
      assert.include((e as FactoryError).message, "directgnu, slurm, torque")
    }))
})
