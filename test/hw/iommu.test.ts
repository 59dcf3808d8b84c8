import { describe, expect, it } from 'vitest'
import { createMachine, type Machine } from '../../src/index.js'
import { FAULT_LOG_LIMIT } from '../../src/hw/iommu/iommu.js'
import { CONTEXT_ENTRY, ROOT_ENTRY, TT_PASS_THROUGH } from '../../src/hw/iommu/formats.js'
import { parseBdf } from '../../src/hw/pci.js'

const NIC = parseBdf('00:03.0')
const GiB = 1024 ** 3

function iommuMachine(config: Parameters<typeof createMachine>[0] = {}): Machine {
  return createMachine({ iommu: true, ...config })
}

/** The 4 KiB-aligned address held in a 64-bit entry at `at`. */
function pointer(m: Machine, at: number): number {
  return m.ram.read32(at + 4) * 2 ** 32 + ((m.ram.read32(at) & ~0xfff) >>> 0)
}

/** Where the context entry of a bus-0 requester lives. */
function contextEntryOf(m: Machine, requester: number): number {
  return pointer(m, m.iommu.hardware.rootTableAddress + ROOT_ENTRY.offset.low) + (requester & 0xff) * CONTEXT_ENTRY.span
}

describe('IOMMU translation (VT-d second level)', () => {
  it('translates a device address below 4 GiB to memory above it, per page', () => {
    const m = iommuMachine()
    expect(m.iommu.map('00:03.0', 0x10_0000, 5 * GiB + 0x3000, 0x2000, { read: true, write: true })).toBe(true)
    const hw = m.iommu.hardware
    expect(hw.translate(NIC, 0x10_0010, false)).toBe(5 * GiB + 0x3010)
    expect(hw.translate(NIC, 0x10_1ff8, true)).toBe(5 * GiB + 0x4ff8)
    expect(m.iommu.lookup('00:03.0', 0x10_1000)).toBe(5 * GiB + 0x4000)
  })

  it('records an unmapped access as a fault with exactly requester, address, access, reason and reasonText', () => {
    const m = iommuMachine()
    expect(m.iommu.hardware.translate(NIC, 0x4000_0123, true)).toBe(-5)
    expect(m.iommu.faults).toEqual([{ requester: '00:03.0', address: 0x4000_0123, access: 'write', reason: 5, reasonText: 'write not permitted' }])
    const finding = m.findings.find((f) => f.kind === 'iommu-fault')
    expect(finding?.details).toMatchObject({ requester: '00:03.0', address: 0x4000_0123, access: 'write', reason: 5 })
    expect(finding?.code).toBe(0xe6)
  })

  it('refuses a write through a read-only mapping and a read through a write-only one', () => {
    const m = iommuMachine()
    m.iommu.map('00:03.0', 0x1000, 0x20_0000, 4096, { read: true, write: false })
    m.iommu.map('00:03.0', 0x2000, 0x21_0000, 4096, { read: false, write: true })
    const hw = m.iommu.hardware
    expect(hw.translate(NIC, 0x1000, false)).toBe(0x20_0000)
    expect(hw.translate(NIC, 0x1000, true)).toBe(-5)
    expect(hw.translate(NIC, 0x2000, true)).toBe(0x21_0000)
    expect(hw.translate(NIC, 0x2000, false)).toBe(-6)
    expect(m.iommu.faults.map((f) => f.reason)).toEqual([5, 6])
  })

  it('keeps translating through a stale IOTLB entry after an unmap without invalidation, until invalidated', () => {
    const m = iommuMachine()
    const hw = m.iommu.hardware
    m.iommu.map('00:03.0', 0x8000, 0x30_0000, 4096, { read: true, write: true })
    expect(hw.translate(NIC, 0x8000, false)).toBe(0x30_0000) // now cached
    expect(m.iommu.unmap('00:03.0', 0x8000, 4096, { invalidate: false })).toBe(1)
    expect(m.iommu.lookup('00:03.0', 0x8000)).toBe(-1) // the tables say unmapped...
    expect(hw.translate(NIC, 0x8000, true)).toBe(0x30_0000) // ...the IOTLB still says mapped
    m.iommu.invalidate('00:03.0')
    expect(hw.translate(NIC, 0x8000, false)).toBe(-6)
    // The default unmap invalidates.
    m.iommu.map('00:03.0', 0x9000, 0x31_0000, 4096, { read: true, write: true })
    expect(hw.translate(NIC, 0x9000, false)).toBe(0x31_0000)
    m.iommu.unmap('00:03.0', 0x9000, 4096)
    expect(hw.translate(NIC, 0x9000, false)).toBe(-6)
  })

  it('replacing a mapping invalidates the old translation', () => {
    const m = iommuMachine()
    const hw = m.iommu.hardware
    m.iommu.map('00:03.0', 0x8000, 0x30_0000, 4096, { read: true, write: true })
    hw.translate(NIC, 0x8000, false)
    m.iommu.map('00:03.0', 0x8000, 0x40_0000, 4096, { read: true, write: true })
    expect(hw.translate(NIC, 0x8000, false)).toBe(0x40_0000)
  })

  it('caches translations: repeated accesses hit the IOTLB, and a global invalidation empties it', () => {
    const m = iommuMachine()
    const hw = m.iommu.hardware
    m.iommu.map('00:03.0', 0, 0x100_0000, 16 * 4096, { read: true, write: true })
    for (let round = 0; round < 10; round++) for (let p = 0; p < 16; p++) hw.translate(NIC, p * 4096, false)
    expect(hw.iotlb.misses).toBeLessThanOrEqual(20)
    expect(hw.iotlb.hits).toBeGreaterThanOrEqual(140)
    expect(hw.iotlb.occupied).toBeGreaterThan(0)
    m.iommu.invalidate()
    expect(hw.iotlb.occupied).toBe(0)
  })

  it('faults with the VT-d reason for each broken structure', () => {
    const m = iommuMachine()
    const hw = m.iommu.hardware
    // Reason 2: a bus-0 device with no context entry.
    expect(hw.translate(parseBdf('00:04.0'), 0x1000, false)).toBe(-2)
    // Reason 1: a bus with no root entry.
    expect(hw.translate(parseBdf('05:00.0'), 0x1000, false)).toBe(-1)
    // Reason 4: beyond the 48-bit address width.
    expect(hw.translate(NIC, 2 ** 48, false)).toBe(-4)
    // Reason 3: a context entry with an unsupported address width.
    const ctx = contextEntryOf(m, NIC)
    const word2 = m.ram.read32(ctx + CONTEXT_ENTRY.offset.widthAndDomain)
    m.ram.write32(ctx + CONTEXT_ENTRY.offset.widthAndDomain, (word2 & ~7) | 1)
    hw.invalidateContextCache()
    expect(hw.translate(NIC, 0x1000, false)).toBe(-3)
    // Reason 0xB: reserved bits set in the context entry.
    m.ram.write32(ctx + CONTEXT_ENTRY.offset.widthAndDomain, word2 | 0x80)
    hw.invalidateContextCache()
    expect(hw.translate(NIC, 0x1000, false)).toBe(-0xb)
    m.ram.write32(ctx + CONTEXT_ENTRY.offset.widthAndDomain, word2)
    hw.invalidateContextCache()
    // Reason 8: the root table pointer is not memory.
    const root = hw.rootTableAddress
    hw.setRootTable(0xd000_0000)
    hw.invalidateContextCache()
    expect(hw.translate(NIC, 0x1000, false)).toBe(-8)
    hw.setRootTable(root)
    hw.invalidateContextCache()
    expect(m.iommu.faults.map((f) => f.reason)).toEqual([2, 1, 4, 3, 0xb, 8])
    expect(m.iommu.faults.every((f) => f.reasonText.length > 0)).toBe(true)
  })

  it('reports a large-page bit in a non-leaf entry as a reserved-field fault (no large pages supported)', () => {
    const m = iommuMachine()
    const hw = m.iommu.hardware
    m.iommu.map('00:03.0', 0x1000, 0x20_0000, 4096, { read: true, write: true })
    const ctx = contextEntryOf(m, NIC)
    const top = pointer(m, ctx)
    expect(top).toBeGreaterThan(4 * GiB) // tables come from the PFN database, high-first
    m.ram.write32(top, m.ram.read32(top) | 0x80)
    hw.invalidateIotlb()
    expect(hw.translate(NIC, 0x1000, false)).toBe(-0xc)
  })

  it('does not record faults when the context entry sets FPD, yet still blocks the access', () => {
    const m = iommuMachine()
    const hw = m.iommu.hardware
    const ctx = contextEntryOf(m, NIC)
    m.ram.write32(ctx, m.ram.read32(ctx) | 0x2)
    hw.invalidateContextCache()
    expect(hw.translate(NIC, 0x1000, false)).toBe(-6)
    expect(m.iommu.faults).toEqual([])
    expect(hw.stats.faults).toBe(1)
  })

  it('passes addresses through for a pass-through context entry', () => {
    const m = iommuMachine()
    const hw = m.iommu.hardware
    const ctx = contextEntryOf(m, NIC)
    m.ram.write32(ctx, (m.ram.read32(ctx) & ~0xc) | (TT_PASS_THROUGH << 2))
    hw.invalidateContextCache()
    expect(hw.translate(NIC, 0x1234_5678, true)).toBe(0x1234_5678)
  })

  it('keeps at most FAULT_LOG_LIMIT fault records and counts the rest', () => {
    const m = iommuMachine()
    for (let i = 0; i < FAULT_LOG_LIMIT + 10; i++) m.iommu.hardware.translate(NIC, i * 4096, false)
    expect(m.iommu.faults).toHaveLength(FAULT_LOG_LIMIT)
    expect(m.iommu.hardware.faultsDropped).toBe(10)
  })

  it('translates nothing while translation is off', () => {
    const m = createMachine()
    expect(m.iommu.enabled).toBe(false)
    expect(m.iommu.hardware.translate(NIC, 0x1234, true)).toBe(0x1234)
  })
})
