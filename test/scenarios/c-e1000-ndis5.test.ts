// examples/c/e1000-ndis5, the NDIS 5.1 miniport in C: registered with NdisMRegisterMiniport,
// compiled to WebAssembly, its every load and store through the x86 machine's page tables, the
// NDIS_PACKETs it sends and indicates in emulated memory in their 32-bit layouts. Seed 000's NDIS
// 5 driver: its context from NdisAllocateMemory handed to NdisMSetAttributesEx, its staging area
// from NdisAllocateMemory(NDIS_MEMORY_CONTIGUOUS | NDIS_MEMORY_NONCACHED) in MiniportInitialize,
// every send through map registers (bounced above 4 GiB). Clean in every configuration of
// `dmalab check`, and every allocation call of its sweep handled, as the TypeScript e1000-ndis5.
import { describe, expect, it } from 'vitest'
import { loadMiniport } from '../../src/scenario.js'
import { sweep } from '../../src/sweep.js'
import { MATRIX, matrixConfig, poolOutstanding, runExample } from './run.js'

const X86 = { arch: 'x86' } as const

describe('c/e1000-ndis5', () => {
  it.each(MATRIX)('$label: every frame sent and received intact, no findings, nothing left allocated', async (c) => {
    const { report, loaded } = await runExample('c/e1000-ndis5', { config: matrixConfig(c, X86), send: 60, receive: 5 })
    expect(loaded.state).toBe('running')
    expect(report.findings).toEqual([])
    expect(report.traffic.txFrames).toBe(60)
    expect(report.traffic.rxFrames).toBe(65)
    expect(poolOutstanding(report)).toBe(0)
  })

  it('handles every allocation call of init + traffic + halt failing (sweep, worker threads), each named at its C line', async () => {
    const driver = await loadMiniport('c/e1000-ndis5')
    const r = await sweep(driver, { config: X86, scenario: { packets: 20, size: 600, rx: 2 }, jobs: 2 })
    expect(r.baseline).toBe('clean')
    const notHandled = r.runs.filter((x) => x.outcome !== 'handled').map((x) => `${x.replay}: ${x.outcome} ${x.findings[0]?.kind ?? ''} ${x.findings[0]?.message ?? ''}`)
    expect(notHandled).toEqual([])
    // The allocating NDIS 5 routines the TypeScript e1000-ndis5's sweep fails, at this driver's C lines.
    expect(new Set(r.runs.map((x) => x.routine))).toEqual(new Set([
      'NdisMInitializeWrapper', 'NdisMRegisterMiniport', 'NdisAllocateMemory', 'NdisOpenConfiguration', 'NdisMMapIoSpace', 'NdisMAllocateMapRegisters', 'NdisAllocatePacketPool', 'NdisAllocateBufferPool',
      'NdisMAllocateSharedMemory', 'NdisAllocateBuffer', 'NdisAllocatePacket',
    ]))
    expect(r.runs.every((x) => /^examples\/c\/e1000-ndis5\/\w+\.c:\d+$/.test(x.site ?? ''))).toBe(true)
  })
})
