// NDIS scatter/gather DMA as a miniport uses it: NdisMAllocateNetBufferSGList calls
// ProcessSGList before it returns when the list can be built at once, and later (inside the
// Put that frees map registers) when it cannot; NdisMAllocateSharedMemoryAsyncEx completes
// through the miniport's handler; lists never freed are reported at the line that made them.
import { describe, expect, it } from 'vitest'
import { BUGCHECK, DISPATCH_LEVEL, PASSIVE_LEVEL } from '../../src/index.js'
import { kinds, loadTestMiniport, theFinding } from '../support/driver-fixture.js'
import { NDIS_BUGCHECK } from '../../src/ndis/context.js'

const PAGE = 4096

describe('NdisMAllocateNetBufferSGList', () => {
  it('runs ProcessSGList before it returns while map registers last, and after it returns once they run out', () => {
    // IOMMU off, high-first: every send is bounced, and 16 KiB of mapping gives 5 map registers.
    const bounced = loadTestMiniport({ iommu: false, memory: { policy: 'high-first' } })
    bounced.m.traffic.send({ count: 100, size: 1000 })
    expect(bounced.a.deferredSgLists).toBeGreaterThan(0)
    expect(bounced.a.deferredSgLists).toBeLessThan(100)
    // Mapped by the IOMMU: no map registers to wait for, every list is built at once.
    const mapped = loadTestMiniport({ iommu: true, memory: { policy: 'high-first' } })
    mapped.m.traffic.send({ count: 100, size: 1000 })
    expect(mapped.a.deferredSgLists).toBe(0)
    for (const { m, mp } of [bounced, mapped]) {
      m.halt()
      expect(m.findings).toEqual([])
      expect(m.report().traffic).toMatchObject({ txFrames: 100, rxFrames: 100 })
      expect(m.report().traffic.dropped.rxCorrupt).toBe(0)
      expect([...mp.irqls.get('MiniportProcessSGList')!]).toEqual([DISPATCH_LEVEL])
    }
    // Each list covers CurrentMdlOffset + DataLength bytes from CurrentMdl's start (the protocol's backfill is 0..384).
    expect(bounced.m.report().dma.bounceBytes).toBeGreaterThan(100 * 1000)
    expect(bounced.m.report().dma.bounceBytes).toBeLessThanOrEqual(100 * (1000 + 384))
    expect(mapped.m.report().dma.bounceBytes).toBe(0)
  })

  it('lists a miniport never frees are sg-list-leak at the NdisMAllocateNetBufferSGList line, with the map registers they hold', () => {
    let halted = false
    const { m, a } = loadTestMiniport({ iommu: false, memory: { policy: 'high-first' } }, {
      hooks: {
        // The bug: transmission is switched off, the pause does not wait, the halt forgets.
        pause: (ad) => ad.ndis.NDIS_STATUS_SUCCESS,
        halt: (ad) => {
          halted = true
          ad.inFlight.length = 0
        },
      },
    })
    a.ndis.NdisWriteRegisterUlong(a.regs + 0x400, 0) // TCTL: transmit disabled
    m.traffic.send({ count: 3, size: 300 })
    m.halt()
    expect(halted).toBe(true)
    const leaks = m.findings.filter((f) => f.kind === 'sg-list-leak')
    expect(leaks).toHaveLength(3)
    // Bug check 0xE6/0x0A and 0x09: p2 the DMA adapter, p3 how many lists / map registers are outstanding.
    const adapterAddress = m.ndis!.ctx.sgDma === null ? m.hal.adapters[0]!.address : m.ndis!.ctx.sgDma.adapter.address
    for (const f of leaks) {
      expect(f).toMatchObject({ code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, params: [0x0a, adapterAddress, 3, 0] })
      expect(f.site).toMatch(/^test\/support\/test-miniport\.ts:\d+$/)
      // 300 bytes of frame after the protocol's backfill of 0, 128, 256 or 384 bytes (the list starts at CurrentMdl).
      expect(f.message).toMatch(/^DMA adapter released with a scatter\/gather list of (300|428|556|684) bytes never put back \(NdisMAllocateNetBufferSGList without its Put\/Free\)$/)
    }
    expect(theFinding(m, 'map-register-leak').params).toEqual([0x09, adapterAddress, 3, 0])
    // The pause did not wait for the three sends: they never came back to the protocol.
    expect(theFinding(m, 'send-not-completed').params).toEqual([NDIS_BUGCHECK.sendsNotCompleted, 3, 0, 0])
  })
})

describe('NdisMAllocateSharedMemoryAsyncEx', () => {
  it('returns NDIS_STATUS_PENDING and completes through SharedMemAllocateCompleteHandler at PASSIVE_LEVEL with memory the device can reach', () => {
    const { m, mp, a, ndis } = loadTestMiniport({ iommu: false, memory: { policy: 'high-first' } })
    const status = ndis.NdisMAllocateSharedMemoryAsyncEx(a.dmaHandle!, 3 * PAGE, true, 'ctx')
    expect(status).toBe(ndis.NDIS_STATUS_PENDING)
    expect(a.asyncShared).toEqual([])
    m.runUntilIdle()
    expect(a.asyncShared).toHaveLength(1)
    const block = a.asyncShared[0]!
    expect(block.length).toBe(3 * PAGE)
    expect(block.logical).toBe(ndis.MmGetPhysicalAddress(block.va))
    expect(block.logical + 3 * PAGE).toBeLessThanOrEqual(4294967296)
    // ndis.h MINIPORT_ALLOCATE_SHARED_MEM_COMPLETE: "NDIS calls MiniportSharedMemoryAllocateComplete at IRQL = PASSIVE_LEVEL".
    expect([...mp.irqls.get('MiniportSharedMemoryAllocateComplete')!]).toEqual([PASSIVE_LEVEL])
    expect(m.report().dma.commonBuffers.at(-1)).toMatchObject({ routine: 'NdisMAllocateSharedMemoryAsyncEx', length: 3 * PAGE, reachable: true })
    // It is legal after initialization: no init-only-call. The miniport frees it at halt.
    m.halt()
    expect(m.findings).toEqual([])
  })

  it('passes the caller\'s context and, when no memory can be had, a NULL address to the handler', () => {
    const got: Array<{ va: number; logical: number; context: unknown }> = []
    const { m, a, ndis } = loadTestMiniport({ faults: 'routine=NdisMAllocateSharedMemoryAsyncEx,nth=2' }, {
      hooks: { sharedMemoryComplete: (_a, va, logical, _length, context) => got.push({ va, logical, context }) },
    })
    expect(ndis.NdisMAllocateSharedMemoryAsyncEx(a.dmaHandle!, PAGE, false, 'first')).toBe(ndis.NDIS_STATUS_PENDING)
    expect(ndis.NdisMAllocateSharedMemoryAsyncEx(a.dmaHandle!, PAGE, false, 'second')).toBe(ndis.NDIS_STATUS_RESOURCES)
    expect(ndis.NdisMAllocateSharedMemoryAsyncEx(a.dmaHandle!, 64 * 1024 * 1024 * 1024, false, 'too big')).toBe(ndis.NDIS_STATUS_PENDING)
    m.runUntilIdle()
    expect(got.map((g) => g.context)).toEqual(['first', 'too big'])
    expect(got[0]!.va).not.toBe(0)
    expect(got[1]).toEqual({ va: 0, logical: 0, context: 'too big' })
    ndis.NdisMFreeSharedMemory(a.handle, PAGE, false, got[0]!.va, got[0]!.logical)
    expect(kinds(m)).toEqual([])
  })

  it('without a SharedMemAllocateCompleteHandler it is a call-order finding and fails', () => {
    const { m, a, ndis } = loadTestMiniport()
    m.ndis!.ctx.sgDma!.description.SharedMemAllocateCompleteHandler = undefined as never
    expect(ndis.NdisMAllocateSharedMemoryAsyncEx(a.dmaHandle!, PAGE, false, null)).toBe(ndis.NDIS_STATUS_FAILURE)
    expect(theFinding(m, 'ndis-call-order').message).toBe('NdisMAllocateSharedMemoryAsyncEx without a SharedMemAllocateCompleteHandler in NDIS_SG_DMA_DESCRIPTION')
  })
})
