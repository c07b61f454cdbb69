import { assert, describe, it } from "@effect/vitest"
import * as Progress from "../src/internal/cli/progress.ts"

const MiB = 1024 * 1024

const figures = (over: Partial<Progress.Figures> = {}): Progress.Figures => ({
  phase: "Copying",
  bytesDone: 4 * MiB,
  bytesTotal: 10 * MiB,
  filesDone: 0,
  filesTotal: 1,
  skipped: 0,
  currentPath: "/data/run-42/output.bin",
  ...over
})

describe("progress bar", () => {
  it("formats sizes and durations for people", () => {
    assert.strictEqual(Progress.formatBytes(0), "0 B")
    assert.strictEqual(Progress.formatBytes(1023), "1023 B")
    assert.strictEqual(Progress.formatBytes(1536), "1.50 KiB")
    assert.strictEqual(Progress.formatBytes(10 * MiB), "10.0 MiB")
    assert.strictEqual(Progress.formatBytes(123 * 1024 * MiB), "123 GiB")
    assert.strictEqual(Progress.formatDuration(5), "0:05")
    assert.strictEqual(Progress.formatDuration(125.4), "2:05")
    assert.strictEqual(Progress.formatDuration(3 * 3600 + 61), "3:01:01")
    assert.strictEqual(Progress.formatDuration(undefined), "--:--")
  })

  it("shows percentage, bytes done of total, rate, ETA and the file name", () => {
    // 4 MiB in 2 s: 2 MiB/s, 6 MiB left: 3 s.
    const line = Progress.renderBar(figures(), 2 * MiB, 100)
    assert.match(line, /^ 40% \[/)
    assert.include(line, "4.00 MiB / 10.0 MiB")
    assert.include(line, "2.00 MiB/s")
    assert.include(line, "ETA 0:03")
    assert.include(line, "output.bin")
    assert.isAtMost(line.length, 99)
    // The bar is 40% full.
    const bar = /\[([#>.]+)\]/.exec(line)![1]!
    const full = bar.split("").filter((c) => c === "#").length
    assert.closeTo(full / bar.length, 0.4, 0.05)
  })

  it("keeps the figures and drops the bar, then the name, on narrow terminals", () => {
    const narrow = Progress.renderBar(figures(), 2 * MiB, 60)
    assert.isAtMost(narrow.length, 59)
    assert.include(narrow, "40%")
    assert.include(narrow, "ETA 0:03")
    const tiny = Progress.renderBar(figures(), 2 * MiB, 30)
    assert.isAtMost(tiny.length, 29)
    assert.include(tiny, "40%")
  })

  it("knows no rate or ETA before time has passed, and is full when done", () => {
    const start = Progress.renderBar(figures({ phase: "Started", bytesDone: 0 }), undefined, 100)
    assert.include(start, "  0%")
    assert.include(start, "ETA --:--")
    const done = Progress.renderBar(figures({ phase: "Done", bytesDone: 10 * MiB, filesDone: 1 }), 2 * MiB, 100)
    assert.include(done, "100%")
    assert.include(done, "ETA 0:00")
    assert.notInclude(done, ">")
    assert.notInclude(done, ".]")
  })

  it("counts files for a tree copy, and keeps the end of a long name", () => {
    const line = Progress.renderBar(
      figures({ filesDone: 3, filesTotal: 12, currentPath: "/x/" + "a".repeat(80) + "-tail.dat" }),
      MiB,
      120
    )
    assert.include(line, "3/12 files")
    assert.include(line, "-tail.dat")
    assert.include(line, "…")
    assert.isAtMost(line.length, 119)
  })

  it("measures the rate over the last seconds, not since the start", () => {
    assert.isUndefined(Progress.windowRate([]))
    assert.isUndefined(Progress.windowRate([{ t: 0, bytes: 0 }]))
    // A fast first second (10 MiB) then 1 MiB/s: after 10 s the rate is the recent one.
    const samples = [{ t: 0, bytes: 0 }, { t: 1000, bytes: 10 * MiB }]
    for (let t = 2000; t <= 10_000; t += 1000) samples.push({ t, bytes: 10 * MiB + ((t - 1000) / 1000) * MiB })
    assert.closeTo(Progress.windowRate(samples)!, MiB, 1)
    assert.closeTo(Progress.windowRate(samples.slice(0, 2))!, 10 * MiB, 1)
  })

  it("ends with a summary line and writes JSON lines for scripts", () => {
    const done = figures({ phase: "Done", bytesDone: 10 * MiB, filesDone: 2, filesTotal: 2, skipped: 1 })
    assert.strictEqual(
      Progress.renderSummary(done, 4000, "sftp://h/x"),
      "Copied 2 files (10.0 MiB, 1 skipped) to sftp://h/x in 4.0 s, 2.50 MiB/s"
    )
    const json = JSON.parse(Progress.jsonLine(figures(), 2000, 2 * MiB))
    assert.strictEqual(json.type, "progress")
    assert.strictEqual(json.bytesDone, 4 * MiB)
    assert.strictEqual(json.bytesTotal, 10 * MiB)
    assert.strictEqual(json.bytesPerSecond, 2 * MiB)
    assert.strictEqual(json.etaSeconds, 3)
    assert.strictEqual(JSON.parse(Progress.jsonLine(done, 4000, undefined)).type, "done")
  })
})
