// The NIC behind a VT-d-style IOMMU, driven bare-metal: a 32-bit device reaching memory above
// 4 GiB through device addresses below it, and what a blocked device write does. Device writes
// are posted (REFERENCE §1): the device never learns that one was blocked, so it sets no error
// (RXE, 3.2.3.2, means a PHY error) and carries on; the IOMMU records the fault.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import { BareMetalE1000, DD, EOP, IXSM, NIC_MAC, R, TXD_EOP, TXD_RS, e1000, ethernetFrame } from '../../support/e1000-driver.js'

const GiB = 1024 ** 3
const HIGH = 5 * GiB
const IOVA = 0x1000_0000

describe('the NIC behind the IOMMU', () => {
  it('a 32-bit device reaches memory above 4 GiB through device addresses below it', () => {
    const m = createMachine({ iommu: true, wire: 'loopback' })
    const d = new BareMetalE1000(m, { base: HIGH, iova: IOVA }).init()
    const frames = [ethernetFrame(60, NIC_MAC, 1), ethernetFrame(1514, NIC_MAC, 2)]
    for (const f of frames) d.send(f)
    m.runUntilIdle()
    expect(m.findings).toEqual([])
    expect(d.receive().map((r) => [...r.data])).toEqual(frames.map((f) => [...f]))
    expect(m.iommu.hardware.iotlb.hits).toBeGreaterThan(0)
  })

  // REFERENCE §1: device writes are posted; a write the IOMMU blocks is lost without the
  // device learning of it. RXE (3.2.3.2) means a PHY error, so it stays clear, and the queue
  // goes on; the fault is the IOMMU's record (and the iommu-fault finding).
  it('an unmapped receive buffer faults: fault record and iommu-fault finding; the device, not knowing, sets no error and carries on', () => {
    const m = createMachine({ iommu: true })
    const d = new BareMetalE1000(m, { base: HIGH, iova: IOVA }).init()
    d.armRx(0, 0x7000_0000)
    m.wire.inject(ethernetFrame(64, NIC_MAC))
    m.wire.inject(ethernetFrame(64, NIC_MAC, 1))
    m.runUntilIdle()
    expect(m.iommu.faults).toEqual([{ requester: '00:03.0', address: 0x7000_0000, access: 'write', reason: 5, reasonText: 'write not permitted' }])
    expect(m.findings.map((f) => f.kind)).toEqual(['iommu-fault'])
    expect(d.rxDescriptor(0)).toMatchObject({ status: DD | EOP | IXSM, errors: 0 })
    expect(d.rxDescriptor(1)).toMatchObject({ status: DD | EOP | IXSM, errors: 0 })
    expect([...m.cpu.readBytes(d.rxBuffers[1]!, 64)]).toEqual([...ethernetFrame(64, NIC_MAC, 1)])
  })

  it('a receive descriptor write-back the IOMMU blocks is lost; the ring goes on with the next descriptor', () => {
    const m = createMachine({ iommu: true })
    const d = new BareMetalE1000(m, { base: HIGH, iova: IOVA }).init()
    // Descriptor 0's page read-only: the device can fetch it but not write it back.
    const ring = d.device(d.rxRing)
    m.iommu.map('00:03.0', ring, d.rxRing, 256, { read: true, write: false })
    m.wire.inject(ethernetFrame(64, NIC_MAC))
    m.runUntilIdle()
    expect(m.iommu.faults.map((f) => [f.address, f.access])).toEqual([[ring + 8, 'write'], [ring + 12, 'write']])
    expect(e1000(m).rx.stopped).toBe(false)
    expect(d.read(R.RDH)).toBe(1)
    m.iommu.map('00:03.0', ring, d.rxRing, 256, { read: true, write: true })
    m.wire.inject(ethernetFrame(64, NIC_MAC, 2))
    m.runUntilIdle()
    expect(d.rxDescriptor(1)).toMatchObject({ status: DD | EOP | IXSM, length: 64 })
    expect(m.findings.every((f) => f.kind === 'iommu-fault')).toBe(true)
  })

  it('a transmit write-back the IOMMU blocks is lost; the queue keeps sending', () => {
    const m = createMachine({ iommu: true })
    const d = new BareMetalE1000(m, { base: HIGH, iova: IOVA }).init()
    const ring = d.device(d.txRing)
    m.iommu.map('00:03.0', ring, d.txRing, 256, { read: true, write: false })
    d.send(ethernetFrame(64))
    d.send(ethernetFrame(64, undefined, 1))
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(2)
    expect(m.iommu.faults.map((f) => f.access)).toEqual(['write', 'write'])
    expect(e1000(m).tx.stopped).toBe(false)
    expect(d.txDescriptor(0).status & DD).toBe(0)
  })

  it('a read-only mapping lets the device read it and refuses its writes', () => {
    const m = createMachine({ iommu: true, wire: 'loopback' })
    const d = new BareMetalE1000(m, { base: HIGH, iova: IOVA }).init()
    // Remap receive buffer 0 read-only.
    const rx0 = d.device(d.rxBuffers[0]!)
    m.iommu.map('00:03.0', rx0, d.rxBuffers[0]!, 2048, { read: true, write: false })
    m.cpu.writeBytes(d.rxBuffers[0]!, ethernetFrame(64, NIC_MAC, 9))
    // The device may transmit from it...
    d.writeTxDescriptor(0, rx0, 64, TXD_EOP | TXD_RS)
    d.txTail = 1
    d.doorbell()
    m.runUntilIdle()
    // ...but the looped-back frame cannot be written into it.
    expect(m.iommu.faults.map((f) => [f.address, f.access, f.reason])).toEqual([[rx0, 'write', 5]])
    expect(d.rxDescriptor(0).errors).toBe(0)
    expect([...m.cpu.readBytes(d.rxBuffers[0]!, 64)]).toEqual([...ethernetFrame(64, NIC_MAC, 9)])
  })

  it('a stale IOTLB entry lets the device use a buffer after it was unmapped, until the IOTLB is invalidated', () => {
    const m = createMachine({ iommu: true })
    const d = new BareMetalE1000(m, { base: HIGH, iova: IOVA }).init()
    // Transmit buffer 1 sits on a page of its own (the rings share page 0 with buffer 0).
    const buffer = d.device(d.txBuffers[1]!)
    expect(buffer % 4096).toBe(0)
    m.cpu.writeBytes(d.txBuffers[1]!, ethernetFrame(100))
    const post = (i: number): void => {
      d.writeTxDescriptor(i, buffer, 100, TXD_EOP | TXD_RS)
      d.txTail = i + 1
      d.doorbell()
      m.runUntilIdle()
    }
    post(0)
    expect(m.wire.transmitted).toHaveLength(1)
    // The driver unmaps the buffer but forgets to invalidate, then hands it out again.
    m.iommu.unmap('00:03.0', buffer, 4096, { invalidate: false })
    post(1)
    expect(m.wire.transmitted).toHaveLength(2)
    expect(m.iommu.faults).toEqual([])
    m.iommu.invalidate('00:03.0')
    post(2)
    expect(m.wire.transmitted).toHaveLength(2)
    expect(m.iommu.faults.map((f) => [f.address, f.access, f.reason])).toEqual([[buffer, 'read', 6]])
    expect(m.nic.counters.tx.dropped).toBe(1)
  })
})
