// The DMA version 3 scatter/gather routines against their WDK pages: GetScatterGatherListEx and
// BuildScatterGatherListEx exist only on an adapter from a DEVICE_DESCRIPTION_VERSION3
// description; the DMA transfer context "was initialized by a previous call to
// InitializeDmaTransferContext"; Offset is "a byte offset from the start of the buffer in the first
// MDL in the MDL chain"; with DMA_SYNCHRONOUS_CALLBACK "If the requested resources are not
// immediately available ... fails and returns STATUS_INSUFFICIENT_RESOURCES", the routine may be
// NULL and then "the driver must call the FreeAdapterObject routine"; BuildScatterGatherListEx
// returns STATUS_BUFFER_TOO_SMALL when "The caller-supplied buffer ... is too small".
import { describe, expect, it } from 'vitest'
import type { MDL } from '../../src/kernel/mdl.js'
import type { DMA_ADAPTER } from '../../src/ndis/api.js'
import type { SCATTER_GATHER_LIST } from '../../src/ndis/types.js'
import { kinds, loadTestMiniport, theFinding, type Loaded } from '../support/driver-fixture.js'

const PAGE = 4096
const STATUS_SUCCESS = 0
const STATUS_INVALID_PARAMETER = 0xc000_000d
const STATUS_BUFFER_TOO_SMALL = 0xc000_0023
const STATUS_INSUFFICIENT_RESOURCES = 0xc000_009a
const DMA_SYNCHRONOUS_CALLBACK = 0x1

function adapterOf(l: Loaded, version = 3): DMA_ADAPTER {
  const pdo = l.ndis.NdisMGetDeviceProperty(l.a.handle).physicalDeviceObject
  return l.ndis.IoGetDmaAdapter(pdo, { Version: version, Master: true, ScatterGather: true, Dma32BitAddresses: true, Dma64BitAddresses: false, InterfaceType: 5, MaximumLength: 16 * 1024, DmaAddressWidth: 32 }).dmaAdapter!
}

function buffer(l: Loaded, length: number): { va: number; mdl: MDL } {
  const va = l.ndis.ExAllocatePoolWithTag(l.ndis.NonPagedPoolNx, length, 'xEgS')
  const mdl = l.ndis.IoAllocateMdl(va, length)!
  l.ndis.MmBuildMdlForNonPagedPool(mdl)
  return { va, mdl }
}

function atDispatch<T>(l: Loaded, fn: () => T): T {
  const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
  const r = fn()
  l.ndis.KeLowerIrql(oldIrql)
  return r
}

describe('GetScatterGatherListEx / BuildScatterGatherListEx (DMA version 3)', () => {
  it('exist only on a DEVICE_DESCRIPTION_VERSION3 adapter', () => {
    const l = loadTestMiniport()
    expect(adapterOf(l, 2).DmaOperations.GetScatterGatherListEx).toBeUndefined()
    expect(adapterOf(l, 3).DmaOperations.GetScatterGatherListEx).toBeTypeOf('function')
  })

  it('synchronous without a routine: the list comes back, Offset counts through the MDL chain, and FreeAdapterObject ends it', () => {
    const l = loadTestMiniport({ memory: { policy: 'low-first' } })
    const adapter = adapterOf(l)
    const ops = adapter.DmaOperations
    const first = buffer(l, 300)
    const second = buffer(l, 500)
    first.mdl.Next = second.mdl
    const context = {}
    expect(ops.InitializeDmaTransferContext!(adapter, context)).toBe(STATUS_SUCCESS)
    // Offset 350 is 50 bytes into the second MDL.
    const r = atDispatch(l, () => ops.GetScatterGatherListEx!(adapter, null, context, first.mdl, 350, 200, DMA_SYNCHRONOUS_CALLBACK, null, null, true))
    expect(r.status).toBe(STATUS_SUCCESS)
    const sgl = r.scatterGatherList!
    expect(sgl.Elements.reduce((n, e) => n + e.Length, 0)).toBe(200)
    expect(sgl.Elements[0]!.Address).toBe(l.ndis.MmGetPhysicalAddress(second.va + 50))
    atDispatch(l, () => {
      ops.FreeAdapterObject!(adapter, 3)
      ops.PutScatterGatherList(adapter, sgl, true)
    })
    ops.PutDmaAdapter(adapter)
    expect(l.m.findings).toEqual([])
  })

  it('with a routine it runs before returning; an uninitialized transfer context or a NULL routine without DMA_SYNCHRONOUS_CALLBACK is STATUS_INVALID_PARAMETER', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l)
    const ops = adapter.DmaOperations
    const { mdl } = buffer(l, 100)
    const context = {}
    ops.InitializeDmaTransferContext!(adapter, context)
    let got: SCATTER_GATHER_LIST | null = null
    const ok = atDispatch(l, () => ops.GetScatterGatherListEx!(adapter, null, context, mdl, 0, 100, 0, (_d, _i, s) => (got = s), null, true))
    expect(ok.status).toBe(STATUS_SUCCESS)
    expect(got).not.toBeNull()
    atDispatch(l, () => ops.PutScatterGatherList(adapter, got!, true))
    expect(atDispatch(l, () => ops.GetScatterGatherListEx!(adapter, null, {}, mdl, 0, 100, 0, () => {}, null, true)).status).toBe(STATUS_INVALID_PARAMETER)
    expect(atDispatch(l, () => ops.GetScatterGatherListEx!(adapter, null, context, mdl, 0, 100, 0, null, null, true)).status).toBe(STATUS_INVALID_PARAMETER)
    expect(kinds(l.m)).toEqual(['dma-bad-argument', 'dma-bad-argument'])
  })

  it('DMA_SYNCHRONOUS_CALLBACK fails at once with STATUS_INSUFFICIENT_RESOURCES when the map registers are busy, where the asynchronous call waits', () => {
    const l = loadTestMiniport({ iommu: false, memory: { policy: 'high-first' } })
    const adapter = adapterOf(l) // 5 map registers; high-first memory is bounced
    const ops = adapter.DmaOperations
    const held = buffer(l, 4 * PAGE)
    const hold = atDispatch(l, () => {
      let sgl: SCATTER_GATHER_LIST | null = null
      ops.GetScatterGatherList(adapter, null, held.mdl, held.va, 4 * PAGE, (_d, _i, s) => (sgl = s), null, true)
      return sgl!
    })
    const { va, mdl } = buffer(l, 2 * PAGE)
    const context = {}
    ops.InitializeDmaTransferContext!(adapter, context)
    expect(atDispatch(l, () => ops.GetScatterGatherListEx!(adapter, null, context, mdl, 0, 2 * PAGE, DMA_SYNCHRONOUS_CALLBACK, null, null, true)).status).toBe(STATUS_INSUFFICIENT_RESOURCES)
    let later: SCATTER_GATHER_LIST | null = null
    expect(atDispatch(l, () => ops.GetScatterGatherListEx!(adapter, null, context, mdl, 0, 2 * PAGE, 0, (_d, _i, s) => (later = s), null, true)).status).toBe(STATUS_SUCCESS)
    expect(later).toBeNull()
    // The same context for another request while this one waits is refused.
    expect(atDispatch(l, () => ops.GetScatterGatherListEx!(adapter, null, context, mdl, 0, 100, 0, () => {}, null, true)).status).toBe(STATUS_INVALID_PARAMETER)
    atDispatch(l, () => ops.PutScatterGatherList(adapter, hold, true))
    expect(later).not.toBeNull()
    void va
  })

  it('BuildScatterGatherListEx fills the caller\'s buffer, or is STATUS_BUFFER_TOO_SMALL; both routines are fault-injectable', () => {
    const l = loadTestMiniport({ faults: 'routine=GetScatterGatherListEx' })
    const adapter = adapterOf(l)
    const ops = adapter.DmaOperations
    const { mdl } = buffer(l, 3 * PAGE)
    const context = {}
    ops.InitializeDmaTransferContext!(adapter, context)
    const into: SCATTER_GATHER_LIST = { NumberOfElements: 0, Reserved: 0, Elements: [] }
    expect(atDispatch(l, () => ops.BuildScatterGatherListEx!(adapter, null, context, mdl, 0, 3 * PAGE, DMA_SYNCHRONOUS_CALLBACK, null, null, true, into, 16 + 2 * 24)).status).toBe(STATUS_BUFFER_TOO_SMALL)
    const built = atDispatch(l, () => ops.BuildScatterGatherListEx!(adapter, null, context, mdl, 0, 3 * PAGE, DMA_SYNCHRONOUS_CALLBACK, null, null, true, into, 16 + 3 * 24))
    expect(built).toEqual({ status: STATUS_SUCCESS, scatterGatherList: into })
    atDispatch(l, () => {
      ops.FreeAdapterObject!(adapter, 3)
      ops.PutScatterGatherList(adapter, into, true)
    })
    expect(atDispatch(l, () => ops.GetScatterGatherListEx!(adapter, null, context, mdl, 0, 100, DMA_SYNCHRONOUS_CALLBACK, null, null, true)).status).toBe(STATUS_INSUFFICIENT_RESOURCES)
    expect(l.m.report().faults.injected.map((f) => f.routine)).toEqual(['GetScatterGatherListEx'])
    expect(l.m.findings).toEqual([])
  })

  it('an adapter object a synchronous call left to the driver and never freed is dma-channel-leak (0xE6/0x08) at PutDmaAdapter; FreeAdapterObject with none held is 0xE6/0x04', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l)
    const ops = adapter.DmaOperations
    const { mdl } = buffer(l, 100)
    const context = {}
    ops.InitializeDmaTransferContext!(adapter, context)
    atDispatch(l, () => ops.FreeAdapterObject!(adapter, 3))
    const r = atDispatch(l, () => ops.GetScatterGatherListEx!(adapter, null, context, mdl, 0, 100, DMA_SYNCHRONOUS_CALLBACK, null, null, true))
    atDispatch(l, () => ops.PutScatterGatherList(adapter, r.scatterGatherList!, true))
    ops.PutDmaAdapter(adapter)
    expect(kinds(l.m)).toEqual(['dma-bad-argument', 'dma-channel-leak'])
    expect(l.m.findings[0]!.params?.[0]).toBe(0x04)
    expect(theFinding(l.m, 'dma-channel-leak').params).toEqual([0x08, l.m.hal.stateOf(adapter)!.address, 1, 0])
  })
})
