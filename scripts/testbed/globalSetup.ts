/**
 * Vitest globalSetup: makes sure the integration testbed (scripts/testbed/up.sh) runs before any
 * test file, then points `CERULEAN_TESTBED_ENV` at its env file (read by
 * `@cerulean/testing/Testbed`). The testbed is left running at teardown; `down.sh` stops it.
 *
 * - `CERULEAN_TESTBED=off`: does nothing (unit tests only; vitest.config.ts then also leaves the
 *   `*.integration.test.ts` files out).
 * - as root: runs `bash scripts/testbed/up.sh` (a no-op taking < 1 s when everything already runs);
 *   if it fails the whole run fails — nothing is skipped, with or without CI.
 * - not root: the testbed must already be up (`status.sh` exits 0), else the run fails with a hint.
 *
 * @since 0.1.0
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const scriptsDir = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(scriptsDir, "..", "..")

const offHint = "To run only the unit tests without the testbed: CERULEAN_TESTBED=off npm run test:unit"

/**
 * Brings the testbed up (or checks that it is up) and exports `CERULEAN_TESTBED_ENV`.
 *
 * @since 0.1.0
 * @category testbed
 */
export default function setup(): void {
  if (process.env.CERULEAN_TESTBED === "off") return

  const stateDir = process.env.CERULEAN_TESTBED_DIR ?? path.join(repoRoot, ".testbed")
  const envFile = path.join(stateDir, "testbed.env")
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0

  if (isRoot) {
    const result = spawnSync("bash", [path.join(scriptsDir, "up.sh")], {
      cwd: repoRoot,
      env: process.env,
      stdio: ["ignore", 2, 2],
      timeout: 15 * 60 * 1000,
      killSignal: "SIGTERM"
    })
    if (result.error !== undefined) {
      throw new Error(`scripts/testbed/up.sh could not run: ${result.error.message}. ${offHint}`)
    }
    if (result.status !== 0) {
      const how = result.signal !== null ? `killed by ${result.signal}` : `exit code ${String(result.status)}`
      throw new Error(`scripts/testbed/up.sh failed (${how}); its output is above. ${offHint}`)
    }
  } else {
    const status = spawnSync("bash", [path.join(scriptsDir, "status.sh")], {
      cwd: repoRoot,
      env: process.env,
      stdio: ["ignore", 2, 2],
      timeout: 60_000
    })
    if (status.status !== 0 || !existsSync(envFile)) {
      throw new Error(
        "The integration testbed is not running and only root can start it. Run the tests as root, " +
          `or start it once as root (sudo bash scripts/testbed/up.sh), or set CERULEAN_TESTBED=off. ${offHint}`
      )
    }
  }

  if (!existsSync(envFile)) {
    throw new Error(`scripts/testbed/up.sh succeeded but ${envFile} is missing`)
  }
  process.env.CERULEAN_TESTBED_ENV = envFile
}
