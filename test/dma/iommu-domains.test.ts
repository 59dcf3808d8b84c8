import { describe, expect, it } from 'vitest'
import { createMachine } from '../../src/index.js'
import { parseBdf } from '../../src/hw/pci.js'
import { asLogical, asPhysical } from '../../src/hw/address.js'

const NIC = parseBdf('00:03.0')
const OTHER = parseBdf('00:05.0')

describe('IOMMU domain programming (the DMA layer builds, the hardware walks)', () => {
  it('builds its tables from PFN-database frames of kind iommu-table, only when the IOMMU is used', () => {
    const off = createMachine()
    expect(off.iommu.domains.tableFrames).toBe(0)
    const m = createMachine({ iommu: true })
    // Boot: a root table, bus 0's context table and the NIC's top-level table.
    expect(m.iommu.domains.tableFrames).toBe(3)
    const root = m.iommu.hardware.rootTableAddress
    expect(m.kernel.frames.ownerOf(root / 4096)?.kind).toBe('iommu-table')
    expect(m.kernel.frames.freeFrames).toBe(m.kernel.frames.totalFrames - 3)
    // Mapping one page needs the three lower levels.
    m.iommu.map('00:03.0', 0x1000, 0x10_0000, 4096, { read: true, write: true })
    expect(m.iommu.domains.tableFrames).toBe(6)
    // A neighbouring page reuses them.
    m.iommu.map('00:03.0', 0x2000, 0x10_1000, 4096, { read: true, write: true })
    expect(m.iommu.domains.tableFrames).toBe(6)
  })

  it('starts every table empty even when its frame held old data', () => {
    const m = createMachine({ memory: { size: '64MiB', policy: 'low-first' } })
    const owner = m.kernel.frames.newOwner('pool', 'scribbler', true)
    const pfns = Array.from({ length: 8 }, () => m.kernel.frames.allocate(owner))
    for (const pfn of pfns) m.ram.fill(pfn * 4096, 4096, 0xff)
    for (const pfn of pfns) m.kernel.frames.free(pfn)
    expect(m.iommu.domains.enable()).toBe(true)
    m.iommu.map('00:03.0', 0x5000, 0x20_0000, 4096, { read: true, write: false })
    expect(m.iommu.lookup('00:03.0', 0x5000)).toBe(0x20_0000)
    expect(m.iommu.lookup('00:03.0', 0x6000)).toBe(-1)
    expect(m.iommu.lookup('00:03.0', 0x5000, 'write')).toBe(-1)
  })

  it('gives each requester its own domain, and invalidating one leaves the other cached', () => {
    const m = createMachine({ iommu: true })
    const d = m.iommu.domains
    d.map(NIC, asLogical(0x1000), asPhysical(0x10_0000), 4096, { read: true, write: true })
    d.map(OTHER, asLogical(0x1000), asPhysical(0x20_0000), 4096, { read: true, write: true })
    expect(d.domainId(NIC)).not.toBe(d.domainId(OTHER))
    const hw = m.iommu.hardware
    expect(hw.translate(NIC, 0x1000, false)).toBe(0x10_0000)
    expect(hw.translate(OTHER, 0x1000, false)).toBe(0x20_0000)
    d.unmap(NIC, asLogical(0x1000), 4096, { invalidate: false })
    d.unmap(OTHER, asLogical(0x1000), 4096, { invalidate: false })
    d.invalidate(NIC)
    expect(hw.translate(NIC, 0x1000, false)).toBeLessThan(0)
    expect(hw.translate(OTHER, 0x1000, false)).toBe(0x20_0000) // still stale: not invalidated
  })

  it('counts mapped pages and unmaps only what was mapped', () => {
    const m = createMachine({ iommu: true })
    m.iommu.map('00:03.0', 0x10_0800, 0x30_0800, 3 * 4096, { read: true, write: true })
    expect(m.iommu.domains.mappedPages(NIC)).toBe(4) // 0x10_0800 + 12 KiB spans four pages
    expect(m.iommu.unmap('00:03.0', 0x10_0000, 2 * 4096)).toBe(2)
    expect(m.iommu.unmap('00:03.0', 0x10_0000, 2 * 4096)).toBe(0)
    expect(m.iommu.domains.mappedPages(NIC)).toBe(2)
    expect(m.iommu.unmap('00:07.0', 0, 4096)).toBe(0)
  })

  it('refuses host-API misuse with a RangeError naming the problem', () => {
    const m = createMachine({ iommu: true })
    expect(() => m.iommu.map('00:03.0', 0x1001, 0x2000, 16, { read: true, write: true })).toThrow(/different offsets/)
    expect(() => m.iommu.map('00:03.0', 0x1000, 0x2000, 0, { read: true, write: true })).toThrow(/length/)
    expect(() => m.iommu.map('00:03.0', 0x1000, 0x2000, 16, { read: false, write: false })).toThrow(/read, write or both/)
    expect(() => m.iommu.map('00:03.0', 2 ** 48 - 4096, 0x2000, 8192, { read: true, write: true })).toThrow(/48-bit/)
    expect(() => m.iommu.map('zz', 0x1000, 0x2000, 16, { read: true, write: true })).toThrow(/bus:device.function/)
  })

  it('maps nothing and says so when no frame is left for a table', () => {
    const m = createMachine({ memory: { size: '16MiB' }, iommu: true })
    const owner = m.kernel.frames.newOwner('pool', 'hog', true)
    while (m.kernel.frames.allocate(owner) >= 0) {
      // take every frame
    }
    expect(m.iommu.map('00:03.0', 0x10_0000, 0x20_0000, 4096, { read: true, write: true })).toBe(false)
    expect(m.iommu.domains.mappedPages(NIC)).toBe(0)
    expect(m.iommu.lookup('00:03.0', 0x10_0000)).toBe(-1)
  })

  it('reports whether translation is enabled', () => {
    const m = createMachine()
    expect(m.iommu.domains.translationEnabled).toBe(false)
    m.iommu.domains.enable()
    expect(m.iommu.domains.translationEnabled).toBe(true)
    expect(m.iommu.enabled).toBe(true)
    m.iommu.domains.disable()
    expect(m.iommu.enabled).toBe(false)
  })
})
