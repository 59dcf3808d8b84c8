// Bugs the device fuzzer (test/fuzz, issue 9) found, one named test each, reduced to the
// smallest input that showed them.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import { BareMetalE1000, DD, EOP, NIC_MAC, R, TXD_EOP, TXD_IFCS, TXD_RS, ethernetFrame } from '../../support/e1000-driver.js'

describe('device fuzz regressions', () => {
  describe('64-bit device addresses at and above 2^53 land where the address lines put them', () => {
    it('a transmit ring base with TDBAH bit 31 set writes DD back to the status dword of the truncated descriptor, not over its buffer address', () => {
      const m = createMachine({ memory: { size: '64MiB' } })
      const d = new BareMetalE1000(m, { txCount: 8, rxCount: 8 }).init()
      const f = ethernetFrame(60, NIC_MAC)
      d.queue([f])
      // 0x8000_0000_0100_0000 is not a double: as one number it would round.
      d.write(R.TDBAH, 0x8000_0000)
      d.doorbell()
      m.runUntilIdle()
      expect(d.txDescriptor(0).bufferAddress).toBe(d.txBuffers[0])
      expect(d.txDescriptor(0).status & DD).toBe(DD)
      expect(m.wire.transmitted.map((t) => [...t])).toEqual([[...f]])
      const truncated = m.findings.filter((x) => x.kind === 'dma-address-truncated')
      expect(truncated.length).toBeGreaterThan(0)
      expect(truncated[0]!.details?.actual).toBe(d.txRing)
    })

    it('a transmit buffer address with bits above 2^53 is fetched from its truncated address, byte for byte', () => {
      const m = createMachine({ memory: { size: '64MiB' } })
      const d = new BareMetalE1000(m, { txCount: 8, rxCount: 8 }).init()
      const f = ethernetFrame(100, NIC_MAC, 7)
      m.cpu.writeBytes(d.txBuffers[0]! + 0x65, f)
      // High half 0xFFFF_FFFF, low half the buffer + 0x65: 2^64 - 2^32 + buffer, far beyond 2^53.
      d.writeTxDescriptor(0, 0, f.length, TXD_EOP | TXD_IFCS | TXD_RS)
      m.cpu.write32(d.txRing, d.txBuffers[0]! + 0x65)
      m.cpu.write32(d.txRing + 4, 0xffff_ffff)
      d.txTail = 1
      d.doorbell()
      m.runUntilIdle()
      expect(m.wire.transmitted.map((t) => [...t])).toEqual([[...f]])
    })

    it('a receive buffer address with bits above 2^53 is written at its truncated address, and nowhere else', () => {
      const m = createMachine({ memory: { size: '64MiB' } })
      const d = new BareMetalE1000(m, { txCount: 8, rxCount: 8 }).init()
      // High half 0xFFFF_F000: written as two halves, since as one number it would round.
      m.cpu.write32(d.rxRing, d.rxBuffers[0]! + 0x11)
      m.cpu.write32(d.rxRing + 4, 0xffff_f000)
      const f = ethernetFrame(64, NIC_MAC, 3)
      m.wire.inject(f)
      m.runUntilIdle()
      const desc = d.rxDescriptor(0)
      expect(desc.status & (DD | EOP)).toBe(DD | EOP)
      expect([...m.cpu.readBytes(d.rxBuffers[0]! + 0x11, f.length)]).toEqual([...f])
      expect(m.cpu.read8(d.rxBuffers[0]! + 0x10)).toBe(0)
    })

    it('a 64-bit device given an address above 2^53 reaches nothing: a master abort, not RAM', () => {
      const m = createMachine({ memory: { size: '64MiB' }, nic: { dmaAddressBits: 64 } })
      const d = new BareMetalE1000(m, { txCount: 8, rxCount: 8 }).init()
      const f = ethernetFrame(60, NIC_MAC)
      m.cpu.writeBytes(d.txBuffers[0]!, f)
      d.writeTxDescriptor(0, d.txBuffers[0]!, f.length, TXD_EOP | TXD_IFCS | TXD_RS)
      m.cpu.write32(d.txRing + 4, 0x8000_0000)
      d.txTail = 1
      d.doorbell()
      m.runUntilIdle()
      expect(m.wire.transmitted).toEqual([])
      expect(m.nic.counters.tx.dmaErrors).toBe(1)
      expect(m.findings.some((x) => x.details?.reason === 'master-abort')).toBe(true)
    })
  })
})

describe('device fuzz regressions: a frame whose descriptors span doorbells', () => {
  it('a frame whose EOP descriptor has length 0 and comes in a later doorbell than its data goes on the wire with that data', () => {
    const m = createMachine({ memory: { size: '64MiB' }, wire: 'loopback' })
    const d = new BareMetalE1000(m, { txCount: 8, rxCount: 8 }).init()
    const f = ethernetFrame(30, NIC_MAC, 5)
    m.cpu.writeBytes(d.txBuffers[0]!, f)
    d.writeTxDescriptor(0, d.txBuffers[0]!, f.length, TXD_IFCS)
    d.doorbell(1)
    m.runUntilIdle()
    d.writeTxDescriptor(1, d.txBuffers[1]!, 0, TXD_EOP | TXD_IFCS | TXD_RS)
    d.doorbell(2)
    m.runUntilIdle()
    const padded = [...f, ...new Array(60 - f.length).fill(0)]
    expect(m.nic.counters.tx.frames).toBe(1)
    expect(d.receive().map((r) => [...r.data])).toEqual([padded])
  })
})
