/**
 * The `cerulean` command tree on `effect/cli`: cp, ls, cat, mkdir, rm, run,
 * submit, status, wait, cancel. Handlers write through the `Output` service
 * and set the exit code there; failures are left to `main.ts`, which prints
 * them as one line.
 */
import { copy, type CopyOptions } from "@cerulean/core/Copy"
import * as FileSystem from "@cerulean/core/FileSystem"
import { JobDescription } from "@cerulean/core/JobDescription"
import type { JobInfo } from "@cerulean/core/JobStatus"
import type { Path } from "@cerulean/core/Path"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { Argument, Command, Flag } from "effect/cli"
import * as Connect from "./connect.ts"
import { CliFailure, usageExitCode } from "./errors.ts"
import { Output } from "./output.ts"
import * as Progress from "./progress.ts"

/** The process environment the commands see (credentials, prompt), as a service for tests. */
export class CliEnvironment extends Context.Service<CliEnvironment, Connect.Environment>()(
  "cerulean/cli/CliEnvironment"
) {}

// ------------------------------------------------------------------ flags

const connectFlags = {
  identity: Flag.String("identity").pipe(
    Flag.withAlias("i"),
    Flag.withMetavar("FILE"),
    Flag.withDescription("Private key file to log in with (OpenSSH or PEM; RSA, ECDSA, Ed25519)"),
    Flag.optional
  ),
  passwordEnv: Flag.String("password-env").pipe(
    Flag.withMetavar("VAR"),
    Flag.withDescription("Take the password (SSH, or WebDAV Basic auth) from this environment variable"),
    Flag.optional
  ),
  passphraseEnv: Flag.String("passphrase-env").pipe(
    Flag.withMetavar("VAR"),
    Flag.withDescription("Take the private key's passphrase from this environment variable"),
    Flag.optional
  ),
  hostKeyPolicy: Flag.Literals("host-key-policy", ["strict", "accept-new", "accept-any"]).pipe(
    Flag.withDescription(
      "strict: the host key must be in known_hosts; accept-new: record unknown hosts on first use; " +
        "accept-any: no check (unsafe)"
    ),
    Flag.withDefault("strict")
  ),
  knownHosts: Flag.String("known-hosts").pipe(
    Flag.withMetavar("FILE"),
    Flag.withDescription("known_hosts file (default ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts)"),
    Flag.optional
  ),
  caFile: Flag.String("ca-file").pipe(
    Flag.withMetavar("FILE"),
    Flag.withDescription("WebDAV over https: PEM file of the CA to trust instead of the system's"),
    Flag.optional
  ),
  webdavBase: Flag.String("webdav-base").pipe(
    Flag.withMetavar("PATH"),
    Flag.withDescription("WebDAV: the server's base path in the URL (default: found by asking the server)"),
    Flag.optional
  ),
  connectTimeout: Flag.Int("connect-timeout").pipe(
    Flag.withMetavar("SECONDS"),
    Flag.withDescription("Give up connecting after this long (default 20)"),
    Flag.optional
  )
}

const outputFlags = {
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON lines for scripts"), Flag.withDefault(false)),
  verbose: Flag.Boolean("verbose").pipe(
    Flag.withDescription("On failure, print the full cause with its stack; log what Cerulean does"),
    Flag.withDefault(false)
  )
}

const jobFlags = {
  scheduler: Flag.Literals("scheduler", ["directgnu", "slurm", "torque"]).pipe(
    Flag.withDescription("Where jobs go (default directgnu: plain processes)"),
    Flag.optional
  ),
  on: Flag.String("on").pipe(
    Flag.withMetavar("URL"),
    Flag.withDescription("Run on this machine, ssh://user@host[:port] (default: this machine)"),
    Flag.optional
  ),
  prefix: Flag.String("prefix").pipe(
    Flag.withMetavar("SHELL"),
    Flag.withDescription("Shell text run before each scheduler command, e.g. 'module load slurm;'"),
    Flag.withDefault("")
  )
}

type FlagValue<F> = F extends Flag.Flag<infer A> ? A : never

type ConnectInput = { readonly [K in keyof typeof connectFlags]: FlagValue<(typeof connectFlags)[K]> }

const connectOptions = (input: ConnectInput): Connect.ConnectOptions => ({
  identity: Option.getOrUndefined(input.identity),
  passwordEnv: Option.getOrUndefined(input.passwordEnv),
  passphraseEnv: Option.getOrUndefined(input.passphraseEnv),
  hostKeyPolicy: input.hostKeyPolicy,
  knownHosts: Option.getOrUndefined(input.knownHosts),
  caFile: Option.getOrUndefined(input.caFile),
  webdavBase: Option.getOrUndefined(input.webdavBase),
  connectTimeout: Option.getOrUndefined(input.connectTimeout)
})

const openPath = (url: string, input: ConnectInput) =>
  Effect.flatMap(CliEnvironment, (env) => Connect.openPath(url, connectOptions(input), env))

const line = (text: string) => Effect.flatMap(Output, (o) => o.out(text + "\n"))

// --------------------------------------------------------------------- cp

const parseRate = (text: string): number | undefined => {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(i?b?)?(?:\/s)?$/i.exec(text.trim())
  if (!m) return undefined
  const factor = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"]
  const value = Number(m[1]) * factor
  return value >= 1 ? Math.floor(value) : undefined
}

/**
 * The same path on a view of its file system whose reads are limited to
 * `bytesPerSecond` (`--bwlimit`), so `copy` cannot use a fast path around it.
 */
export const throttled = (path: Path, bytesPerSecond: number): Path => {
  const fs = path.fs
  const limited = FileSystem.make({
    ...fs,
    copyFile: undefined,
    sendTo: undefined,
    receiveFrom: undefined,
    sendManyTo: undefined,
    receiveManyFrom: undefined,
    readStream: (p, options) =>
      fs.readStream(p, options).pipe(
        // Tenths of a second, so the limit holds from the start instead of after a first second's burst.
        Stream.throttle({
          cost: (chunks) => chunks.reduce((n, c) => n + c.length, 0),
          units: Math.max(1, bytesPerSecond / 10),
          duration: Duration.millis(100),
          strategy: "shape"
        })
      )
  })
  return limited.path(path.path)
}

const cp = Command.make(
  "cp",
  {
    ...connectFlags,
    ...outputFlags,
    overwrite: Flag.Literals("overwrite", ["never", "always", "raise"]).pipe(
      Flag.withDescription("What to do with existing files: keep them, replace them, or fail"),
      Flag.withDefault("never")
    ),
    noCopyInto: Flag.Boolean("no-copy-into").pipe(
      Flag.withDescription("Copy to TARGET itself even when it is an existing directory"),
      Flag.withDefault(false)
    ),
    copyPermissions: Flag.Boolean("copy-permissions").pipe(
      Flag.withDescription("Give each copy the source's permission bits"),
      Flag.withDefault(false)
    ),
    bwlimit: Flag.String("bwlimit").pipe(
      Flag.withMetavar("RATE"),
      Flag.withDescription("Limit the reading speed, e.g. 500K or 2M (bytes per second)"),
      Flag.optional
    ),
    source: Argument.String("source").pipe(Argument.withDescription("File or directory to copy (a URL or a path)")),
    target: Argument.String("target").pipe(Argument.withDescription("Where to copy it (a URL or a path)"))
  },
  Effect.fn("cerulean.cp")(function*(input) {
    const output = yield* Output
    const limit = Option.map(input.bwlimit, (text) => ({ text, rate: parseRate(text) }))
    if (Option.isSome(limit) && limit.value.rate === undefined) {
      return yield* new CliFailure({
        what: `--bwlimit ${limit.value.text}: not a rate`,
        hint: "give bytes per second, e.g. 500K, 2M or 1048576",
        exitCode: usageExitCode
      })
    }
    const rate = Option.getOrUndefined(Option.flatMap(limit, (l) => Option.fromUndefinedOr(l.rate)))
    const opened = yield* openPath(input.source, input)
    const source = rate === undefined ? opened : throttled(opened, rate)
    const target = yield* openPath(input.target, input)
    const bar = !input.json && output.errIsTTY
    const options: CopyOptions = {
      overwrite: input.overwrite,
      copyInto: !input.noCopyInto,
      copyPermissions: input.copyPermissions,
      progressInterval: bar ? Duration.millis(100) : Duration.millis(250),
      ...(rate !== undefined
        ? { fastPaths: false, chunkSize: Math.max(1024, Math.min(256 * 1024, Math.floor(rate / 20))) }
        : {})
    }
    const start = yield* Clock.currentTimeMillis
    let last: Progress.Figures | undefined
    const samples: Array<Progress.Sample> = []
    yield* copy(source, target, options).pipe(
      Stream.runForEach((p) =>
        Effect.gen(function*() {
          last = p
          const elapsed = (yield* Clock.currentTimeMillis) - start
          samples.push({ t: elapsed, bytes: p.bytesDone })
          // Only the last few seconds matter for the rate: keep the array short on long copies.
          if (samples.length > 200) samples.splice(0, 100)
          const speed = p.phase === "Done" ? Progress.rate(p.bytesDone, elapsed) : Progress.windowRate(samples)
          if (input.json) return yield* output.out(Progress.jsonLine(p, elapsed, speed) + "\n")
          if (bar) {
            const text = Progress.renderBar(p, speed, output.columns())
            yield* output.err(Progress.clearLine + text + (p.phase === "Done" ? "\n" : ""))
          }
        })
      ),
      // A failed or interrupted copy must not leave the bar's half line under the error message.
      Effect.onExit(() => bar && last !== undefined && last.phase !== "Done" ? output.err("\n") : Effect.void)
    )
    const elapsed = (yield* Clock.currentTimeMillis) - start
    if (!input.json && last !== undefined) {
      yield* output.out(Progress.renderSummary(last, elapsed, input.target) + "\n")
    }
  })
).pipe(
  Command.withDescription("Copy a file or a directory tree between any two places (local, SFTP, WebDAV)"),
  Command.withExamples([
    { command: "cerulean cp data.bin sftp://me@cluster/home/me/in/", description: "Upload a file" },
    { command: "cerulean cp sftp://me@cluster/home/me/out ./results", description: "Download a directory" }
  ])
)

// ----------------------------------------------------------- ls, cat, mkdir, rm

const modeText = (type: string, mode: number): string => {
  const kind = { Directory: "d", SymbolicLink: "l", CharacterDevice: "c", BlockDevice: "b", Fifo: "p", Socket: "s" }[
    type
  ] ?? "-"
  const bits = "rwxrwxrwx"
  let text = ""
  for (let i = 0; i < 9; i++) text += mode & (0o400 >> i) ? bits[i] : "-"
  return kind + text
}

const ls = Command.make(
  "ls",
  {
    ...connectFlags,
    ...outputFlags,
    long: Flag.Boolean("long").pipe(
      Flag.withAlias("l"),
      Flag.withDescription("Show type, permissions and size"),
      Flag.withDefault(false)
    ),
    location: Argument.String("location").pipe(Argument.withDescription("Directory or file (a URL or a path)"))
  },
  Effect.fn("cerulean.ls")(function*(input) {
    const path = yield* openPath(input.location, input)
    const info = yield* path.fs.stat(path.path)
    const entries = info.type === "Directory"
      ? [...(yield* path.fs.readDirectory(path.path))].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      : [{ name: path.name || path.path, info }]
    for (const entry of entries) {
      if (input.json) {
        yield* line(JSON.stringify({
          name: entry.name,
          type: entry.info.type,
          size: entry.info.size,
          mode: entry.info.mode,
          mtime: entry.info.mtime?.toISOString() ?? null
        }))
      } else if (input.long) {
        const size = entry.info.size.toString().padStart(12)
        yield* line(`${modeText(entry.info.type, entry.info.mode)} ${size} ${entry.name}`)
      } else {
        yield* line(entry.name)
      }
    }
  })
).pipe(Command.withDescription("List a directory"))

const cat = Command.make(
  "cat",
  { ...connectFlags, ...outputFlags, location: Argument.String("location").pipe(Argument.withDescription("File")) },
  Effect.fn("cerulean.cat")(function*(input) {
    const output = yield* Output
    const path = yield* openPath(input.location, input)
    yield* Stream.runForEach(path.readStream(), output.outBytes)
  })
).pipe(Command.withDescription("Print a file"))

const mkdir = Command.make(
  "mkdir",
  {
    ...connectFlags,
    ...outputFlags,
    parents: Flag.Boolean("parents").pipe(
      Flag.withAlias("p"),
      Flag.withDescription("Create missing parents; no error if it exists"),
      Flag.withDefault(false)
    ),
    location: Argument.String("location").pipe(Argument.withDescription("Directory to create"))
  },
  Effect.fn("cerulean.mkdir")(function*(input) {
    const path = yield* openPath(input.location, input)
    yield* path.mkdir({ parents: input.parents, existsOk: input.parents })
    if (input.json) yield* line(JSON.stringify({ created: input.location }))
  })
).pipe(Command.withDescription("Create a directory"))

const rm = Command.make(
  "rm",
  {
    ...connectFlags,
    ...outputFlags,
    recursive: Flag.Boolean("recursive").pipe(
      Flag.withAlias("r"),
      Flag.withDescription("Remove a directory with everything in it"),
      Flag.withDefault(false)
    ),
    location: Argument.String("location").pipe(Argument.withDescription("File, link or directory to remove"))
  },
  Effect.fn("cerulean.rm")(function*(input) {
    const path = yield* openPath(input.location, input)
    const info = yield* path.fs.lstat(path.path)
    if (info.type === "Directory") yield* path.rmdir({ recursive: input.recursive })
    else yield* path.unlink()
    if (input.json) yield* line(JSON.stringify({ removed: input.location }))
  })
).pipe(Command.withDescription("Remove a file, or a directory with -r"))

// -------------------------------------------------------------------- run

const run = Command.make(
  "run",
  {
    ...connectFlags,
    ...outputFlags,
    on: jobFlags.on,
    workdir: Flag.String("workdir").pipe(
      Flag.withMetavar("DIR"),
      Flag.withDescription("Directory to run in"),
      Flag.optional
    ),
    timeout: Flag.Int("timeout").pipe(
      Flag.withMetavar("SECONDS"),
      Flag.withDescription("Kill the command after this long (exit code 124)"),
      Flag.optional
    ),
    command: Argument.String("command").pipe(
      Argument.withDescription("Shell text to run, e.g. 'hostname; uptime' (put -- before it if it has flags)")
    ),
    args: Argument.String("args").pipe(
      Argument.withDescription("Arguments, each passed as one literal argument"),
      Argument.variadic()
    )
  },
  Effect.fn("cerulean.run")(function*(input) {
    const output = yield* Output
    const env = yield* CliEnvironment
    const terminal = yield* Connect.openTerminal(Option.getOrUndefined(input.on), connectOptions(input), env)
    const result = yield* terminal.run(input.command, input.args, {
      workdir: Option.getOrUndefined(input.workdir),
      timeout: Option.getOrUndefined(Option.map(input.timeout, Duration.seconds))
    })
    if (input.json) {
      yield* line(JSON.stringify({
        exitCode: result.exitCode,
        stdout: result.stdout,
        stderr: result.stderr,
        ...(result.signal !== undefined ? { signal: result.signal } : {})
      }))
    } else {
      yield* output.out(result.stdout)
      yield* output.err(result.stderr)
    }
    yield* output.setExitCode(result.exitCode)
  })
).pipe(
  Command.withDescription("Run a command here or on another machine; exits with its exit code"),
  Command.withExamples([
    { command: "cerulean run --on ssh://me@cluster -- ls -l /scratch", description: "List a remote directory" }
  ])
)

// ------------------------------------------------------------------- jobs

const openScheduler = (input: ConnectInput & {
  readonly on: Option.Option<string>
  readonly scheduler: Option.Option<string>
  readonly prefix: string
}) =>
  Effect.gen(function*() {
    const env = yield* CliEnvironment
    const terminal = yield* Connect.openTerminal(Option.getOrUndefined(input.on), connectOptions(input), env)
    return yield* Connect.openScheduler(Option.getOrUndefined(input.scheduler), terminal, input.prefix)
  })

const jobId = Argument.String("job-id").pipe(Argument.withDescription("The id `submit` printed"))

const submit = Command.make(
  "submit",
  {
    ...connectFlags,
    ...outputFlags,
    ...jobFlags,
    name: Flag.String("name").pipe(Flag.withDescription("Job name shown in the queue"), Flag.optional),
    workdir: Flag.String("workdir").pipe(
      Flag.withMetavar("DIR"),
      Flag.withDescription("Directory the job runs in"),
      Flag.optional
    ),
    stdout: Flag.String("stdout").pipe(
      Flag.withMetavar("FILE"),
      Flag.withDescription("File for the job's output"),
      Flag.optional
    ),
    stderr: Flag.String("stderr").pipe(
      Flag.withMetavar("FILE"),
      Flag.withDescription("File for the job's errors"),
      Flag.optional
    ),
    queue: Flag.String("queue").pipe(Flag.withDescription("Queue or partition"), Flag.optional),
    time: Flag.Int("time").pipe(Flag.withMetavar("SECONDS"), Flag.withDescription("Wall-clock limit"), Flag.optional),
    nodes: Flag.Int("nodes").pipe(Flag.withDescription("Number of nodes"), Flag.optional),
    env: Flag.KeyValuePair("env").pipe(
      Flag.withDescription("Environment variable NAME=VALUE (repeatable)"),
      Flag.optional
    ),
    command: Argument.String("command").pipe(Argument.withDescription("Shell text of the job's program")),
    args: Argument.String("args").pipe(Argument.withDescription("Arguments, each passed verbatim"), Argument.variadic())
  },
  Effect.fn("cerulean.submit")(function*(input) {
    const scheduler = yield* openScheduler(input)
    const job = new JobDescription({
      command: input.command,
      arguments: input.args,
      ...Option.match(input.name, { onNone: () => ({}), onSome: (name) => ({ name }) }),
      ...Option.match(input.workdir, { onNone: () => ({}), onSome: (workingDirectory) => ({ workingDirectory }) }),
      ...Option.match(input.stdout, { onNone: () => ({}), onSome: (stdoutFile) => ({ stdoutFile }) }),
      ...Option.match(input.stderr, { onNone: () => ({}), onSome: (stderrFile) => ({ stderrFile }) }),
      ...Option.match(input.queue, { onNone: () => ({}), onSome: (queueName) => ({ queueName }) }),
      ...Option.match(input.time, { onNone: () => ({}), onSome: (timeReserved) => ({ timeReserved }) }),
      ...Option.match(input.nodes, { onNone: () => ({}), onSome: (numNodes) => ({ numNodes }) }),
      ...Option.match(input.env, { onNone: () => ({}), onSome: (environment) => ({ environment }) })
    })
    const id = yield* scheduler.submit(job)
    yield* line(input.json ? JSON.stringify({ jobId: id, scheduler: scheduler.name }) : id)
  })
).pipe(
  Command.withDescription("Submit a batch job; prints its id"),
  Command.withExamples([
    {
      command: "cerulean submit --scheduler slurm --on ssh://me@cluster --time 600 -- ./simulate.sh in.dat",
      description: "Submit a Slurm job with a 10 minute limit"
    }
  ])
)

const infoJson = (info: JobInfo) =>
  JSON.stringify({
    jobId: info.id,
    status: info.status,
    state: info.state,
    reason: info.reason ?? null,
    exitCode: info.exitCode ?? null
  })

const infoText = (info: JobInfo) =>
  `${info.id} ${info.status} (${info.state}${info.reason ? `: ${info.reason}` : ""})${
    info.exitCode !== undefined ? ` exit code ${info.exitCode}` : ""
  }`

const status = Command.make(
  "status",
  { ...connectFlags, ...outputFlags, ...jobFlags, jobId },
  Effect.fn("cerulean.status")(function*(input) {
    const scheduler = yield* openScheduler(input)
    const info = yield* scheduler.getInfo(input.jobId)
    yield* line(input.json ? infoJson(info) : infoText(info))
  })
).pipe(Command.withDescription("Show a job's status: Waiting, Running or Done"))

const wait = Command.make(
  "wait",
  {
    ...connectFlags,
    ...outputFlags,
    ...jobFlags,
    timeout: Flag.Int("timeout").pipe(
      Flag.withMetavar("SECONDS"),
      Flag.withDescription("Stop waiting after this long (exit code 124; the job keeps running)"),
      Flag.optional
    ),
    jobId
  },
  Effect.fn("cerulean.wait")(function*(input) {
    const output = yield* Output
    const scheduler = yield* openScheduler(input)
    let last: JobInfo | undefined
    const watching = Stream.runForEach(scheduler.watch(input.jobId), (info) => {
      last = info
      return input.json ? line(infoJson(info)) : output.err(infoText(info) + "\n")
    })
    const finished = yield* Option.match(input.timeout, {
      onNone: () => Effect.as(watching, true),
      onSome: (seconds) => Effect.map(Effect.timeoutOption(watching, Duration.seconds(seconds)), Option.isSome)
    })
    if (!finished) {
      const seconds = Option.getOrElse(input.timeout, () => 0)
      yield* output.err(`cerulean wait: job ${input.jobId} not done after ${seconds} s\n`)
      return yield* output.setExitCode(124)
    }
    const code = last?.exitCode ?? Option.getOrUndefined(yield* scheduler.getExitCode(input.jobId))
    if (!input.json) yield* line(code === undefined ? "done (exit code unknown)" : `${code}`)
    yield* output.setExitCode(code ?? 1)
  })
).pipe(Command.withDescription("Watch a job until it is done; exits with the job's exit code"))

const cancel = Command.make(
  "cancel",
  { ...connectFlags, ...outputFlags, ...jobFlags, jobId },
  Effect.fn("cerulean.cancel")(function*(input) {
    const scheduler = yield* openScheduler(input)
    yield* scheduler.cancel(input.jobId)
    yield* line(input.json ? JSON.stringify({ cancelled: input.jobId }) : `cancelled ${input.jobId}`)
  })
).pipe(Command.withDescription("Cancel a job"))

/** The names of the subcommands. */
export const subcommands: ReadonlyArray<string> = [
  "cp",
  "ls",
  "cat",
  "mkdir",
  "rm",
  "run",
  "submit",
  "status",
  "wait",
  "cancel"
]

/** The whole command. */
export const cerulean = Command.make("cerulean").pipe(
  Command.withDescription(
    "Copy files to and from clusters, run commands there, and submit and watch batch jobs " +
      "(Slurm, Torque, plain processes)"
  ),
  Command.withSubcommands([cp, ls, cat, mkdir, rm, run, submit, status, wait, cancel])
)
