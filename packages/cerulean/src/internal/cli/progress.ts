/**
 * What `cerulean cp` shows while it copies: a one-line progress bar on a
 * terminal (bytes done of total, rate, ETA, current file) and JSON lines for
 * scripts. Everything here is pure: the caller passes the time.
 */

/** The progress figures the bar needs (a `CopyProgress` has them all). */
export interface Figures {
  readonly phase: "Started" | "Copying" | "Done"
  readonly bytesDone: number
  readonly bytesTotal: number
  readonly filesDone: number
  readonly filesTotal: number
  readonly skipped: number
  readonly currentPath: string
}

const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const

/** `1536` → `"1.5 KiB"`; three significant digits, binary units. */
export const formatBytes = (bytes: number): string => {
  if (!Number.isFinite(bytes) || bytes < 0) return "?"
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  if (unit === 0) return `${Math.round(value)} B`
  const text = value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)
  return `${text} ${units[unit]}`
}

/** Seconds as `m:ss` or `h:mm:ss`; `"--:--"` when unknown. */
export const formatDuration = (seconds: number | undefined): string => {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "--:--"
  const total = Math.round(seconds)
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  const two = (n: number) => n.toString().padStart(2, "0")
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`
}

/** Average bytes per second since the start; `undefined` before any time has passed. */
export const rate = (bytesDone: number, elapsedMs: number): number | undefined =>
  elapsedMs > 0 ? (bytesDone * 1000) / elapsedMs : undefined

/** Bytes done at a moment (milliseconds since the start). */
export interface Sample {
  readonly t: number
  readonly bytes: number
}

/**
 * Bytes per second over the last `windowMs` of samples (in time order), so
 * the rate and the ETA follow the link as it is now rather than averaging in
 * a fast start or a stall long past; `undefined` until two samples are
 * apart in time.
 */
export const windowRate = (samples: ReadonlyArray<Sample>, windowMs = 3000): number | undefined => {
  const last = samples.at(-1)
  if (last === undefined) return undefined
  const first = samples.find((s) => s.t >= last.t - windowMs) ?? last
  const from = first === last ? samples.at(-2) : first
  if (from === undefined || last.t <= from.t) return undefined
  return ((last.bytes - from.bytes) * 1000) / (last.t - from.t)
}

/** Seconds left at the current rate; `undefined` while the rate is unknown or zero. */
export const eta = (figures: Figures, bytesPerSecond: number | undefined): number | undefined => {
  if (figures.phase === "Done") return 0
  if (bytesPerSecond === undefined || bytesPerSecond <= 0) return undefined
  return Math.max(0, figures.bytesTotal - figures.bytesDone) / bytesPerSecond
}

const fraction = (figures: Figures): number => {
  if (figures.bytesTotal <= 0) return figures.phase === "Done" ? 1 : 0
  return Math.min(1, Math.max(0, figures.bytesDone / figures.bytesTotal))
}

/** Shortens `text` to `width` columns, keeping its end (the file name) behind an ellipsis. */
export const truncateStart = (text: string, width: number): string => {
  if (width <= 0) return ""
  const chars = Array.from(text)
  if (chars.length <= width) return text
  if (width === 1) return "…"
  return "…" + chars.slice(chars.length - width + 1).join("")
}

const baseName = (path: string): string => {
  const trimmed = path.replace(/\/+$/, "")
  const i = trimmed.lastIndexOf("/")
  return i < 0 ? trimmed : trimmed.slice(i + 1) || "/"
}

/**
 * One line of the progress bar, at most `columns` wide:
 *
 * ```
 *  42% [########>...........]  4.20 MiB / 10.0 MiB  1.05 MiB/s  ETA 0:05  data.bin
 * ```
 *
 * `speed` is the current rate in bytes per second (see {@link windowRate}).
 * The bar shrinks (and then the file name goes) on narrow terminals; the
 * figures a person needs (percentage, bytes, rate, ETA) stay.
 */
export const renderBar = (figures: Figures, speed: number | undefined, columns: number): string => {
  const f = fraction(figures)
  const percent = `${Math.floor(f * 100).toString().padStart(3)}%`
  const bytes = `${formatBytes(figures.bytesDone)} / ${formatBytes(figures.bytesTotal)}`
  const speedText = speed === undefined ? "--- B/s" : `${formatBytes(speed)}/s`
  const etaText = `ETA ${formatDuration(eta(figures, speed))}`
  const files = figures.filesTotal > 1 ? `  ${figures.filesDone}/${figures.filesTotal} files` : ""
  const figuresText = `${bytes}  ${speedText}  ${etaText}${files}`
  const name = baseName(figures.currentPath)
  const fixed = percent.length + 1 + 2 + 2 + figuresText.length
  const room = Math.max(0, columns - 1) - fixed
  // Bar first, up to 30 cells, at least 10; then the file name with what is left.
  const barWidth = Math.max(0, Math.min(30, room - 2 - Math.min(name.length, 20)))
  const cells = Math.round(f * barWidth)
  const bar = barWidth >= 10
    ? ` [${"#".repeat(cells)}${cells < barWidth && figures.phase !== "Done" ? ">" : ""}${
      ".".repeat(Math.max(0, barWidth - cells - (cells < barWidth && figures.phase !== "Done" ? 1 : 0)))
    }]`
    : ""
  const line = `${percent}${bar}  ${figuresText}`
  const nameRoom = Math.max(0, columns - 1) - line.length - 2
  return nameRoom >= 4 ? `${line}  ${truncateStart(name, nameRoom)}` : line.slice(0, Math.max(0, columns - 1)).trimEnd()
}

/** The line `cp` ends with: what was copied, how much, how fast. */
export const renderSummary = (figures: Figures, elapsedMs: number, target: string): string => {
  const speed = rate(figures.bytesDone, elapsedMs)
  const files = `${figures.filesDone} file${figures.filesDone === 1 ? "" : "s"}`
  const skipped = figures.skipped > 0 ? `, ${figures.skipped} skipped` : ""
  const speedText = speed === undefined ? "" : `, ${formatBytes(speed)}/s`
  return `Copied ${files} (${formatBytes(figures.bytesDone)}${skipped}) to ${target} in ${
    (elapsedMs / 1000).toFixed(1)
  } s${speedText}`
}

/** The terminal control sequence that returns to the start of the line and clears it. */
export const clearLine = "\r\x1b[2K"

/** One JSON line for a progress element (`type: "progress"`) or the last one (`type: "done"`). */
export const jsonLine = (figures: Figures, elapsedMs: number, speed: number | undefined): string => {
  const left = eta(figures, speed)
  return JSON.stringify({
    type: figures.phase === "Done" ? "done" : "progress",
    phase: figures.phase,
    bytesDone: figures.bytesDone,
    bytesTotal: figures.bytesTotal,
    filesDone: figures.filesDone,
    filesTotal: figures.filesTotal,
    skipped: figures.skipped,
    currentPath: figures.currentPath,
    elapsedSeconds: Math.round(elapsedMs) / 1000,
    bytesPerSecond: speed === undefined ? null : Math.round(speed),
    etaSeconds: left === undefined ? null : Math.round(left * 10) / 10
  })
}
