// examples/c/e1000, the NDIS 6 miniport in C: compiled to WebAssembly, its every load and store
// through the x86 machine's page tables, the NET_BUFFER_LISTs it sends and indicates in emulated
// memory in their 32-bit layouts. Clean in every configuration of `dmalab check`, and every
// allocation call of its sweep handled, as the TypeScript e1000 whose design it shares.
import { describe, expect, it } from 'vitest'
import { loadMiniport } from '../../src/scenario.js'
import { sweep } from '../../src/sweep.js'
import { MATRIX, matrixConfig, poolOutstanding, runExample } from './run.js'

const X86 = { arch: 'x86' } as const

describe('c/e1000', () => {
  it.each(MATRIX)('$label: every frame sent and received intact, no findings, nothing left allocated', async (c) => {
    const { report, loaded } = await runExample('c/e1000', { config: matrixConfig(c, X86), send: 60, receive: 5 })
    expect(loaded.state).toBe('running')
    expect(report.findings).toEqual([])
    expect(report.traffic.txFrames).toBe(60)
    expect(report.traffic.rxFrames).toBe(65)
    expect(poolOutstanding(report)).toBe(0)
    // The driver's own allocations, by the tags its C source gives them.
    expect(Object.keys(report.pool.byTag)).toEqual(expect.arrayContaining(['E1kA', 'E1kN', 'E1kS', 'E1kT', 'Mdl ']))
  })

  it('handles every allocation call of init + traffic + halt failing (sweep, worker threads), each named at its C line', async () => {
    const e1000 = await loadMiniport('c/e1000')
    const r = await sweep(e1000, { config: X86, scenario: { packets: 20, size: 600, rx: 2 }, jobs: 2 })
    expect(r.baseline).toBe('clean')
    expect(r.calls).toBeGreaterThan(500)
    const notHandled = r.runs.filter((x) => x.outcome !== 'handled').map((x) => `${x.replay}: ${x.outcome} ${x.findings[0]?.kind ?? ''} ${x.findings[0]?.message ?? ''}`)
    expect(notHandled).toEqual([])
    // The same allocating routines as the TypeScript e1000's sweep.
    expect(new Set(r.runs.map((x) => x.routine))).toEqual(
      new Set(['NdisAllocateMemoryWithTagPriority', 'NdisAllocateNetBufferListPool', 'NdisMMapIoSpace', 'NdisMRegisterScatterGatherDma', 'NdisMAllocateSharedMemory', 'NdisAllocateMdl', 'NdisAllocateNetBufferAndNetBufferList', 'NdisMAllocateNetBufferSGList']),
    )
    expect(r.runs.every((x) => /^examples\/c\/e1000\/\w+\.c:\d+$/.test(x.site ?? ''))).toBe(true)
  })
})
