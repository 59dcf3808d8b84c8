import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/setup.ts'],
    // Scenario tests run whole machines; the slowest take seconds, not milliseconds.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
