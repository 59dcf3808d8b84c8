// Each examples/buggy miniport, in the configuration that shows its mistake: the findings
// include its kind (other, legitimate consequences may come with it), and what its header
// comment says happens is what happens.
import { describe, expect, it } from 'vitest'
import { BugCheck, createMachine } from '../../src/index.js'
import { MATRIX, matrixConfig, runExample, type Policy } from './run.js'

const SEND = 40
const IOMMU_OFF = (policy: Policy) => ({ iommu: false, memory: { policy } })
const IOMMU_ON = (policy: Policy) => ({ iommu: true, memory: { policy } })

describe('buggy/leak-on-halt', () => {
  it.each(MATRIX)('$label: one pool-leak at unload, tag E1kS, 48 bytes, at the allocating line; frames flow', async (c) => {
    const { report } = await runExample('buggy/leak-on-halt', { config: matrixConfig(c), send: SEND })
    expect(report.findings).toHaveLength(1)
    const leak = report.findings[0]!
    expect(leak).toMatchObject({ kind: 'pool-leak', code: 0xc4, site: expect.stringMatching(/^examples\/e1000\/memory\.ts:\d+$/) })
    expect(leak.params?.[0]).toBe(0x62)
    expect(leak.message).toMatch(/'E1kS' \(48 bytes\)/)
    expect(report.pool.byTag['E1kS']?.bytesOutstanding).toBe(48)
    expect(report.traffic.rxFrames).toBe(SEND)
  })
})

describe('buggy/free-rings-before-stop', () => {
  it.each(['high-first', 'low-first'] as const)('IOMMU off, %s: the receiver DMAs into the freed ring and buffers (dma-to-freed-memory) when the LAN talks after the halt', async (policy) => {
    const { report } = await runExample('buggy/free-rings-before-stop', { config: IOMMU_OFF(policy), send: SEND })
    expect(report.traffic.rxFrames).toBe(SEND)
    expect(report.findings.length).toBeGreaterThan(0)
    expect(report.findings.every((f) => f.kind === 'dma-to-freed-memory')).toBe(true)
    const messages = report.findings.map((f) => f.message).join('\n')
    expect(messages).toMatch(/read .* common buffer of 4 KiB \(NdisMAllocateSharedMemory\) that the driver has freed/) // the receive ring
    expect(messages).toMatch(/wrote .* common buffer of 512 KiB \(NdisMAllocateSharedMemory\) that the driver has freed/) // a receive buffer
  })

  it('IOMMU on: the freed ring is unmapped, so the same accesses are iommu-faults', async () => {
    const { report, kinds } = await runExample('buggy/free-rings-before-stop', { config: IOMMU_ON('high-first'), send: SEND })
    expect(report.traffic.rxFrames).toBe(SEND)
    expect(kinds.has('iommu-fault')).toBe(true)
    expect(kinds.has('dma-to-freed-memory')).toBe(false)
  })
})

describe('buggy/physaddr-dma', () => {
  it.each(['high-first', 'low-first'] as const)('IOMMU off, %s: frames move intact, and dma-not-dma-memory says why it is still wrong', async (policy) => {
    const { report, kinds } = await runExample('buggy/physaddr-dma', { config: IOMMU_OFF(policy), send: SEND })
    expect(report.traffic.txFrames).toBe(SEND)
    expect(report.traffic.rxFrames).toBe(SEND)
    expect([...kinds]).toEqual(['dma-not-dma-memory'])
    expect(report.findings[0]!.message).toMatch(/contiguous memory .* MmAllocateContiguousMemory\[SpecifyCache\] \+ MmGetPhysicalAddress gives a CPU physical address, not a DMA address/)
    expect(report.findings.every((f) => /^examples\/buggy\/physaddr-dma\.ts:\d+$/.test(f.site ?? ''))).toBe(true)
  })

  it.each(['high-first', 'low-first'] as const)('IOMMU on, %s: the descriptor fetches fault and no frame moves', async (policy) => {
    const { report, kinds } = await runExample('buggy/physaddr-dma', { config: IOMMU_ON(policy), send: SEND })
    expect(kinds.has('iommu-fault')).toBe(true)
    expect(report.dma.iommuFaults.length).toBeGreaterThan(0)
    expect(report.findings.find((f) => f.kind === 'iommu-fault')!.site).toMatch(/^examples\/buggy\/physaddr-dma\.ts:\d+$/)
    expect(report.traffic.txFrames).toBe(0)
    expect(report.traffic.rxFrames).toBe(0)
    // The consequences the header names: stopped queues, and a pause that never completes, on
    // which NDIS's watchdog bug checks (0x7C/0x25, so the halt never runs).
    expect(kinds).toEqual(new Set(['iommu-fault', 'device-error', 'hang']))
    expect(report.bugcheck).toMatchObject({ code: 0x7c, params: [0x25, 0x21, 0, 0] })
  })
})

describe('buggy/pool-dma-above-4g', () => {
  it('IOMMU off, high-first: every send is dma-address-truncated, and what reaches the wire is not the frame', async () => {
    const { report, kinds } = await runExample('buggy/pool-dma-above-4g', { config: IOMMU_OFF('high-first'), send: SEND })
    expect(report.findings.filter((f) => f.kind === 'dma-address-truncated')).toHaveLength(SEND)
    const truncated = report.findings.find((f) => f.kind === 'dma-address-truncated')!
    expect(truncated.message).toMatch(/beyond its 32-bit DMA reach.*the CPU physical address of nonpaged pool block 'E1kC'/)
    expect(truncated.site).toMatch(/^examples\/buggy\/pool-dma-above-4g\.ts:\d+$/)
    expect([...kinds].every((k) => k === 'dma-address-truncated' || k === 'dma-outside-buffer')).toBe(true)
    expect(report.traffic.rxFrames).toBe(0)
    expect(report.traffic.dropped.nicFiltered).toBe(SEND)
  })

  it('IOMMU off, low-first: the pool happens to be reachable; frames arrive intact and dma-not-dma-memory says why it is wrong', async () => {
    const { report, kinds } = await runExample('buggy/pool-dma-above-4g', { config: IOMMU_OFF('low-first'), send: SEND })
    expect([...kinds]).toEqual(['dma-not-dma-memory'])
    expect(report.findings[0]!.message).toMatch(/pool memory handed to the device by its physical address/)
    expect(report.traffic.rxFrames).toBe(SEND)
  })

  it('IOMMU on, high-first: the truncated address is mapped to nothing in the NIC\'s domain (iommu-fault)', async () => {
    const { report, kinds } = await runExample('buggy/pool-dma-above-4g', { config: IOMMU_ON('high-first'), send: SEND })
    expect(kinds).toEqual(new Set(['dma-address-truncated', 'iommu-fault']))
    expect(report.traffic.rxFrames).toBe(0)
  })

  it('IOMMU on, low-first: the raw physical address is no IOVA the HAL mapped (iommu-fault), not another buffer\'s by coincidence', async () => {
    const { report, kinds } = await runExample('buggy/pool-dma-above-4g', { config: IOMMU_ON('low-first'), send: SEND })
    expect([...kinds]).toEqual(['iommu-fault'])
    expect(report.findings[0]!.message).toMatch(/never mapped for the device: it is the CPU physical address of nonpaged pool block 'E1kC'/)
    expect(report.traffic.rxFrames).toBe(0)
  })
})

describe('buggy/noncached-dma', () => {
  it('IOMMU off, low-first: frames move intact, and dma-not-dma-memory names MmAllocateNonCachedMemory', async () => {
    const { report, kinds } = await runExample('buggy/noncached-dma', { config: IOMMU_OFF('low-first'), send: SEND })
    expect([...kinds]).toEqual(['dma-not-dma-memory'])
    expect(report.findings[0]!.message).toMatch(/noncached memory .* MmAllocateNonCachedMemory memory must not be used for DMA/)
    expect(report.findings[0]!.site).toMatch(/^examples\/buggy\/noncached-dma\.ts:\d+$/)
    expect(report.traffic.rxFrames).toBe(SEND)
  })

  it('IOMMU off, high-first: the pages are above 4 GiB and the 32-bit NIC truncates their addresses; no frame moves', async () => {
    const { report, kinds } = await runExample('buggy/noncached-dma', { config: IOMMU_OFF('high-first'), send: SEND })
    expect(kinds.has('dma-address-truncated')).toBe(true)
    expect(report.traffic.txFrames).toBe(0)
  })

  it.each(['high-first', 'low-first'] as const)('IOMMU on, %s: iommu-fault at the first descriptor fetch', async (policy) => {
    const { report, kinds } = await runExample('buggy/noncached-dma', { config: IOMMU_ON(policy), send: SEND })
    expect(kinds.has('iommu-fault')).toBe(true)
    expect(report.traffic.txFrames).toBe(0)
  })
})

describe('buggy/runtime-contiguous', () => {
  it.each(MATRIX)('$label: the first send allocates contiguous memory at runtime (init-only-call, at DISPATCH_LEVEL)', async (c) => {
    const { report, kinds } = await runExample('buggy/runtime-contiguous', { config: matrixConfig(c), send: SEND })
    expect(kinds).toEqual(new Set(['init-only-call', 'irql-violation']))
    const call = report.findings.find((f) => f.kind === 'init-only-call')!
    expect(call.message).toMatch(/NdisAllocateMemory with NDIS_MEMORY_CONTIGUOUS \(4 MiB\) outside MiniportInitializeEx/)
    expect(call.site).toMatch(/^examples\/buggy\/runtime-contiguous\.ts:\d+$/)
    // Memory is not yet fragmented at the first send: the area is had once, and frames flow.
    expect(report.findings.filter((f) => f.kind === 'init-only-call')).toHaveLength(1)
    expect(report.traffic.rxFrames).toBe(SEND)
  })

  it('S06 once memory has fragmented (0.5: no free run over 2 MiB), the 4 MiB request fails on every send and every frame completes with NDIS_STATUS_RESOURCES', async () => {
    const { report } = await runExample('buggy/runtime-contiguous', { config: { memory: { fragmentation: 0.5 } }, idleNs: 20_000_000, send: SEND })
    expect(report.findings.filter((f) => f.kind === 'init-only-call')).toHaveLength(SEND)
    expect(report.traffic.txFrames).toBe(0)
    expect(report.traffic.dropped.txFailed).toBe(SEND)
    expect(report.traffic.rxFrames).toBe(0)
    expect(report.outcome).toBe('findings')
  })
})

describe('buggy/unchecked-allocation', () => {
  it('is clean when the allocation succeeds', async () => {
    const { report } = await runExample('buggy/unchecked-allocation', { send: SEND })
    expect(report.findings).toEqual([])
    expect(report.traffic.rxFrames).toBe(SEND)
  })

  it.each(['routine=ExAllocatePoolWithTag', 'tag=E1kS'])('with the allocation failed (%s), the NULL is written: page-fault, bug check 0x50, at the line in the driver', async (faults) => {
    const { report, loaded } = await runExample('buggy/unchecked-allocation', { config: { faults } })
    expect(loaded.state).toBe('crashed')
    expect(report.outcome).toBe('bugcheck')
    expect(report.bugcheck?.code).toBe(0x50)
    expect(report.faults.injected).toHaveLength(1)
    expect(report.findings).toEqual([expect.objectContaining({ kind: 'page-fault', code: 0x50, site: expect.stringMatching(/^examples\/buggy\/unchecked-allocation\.ts:\d+$/) })])
  })
})

describe('buggy/paged-at-dispatch', () => {
  it.each(MATRIX)('$label: the DPC touches paged pool at DISPATCH_LEVEL (irql-violation, 0xD1), and frames still flow in log mode', async (c) => {
    const { report, kinds } = await runExample('buggy/paged-at-dispatch', { config: matrixConfig(c), send: SEND })
    expect([...kinds]).toEqual(['irql-violation'])
    const f = report.findings[0]!
    expect(f.code).toBe(0xd1)
    expect(f.message).toMatch(/pageable memory .* at DISPATCH_LEVEL/)
    expect(f.site).toMatch(/^examples\/e1000\/adapter\.ts:\d+$/)
    expect(report.traffic.rxFrames).toBe(SEND)
  })

  it('in crash mode the first such access is bug check 0xD1, thrown to the host caller', async () => {
    const m = createMachine({ wire: 'loopback', verifier: { mode: 'crash' } })
    const loaded = await m.load('buggy/paged-at-dispatch')
    expect(loaded.state).toBe('running')
    let thrown: unknown
    try {
      m.traffic.send({ count: SEND })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(BugCheck)
    expect(m.report().bugcheck?.code).toBe(0xd1)
  })
})

describe('buggy/overrun', () => {
  it('with special pool: pool-overrun, bug check 0xD6 at the NdisZeroMemory during MiniportInitializeEx', async () => {
    const { report, loaded } = await runExample('buggy/overrun', { config: { verifier: { specialPool: true } } })
    expect(loaded.state).toBe('crashed')
    expect(report.outcome).toBe('bugcheck')
    expect(report.bugcheck?.code).toBe(0xd6)
    expect(report.findings).toEqual([expect.objectContaining({ kind: 'pool-overrun', code: 0xd6, site: expect.stringMatching(/^examples\/buggy\/overrun\.ts:\d+$/) })])
    expect(report.findings[0]!.message).toMatch(/past the end of a special-pool allocation.*'E1kS' \(32 bytes\)/)
  })

  it('without special pool nothing notices (which is why Driver Verifier has special pool)', async () => {
    const { report } = await runExample('buggy/overrun', { send: SEND })
    expect(report.findings).toEqual([])
    expect(report.traffic.rxFrames).toBe(SEND)
  })
})

describe('buggy/must-succeed', () => {
  it.each(MATRIX)('$label: must-succeed-pool, fatal even in log mode: bug check 0xC2 / 0x9A at the allocation', async (c) => {
    const { report, loaded } = await runExample('buggy/must-succeed', { config: matrixConfig(c) })
    expect(loaded.state).toBe('crashed')
    expect(report.outcome).toBe('bugcheck')
    expect(report.bugcheck).toMatchObject({ code: 0xc2, name: 'BAD_POOL_CALLER' })
    expect(report.bugcheck?.params[0]).toBe(0x9a)
    expect(report.findings).toEqual([expect.objectContaining({ kind: 'must-succeed-pool', site: expect.stringMatching(/^examples\/buggy\/must-succeed\.ts:\d+$/) })])
  })
})

describe('buggy/mismatched-free', () => {
  it.each(MATRIX)('$label: two pool-free-mismatch findings at halt, one per tracking table; frames flow', async (c) => {
    const { report } = await runExample('buggy/mismatched-free', { config: matrixConfig(c), send: SEND })
    expect(report.findings).toHaveLength(2)
    for (const f of report.findings) {
      expect(f.kind).toBe('pool-free-mismatch')
      expect(f.message).toMatch(/with MemoryFlags flags 0 \(allocated with NDIS_MEMORY_CONTIGUOUS \| NDIS_MEMORY_NONCACHED\)/)
      expect(f.site).toMatch(/^examples\/e1000\/memory\.ts:\d+$/)
    }
    expect(report.traffic.rxFrames).toBe(SEND)
  })
})
