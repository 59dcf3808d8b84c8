// Bugs the shim fuzzer (test/fuzz, issue 9) found in the HAL DMA shims, one named test each,
// reduced to the smallest driver call that showed them.
import { describe, expect, it } from 'vitest'
import type { MDL } from '../../src/kernel/mdl.js'
import { loadTestMiniport } from '../support/driver-fixture.js'

const STATUS_BUFFER_TOO_SMALL = 0xc000_0023
const STATUS_INVALID_PARAMETER = 0xc000_000d

describe('DMA fuzz regressions', () => {
  it('GetScatterGatherList with an Mdl that is not an MDL is dma-bad-argument and STATUS_INVALID_PARAMETER, not a TypeError inside the HAL', () => {
    const { m, a, ndis } = loadTestMiniport()
    const pdo = ndis.NdisMGetDeviceProperty(a.handle).physicalDeviceObject
    const adapter = ndis.IoGetDmaAdapter(pdo, { Version: 2, Master: true, ScatterGather: true, Dma32BitAddresses: true, Dma64BitAddresses: false, InterfaceType: 5, MaximumLength: 65536 }).dmaAdapter!
    const ops = adapter.DmaOperations
    let ran = false
    for (const mdl of [null, {}] as unknown as MDL[]) {
      let status = 0
      expect(() => (status = ops.GetScatterGatherList(adapter, null, mdl, 0x1000, 100, () => (ran = true), null, true))).not.toThrow()
      expect(status).toBe(STATUS_INVALID_PARAMETER)
    }
    expect(ran).toBe(false)
    expect(m.findings.filter((f) => f.kind === 'dma-bad-argument')).toHaveLength(2)
  })
})

describe('DMA fuzz regressions: the same run gives the same report', () => {
  it('DMA adapters are numbered per machine, so the same driver on two machines in one process names the same adapter', () => {
    const messages = [0, 1].map(() => {
      const { m, a, ndis } = loadTestMiniport()
      const pdo = ndis.NdisMGetDeviceProperty(a.handle).physicalDeviceObject
      ndis.IoGetDmaAdapter(pdo, { Version: 2, Master: true, ScatterGather: true, Dma32BitAddresses: true, Dma64BitAddresses: false, InterfaceType: 5, MaximumLength: 65536 })
      m.halt()
      return m.findings.map((f) => f.message)
    })
    expect(messages[0]).toEqual(messages[1])
    expect(messages[0]!.some((msg) => /DMA adapter #\d+ from IoGetDmaAdapter/.test(msg))).toBe(true)
  })
})

describe('DMA fuzz regressions: chains that loop back', () => {
  it('GetScatterGatherList over an MDL chain that loops back through empty MDLs is dma-bad-argument, not a hang', () => {
    const { m, a, ndis } = loadTestMiniport()
    const pdo = ndis.NdisMGetDeviceProperty(a.handle).physicalDeviceObject
    const adapter = ndis.IoGetDmaAdapter(pdo, { Version: 2, Master: true, ScatterGather: true, Dma32BitAddresses: true, Dma64BitAddresses: false, InterfaceType: 5, MaximumLength: 65536 }).dmaAdapter!
    const va = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 256, 'tseT')
    const first = ndis.IoAllocateMdl(va, 256)!
    ndis.MmBuildMdlForNonPagedPool(first)
    const empty = ndis.IoAllocateMdl(va, 256)!
    ndis.MmBuildMdlForNonPagedPool(empty)
    empty.ByteCount = 0
    empty.Next = empty
    first.Next = empty
    const status = adapter.DmaOperations.GetScatterGatherList(adapter, null, first, va, 1000, () => {}, null, true)
    expect(status).toBe(STATUS_INVALID_PARAMETER)
    expect(m.findings.some((f) => f.kind === 'dma-bad-argument' && /loops back/.test(f.message))).toBe(true)
  })
})

describe('DMA fuzz regressions: a Next the driver set to undefined ends the MDL chain', () => {
  it('GetScatterGatherList for more than an MDL whose Next is undefined describes is dma-bad-argument, not a TypeError inside the HAL', () => {
    const { m, a, ndis } = loadTestMiniport()
    const pdo = ndis.NdisMGetDeviceProperty(a.handle).physicalDeviceObject
    const adapter = ndis.IoGetDmaAdapter(pdo, { Version: 2, Master: true, ScatterGather: true, Dma32BitAddresses: true, Dma64BitAddresses: false, InterfaceType: 5, MaximumLength: 65536 }).dmaAdapter!
    const va = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 256, 'tseT')
    const mdl = ndis.IoAllocateMdl(va, 256)!
    ndis.MmBuildMdlForNonPagedPool(mdl)
    mdl.Next = undefined as never
    let status = 0
    expect(() => (status = adapter.DmaOperations.GetScatterGatherList(adapter, null, mdl, va, 1000, () => {}, null, true))).not.toThrow()
    // GetScatterGatherList page: STATUS_BUFFER_TOO_SMALL "The buffer is too small for the requested
    // transfer"; bug check 0xE6/0x24 "Insufficient buffer for requested length", p2 the length unaccounted.
    expect(status).toBe(STATUS_BUFFER_TOO_SMALL)
    const f = m.findings.find((x) => x.kind === 'dma-bad-argument' && /fewer than Length/.test(x.message))
    expect(f?.params).toEqual([0x24, 1000 - 256, 0, 0])
  })
})

describe('DMA fuzz regressions: a Length that is not a byte count', () => {
  it('GetScatterGatherList with a fractional Length, IOMMU on, is dma-bad-argument and STATUS_INVALID_PARAMETER, not a RangeError from the IOMMU tables', () => {
    const { m, a, ndis } = loadTestMiniport({ iommu: true })
    const pdo = ndis.NdisMGetDeviceProperty(a.handle).physicalDeviceObject
    const adapter = ndis.IoGetDmaAdapter(pdo, { Version: 2, Master: true, ScatterGather: true, Dma32BitAddresses: true, Dma64BitAddresses: false, InterfaceType: 5, MaximumLength: 65536 }).dmaAdapter!
    const va = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 256, 'tseT')
    const mdl = ndis.IoAllocateMdl(va, 256)!
    ndis.MmBuildMdlForNonPagedPool(mdl)
    let status = 0
    expect(() => (status = adapter.DmaOperations.GetScatterGatherList(adapter, null, mdl, va, 100.5, () => {}, null, false))).not.toThrow()
    expect(status).toBe(STATUS_INVALID_PARAMETER)
    expect(m.findings.some((f) => f.kind === 'dma-bad-argument' && /Length 100\.5/.test(f.message))).toBe(true)
  })
})
