/**
 * Runs the `cerulean` command on an argument list and returns the exit code:
 * the command's own (run, wait), 0 on success, or the code of the one-line
 * error report. Help goes to standard output; a usage error is one line on
 * standard error with exit code 2.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import { CliOutput, Command } from "effect/cli"
import { cerulean, subcommands } from "./commands.ts"
import * as Errors from "./errors.ts"
import { Output } from "./output.ts"

/** The version `--version` prints. */
export const version = "0.1.0"

/** The options before a `--` (after it, everything belongs to the remote command). */
const ownArgs = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const end = args.indexOf("--")
  return end < 0 ? args : args.slice(0, end)
}

/** Which subcommand the arguments name, for the error line (`cerulean cp: ...`). */
export const commandName = (args: ReadonlyArray<string>): string => {
  const found = ownArgs(args).find((a) => subcommands.includes(a))
  return found ?? ""
}

const prefix = (name: string) => (name === "" ? "cerulean" : `cerulean ${name}`)

const oneLine = (text: string) => text.replace(/\s*[\r\n]+\s*/g, " ").trim()

/** Help to standard output as usual; an invalid invocation as one line on standard error. */
const presenter = (output: typeof Output.Service): CliOutput.Presenter => {
  const formatter = CliOutput.defaultFormatter({ colors: false })
  return {
    present: (event) => {
      switch (event._tag) {
        case "Help":
          return output.out(formatter.formatHelpDoc(event.helpDoc) + "\n")
        case "Version":
          return output.out(formatter.formatVersion(event.name, event.version) + "\n")
        case "InvalidInvocation": {
          const command = event.commandPath.slice(1).join(" ")
          const messages = event.errors.map((e) => oneLine(e.message)).join("; ")
          return output.err(
            `${prefix(command)}: ${messages}; see '${event.commandPath.join(" ")} --help'\n`
          )
        }
      }
    }
  }
}

/**
 * Runs the command line `args` (without `node` and the script) and returns
 * the exit code. Never fails: every failure is printed as one line (and, with
 * `--verbose`, with its full cause).
 */
export const main = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const output = yield* Output
    const own = ownArgs(args)
    const verbose = own.includes("--verbose")
    const json = own.includes("--json")
    const name = commandName(args)
    const program = Command.runWith(cerulean, { version })(args).pipe(
      Effect.scoped,
      Effect.provide(CliOutput.layerPresenter(presenter(output))),
      Effect.provide(Logger.layer([Logger.withConsoleError(Logger.formatLogFmt)])),
      Effect.provideService(References.MinimumLogLevel, verbose ? "Debug" : "Warn")
    )
    const exit = yield* Effect.exit(program)
    if (Exit.isSuccess(exit)) return yield* output.exitCode
    // A usage error has been shown by the presenter already.
    const usage = Cause.findErrorOption(exit.cause)
    if (usage._tag === "Some" && isShowHelp(usage.value)) {
      return usage.value.errors.length > 0 ? Errors.usageExitCode : 0
    }
    const report = Errors.reportCause(name, exit.cause)
    if (verbose) yield* output.err(Errors.verboseText(exit.cause) + "\n")
    if (json) {
      yield* output.out(JSON.stringify({ type: "error", message: report.line, exitCode: report.exitCode }) + "\n")
    }
    yield* output.err(report.line + "\n")
    return report.exitCode
  })

const isShowHelp = (u: unknown): u is { readonly _tag: "ShowHelp"; readonly errors: ReadonlyArray<unknown> } =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "ShowHelp"
