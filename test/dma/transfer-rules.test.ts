// The rules every DMA transfer follows, each against its WDK page:
//  - direction (GetScatterGatherList, "WriteToDevice: TRUE for a transfer from the buffer to the
//    device"): a to-device mapping is read-only for the device, a from-device one write-only;
//    the IOMMU enforces it, and with it off the DMA verifier reports the other access;
//  - map registers (GetScatterGatherList, Return value: STATUS_INSUFFICIENT_RESOURCES when "the
//    number of map registers required for the transfer is larger than the value returned by
//    IoGetDmaAdapter"; bug check 0xE6/0x0C "tried to allocate too many map registers": p2
//    required, p3 maximum), whatever memory the buffer lands in and with the IOMMU on or off;
//  - the 0xE6 sub-codes for a buffer mapped twice (0x1D), a buffer not locked (0x0E), a
//    zero-length buffer (0x21), an address outside the first MDL (0x1F), an adapter already
//    released (0x18) or that is none (0x19), an unknown DEVICE_DESCRIPTION version (0x25);
//  - CalculateScatterGatherList over an MDL chain, GetDmaAlignment, KeFlushIoBuffers.
import { describe, expect, it } from 'vitest'
import { BUGCHECK } from '../../src/index.js'
import { DMA_STATUS } from '../../src/hw/dma-engine.js'
import type { MDL } from '../../src/kernel/mdl.js'
import type { DMA_ADAPTER } from '../../src/ndis/api.js'
import type { SCATTER_GATHER_LIST } from '../../src/ndis/types.js'
import { TWO_POW_32, kinds, loadTestMiniport, theFinding, type Loaded } from '../support/driver-fixture.js'

const PAGE = 4096
const STATUS_SUCCESS = 0
const STATUS_INVALID_PARAMETER = 0xc000_000d
const STATUS_INSUFFICIENT_RESOURCES = 0xc000_009a

function adapterOf(l: Loaded, maximumLength = 16 * 1024, version = 2): DMA_ADAPTER {
  const pdo = l.ndis.NdisMGetDeviceProperty(l.a.handle).physicalDeviceObject
  const { dmaAdapter } = l.ndis.IoGetDmaAdapter(pdo, { Version: version, Master: true, ScatterGather: true, Dma32BitAddresses: true, Dma64BitAddresses: false, InterfaceType: 5, MaximumLength: maximumLength, DmaAddressWidth: 32 })
  return dmaAdapter!
}

function buffer(l: Loaded, length: number, offsetInPage = 0): { va: number; mdl: MDL } {
  const base = l.ndis.ExAllocatePoolWithTag(l.ndis.NonPagedPoolNx, length + offsetInPage, 'fuBT')
  const va = base + offsetInPage
  const mdl = l.ndis.IoAllocateMdl(va, length)!
  l.ndis.MmBuildMdlForNonPagedPool(mdl)
  return { va, mdl }
}

/** The line of `map` that calls GetScatterGatherList: the driver line findings about a mapping name. */
const MAP_SITE = /^test\/dma\/transfer-rules\.test\.ts:\d+$/

/** GetScatterGatherList at DISPATCH_LEVEL from `currentVa`; the list, if the execution routine ran. */
function map(l: Loaded, adapter: DMA_ADAPTER, mdl: MDL, length: number, writeToDevice: boolean, currentVa = l.ndis.MmGetMdlVirtualAddress(mdl)): { status: number; sgl: SCATTER_GATHER_LIST | null } {
  let sgl: SCATTER_GATHER_LIST | null = null
  const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
  const status = adapter.DmaOperations.GetScatterGatherList(adapter, null, mdl, currentVa, length, (_d, _irp, s) => (sgl = s), null, writeToDevice)
  l.ndis.KeLowerIrql(oldIrql)
  return { status, sgl }
}

function put(l: Loaded, adapter: DMA_ADAPTER, sgl: SCATTER_GATHER_LIST, writeToDevice: boolean): void {
  const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
  adapter.DmaOperations.PutScatterGatherList(adapter, sgl, writeToDevice)
  l.ndis.KeLowerIrql(oldIrql)
}

describe('direction: a mapping is made for one way only', () => {
  it('with the IOMMU off, a device write into a to-device list and a device read of a from-device list are dma-wrong-direction; the right way is clean', () => {
    const l = loadTestMiniport({ iommu: false, memory: { policy: 'low-first' } })
    const adapter = adapterOf(l)
    const send = buffer(l, 256)
    const receive = buffer(l, 256)
    const out = map(l, adapter, send.mdl, 256, true).sgl!
    const into = map(l, adapter, receive.mdl, 256, false).sgl!
    const data = new Uint8Array(256)
    expect(l.m.nic.dma.read(out.Elements[0]!.Address, data, 0, 256)).toBe(DMA_STATUS.ok)
    expect(l.m.nic.dma.write(into.Elements[0]!.Address, data, 0, 256)).toBe(DMA_STATUS.ok)
    expect(l.m.findings).toEqual([])
    // The wrong way: the access still lands (no IOMMU to stop it), and the verifier says why it is wrong.
    l.m.nic.dma.write(out.Elements[0]!.Address, data, 0, 4)
    const f = theFinding(l.m, 'dma-wrong-direction')
    expect(f.site).toMatch(MAP_SITE)
    expect(f.details).toMatchObject({ access: 'write', physicalAddress: l.ndis.MmGetPhysicalAddress(send.va) })
    expect(f.message).toContain('which was mapped for a transfer to the device (WriteToDevice TRUE, NDIS_SG_LIST_WRITE_TO_DEVICE): the device may only read it')
    l.m.nic.dma.read(into.Elements[0]!.Address, data, 0, 4)
    expect(kinds(l.m)).toEqual(['dma-wrong-direction', 'dma-wrong-direction'])
    expect(l.m.findings[1]!.message).toContain('from the device (WriteToDevice FALSE): the device may only write it')
  })

  it('with the IOMMU on, the to-device list is read-only and the from-device list write-only in the IOMMU: the wrong way faults', () => {
    const l = loadTestMiniport({ iommu: true, memory: { policy: 'high-first' } })
    const adapter = adapterOf(l)
    const send = buffer(l, 256)
    const receive = buffer(l, 256)
    const out = map(l, adapter, send.mdl, 256, true).sgl!.Elements[0]!.Address
    const into = map(l, adapter, receive.mdl, 256, false).sgl!.Elements[0]!.Address
    const data = new Uint8Array(4)
    expect(l.m.nic.dma.write(out, data, 0, 4)).toBe(DMA_STATUS.iommuFault)
    expect(l.m.nic.dma.read(into, data, 0, 4)).toBe(DMA_STATUS.iommuFault)
    // VT-d fault reasons 5 (write not permitted) and 6 (read not permitted).
    expect(l.m.iommu.faults.map((f) => [f.address, f.access, f.reason])).toEqual([[out, 'write', 5], [into, 'read', 6]])
  })

  it('a bounced to-device list is copied in and never back: what the device wrote into the bounce page does not reach the buffer', () => {
    const l = loadTestMiniport({ iommu: false, memory: { policy: 'high-first' } })
    const adapter = adapterOf(l)
    const send = buffer(l, 64)
    l.ndis.memory.fill(send.va, 64, 0x5a)
    const sgl = map(l, adapter, send.mdl, 64, true).sgl!
    const bounce = sgl.Elements[0]!.Address
    expect(bounce + 64).toBeLessThanOrEqual(TWO_POW_32)
    l.m.nic.dma.write(bounce, new Uint8Array(64), 0, 64)
    put(l, adapter, sgl, true)
    expect([...l.ndis.memory.readBytes(send.va, 64)].every((b) => b === 0x5a)).toBe(true)
    expect(kinds(l.m)).toEqual(['dma-wrong-direction'])
  })
})

describe('map registers limit every transfer', () => {
  for (const iommu of [false, true]) {
    it(`a transfer needing more map registers than IoGetDmaAdapter gave fails with STATUS_INSUFFICIENT_RESOURCES and 0xE6/0x0C, memory below 4 GiB, IOMMU ${iommu ? 'on' : 'off'}`, () => {
      // low-first: nothing needs bouncing, yet the limit holds.
      const l = loadTestMiniport({ iommu, memory: { policy: 'low-first' } })
      const pdo = l.ndis.NdisMGetDeviceProperty(l.a.handle).physicalDeviceObject
      const { dmaAdapter, numberOfMapRegisters } = l.ndis.IoGetDmaAdapter(pdo, { Version: 2, Master: true, ScatterGather: true, Dma32BitAddresses: true, Dma64BitAddresses: false, InterfaceType: 5, MaximumLength: 16 * 1024 })
      expect(numberOfMapRegisters).toBe(5)
      const adapter = dmaAdapter!
      const fits = buffer(l, 5 * PAGE)
      const { status: ok, sgl } = map(l, adapter, fits.mdl, 5 * PAGE, true)
      expect(ok).toBe(STATUS_SUCCESS)
      put(l, adapter, sgl!, true)
      // Six pages: one more than the adapter's five map registers.
      const big = buffer(l, 5 * PAGE, 100)
      const { status, sgl: none } = map(l, adapter, big.mdl, 5 * PAGE, true)
      expect(status).toBe(STATUS_INSUFFICIENT_RESOURCES)
      expect(none).toBeNull()
      const f = theFinding(l.m, 'dma-too-many-map-registers')
      expect(f).toMatchObject({ code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, params: [0x0c, 6, 5, 0] })
      expect(f.site).toMatch(MAP_SITE)
      // BuildScatterGatherList follows the same rule.
      const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
      const into: SCATTER_GATHER_LIST = { NumberOfElements: 0, Reserved: 0, Elements: [] }
      const built = adapter.DmaOperations.BuildScatterGatherList(adapter, null, big.mdl, big.va, 5 * PAGE, () => {}, null, true, into, 4096)
      l.ndis.KeLowerIrql(oldIrql)
      expect(built).toBe(STATUS_INSUFFICIENT_RESOURCES)
      expect(kinds(l.m)).toEqual(['dma-too-many-map-registers', 'dma-too-many-map-registers'])
    })
  }

  it('a chained transfer needs the map registers of each MDL of the chain, summed (GetScatterGatherList: "the total number of map registers required by all chained MDLs")', () => {
    const l = loadTestMiniport({ memory: { policy: 'low-first' } })
    const adapter = adapterOf(l) // 5 map registers
    // Three MDLs of 200 bytes, each across a page boundary: 2 + 2 + 2 = 6 registers for 600 bytes.
    const parts = [0, 1, 2].map(() => buffer(l, 200, PAGE - 100))
    parts[0]!.mdl.Next = parts[1]!.mdl
    parts[1]!.mdl.Next = parts[2]!.mdl
    expect(map(l, adapter, parts[0]!.mdl, 600, true).status).toBe(STATUS_INSUFFICIENT_RESOURCES)
    expect(theFinding(l.m, 'dma-too-many-map-registers').params).toEqual([0x0c, 6, 5, 0])
    // CalculateScatterGatherList walks the same chain.
    expect(adapter.DmaOperations.CalculateScatterGatherList(adapter, parts[0]!.mdl, parts[0]!.va, 600)).toEqual({ status: STATUS_SUCCESS, scatterGatherListSize: 16 + 6 * 24, numberOfMapRegisters: 6 })
    expect(adapter.DmaOperations.CalculateScatterGatherList(adapter, parts[0]!.mdl, parts[0]!.va, 400)).toEqual({ status: STATUS_SUCCESS, scatterGatherListSize: 16 + 4 * 24, numberOfMapRegisters: 4 })
    // Without an MDL, the pages of the virtual range alone.
    expect(adapter.DmaOperations.CalculateScatterGatherList(adapter, null, parts[0]!.va, 600).numberOfMapRegisters).toBe(2)
  })
})

describe('what the DMA verifier reports about the buffer given', () => {
  it('a buffer mapped again while its first list is live is 0xE6/0x1D (start, end, the address already mapped); once put back, mapping it again is clean', () => {
    for (const policy of ['low-first', 'high-first'] as const) {
      const l = loadTestMiniport({ iommu: false, memory: { policy } })
      const adapter = adapterOf(l)
      const { va, mdl } = buffer(l, 1000)
      const first = map(l, adapter, mdl, 1000, true).sgl!
      const second = map(l, adapter, mdl, 900, true, va + 100).sgl!
      const f = theFinding(l.m, 'dma-double-map')
      expect(f).toMatchObject({ code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, params: [0x1d, va + 100, va + 1000, va + 100] })
      expect(f.site).toMatch(MAP_SITE)
      expect(f.message).toContain('is already mapped by the live scatter/gather list for 1000 bytes (GetScatterGatherList)')
      put(l, adapter, second, true)
      put(l, adapter, first, true)
      put(l, adapter, map(l, adapter, mdl, 1000, true).sgl!, true)
      expect(kinds(l.m)).toEqual(['dma-double-map'])
    }
  })

  it('an MDL whose pages were never built or locked is 0xE6/0x0E with the MDL, and STATUS_INVALID_PARAMETER', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l)
    const va = l.ndis.ExAllocatePoolWithTag(l.ndis.NonPagedPoolNx, 512, 'fuBT')
    const mdl = l.ndis.IoAllocateMdl(va, 512)! // no MmBuildMdlForNonPagedPool / MmProbeAndLockPages
    const { status } = map(l, adapter, mdl, 512, true)
    expect(status).toBe(STATUS_INVALID_PARAMETER)
    const f = theFinding(l.m, 'dma-unlocked-buffer')
    expect(f.params).toEqual([0x0e, l.m.kernel.mdl.stateOf(mdl)!.address, 0, 0])
  })

  it('a zero Length is 0xE6/0x21; a CurrentVa before or after the first MDL is 0xE6/0x1F with 0x01 / 0x02, the address and the MDL', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l)
    const { va, mdl } = buffer(l, 512)
    const mdlAddress = l.m.kernel.mdl.stateOf(mdl)!.address
    expect(map(l, adapter, mdl, 0, true).status).toBe(STATUS_INVALID_PARAMETER)
    expect(map(l, adapter, mdl, 16, true, va - 16).status).toBe(STATUS_INVALID_PARAMETER)
    expect(map(l, adapter, mdl, 16, true, va + 600).status).toBe(STATUS_INVALID_PARAMETER)
    expect(kinds(l.m)).toEqual(['dma-bad-argument', 'dma-bad-argument', 'dma-bad-argument'])
    expect(l.m.findings.map((f) => f.params)).toEqual([
      [0x21, 0, 0, 0],
      [0x1f, 0x01, va - 16, mdlAddress],
      [0x1f, 0x02, va + 600, mdlAddress],
    ])
  })
})

describe('adapters and descriptions', () => {
  it('IoGetDmaAdapter returns NULL for a DEVICE_DESCRIPTION version the HAL does not know (0xE6/0x25)', () => {
    const l = loadTestMiniport()
    const pdo = l.ndis.NdisMGetDeviceProperty(l.a.handle).physicalDeviceObject
    for (const Version of [4, -1, 2.5]) {
      const r = l.ndis.IoGetDmaAdapter(pdo, { Version, Master: true, ScatterGather: true, Dma32BitAddresses: true, Dma64BitAddresses: false, InterfaceType: 5, MaximumLength: 4096 })
      expect(r).toEqual({ dmaAdapter: null, numberOfMapRegisters: 0 })
    }
    expect(l.m.findings.map((f) => [f.kind, f.code, f.params?.[0]])).toEqual(Array(3).fill(['dma-bad-argument', 0xe6, 0x25]))
  })

  it('a routine called through a released adapter is 0xE6/0x18 with the adapter; through something that is no adapter, 0xE6/0x19', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l)
    const address = l.m.hal.stateOf(adapter)!.address
    adapter.DmaOperations.PutDmaAdapter(adapter)
    adapter.DmaOperations.AllocateCommonBuffer(adapter, PAGE, false)
    adapter.DmaOperations.PutDmaAdapter({ Version: 1, Size: 16, DmaOperations: adapter.DmaOperations })
    expect(l.m.findings.map((f) => f.params)).toEqual([[0x18, address, 0, 0], [0x19, 0, 0, 0]])
  })

  it('GetDmaAlignment reports 1 (x64 DMA has no alignment requirement: ntddk.h HalGetDmaAlignmentRequirement() is 1 on _M_AMD64)', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l)
    expect(adapter.DmaOperations.GetDmaAlignment(adapter)).toBe(1)
    expect(l.m.findings).toEqual([])
  })

  it('KeFlushIoBuffers of an MDL is legal up to DISPATCH_LEVEL and does nothing on cache-coherent x64; above it, 0xE6/0x13', () => {
    const l = loadTestMiniport()
    const { mdl } = buffer(l, 100)
    const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
    l.ndis.KeFlushIoBuffers(mdl, false, true)
    l.ndis.KeLowerIrql(oldIrql)
    expect(l.m.findings).toEqual([])
    const raised = l.ndis.KeRaiseIrql(5)
    l.ndis.KeFlushIoBuffers(mdl, true, true)
    l.ndis.KeLowerIrql(raised.oldIrql)
    expect(theFinding(l.m, 'irql-violation').params).toEqual([0x13, 0x02, 2, 5])
  })
})
