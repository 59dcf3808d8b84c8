import { describe, expect, it } from 'vitest'
import { loadMiniport } from '../../src/scenario.js'
import { sweep } from '../../src/sweep.js'

describe('e1000 under systematic fault injection', () => {
  it('handles every allocation call of init + traffic + halt failing (sweep, all workers)', async () => {
    const e1000 = await loadMiniport('e1000')
    const r = await sweep(e1000, { config: {}, scenario: { packets: 20, size: 600, rx: 2 }, jobs: 2 })
    expect(r.baseline).toBe('clean')
    expect(r.calls).toBeGreaterThan(500) // 256 MDLs and NBLs, rings, tables, one S/G list per frame
    const notHandled = r.runs.filter((x) => x.outcome !== 'handled').map((x) => `${x.replay}: ${x.outcome} ${x.findings[0]?.kind ?? ''} ${x.findings[0]?.message ?? ''}`)
    expect(notHandled).toEqual([])
    expect(new Set(r.runs.map((x) => x.routine))).toEqual(
      new Set(['NdisAllocateMemoryWithTagPriority', 'NdisAllocateNetBufferListPool', 'NdisMRegisterScatterGatherDma', 'NdisMAllocateSharedMemory', 'NdisMMapIoSpace', 'NdisAllocateMdl', 'NdisAllocateNetBufferAndNetBufferList', 'NdisMAllocateNetBufferSGList']),
    )
  })

  it('handles every unique call stack failing (stack mode), as Driver Verifier would find them', async () => {
    const e1000 = await loadMiniport('e1000')
    const r = await sweep(e1000, { config: { iommu: true }, scenario: { packets: 20, size: 600, rx: 0 }, jobs: 1, mode: 'stack' })
    expect(r.runs.length).toBeLessThan(r.calls)
    expect(r.summary.handled).toBe(r.runs.length)
    for (const run of r.runs) expect(run.stack!.length).toBeGreaterThan(0)
  })
})
