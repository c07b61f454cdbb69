/**
 * `Terminal.run` over an SSH exec channel, with the same semantics as
 * LocalTerminal: shell text through `sh -c`, quoted arguments, stdin closed
 * after the input, stdout and stderr captured apart, the remote process (and
 * its children) killed on timeout or interruption.
 */
import { type RunOptions, RunResult, Shell, TerminalError } from "@cerulean/core"
import * as TerminalReason from "@cerulean/core/Terminal"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type { EventEmitter } from "node:events"
import * as NodeOs from "node:os"
import type { ClientChannel } from "ssh2"
import type * as SshError from "../SshError.ts"
import type { Connection, Live, Opener } from "./connection.ts"

/**
 * Runs before the command, in the same `/bin/sh`:
 * - makes the shell the leader of a process group of its own, so a timed-out
 *   command can be killed with all its children. sshd (OpenSSH) already makes
 *   each session's shell a group leader, and `exec` keeps its pid; servers
 *   that do not (dropbear groups every session of a connection together) get
 *   a re-exec under `setsid` (no fork: the shell is no group leader there).
 *   `kill -s 0 -- -$$` tells a leader apart in one builtin call: a process
 *   group numbered `$$` exists only if this shell leads it;
 * - prints `<pid> <own process group, or 0>` on stderr (stripped from what
 *   the caller sees);
 * - clears the positional parameters, so the command sees none, as with `sh -c`.
 */
const prelude = "if kill -s 0 -- -$$ 2>/dev/null; then __g=$$; " +
  "elif [ $# -lt 2 ] && command -v setsid >/dev/null 2>&1; then " +
  "exec setsid /bin/sh -c 'eval \"$1\"' sh \"$1\" again; fi\n" +
  "printf '%s %s\\n' \"$$\" \"${__g:-0}\" >&2\n" +
  "unset __g\n" +
  "set --\n"

/**
 * The exec request text for a script. The login shell only sees
 * `exec /bin/sh -c 'eval "$1"' sh '<text>'`, so a csh or fish login shell does
 * not change the semantics of the command; the text is passed as an argument
 * so the prelude can re-exec it.
 */
export const wrapCommand = (script: string): string => `exec /bin/sh -c 'eval "$1"' sh ${Shell.quote(prelude + script)}`

/** Exec-channel opener for ssh2. */
export const execOpener = (command: string): Opener<ClientChannel> => ({
  label: "an exec",
  open: (client, callback) => client.exec(command, callback),
  close: (channel) => {
    // ssh2 emits "close" only after the output streams ended, which needs them read: drop what is left
    channel.resume()
    channel.stderr.resume()
    channel.close()
  }
})

interface SignalCapable {
  readonly _client: { readonly _protocol: { readonly signal: (id: number, name: string) => void } }
  readonly outgoing: { readonly id: number; readonly state: string }
}

const isSignalCapable = (u: unknown): u is SignalCapable =>
  Predicate.hasProperty(u, "outgoing") && Predicate.hasProperty(u.outgoing, "id") &&
  typeof u.outgoing.id === "number" && Predicate.hasProperty(u.outgoing, "state") &&
  typeof u.outgoing.state === "string" && Predicate.hasProperty(u, "_client") &&
  Predicate.hasProperty(u._client, "_protocol") && Predicate.hasProperty(u._client._protocol, "signal") &&
  typeof u._client._protocol.signal === "function"

/**
 * Sends an SSH "signal" request. ssh2's `channel.signal()` refuses once stdin
 * is closed (it checks `writable`), but the request is legal until the
 * channel is closed, so it goes through the protocol object directly.
 * OpenSSH >= 8.1 delivers it with killpg to the session's process group.
 */
const sendSignal = (channel: ClientChannel, name: string): void => {
  const c: unknown = channel
  if (isSignalCapable(c) && (c.outgoing.state === "open" || c.outgoing.state === "eof")) {
    c._client._protocol.signal(c.outgoing.id, name)
  }
}

interface Collector {
  readonly stdout: Array<Buffer>
  readonly stderr: Array<Buffer>
  /** stderr received before the process-group line was complete */
  head: Buffer | undefined
  /** the remote shell's pid */
  pid: number | undefined
  /** its process group, when that is the shell's own */
  pgid: number | undefined
  exit: { readonly code: number; readonly signal?: string } | undefined
  /** the channel closed and both output streams ended */
  readonly done: Deferred.Deferred<void>
}

const signalNumber = (name: string): number => {
  const signals: Record<string, number | undefined> = NodeOs.constants.signals
  return signals[name] ?? 0
}

const collect = (channel: ClientChannel): Collector => {
  const c: Collector = {
    stdout: [],
    stderr: [],
    head: Buffer.alloc(0),
    pid: undefined,
    pgid: undefined,
    exit: undefined,
    done: Deferred.makeUnsafe()
  }
  let closed = false
  let stderrEnded = false
  const check = () => {
    if (closed && stderrEnded) Deferred.doneUnsafe(c.done, Exit.void)
  }
  channel.on("data", (data: Buffer) => {
    c.stdout.push(data)
  })
  channel.stderr.on("data", (data: Buffer) => {
    if (c.head === undefined) {
      c.stderr.push(data)
      return
    }
    const head = Buffer.concat([c.head, data])
    const newline = head.indexOf(10)
    if (newline === -1) {
      c.head = head
      return
    }
    const line = head.subarray(0, newline).toString("latin1")
    const ids = /^([0-9]+) ([0-9]+)$/.exec(line)
    const isGroupLine = ids !== null
    if (ids !== null) {
      c.pid = Number(ids[1])
      // a group that is not the shell's own may hold other commands: never kill it
      c.pgid = ids[1] === ids[2] ? Number(ids[1]) : undefined
    }
    const rest = isGroupLine ? head.subarray(newline + 1) : head
    if (rest.length > 0) c.stderr.push(rest)
    c.head = undefined
  })
  const onStderrEnd = () => {
    stderrEnded = true
    check()
  }
  channel.stderr.once("end", onStderrEnd)
  channel.stderr.once("close", onStderrEnd)
  channel.stderr.on("error", () => {})
  channel.on("exit", (code: number | null, signal?: string) => {
    c.exit = code !== null
      ? { code }
      : { code: 128 + signalNumber(signal ?? "SIGKILL"), signal: signal ?? "SIGKILL" }
  })
  channel.once("close", () => {
    closed = true
    if (channel.stderr.readableEnded || channel.stderr.destroyed) stderrEnded = true
    check()
  })
  return c
}

// Lenient like LocalTerminal: invalid UTF-8 becomes U+FFFD, a leading byte-order mark is kept.
const decode = (chunks: ReadonlyArray<Buffer>, head?: Buffer): string =>
  new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(
    Buffer.concat(head !== undefined && head.length > 0 ? [head, ...chunks] : chunks)
  )

const output = (c: Collector) => ({ stdout: decode(c.stdout), stderr: decode(c.stderr, c.head) })

const awaitClose = (emitter: EventEmitter): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    emitter.once("close", () => resume(Effect.void))
  })

/**
 * Kills a running remote command with all its children: a KILL signal over
 * the channel (OpenSSH >= 8.1 delivers it to the session's process group), and
 * `kill -s KILL -- -<group>` over a second channel, for servers that ignore
 * signal requests or signal only the shell (dropbear, OpenSSH < 8.1), and for
 * children that outlive the shell. The second channel takes no slot, so it
 * opens while every slot is busy; killing a group that is gone already is a
 * harmless no-op.
 */
const killRemote = (conn: Connection, channel: ClientChannel, c: Collector, live: Live): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (Deferred.isDoneUnsafe(live.lost)) return
    if (!Deferred.isDoneUnsafe(c.done)) sendSignal(channel, "KILL")
    const target = c.pgid !== undefined && c.pgid > 1
      ? `-- -${c.pgid}`
      : c.pid !== undefined && c.pid > 1
      ? `${c.pid}`
      : undefined
    if (target !== undefined) {
      yield* Effect.logDebug(`kill -s KILL ${target}`)
      yield* Effect.scoped(
        Effect.gen(function*() {
          const killer = yield* conn.openChannel(
            execOpener(`exec /bin/sh -c ${Shell.quote(`kill -s KILL ${target} 2>/dev/null; true`)}`),
            { bypassLimit: true }
          )
          const closedKiller = awaitClose(killer.channel)
          killer.channel.resume()
          killer.channel.stderr.resume()
          killer.channel.end()
          yield* closedKiller
        })
      ).pipe(Effect.timeoutOption("5 seconds"), Effect.ignore)
    }
    yield* Deferred.await(c.done).pipe(Effect.timeoutOption("2 seconds"))
  })

const terminalError = (reason: TerminalError["reason"]) => new TerminalError({ reason })

const fromSshError = (command: string, error: SshError.SshError): TerminalError =>
  terminalError(
    error.reason._tag === "ConnectionLost"
      ? new TerminalReason.ConnectionLost({ command, description: error.message, cause: error })
      : new TerminalReason.SpawnFailed({ command, description: error.message, cause: error })
  )

/** `Terminal.run` on the connection. */
export const run = (
  conn: Connection,
  command: string,
  args: ReadonlyArray<string> = [],
  options: RunOptions = {}
): Effect.Effect<RunResult, TerminalError> =>
  Effect.gen(function*() {
    const problem = Shell.checkRun(command, args, options)
    if (problem !== undefined) {
      return yield* terminalError(new TerminalReason.InvalidArgument({ command, description: problem }))
    }
    const timeoutInput = options.timeout === undefined ? undefined : Duration.fromInput(options.timeout)
    if (timeoutInput !== undefined && Option.isNone(timeoutInput)) {
      return yield* terminalError(
        new TerminalReason.InvalidArgument({ command, description: "the timeout is not a valid duration" })
      )
    }
    const timeout = timeoutInput === undefined ? undefined : timeoutInput.value
    const script = Shell.commandLine(command, args, options)
    const { channel, live } = yield* conn.openChannel(execOpener(wrapCommand(script))).pipe(
      Effect.mapError((e) => fromSshError(command, e))
    )
    const c = collect(channel)
    let killed = false
    const kill = Effect.suspend(() => {
      if (killed) return Effect.void
      killed = true
      return killRemote(conn, channel, c, live)
    })
    // Interrupted (or failed) before the command ended: it must not live on. After a successful
    // run nothing is killed: background jobs that let go of the output keep running.
    yield* Effect.addFinalizer((exit) => Exit.isSuccess(exit) ? Effect.void : kill)

    const stdin = options.stdin
    if (stdin === undefined) channel.end()
    else channel.end(typeof stdin === "string" ? Buffer.from(stdin, "utf8") : Buffer.from(stdin))

    // When the connection drops, ssh2 closes every channel on it, so `done` covers that too (no race
    // against `live.lost`, which would cost two fibers per run).
    if (timeout !== undefined) {
      const inTime = yield* Effect.timeoutOption(Deferred.await(c.done), timeout)
      if (Option.isNone(inTime)) {
        yield* kill
        return yield* terminalError(
          new TerminalReason.Timeout({
            command,
            description: `no exit after ${Duration.format(timeout)}; the remote process was killed`,
            ...output(c)
          })
        )
      }
    } else {
      yield* Deferred.await(c.done)
    }
    const exit = c.exit
    if (exit === undefined) {
      if (Deferred.isDoneUnsafe(live.lost)) {
        const lost = yield* Effect.flip(Deferred.await(live.lost))
        return yield* fromSshError(command, lost)
      }
      return yield* terminalError(
        new TerminalReason.Io({ command, description: "the channel closed without an exit status" })
      )
    }
    return new RunResult({
      exitCode: exit.code,
      ...output(c),
      ...(exit.signal !== undefined ? { signal: exit.signal } : {})
    })
  }).pipe(Effect.scoped)
