import { LocalTerminal } from "@cerulean/core"
import { TerminalContract } from "@cerulean/testing"

TerminalContract.run("LocalTerminal", LocalTerminal.layer)
