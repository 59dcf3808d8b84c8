// Packet-based DMA against its WDK pages: AllocateAdapterChannel ("calls the driver-supplied
// AdapterControl routine ... STATUS_INSUFFICIENT_RESOURCES: The NumberOfMapRegisters is larger
// than the value returned by IoGetDmaAdapter"), DRIVER_CONTROL (called at DISPATCH_LEVEL; returns
// an IO_ALLOCATION_ACTION), MapTransfer ("the value of Length on return ... indicates how many
// bytes were mapped" for a scatter/gather bus master; "Otherwise, the input and output values of
// Length are identical"), FlushAdapterBuffers ("before freeing the map registers"),
// FreeMapRegisters ("This value must match the number specified in an earlier call to
// AllocateAdapterChannel"), FreeAdapterChannel, and the 0xE6 sub-codes for their misuse
// (0x04, 0x05, 0x08, 0x09, 0x0B, 0x0C, 0x10, 0x15, 0x20).
import { describe, expect, it } from 'vitest'
import { DMA_STATUS } from '../../src/hw/dma-engine.js'
import type { MDL } from '../../src/kernel/mdl.js'
import type { DMA_ADAPTER } from '../../src/ndis/api.js'
import { attachRecorder } from '../../src/report/recorder.js'
import { createMachine } from '../../src/index.js'
import { testMiniport } from '../support/test-miniport.js'
import { TWO_POW_32, kinds, loadTestMiniport, theFinding, type Loaded } from '../support/driver-fixture.js'

const PAGE = 4096
const STATUS_SUCCESS = 0
const STATUS_INSUFFICIENT_RESOURCES = 0xc000_009a
const KeepObject = 1
const DeallocateObjectKeepRegisters = 3

function adapterOf(l: Loaded, options: { maximumLength?: number; scatterGather?: boolean } = {}): DMA_ADAPTER {
  const pdo = l.ndis.NdisMGetDeviceProperty(l.a.handle).physicalDeviceObject
  const { dmaAdapter } = l.ndis.IoGetDmaAdapter(pdo, { Version: 2, Master: true, ScatterGather: options.scatterGather ?? true, Dma32BitAddresses: true, Dma64BitAddresses: false, InterfaceType: 5, MaximumLength: options.maximumLength ?? 16 * 1024 })
  return dmaAdapter!
}

function buffer(l: Loaded, length: number, seed = 3): { va: number; mdl: MDL; bytes: Uint8Array } {
  const va = l.ndis.ExAllocatePoolWithTag(l.ndis.NonPagedPoolNx, length, 'tkPD')
  const mdl = l.ndis.IoAllocateMdl(va, length)!
  l.ndis.MmBuildMdlForNonPagedPool(mdl)
  const bytes = Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff)
  l.ndis.memory.writeBytes(va, bytes)
  return { va, mdl, bytes }
}

/** AllocateAdapterChannel at DISPATCH_LEVEL; `control` runs as the AdapterControl routine. */
function allocate(l: Loaded, adapter: DMA_ADAPTER, count: number, control: (base: object) => number): number {
  const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
  const status = adapter.DmaOperations.AllocateAdapterChannel(adapter, null, count, (_d, _irp, base) => control(base), null)
  l.ndis.KeLowerIrql(oldIrql)
  return status
}

function atDispatch<T>(l: Loaded, fn: () => T): T {
  const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
  const r = fn()
  l.ndis.KeLowerIrql(oldIrql)
  return r
}

describe('packet-based DMA: AllocateAdapterChannel, MapTransfer, FlushAdapterBuffers, FreeMapRegisters', () => {
  it('maps a send through map registers: bounced below 4 GiB without an IOMMU, the device reads it intact, and every register comes back', () => {
    const l = loadTestMiniport({ iommu: false, memory: { policy: 'high-first' } })
    const adapter = adapterOf(l)
    const state = l.m.hal.stateOf(adapter)!
    const { va, mdl, bytes } = buffer(l, 3 * PAGE)
    let irql = -1
    let saved: object | null = null
    const status = allocate(l, adapter, 4, (base) => {
      irql = l.ndis.KeGetCurrentIrql()
      saved = base
      return DeallocateObjectKeepRegisters
    })
    expect(status).toBe(STATUS_SUCCESS)
    expect(irql).toBe(l.ndis.DISPATCH_LEVEL)
    expect(state.registersInUse).toBe(4)
    const base = saved!
    // Scatter/gather bus master: each MapTransfer maps one contiguous run; a bounced one ends at its page.
    const seen = new Uint8Array(3 * PAGE)
    let at = 0
    atDispatch(l, () => {
      while (at < 3 * PAGE) {
        const { logicalAddress, length } = adapter.DmaOperations.MapTransfer(adapter, mdl, base, va + at, 3 * PAGE - at, true)
        expect(length).toBeGreaterThan(0)
        expect(logicalAddress + length).toBeLessThanOrEqual(TWO_POW_32)
        expect(l.m.nic.dma.read(logicalAddress, seen, at, length)).toBe(DMA_STATUS.ok)
        at += length
      }
      expect(adapter.DmaOperations.FlushAdapterBuffers(adapter, mdl, base, va, 3 * PAGE, true)).toBe(true)
      adapter.DmaOperations.FreeMapRegisters(adapter, base, 4)
    })
    expect(seen).toEqual(bytes)
    expect(state.registersInUse).toBe(0)
    adapter.DmaOperations.PutDmaAdapter(adapter)
    expect(l.m.findings).toEqual([])
  })

  it('with the IOMMU, one MapTransfer maps the whole buffer read-only for a send; a transfer from the device is write-only and copied back only at FlushAdapterBuffers when bounced', () => {
    const l = loadTestMiniport({ iommu: true, memory: { policy: 'high-first' } })
    const adapter = adapterOf(l)
    const { va, mdl } = buffer(l, 2 * PAGE + 100)
    allocate(l, adapter, 4, (base) => {
      const { logicalAddress, length } = adapter.DmaOperations.MapTransfer(adapter, mdl, base, va, 2 * PAGE + 100, true)
      expect(length).toBe(2 * PAGE + 100)
      expect(l.m.nic.dma.write(logicalAddress, new Uint8Array(4), 0, 4)).toBe(DMA_STATUS.iommuFault)
      adapter.DmaOperations.FlushAdapterBuffers(adapter, mdl, base, va, 2 * PAGE + 100, true)
      adapter.DmaOperations.FreeMapRegisters(adapter, base, 4)
      return DeallocateObjectKeepRegisters
    })
    expect(kinds(l.m)).toEqual(['iommu-fault'])

    const off = loadTestMiniport({ iommu: false, memory: { policy: 'high-first' } })
    const rx = adapterOf(off)
    const into = buffer(off, 64)
    const frame = Uint8Array.from({ length: 64 }, (_, i) => 255 - i)
    allocate(off, rx, 1, (base) => {
      const { logicalAddress } = rx.DmaOperations.MapTransfer(rx, into.mdl, base, into.va, 64, false)
      expect(off.m.nic.dma.write(logicalAddress, frame, 0, 64)).toBe(DMA_STATUS.ok)
      expect(off.ndis.memory.readBytes(into.va, 64)).toEqual(into.bytes) // not yet: the data is in the bounce page
      rx.DmaOperations.FlushAdapterBuffers(rx, into.mdl, base, into.va, 64, false)
      expect(off.ndis.memory.readBytes(into.va, 64)).toEqual(frame)
      rx.DmaOperations.FreeMapRegisters(rx, base, 1)
      return DeallocateObjectKeepRegisters
    })
    expect(off.m.findings).toEqual([])
  })

  it('for a device without scatter/gather, MapTransfer maps the whole length as one logical range (Length in = Length out)', () => {
    const l = loadTestMiniport({ iommu: false, memory: { policy: 'high-first' } })
    const adapter = adapterOf(l, { scatterGather: false })
    const { va, mdl, bytes } = buffer(l, 2 * PAGE + 500)
    allocate(l, adapter, 4, (base) => {
      const { logicalAddress, length } = adapter.DmaOperations.MapTransfer(adapter, mdl, base, va, 2 * PAGE + 500, true)
      expect(length).toBe(2 * PAGE + 500)
      const seen = new Uint8Array(length)
      expect(l.m.nic.dma.read(logicalAddress, seen, 0, length)).toBe(DMA_STATUS.ok)
      expect(seen).toEqual(bytes)
      adapter.DmaOperations.FlushAdapterBuffers(adapter, mdl, base, va, length, true)
      adapter.DmaOperations.FreeMapRegisters(adapter, base, 4)
      return DeallocateObjectKeepRegisters
    })
    expect(l.m.findings).toEqual([])
  })

  it('more map registers than IoGetDmaAdapter gave is STATUS_INSUFFICIENT_RESOURCES and 0xE6/0x0C; mapping beyond the registers allocated is 0xE6/0x15 and maps nothing', () => {
    const l = loadTestMiniport({ memory: { policy: 'low-first' } })
    const adapter = adapterOf(l) // 5 map registers
    let called = false
    expect(allocate(l, adapter, 6, () => ((called = true), DeallocateObjectKeepRegisters))).toBe(STATUS_INSUFFICIENT_RESOURCES)
    expect(called).toBe(false)
    expect(theFinding(l.m, 'dma-too-many-map-registers').params).toEqual([0x0c, 6, 5, 0])
    const { va, mdl } = buffer(l, 3 * PAGE)
    allocate(l, adapter, 2, (base) => {
      expect(adapter.DmaOperations.MapTransfer(adapter, mdl, base, va, 3 * PAGE, true)).toEqual({ logicalAddress: 0, length: 0 })
      adapter.DmaOperations.FreeMapRegisters(adapter, base, 2)
      return DeallocateObjectKeepRegisters
    })
    expect(theFinding(l.m, 'map-register-misuse').params).toEqual([0x15, 3, 2, 0])
  })

  it('a request waits while the map registers are held, and its AdapterControl routine runs when FreeMapRegisters gives them back', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l) // 5 map registers
    let first: object | null = null
    allocate(l, adapter, 5, (base) => ((first = base), DeallocateObjectKeepRegisters))
    let ran = false
    expect(allocate(l, adapter, 2, (base) => {
      ran = true
      adapter.DmaOperations.FreeMapRegisters(adapter, base, 2)
      return DeallocateObjectKeepRegisters
    })).toBe(STATUS_SUCCESS)
    expect(ran).toBe(false)
    atDispatch(l, () => adapter.DmaOperations.FreeMapRegisters(adapter, first!, 5))
    expect(ran).toBe(true)
    expect(l.m.hal.stateOf(adapter)!.registersInUse).toBe(0)
    expect(l.m.findings).toEqual([])
  })

  it('a second AllocateAdapterChannel while the channel is allocated is 0xE6/0x0B; KeepObject keeps it until FreeAdapterChannel, a second FreeAdapterChannel is 0xE6/0x04', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l)
    allocate(l, adapter, 1, () => {
      adapter.DmaOperations.AllocateAdapterChannel(adapter, null, 1, () => DeallocateObjectKeepRegisters, null)
      return KeepObject
    })
    expect(theFinding(l.m, 'dma-bad-argument').params).toEqual([0x0b, 1, 0, 0])
    const state = l.m.hal.stateOf(adapter)!
    expect(state.channelHeld).toBe(true)
    atDispatch(l, () => adapter.DmaOperations.FreeAdapterChannel(adapter))
    // The queued request got the channel once it was free, and returned DeallocateObjectKeepRegisters.
    expect(state.channelHeld).toBe(false)
    atDispatch(l, () => adapter.DmaOperations.FreeAdapterChannel(adapter))
    expect(l.m.findings.map((f) => f.params?.[0])).toEqual([0x0b, 0x04])
  })

  it('FreeMapRegisters with transfers still mapped is 0xE6/0x10, again is 0xE6/0x05; FlushAdapterBuffers of nothing mapped is 0xE6/0x20 and FALSE', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l)
    const { va, mdl } = buffer(l, 100)
    allocate(l, adapter, 1, (base) => {
      adapter.DmaOperations.MapTransfer(adapter, mdl, base, va, 100, true)
      adapter.DmaOperations.FreeMapRegisters(adapter, base, 1)
      adapter.DmaOperations.FreeMapRegisters(adapter, base, 1)
      return DeallocateObjectKeepRegisters
    })
    allocate(l, adapter, 1, (base) => {
      expect(adapter.DmaOperations.FlushAdapterBuffers(adapter, mdl, base, va, 100, true)).toBe(false)
      adapter.DmaOperations.FreeMapRegisters(adapter, base, 1)
      return DeallocateObjectKeepRegisters
    })
    expect(l.m.findings.map((f) => [f.kind, f.params?.[0], f.params?.[1]])).toEqual([
      ['map-register-leak', 0x10, 1],
      ['map-register-misuse', 0x05, 1],
      ['map-register-misuse', 0x20, 0],
    ])
    expect(l.m.findings[2]!.params).toEqual([0x20, 0, va, l.m.kernel.mdl.stateOf(mdl)!.address])
  })

  it('PutDmaAdapter with map registers never freed is map-register-leak (0xE6/0x09), with the channel kept it is dma-channel-leak (0xE6/0x08)', () => {
    const l = loadTestMiniport()
    const adapter = adapterOf(l)
    const address = l.m.hal.stateOf(adapter)!.address
    allocate(l, adapter, 3, () => KeepObject)
    adapter.DmaOperations.PutDmaAdapter(adapter)
    expect(theFinding(l.m, 'dma-channel-leak').params).toEqual([0x08, address, 1, 0])
    expect(theFinding(l.m, 'map-register-leak').params).toEqual([0x09, address, 3, 0])
  })

  it('a device write into a to-device map-register transfer is dma-wrong-direction with the IOMMU off', () => {
    const l = loadTestMiniport({ iommu: false, memory: { policy: 'low-first' } })
    const adapter = adapterOf(l)
    const { va, mdl } = buffer(l, 64)
    allocate(l, adapter, 1, (base) => {
      const { logicalAddress } = adapter.DmaOperations.MapTransfer(adapter, mdl, base, va, 64, true)
      l.m.nic.dma.write(logicalAddress, new Uint8Array(4), 0, 4)
      adapter.DmaOperations.FlushAdapterBuffers(adapter, mdl, base, va, 64, true)
      adapter.DmaOperations.FreeMapRegisters(adapter, base, 1)
      return DeallocateObjectKeepRegisters
    })
    expect(theFinding(l.m, 'dma-wrong-direction').message).toContain('map-register transfer of 64 bytes (MapTransfer)')
  })

  it('AllocateAdapterChannel is fault-injectable: an injected failure is STATUS_INSUFFICIENT_RESOURCES, the routine is not called, and the replay spec names it', () => {
    const l = loadTestMiniport({ faults: 'routine=AllocateAdapterChannel' })
    const adapter = adapterOf(l)
    let called = false
    expect(allocate(l, adapter, 1, () => ((called = true), DeallocateObjectKeepRegisters))).toBe(STATUS_INSUFFICIENT_RESOURCES)
    expect(called).toBe(false)
    expect(l.m.report().faults.injected.map((f) => f.routine)).toEqual(['AllocateAdapterChannel'])
  })

  it('the report\'s memory map sees a MapTransfer as it sees an S/G list: the driver\'s bytes and the bounce page that stood in for them, put back at FlushAdapterBuffers', () => {
    // The HTML report pictures where every DMA buffer landed (dma/observer.ts); packet-based DMA
    // maps buffers for the device too, so its transfers are on the map.
    const m = createMachine({ wire: 'loopback', iommu: false, memory: { policy: 'high-first' } })
    const recorder = attachRecorder(m)
    const mp = testMiniport()
    const loaded = m.load(mp, 'test-miniport')
    const l: Loaded = { m, mp, a: mp.adapter!, ndis: loaded.ndis }
    const adapter = adapterOf(l)
    const { va, mdl } = buffer(l, 256)
    const original = l.m.kernel.space.translate(va)
    expect(original).toBeGreaterThanOrEqual(TWO_POW_32)
    let given = 0
    let live = -1
    allocate(l, adapter, 1, (base) => {
      given = adapter.DmaOperations.MapTransfer(adapter, mdl, base, va, 256, true).logicalAddress
      live = recorder.finish().memoryMap.buffers.filter((b) => b.routine === 'MapTransfer' && !b.freed).length
      adapter.DmaOperations.FlushAdapterBuffers(adapter, mdl, base, va, 256, true)
      adapter.DmaOperations.FreeMapRegisters(adapter, base, 1)
      return DeallocateObjectKeepRegisters
    })
    expect(live).toBe(2)
    const buffers = recorder.finish().memoryMap.buffers.filter((b) => b.routine === 'MapTransfer')
    expect(buffers.map((b) => b.kind).sort()).toEqual(['bounce-buffer', 'sg-element'])
    const piece = buffers.find((b) => b.kind === 'sg-element')!
    const bounce = buffers.find((b) => b.kind === 'bounce-buffer')!
    expect(piece).toMatchObject({ logicalAddress: given, frames: [[original, 256]], freed: true, length: 256 })
    expect(bounce).toMatchObject({ standsInFor: original, frames: [[given, 256]], freed: true })
  })
})
