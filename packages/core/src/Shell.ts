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
 * included. Safe words are left bare for readable logs.
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
  value !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) && !value.startsWith("-")
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
  readonly workdir?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
}

/**
 * Builds the shell text that runs `command` (shell text, used as given) with
 * each of `args` quoted as one literal word, after exporting `env` and
 * changing to `workdir`. If the directory change fails, the command does not
 * run and the line exits non-zero. Environment names must already be valid
 * (see {@link isValidEnvName}).
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
  if (options.workdir !== undefined) parts.push(`cd -- ${quote(options.workdir)} || exit 1`)
  const call = [command, ...args.map(quote)].join(" ")
  parts.push(call)
  return parts.join("\n")
}
