// REFERENCE §6: guest input that broke real device models, one test per class. Each must
// terminate quickly (a small event bound, no hang finding), process at most one ring's worth
// of descriptors per doorbell, and record a `device-error`.
import { describe, expect, it } from 'vitest'
import { createMachine, type Machine } from '../../../src/index.js'
import {
  BareMetalE1000, e1000, DD, ICR_LSC, NIC_MAC, R, TXD_EOP, TXD_IFCS, TXD_RS, ethernetFrame,
} from '../../support/e1000-driver.js'

const RING = 16

function machine(config: Parameters<typeof createMachine>[0] = {}): { m: Machine; d: BareMetalE1000; fetches: () => number } {
  const m = createMachine({ maxEvents: 10_000, ...config })
  const d = new BareMetalE1000(m, { txCount: RING, rxCount: RING }).init()
  let count = 0
  const txRing = d.device(d.txRing)
  const rxRing = d.device(d.rxRing)
  m.nic.dma.observer = {
    onAccess(_r, logical, _p, length, access) {
      const inRing = (logical >= txRing && logical < txRing + RING * 16) || (logical >= rxRing && logical < rxRing + RING * 16)
      if (access === 'read' && length === 16 && inRing) count++
    },
  }
  return { m, d, fetches: () => count }
}

/** Runs to idle and checks the run ended on its own, quickly. */
function settle(m: Machine): void {
  const started = performance.now()
  const r = m.runUntilIdle()
  expect(r.boundHit).toBe(false)
  expect(m.findings.some((f) => f.kind === 'hang')).toBe(false)
  expect(performance.now() - started).toBeLessThan(500)
}

function deviceErrors(m: Machine): unknown[] {
  return m.findings.filter((f) => f.kind === 'device-error').map((f) => f.details?.reason)
}

describe('bad guest input (REFERENCE §6)', () => {
  describe('ring geometry', () => {
    it('a tail beyond the ring walks nothing and is a device-error', () => {
      const { m, d, fetches } = machine()
      d.write(R.TDT, RING + 5)
      settle(m)
      expect(fetches()).toBe(0)
      expect(deviceErrors(m)).toEqual(['ring-geometry'])
      // Fixing it brings the ring back.
      d.send(ethernetFrame(60))
      settle(m)
      expect(m.wire.transmitted).toHaveLength(1)
    })

    it('a head beyond the ring walks nothing and is a device-error', () => {
      const { m, d, fetches } = machine()
      d.write(R.TDH, 0xffff)
      d.write(R.TDT, 3)
      settle(m)
      expect(fetches()).toBe(0)
      expect(deviceErrors(m)).toEqual(['ring-geometry'])
      expect(d.read(R.TDH)).toBe(0xffff)
    })

    it('a zero ring length walks nothing and is a device-error, for both rings', () => {
      const { m, d, fetches } = machine()
      d.write(R.TDLEN, 0)
      d.write(R.TDT, 1)
      d.write(R.RDLEN, 0)
      d.write(R.RDT, 1)
      m.wire.inject(ethernetFrame(64, NIC_MAC))
      settle(m)
      expect(fetches()).toBe(0)
      expect(deviceErrors(m)).toEqual(['ring-geometry', 'ring-geometry'])
      expect(d.read(R.MPC)).toBe(1)
    })

    it('a length that is not a multiple of 128 is masked (and reported), so the ring stays bounded', () => {
      const { m, d, fetches } = machine()
      d.write(R.TDLEN, 200)
      expect(d.read(R.TDLEN)).toBe(128)
      expect(deviceErrors(m)).toEqual(['register-value'])
      // The ring is now 8 descriptors: a tail of 12 is beyond it.
      d.write(R.TDT, 12)
      settle(m)
      expect(fetches()).toBe(0)
      expect(deviceErrors(m)).toEqual(['register-value', 'ring-geometry'])
    })

    it('a misaligned ring base has its low bits ignored and is reported', () => {
      const { m, d } = machine()
      d.write(R.TDBAL, d.device(d.txRing) + 4)
      expect(d.read(R.TDBAL)).toBe(d.device(d.txRing))
      expect(deviceErrors(m)).toEqual(['register-value'])
    })

    it('processes at most one ring of descriptors per doorbell even when every one is malformed', () => {
      const { m, d, fetches } = machine()
      for (let i = 0; i < RING; i++) d.writeTxDescriptor(i, 0, 0, TXD_RS)
      d.write(R.TDT, RING - 1)
      settle(m)
      expect(fetches()).toBe(RING - 1)
      expect(d.read(R.TDH)).toBe(RING - 1)
      expect(m.wire.transmitted).toHaveLength(0)
      expect(deviceErrors(m)).toEqual(new Array(RING - 1).fill('zero-length'))
    })
  })

  describe('descriptors that make no progress', () => {
    it('a zero-length transmit descriptor is consumed (DD written) and reported', () => {
      const { m, d, fetches } = machine()
      d.writeTxDescriptor(0, d.device(d.txBuffers[0]!), 0, TXD_EOP | TXD_RS)
      d.write(R.TDT, 1)
      settle(m)
      expect(fetches()).toBe(1)
      expect(d.txDescriptor(0).status & DD).toBe(DD)
      expect(m.wire.transmitted).toHaveLength(0)
      expect(deviceErrors(m)).toEqual(['zero-length'])
      expect(m.nic.counters.tx.dropped).toBe(1)
    })

    it('a null transmit buffer is consumed, drops its frame and is reported', () => {
      const { m, d } = machine()
      d.writeTxDescriptor(0, 0, 100, TXD_EOP | TXD_RS)
      d.write(R.TDT, 1)
      settle(m)
      expect(d.txDescriptor(0).status & DD).toBe(DD)
      expect(m.wire.transmitted).toHaveLength(0)
      expect(deviceErrors(m)).toEqual(['null-buffer'])
    })

    it('a receive ring of null buffers is consumed descriptor by descriptor and the frame is dropped', () => {
      const { m, d, fetches } = machine()
      for (let i = 0; i < RING; i++) d.armRx(i, 0)
      m.wire.inject(ethernetFrame(64, NIC_MAC))
      settle(m)
      expect(fetches()).toBe(RING - 1)
      expect(d.read(R.RDH)).toBe(RING - 1)
      expect(d.read(R.MPC)).toBe(1)
      expect(deviceErrors(m)).toEqual([...new Array(RING - 1).fill('null-buffer'), 'frame-truncated'])
    })
  })

  describe('oversize frames and lengths', () => {
    it('a descriptor longer than 16288 bytes drops its frame', () => {
      const { m, d } = machine()
      d.writeTxDescriptor(0, d.device(d.txBuffers[0]!), 0xffff, TXD_EOP | TXD_RS)
      d.write(R.TDT, 1)
      settle(m)
      expect(m.wire.transmitted).toHaveLength(0)
      expect(deviceErrors(m)).toEqual(['oversize'])
    })

    it('a chain whose lengths sum past 16288 bytes drops the frame without overrunning the staging buffer', () => {
      const { m, d, fetches } = machine()
      for (let i = 0; i < RING; i++) d.writeTxDescriptor(i, d.device(d.txBuffers[i]!), 2048, i === RING - 2 ? TXD_EOP | TXD_RS : TXD_RS)
      d.write(R.TDT, RING - 1)
      settle(m)
      expect(fetches()).toBe(RING - 1)
      expect(m.wire.transmitted).toHaveLength(0)
      expect(deviceErrors(m)).toEqual(['oversize'])
      // The next frame is whole and correct.
      d.txTail = RING - 1
      d.txClean = RING - 1
      const frame = ethernetFrame(100)
      d.send(frame)
      settle(m)
      expect([...m.wire.transmitted[0]!]).toEqual([...frame])
    })

    it('a chain with no EOP around the whole ring goes nowhere and stops at the tail', () => {
      const { m, d, fetches } = machine()
      for (let i = 0; i < RING; i++) d.writeTxDescriptor(i, d.device(d.txBuffers[i]!), 64, TXD_IFCS)
      d.write(R.TDT, RING - 1)
      settle(m)
      d.write(R.TDT, RING - 1) // ringing again with nothing new is harmless
      settle(m)
      expect(fetches()).toBe(RING - 1)
      expect(m.wire.transmitted).toHaveLength(0)
    })
  })

  describe('DMA into the device and re-entry', () => {
    it('a transmit buffer pointing at the NIC registers is refused and reported, and nothing reaches the wire', () => {
      const { m, d } = machine()
      d.read(R.ICR)
      d.write(R.ICS, ICR_LSC)
      // A DMA read that reached ICR would clear it (read-to-clear): the cause must survive.
      d.writeTxDescriptor(0, m.nic.bar0 + R.ICR, 64, TXD_EOP | TXD_RS)
      d.write(R.TDT, 1)
      settle(m)
      expect(m.wire.transmitted).toHaveLength(0)
      expect(deviceErrors(m)).toEqual(['dma-to-mmio'])
      expect(m.nic.dma.counters.mmioRefused).toBe(1)
      expect(d.read(R.ICR) & ICR_LSC).toBe(ICR_LSC)
    })

    it('a receive buffer pointing at the NIC registers is refused: the registers are untouched, the write is lost (posted) and reported', () => {
      const { m, d } = machine()
      d.armRx(0, m.nic.bar0 + R.RDT - 8)
      const frame = ethernetFrame(64, NIC_MAC)
      m.wire.inject(frame)
      settle(m)
      expect(d.read(R.RDT)).toBe(RING - 1)
      expect(d.read(R.RCTL) & 0x2).toBe(0x2)
      expect(d.rxDescriptor(0)).toMatchObject({ status: DD | 0x2 | 0x4, errors: 0 })
      expect(deviceErrors(m)).toEqual(['dma-to-mmio'])
    })

    it('a ring placed on the NIC registers stops the queue until reset', () => {
      const { m, d } = machine()
      d.write(R.TDBAL, m.nic.bar0)
      d.write(R.TDT, 2)
      settle(m)
      expect(deviceErrors(m)).toEqual(['dma-to-mmio', 'descriptor-fetch'])
      expect(e1000(m).tx.stopped).toBe(true)
      d.write(R.TDBAL, d.device(d.txRing))
      d.write(R.TDT, 1)
      settle(m)
      expect(m.wire.transmitted).toHaveLength(0)
      d.init()
      d.send(ethernetFrame(60))
      settle(m)
      expect(m.wire.transmitted).toHaveLength(1)
    })

    it('a doorbell rung from inside the device (loopback, observer) does not re-enter the transmit walk', () => {
      const m = createMachine({ wire: 'loopback', maxEvents: 10_000 })
      const d = new BareMetalE1000(m, { txCount: RING, rxCount: RING }).init()
      let depth = 0
      let maxDepth = 0
      m.nic.dma.observer = {
        onAccess() {
          depth++
          maxDepth = Math.max(maxDepth, depth)
          if (depth === 1) d.write(R.TDT, d.txTail)
          depth--
        },
      }
      for (let k = 0; k < 10; k++) d.queue([ethernetFrame(64, NIC_MAC, k)])
      d.doorbell()
      settle(m)
      expect(maxDepth).toBe(1)
      expect(d.receive()).toHaveLength(10)
    })
  })

  describe('DMA results are acted on', () => {
    it('a descriptor fetch the IOMMU refuses stops the queue and is a device-error', () => {
      const { m, d } = machine({ iommu: true })
      // The rings were never mapped for the device: the first fetch faults.
      d.send(ethernetFrame(60))
      settle(m)
      expect(e1000(m).tx.stopped).toBe(true)
      expect(m.findings.map((f) => f.kind)).toEqual(['iommu-fault', 'device-error'])
      expect(m.wire.transmitted).toHaveLength(0)
    })

    it('a buffer fetch the IOMMU refuses drops the frame (counted) instead of sending all-ones', () => {
      const m = createMachine({ iommu: true, maxEvents: 10_000 })
      const d = new BareMetalE1000(m, { iova: 0x1000_0000 }).init()
      d.writeTxDescriptor(0, 0x2000_0000, 100, TXD_EOP | TXD_RS)
      d.txTail = 1
      d.doorbell()
      d.send(ethernetFrame(100))
      settle(m)
      expect(m.wire.transmitted).toHaveLength(1)
      expect([...m.wire.transmitted[0]!]).toEqual([...ethernetFrame(100)])
      expect(m.nic.counters.tx.dmaErrors).toBe(1)
      expect(m.nic.counters.tx.dropped).toBe(1)
      expect(m.findings.map((f) => f.kind)).toEqual(['iommu-fault'])
    })
  })
})
