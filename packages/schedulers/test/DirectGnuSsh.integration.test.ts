/**
 * DirectGnuScheduler on a remote machine: the Scheduler contract over SshTerminal (OpenSSH).
 */
import { PubKeyCredential } from "@cerulean/core"
import { SshTerminal } from "@cerulean/ssh"
import { SchedulerContract } from "@cerulean/testing"
import * as Testbed from "@cerulean/testing/Testbed"
import { DirectGnuScheduler } from "../src/DirectGnuScheduler.ts"

const tb = Testbed.load()

SchedulerContract.run(
  "DirectGnuScheduler over SshTerminal",
  SshTerminal.layer({
    host: tb.sshHost,
    port: tb.sshPort,
    knownHosts: tb.knownHosts,
    credential: new PubKeyCredential({ username: tb.user, publicKey: tb.keyEd25519 })
  }),
  (config) =>
    DirectGnuScheduler.layer({
      ...config,
      polling: { firstCheck: "200 millis", minInterval: "250 millis", maxInterval: "2 seconds" }
    }),
  { timeLimitBudget: "30 seconds", concurrent: true }
)
