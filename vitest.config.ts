import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Starts the shared PostgreSQL servers (test/support/GlobalSetup.ts); tests read them with `servers()`.
    globalSetup: ["test/support/GlobalSetup.ts"],
    // One seed for every property test of the run (PROPERTY_SEED, else the UTC date): test/support/PropertySeed.ts.
    setupFiles: ["test/support/PropertySeed.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000
  }
})
