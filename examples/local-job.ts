/**
 * A small but real job, on this machine, with no server: the same steps a
 * cluster workflow takes (make inputs, run a command, stage the inputs, submit
 * a batch job, watch it, copy the results back), with the local file system,
 * the local terminal and the direct (plain process) scheduler. Swap the three
 * layers at the bottom for SFTP, SSH and Slurm and the program stays the same
 * (see examples/workflow.ts).
 *
 *   node examples/local-job.ts [DIR]      (Node 24; DIR defaults to a new temporary directory)
 *
 * Everything it makes stays in DIR so you can look at it afterwards.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Layer, Option, Stream } from "effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import {
  copy,
  DirectGnuScheduler,
  FileSystem,
  JobDescription,
  LocalFileSystem,
  LocalTerminal,
  Scheduler,
  Terminal
} from "cerulean"

const say = (text: string) => Console.log(text)
const detail = (text: string) => Console.log(`     ${text}`)

const kib = (bytes: number) => (bytes < 1024 ? `${bytes} bytes` : `${(bytes / 1024).toFixed(1)} KiB`)

/** The job itself, written against the generic services: which file system, terminal and scheduler is decided by the layers. */
export const localJob = (dir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem
    const terminal = yield* Terminal
    const scheduler = yield* Scheduler
    const started = Date.now()
    const root = fs.path(dir)

    yield* say(`Cerulean local job: everything below runs on this machine (${terminal.protocol} terminal, ` +
      `${fs.protocol} file system, ${scheduler.name} scheduler).`)
    yield* say(`Working in ${dir}\n`)

    // 1. Input files, written through the file system.
    const inputs = root.join("inputs")
    yield* inputs.mkdir({ parents: true, existsOk: true })
    const numbers = Array.from({ length: 1000 }, (_, i) => `${i + 1}\n`).join("")
    yield* inputs.join("numbers.txt").writeText(numbers)
    yield* inputs.join("greeting.txt").writeText("Hello from Cerulean\n")
    yield* say("1. Made the input files with the file system")
    for (const name of ["numbers.txt", "greeting.txt"]) {
      yield* detail(`inputs/${name.padEnd(14)}${kib(yield* inputs.join(name).size())}`)
    }

    // 2. A command through the terminal: shell text plus arguments quoted one by one.
    const result = yield* terminal.run("wc -l", ["numbers.txt", "greeting.txt"], { workdir: inputs.path })
    yield* say("2. Ran a command with the terminal")
    yield* detail("$ wc -l numbers.txt greeting.txt")
    for (const out of result.stdout.trimEnd().split("\n")) yield* detail(out.trim())
    yield* detail(`exit code ${result.exitCode}`)

    // 3. Stage the inputs where the job will run: copy is a stream of progress reports.
    const jobDir = root.join("job")
    yield* jobDir.mkdir({ parents: true, existsOk: true })
    const staged = yield* copy(inputs, jobDir, { overwrite: "always" }).pipe(Stream.runLast)
    yield* say("3. Copied inputs/ into job/ with copy")
    if (Option.isSome(staged)) {
      yield* detail(`${staged.value.filesDone} files, ${kib(staged.value.bytesDone)}`)
    }

    // 4. Submit a batch job and watch it until it is done.
    const job = new JobDescription({
      name: "cerulean-local-job",
      workingDirectory: jobDir.join("inputs").path,
      // Shell text, as in Cerulean; the short sleep gives the watch below a Running state to see.
      command: "sleep 1; awk '{ s += $1 } END { print \"sum:\", s }' numbers.txt; cat greeting.txt",
      stdoutFile: jobDir.join("output.txt").path,
      stderrFile: jobDir.join("errors.txt").path,
      timeReserved: 60
    })
    const id = yield* scheduler.submit(job)
    yield* say(`4. Submitted a job to the ${scheduler.name} scheduler: id ${id}`)
    const states: Array<string> = []
    yield* scheduler.watch(id).pipe(Stream.runForEach((info) => Effect.sync(() => states.push(info.status))))
    const exitCode = yield* scheduler.getExitCode(id)
    yield* detail(`${states.join(" -> ")}, exit code ${Option.getOrElse(Option.map(exitCode, String), () => "unknown")}`)

    // 5. Bring the results back next to the inputs.
    const results = root.join("results")
    yield* results.mkdir({ parents: true, existsOk: true })
    yield* copy(jobDir.join("output.txt"), results, { overwrite: "always" }).pipe(Stream.runDrain)
    const output = yield* results.join("output.txt").readText()
    yield* say("5. Copied the job's output back to results/")
    for (const out of output.trimEnd().split("\n")) yield* detail(`results/output.txt: ${out}`)

    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    yield* say(`\nDone in ${seconds} s. Everything is in ${dir}`)
    return { id, exitCode: Option.getOrUndefined(exitCode), output }
  })

/** This machine: the local file system and terminal, and jobs as plain processes whose records stay in `dir`. */
export const localLayer = (dir: string) =>
  Layer.mergeAll(
    LocalFileSystem.layer,
    DirectGnuScheduler.layer({ jobsDirectory: NodePath.join(dir, ".jobs") }).pipe(Layer.provideMerge(LocalTerminal.layer))
  )

if (import.meta.main) {
  const dir = NodePath.resolve(process.argv[2] ?? NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "cerulean-local-job-")))
  localJob(dir).pipe(
    Effect.flatMap(({ exitCode }) =>
      exitCode === 0 ? Effect.void : Effect.fail(new Error(`the job ended with exit code ${exitCode ?? "unknown"}`))
    ),
    Effect.provide(localLayer(dir)),
    NodeRuntime.runMain
  )
}
