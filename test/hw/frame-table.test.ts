import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { FrameTable } from '../../src/hw/frame-table.js'

describe('the frame table (frame → slot of sparse memory)', () => {
  it('hands out slots in the order frames are first written and finds each again', () => {
    const t = new FrameTable(4096)
    expect([t.add(10), t.add(11), t.add(12), t.add(700), t.add(5)]).toEqual([0, 1, 2, 3, 4])
    expect([10, 11, 12, 700, 5].map((f) => t.slotOf(f))).toEqual([0, 1, 2, 3, 4])
    expect([9, 13, 699, 701, 4, 6].map((f) => t.slotOf(f))).toEqual([-1, -1, -1, -1, -1, -1])
    expect(t.size).toBe(5)
  })

  it('keeps a run through a frame added out of order in its 1 MiB, and takes frames outside its range', () => {
    const t = new FrameTable(512) // frames 512 and up are outside
    for (let f = 0; f < 100; f++) t.add(f) // one run
    t.add(300) // a run in the second 1 MiB
    t.add(50 + 150) // out of order in the first: a leaf holding the run
    t.add(600)
    t.add(-1)
    for (let f = 0; f < 100; f++) expect(t.slotOf(f)).toBe(f)
    expect([t.slotOf(300), t.slotOf(200), t.slotOf(600), t.slotOf(-1)]).toEqual([100, 101, 102, 103])
    expect([t.slotOf(100), t.slotOf(301), t.slotOf(601), t.slotOf(-2)]).toEqual([-1, -1, -1, -1])
  })

  it('agrees with a Map whatever the order of first writes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -2, max: 1100 }), { maxLength: 400 }), (frames) => {
        const t = new FrameTable(1024)
        const expected = new Map<number, number>()
        for (const f of frames) {
          if (t.slotOf(f) >= 0) continue
          expected.set(f, t.add(f))
        }
        for (let f = -2; f <= 1100; f++) expect(t.slotOf(f)).toBe(expected.get(f) ?? -1)
        expect(t.size).toBe(expected.size)
      }),
      { seed: 5, numRuns: 100 },
    )
  })
})
