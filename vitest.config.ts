import { defineConfig } from "vitest/config"

// CERULEAN_TESTBED=off runs the unit tests alone: integration tests (*.integration.test.ts) need the
// real servers of scripts/testbed and are then left out of the run (not skipped inside it).
const testbed = process.env.CERULEAN_TESTBED !== "off"
const ignored = ["**/node_modules/**", "**/dist/**", ...(testbed ? [] : ["**/*.integration.test.ts"])]
// Tests that disturb the shared testbed (stopping slurmctld) run alone, after all the others.
const serial = "**/*.serial.integration.test.ts"

const shared = {
  setupFiles: ["./vitest.setup.ts"],
  testTimeout: 60_000,
  hookTimeout: 180_000
}

export default defineConfig({
  test: {
    globalSetup: testbed ? ["./scripts/testbed/globalSetup.ts"] : [],
    projects: [
      {
        test: {
          ...shared,
          name: "main",
          include: ["packages/*/test/**/*.test.ts", "examples/**/*.test.ts"],
          exclude: [...ignored, serial],
          // Most integration tests wait on servers, not on the CPU: three files at a time on 2 cores.
          maxWorkers: 3,
          // Not 0: vitest moves a group-0 project with one worker to the very end.
          sequence: { groupOrder: 1 }
        }
      },
      {
        test: {
          ...shared,
          name: "serial",
          include: testbed ? [serial] : [],
          exclude: ignored,
          passWithNoTests: true,
          sequence: { groupOrder: 2 },
          maxWorkers: 1
        }
      }
    ]
  }
})
