// `npm run test:browser`: the real-browser check of the HTML report (test/browser/), apart from
// `npm test`, which must not need Chromium.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/browser/**/*.browser.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
})
