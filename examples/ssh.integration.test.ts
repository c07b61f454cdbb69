// Runs examples/ssh.ts as a user would (`node examples/ssh.ts HOST:PORT`) against the testbed's OpenSSH sshd,
// and checks what it prints.
import * as Testbed from "@cerulean/testing/Testbed"
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as NodePath from "node:path"

const tb = Testbed.load()

describe("examples/ssh.ts", () => {
  it("runs commands, many at once, times one out, opens SFTP, reports an unknown host key", () => {
    const script = NodePath.join(import.meta.dirname, "ssh.ts")
    const output = execFileSync(process.execPath, [script, `${tb.sshHost}:${tb.sshPort}`], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, CERULEAN_USER: tb.user, CERULEAN_KEY: tb.keyEd25519, CERULEAN_KNOWN_HOSTS: tb.knownHosts }
    })
    const fingerprint = execFileSync("ssh-keygen", ["-l", "-f", `${tb.dir}/etc/hostkeys/ssh_host_ed25519_key.pub`], {
      encoding: "utf8"
    }).split(" ")[1]
    assert.include(output, `${tb.user}@${tb.sshHost}:${tb.sshPort}: ${tb.user} on ${tb.hostname}`)
    assert.include(output, "<two words>\n<$(not run)>")
    const took = Number(/30 commands of 0.2 s each took ([\d.]+) s, all exit 0: true/.exec(output)?.[1])
    assert.isBelow(took, 3, output)
    assert.include(output, "Timeout, output so far: working")
    assert.match(output, /home directory has \d+ entries \(over SFTP\)/)
    assert.match(output, new RegExp(`refused: ssh-ed25519 key ${fingerprint!.replace(/[+/]/g, "\\$&")} is not in /`))
  })
})
