import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/helpers/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Process-level swarm tests are heavy on a 2-core machine: one file at a time.
    fileParallelism: false,
  },
})
