// The README's list of routines, structures and macros the C headers cover is the one written
// from the loader's routine table, the checked layouts and the headers themselves.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { cHeadersMarkdown } from '../../../src/driver/c/headers-doc.js'

describe('README: what the C headers cover', () => {
  it('is what cHeadersMarkdown() writes (refresh: see src/driver/c/headers-doc.ts)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
    const section = readme.split('<!-- c-headers:begin -->\n')[1]?.split('\n<!-- c-headers:end -->')[0]
    expect(section).toBe(cHeadersMarkdown())
  })
})
