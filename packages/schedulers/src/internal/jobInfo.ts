/**
 * Building `JobInfo` values and the exit-code rules shared by all schedulers.
 *
 * @since 0.1.0
 */
import { JobInfo } from "@cerulean/core"
import type { JobStatus } from "@cerulean/core"

/**
 * The fields of a `JobInfo` that matter for "did it change".
 *
 * @since 0.1.0
 * @category models
 */
export interface InfoFields {
  readonly id: string
  readonly status: JobStatus
  readonly state: string
  readonly reason?: string | undefined
  readonly exitCode?: number | undefined
  readonly signal?: number | undefined
  readonly submitTime?: Date | undefined
  readonly startTime?: Date | undefined
  readonly endTime?: Date | undefined
}

/**
 * The date of a time in seconds since the epoch (how schedulers report
 * times to this library), or nothing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEpochSeconds = (seconds: number | undefined): Date | undefined =>
  seconds === undefined ? undefined : new Date(seconds * 1000)

/**
 * Makes a `JobInfo`, leaving out absent fields.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeInfo = (fields: InfoFields): JobInfo =>
  new JobInfo({
    id: fields.id,
    status: fields.status,
    state: fields.state,
    ...(fields.reason === undefined || fields.reason === "" ? {} : { reason: fields.reason }),
    ...(fields.exitCode === undefined ? {} : { exitCode: fields.exitCode }),
    ...(fields.signal === undefined ? {} : { signal: fields.signal }),
    ...(fields.submitTime === undefined ? {} : { submitTime: fields.submitTime }),
    ...(fields.startTime === undefined ? {} : { startTime: fields.startTime }),
    ...(fields.endTime === undefined ? {} : { endTime: fields.endTime })
  })

/**
 * Whether two infos describe the same state of a job (times aside).
 *
 * @since 0.1.0
 * @category guards
 */
export const sameInfo = (a: JobInfo, b: JobInfo): boolean =>
  a.id === b.id && a.status === b.status && a.state === b.state && a.reason === b.reason &&
  a.exitCode === b.exitCode && a.signal === b.signal

/**
 * What the scheduler said about a finished job's exit, before the rules below.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExitReport {
  /** The exit code the scheduler reported, if any. */
  readonly code?: number | undefined
  /** The signal the scheduler reported, if any (0 = none). */
  readonly signal?: number | undefined
  /** The code the job script wrote to its marker file, if found. */
  readonly marker?: number | undefined
  /** The job was stopped by the scheduler or the user (cancel, time limit, preemption, node failure...). */
  readonly killed: boolean
}

/**
 * The exit code and signal of a finished job:
 *
 * 1. a signal from the scheduler gives `128 + signal`, as shells report it;
 * 2. otherwise the scheduler's code, then the marker's;
 * 3. a job that was killed never reports 0: a zero or missing code becomes the
 *    marker's code if that is non-zero, else unknown.
 *
 * @since 0.1.0
 * @category constructors
 */
export const finalExit = (
  report: ExitReport
): { readonly exitCode: number | undefined; readonly signal: number | undefined } => {
  if (report.signal !== undefined && report.signal > 0) {
    return { exitCode: 128 + report.signal, signal: report.signal }
  }
  const code = report.code ?? report.marker
  if (report.killed && (code === undefined || code === 0)) {
    return { exitCode: report.marker !== undefined && report.marker !== 0 ? report.marker : undefined, signal: undefined }
  }
  return { exitCode: code, signal: undefined }
}
