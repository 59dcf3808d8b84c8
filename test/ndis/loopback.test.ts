// The whole driver model end to end: the test miniport initializes, moves 1,000 frames through
// the loopback wire and halts, clean in every configuration of `dmalab check`, every byte of
// every frame verified by the protocol side, and every handler at the IRQL Windows runs it at.
import { describe, expect, it } from 'vitest'
import { DEVICE_IRQL, DISPATCH_LEVEL, PASSIVE_LEVEL } from '../../src/index.js'
import { loadTestMiniport } from '../support/driver-fixture.js'
import type { HandlerName } from '../support/test-miniport.js'

const CONFIGURATIONS = [
  { iommu: false, policy: 'high-first' },
  { iommu: false, policy: 'low-first' },
  { iommu: true, policy: 'high-first' },
  { iommu: true, policy: 'low-first' },
] as const

describe('the test miniport through loopback', () => {
  for (const { iommu, policy } of CONFIGURATIONS) {
    it(`initializes, sends and receives 1,000 intact frames and halts with no finding: IOMMU ${iommu ? 'on' : 'off'}, ${policy}`, () => {
      const { m, a } = loadTestMiniport({ iommu, memory: { policy } })
      m.traffic.send({ count: 1000, size: 1500 })
      expect(a.txOk).toBe(1000)
      m.halt()
      const r = m.report()
      expect(r.findings).toEqual([])
      expect(r.outcome).toBe('clean')
      expect(r.bugcheck).toBeNull()
      expect(r.init).toEqual({ status: 'NDIS_STATUS_SUCCESS', code: 0 })
      expect(r.traffic.txFrames).toBe(1000)
      expect(r.traffic.rxFrames).toBe(1000)
      expect(r.traffic.dropped.rxCorrupt).toBe(0)
      expect(r.traffic.dropped.txFailed).toBe(0)
      expect(r.traffic.dropped.rxForeign).toBe(0)
      expect(r.traffic.dropped.nicNoBuffer).toBe(0)
      // What reached the wire is what was sent: 1,000 frames of 1,500 bytes.
      expect(m.nic.counters.tx.frames).toBe(1000)
      expect(m.nic.counters.tx.bytes).toBe(1000 * 1500)
      // Two rings and the receive block, each freed at halt.
      expect(r.dma.commonBuffers).toHaveLength(3)
      expect(r.dma.commonBuffers.every((b) => b.freed && b.reachable)).toBe(true)
      expect(r.dma.commonBuffers.every((b) => b.translatedByIommu === iommu)).toBe(true)
      // Send buffers are the protocol's, from the kernel's policy: above 4 GiB with high-first,
      // so a 32-bit device needs every frame bounced, unless the IOMMU maps it. The list of
      // NdisMAllocateNetBufferSGList starts at CurrentMdl's first byte, so the protocol's
      // backfill before each frame (CurrentMdlOffset 0..384) is bounced with it.
      if (!iommu && policy === 'high-first') {
        expect(r.dma.bounceBytes).toBeGreaterThan(1000 * 1500)
        expect(r.dma.bounceBytes).toBeLessThanOrEqual(1000 * (1500 + 384))
      } else {
        expect(r.dma.bounceBytes).toBe(0)
      }
      expect(r.dma.iommuFaults).toEqual([])
    })
  }

  it('catches a frame whose bytes changed on the way: counted rxCorrupt and reported as frame-corrupted', () => {
    let corrupted = 0
    const { m } = loadTestMiniport({ iommu: false, memory: { policy: 'low-first' } }, {
      hooks: {
        // The device reads the protocol's buffer in place (low memory, no bounce): change a
        // payload byte of the third frame before the device fetches it.
        processSGList: (a, _sgl, nb) => {
          if (++corrupted !== 3) return
          const va = a.ndis.MmGetMdlVirtualAddress(nb.CurrentMdl) + nb.CurrentMdlOffset + 100
          a.ndis.memory.write8(va, a.ndis.memory.read8(va) ^ 0xff)
        },
      },
    })
    m.traffic.send({ count: 3, size: 600 })
    const r = m.report()
    expect(r.traffic.txFrames).toBe(3)
    expect(r.traffic.rxFrames).toBe(2)
    expect(r.traffic.dropped.rxCorrupt).toBe(1)
    expect(r.findings.map((f) => [f.kind, f.message])).toEqual([['frame-corrupted', 'a 600-byte test frame (sequence 2) arrived with different bytes than were sent']])
  })

  it('runs every handler at the IRQL Windows calls it at', () => {
    const { m, mp } = loadTestMiniport({ iommu: false, memory: { policy: 'high-first' } })
    m.traffic.send({ count: 50, size: 1000 })
    m.halt()
    expect(m.findings).toEqual([])
    const expected: Array<[HandlerName, number]> = [
      ['DriverEntry', PASSIVE_LEVEL],
      ['MiniportInitializeEx', PASSIVE_LEVEL],
      ['MiniportRestart', PASSIVE_LEVEL],
      ['MiniportOidRequest', PASSIVE_LEVEL],
      ['MiniportPause', PASSIVE_LEVEL],
      ['MiniportHaltEx', PASSIVE_LEVEL],
      ['MiniportDriverUnload', PASSIVE_LEVEL],
      ['MiniportSendNetBufferLists', DISPATCH_LEVEL],
      ['MiniportReturnNetBufferLists', DISPATCH_LEVEL],
      ['MiniportProcessSGList', DISPATCH_LEVEL],
      ['MiniportInterruptDPC', DISPATCH_LEVEL],
      ['MiniportInterrupt', DEVICE_IRQL],
    ]
    for (const [handler, irql] of expected) expect([handler, [...(mp.irqls.get(handler) ?? [])]]).toEqual([handler, [irql]])
  })
})
