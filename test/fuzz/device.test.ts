// CI's device fuzz (issue 9): seeded and bounded — at least 20,000 device operations, the same
// every run. `npm run fuzz` runs the same properties longer, from other seeds.
import { describe, expect, it } from 'vitest'
import { deviceTarget, runBatch } from './runner.js'

/** Operations CI runs at least. */
const MINIMUM_OPS = 20_000
const RUNS_PER_SEED = 100
const FIRST_SEED = 9_000_001

describe('device fuzz (CI: seeded, bounded)', () => {
  it(`register, configuration, descriptor, wire and IOMMU sequences keep every invariant (${MINIMUM_OPS}+ operations)`, () => {
    let ops = 0
    let runs = 0
    for (let seed = FIRST_SEED; ops < MINIMUM_OPS && seed < FIRST_SEED + 100; seed++) {
      const r = runBatch(deviceTarget, seed, RUNS_PER_SEED)
      const c = r.counterexample
      expect(c, c === null ? '' : `device seed ${c.seed} path ${c.path} (replay: npm run fuzz -- --target device --replay ${c.seed}:${c.path})\n${c.message}\ninput: ${c.input}`).toBeNull()
      ops += r.ops
      runs += r.runs
    }
    expect(ops).toBeGreaterThanOrEqual(MINIMUM_OPS)
    expect(runs).toBeGreaterThan(0)
  })
})
