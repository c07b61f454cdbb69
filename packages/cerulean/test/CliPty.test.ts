/**
 * `cerulean cp` on a real pseudo-terminal (util-linux `script`), 100 columns
 * wide, copying a file with the reading speed limited so that the copy takes
 * a few seconds: replays what the terminal received the way a terminal draws
 * it and checks what a person sees while it runs and when it ends.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { ceruleanBin } from "./utils/child.ts"

/**
 * A minimal terminal: carriage return, "erase line" (ESC [ 2 K) and newline,
 * which is all `cp` sends. Returns the screen's lines after each write.
 */
class Screen {
  lines: Array<string> = [""]
  col = 0
  write(text: string) {
    let i = 0
    while (i < text.length) {
      if (text.startsWith("\x1b[2K", i)) {
        this.lines[this.lines.length - 1] = ""
        i += 4
        continue
      }
      const c = text[i]!
      if (c === "\r") this.col = 0
      else if (c === "\n") {
        this.lines.push("")
        this.col = 0
      } else {
        const line = this.lines[this.lines.length - 1]!.padEnd(this.col)
        this.lines[this.lines.length - 1] = line.slice(0, this.col) + c + line.slice(this.col + 1)
        this.col++
      }
      i++
    }
  }
  get text() {
    return this.lines.join("\n")
  }
}

const tempDir = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "cerulean-pty-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
)

const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`

/** Runs `command` in a 100x30 pseudo-terminal; returns the screens seen after each output chunk and the exit code. */
const inPty = (command: string) =>
  Effect.callback<{ readonly screens: ReadonlyArray<string>; readonly final: string; readonly exitCode: number }>(
    (resume) => {
      const screen = new Screen()
      const screens: Array<string> = []
      const child = ChildProcess.spawn("script", ["-qfec", `stty cols 100 rows 30; exec ${command}`, "/dev/null"], {
        stdio: ["pipe", "pipe", "inherit"]
      })
      child.stdout.setEncoding("utf8")
      child.stdout.on("data", (chunk: string) => {
        screen.write(chunk)
        screens.push(screen.text)
      })
      child.on("close", (code) => resume(Effect.succeed({ screens, final: screen.text, exitCode: code ?? -1 })))
      child.stdin.end()
      return Effect.sync(() => void child.kill("SIGKILL"))
    }
  )

describe("cerulean cp progress bar in a pseudo-terminal", () => {
  it.live("shows bytes, rate, ETA and the file while copying, then 100% and a summary", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const size = 6 * 1024 * 1024
      const data = NodeCrypto.randomBytes(size)
      const source = NodePath.join(dir, "big.bin")
      NodeFs.writeFileSync(source, data)
      const target = NodePath.join(dir, "copy.bin")
      const { exitCode, final, screens } = yield* inPty(
        [process.execPath, ceruleanBin, "cp", "--bwlimit", "2M", source, target].map(quote).join(" ")
      )
      assert.strictEqual(exitCode, 0, final)
      assert.isTrue(NodeFs.readFileSync(target).equals(data))

      // While it runs: one line, redrawn in place, with everything a person needs.
      const bar = /^ {0,2}(\d{1,3})% \[#*>\.*\]  ([\d.]+ (?:B|KiB|MiB)) \/ 6\.00 MiB  ([\d.]+ (?:B|KiB|MiB))\/s  ETA (\d+:\d\d)  big\.bin$/
      const midway = screens
        .map((s) => s.split("\n"))
        .filter((lines) => lines.length === 1)
        .map((lines) => bar.exec(lines[0]!))
        .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) >= 20 && Number(m[1]) <= 80)
      assert.isAbove(midway.length, 2, `no bar half-way through; screens:\n${screens.join("\n---\n")}`)
      for (const m of midway) {
        // The rate is about the limit (2 MiB/s), and the ETA is what is left at that rate.
        const rate = Number(m[3]!.split(" ")[0]) * (m[3]!.endsWith("MiB") ? 1024 * 1024 : m[3]!.endsWith("KiB") ? 1024 : 1)
        assert.isAbove(rate, 1 * 1024 * 1024, m[0])
        assert.isBelow(rate, 3 * 1024 * 1024, m[0])
        const [minutes, seconds] = m[4]!.split(":").map(Number)
        assert.isAtMost(minutes! * 60 + seconds!, 4, m[0])
      }
      assert.isTrue(screens.every((s) => s.split("\n")[0]!.length <= 99), "the bar fits the 100 columns")

      // At the end: the bar at 100% stays, and the summary follows on the next line.
      const lines = final.split("\n").filter((l) => l.trim() !== "")
      assert.strictEqual(lines.length, 2, final)
      assert.match(lines[0]!, /^100% \[#{10,}\]  6\.00 MiB \/ 6\.00 MiB  [\d.]+ (?:KiB|MiB)\/s  ETA 0:00  big\.bin$/)
      assert.match(lines[1]!, /^Copied 1 file \(6\.00 MiB\) to .*copy\.bin in [2-9]\.\d s, [\d.]+ (?:KiB|MiB)\/s$/)
    }), 60_000)
})
