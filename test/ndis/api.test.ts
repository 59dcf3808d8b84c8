// The `ndis` object DriverEntry receives: every routine family the seeds name, under its WDK
// name, in DESIGN's calling convention (out-parameters come back as fields, pointers as
// numbers with 0 for NULL, system objects as objects), bound to one machine.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../src/index.js'
import type { NdisApi } from '../../src/ndis/api.js'
import { bareMiniport } from '../support/driver-fixture.js'

const PAGE = 4096

describe('the ndis object', () => {
  it('S12 has all six allocation families of seed 002 as working shims, called from a miniport\'s initialization', () => {
    const results: Record<string, boolean> = {}
    const m = createMachine()
    m.load(bareMiniport((ndis, handle) => {
      // 1. ExAllocatePoolXxx
      const pool = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 100, 'looP')
      const pool2 = ndis.ExAllocatePool2(ndis.POOL_FLAG_NON_PAGED, 100, 'looP')
      results['ExAllocatePoolWithTag / ExAllocatePool2'] = pool !== 0 && pool2 !== 0
      ndis.ExFreePoolWithTag(pool, 'looP')
      ndis.ExFreePoolWithTag(pool2, 'looP')
      // 2. AllocateCommonBuffer, on an adapter from IoGetDmaAdapter
      const pdo = ndis.NdisMGetDeviceProperty(handle).physicalDeviceObject
      const { dmaAdapter, numberOfMapRegisters } = ndis.IoGetDmaAdapter(pdo, { Version: 3, Master: true, ScatterGather: true, Dma32BitAddresses: false, Dma64BitAddresses: false, DmaAddressWidth: 32, InterfaceType: 5, MaximumLength: PAGE })
      const cb = dmaAdapter!.DmaOperations.AllocateCommonBuffer(dmaAdapter!, PAGE, false)
      results['AllocateCommonBuffer'] = numberOfMapRegisters === 2 && cb.virtualAddress !== 0 && cb.logicalAddress !== 0
      dmaAdapter!.DmaOperations.FreeCommonBuffer(dmaAdapter!, PAGE, cb.logicalAddress, cb.virtualAddress, false)
      dmaAdapter!.DmaOperations.PutDmaAdapter(dmaAdapter!)
      // 3. MmAllocateContiguousMemory[SpecifyCache]
      const c1 = ndis.MmAllocateContiguousMemory(2 * PAGE, 0xffff_ffff)
      const c2 = ndis.MmAllocateContiguousMemorySpecifyCache(2 * PAGE, 0, 0xffff_ffff, 0, ndis.MmNonCached)
      results['MmAllocateContiguousMemory[SpecifyCache]'] = c1 !== 0 && c2 !== 0
      ndis.MmFreeContiguousMemory(c1)
      ndis.MmFreeContiguousMemorySpecifyCache(c2, 2 * PAGE, ndis.MmNonCached)
      // 4. MmAllocateMappingAddress
      const reserved = ndis.MmAllocateMappingAddress(4 * PAGE, 'paMT')
      results['MmAllocateMappingAddress'] = reserved !== 0
      ndis.MmFreeMappingAddress(reserved, 'paMT')
      // 5. MmAllocateNonCachedMemory
      const nc = ndis.MmAllocateNonCachedMemory(PAGE)
      results['MmAllocateNonCachedMemory'] = nc !== 0
      ndis.MmFreeNonCachedMemory(nc, PAGE)
      // 6. MmAllocatePagesForMdl
      const mdl = ndis.MmAllocatePagesForMdl(0, 0xffff_ffff, 0, 3 * PAGE)
      results['MmAllocatePagesForMdl'] = mdl !== null && ndis.MmGetMdlByteCount(mdl) === 3 * PAGE
      ndis.MmFreePagesFromMdl(mdl!)
      ndis.ExFreePool(mdl as never)
    }), 's12')
    expect(results).toEqual({
      'ExAllocatePoolWithTag / ExAllocatePool2': true,
      AllocateCommonBuffer: true,
      'MmAllocateContiguousMemory[SpecifyCache]': true,
      MmAllocateMappingAddress: true,
      MmAllocateNonCachedMemory: true,
      MmAllocatePagesForMdl: true,
    })
    m.halt()
    expect(m.findings).toEqual([])
  })

  it('is bound to its machine: two machines hand out independent objects, and a DMA adapter of one is no adapter to the other', () => {
    const apis: NdisApi[] = []
    const machines = [createMachine(), createMachine()]
    for (const m of machines) m.load(bareMiniport((ndis) => void apis.push(ndis)), 'two')
    expect(apis).toHaveLength(2)
    expect(apis[0]).not.toBe(apis[1])
    const [a0, a1] = apis as [NdisApi, NdisApi]
    const va = a0.NdisAllocateMemoryWithTag(64, 'enOT')
    expect(va.status).toBe(0)
    expect(machines[0]!.report().pool.byTag['TOne']).toMatchObject({ allocs: 1 })
    expect(machines[1]!.report().pool.byTag['TOne']).toBeUndefined()
    a0.NdisFreeMemory(va.virtualAddress, 64, 0)
    void a1
  })
})
