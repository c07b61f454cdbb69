// Smoke test of the integration testbed (scripts/testbed/up.sh): one test per server, through the
// stock command-line clients (ssh, sftp, curl, ss), so a failure here points at the testbed and not
// at Cerulean code. Nothing is skipped: without a testbed load() throws and every test fails.
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { load } from "../src/Testbed.ts"

const tb = load()
const unique = `tb-${process.pid}-${Date.now()}`

// strict host key checking against the testbed's known_hosts: proves that file is right
// (ssh takes the first value of an option, so the file is a parameter, not a later -o)
const sshOptions = (knownHosts: string = tb.knownHosts): Array<string> => [
  "-o", "BatchMode=yes",
  "-o", `UserKnownHostsFile=${knownHosts}`,
  "-o", "GlobalKnownHostsFile=/dev/null",
  "-o", "StrictHostKeyChecking=yes",
  "-o", "IdentitiesOnly=yes",
  "-o", "ConnectTimeout=10",
  "-i", tb.keyEd25519
]

const ssh = (command: string, input?: string): string =>
  execFileSync("ssh", [...sshOptions(), "-p", String(tb.sshPort), `${tb.user}@${tb.sshHost}`, command], {
    encoding: "utf8",
    timeout: 30_000,
    ...(input === undefined ? {} : { input })
  })

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// poll `probe` every 500 ms until it returns a value, at most `timeoutMs`
const poll = async <A>(timeoutMs: number, probe: () => A | undefined): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await sleep(500)
  }
}

const tmpDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "cerulean-testbed-"))

describe("testbed", () => {
  it("env file describes the testbed", () => {
    expect(Object.isFrozen(tb)).toBe(true)
    expect(tb.sshPort).toBe(2222)
    expect(tb.sshLimitedPort).toBe(2224)
    expect(tb.dropbearPort).toBe(2223)
    expect(tb.slurm && tb.torque).toBe(true)
    const keys = [tb.keyRsa, tb.keyRsaPem, tb.keyRsaPemPass, tb.keyRsaPass, tb.keyEd25519, tb.keyEd25519Pass]
    for (const key of [...keys, tb.keyEcdsa, tb.keyEcdsaPass]) {
      expect(fs.existsSync(key), key).toBe(true)
    }
  })

  it("sshd :2222 runs a command, key auth, strict host key checking", () => {
    expect(ssh("whoami; echo $HOME").split("\n").slice(0, 2)).toEqual([tb.user, tb.userHome])
    // the same over the other two servers and with the hashed known_hosts
    for (const port of [tb.sshLimitedPort, tb.dropbearPort]) {
      const out = execFileSync("ssh", [...sshOptions(), "-p", String(port), `${tb.user}@${tb.sshHost}`, "echo ok"], {
        encoding: "utf8",
        timeout: 30_000
      })
      expect(out).toBe("ok\n")
    }
    const hashed = execFileSync(
      "ssh",
      [...sshOptions(tb.knownHostsHashed), "-p", String(tb.sshPort), `${tb.user}@localhost`, "echo ok"],
      { encoding: "utf8", timeout: 30_000 }
    )
    expect(hashed).toBe("ok\n")
  })

  it("sftp round trip (put, get, compare bytes)", () => {
    const dir = tmpDir()
    try {
      const local = path.join(dir, "up.bin")
      const back = path.join(dir, "down.bin")
      const data = randomBytes(256 * 1024 + 17)
      fs.writeFileSync(local, data)
      const remote = `${tb.userHome}/${unique}.bin`
      const batch = path.join(dir, "batch")
      fs.writeFileSync(batch, `put ${local} ${remote}\nget ${remote} ${back}\nrm ${remote}\n`)
      execFileSync("sftp", [...sshOptions(), "-P", String(tb.sshPort), "-b", batch, `${tb.user}@${tb.sshHost}`], {
        timeout: 30_000,
        stdio: ["ignore", "pipe", "pipe"]
      })
      expect(fs.readFileSync(back).equals(data)).toBe(true)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("Slurm: a job's exit 3 shows in sacct as 3:0 FAILED", async () => {
    const script = `#!/bin/bash\n#SBATCH --job-name=${unique}\n#SBATCH --output=/dev/null\nexit 3\n`
    const jobId = ssh("sbatch --parsable", script).trim()
    expect(jobId).toMatch(/^\d+$/)
    const line = await poll(60_000, () => {
      const out = ssh(`sacct -j ${jobId} -X -n -P -o ExitCode,State`).trim()
      return out === "" || /PENDING|RUNNING|COMPLETING/.test(out) ? undefined : out
    })
    expect(line).toBe("3:0|FAILED")
  }, 90_000)

  it("Torque wrappers: qsub runs a job that writes a file", async () => {
    const out = `${tb.userHome}/${unique}.qsub.txt`
    const script = `#!/bin/bash\n#PBS -N ${unique}\n#PBS -q batch\necho "$PBS_QUEUE $PBS_JOBID" > ${out}\n`
    const jobId = ssh("qsub -o /dev/null -e /dev/null /dev/stdin", script).trim()
    expect(jobId).toMatch(/^\d+$/)
    const content = await poll(60_000, () => {
      const text = ssh(`cat ${out} 2>/dev/null || true`)
      return text === "" ? undefined : text
    })
    ssh(`rm -f ${out}`)
    expect(content).toBe(`batch ${jobId}\n`)
  }, 90_000)

  it("WebDAV over https: PUT then GET in the protected area, with the testbed CA", () => {
    const url = `${tb.webdavHttps}/protected_files/${unique}.txt`
    const body = `hello from ${unique}\n`
    const curl = (args: Array<string>, input?: string): string =>
      execFileSync("curl", ["-sS", "--cacert", tb.webdavCa, "-u", `${tb.user}:${tb.password}`, ...args], {
        encoding: "utf8",
        timeout: 30_000,
        ...(input === undefined ? {} : { input })
      })
    const linesBefore = fs.readFileSync(tb.webdavAccessLog, "utf8").split("\n").length
    expect(curl(["-o", "/dev/null", "-w", "%{http_code}", "-T", "-", url], body)).toBe("201")
    expect(curl([url])).toBe(body)
    // without credentials: 401
    const anonymous = execFileSync(
      "curl",
      ["-sS", "--cacert", tb.webdavCa, "-o", "/dev/null", "-w", "%{http_code}", url],
      { encoding: "utf8", timeout: 30_000 }
    )
    expect(anonymous).toBe("401")
    expect(curl(["-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", url])).toBe("204")
    // the access log has one line per request: PUT, GET, GET (401), DELETE
    const logged = fs.readFileSync(tb.webdavAccessLog, "utf8").split("\n").slice(linesBefore - 1)
      .filter((l) => l.includes(`/protected_files/${unique}.txt `))
      .map((l) => l.split(" ").slice(0, 2).join(" "))
    expect(logged).toEqual(["PUT 201", "GET 200", "GET 401", "DELETE 204"])
  })

  it("every testbed port listens on loopback only", () => {
    const ports = [2222, 2223, 2224, 6817, 6818, 6819, 6820, 8080, 8443]
    const listeners = execFileSync("ss", ["-Hltnp"], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => l.trim().split(/\s+/)[3] ?? "")
    for (const port of ports) {
      const addrs = listeners.filter((a) => a.endsWith(`:${port}`))
      expect(addrs.length, `port ${port} has a listener`).toBeGreaterThan(0)
      for (const addr of addrs) expect(addr, `port ${port}`).toMatch(/^(127\.0\.0\.1|\[::1\]):\d+$/)
    }
  })
})
