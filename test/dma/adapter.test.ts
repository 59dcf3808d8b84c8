// IoGetDmaAdapter: the address width a DEVICE_DESCRIPTION asks for (wdm.h: version 3 uses
// DmaAddressWidth only; before it Dma64BitAddresses overrides Dma32BitAddresses, and a PCI
// scatter/gather bus master is 32-bit at least), the map registers it gets (about one per page
// of MaximumLength, plus one), and what it refuses. NdisMRegisterScatterGatherDma makes the
// same adapter from NDIS_SG_DMA_64_BIT_ADDRESS.
import { describe, expect, it } from 'vitest'
import { BUGCHECK } from '../../src/index.js'
import type { DMA_ADAPTER } from '../../src/ndis/api.js'
import type { DEVICE_DESCRIPTION } from '../../src/ndis/types.js'
import { TWO_POW_32, kinds, lineHere, loadTestMiniport, theFinding, type Loaded } from '../support/driver-fixture.js'

function description(fields: Partial<DEVICE_DESCRIPTION>): DEVICE_DESCRIPTION {
  return { Version: 2, Master: true, ScatterGather: true, Dma32BitAddresses: false, Dma64BitAddresses: false, InterfaceType: 5, MaximumLength: 64 * 1024, ...fields }
}

function getAdapter(l: Loaded, fields: Partial<DEVICE_DESCRIPTION>): { adapter: DMA_ADAPTER; mapRegisters: number; bits: number } {
  const pdo = l.ndis.NdisMGetDeviceProperty(l.a.handle).physicalDeviceObject
  const { dmaAdapter, numberOfMapRegisters } = l.ndis.IoGetDmaAdapter(pdo, description(fields))
  expect(dmaAdapter).not.toBeNull()
  return { adapter: dmaAdapter!, mapRegisters: numberOfMapRegisters, bits: l.m.hal.stateOf(dmaAdapter!)!.addressBits }
}

describe('IoGetDmaAdapter', () => {
  it('Dma64BitAddresses overrides Dma32BitAddresses; a PCI scatter/gather master is 32-bit without either; otherwise 24-bit', () => {
    const l = loadTestMiniport({ memory: { policy: 'high-first' } })
    expect(getAdapter(l, { Dma32BitAddresses: true }).bits).toBe(32)
    expect(getAdapter(l, { Dma32BitAddresses: true, Dma64BitAddresses: true }).bits).toBe(64)
    expect(getAdapter(l, { Dma64BitAddresses: true }).bits).toBe(64)
    expect(getAdapter(l, {}).bits).toBe(32)
    expect(getAdapter(l, { ScatterGather: false }).bits).toBe(24)
    expect(getAdapter(l, { ScatterGather: false, InterfaceType: 1 }).bits).toBe(24)
    // Version 2 does not read DmaAddressWidth.
    expect(getAdapter(l, { Dma32BitAddresses: true, DmaAddressWidth: 36 }).bits).toBe(32)
    expect(l.m.findings).toEqual([])
  })

  it('version 3 takes the width from DmaAddressWidth and ignores both flags', () => {
    const l = loadTestMiniport()
    expect(getAdapter(l, { Version: 3, DmaAddressWidth: 36, Dma64BitAddresses: true }).bits).toBe(36)
    expect(getAdapter(l, { Version: 3, DmaAddressWidth: 40, Dma32BitAddresses: true }).bits).toBe(40)
    expect(getAdapter(l, { Version: 3, DmaAddressWidth: 32, Dma64BitAddresses: true }).bits).toBe(32)
    expect(l.m.findings).toEqual([])
  })

  it('version 3 without a DmaAddressWidth in 1..64 is refused: NULL and a finding at the calling line', () => {
    const l = loadTestMiniport()
    const pdo = l.ndis.NdisMGetDeviceProperty(l.a.handle).physicalDeviceObject
    const site = lineHere(1)
    const r = l.ndis.IoGetDmaAdapter(pdo, description({ Version: 3, Dma64BitAddresses: true }))
    expect(r).toEqual({ dmaAdapter: null, numberOfMapRegisters: 0 })
    const f = theFinding(l.m, 'dma-bad-argument')
    expect(f.site).toBe(site)
    expect(f.code).toBe(BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION)
    expect(f.message).toBe('IoGetDmaAdapter: DEVICE_DESCRIPTION_VERSION3 needs DmaAddressWidth in 1..64 (got undefined); Dma32BitAddresses and Dma64BitAddresses are not used by version 3')
    expect(l.ndis.IoGetDmaAdapter(pdo, description({ Version: 3, DmaAddressWidth: 65 })).dmaAdapter).toBeNull()
  })

  it('the width decides where common buffers land without an IOMMU: below 16 MiB, below 4 GiB, anywhere', () => {
    const l = loadTestMiniport({ memory: { policy: 'high-first' } })
    for (const [fields, below] of [
      [{ ScatterGather: false }, 0x100_0000],
      [{ Dma32BitAddresses: true }, TWO_POW_32],
      [{ Version: 3, DmaAddressWidth: 64 }, Infinity],
    ] as const) {
      const { adapter } = getAdapter(l, fields)
      const { virtualAddress, logicalAddress } = adapter.DmaOperations.AllocateCommonBuffer(adapter, 8192, false)
      expect(virtualAddress).not.toBe(0)
      expect(logicalAddress + 8192).toBeLessThanOrEqual(below)
      if (below === Infinity) expect(logicalAddress).toBeGreaterThanOrEqual(TWO_POW_32) // high-first
      adapter.DmaOperations.FreeCommonBuffer(adapter, 8192, logicalAddress, virtualAddress, false)
      adapter.DmaOperations.PutDmaAdapter(adapter)
    }
    expect(l.m.findings).toEqual([])
  })

  it('gives about one map register per page of MaximumLength, plus one for an unaligned start', () => {
    const l = loadTestMiniport()
    expect(getAdapter(l, { Dma32BitAddresses: true, MaximumLength: 64 * 1024 }).mapRegisters).toBe(17)
    expect(getAdapter(l, { Dma32BitAddresses: true, MaximumLength: 1 }).mapRegisters).toBe(2)
    expect(getAdapter(l, { Dma32BitAddresses: true, MaximumLength: 4096 + 1 }).mapRegisters).toBe(3)
    const { adapter, mapRegisters } = getAdapter(l, { Dma32BitAddresses: true, MaximumLength: 16 * 1024 })
    expect(mapRegisters).toBe(5)
    expect(adapter.DmaOperations.CalculateScatterGatherList(adapter, null, 0x1000 + 100, 8192)).toEqual({ status: 0, scatterGatherListSize: 16 + 3 * 24, numberOfMapRegisters: 3 })
  })

  it('refuses a caller that is not at PASSIVE_LEVEL (0xE6/0x13), a device object that is no PDO, and a description that is not a bus master', () => {
    const l = loadTestMiniport()
    const pdo = l.ndis.NdisMGetDeviceProperty(l.a.handle).physicalDeviceObject
    const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
    const site = lineHere(1)
    l.ndis.IoGetDmaAdapter(pdo, description({ Dma32BitAddresses: true }))
    l.ndis.KeLowerIrql(oldIrql)
    const f = theFinding(l.m, 'irql-violation')
    expect(f.code).toBe(BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION)
    // Bug check 0xE6/0x13: p2 0x02 (higher than expected), p3 the expected maximum, p4 the current IRQL.
    expect(f.params).toEqual([0x13, 0x02, 0, 2])
    expect(f.message).toBe('IoGetDmaAdapter at DISPATCH_LEVEL: it must be called at PASSIVE_LEVEL')
    expect(f.site).toBe(site)
    expect(l.ndis.IoGetDmaAdapter({}, description({})).dmaAdapter).toBeNull()
    expect(l.ndis.IoGetDmaAdapter(pdo, description({ Master: false })).dmaAdapter).toBeNull()
    expect(kinds(l.m)).toEqual(['irql-violation', 'dma-bad-argument', 'dma-bad-argument'])
  })
})

describe('NdisMRegisterScatterGatherDma', () => {
  for (const dma64 of [false, true]) {
    it(`with NDIS_SG_DMA_64_BIT_ADDRESS ${dma64 ? 'set makes a 64-bit' : 'clear makes a 32-bit'} bus master, and sizes its S/G list buffer`, () => {
      const { m } = loadTestMiniport({ memory: { policy: 'high-first' } }, { dma64, maximumPhysicalMapping: 16 * 1024 })
      const reg = m.ndis!.ctx.sgDma!
      expect(reg.adapter.addressBits).toBe(dma64 ? 64 : 32)
      expect(reg.adapter.mapRegisters).toBe(5)
      expect(reg.description.ScatterGatherListSize).toBe(16 + 5 * 24)
      // Shared memory follows the width: below 4 GiB for the 32-bit device, anywhere for the other.
      const rings = m.report().dma.commonBuffers
      expect(rings.every((b) => b.aboveFourGiB === dma64)).toBe(true)
    })
  }
})
