/**
 * A complete cluster workflow as an Effect program: stage the input files
 * on the cluster over SFTP, submit a Slurm job that works on them, watch it
 * until it is done, and copy its results back.
 *
 * `workflow` only names what it needs (the workstation's files, the
 * cluster's files, a scheduler); the layers decide what those are. `clusterLayer`
 * builds them on one SSH connection (SFTP and Slurm share it);
 * examples/workflow.test.ts runs the same `workflow`, unchanged, on the mock
 * layers of `@cerulean/testing`.
 *
 *   node examples/workflow.ts INPUT_DIR RESULTS_DIR sftp://user@cluster[:port]/remote/dir
 *   (password from $CERULEAN_PASSWORD, or key file from $CERULEAN_KEY; host key from ~/.ssh/known_hosts)
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Context, Data, Effect, Layer, Option, Stream } from "effect"
import {
  copyAll,
  type Credential,
  FileSystem,
  type JobInfo,
  JobDescription,
  LocalFileSystem,
  Location,
  PasswordCredential,
  PubKeyCredential,
  Scheduler,
  SftpFileSystem,
  SlurmScheduler,
  SshTerminal,
  type SshTerminalOptions
} from "cerulean"

/** The files on the machine the workflow is started from. */
export class Workstation extends Context.Service<Workstation, FileSystem>()("examples/workflow/Workstation") {}

/** The files on the cluster (where the jobs run). */
export class ClusterFiles extends Context.Service<ClusterFiles, FileSystem>()("examples/workflow/ClusterFiles") {}

/** Where things are. */
export interface WorkflowSettings {
  /** Directory of input files (`*.txt`) on the workstation. */
  readonly inputs: string
  /** Directory on the workstation the results are copied to (created if needed). */
  readonly results: string
  /** Directory on the cluster to work in (created if needed). */
  readonly remoteDir: string
  /** Slurm partition, if not the default. */
  readonly partition?: string | undefined
}

/** What the workflow did. */
export interface WorkflowReport {
  readonly jobId: string
  /** Each state the job was seen in, in order. */
  readonly states: ReadonlyArray<JobInfo["status"]>
  readonly exitCode: number
  readonly stagedFiles: number
  readonly fetchedFiles: number
}

/** The job did not succeed; its id and what the scheduler said. */
export class JobFailed extends Data.TaggedError("JobFailed")<{
  readonly jobId: string
  readonly exitCode: number | undefined
  readonly state: string
}> {
  override get message() {
    return `job ${this.jobId} ended ${this.state} with exit code ${this.exitCode ?? "unknown"}`
  }
}

/** The job's script: counts the words of every input, one `NAME.count` file per input. */
export const countWords = "mkdir -p results && for f in inputs/*.txt; do " +
  "n=$(basename \"$f\" .txt); wc -w < \"$f\" | tr -d ' ' > \"results/$n.count\"; done"

/** The workflow: stage, submit, watch, fetch. */
export const workflow = (settings: WorkflowSettings) =>
  Effect.gen(function*() {
    const local = yield* Workstation
    const cluster = yield* ClusterFiles
    const scheduler = yield* Scheduler

    // 1. Stage the inputs on the cluster.
    const remote = cluster.path(settings.remoteDir)
    yield* remote.mkdir({ parents: true, existsOk: true })
    const staged = yield* copyAll(local.path(settings.inputs), remote.join("inputs"), {
      overwrite: "always",
      copyInto: false
    })
    yield* Effect.logInfo(`staged ${staged.filesDone} files (${staged.bytesDone} bytes) in ${remote.path}/inputs`)

    // 2. Submit the job.
    const jobId = yield* scheduler.submit(
      new JobDescription({
        name: "cerulean-workflow",
        workingDirectory: remote.path,
        command: countWords,
        stdoutFile: remote.join("job.out").path,
        stderrFile: remote.join("job.err").path,
        timeReserved: 300,
        ...(settings.partition !== undefined ? { queueName: settings.partition } : {})
      })
    )
    yield* Effect.logInfo(`submitted job ${jobId} to ${scheduler.name}`)

    // 3. Watch it: each change of state once, the last one Done.
    const seen = yield* scheduler.watch(jobId).pipe(
      Stream.tap((info) => Effect.logInfo(`job ${jobId}: ${info.status} (${info.state})`)),
      Stream.runCollect
    )
    const last = seen.at(-1)
    const exitCode = last?.exitCode ?? Option.getOrUndefined(yield* scheduler.getExitCode(jobId))
    if (exitCode !== 0) {
      return yield* new JobFailed({ jobId, exitCode, state: last?.state ?? "unknown" })
    }

    // 4. Copy the results back.
    yield* local.path(settings.results).mkdir({ parents: true, existsOk: true })
    const fetched = yield* copyAll(remote.join("results"), local.path(settings.results), {
      overwrite: "always",
      copyInto: false
    })
    yield* Effect.logInfo(`fetched ${fetched.filesDone} result files to ${settings.results}`)

    return {
      jobId,
      states: seen.map((info) => info.status),
      exitCode,
      stagedFiles: staged.filesDone,
      fetchedFiles: fetched.filesDone
    } satisfies WorkflowReport
  })

/** The workstation is this machine. */
export const workstationLayer: Layer.Layer<Workstation> = Layer.effect(Workstation, LocalFileSystem).pipe(
  Layer.provide(LocalFileSystem.layer)
)

/**
 * The real thing: this machine, and a Slurm cluster reached over one SSH
 * connection that carries both the SFTP file system and the Slurm commands.
 */
export const clusterLayer = (ssh: SshTerminalOptions) => {
  const connection = SshTerminal.layer(ssh)
  const files = Layer.effect(ClusterFiles, Effect.flatMap(SshTerminal, (terminal) => SftpFileSystem.make(terminal)))
  return Layer.mergeAll(workstationLayer, files, SlurmScheduler.layer()).pipe(Layer.provide(connection))
}

if (import.meta.main) {
  const [inputs, results, url] = process.argv.slice(2)
  const location = url === undefined ? undefined : Location.parse(url)
  if (inputs === undefined || results === undefined || location === undefined || location._tag !== "Ssh") {
    console.error("usage: node examples/workflow.ts INPUT_DIR RESULTS_DIR sftp://user@cluster[:port]/remote/dir")
    process.exit(2)
  }
  const username = location.username ?? process.env.USER ?? "user"
  const credential: Credential = process.env.CERULEAN_KEY !== undefined
    ? new PubKeyCredential({ username, publicKey: process.env.CERULEAN_KEY })
    : new PasswordCredential({ username, password: process.env.CERULEAN_PASSWORD ?? "" })
  workflow({ inputs, results, remoteDir: location.path }).pipe(
    Effect.tap((report) => Console.log(JSON.stringify(report))),
    Effect.provide(clusterLayer({ host: location.host, port: location.port, credential })),
    NodeRuntime.runMain
  )
}
