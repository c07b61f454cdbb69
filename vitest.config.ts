import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/**/*.test.ts"],
    setupFiles: ["./vitest.setup.ts"],
    globalSetup: ["./scripts/testbed/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000
  }
})
