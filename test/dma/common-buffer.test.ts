// AllocateCommonBuffer / FreeCommonBuffer (S13) and NDIS's wrappers over it: memory the device
// can reach on this platform, its LogicalAddress the address to give it; the frees checked;
// leaks reported when the adapter is released; guard regions with `verifier.dmaGuard`.
import { describe, expect, it } from 'vitest'
import { BUGCHECK, createMachine } from '../../src/index.js'
import { DMA_STATUS } from '../../src/hw/dma-engine.js'
import { hex } from '../../src/hw/address.js'
import type { DMA_ADAPTER } from '../../src/ndis/api.js'
import { TWO_POW_32, bareMiniport, kinds, lineHere, loadTestMiniport, theFinding, type Loaded } from '../support/driver-fixture.js'

const PAGE = 4096
const GIB = 1024 ** 3
const MIB = 1024 ** 2

function adapterOf(l: Loaded, fields: { Dma64BitAddresses?: boolean; DmaAddressWidth?: number } = {}): DMA_ADAPTER {
  const pdo = l.ndis.NdisMGetDeviceProperty(l.a.handle).physicalDeviceObject
  const { dmaAdapter } = l.ndis.IoGetDmaAdapter(pdo, {
    Version: fields.DmaAddressWidth === undefined ? 2 : 3, Master: true, ScatterGather: true, Dma32BitAddresses: true,
    Dma64BitAddresses: fields.Dma64BitAddresses ?? false, InterfaceType: 5, MaximumLength: 64 * 1024,
    ...(fields.DmaAddressWidth === undefined ? {} : { DmaAddressWidth: fields.DmaAddressWidth }),
  })
  expect(dmaAdapter).not.toBeNull()
  return dmaAdapter!
}

/** Physical addresses of a buffer's pages, through the CPU's page tables. */
function framesOf(l: Loaded, va: number, length: number): number[] {
  const out: number[] = []
  for (let at = 0; at < length; at += PAGE) out.push(l.ndis.MmGetPhysicalAddress(va + at))
  return out
}

describe('AllocateCommonBuffer (S13)', () => {
  it('S13 without an IOMMU: one physically contiguous run below the 32-bit limit; LogicalAddress is its physical address', () => {
    const l = loadTestMiniport({ memory: { policy: 'high-first' } })
    const adapter = adapterOf(l)
    const { virtualAddress, logicalAddress } = adapter.DmaOperations.AllocateCommonBuffer(adapter, 5 * PAGE, false)
    expect(virtualAddress % PAGE).toBe(0)
    const frames = framesOf(l, virtualAddress, 5 * PAGE)
    expect(frames[0]).toBe(logicalAddress)
    expect(frames).toEqual(frames.map((_, i) => logicalAddress + i * PAGE))
    expect(logicalAddress + 5 * PAGE).toBeLessThanOrEqual(TWO_POW_32)
    // The device reads what the CPU wrote, at the logical address.
    l.ndis.memory.writeBytes(virtualAddress + 100, Uint8Array.of(1, 2, 3, 4))
    const seen = new Uint8Array(4)
    expect(l.m.nic.dma.read(logicalAddress + 100, seen, 0, 4)).toBe(DMA_STATUS.ok)
    expect([...seen]).toEqual([1, 2, 3, 4])
    adapter.DmaOperations.FreeCommonBuffer(adapter, 5 * PAGE, logicalAddress, virtualAddress, false)
    adapter.DmaOperations.PutDmaAdapter(adapter)
    expect(l.m.findings).toEqual([])
  })

  it('S13 with the IOMMU: frames anywhere (above 4 GiB with high-first), LogicalAddress an IOVA below the limit mapped onto them', () => {
    const l = loadTestMiniport({ iommu: true, memory: { policy: 'high-first' } })
    const adapter = adapterOf(l)
    const { virtualAddress, logicalAddress } = adapter.DmaOperations.AllocateCommonBuffer(adapter, 3 * PAGE, true)
    const frames = framesOf(l, virtualAddress, 3 * PAGE)
    expect(frames.every((pa) => pa >= TWO_POW_32)).toBe(true)
    expect(logicalAddress + 3 * PAGE).toBeLessThanOrEqual(TWO_POW_32)
    expect(logicalAddress).not.toBe(frames[0])
    for (let i = 0; i < 3; i++) {
      expect(l.m.iommu.lookup(l.m.nic.bdf, logicalAddress + i * PAGE, 'read')).toBe(frames[i])
      expect(l.m.iommu.lookup(l.m.nic.bdf, logicalAddress + i * PAGE, 'write')).toBe(frames[i])
    }
    l.ndis.memory.write32(virtualAddress + 2 * PAGE + 8, 0xfeedf00d)
    const seen = new Uint8Array(4)
    expect(l.m.nic.dma.read(logicalAddress + 2 * PAGE + 8, seen, 0, 4)).toBe(DMA_STATUS.ok)
    expect(new DataView(seen.buffer).getUint32(0, true)).toBe(0xfeedf00d)
    const record = l.m.report().dma.commonBuffers.at(-1)!
    expect(record).toMatchObject({ routine: 'AllocateCommonBuffer', length: 3 * PAGE, logicalAddress, physicalAddress: frames[0], aboveFourGiB: true, reachable: true, translatedByIommu: true, freed: false })
    expect(l.m.findings).toEqual([])
  })

  it('S13 with the IOMMU: FreeCommonBuffer unmaps the IOVA and invalidates the IOTLB, so a late device access faults', () => {
    const l = loadTestMiniport({ iommu: true })
    const adapter = adapterOf(l)
    const { virtualAddress, logicalAddress } = adapter.DmaOperations.AllocateCommonBuffer(adapter, PAGE, false)
    const seen = new Uint8Array(16)
    // The device uses the buffer: its translation is now cached in the IOTLB.
    expect(l.m.nic.dma.read(logicalAddress, seen, 0, 16)).toBe(DMA_STATUS.ok)
    adapter.DmaOperations.FreeCommonBuffer(adapter, PAGE, logicalAddress, virtualAddress, false)
    expect(l.m.iommu.lookup(l.m.nic.bdf, logicalAddress)).toBe(-1)
    // Without the invalidation the cached translation would still work; it must not.
    expect(l.m.nic.dma.read(logicalAddress, seen, 0, 16)).toBe(DMA_STATUS.iommuFault)
    expect([...seen]).toEqual(new Array(16).fill(0xff))
    const f = theFinding(l.m, 'iommu-fault')
    expect(f.code).toBe(BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION)
    // Bug check 0xE6/0x26: p2 the faulting device's device object, p3 the faulting address, p4 the fault type (VT-d reason 6: read not permitted).
    expect(f.params).toEqual([0x26, l.m.pdo.address, logicalAddress, 6])
    expect(l.m.pdo.address).not.toBe(0)
    expect(f.details).toMatchObject({ requester: '00:03.0', address: logicalAddress, access: 'read' })
    expect(l.m.report().dma.iommuFaults).toEqual([expect.objectContaining({ requester: '00:03.0', address: logicalAddress, access: 'read' })])
  })

  it('S13 a buffer never crosses a 4 GiB boundary, even for a 64-bit device where a plain contiguous run would', () => {
    // RAM from 4 GiB to 8 GiB + 8 MiB: high-first puts a 16 MiB run across the 8 GiB line.
    const l = loadTestMiniport({ memory: { size: 7 * GIB + 8 * MIB, policy: 'high-first' } })
    const plain = l.ndis.MmAllocateContiguousMemorySpecifyCache(16 * MIB, 0, 2 ** 40, 0, l.ndis.MmCached)
    const plainPa = l.ndis.MmGetPhysicalAddress(plain)
    expect(Math.floor(plainPa / (4 * GIB))).not.toBe(Math.floor((plainPa + 16 * MIB - 1) / (4 * GIB)))
    l.ndis.MmFreeContiguousMemory(plain)
    const adapter = adapterOf(l, { DmaAddressWidth: 64 })
    const { virtualAddress, logicalAddress } = adapter.DmaOperations.AllocateCommonBuffer(adapter, 16 * MIB, false)
    expect(virtualAddress).not.toBe(0)
    expect(logicalAddress).toBeGreaterThanOrEqual(4 * GIB)
    expect(Math.floor(logicalAddress / (4 * GIB))).toBe(Math.floor((logicalAddress + 16 * MIB - 1) / (4 * GIB)))
  })

  it('S13 gives at least a page for a tiny request, and AllocateCommonBufferEx honours its MaximumAddress', () => {
    const l = loadTestMiniport({ memory: { policy: 'high-first' } })
    const adapter = adapterOf(l, { Dma64BitAddresses: true })
    const tiny = adapter.DmaOperations.AllocateCommonBuffer(adapter, 1, false)
    l.ndis.memory.write8(tiny.virtualAddress + PAGE - 1, 0x77)
    expect(l.ndis.memory.read8(tiny.virtualAddress + PAGE - 1)).toBe(0x77)
    const low = adapter.DmaOperations.AllocateCommonBufferEx(adapter, 0xff_ffff, 2 * PAGE, false)
    expect(low.logicalAddress + 2 * PAGE).toBeLessThanOrEqual(0x100_0000)
    expect(l.m.findings).toEqual([])
  })

  it('S13 with the IOMMU, no frame left for a translation table fails the allocation with NULL; it does not throw', () => {
    const l = loadTestMiniport({ iommu: true, memory: { size: '64MiB' } })
    const adapter = adapterOf(l)
    const ops = adapter.DmaOperations
    // Bring the IOVA allocator to a 2 MiB boundary, where the next buffer needs a new leaf
    // table, whichever way it hands out addresses.
    const first = ops.AllocateCommonBuffer(adapter, PAGE, false).logicalAddress
    const second = ops.AllocateCommonBuffer(adapter, PAGE, false).logicalAddress
    const upward = second > first
    const gap = upward ? 2 * MIB - ((second + PAGE) % (2 * MIB)) : second % (2 * MIB)
    if (gap > 0) expect(ops.AllocateCommonBuffer(adapter, gap, false).virtualAddress).not.toBe(0)
    // Take every free frame but the four the buffer itself needs.
    const frames = l.m.kernel.frames
    const owner = frames.newOwner('pool', 'another component', false)
    const taken: number[] = []
    for (let pfn = frames.allocate(owner); pfn >= 0; pfn = frames.allocate(owner)) taken.push(pfn)
    for (let i = 0; i < 4; i++) frames.free(taken.pop()!)
    expect(ops.AllocateCommonBuffer(adapter, 4 * PAGE, false)).toEqual({ virtualAddress: 0, logicalAddress: 0 })
    // Nothing was kept: with frames back, the same request succeeds.
    for (const pfn of taken) frames.free(pfn)
    expect(ops.AllocateCommonBuffer(adapter, 4 * PAGE, false).virtualAddress).not.toBe(0)
    expect(l.m.findings).toEqual([])
  })

  it('AllocateCommonBuffer and FreeCommonBuffer above PASSIVE_LEVEL are 0xE6/0x13 at the calling line', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l)
    const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
    const site = lineHere(1)
    const cb = adapter.DmaOperations.AllocateCommonBuffer(adapter, PAGE, false)
    const freeSite = lineHere(1)
    adapter.DmaOperations.FreeCommonBuffer(adapter, PAGE, cb.logicalAddress, cb.virtualAddress, false)
    l.ndis.KeLowerIrql(oldIrql)
    const [alloc, free] = l.m.findings
    expect(kinds(l.m)).toEqual(['irql-violation', 'irql-violation'])
    // Bug check 0xE6/0x13: p2 0x02 (IRQL higher than expected), p3 the expected maximum (PASSIVE_LEVEL), p4 the current IRQL.
    expect(alloc).toMatchObject({ code: 0xe6, params: [0x13, 0x02, 0, 2], site, message: 'AllocateCommonBuffer at DISPATCH_LEVEL: it must be called at PASSIVE_LEVEL' })
    expect(free).toMatchObject({ code: 0xe6, params: [0x13, 0x02, 0, 2], site: freeSite, message: 'FreeCommonBuffer at DISPATCH_LEVEL: it must be called at PASSIVE_LEVEL' })
  })

  it('a second FreeCommonBuffer is common-buffer-double-free (0xE6/0x03) at the freeing line', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l)
    const { virtualAddress, logicalAddress } = adapter.DmaOperations.AllocateCommonBuffer(adapter, 2 * PAGE, false)
    adapter.DmaOperations.FreeCommonBuffer(adapter, 2 * PAGE, logicalAddress, virtualAddress, false)
    const site = lineHere(1)
    adapter.DmaOperations.FreeCommonBuffer(adapter, 2 * PAGE, logicalAddress, virtualAddress, false)
    const f = theFinding(l.m, 'common-buffer-double-free')
    expect(f.severity).toBe('violation')
    expect(f.code).toBe(BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION)
    // Bug check 0xE6/0x03 "The driver freed too many DMA common buffers": p2 the number of extra frees.
    expect(f.params).toEqual([0x03, 1, 0, 0])
    expect(f.site).toBe(site)
    expect(f.message).toBe(`FreeCommonBuffer of the 8 KiB common buffer at ${hex(virtualAddress)}, which was already freed`)
  })

  it('FreeCommonBuffer with arguments other than the allocation\'s is pool-free-mismatch naming each one; the buffer is still freed', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l)
    const { virtualAddress, logicalAddress } = adapter.DmaOperations.AllocateCommonBuffer(adapter, 2 * PAGE, false)
    const site = lineHere(1)
    adapter.DmaOperations.FreeCommonBuffer(adapter, PAGE, logicalAddress + 1, virtualAddress, true)
    const f = theFinding(l.m, 'pool-free-mismatch')
    expect(f.site).toBe(site)
    expect(f.message).toContain('length 4096 (allocated 8192)')
    expect(f.message).toContain(`logical address ${hex(logicalAddress + 1)} (allocated ${hex(logicalAddress)})`)
    expect(f.message).toContain('CacheEnabled true (allocated false)')
    adapter.DmaOperations.PutDmaAdapter(adapter)
    expect(kinds(l.m)).toEqual(['pool-free-mismatch'])
  })

  it('PutDmaAdapter with a common buffer still allocated is common-buffer-leak (0xE6/0x07) at the allocating line', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l)
    const site = lineHere(1)
    const { virtualAddress, logicalAddress } = adapter.DmaOperations.AllocateCommonBuffer(adapter, 3 * PAGE, false)
    adapter.DmaOperations.PutDmaAdapter(adapter)
    const f = theFinding(l.m, 'common-buffer-leak')
    expect(f.code).toBe(BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION)
    // Bug check 0xE6/0x07: p2 the DMA adapter, p3 the number of common buffers outstanding.
    expect(f.params).toEqual([0x07, l.m.hal.stateOf(adapter)!.address, 1, 0])
    expect(f.site).toBe(site)
    expect(f.message).toBe(`DMA adapter released with a common buffer of 12 KiB still allocated (AllocateCommonBuffer, VA ${hex(virtualAddress)}, logical ${hex(logicalAddress)})`)
  })
})

describe('NdisMAllocateSharedMemory', () => {
  it('wraps AllocateCommonBuffer: reachable by the 32-bit device, and its "physical" address is the logical one', () => {
    for (const iommu of [false, true]) {
      let got = { virtualAddress: 0, physicalAddress: 0 }
      const l = loadTestMiniport({ iommu, memory: { policy: 'high-first' } }, {
        hooks: { initialize: (a) => void (got = a.ndis.NdisMAllocateSharedMemory(a.handle, 3 * PAGE, false)) },
      })
      expect(got.physicalAddress + 3 * PAGE).toBeLessThanOrEqual(TWO_POW_32)
      const pa = l.ndis.MmGetPhysicalAddress(got.virtualAddress)
      if (iommu) expect(l.m.iommu.lookup(l.m.nic.bdf, got.physicalAddress)).toBe(pa)
      else expect(got.physicalAddress).toBe(pa)
      expect(l.m.report().dma.commonBuffers.at(-1)).toMatchObject({ routine: 'NdisMAllocateSharedMemory', translatedByIommu: iommu })
      l.ndis.NdisMFreeSharedMemory(l.a.handle, 3 * PAGE, false, got.virtualAddress, got.physicalAddress)
      expect(l.m.findings).toEqual([])
    }
  })

  it('outside MiniportInitializeEx is init-only-call (S04) at the calling line', () => {
    const l = loadTestMiniport()
    const site = lineHere(1)
    const got = l.ndis.NdisMAllocateSharedMemory(l.a.handle, PAGE, false)
    const f = theFinding(l.m, 'init-only-call')
    expect(f.site).toBe(site)
    expect(f.message).toBe('NdisMAllocateSharedMemory (4 KiB) outside MiniportInitializeEx: shared memory is allocated during initialization; later, use NdisMAllocateSharedMemoryAsyncEx')
    l.ndis.NdisMFreeSharedMemory(l.a.handle, PAGE, false, got.virtualAddress, got.physicalAddress)
  })

  it('before NdisMRegisterScatterGatherDma is a call-order finding and NULL', () => {
    let got = { virtualAddress: -1, physicalAddress: -1 }
    let site = ''
    const m = createMachine()
    m.load(bareMiniport((ndis, handle) => {
      site = lineHere(1)
      got = ndis.NdisMAllocateSharedMemory(handle, PAGE, false)
    }), 'bare')
    expect(got).toEqual({ virtualAddress: 0, physicalAddress: 0 })
    const f = theFinding(m, 'ndis-call-order')
    expect(f.site).toBe(site)
    expect(f.code).toBe(BUGCHECK.BUGCODE_NDIS_DRIVER)
    expect(f.message).toBe('NdisMAllocateSharedMemory before NdisMRegisterScatterGatherDma: a bus-master miniport registers scatter/gather DMA first')
  })

  it('above PASSIVE_LEVEL is an IRQL violation (0x7C/0x01)', () => {
    let site = ''
    const m = createMachine()
    m.load(bareMiniport((ndis, handle) => {
      ndis.NdisMRegisterScatterGatherDma(handle, { Flags: 0, MaximumPhysicalMapping: PAGE, ProcessSGListHandler: () => {} })
      const { oldIrql } = ndis.KeRaiseIrql(ndis.DISPATCH_LEVEL)
      site = lineHere(1)
      const got = ndis.NdisMAllocateSharedMemory(handle, PAGE, false)
      ndis.KeLowerIrql(oldIrql)
      ndis.NdisMFreeSharedMemory(handle, PAGE, false, got.virtualAddress, got.physicalAddress)
    }), 'bare')
    const f = theFinding(m, 'irql-violation')
    expect(f).toMatchObject({ code: BUGCHECK.BUGCODE_NDIS_DRIVER, params: [0x01, 0, PAGE, 2], site, message: 'NdisMAllocateSharedMemory at DISPATCH_LEVEL: it must be called at PASSIVE_LEVEL' })
  })
})
