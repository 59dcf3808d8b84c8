// Runs before every test file: every finding any test records must carry a bug check the
// kinds table (src/kernel/kinds.ts) lists for its kind, so the table (and the README built
// from it) cannot drift from what the code reports.
import { afterEach, expect } from 'vitest'
import { onUndeclaredBugCheck } from '../../src/kernel/findings.js'

const undeclared: string[] = []
onUndeclaredBugCheck((f) => undeclared.push(`${f.kind}: 0x${(f.code ?? 0).toString(16)} (0x${(f.params?.[0] ?? 0).toString(16)}) — ${f.message}`))

afterEach(() => {
  const seen = undeclared.splice(0)
  expect(seen, 'findings whose bug check src/kernel/kinds.ts does not list for their kind').toEqual([])
})
