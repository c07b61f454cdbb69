/**
 * Where the integration testbed of this repository runs and how to reach it: SSH ports, users,
 * private key files, known_hosts files, WebDAV URLs and their server-side directories, Slurm and
 * Torque availability. `scripts/testbed/up.sh` writes all of it to `testbed.env` (one
 * `KEY=VALUE` per line); {@link load} reads that file synchronously.
 *
 * The file is found through `CERULEAN_TESTBED_ENV` (set by `scripts/testbed/globalSetup.ts`),
 * else `$CERULEAN_TESTBED_DIR/testbed.env`, else `<repo>/.testbed/testbed.env`, where `<repo>`
 * is the nearest folder above `process.cwd()` that holds `scripts/testbed`.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * Everything a test needs to reach the testbed. All paths are absolute; all ports are numbers.
 * `raw` holds every key of the env file, including ones added after this interface.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestbedInfo {
  /** The testbed state directory (`CERULEAN_TB_DIR`). */
  readonly dir: string
  /** The env file this object was read from. */
  readonly envFile: string
  /** Short host name of the machine = name of the first Slurm node (`CERULEAN_TB_HOSTNAME`). */
  readonly hostname: string
  /** Address of all SSH servers, `127.0.0.1` (`CERULEAN_TB_SSH_HOST`); `localhost` and `::1` work too. */
  readonly sshHost: string
  /** OpenSSH sshd with `MaxSessions 64` (`CERULEAN_TB_SSH_PORT`, 2222). */
  readonly sshPort: number
  /** Second OpenSSH sshd with the stock `MaxSessions 10` (`CERULEAN_TB_SSH_LIMITED_PORT`, 2224). */
  readonly sshLimitedPort: number
  /** `MaxSessions` of the sshd on {@link TestbedInfo.sshPort} (`CERULEAN_TB_SSH_MAX_SESSIONS`). */
  readonly sshMaxSessions: number
  /** `MaxSessions` of the sshd on {@link TestbedInfo.sshLimitedPort} (`CERULEAN_TB_SSH_LIMITED_MAX_SESSIONS`). */
  readonly sshLimitedMaxSessions: number
  /** dropbear, with SFTP (`CERULEAN_TB_DROPBEAR_PORT`, 2223). */
  readonly dropbearPort: number
  /** Password user, also accepts every test key; jobs run as this user (`CERULEAN_TB_USER`). */
  readonly user: string
  /** Password of {@link TestbedInfo.user} and of the protected WebDAV area (`CERULEAN_TB_PASSWORD`). */
  readonly password: string
  /** Numeric uid of {@link TestbedInfo.user} (`CERULEAN_TB_USER_UID`). */
  readonly userUid: number
  /** Numeric gid of {@link TestbedInfo.user} (`CERULEAN_TB_USER_GID`). */
  readonly userGid: number
  /** Home directory of {@link TestbedInfo.user} (`CERULEAN_TB_USER_HOME`). */
  readonly userHome: string
  /** Key-only user: password and keyboard-interactive are refused (`CERULEAN_TB_KEY_USER`). */
  readonly keyUser: string
  /** Passphrase of every `*_PASS` key (`CERULEAN_TB_KEY_PASSPHRASE`). */
  readonly keyPassphrase: string
  /** RSA 3072, OpenSSH format, no passphrase (`CERULEAN_TB_KEY_RSA`). */
  readonly keyRsa: string
  /** RSA 2048, PEM (`BEGIN RSA PRIVATE KEY`), no passphrase (`CERULEAN_TB_KEY_RSA_PEM`). */
  readonly keyRsaPem: string
  /** RSA 2048, encrypted PEM (`Proc-Type: 4,ENCRYPTED`) (`CERULEAN_TB_KEY_RSA_PEM_PASS`). */
  readonly keyRsaPemPass: string
  /** RSA 2048, OpenSSH format, with passphrase (`CERULEAN_TB_KEY_RSA_PASS`). */
  readonly keyRsaPass: string
  /** ed25519, no passphrase (`CERULEAN_TB_KEY_ED25519`). */
  readonly keyEd25519: string
  /** ed25519 with passphrase (`CERULEAN_TB_KEY_ED25519_PASS`). */
  readonly keyEd25519Pass: string
  /** ECDSA nistp256, no passphrase (`CERULEAN_TB_KEY_ECDSA`). */
  readonly keyEcdsa: string
  /** ECDSA nistp256 with passphrase (`CERULEAN_TB_KEY_ECDSA_PASS`). */
  readonly keyEcdsaPass: string
  /**
   * Host keys of all three SSH servers for `[127.0.0.1]`, `[localhost]`, `[::1]` and the host name
   * (`CERULEAN_TB_KNOWN_HOSTS`).
   */
  readonly knownHosts: string
  /** The same entries, hashed with `ssh-keygen -H` (`CERULEAN_TB_KNOWN_HOSTS_HASHED`). */
  readonly knownHostsHashed: string
  /** The same host names with different keys, for mismatch tests (`CERULEAN_TB_KNOWN_HOSTS_WRONG`). */
  readonly knownHostsWrong: string
  /** Pid file of the sshd on port 2222 (`CERULEAN_TB_SSHD_PID_FILE`). */
  readonly sshdPidFile: string
  /** Log (LogLevel VERBOSE) of the sshd on port 2222 (`CERULEAN_TB_SSHD_LOG`). */
  readonly sshdLog: string
  /** Pid file of the sshd on port 2224 (`CERULEAN_TB_SSHD_LIMITED_PID_FILE`). */
  readonly sshdLimitedPidFile: string
  /** Log of the sshd on port 2224 (`CERULEAN_TB_SSHD_LIMITED_LOG`). */
  readonly sshdLimitedLog: string
  /** Pid file of dropbear (`CERULEAN_TB_DROPBEAR_PID_FILE`). */
  readonly dropbearPidFile: string
  /** Log of dropbear (`CERULEAN_TB_DROPBEAR_LOG`). */
  readonly dropbearLog: string
  /** `http://127.0.0.1:8080`; areas `/files` and `/protected_files` (`CERULEAN_TB_WEBDAV_HTTP`). */
  readonly webdavHttp: string
  /** `https://localhost:8443`, certificate signed by {@link TestbedInfo.webdavCa} (`CERULEAN_TB_WEBDAV_HTTPS`). */
  readonly webdavHttps: string
  /** CA certificate (PEM) that signed the WebDAV server certificate (`CERULEAN_TB_WEBDAV_CA`). */
  readonly webdavCa: string
  /**
   * Apache access log, one line per request: `METHOD STATUS BYTES "REQUEST LINE" CLIENT USER PORT MICROSECONDS`
   * (`CERULEAN_TB_WEBDAV_ACCESS_LOG`).
   */
  readonly webdavAccessLog: string
  /** Server-side directory of `/files/` (`CERULEAN_TB_WEBDAV_FILES_DIR`). */
  readonly webdavFilesDir: string
  /** Server-side directory of `/protected_files/` (`CERULEAN_TB_WEBDAV_PROTECTED_DIR`). */
  readonly webdavProtectedDir: string
  /** Path of the fixture tree inside both WebDAV areas (`CERULEAN_TB_WEBDAV_TEST_FILES`). */
  readonly webdavTestFiles: string
  /** Cerulean's fixture tree on the SSH host and locally (`CERULEAN_TB_TEST_FILES`). */
  readonly testFiles: string
  /** A job script that never ends (`CERULEAN_TB_ENDLESS_JOB`). */
  readonly endlessJob: string
  /** Slurm (slurmctld, 2 slurmd, slurmdbd) runs (`CERULEAN_TB_SLURM`). */
  readonly slurm: boolean
  /** Slurm partitions, the default first (`CERULEAN_TB_SLURM_PARTITIONS`). */
  readonly slurmPartitions: ReadonlyArray<string>
  /** Default Slurm partition (`CERULEAN_TB_SLURM_DEFAULT_PARTITION`). */
  readonly slurmDefaultPartition: string
  /** Slurm node names (`CERULEAN_TB_SLURM_NODES`). */
  readonly slurmNodes: ReadonlyArray<string>
  /** Pid file of slurmctld (`CERULEAN_TB_SLURMCTLD_PID_FILE`); `scripts/testbed/slurmctld.sh` stops/starts it. */
  readonly slurmctldPidFile: string
  /** The slurm-wlm-torque wrappers (qsub/qstat/qdel) are installed (`CERULEAN_TB_TORQUE`). */
  readonly torque: boolean
  /** Every `KEY=VALUE` of the env file. */
  readonly raw: Readonly<Record<string, string>>
}

const notFoundHint =
  "Start the integration testbed (as root): bash scripts/testbed/up.sh — " +
  "or run only the unit tests: CERULEAN_TESTBED=off npm run test:unit"

const findRepoRoot = (from: string): string | undefined => {
  let dir = path.resolve(from)
  for (;;) {
    if (fs.existsSync(path.join(dir, "scripts", "testbed"))) return dir
    const parent = path.dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

const envFilePath = (): string => {
  const explicit = process.env.CERULEAN_TESTBED_ENV
  if (explicit !== undefined && explicit !== "") return explicit
  const stateDir = process.env.CERULEAN_TESTBED_DIR
  if (stateDir !== undefined && stateDir !== "") return path.join(stateDir, "testbed.env")
  const root = findRepoRoot(process.cwd())
  if (root === undefined) {
    throw new Error(
      `Cannot find the testbed env file: no folder above ${process.cwd()} holds scripts/testbed, ` +
        `and CERULEAN_TESTBED_ENV is not set. ${notFoundHint}`
    )
  }
  return path.join(root, ".testbed", "testbed.env")
}

const parse = (text: string): Record<string, string> => {
  const entries: Record<string, string> = {}
  for (const line of text.split("\n")) {
    const trimmed = line.trim()
    if (trimmed === "" || trimmed.startsWith("#")) continue
    const eq = trimmed.indexOf("=")
    if (eq <= 0) continue
    entries[trimmed.slice(0, eq)] = trimmed.slice(eq + 1)
  }
  return entries
}

/**
 * Reads the testbed env file written by `scripts/testbed/up.sh` and returns a frozen
 * {@link TestbedInfo}. Synchronous, so it can be called at module level of a test file.
 * Throws an `Error` naming the missing file or keys and how to start the testbed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const load = (): TestbedInfo => {
  const envFile = envFilePath()
  // Checked up front rather than caught: a missing file is the one expected failure here.
  if (!fs.existsSync(envFile)) throw new Error(`Testbed env file ${envFile} does not exist. ${notFoundHint}`)
  const text = fs.readFileSync(envFile, "utf8")
  const raw = Object.freeze(parse(text))
  const missing: Array<string> = []
  const str = (key: string): string => {
    const value = raw[key]
    if (value === undefined || value === "") {
      missing.push(key)
      return ""
    }
    return value
  }
  const num = (key: string): number => {
    const value = str(key)
    const n = Number(value)
    if (value !== "" && !Number.isInteger(n)) missing.push(`${key} (not an integer: ${value})`)
    return n
  }
  const list = (key: string): ReadonlyArray<string> => Object.freeze(str(key).split(",").filter((s) => s !== ""))

  const info: TestbedInfo = {
    dir: str("CERULEAN_TB_DIR"),
    envFile,
    hostname: str("CERULEAN_TB_HOSTNAME"),
    sshHost: str("CERULEAN_TB_SSH_HOST"),
    sshPort: num("CERULEAN_TB_SSH_PORT"),
    sshLimitedPort: num("CERULEAN_TB_SSH_LIMITED_PORT"),
    sshMaxSessions: num("CERULEAN_TB_SSH_MAX_SESSIONS"),
    sshLimitedMaxSessions: num("CERULEAN_TB_SSH_LIMITED_MAX_SESSIONS"),
    dropbearPort: num("CERULEAN_TB_DROPBEAR_PORT"),
    user: str("CERULEAN_TB_USER"),
    password: str("CERULEAN_TB_PASSWORD"),
    userUid: num("CERULEAN_TB_USER_UID"),
    userGid: num("CERULEAN_TB_USER_GID"),
    userHome: str("CERULEAN_TB_USER_HOME"),
    keyUser: str("CERULEAN_TB_KEY_USER"),
    keyPassphrase: str("CERULEAN_TB_KEY_PASSPHRASE"),
    keyRsa: str("CERULEAN_TB_KEY_RSA"),
    keyRsaPem: str("CERULEAN_TB_KEY_RSA_PEM"),
    keyRsaPemPass: str("CERULEAN_TB_KEY_RSA_PEM_PASS"),
    keyRsaPass: str("CERULEAN_TB_KEY_RSA_PASS"),
    keyEd25519: str("CERULEAN_TB_KEY_ED25519"),
    keyEd25519Pass: str("CERULEAN_TB_KEY_ED25519_PASS"),
    keyEcdsa: str("CERULEAN_TB_KEY_ECDSA"),
    keyEcdsaPass: str("CERULEAN_TB_KEY_ECDSA_PASS"),
    knownHosts: str("CERULEAN_TB_KNOWN_HOSTS"),
    knownHostsHashed: str("CERULEAN_TB_KNOWN_HOSTS_HASHED"),
    knownHostsWrong: str("CERULEAN_TB_KNOWN_HOSTS_WRONG"),
    sshdPidFile: str("CERULEAN_TB_SSHD_PID_FILE"),
    sshdLog: str("CERULEAN_TB_SSHD_LOG"),
    sshdLimitedPidFile: str("CERULEAN_TB_SSHD_LIMITED_PID_FILE"),
    sshdLimitedLog: str("CERULEAN_TB_SSHD_LIMITED_LOG"),
    dropbearPidFile: str("CERULEAN_TB_DROPBEAR_PID_FILE"),
    dropbearLog: str("CERULEAN_TB_DROPBEAR_LOG"),
    webdavHttp: str("CERULEAN_TB_WEBDAV_HTTP"),
    webdavHttps: str("CERULEAN_TB_WEBDAV_HTTPS"),
    webdavCa: str("CERULEAN_TB_WEBDAV_CA"),
    webdavAccessLog: str("CERULEAN_TB_WEBDAV_ACCESS_LOG"),
    webdavFilesDir: str("CERULEAN_TB_WEBDAV_FILES_DIR"),
    webdavProtectedDir: str("CERULEAN_TB_WEBDAV_PROTECTED_DIR"),
    webdavTestFiles: str("CERULEAN_TB_WEBDAV_TEST_FILES"),
    testFiles: str("CERULEAN_TB_TEST_FILES"),
    endlessJob: str("CERULEAN_TB_ENDLESS_JOB"),
    slurm: str("CERULEAN_TB_SLURM") === "1",
    slurmPartitions: list("CERULEAN_TB_SLURM_PARTITIONS"),
    slurmDefaultPartition: str("CERULEAN_TB_SLURM_DEFAULT_PARTITION"),
    slurmNodes: list("CERULEAN_TB_SLURM_NODES"),
    slurmctldPidFile: str("CERULEAN_TB_SLURMCTLD_PID_FILE"),
    torque: str("CERULEAN_TB_TORQUE") === "1",
    raw
  }
  if (missing.length > 0) {
    throw new Error(
      `Testbed env file ${envFile} lacks or has invalid keys: ${missing.join(", ")}. ` +
        `It was probably written by an older up.sh; run bash scripts/testbed/up.sh again.`
    )
  }
  return Object.freeze(info)
}
