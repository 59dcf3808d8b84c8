// Every device access is checked against the live DMA mappings and the kernel's frame
// ownership, and every device-side DMA finding kind is reproduced here through the NIC the
// test miniport drives: a raw physical address where a DMA address belongs (S14, S16, S26,
// S27), a freed buffer, a write past the end, a device that cannot reach what it was given, a
// device with bus mastering off, a descriptor that points at registers. Each finding says why
// and names the driver line that allocated the memory involved.
import { describe, expect, it } from 'vitest'
import { BugCheck, BUGCHECK } from '../../src/index.js'
import { hex } from '../../src/hw/address.js'
import { DMALAB_P1 } from '../../src/kernel/kinds.js'
import { DMA_STATUS } from '../../src/hw/dma-engine.js'
import type { DMA_ADAPTER } from '../../src/ndis/api.js'
import { TWO_POW_32, firstFinding, kinds, lineHere, loadTestMiniport, theFinding, type Loaded } from '../support/driver-fixture.js'
import { REG, receiveIntoRaw, transmitRaw, writeReg } from '../support/test-miniport.js'

const PAGE = 4096
/** The test miniport's ring allocation line for `rings: 'contiguous-physical'`. */
const CONTIGUOUS_RING_SITE = /^test\/support\/test-miniport\.ts:\d+$/

const WHY_CONTIGUOUS = 'MmAllocateContiguousMemory[SpecifyCache] + MmGetPhysicalAddress gives a CPU physical address, not a DMA address'

function count(m: Loaded['m'], kind: string): number {
  return m.findings.filter((f) => f.kind === kind).length
}

describe('S14 a ring programmed with MmGetPhysicalAddress of contiguous memory', () => {
  it('S14 with the IOMMU off moves every frame intact but every kind of device access to it is reported, with why and where', () => {
    const { m } = loadTestMiniport({ iommu: false, memory: { policy: 'high-first' } }, { rings: 'contiguous-physical' })
    m.traffic.send({ count: 20, size: 500 })
    m.halt()
    const r = m.report()
    expect(r.traffic.txFrames).toBe(20)
    expect(r.traffic.rxFrames).toBe(20)
    expect(r.traffic.dropped.rxCorrupt).toBe(0)
    // One finding per ring and direction: the device reads descriptors and writes status back.
    expect(kinds(m)).toEqual(['dma-not-dma-memory', 'dma-not-dma-memory', 'dma-not-dma-memory', 'dma-not-dma-memory'])
    const accesses = r.findings.map((f) => f.details!['access'])
    expect(accesses.sort()).toEqual(['read', 'read', 'write', 'write'])
    for (const f of r.findings) {
      expect(f.severity).toBe('violation')
      expect(f.code).toBe(BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION)
      expect(f.params).toEqual([0x0f, 0, 0, 0])
      expect(f.site).toMatch(CONTIGUOUS_RING_SITE)
      expect(f.message).toContain('in contiguous memory 4 KiB at VA ')
      expect(f.message).toContain(`(allocated at ${f.site!})`)
      expect(f.message).toContain(WHY_CONTIGUOUS)
      // What a user reads names no internal rule ID (seed rules stay in tests and comments).
      expect(f.message).not.toMatch(/\bS\d\d\b/)
      expect(f.details).toMatchObject({ requester: '00:03.0', memoryKind: 'contiguous' })
      expect(f.details!['deviceAddress']).toBe(f.details!['physicalAddress'])
    }
    expect(r.outcome).toBe('findings')
  })

  it('S14 in crash mode the first such device access stops the run and reaches the caller of m.traffic.send as 0xE6/0x0F', () => {
    const { m } = loadTestMiniport({ verifier: { mode: 'crash' } }, { rings: 'contiguous-physical' })
    let caught: unknown
    try {
      m.traffic.send({ count: 3, size: 100 })
    } catch (e) {
      caught = e
    }
    expect(caught).toBeInstanceOf(BugCheck)
    expect(caught).toMatchObject({ code: 0xe6, params: [0x0f, 0, 0, 0], kind: 'dma-not-dma-memory' })
    expect(m.report().outcome).toBe('bugcheck')
  })

  it('S14 with the IOMMU on faults: the fault says the address was never mapped and is the physical address of contiguous memory', () => {
    const { m, a } = loadTestMiniport({ iommu: true, memory: { policy: 'high-first' } }, { rings: 'contiguous-physical' })
    const txRing = a.txRing
    m.traffic.send({ count: 5, size: 500 })
    m.halt()
    const r = m.report()
    expect(r.traffic.txFrames).toBe(0)
    const f = firstFinding(m, 'iommu-fault')
    expect(kinds(m)[0]).toBe('iommu-fault')
    expect(f.code).toBe(BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION)
    const address = f.details!['address'] as number
    // Bug check 0xE6/0x26: the device object, the faulting address, the fault type (VT-d reason 6).
    expect(f.params).toEqual([0x26, m.pdo.address, address, 6])
    expect(f.message).toBe(
      `IOMMU fault: 00:03.0 read at device address ${hex(address)}: read not permitted (VT-d reason 6). ` +
        `${hex(address)} was never mapped for the device: it is the CPU physical address of contiguous memory 4 KiB at VA ${hex(txRing)} (allocated at ${f.site!}), ` +
        `and with DMA remapping on the device sees only addresses the HAL mapped for it. ${WHY_CONTIGUOUS}: it reaches the device only while no IOMMU, bounce buffer or translation sits between them. ` +
        'Allocate DMA memory with AllocateCommonBuffer (NdisMAllocateSharedMemory) or map it with an S/G list',
    )
    expect(f.site).toMatch(CONTIGUOUS_RING_SITE)
    expect(r.dma.iommuFaults[0]).toEqual({ requester: '00:03.0', address, access: 'read', reason: 6, reasonText: 'read not permitted' })
    // The device stops its transmit queue (device-error), so the pause never completes: a hang.
    // (Its receive queue stops too, at the LAN's first frame after TCP/IP unbound.)
    expect(firstFinding(m, 'device-error').message).toContain('transmit descriptor 0 fetch at device address')
    expect(count(m, 'hang')).toBe(1)
    expect(count(m, 'dma-not-dma-memory')).toBe(0)
  })
})

describe('driver memory handed to the device by raw address', () => {
  it('S26 pool memory by its physical address is dma-not-dma-memory naming the pool block and its allocating line', () => {
    const { m, a, ndis } = loadTestMiniport({ iommu: false, memory: { policy: 'low-first' } })
    const site = lineHere(1)
    const va = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 200, 'wArT')
    transmitRaw(a, ndis.MmGetPhysicalAddress(va), 200)
    m.runUntilIdle()
    const f = theFinding(m, 'dma-not-dma-memory')
    expect(f.site).toBe(site)
    expect(f.message).toContain(`in nonpaged pool block 'TrAw' (200 bytes) at VA ${hex(va)} (allocated at ${site}), which no live DMA mapping covers`)
    expect(f.message).toContain('pool memory handed to the device by its physical address rather than through an S/G list (GetScatterGatherList / NdisMAllocateNetBufferSGList; for NDIS 5, NdisMStartBufferPhysicalMapping or the ScatterGatherListPacketInfo NDIS builds), so no DMA mapping covers it')
    expect(f.details).toMatchObject({ access: 'read', memoryKind: 'pool', physicalAddress: ndis.MmGetPhysicalAddress(va) })
  })

  it('S26 with the IOMMU on the same raw address faults, and the fault names the pool block', () => {
    const { m, a, ndis } = loadTestMiniport({ iommu: true, memory: { policy: 'low-first' } })
    const site = lineHere(1)
    const va = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 200, 'wArT')
    transmitRaw(a, ndis.MmGetPhysicalAddress(va), 200)
    m.runUntilIdle()
    const f = theFinding(m, 'iommu-fault')
    expect(f.site).toBe(site)
    expect(f.message).toContain(`was never mapped for the device: it is the CPU physical address of nonpaged pool block 'TrAw' (200 bytes) at VA ${hex(va)} (allocated at ${site})`)
  })

  it('S26 with the IOMMU on, the physical address of shared memory in place of its logical address is named, and the finding says which address to use', () => {
    // low-first: the physical address is below 4 GiB and faults in the IOMMU; high-first: it is
    // above, and the 32 address lines truncate it before the IOMMU sees it.
    for (const [policy, kind] of [['low-first', 'iommu-fault'], ['high-first', 'dma-address-truncated']] as const) {
      const { m, a, ndis } = loadTestMiniport({ iommu: true, memory: { policy } })
      const pa = ndis.MmGetPhysicalAddress(a.rxBlock)
      expect(pa).not.toBe(a.rxBlockLogical)
      transmitRaw(a, pa, 64)
      m.runUntilIdle()
      const f = firstFinding(m, kind)
      expect(kinds(m)[0]).toBe(kind)
      expect(f.site).toMatch(/^test\/support\/test-miniport\.ts:\d+$/)
      expect(f.message).toContain(`the CPU physical address of common buffer of 256 KiB (NdisMAllocateSharedMemory) (allocated at ${f.site!})`)
      expect(f.message).toContain(hex(pa))
      expect(f.message).toMatch(/[Ii]t has a DMA mapping \(the common buffer of 256 KiB \(NdisMAllocateSharedMemory\)\), and the device must be given that mapping's logical addresses, not MmGetPhysicalAddress$/)
    }
  })

  it('S16 noncached memory from MmAllocateNonCachedMemory used for DMA is reported', () => {
    const { m, a, ndis } = loadTestMiniport({ iommu: false, memory: { policy: 'low-first' } })
    const site = lineHere(1)
    const va = ndis.MmAllocateNonCachedMemory(PAGE)
    transmitRaw(a, ndis.MmGetPhysicalAddress(va), 128)
    m.runUntilIdle()
    const f = theFinding(m, 'dma-not-dma-memory')
    expect(f.site).toBe(site)
    expect(f.message).toContain('MmAllocateNonCachedMemory memory must not be used for DMA; its physical address is not a DMA address')
    ndis.MmFreeNonCachedMemory(va, PAGE)
  })

  it('S27 MmAllocatePagesForMdl pages below 4 GiB given by physical address are reported with the IOMMU off and fault with it on', () => {
    for (const iommu of [false, true]) {
      const { m, a, ndis } = loadTestMiniport({ iommu, memory: { policy: 'high-first' } })
      const site = lineHere(1)
      const mdl = ndis.MmAllocatePagesForMdl(0, 0xffff_ffff, 0, 2 * PAGE)!
      const pa = ndis.MmGetMdlPfnArray(mdl)[0]! * PAGE
      expect(pa).toBeLessThan(TWO_POW_32)
      transmitRaw(a, pa, 256)
      m.runUntilIdle()
      const f = theFinding(m, iommu ? 'iommu-fault' : 'dma-not-dma-memory')
      expect(f.site).toBe(site)
      expect(f.message).toContain('MmAllocatePagesForMdl pages are not for DMA: even from a range below 4 GiB, their physical addresses are not DMA addresses')
      if (iommu) expect(f.message).toContain(`${hex(pa)} was never mapped for the device`)
      ndis.MmFreePagesFromMdl(mdl)
      ndis.ExFreePool(mdl as never)
    }
  })

  it('S27 pages above 4 GiB given to the 32-bit device: dma-address-truncated names the pages and their allocating line', () => {
    const { m, a, ndis } = loadTestMiniport({ iommu: false, memory: { policy: 'high-first' } })
    const site = lineHere(1)
    const mdl = ndis.MmAllocatePagesForMdl(TWO_POW_32, 2 * TWO_POW_32 - 1, 0, PAGE)!
    const pa = ndis.MmGetMdlPfnArray(mdl)[0]! * PAGE
    transmitRaw(a, pa, 256)
    m.runUntilIdle()
    const f = firstFinding(m, 'dma-address-truncated')
    // dmalab sees more than Windows: no Windows code, so parameter 1 is in dmalab's own range.
    expect(f.code).toBe(BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION)
    expect(f.params?.[0]).toBe(DMALAB_P1.dmaAddressTruncated)
    expect(f.site).toBe(site)
    expect(f.details).toMatchObject({ intended: pa, actual: pa - TWO_POW_32, addressBits: 32, access: 'read' })
    expect(f.message).toBe(
      `00:03.0 was given device address ${hex(pa)} for a 256-byte read, beyond its 32-bit DMA reach: with 32 address lines the bus saw ${hex(pa - TWO_POW_32)}. ` +
        `${hex(pa)} is the CPU physical address of pages for an MDL (4 KiB asked) (allocated at ${site}), which no DMA mapping covers: ` +
        'MmAllocatePagesForMdl pages are not for DMA: even from a range below 4 GiB, their physical addresses are not DMA addresses',
    )
  })
})

describe('the device given an address it cannot reach, or memory that is gone', () => {
  it('dma-address-truncated: a 32-bit device registered as 64-bit gets shared memory above 4 GiB; the finding names the buffer and why', () => {
    const { m } = loadTestMiniport({ iommu: false, memory: { policy: 'high-first' } }, { dma64: true })
    m.traffic.send({ count: 3, size: 300 })
    m.halt()
    const f = firstFinding(m, 'dma-address-truncated')
    const intended = f.details!['intended'] as number
    expect(intended).toBeGreaterThanOrEqual(TWO_POW_32)
    expect(f.details!['actual']).toBe(intended % TWO_POW_32)
    expect(f.site).toMatch(/^test\/support\/test-miniport\.ts:\d+$/)
    expect(f.message).toContain(`beyond its 32-bit DMA reach: with 32 address lines the bus saw ${hex(intended % TWO_POW_32)}`)
    expect(f.message).toContain(`${hex(intended)} is in the common buffer of 1 KiB (NdisMAllocateSharedMemory) (allocated at ${f.site!}), made for a DMA adapter with 64-bit addresses`)
    expect(f.message).toContain('NdisMRegisterScatterGatherDma without NDIS_SG_DMA_64_BIT_ADDRESS')
    expect(m.report().traffic.txFrames).toBe(0)
  })

  it('dma-address-truncated: a buffer\'s kernel VA given to the device in place of its logical address is named as such', () => {
    for (const iommu of [false, true]) {
      const { m, a } = loadTestMiniport({ iommu })
      transmitRaw(a, a.rxBlock + PAGE, 64)
      m.runUntilIdle()
      const f = firstFinding(m, 'dma-address-truncated')
      expect(f.site).toMatch(/^test\/support\/test-miniport\.ts:\d+$/)
      expect(f.message).toContain(`${hex(a.rxBlock + PAGE)} is a kernel virtual address of common buffer of 256 KiB (NdisMAllocateSharedMemory) (allocated at ${f.site!}), not a device address: give the device the logical address AllocateCommonBuffer (NdisMAllocateSharedMemory) returned, or an S/G list's`)
      // What the 32 address lines made of it lands somewhere else entirely.
      expect(kinds(m)[1]).toBe(iommu ? 'iommu-fault' : 'dma-outside-buffer')
    }
  })

  it('dma-to-freed-memory: receive buffers freed while the device still owns their descriptors', () => {
    const { m, a, ndis } = loadTestMiniport({ iommu: false })
    ndis.NdisMFreeSharedMemory(a.handle, a.rxCount * 2048, true, a.rxBlock, a.rxBlockLogical)
    a.rxBlock = 0
    m.traffic.receive({ count: 3, size: 200 })
    const f = theFinding(m, 'dma-to-freed-memory')
    expect(f.code).toBe(BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION)
    expect(f.params).toEqual([0x0f, 0, 0, 0])
    expect(f.site).toMatch(/^test\/support\/test-miniport\.ts:\d+$/)
    expect(f.message).toBe(`the device (00:03.0) wrote ${hex(f.details!['physicalAddress'] as number)} (device address ${hex(f.details!['deviceAddress'] as number)}), in common buffer of 256 KiB (NdisMAllocateSharedMemory) that the driver has freed (allocated at ${f.site!}): the device still held its address`)
    expect(f.details).toMatchObject({ access: 'write', memoryKind: 'common-buffer' })
  })

  it('dma-outside-buffer: the device writes past the end of a common buffer into the slack of its last page', () => {
    const l = loadTestMiniport({ iommu: false })
    const adapter = adapterOf(l)
    const site = lineHere(1)
    const cb = adapter.DmaOperations.AllocateCommonBuffer(adapter, 1000, false)
    expect(l.m.nic.dma.write(cb.logicalAddress + 900, new Uint8Array(200), 0, 200)).toBe(DMA_STATUS.ok)
    const f = theFinding(l.m, 'dma-outside-buffer')
    expect(f.site).toBe(site)
    expect(f.details).toMatchObject({ physicalAddress: cb.logicalAddress + 1000, access: 'write' })
    expect(f.message).toBe(`the device (00:03.0) wrote ${hex(cb.logicalAddress + 1000)} (device address ${hex(cb.logicalAddress + 1000)}): common buffer of 1000 B (AllocateCommonBuffer) (allocated at ${site}), outside the bytes any live DMA mapping covers`)
  })

  it('dma-outside-buffer: with dmaGuard a receive buffer placed at the end of a common buffer overruns into the guard region', () => {
    const l = loadTestMiniport({ iommu: false, verifier: { dmaGuard: true } })
    const adapter = adapterOf(l)
    const site = lineHere(1)
    const cb = adapter.DmaOperations.AllocateCommonBuffer(adapter, PAGE, false)
    // A 1,024-byte buffer in the last quarter of the page, but the NIC writes up to 2,048.
    receiveIntoRaw(l.a, cb.logicalAddress + PAGE - 1024)
    l.m.traffic.receive({ count: 1, size: 1500 })
    const f = firstFinding(l.m, 'dma-outside-buffer')
    expect(f.code).toBe(BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION)
    // Bug check 0xE6/0x0F, p2 0x05 "Padding after the buffer has been incorrectly modified": p3 the
    // buffer's start, p4 the address modified (the guard page right after the buffer's VA range).
    expect(f.params).toEqual([0x0f, 0x05, cb.virtualAddress, cb.virtualAddress + PAGE])
    expect(f.details).toMatchObject({ physicalAddress: cb.logicalAddress + PAGE, access: 'write' })
    expect(f.message).toContain(`the guard frame after a common buffer of 4 KiB (AllocateCommonBuffer) (the device ran past the end of the buffer)`)
    void site
  })

  it('with dmaGuard and the IOMMU on, the same overrun hits an unmapped guard IOVA page: the fault says whose guard and where it was allocated', () => {
    const l = loadTestMiniport({ iommu: true, verifier: { dmaGuard: true } })
    const adapter = adapterOf(l)
    const site = lineHere(1)
    const cb = adapter.DmaOperations.AllocateCommonBuffer(adapter, PAGE, false)
    receiveIntoRaw(l.a, cb.logicalAddress + PAGE - 1024)
    l.m.traffic.receive({ count: 1, size: 1500 })
    const f = firstFinding(l.m, 'iommu-fault')
    expect(f.details).toMatchObject({ address: cb.logicalAddress + PAGE, access: 'write' })
    expect(f.site).toBe(site)
    expect(f.message).toContain(`${hex(cb.logicalAddress + PAGE)} is the guard page around a common buffer of 4 KiB (AllocateCommonBuffer) (allocated at ${site}): the device ran past the end of the buffer`)
    expect(count(l.m, 'dma-outside-buffer')).toBe(0)
    // Freed, the buffer's guard pages are no longer its: a later fault there is plain.
    adapter.DmaOperations.FreeCommonBuffer(adapter, PAGE, cb.logicalAddress, cb.virtualAddress, false)
    l.m.nic.dma.write(cb.logicalAddress + PAGE, new Uint8Array(4), 0, 4)
    expect(l.m.findings.at(-1)!.message).not.toContain('guard page')
  })

  it('dma-outside-buffer (fatal): with dmaGuard the driver\'s own write past the end of a common buffer stops the machine at that line', () => {
    const l = loadTestMiniport({ verifier: { dmaGuard: true } })
    const adapter = adapterOf(l)
    const cb = adapter.DmaOperations.AllocateCommonBuffer(adapter, 2 * PAGE, false)
    l.ndis.memory.write32(cb.virtualAddress + 2 * PAGE - 4, 1) // the last bytes: fine
    let site = ''
    const outcome = l.m.caller.call('test driver code', l.ndis.PASSIVE_LEVEL, () => {
      site = lineHere(1)
      l.ndis.memory.write32(cb.virtualAddress + 2 * PAGE, 1)
    })
    expect(typeof outcome).toBe('symbol')
    const f = theFinding(l.m, 'dma-outside-buffer')
    expect(f.severity).toBe('fatal')
    expect(f.code).toBe(BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION)
    expect(f.params).toEqual([0x0f, cb.virtualAddress + 2 * PAGE, 0, 0])
    expect(f.site).toBe(site)
    expect(f.message).toContain('lands in the guard region around a common buffer')
    expect(l.m.report().outcome).toBe('bugcheck')
  })

  it('dma-outside-buffer: the device reads free memory no mapping covers', () => {
    const l = loadTestMiniport({ iommu: false })
    const free = l.m.kernel.frames
    // A frame nobody owns, well inside the low range.
    let pfn = 0x2_0000
    while (free.ownerOf(pfn) !== undefined) pfn++
    expect(l.m.nic.dma.read(pfn * PAGE, new Uint8Array(8), 0, 8)).toBe(DMA_STATUS.ok)
    expect(theFinding(l.m, 'dma-outside-buffer').message).toBe(`the device (00:03.0) read ${hex(pfn * PAGE)} (device address ${hex(pfn * PAGE)}): free memory that no DMA mapping covers`)
  })
})

describe('device-side errors', () => {
  it('bus-master-disabled: the driver clears PCI COMMAND.BME and the device cannot fetch a descriptor', () => {
    const { m, a, ndis } = loadTestMiniport()
    const { buffer } = ndis.NdisMGetBusData(a.handle, 0, 4, 2)
    expect(buffer[0]! & 0x4).toBe(0x4)
    ndis.NdisMSetBusData(a.handle, 0, 4, Uint8Array.of(buffer[0]! & ~0x4, buffer[1]!), 2)
    m.traffic.send({ count: 3, size: 300 })
    // One finding per attempt: each of the three doorbells (TDT writes) starts the transmit
    // engine while the driver's CPU waits on the write, and each fetch finds BME clear.
    expect(kinds(m).filter((k) => k === 'bus-master-disabled')).toHaveLength(3)
    const f = firstFinding(m, 'bus-master-disabled')
    expect(f.params?.[0]).toBe(DMALAB_P1.busMasterDisabled)
    expect(f.message).toBe('00:03.0 needed DMA (transmit descriptor fetch) while PCI COMMAND.BME was clear: nothing was transferred')
    expect(m.report().traffic.txFrames).toBe(0)
  })

  it('device-error: a descriptor that points at the NIC\'s own registers is refused', () => {
    const { m, a } = loadTestMiniport()
    transmitRaw(a, m.nic.bar0, 64)
    m.runUntilIdle()
    const f = theFinding(m, 'device-error')
    expect(f.params?.[0]).toBe(DMALAB_P1.deviceError)
    expect(f.message).toBe(`00:03.0 DMA read of 64 bytes at device address ${hex(m.nic.bar0)} (physical ${hex(m.nic.bar0)}) hit a device register window (MMIO): device DMA into registers is refused`)
    expect(f.details).toMatchObject({ reason: 'dma-to-mmio' })
  })

  it('device-error: a transmit tail beyond the ring is not walked', () => {
    const { m, a } = loadTestMiniport()
    writeReg(a, REG.TDT, a.txCount + 6)
    m.runUntilIdle()
    expect(theFinding(m, 'device-error').message).toBe(`00:03.0 transmit ring misprogrammed: TDT ${a.txCount + 6} is beyond the ring of ${a.txCount} descriptors; the device does not walk it`)
  })
})

function adapterOf(l: Loaded): DMA_ADAPTER {
  const pdo = l.ndis.NdisMGetDeviceProperty(l.a.handle).physicalDeviceObject
  return l.ndis.IoGetDmaAdapter(pdo, { Version: 2, Master: true, ScatterGather: true, Dma32BitAddresses: true, Dma64BitAddresses: false, InterfaceType: 5, MaximumLength: 65536 }).dmaAdapter!
}
