#!/usr/bin/env node
/**
 * The `cerulean` command: copy files between local, SFTP and WebDAV places,
 * run commands here or over SSH, and submit, watch and cancel batch jobs.
 * `cerulean --help` lists the subcommands; docs/cli.md describes them.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { Prompt } from "effect/cli"
import { CliEnvironment } from "../internal/cli/commands.ts"
import { processEnvironment } from "../internal/cli/connect.ts"
import { CliFailure, interruptedExitCode } from "../internal/cli/errors.ts"
import { main } from "../internal/cli/main.ts"
import * as Output from "../internal/cli/output.ts"

const askPassword = (message: string) =>
  Prompt.run(Prompt.Password({ message })).pipe(
    Effect.map((secret) => Redacted.make(String(Redacted.value(secret)))),
    Effect.catchTag(
      "QuitError",
      () => Effect.fail(new CliFailure({ what: "password prompt cancelled", exitCode: interruptedExitCode }))
    ),
    Effect.provide(NodeServices.layer)
  )

const layer = Layer.mergeAll(
  Output.layerProcess,
  Layer.succeed(CliEnvironment, processEnvironment(askPassword)),
  NodeServices.layer
)

main(process.argv.slice(2)).pipe(
  Effect.provide(layer),
  Effect.scoped,
  NodeRuntime.runMain({
    disableErrorReporting: true,
    // `main` never fails: it returns the exit code; only an interruption ends it otherwise.
    teardown: (exit, onExit) =>
      onExit(Exit.isSuccess(exit) && typeof exit.value === "number" ? exit.value : interruptedExitCode)
  })
)
