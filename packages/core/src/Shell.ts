/**
 * POSIX shell quoting: the one place where Cerulean turns values into shell
 * text. Terminals use it for arguments, working directories and environment
 * variables; schedulers use it for everything they put into a job script.
 *
 * @since 0.1.0
 */

/**
 * Quotes a string so that a POSIX shell reads it back as exactly one word,
 * verbatim: spaces, quotes, newlines, `$(...)`, globs and a leading dash
 * included. Safe words are left bare for readable logs and command lines
 * (`squeue -j 42`); that includes words with a leading dash, since quotes
 * would not stop a program from reading them as options anyway.
 *
 * @example
 * ```ts
 * import { Shell } from "@cerulean/core"
 * Shell.quote("it's $(here)") // => 'it'\''s $(here)'
 * ```
 *
 * @since 0.1.0
 * @category quoting
 */
export const quote = (value: string): string =>
  value !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(value)
    ? value
    : "'" + value.replaceAll("'", `'\\''`) + "'"

/**
 * Whether `name` can be used as an environment variable name in a POSIX shell.
 *
 * @since 0.1.0
 * @category guards
 */
export const isValidEnvName = (name: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)

/**
 * Options that shape a command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommandLineOptions {
  /** A directory path, or anything with a `path` (such as a `Path`). */
  readonly workdir?: string | { readonly path: string } | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
}

const workdirPath = (workdir: string | { readonly path: string }): string =>
  typeof workdir === "string" ? workdir : workdir.path

// A lone UTF-16 surrogate has no UTF-8 encoding: it would reach the process as U+FFFD, not as given.
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

const problemOf = (value: string): string | undefined =>
  value.includes("\0")
    ? "contains a NUL byte"
    : loneSurrogate.test(value)
    ? "is not well-formed Unicode (lone surrogate)"
    : undefined

/**
 * Why a terminal cannot run `command` with `args` and `options` exactly as
 * given, or `undefined` when it can. A terminal fails with an
 * `InvalidArgument` reason carrying this text instead of running anything:
 *
 * - an environment name that is not a shell name would be executed as shell text;
 * - a NUL byte cannot be carried by argv, the environment or a shell line at
 *   all (it would silently cut the value short);
 * - a lone UTF-16 surrogate has no UTF-8 encoding and would arrive altered.
 *
 * Text given as `stdin` is checked for lone surrogates too (NUL bytes are
 * fine there). The returned text names the offending part but never quotes a
 * value, so it is safe to log.
 *
 * @since 0.1.0
 * @category guards
 */
export const checkRun = (
  command: string,
  args: ReadonlyArray<string> = [],
  options: CommandLineOptions & { readonly stdin?: string | Uint8Array | undefined } = {}
): string | undefined => {
  const ofCommand = problemOf(command)
  if (ofCommand !== undefined) return `the command ${ofCommand}`
  for (let i = 0; i < args.length; i++) {
    const ofArg = problemOf(args[i])
    if (ofArg !== undefined) return `argument ${i + 1} ${ofArg}`
  }
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (!isValidEnvName(name)) return `invalid environment variable name ${JSON.stringify(name)}`
    const ofValue = problemOf(value)
    if (ofValue !== undefined) return `the value of environment variable ${name} ${ofValue}`
  }
  if (options.workdir !== undefined) {
    const ofWorkdir = problemOf(workdirPath(options.workdir))
    if (ofWorkdir !== undefined) return `the working directory ${ofWorkdir}`
  }
  if (typeof options.stdin === "string" && loneSurrogate.test(options.stdin)) {
    return "the stdin text is not well-formed Unicode (lone surrogate)"
  }
  return undefined
}

/**
 * Builds the shell text that runs `command` (shell text, used as given) with
 * each of `args` quoted as one literal word, after exporting `env` and
 * changing to `workdir`. If the directory change fails, the command does not
 * run and the line exits non-zero. The inputs must already have passed
 * {@link checkRun}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const commandLine = (
  command: string,
  args: ReadonlyArray<string> = [],
  options: CommandLineOptions = {}
): string => {
  const parts: Array<string> = []
  for (const [name, value] of Object.entries(options.env ?? {})) {
    parts.push(`export ${name}=${quote(value)}`)
  }
  if (options.workdir !== undefined) parts.push(`cd -- ${quote(workdirPath(options.workdir))} || exit 1`)
  const call = [command, ...args.map(quote)].join(" ")
  parts.push(call)
  return parts.join("\n")
}
