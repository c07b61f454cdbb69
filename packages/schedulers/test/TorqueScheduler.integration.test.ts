/**
 * TorqueScheduler against the testbed's Torque-style commands (slurm-wlm-torque: qsub/qstat/qdel
 * wrappers over Slurm) over SSH: the Scheduler contract. These wrappers have no `qstat -x` and no
 * exit status, so this also shows the "minimal" flavour with exit codes from the job's marker file.
 * Real Torque's XML and PBS Pro's JSON are covered by the parser tests on recorded output.
 */
import { PubKeyCredential } from "@cerulean/core"
import { SshTerminal } from "@cerulean/ssh"
import { SchedulerContract } from "@cerulean/testing"
import * as Testbed from "@cerulean/testing/Testbed"
import { TorqueScheduler } from "../src/TorqueScheduler.ts"

const tb = Testbed.load()

SchedulerContract.run(
  "TorqueScheduler over SshTerminal (slurm-wlm-torque wrappers)",
  SshTerminal.layer({
    host: tb.sshHost,
    port: tb.sshPort,
    knownHosts: tb.knownHosts,
    credential: new PubKeyCredential({ username: tb.user, publicKey: tb.keyEd25519 })
  }),
  (config) =>
    TorqueScheduler.layer({
      ...config,
      polling: { firstCheck: "300 millis", minInterval: "500 millis", maxInterval: "5 seconds" }
    }),
  { queueName: "batch", twoNodeQueue: "batch", timeLimitBudget: "150 seconds", concurrent: true }
)
