// The run report: DESIGN's `--json` keys are a contract, and the same configuration, seed and
// miniport give the same report, byte for byte.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../src/index.js'
import { testMiniport } from './support/test-miniport.js'

function run(iommu: boolean): string {
  const m = createMachine({ wire: 'loopback', iommu, memory: { policy: 'random', fragmentation: 0.5 }, seed: 7 })
  m.load(testMiniport({ rings: 'contiguous-physical' }), 'report')
  m.traffic.send({ count: 40, size: 700 })
  m.traffic.receive({ count: 3, size: 100 })
  m.halt()
  return JSON.stringify(m.report())
}

describe('the run report', () => {
  it('has every key DESIGN\'s --json schema names', () => {
    const m = createMachine({ wire: 'loopback', faults: 'routine=NdisAllocateMemoryWithTag,nth=1' })
    m.load(testMiniport({ hooks: { initialize: (a) => void a.ndis.NdisAllocateMemoryWithTag(8, 'tluF') } }), 'keys')
    m.traffic.send({ count: 2, size: 100 })
    m.halt()
    const r = m.report()
    expect(Object.keys(r)).toEqual(expect.arrayContaining(['miniport', 'config', 'outcome', 'init', 'bugcheck', 'findings', 'traffic', 'pool', 'dma', 'faults']))
    expect(r.miniport).toBe('keys')
    expect(Object.keys(r.init).sort()).toEqual(['code', 'status'])
    expect(r.bugcheck).toBeNull()
    expect(r.traffic).toMatchObject({ txFrames: 2, rxFrames: 2, dropped: expect.any(Object) })
    expect(r.pool.byTag['TmpR']).toEqual(expect.objectContaining({ allocs: expect.any(Number), frees: expect.any(Number), bytesOutstanding: expect.any(Number) }))
    expect(r.dma).toMatchObject({ commonBuffers: expect.any(Array), bounceBytes: expect.any(Number), iommuFaults: [] })
    expect(r.faults.injected).toEqual([expect.objectContaining({ routine: 'NdisAllocateMemoryWithTag', tag: 'Fult', size: 8, site: expect.stringMatching(/^test\/report\.test\.ts:\d+$/), call: expect.any(Number), replay: 'routine=NdisAllocateMemoryWithTag,nth=1' })])
  })

  it('is byte-identical for the same configuration, seed and miniport, IOMMU off and on', () => {
    expect(run(false)).toBe(run(false))
    expect(run(true)).toBe(run(true))
  })
})
