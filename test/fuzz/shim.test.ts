// CI's shim fuzz (issue 9): seeded and bounded — at least 20,000 driver calls into the kernel,
// HAL DMA and NDIS shims, the same every run. `npm run fuzz` runs it longer, from other seeds.
import { describe, expect, it } from 'vitest'
import { runBatch, shimTarget } from './runner.js'

/** Driver calls CI makes at least. */
const MINIMUM_CALLS = 20_000
const RUNS_PER_SEED = 100
const FIRST_SEED = 7_000_001

describe('shim fuzz (CI: seeded, bounded)', () => {
  it(`driver call sequences from inside the miniport's handlers, in log and crash mode, keep every invariant (${MINIMUM_CALLS}+ calls)`, () => {
    let calls = 0
    for (let seed = FIRST_SEED; calls < MINIMUM_CALLS && seed < FIRST_SEED + 200; seed++) {
      const r = runBatch(shimTarget, seed, RUNS_PER_SEED)
      const c = r.counterexample
      expect(c, c === null ? '' : `shim seed ${c.seed} path ${c.path} (replay: npm run fuzz -- --target shim --replay ${c.seed}:${c.path})\n${c.message}\ninput: ${c.input}`).toBeNull()
      calls += r.ops
    }
    expect(calls).toBeGreaterThanOrEqual(MINIMUM_CALLS)
    // About 25 s on an idle 2-core machine; several times that when the cores are shared. The
    // bound is the call count above, not the time, so the time-out only guards against a hang.
  }, 300_000)
})
