// GetScatterGatherList / PutScatterGatherList / BuildScatterGatherList: the logical addresses a
// device is given for a buffer described by an MDL. Without an IOMMU, pages beyond a 32-bit
// device's reach are bounced through map registers (copied in at map time for a transfer to the
// device, copied back at Put for one from it) and counted; with the IOMMU the pages are mapped
// instead. When map registers run out, the request waits and its execution routine runs after
// a Put frees some. The adapter reports lists and map registers never given back.
import { describe, expect, it } from 'vitest'
import { BUGCHECK } from '../../src/index.js'
import { DMA_STATUS } from '../../src/hw/dma-engine.js'
import type { MDL } from '../../src/kernel/mdl.js'
import type { DMA_ADAPTER } from '../../src/ndis/api.js'
import type { SCATTER_GATHER_LIST } from '../../src/ndis/types.js'
import { TWO_POW_32, kinds, lineHere, loadTestMiniport, theFinding, type Loaded } from '../support/driver-fixture.js'

const PAGE = 4096
const STATUS_SUCCESS = 0
const STATUS_INSUFFICIENT_RESOURCES = 0xc000_009a
const STATUS_BUFFER_TOO_SMALL = 0xc000_0023

function adapterOf(l: Loaded, maximumLength = 64 * 1024): DMA_ADAPTER {
  const pdo = l.ndis.NdisMGetDeviceProperty(l.a.handle).physicalDeviceObject
  const { dmaAdapter } = l.ndis.IoGetDmaAdapter(pdo, { Version: 2, Master: true, ScatterGather: true, Dma32BitAddresses: true, Dma64BitAddresses: false, InterfaceType: 5, MaximumLength: maximumLength })
  return dmaAdapter!
}

/** A nonpaged pool buffer with a built MDL, filled with a pattern. */
function buffer(l: Loaded, length: number, seed = 1): { va: number; mdl: MDL; bytes: Uint8Array } {
  const va = l.ndis.ExAllocatePoolWithTag(l.ndis.NonPagedPoolNx, length, 'fuBT')
  const mdl = l.ndis.IoAllocateMdl(va, length)!
  l.ndis.MmBuildMdlForNonPagedPool(mdl)
  const bytes = Uint8Array.from({ length }, (_, i) => (i * 13 + seed) & 0xff)
  l.ndis.memory.writeBytes(va, bytes)
  return { va, mdl, bytes }
}

interface Mapped {
  sgl: SCATTER_GATHER_LIST | null
  irql: number
  /** True when the execution routine ran before GetScatterGatherList returned. */
  inline: boolean
}

/** GetScatterGatherList at DISPATCH_LEVEL, as a driver calls it; the list arrives in `mapped`. */
function getList(l: Loaded, adapter: DMA_ADAPTER, mdl: MDL, length: number, writeToDevice: boolean): { status: number; mapped: Mapped } {
  const mapped: Mapped = { sgl: null, irql: -1, inline: false }
  let returned = false
  const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
  const status = adapter.DmaOperations.GetScatterGatherList(adapter, null, mdl, l.ndis.MmGetMdlVirtualAddress(mdl), length, (_d, _irp, sgl) => {
    mapped.sgl = sgl
    mapped.irql = l.ndis.KeGetCurrentIrql()
    mapped.inline = !returned
  }, null, writeToDevice)
  returned = true
  l.ndis.KeLowerIrql(oldIrql)
  return { status, mapped }
}

function putList(l: Loaded, adapter: DMA_ADAPTER, sgl: SCATTER_GATHER_LIST, writeToDevice: boolean): void {
  const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
  adapter.DmaOperations.PutScatterGatherList(adapter, sgl, writeToDevice)
  l.ndis.KeLowerIrql(oldIrql)
}

/** What the device reads from an S/G list, element by element. */
function deviceReads(l: Loaded, sgl: SCATTER_GATHER_LIST): Uint8Array {
  const total = sgl.Elements.reduce((n, e) => n + e.Length, 0)
  const out = new Uint8Array(total)
  let at = 0
  for (const e of sgl.Elements) {
    expect(l.m.nic.dma.read(e.Address, out, at, e.Length)).toBe(DMA_STATUS.ok)
    at += e.Length
  }
  return out
}

describe('scatter/gather lists and bounce buffers', () => {
  it('without an IOMMU, a send buffer above 4 GiB is bounced below it: the device reads the data intact and the bytes are counted', () => {
    const l = loadTestMiniport({ memory: { policy: 'high-first' } })
    const adapter = adapterOf(l)
    const length = 2 * PAGE + 300
    const { va, mdl, bytes } = buffer(l, length)
    expect(l.ndis.MmGetPhysicalAddress(va)).toBeGreaterThanOrEqual(TWO_POW_32)
    const before = l.m.report().dma.bounceBytes
    const { status, mapped } = getList(l, adapter, mdl, length, true)
    expect(status).toBe(STATUS_SUCCESS)
    expect(mapped.inline).toBe(true)
    expect(mapped.irql).toBe(l.ndis.DISPATCH_LEVEL)
    const sgl = mapped.sgl!
    expect(sgl.Elements.every((e) => e.Address + e.Length <= TWO_POW_32)).toBe(true)
    expect(sgl.Elements.reduce((n, e) => n + e.Length, 0)).toBe(length)
    expect(deviceReads(l, sgl)).toEqual(bytes)
    expect(l.m.report().dma.bounceBytes - before).toBe(length)
    putList(l, adapter, sgl, true)
    expect(l.m.report().dma.bounceBytes - before).toBe(length) // nothing copied back for a send
    l.ndis.IoFreeMdl(mdl)
    l.ndis.ExFreePoolWithTag(va, 'fuBT')
    adapter.DmaOperations.PutDmaAdapter(adapter)
    expect(l.m.findings).toEqual([])
  })

  it('with the IOMMU, the same buffer is mapped, not bounced: one IOVA element, read-only for a send', () => {
    const l = loadTestMiniport({ iommu: true, memory: { policy: 'high-first' } })
    const adapter = adapterOf(l)
    const length = 3 * PAGE
    const { va, mdl, bytes } = buffer(l, length)
    const before = l.m.report().dma.bounceBytes
    const { mapped } = getList(l, adapter, mdl, length, true)
    const sgl = mapped.sgl!
    expect(sgl.NumberOfElements).toBe(1)
    const iova = sgl.Elements[0]!.Address
    expect(iova + length).toBeLessThanOrEqual(TWO_POW_32)
    for (let p = 0; p < 3; p++) expect(l.m.iommu.lookup(l.m.nic.bdf, iova + p * PAGE)).toBe(l.ndis.MmGetPhysicalAddress(va + p * PAGE))
    expect(deviceReads(l, sgl)).toEqual(bytes)
    expect(l.m.report().dma.bounceBytes).toBe(before)
    // The device may not write into a buffer it was given to read.
    expect(l.m.nic.dma.write(iova, new Uint8Array(4), 0, 4)).toBe(DMA_STATUS.iommuFault)
    expect(theFinding(l.m, 'iommu-fault').details).toMatchObject({ address: iova, access: 'write' })
    putList(l, adapter, sgl, true)
    expect(l.m.iommu.lookup(l.m.nic.bdf, iova)).toBe(-1)
  })

  it('a transfer from the device (WriteToDevice false) lands in the bounce page and is copied back at Put', () => {
    const l = loadTestMiniport({ memory: { policy: 'high-first' } })
    const adapter = adapterOf(l)
    const length = PAGE + 512
    const { va, mdl, bytes } = buffer(l, length)
    const before = l.m.report().dma.bounceBytes
    const { mapped } = getList(l, adapter, mdl, length, false)
    const sgl = mapped.sgl!
    expect(l.m.report().dma.bounceBytes).toBe(before) // nothing copied in for a receive
    const frame = Uint8Array.from({ length }, (_, i) => (i * 31 + 7) & 0xff)
    let at = 0
    for (const e of sgl.Elements) {
      expect(e.Address + e.Length).toBeLessThanOrEqual(TWO_POW_32)
      expect(l.m.nic.dma.write(e.Address, frame, at, e.Length)).toBe(DMA_STATUS.ok)
      at += e.Length
    }
    // Until Put, the driver's buffer still holds what it held.
    expect(l.ndis.memory.readBytes(va, length)).toEqual(bytes)
    putList(l, adapter, sgl, false)
    expect(l.ndis.memory.readBytes(va, length)).toEqual(frame)
    expect(l.m.report().dma.bounceBytes - before).toBe(length)
    expect(l.m.findings).toEqual([])
  })

  it('with more bounced transfers than map registers, a request waits and its execution routine runs after a Put', () => {
    const l = loadTestMiniport({ memory: { policy: 'high-first' } })
    const adapter = adapterOf(l, 2 * PAGE) // 3 map registers
    const bufs = [1, 2, 3, 4].map((seed) => buffer(l, PAGE, seed))
    const got = bufs.map((b) => getList(l, adapter, b.mdl, PAGE, true))
    expect(got.map((g) => g.status)).toEqual([0, 0, 0, 0])
    expect(got.map((g) => g.mapped.inline)).toEqual([true, true, true, false])
    expect(got[3]!.mapped.sgl).toBeNull()
    putList(l, adapter, got[1]!.mapped.sgl!, true)
    const waited = got[3]!.mapped
    expect(waited.sgl).not.toBeNull()
    expect(waited.irql).toBe(l.ndis.DISPATCH_LEVEL)
    expect(deviceReads(l, waited.sgl!)).toEqual(bufs[3]!.bytes)
    for (const g of [got[0]!, got[2]!, got[3]!]) putList(l, adapter, g.mapped.sgl!, true)
    adapter.DmaOperations.PutDmaAdapter(adapter)
    expect(l.m.findings).toEqual([])
  })

  it('waiting requests are served in the order they were made: a later one that fits does not take registers an earlier one waits for', () => {
    const l = loadTestMiniport({ memory: { policy: 'high-first' } })
    const adapter = adapterOf(l, 2 * PAGE) // 3 map registers
    const held = [1, 2, 3].map((seed) => getList(l, adapter, buffer(l, PAGE, seed).mdl, PAGE, true).mapped.sgl!)
    const order: string[] = []
    const request = (name: string, pages: number): void => {
      const { mdl } = buffer(l, pages * PAGE)
      const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
      const status = adapter.DmaOperations.GetScatterGatherList(adapter, null, mdl, l.ndis.MmGetMdlVirtualAddress(mdl), pages * PAGE, () => order.push(name), null, true)
      l.ndis.KeLowerIrql(oldIrql)
      expect(status).toBe(STATUS_SUCCESS)
    }
    request('two pages', 2)
    putList(l, adapter, held[0]!, true) // one register free: not enough for the first waiter
    request('one page', 1) // would fit, but waits its turn
    expect(order).toEqual([])
    putList(l, adapter, held[1]!, true)
    expect(order).toEqual(['two pages'])
    putList(l, adapter, held[2]!, true)
    expect(order).toEqual(['two pages', 'one page'])
  })

  it('a transfer that needs more map registers than the adapter has is refused, not queued forever', () => {
    const l = loadTestMiniport({ memory: { policy: 'high-first' } })
    const adapter = adapterOf(l, PAGE) // 2 map registers
    const { mdl } = buffer(l, 3 * PAGE)
    const { status, mapped } = getList(l, adapter, mdl, 3 * PAGE, true)
    expect(status).toBe(STATUS_INSUFFICIENT_RESOURCES)
    expect(mapped.sgl).toBeNull()
  })

  it('a pool buffer that reaches the device through an S/G list is legitimate: no finding in any configuration', () => {
    for (const iommu of [false, true]) {
      for (const policy of ['high-first', 'low-first'] as const) {
        const l = loadTestMiniport({ iommu, memory: { policy } })
        const adapter = adapterOf(l)
        const { mdl, bytes } = buffer(l, 2 * PAGE)
        const { mapped } = getList(l, adapter, mdl, 2 * PAGE, true)
        expect(deviceReads(l, mapped.sgl!)).toEqual(bytes)
        putList(l, adapter, mapped.sgl!, true)
        expect(l.m.findings).toEqual([])
      }
    }
  })

  it('BuildScatterGatherList fills the caller\'s list in place, or says the buffer is too small', () => {
    const l = loadTestMiniport({ memory: { policy: 'low-first' } })
    const adapter = adapterOf(l)
    const { mdl } = buffer(l, 2 * PAGE)
    const mine: SCATTER_GATHER_LIST = { NumberOfElements: 0, Reserved: 0, Elements: [] }
    const va = l.ndis.MmGetMdlVirtualAddress(mdl)
    const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
    expect(adapter.DmaOperations.BuildScatterGatherList(adapter, null, mdl, va, 2 * PAGE, () => {}, null, true, mine, 16)).toBe(STATUS_BUFFER_TOO_SMALL)
    let given: SCATTER_GATHER_LIST | null = null
    expect(adapter.DmaOperations.BuildScatterGatherList(adapter, null, mdl, va, 2 * PAGE, (_d, _i, sgl) => (given = sgl), null, true, mine, 16 + 3 * 24)).toBe(STATUS_SUCCESS)
    expect(given).toBe(mine)
    expect(mine.Elements.reduce((n, e) => n + e.Length, 0)).toBe(2 * PAGE)
    adapter.DmaOperations.PutScatterGatherList(adapter, mine, true)
    l.ndis.KeLowerIrql(oldIrql)
    expect(l.m.findings).toEqual([])
  })

  it('GetScatterGatherList and PutScatterGatherList above DISPATCH_LEVEL are 0xE6/0x13 at the calling line', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l)
    const { mdl } = buffer(l, 100)
    const { oldIrql } = l.ndis.KeRaiseIrql(5)
    let sgl: SCATTER_GATHER_LIST | null = null
    const site = lineHere(1)
    adapter.DmaOperations.GetScatterGatherList(adapter, null, mdl, l.ndis.MmGetMdlVirtualAddress(mdl), 100, (_d, _i, s) => (sgl = s), null, true)
    const putSite = lineHere(1)
    adapter.DmaOperations.PutScatterGatherList(adapter, sgl!, true)
    l.ndis.KeLowerIrql(oldIrql)
    expect(kinds(l.m)).toEqual(['irql-violation', 'irql-violation'])
    // Bug check 0xE6/0x13: p2 0x02 "Current IRQL is higher than expected", p3 the expected maximum, p4 the current IRQL.
    expect(l.m.findings[0]).toMatchObject({ code: 0xe6, params: [0x13, 0x02, 2, 5], site, message: 'GetScatterGatherList at DIRQL(5): it must be called at DISPATCH_LEVEL or below' })
    expect(l.m.findings[1]).toMatchObject({ code: 0xe6, params: [0x13, 0x02, 2, 5], site: putSite, message: 'PutScatterGatherList at DIRQL(5): it must be called at DISPATCH_LEVEL or below' })
  })

  it('PutDmaAdapter with a bounced list never put back is sg-list-leak (0xE6/0x0A) and map-register-leak (0xE6/0x09)', () => {
    const l = loadTestMiniport({ memory: { policy: 'high-first' } })
    const adapter = adapterOf(l, 16 * 1024)
    const { mdl } = buffer(l, 2 * PAGE)
    const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
    const site = lineHere(1)
    adapter.DmaOperations.GetScatterGatherList(adapter, null, mdl, l.ndis.MmGetMdlVirtualAddress(mdl), 2 * PAGE, () => {}, null, true)
    l.ndis.KeLowerIrql(oldIrql)
    adapter.DmaOperations.PutDmaAdapter(adapter)
    // Bug check 0xE6/0x0A and 0x09: p2 the DMA adapter, p3 the number of lists / map registers outstanding.
    const adapterAddress = l.m.hal.stateOf(adapter)!.address
    const sg = theFinding(l.m, 'sg-list-leak')
    expect(sg).toMatchObject({ code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, params: [0x0a, adapterAddress, 1, 0], site })
    expect(sg.message).toBe('DMA adapter released with a scatter/gather list of 8192 bytes never put back (GetScatterGatherList without its Put/Free)')
    const mr = theFinding(l.m, 'map-register-leak')
    expect(mr).toMatchObject({ code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, params: [0x09, adapterAddress, 2, 0] })
    expect(mr.message).toBe('DMA adapter released with 2 map registers still held by unfinished transfers')
  })

  it('PutScatterGatherList a second time is 0xE6/0x06 (lists allocated, lists freed); of a list this adapter did not hand out, a bad argument', () => {
    const l = loadTestMiniport({ memory: { policy: 'low-first' } })
    const adapter = adapterOf(l)
    const { mdl } = buffer(l, 64)
    const { mapped } = getList(l, adapter, mdl, 64, true)
    putList(l, adapter, mapped.sgl!, true)
    const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
    const site = lineHere(1)
    adapter.DmaOperations.PutScatterGatherList(adapter, mapped.sgl!, true)
    adapter.DmaOperations.PutScatterGatherList(adapter, { NumberOfElements: 1, Reserved: 0, Elements: [{ Address: 0x1000, Length: 64, Reserved: 0 }] }, true)
    l.ndis.KeLowerIrql(oldIrql)
    expect(kinds(l.m)).toEqual(['dma-bad-argument', 'dma-bad-argument'])
    const [twice, foreign] = l.m.findings
    // Bug check 0xE6/0x06 "The driver freed too many DMA scatter/gather lists": p2 allocated, p3 freed.
    expect(twice).toMatchObject({ code: 0xe6, params: [0x06, 1, 2, 0], site, message: 'PutScatterGatherList: the scatter/gather list was already put back' })
    expect(foreign!.message).toBe('PutScatterGatherList: the scatter/gather list is not one this adapter handed out')
  })
})
