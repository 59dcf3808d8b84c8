import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { GiB, MiB } from '../../src/hw/address.js'
import { pcMemoryMap } from '../../src/hw/memory.js'
import { Random } from '../../src/hw/random.js'
import { FrameDatabase, type FramePolicy } from '../../src/kernel/frames.js'
import { Clock } from '../../src/hw/clock.js'
import { FRAGMENTATION_STEPS, FRAGMENTATION_STEP_NS, Fragmenter, fragmentBound } from '../../src/kernel/fragmentation.js'
import { createMachine } from '../../src/index.js'

const FOUR_GIB_PFN = (4 * GiB) / 4096
const HOLE_START_PFN = 0xc000_0000 / 4096

function db(size = 8 * GiB, policy: FramePolicy = 'high-first', seed = 1): FrameDatabase {
  return new FrameDatabase(pcMemoryMap(size), policy, new Random(seed, 'frames'))
}

describe('PFN database', () => {
  it('knows the RAM it has: the MMIO hole and the tail do not exist', () => {
    const f = db()
    expect(f.totalFrames).toBe((8 * GiB) / 4096)
    expect(f.freeFrames).toBe(f.totalFrames)
    expect(f.isFreeFrame(HOLE_START_PFN - 1)).toBe(true)
    expect(f.isFreeFrame(HOLE_START_PFN)).toBe(false)
    expect(f.isFreeFrame(FOUR_GIB_PFN - 1)).toBe(false)
    expect(f.isFreeFrame(FOUR_GIB_PFN)).toBe(true)
    expect(f.isFreeFrame(f.topFrame)).toBe(false)
  })

  it('records what kind of memory each frame is and which allocation owns it', () => {
    const f = db()
    const pool = f.newOwner('pool', "pool 'Test'", true)
    const pfn = f.allocate(pool)
    expect(f.ownerOf(pfn)).toBe(pool)
    expect(f.ownerOf(pfn)?.kind).toBe('pool')
    f.free(pfn)
    expect(f.ownerOf(pfn)).toBeUndefined()
    expect(f.freedOwnerOf(pfn)).toBe(pool)
    expect(() => f.free(pfn)).toThrow(/not allocated/)
  })

  it('high-first hands out frames above 4 GiB before any below', () => {
    const f = db(4 * GiB + 64 * MiB) // 3 GiB low, 1 GiB + 64 MiB high
    const owner = f.newOwner('pool', 'x', true)
    const highFrames = f.totalFrames - HOLE_START_PFN
    const got: number[] = []
    for (let i = 0; i < highFrames; i++) got.push(f.allocate(owner))
    expect(got.every((p) => p >= FOUR_GIB_PFN)).toBe(true)
    expect(new Set(got).size).toBe(highFrames)
    expect(f.allocate(owner)).toBeLessThan(HOLE_START_PFN) // only now does low memory go
  })

  it('low-first starts at the bottom; a range limit is honoured by every policy', () => {
    for (const policy of ['high-first', 'low-first', 'random'] as const) {
      const f = db(8 * GiB, policy)
      const owner = f.newOwner('mdl-pages', 'x', true)
      for (let i = 0; i < 200; i++) {
        const p = f.allocate(owner, { lowest: 0x1000, highest: FOUR_GIB_PFN - 1 })
        expect(p).toBeGreaterThanOrEqual(0x1000)
        expect(p).toBeLessThan(HOLE_START_PFN)
      }
    }
    const low = db(8 * GiB, 'low-first')
    expect(low.allocate(low.newOwner('pool', 'x', true))).toBe(0)
  })

  it('1,000 random contiguous requests honour lowest, highest and boundary and never share a frame', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<FramePolicy>('high-first', 'low-first', 'random'),
        fc.array(
          fc.record({
            count: fc.integer({ min: 1, max: 300 }),
            lowest: fc.integer({ min: 0, max: 3 * 262_144 }),
            span: fc.integer({ min: 0, max: 2_500_000 }),
            boundaryLog: fc.integer({ min: 0, max: 12 }),
            free: fc.boolean(),
          }),
          { minLength: 1000, maxLength: 1000 },
        ),
        (policy, requests) => {
          const f = db(8 * GiB, policy, 7)
          const owned = new Map<number, number>() // pfn -> request index
          const live: Array<[number, number]> = []
          requests.forEach((r, i) => {
            const boundary = r.boundaryLog === 0 ? 0 : 2 ** r.boundaryLog
            const highest = r.lowest + r.span
            const start = f.allocateRun(r.count, f.newOwner('contiguous', `r${i}`, true), { lowest: r.lowest, highest, boundary })
            if (start < 0) return
            expect(start).toBeGreaterThanOrEqual(r.lowest)
            expect(start + r.count - 1).toBeLessThanOrEqual(highest)
            if (boundary > 0) expect(Math.floor(start / boundary)).toBe(Math.floor((start + r.count - 1) / boundary))
            for (let p = start; p < start + r.count; p++) {
              expect(owned.has(p)).toBe(false)
              expect(p < HOLE_START_PFN || p >= FOUR_GIB_PFN).toBe(true)
              owned.set(p, i)
            }
            live.push([start, r.count])
            if (r.free && live.length > 3) {
              const [s, n] = live.splice(0, 1)[0]!
              f.freeRun(s, n)
              for (let p = s; p < s + n; p++) owned.delete(p)
            }
          })
          expect(f.freeFrames).toBe(f.totalFrames - owned.size)
        },
      ),
      { seed: 42, numRuns: 3 },
    )
  })

  it('freeing returns frames: allocate everything in a range, free it, allocate it again', () => {
    const f = db(64 * MiB, 'high-first')
    const owner = f.newOwner('pool', 'x', true)
    const all = f.allocateMany(f.totalFrames, owner)!
    expect(all).toHaveLength(f.totalFrames)
    expect(f.freeFrames).toBe(0)
    expect(f.allocate(owner)).toBe(-1)
    for (const p of all) f.free(p)
    expect(f.freeFrames).toBe(f.totalFrames)
    expect(f.allocateRun(f.totalFrames, owner)).toBe(0)
  })

  it('allocateMany is all-or-nothing unless a partial result is asked for', () => {
    const f = db(64 * MiB)
    const owner = f.newOwner('mdl-pages', 'x', true)
    expect(f.allocateMany(100, owner, { highest: 49 })).toBeNull()
    expect(f.freeFrames).toBe(f.totalFrames)
    expect(f.allocateMany(100, owner, { highest: 49 }, true)).toHaveLength(50)
  })

  it('two databases with the same seed make the same allocation sequence; another seed differs', () => {
    const run = (seed: number) => {
      const f = db(8 * GiB, 'random', seed)
      f.allocationLog = []
      const owner = f.newOwner('pool', 'x', true)
      for (let i = 0; i < 300; i++) {
        if (i % 7 === 0) f.allocateRun(1 + (i % 50), owner, { boundary: 64 })
        else f.allocate(owner, i % 3 === 0 ? { highest: FOUR_GIB_PFN - 1 } : {})
      }
      return f.allocationLog
    }
    expect(run(5)).toEqual(run(5))
    expect(run(5)).not.toEqual(run(6))
  })

  it('machines with the same seed allocate the same frames', () => {
    const seq = (seed: number) => {
      const m = createMachine({ seed, memory: { policy: 'random', fragmentation: 0.3 } })
      m.kernel.fragmenter.completeNow()
      const owner = m.kernel.frames.newOwner('pool', 'x', true)
      return Array.from({ length: 50 }, () => m.kernel.frames.allocate(owner))
    }
    expect(seq(11)).toEqual(seq(11))
    expect(seq(11)).not.toEqual(seq(12))
  })
})

describe('fragmentation as the system runs', () => {
  it('S06 a 4 MiB contiguous request that succeeds at boot fails once the system has run a while at fragmentation 0.5', () => {
    const m = createMachine({ memory: { fragmentation: 0.5 } })
    const frames = m.kernel.frames
    const owner = frames.newOwner('contiguous', 'probe', true)
    const atBoot = frames.allocateRun(1024, owner)
    expect(atBoot).toBeGreaterThanOrEqual(0)
    frames.freeRun(atBoot, 1024)

    m.kernel.enterRuntime()
    const largest: number[] = []
    for (let i = 0; i < FRAGMENTATION_STEPS; i++) {
      m.run({ ns: FRAGMENTATION_STEP_NS })
      largest.push(frames.largestFreeRun())
    }
    // The longer it runs, the shorter the longest free run (never longer than before).
    for (let i = 1; i < largest.length; i++) expect(largest[i]!).toBeLessThanOrEqual(largest[i - 1]!)
    expect(largest.at(-1)).toBeLessThanOrEqual(fragmentBound(0.5))
    expect(frames.allocateRun(1024, owner)).toBe(-1)
    expect(frames.allocateRun(1024, owner, { highest: FOUR_GIB_PFN - 1 })).toBe(-1)
  })

  it('S07 after a large contiguous request fails, smaller blocks (64 KiB) still succeed', () => {
    const m = createMachine({ memory: { fragmentation: 0.5 } })
    m.kernel.enterRuntime()
    m.runUntilIdle()
    expect(m.kernel.fragmenter.finished).toBe(true)
    const frames = m.kernel.frames
    const owner = frames.newOwner('contiguous', 'rings', true)
    expect(frames.allocateRun(1024, owner, { highest: FOUR_GIB_PFN - 1 })).toBe(-1)
    // The fallback a driver makes: sixty-four 64 KiB blocks instead of one 4 MiB block.
    const blocks = Array.from({ length: 64 }, () => frames.allocateRun(16, owner, { highest: FOUR_GIB_PFN - 1 }))
    expect(blocks.every((b) => b >= 0)).toBe(true)
  })

  it('fragmentation is seeded: the same seed leaves the same holes', () => {
    const holes = (seed: number) => {
      const f = db(GiB, 'high-first', 1)
      const frag = new Fragmenter(f, new Clock(), new Random(seed, 'fragmentation'), 0.7)
      frag.completeNow()
      const runs: number[] = []
      f.forEachFreeRun(0, f.topFrame - 1, (s, e) => {
        if (runs.length < 200) runs.push(s, e)
        return false
      })
      return runs
    }
    expect(holes(3)).toEqual(holes(3))
    expect(holes(3)).not.toEqual(holes(4))
  })

  it('level 0 leaves memory alone; level 1 still leaves 64 KiB runs', () => {
    expect(fragmentBound(0)).toBe(Infinity)
    expect(fragmentBound(1)).toBe(16)
    const m = createMachine({ memory: { size: '1GiB', fragmentation: 1 } })
    m.kernel.fragmenter.completeNow()
    expect(m.kernel.frames.largestFreeRun()).toBeLessThanOrEqual(16)
    expect(m.kernel.frames.largestFreeRun()).toBeGreaterThanOrEqual(12)
  })
})
