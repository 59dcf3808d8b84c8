// The recorder behind --html keeps bounded memory however long the run: distinct S/G
// placements are capped and what was left out is counted; a placement mapped again is counted,
// not stored again; with no recorder attached the machine samples nothing.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../src/machine.js'
import { attachRecorder } from '../../src/report/recorder.js'
import { MAX_SG_PLACEMENTS } from '../../src/report/recording.js'
import type { AdapterState } from '../../src/dma/adapter.js'
import type { ObservedMapping } from '../../src/dma/observer.js'

/** An S/G list of one piece, as the DMA layer hands it to its observer. */
function list(pa: number, length: number): ObservedMapping {
  return { mapping: { ranges: [[pa, length]] }, bounced: [], routine: 'NdisMAllocateNetBufferSGList', site: undefined }
}
const adapter = { iommuOn: false } as unknown as AdapterState

describe('Recorder', () => {
  it('keeps at most MAX_SG_PLACEMENTS placements and counts the rest', () => {
    const m = createMachine({ memory: { size: '64MiB' } })
    const rec = attachRecorder(m)
    for (let i = 0; i < MAX_SG_PLACEMENTS + 250; i++) {
      const l = list(0x10_0000 + i * 0x1000, 1500)
      rec.mapped(adapter, l, [{ Address: l.mapping.ranges[0]![0], Length: l.mapping.ranges[0]![1] }])
      rec.unmapped(l)
    }
    const r = rec.finish()
    expect(r.memoryMap.buffers).toHaveLength(MAX_SG_PLACEMENTS)
    expect(r.memoryMap.omitted).toEqual({ 'sg-element': 250 })
    expect(r.memoryMap.buffers.every((b) => b.freed && b.mapped === 1)).toBe(true)
  })

  it('counts a placement mapped again rather than storing it twice; one still mapped at the end is not freed', () => {
    const m = createMachine({ memory: { size: '64MiB' } })
    const rec = attachRecorder(m)
    for (let i = 0; i < 5; i++) {
      const l = list(0x20_0000, 600)
      rec.mapped(adapter, l, [{ Address: l.mapping.ranges[0]![0], Length: l.mapping.ranges[0]![1] }])
      if (i < 4) rec.unmapped(l)
    }
    const [b] = rec.finish().memoryMap.buffers
    expect(b).toMatchObject({ kind: 'sg-element', mapped: 5, freed: false, frames: [[0x20_0000, 600]], state: 'reachable' })
  })

  it('nothing samples a machine no report asked to picture', () => {
    const m = createMachine({ memory: { size: '64MiB' } })
    expect(m.clock.sampleAt).toBe(Infinity)
    expect(m.hal.platform.observer).toBeUndefined()
    expect(m.report()).not.toHaveProperty('memoryMap')
  })
})
