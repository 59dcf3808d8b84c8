import { describe, expect, it } from 'vitest'
import { createMachine } from '../../src/index.js'
import { DMA_STATUS } from '../../src/hw/dma-engine.js'
import { BareMetalE1000, NIC_MAC, PCI_BUS_MASTER, PCI_MEMORY, R, TXD_EOP, TXD_RS, ethernetFrame } from '../support/e1000-driver.js'

const GiB = 1024 ** 3
const HIGH = 4 * GiB + 0x20_0000

describe('the NIC DMA engine', () => {
  it('truncates a transmit ring base above 4 GiB to 32 bits and reports both addresses', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m, { base: HIGH }).init()
    // The real ring is above 4 GiB; what sits at the truncated address is another page.
    const frame = ethernetFrame(80)
    d.send(frame)
    m.runUntilIdle()
    const truncations = m.findings.filter((f) => f.kind === 'dma-address-truncated')
    expect(truncations[0]?.details).toMatchObject({ requester: '00:03.0', intended: HIGH, actual: HIGH - 4 * GiB, access: 'read', addressBits: 32 })
    expect(truncations[0]?.message).toMatch(/0x1_0020_0000.*0x20_0000/)
    // The device read zeros at the truncated address: a zero-length descriptor, nothing sent.
    expect(m.wire.transmitted).toHaveLength(0)
  })

  it('truncates a buffer address above 4 GiB: the frame carries whatever is at the truncated address', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    const real = ethernetFrame(100, NIC_MAC, 1)
    const alias = ethernetFrame(100, NIC_MAC, 2)
    m.cpu.writeBytes(HIGH, real)
    m.cpu.writeBytes(HIGH - 4 * GiB, alias)
    d.writeTxDescriptor(0, HIGH, 100, TXD_EOP | TXD_RS)
    d.txTail = 1
    d.doorbell()
    m.runUntilIdle()
    expect([...m.wire.transmitted[0]!]).toEqual([...alias])
    expect(m.findings.map((f) => [f.kind, f.details?.intended, f.details?.actual])).toEqual([['dma-address-truncated', HIGH, HIGH - 4 * GiB]])
  })

  it('reaches memory above 4 GiB with dmaAddressBits 64, ring and buffers alike', () => {
    const m = createMachine({ nic: { dmaAddressBits: 64 }, wire: 'loopback' })
    const d = new BareMetalE1000(m, { base: HIGH }).init()
    const frame = ethernetFrame(300, NIC_MAC)
    d.send(frame)
    m.runUntilIdle()
    expect(m.findings).toEqual([])
    expect([...d.receive()[0]!.data]).toEqual([...frame])
  })

  it('wraps an access that runs past the top of its address lines', () => {
    const m = createMachine()
    m.pci.configWrite32('00:03.0', 4, PCI_MEMORY | PCI_BUS_MASTER)
    m.cpu.writeBytes(0, new Uint8Array(16).fill(2))
    const buf = new Uint8Array(32)
    // 0x1_0000_0000 - 16: the first 16 bytes are below the limit, the rest wrap to 0.
    expect(m.nic.dma.read(4 * GiB - 16, buf, 0, 32)).toBe(DMA_STATUS.masterAbort)
    expect([...buf.subarray(16)]).toEqual(new Array(16).fill(2))
    expect(m.findings.map((f) => f.kind)).toEqual(['device-error', 'dma-address-truncated'])
    expect(m.findings[1]?.details).toMatchObject({ intended: 4 * GiB, actual: 0 })
  })

  it('moves nothing while bus mastering is off, reports it, and carries on once it is enabled', () => {
    const m = createMachine({ wire: 'loopback' })
    const d = new BareMetalE1000(m, { busMaster: false }).init()
    d.send(ethernetFrame(64, NIC_MAC))
    m.runUntilIdle()
    expect(m.wire.counters.txFrames).toBe(0)
    expect(m.findings.map((f) => f.kind)).toEqual(['bus-master-disabled'])
    m.wire.inject(ethernetFrame(64, NIC_MAC))
    m.runUntilIdle()
    expect(d.read(R.MPC)).toBe(1)
    expect(m.findings.map((f) => f.kind)).toEqual(['bus-master-disabled', 'bus-master-disabled'])
    d.pciCommand(PCI_MEMORY | PCI_BUS_MASTER)
    m.runUntilIdle()
    expect(d.receive()).toHaveLength(1)
    const buf = new Uint8Array(4)
    d.pciCommand(PCI_MEMORY)
    expect(m.nic.dma.read(0x1000, buf, 0, 4)).toBe(DMA_STATUS.busMasterDisabled)
    expect([...buf]).toEqual([0xff, 0xff, 0xff, 0xff])
  })

  it('ends an access to nothing in a master abort: all-ones, PCI status bit, device-error, frame dropped', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    d.writeTxDescriptor(0, 0xd000_0000, 64, TXD_EOP | TXD_RS)
    d.txTail = 1
    d.doorbell()
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(0)
    expect(m.findings.map((f) => f.details?.reason)).toEqual(['master-abort'])
    expect((m.pci.configRead32('00:03.0', 4) >>> 16) & 0x2000).toBe(0x2000)
    // Software clears the status bit by writing 1 to it.
    m.pci.configWrite32('00:03.0', 4, (0x2000 << 16) | PCI_MEMORY | PCI_BUS_MASTER)
    expect((m.pci.configRead32('00:03.0', 4) >>> 16) & 0x2000).toBe(0)
    const buf = new Uint8Array(8)
    m.nic.dma.read(0xd000_0000, buf, 0, 8)
    expect([...buf]).toEqual(new Array(8).fill(0xff))
  })

  it('tells the observer every access after translation, one call per page', () => {
    const m = createMachine({ iommu: true })
    m.pci.configWrite32('00:03.0', 4, PCI_MEMORY | PCI_BUS_MASTER)
    // Two device pages that are contiguous at 0x10_0000 land on frames far apart.
    m.iommu.map('00:03.0', 0x10_0000, 5 * GiB, 4096, { read: true, write: true })
    m.iommu.map('00:03.0', 0x10_1000, 6 * GiB, 4096, { read: true, write: true })
    const seen: unknown[] = []
    m.nic.dma.observer = { onAccess: (...args) => void seen.push(args) }
    const data = Uint8Array.from({ length: 64 }, (_, i) => i)
    expect(m.nic.dma.write(0x10_0fe0, data, 0, 64)).toBe(DMA_STATUS.ok)
    expect(seen).toEqual([
      ['00:03.0', 0x10_0fe0, 5 * GiB + 0xfe0, 32, 'write'],
      ['00:03.0', 0x10_1000, 6 * GiB, 32, 'write'],
    ])
    expect([...m.ram.readBytes(6 * GiB, 32)]).toEqual([...data.subarray(32)])
    const back = new Uint8Array(64)
    expect(m.nic.dma.read(0x10_0fe0, back, 0, 64)).toBe(DMA_STATUS.ok)
    expect([...back]).toEqual([...data])
    m.nic.dma.observer = null
    expect(m.nic.dma.read(0x10_0fe0, back, 0, 64)).toBe(DMA_STATUS.ok)
    expect(seen).toHaveLength(4)
  })

  it('reads all-ones through a faulting page and drops a faulting write', () => {
    const m = createMachine({ iommu: true })
    m.pci.configWrite32('00:03.0', 4, PCI_MEMORY | PCI_BUS_MASTER)
    m.iommu.map('00:03.0', 0x10_0000, 5 * GiB, 4096, { read: true, write: true })
    m.ram.writeBytes(5 * GiB + 0xff0, new Uint8Array(16).fill(7))
    const buf = new Uint8Array(32)
    expect(m.nic.dma.read(0x10_0ff0, buf, 0, 32)).toBe(DMA_STATUS.iommuFault)
    expect([...buf]).toEqual([...new Array(16).fill(7), ...new Array(16).fill(0xff)])
    expect(m.nic.dma.write(0x20_0000, new Uint8Array(8).fill(9), 0, 8)).toBe(DMA_STATUS.iommuFault)
    expect(m.iommu.faults.map((f) => [f.address, f.access])).toEqual([[0x10_1000, 'read'], [0x20_0000, 'write']])
    expect(m.nic.dma.counters.iommuFaults).toBe(2)
  })
})
