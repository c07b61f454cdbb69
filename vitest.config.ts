import { defineConfig } from "vitest/config"

// CERULEAN_TESTBED=off runs the unit tests alone: integration tests (*.integration.test.ts) need the
// real servers of scripts/testbed and are then left out of the run (not skipped inside it).
const testbed = process.env.CERULEAN_TESTBED !== "off"

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/**/*.test.ts"],
    exclude: testbed ? ["**/node_modules/**"] : ["**/node_modules/**", "**/*.integration.test.ts"],
    setupFiles: ["./vitest.setup.ts"],
    globalSetup: testbed ? ["./scripts/testbed/globalSetup.ts"] : [],
    testTimeout: 60_000,
    hookTimeout: 180_000
  }
})
