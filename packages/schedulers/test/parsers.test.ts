/**
 * Parsers on recorded output: Slurm 22.05 (this testbed; fixtures/slurm, fixtures/slurm-poll),
 * real Torque (`qstat -x` XML, `qstat -f`; fixtures/torque), PBS Pro (`qstat -f -F json`;
 * fixtures/pbspro) and the slurm-wlm-torque wrappers (fixtures/torque-wrappers).
 */
import { RunResult } from "@cerulean/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { directGnuInfo, parseStatus } from "../src/internal/directGnu.ts"
import { finalExit } from "../src/internal/jobInfo.ts"
import {
  isAccountingDisabled,
  isInvalidJobId,
  parseSacct,
  parseSbatch,
  parseSqueue,
  slurmInfo,
  slurmStatus
} from "../src/internal/slurm.ts"
import {
  isUnknownJobs,
  parsePbsJson,
  parseQstatFull,
  parseQstatXml,
  parseQsub,
  parseVersion,
  torqueInfo,
  torqueStatus
} from "../src/internal/torque.ts"

const fixture = (name: string): string => fs.readFileSync(path.join(import.meta.dirname, "fixtures", name), "utf8")
const result = (exitCode: number, stdout: string, stderr = "") => new RunResult({ exitCode, stdout, stderr })
const failureTag = <A>(effect: Effect.Effect<A, { readonly reason: { readonly _tag: string } }>) =>
  Effect.map(Effect.result(effect), (r) => (Result.isFailure(r) ? r.failure.reason._tag : "ok"))

/** id -> [status, state, exitCode, signal] */
const summary = (infos: ReadonlyArray<{ id: string; status: string; state: string; exitCode?: number | undefined; signal?: number | undefined }>) =>
  Object.fromEntries(infos.map((i) => [i.id, [i.status, i.state, i.exitCode, i.signal]]))

describe("Slurm", () => {
  it.effect("sbatch --parsable: the id; errors carry sbatch's message", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* parseSbatch(result(0, fixture("slurm/sbatch-parsable.txt"))), "23")
      assert.strictEqual(yield* parseSbatch(result(0, "42;cluster\n")), "42")
      const failed = yield* Effect.flip(
        parseSbatch(result(1, "", fixture("slurm/sbatch-bad-partition.stderr.txt")))
      )
      assert.strictEqual(failed.reason._tag, "SubmitFailed")
      assert.include(failed.message, "Invalid partition name specified")
      assert.strictEqual(yield* failureTag(parseSbatch(result(0, "Submitted batch job\n"))), "ParseError")
    }))

  it.effect("squeue -t all -O ...exit_code: live states, and finished ones with their wait status", () =>
    Effect.gen(function*() {
      const rows = yield* parseSqueue(fixture("slurm-poll/squeue-poll-live.txt"))
      assert.deepStrictEqual(summary(rows.map((row) => slurmInfo(row))), {
        "2505": ["Done", "COMPLETED", 0, undefined],
        "2504": ["Done", "FAILED", 3, undefined],
        "2506": ["Done", "FAILED", 137, 9],
        "2503": ["Waiting", "PENDING", undefined, undefined],
        "2501": ["Running", "RUNNING", undefined, undefined],
        "2502": ["Running", "RUNNING", undefined, undefined]
      })
      assert.strictEqual(rows.find((r) => r.id === "2503")?.reason, "JobHeldUser")
      assert.strictEqual(rows.find((r) => r.id === "2501")?.reason, undefined)
    }))

  it.effect("squeue: cancelled and timed-out jobs never report 0", () =>
    Effect.gen(function*() {
      const rows = yield* parseSqueue(fixture("slurm-poll/squeue-poll-final.txt"))
      assert.deepStrictEqual(summary(rows.map((row) => slurmInfo(row))), {
        "2502": ["Done", "CANCELLED", 143, 15],
        // cancelled while held: it never ran, so there is no exit code at all
        "2503": ["Done", "CANCELLED", undefined, undefined],
        "2505": ["Done", "COMPLETED", 0, undefined],
        "2504": ["Done", "FAILED", 3, undefined],
        "2506": ["Done", "FAILED", 137, 9],
        "2501": ["Done", "TIMEOUT", 143, 15]
      })
    }))

  it.effect("squeue: unknown ids are 'not listed', not an error", () =>
    Effect.gen(function*() {
      const one = result(1, fixture("slurm-poll/squeue-poll-unknown-one.txt"), fixture("slurm-poll/squeue-poll-unknown-one.stderr.txt"))
      assert.isTrue(isInvalidJobId(one))
      assert.deepStrictEqual(yield* parseSqueue(fixture("slurm-poll/squeue-poll-unknown-two.txt")), [])
      assert.deepStrictEqual((yield* parseSqueue(fixture("slurm-poll/squeue-poll-mixed.txt"))).map((r) => r.id), ["2504"])
      assert.isFalse(isInvalidJobId(result(1, "", "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n")))
      assert.strictEqual(yield* failureTag(parseSqueue("garbage without bars\n")), "ParseError")
    }))

  it.effect("sacct -X -P: history with code:signal; a killed job with 0:0 reports no code unless its marker has one", () =>
    Effect.gen(function*() {
      const rows = yield* parseSacct(fixture("slurm-poll/sacct-poll-final.txt"), { times: true })
      assert.deepStrictEqual(summary(rows.map((row) => slurmInfo(row))), {
        "2501": ["Done", "TIMEOUT", undefined, undefined],
        "2502": ["Done", "CANCELLED", undefined, undefined],
        "2503": ["Done", "CANCELLED", undefined, undefined],
        "2504": ["Done", "FAILED", 3, undefined],
        "2505": ["Done", "COMPLETED", 0, undefined],
        "2506": ["Done", "FAILED", 137, 9]
      })
      assert.strictEqual(rows.find((r) => r.id === "2502")?.reason, "by 1001")
      // the job script's TERM trap wrote 143 when Slurm stopped it at its time limit
      assert.strictEqual(slurmInfo(rows.find((r) => r.id === "2501")!, 143).exitCode, 143)
      // a marker saying 0 cannot make a killed job report 0
      assert.strictEqual(slurmInfo(rows.find((r) => r.id === "2502")!, 0).exitCode, undefined)
    }))

  it.effect("times: submit, start and end as Slurm reports them, in epoch seconds, only where they are facts", () =>
    Effect.gen(function*() {
      const at = (seconds: number) => new Date(seconds * 1000)
      const live = yield* parseSqueue(fixture("slurm-poll/squeue-poll-live.txt"))
      const info = (id: string) => slurmInfo(live.find((r) => r.id === id)!)
      // finished (still in slurmctld's memory): all three
      assert.deepStrictEqual(
        [info("2504").submitTime, info("2504").startTime, info("2504").endTime],
        [at(1795907665), at(1795907666), at(1795907666)]
      )
      // running: no end (squeue's EndTime is the time limit)
      assert.deepStrictEqual([info("2502").startTime, info("2502").endTime], [at(1795907664), undefined])
      // held: submitted, not started (N/A)
      assert.deepStrictEqual([info("2503").submitTime, info("2503").startTime], [at(1795907664), undefined])
      const history = yield* parseSacct(fixture("slurm-poll/sacct-poll-final.txt"), { times: true })
      const timedOut = slurmInfo(history.find((r) => r.id === "2501")!)
      assert.deepStrictEqual([timedOut.startTime, timedOut.endTime], [at(1795907664), at(1795907750)])
      // pending in accounting: start is a forecast, end "Unknown"
      const lagging = yield* parseSacct(fixture("slurm-poll/sacct-poll-live.txt"), { times: true })
      const pending = slurmInfo(lagging.find((r) => r.id === "2501")!)
      assert.deepStrictEqual([pending.status, pending.startTime, pending.endTime], ["Waiting", undefined, undefined])
      // the old formats carry no times
      const old = yield* parseSacct(fixture("slurm/sacct-final.txt"))
      assert.isUndefined(slurmInfo(old[0]!).submitTime)
    }))

  it.effect("sacct from the other capture (Reason%40 padding, pending rows)", () =>
    Effect.gen(function*() {
      const final = yield* parseSacct(fixture("slurm/sacct-final.txt"))
      assert.deepStrictEqual(final.map((r) => [r.id, r.state, r.code, r.signal]), [
        ["15", "TIMEOUT", 0, 0],
        ["16", "CANCELLED", 0, 0],
        ["17", "COMPLETED", 0, 0],
        ["18", "CANCELLED", 0, 0],
        ["19", "CANCELLED", 0, 0],
        ["20", "FAILED", 3, 0],
        ["21", "COMPLETED", 0, 0]
      ])
      const live = yield* parseSacct(fixture("slurm/sacct-running-pending.txt"))
      assert.deepStrictEqual(live.map((r) => slurmStatus(r.state)), ["Running", "Running", "Waiting", "Waiting", "Waiting"])
      assert.deepStrictEqual(yield* parseSacct(""), [])
      assert.isTrue(isAccountingDisabled(result(1, "", "Slurm accounting storage is disabled\n")))
    }))

  it("state mapping: unknown and transitional states are never 'Done'", () => {
    assert.strictEqual(slurmStatus("REQUEUED"), "Waiting")
    assert.strictEqual(slurmStatus("REQUEUE_HOLD"), "Waiting")
    assert.strictEqual(slurmStatus("CONFIGURING"), "Waiting")
    assert.strictEqual(slurmStatus("COMPLETING"), "Running")
    assert.strictEqual(slurmStatus("STOPPED"), "Running")
    assert.strictEqual(slurmStatus("SOME_FUTURE_STATE"), "Running")
    for (const state of ["BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT"]) {
      assert.strictEqual(slurmStatus(state), "Done", state)
    }
  })
})

describe("Torque (real, recorded from Torque's documented formats: fixtures/torque)", () => {
  it.effect("qsub prints id.server", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* parseQsub(result(0, fixture("torque/qsub.txt"))), "1234.torque-head")
      assert.strictEqual(yield* parseQsub(result(0, fixture("torque-wrappers/qsub.txt"))), "24")
      const failed = yield* Effect.flip(parseQsub(result(1, "There was an error running the Slurm sbatch command.\n")))
      assert.strictEqual(failed.reason._tag, "SubmitFailed")
      assert.include(failed.message, "error running the Slurm sbatch command")
    }))

  it.effect("qstat -x XML: state and exit_status", () =>
    Effect.gen(function*() {
      const rows = yield* parseQstatXml(fixture("torque/qstat-x-two-jobs.xml"))
      assert.deepStrictEqual(summary(rows.map((row) => torqueInfo(row))), {
        "1233.torque-head": ["Done", "C", 3, undefined],
        "1234.torque-head": ["Running", "R", undefined, undefined]
      })
      assert.deepStrictEqual((yield* parseQstatXml(fixture("torque/qstat-x-completed.xml"))).map((r) => r.exitStatus), [3])
      assert.deepStrictEqual(yield* parseQstatXml(""), [])
      assert.deepStrictEqual(yield* parseQstatXml("<?xml version=\"1.0\"?>\n<Data></Data>\n"), [])
      assert.strictEqual(yield* failureTag(parseQstatXml("qstat: garbage")), "ParseError")
      const escaped = yield* parseQstatXml(
        "<Data><Job><Job_Id>9.s</Job_Id><job_state>C</job_state><comment>a &amp; b &lt;c&gt;</comment></Job></Data>"
      )
      assert.strictEqual(escaped[0]?.comment, "a & b <c>")
    }))

  it.effect("qstat -f text: fields, continuation lines, exit_status", () =>
    Effect.gen(function*() {
      const done = yield* parseQstatFull(fixture("torque/qstat-f-completed.txt"))
      assert.deepStrictEqual(done.map((r) => [r.id, r.state, r.exitStatus]), [["1233.torque-head", "C", 3]])
      const running = yield* parseQstatFull(fixture("torque/qstat-f-running.txt"))
      assert.deepStrictEqual(running.map((r) => [r.id, r.state, r.exitStatus]), [["1234.torque-head", "R", undefined]])
    }))

  it("exit_status: 256 + signal means killed; negative means Torque could not run the job", () => {
    const row = { id: "1.s", state: "C", comment: undefined }
    assert.deepStrictEqual(torqueInfo({ ...row, exitStatus: 271 }).exitCode, 143)
    assert.deepStrictEqual(torqueInfo({ ...row, exitStatus: 271 }).signal, 15)
    assert.deepStrictEqual(torqueInfo({ ...row, exitStatus: 0 }).exitCode, 0)
    const special = torqueInfo({ ...row, exitStatus: -11 })
    assert.strictEqual(special.exitCode, undefined)
    assert.include(special.reason ?? "", "exit_status -11")
    assert.strictEqual(torqueInfo({ ...row, exitStatus: -11 }, 143).exitCode, 143)
  })

  it("states: held and moving jobs wait; C, F, X are done; unknown letters are not done", () => {
    assert.deepStrictEqual(["Q", "W", "H", "T"].map(torqueStatus), ["Waiting", "Waiting", "Waiting", "Waiting"])
    assert.deepStrictEqual(["R", "E", "S", "B", "U"].map(torqueStatus), ["Running", "Running", "Running", "Running", "Running"])
    assert.deepStrictEqual(["C", "F", "X"].map(torqueStatus), ["Done", "Done", "Done"])
  })

  it("unknown ids", () => {
    assert.isTrue(isUnknownJobs(result(153, "", fixture("torque/qstat-unknown-job.stderr.txt")), 153))
    assert.isTrue(isUnknownJobs(result(35, "", fixture("pbspro/qstat-f-F-json-finished-without-x.stderr.txt")), 35))
    assert.isFalse(isUnknownJobs(result(1, "", "Problem loading jobs.\n"), 255))
  })
})

describe("PBS Pro qstat -f -F json (fixtures/pbspro)", () => {
  it.effect("job_state and Exit_status, decoded with a Schema", () =>
    Effect.gen(function*() {
      const two = yield* parsePbsJson(fixture("pbspro/qstat-x-f-F-json-two-jobs.json"))
      assert.deepStrictEqual(summary(two.map((row) => torqueInfo(row))), {
        "2000.pbs-head": ["Done", "F", 3, undefined],
        "2001.pbs-head": ["Running", "R", undefined, undefined]
      })
      const running = yield* parsePbsJson(fixture("pbspro/qstat-f-F-json-running.json"))
      assert.strictEqual(running[0]?.comment, "Job run at Sat Nov 28 at 17:31 on (node01:ncpus=1)")
      assert.strictEqual(yield* failureTag(parsePbsJson("{\"Jobs\": {\"1.s\": {\"job_state\": 5}}}")), "ParseError")
      assert.strictEqual(yield* failureTag(parsePbsJson("{ not json")), "ParseError")
      assert.deepStrictEqual(yield* parsePbsJson("{\"timestamp\":1,\"pbs_version\":\"23\",\"pbs_server\":\"s\"}"), [])
    }))

  it.effect("qstat --version tells the flavours apart", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* parseVersion(result(0, "pbs_version = 23.06.06\n")), "pbspro")
      assert.strictEqual(yield* parseVersion(result(0, "Version: 6.1.3\nCommit: 7f9b1c2\n")), "torque")
      assert.strictEqual(
        yield* parseVersion(result(2, "", fixture("slurm-poll/qstat-version-wrappers.stderr.txt"))),
        "minimal"
      )
      assert.strictEqual(yield* failureTag(parseVersion(result(127, "", "bash: qstat: command not found\n"))), "Unavailable")
    }))
})

describe("Torque wrappers (slurm-wlm-torque, recorded on this testbed)", () => {
  it.effect("qstat -f: state only, no exit status (the exit marker fills it in)", () =>
    Effect.gen(function*() {
      const running = yield* parseQstatFull(fixture("torque-wrappers/qstat-f-running.txt"))
      assert.deepStrictEqual(running.map((r) => [r.id, r.state]), [["16", "R"]])
      const queued = yield* parseQstatFull(fixture("torque-wrappers/qstat-f-queued.txt"))
      assert.deepStrictEqual(queued.map((r) => torqueStatus(r.state)), ["Waiting"])
      const failed = yield* parseQstatFull(fixture("torque-wrappers/qstat-f-finished-failed.txt"))
      assert.deepStrictEqual(summary(failed.map((row) => torqueInfo(row))), { "20": ["Done", "C", undefined, undefined] })
      assert.deepStrictEqual(summary(failed.map((row) => torqueInfo(row, 3))), { "20": ["Done", "C", 3, undefined] })
      assert.deepStrictEqual(yield* parseQstatFull(fixture("torque-wrappers/qstat-unknown-job.txt")), [])
    }))
})

describe("exit-code rules", () => {
  it("a signal wins; a killed job never reports 0", () => {
    assert.deepStrictEqual(finalExit({ code: 0, signal: 9, killed: false }), { exitCode: 137, signal: 9 })
    assert.deepStrictEqual(finalExit({ code: 0, signal: 0, killed: true }), { exitCode: undefined, signal: undefined })
    assert.deepStrictEqual(finalExit({ code: 0, signal: 0, marker: 143, killed: true }), { exitCode: 143, signal: undefined })
    assert.deepStrictEqual(finalExit({ code: 2, signal: 0, killed: true }), { exitCode: 2, signal: undefined })
    assert.deepStrictEqual(finalExit({ code: undefined, marker: 4, killed: false }), { exitCode: 4, signal: undefined })
  })
})

describe("DirectGnu status lines", () => {
  it.effect("parses id|STATE|code|submitted|started|ended, times in epoch seconds where known", () =>
    Effect.gen(function*() {
      const rows = yield* parseStatus(
        "job-a|RUNNING||1795907664|1795907665|\njob-b|FAILED|5|1795907664|1795907665|1795907670\njob-c|LOST||1795907664||\n" +
          "job-d|UNKNOWN||||\n"
      )
      assert.deepStrictEqual(rows.map((r) => [r.id, r.state, r.code, r.submitted, r.started, r.ended]), [
        ["job-a", "RUNNING", undefined, 1795907664, 1795907665, undefined],
        ["job-b", "FAILED", 5, 1795907664, 1795907665, 1795907670],
        ["job-c", "LOST", undefined, 1795907664, undefined, undefined],
        ["job-d", "UNKNOWN", undefined, undefined, undefined, undefined]
      ])
      const running = directGnuInfo(rows[0]!)
      assert.deepStrictEqual([running.startTime, running.endTime], [new Date(1795907665000), undefined])
      assert.deepStrictEqual(directGnuInfo(rows[1]!).endTime, new Date(1795907670000))
      // the lines of an older status script, without times
      const old = yield* parseStatus("job-a|RUNNING|\njob-b|FAILED|5\n")
      assert.deepStrictEqual(old.map((r) => [r.id, r.state, r.code, r.submitted]), [
        ["job-a", "RUNNING", undefined, undefined],
        ["job-b", "FAILED", 5, undefined]
      ])
      assert.strictEqual(yield* failureTag(parseStatus("nonsense")), "ParseError")
    }))
})
