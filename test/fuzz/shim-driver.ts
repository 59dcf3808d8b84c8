// The shim fuzzer's driver: carries out one ShimCall through the `ndis` object, from inside
// whichever handler it was placed in, and remembers what it got back (addresses, MDLs,
// adapters, S/G lists, NBLs) so later calls can use, misuse or free them. It is a driver: a
// call that bug-checks unwinds it, and what it throws on purpose (`throw`) is its own.
import type { NdisApi, DMA_ADAPTER } from '../../src/ndis/api.js'
import type { MDL, NDIS_SPIN_LOCK, NET_BUFFER_LIST, NdisHandle, SCATTER_GATHER_LIST } from '../../src/ndis/types.js'
import type { TestAdapter } from '../support/test-miniport.js'
import type { Arg, How, Oddity, ShimCall } from './shim-ops.js'
import { callWithGarbage } from './shim-garbage.js'

/** Something the driver holds: a VA and its size, and the arguments it was made with. */
interface Held {
  readonly va: number
  readonly bytes: number
  live: boolean
  readonly extra: number
  readonly tag: string | number
}

interface Lookaside {
  readonly head: number
  readonly paged: boolean
  readonly entries: number[]
  live: boolean
}

interface HeldMdl {
  readonly mdl: MDL
  /** 'pages': from MmAllocatePagesForMdl (free pages, then the MDL with ExFreePool). */
  readonly from: 'io' | 'ndis' | 'pages'
  live: boolean
  mapped: number
  reservedAt: number
}

interface HeldSgl {
  readonly adapter: DMA_ADAPTER
  readonly sgl: SCATTER_GATHER_LIST
  readonly write: boolean
  live: boolean
}

/** The message the fuzz driver's own exception carries, so the harness can tell it apart. */
export const DELIBERATE = 'fuzz driver: deliberate exception'

/** Every argument value a JavaScript driver could slip in where a byte count belongs. */
export function arg(a: Arg): number {
  switch (a) {
    case 'nan': return Number.NaN
    case 'negative': return -4096
    case 'fraction': return 100.5
    case 'huge': return 2 ** 53
    case 'undefined': return undefined as unknown as number
    default: return a
  }
}

/** What a handler returns instead of its status after a `return-garbage` oddity. */
const GARBAGE_RETURNS: readonly unknown[] = [undefined, Number.NaN, 1e308, 1.5, -1e12, 10n, Symbol('status'), 'SUCCESS', {}, Object.create(null), new Proxy({}, { get: () => { throw new Error('trap') } }), () => 0, Promise.resolve(0)]

export class FuzzDriver {
  readonly pool: Held[] = []
  readonly ndisMemory: Held[] = []
  /** Contiguous (extra 1) and noncached (extra 0) memory. */
  readonly mm: Held[] = []
  readonly mappings: Held[] = []
  readonly common: Array<Held & { readonly adapter: DMA_ADAPTER; readonly logical: number; readonly cached: boolean }> = []
  readonly shared: Array<Held & { readonly logical: number; readonly cached: boolean }> = []
  readonly mdls: HeldMdl[] = []
  readonly lookasides: Lookaside[] = []
  readonly adapters: DMA_ADAPTER[] = []
  readonly sgls: HeldSgl[] = []
  readonly spinLocks: NDIS_SPIN_LOCK[] = []
  readonly nblPools: NdisHandle[] = []
  readonly nbls: Array<{ nbl: NET_BUFFER_LIST; live: boolean }> = []
  readonly ioMappings: Array<{ va: number; bytes: number }> = []
  /** Driver calls made (each an entry into a shim). */
  calls = 0

  /** Pointers the driver holds, live or freed, for `ndis.memory` and MDLs to aim at. */
  private objects(): Held[] {
    return [...this.pool, ...this.ndisMemory, ...this.mm, ...this.common, ...this.shared]
  }

  run(a: TestAdapter, c: ShimCall): void {
    const ndis = a.ndis
    this.calls++
    switch (c.call) {
      case 'pool-alloc': {
        const bytes = arg(c.bytes)
        const tag = c.tag as string
        let va: number
        switch (c.routine) {
          case 'ExAllocatePool2': va = ndis.ExAllocatePool2(c.type === 1 ? ndis.POOL_FLAG_PAGED : ndis.POOL_FLAG_NON_PAGED, bytes, tag); break
          case 'ExAllocatePool': va = ndis.ExAllocatePool(c.type, bytes); break
          case 'ExAllocatePoolWithQuotaTag': va = ndis.ExAllocatePoolWithQuotaTag(c.type | ndis.POOL_QUOTA_FAIL_INSTEAD_OF_RAISE, bytes, tag); break
          case 'ExAllocatePoolWithTagPriority': va = ndis.ExAllocatePoolWithTagPriority(c.type, bytes, tag, ndis.NormalPoolPriority); break
          default: va = ndis.ExAllocatePoolWithTag(c.type, bytes, tag)
        }
        if (va !== 0) this.pool.push({ va, bytes, live: true, extra: 0, tag: c.routine === 'ExAllocatePool' ? 'enoN' : c.tag })
        return
      }
      case 'pool-free': {
        const h = choose(this.pool, c.pick, c.how)
        if (h === undefined) return
        const va = address(h, c.how)
        if (c.withTag) ndis.ExFreePoolWithTag(va, c.how === 'wrong' ? 'gnrW' : (h.tag as string))
        else ndis.ExFreePool(va)
        h.live = false
        return
      }
      case 'ndis-alloc': {
        const bytes = arg(c.bytes)
        let va = 0
        if (c.routine === 'NdisAllocateMemory') va = ndis.NdisAllocateMemory(bytes, c.flags, c.highest).virtualAddress
        else if (c.routine === 'NdisAllocateMemoryWithTag') va = ndis.NdisAllocateMemoryWithTag(bytes, 'zzuF').virtualAddress
        else va = ndis.NdisAllocateMemoryWithTagPriority(a.handle, bytes, 'zzuF', 16)
        if (va !== 0) this.ndisMemory.push({ va, bytes, live: true, extra: c.routine === 'NdisAllocateMemory' ? c.flags : 0, tag: 'zzuF' })
        return
      }
      case 'ndis-free': {
        const h = choose(this.ndisMemory, c.pick, c.how)
        if (h === undefined) return
        ndis.NdisFreeMemory(address(h, c.how), c.how === 'wrong' ? h.bytes + 1 : h.bytes, c.how === 'wrong' ? h.extra ^ 1 : h.extra)
        h.live = false
        return
      }
      case 'contiguous-alloc': {
        const bytes = arg(c.bytes)
        const va = ndis.MmAllocateContiguousMemorySpecifyCache(bytes, c.lowest, c.highest, c.boundary, c.cache)
        if (va !== 0) this.mm.push({ va, bytes, live: true, extra: 1, tag: c.cache })
        return
      }
      case 'noncached-alloc': {
        const bytes = arg(c.bytes)
        const va = ndis.MmAllocateNonCachedMemory(bytes)
        if (va !== 0) this.mm.push({ va, bytes, live: true, extra: 0, tag: 0 })
        return
      }
      case 'mm-free': {
        const h = choose(this.mm, c.pick, c.how)
        if (h === undefined) return
        const va = address(h, c.how)
        const bytes = c.how === 'wrong' ? h.bytes + 4096 : h.bytes
        switch (c.routine) {
          case 'MmFreeContiguousMemory': ndis.MmFreeContiguousMemory(va); break
          case 'MmFreeContiguousMemorySpecifyCache': ndis.MmFreeContiguousMemorySpecifyCache(va, bytes, h.tag as number); break
          case 'MmFreeNonCachedMemory': ndis.MmFreeNonCachedMemory(va, bytes); break
          default: ndis.ExFreePool(va)
        }
        h.live = false
        return
      }
      case 'pages-alloc': {
        const bytes = arg(c.bytes)
        const mdl = c.ex ? ndis.MmAllocatePagesForMdlEx(c.low, c.high, c.skip, bytes, ndis.MmCached, 0) : ndis.MmAllocatePagesForMdl(c.low, c.high, c.skip, bytes)
        if (mdl !== null) this.mdls.push({ mdl, from: 'pages', live: true, mapped: 0, reservedAt: 0 })
        return
      }
      case 'pages-free': {
        const h = pickFrom(this.mdls.filter((m) => m.from === 'pages'), c.pick)
        if (h === undefined) return
        if (c.steps !== 'mdl-only') ndis.MmFreePagesFromMdl(h.mdl)
        if (c.steps === 'twice') ndis.MmFreePagesFromMdl(h.mdl)
        if (c.steps !== 'pages-only') ndis.ExFreePool(h.mdl)
        h.live = false
        return
      }
      case 'mapping-alloc': {
        const bytes = arg(c.bytes)
        const va = ndis.MmAllocateMappingAddress(bytes, c.tag as string)
        if (va !== 0) this.mappings.push({ va, bytes, live: true, extra: 0, tag: c.tag })
        return
      }
      case 'mapping-map': {
        const h = pickFrom(this.mappings, c.pick)
        const m = pickFrom(this.mdls, c.mdl)
        if (h === undefined || m === undefined) return
        const va = ndis.MmMapLockedPagesWithReservedMapping(h.va, (c.tag === 'same' ? h.tag : 'rhtO') as string, m.mdl, ndis.MmCached)
        if (va !== 0) m.reservedAt = h.va
        return
      }
      case 'mapping-unmap': {
        const h = pickFrom(this.mappings, c.pick)
        const m = pickFrom(this.mdls, c.mdl)
        if (h === undefined || m === undefined) return
        ndis.MmUnmapReservedMapping(h.va, h.tag as string, m.mdl)
        m.reservedAt = 0
        return
      }
      case 'mapping-free': {
        const h = choose(this.mappings, c.pick, c.how)
        if (h === undefined) return
        ndis.MmFreeMappingAddress(address(h, c.how), (c.how === 'wrong' ? 'gnrW' : h.tag) as string)
        h.live = false
        return
      }
      case 'mdl-alloc': {
        const target = pickFrom(this.objects(), c.target)
        const va = (target?.va ?? 0x10_0000) + c.offset
        const bytes = arg(c.bytes)
        const mdl = c.routine === 'IoAllocateMdl' ? ndis.IoAllocateMdl(va, bytes, false, false, null) : ndis.NdisAllocateMdl(a.handle, va, bytes)
        if (mdl !== null) this.mdls.push({ mdl, from: c.routine === 'IoAllocateMdl' ? 'io' : 'ndis', live: true, mapped: 0, reservedAt: 0 })
        return
      }
      case 'mdl-op': {
        const h = pickFrom(this.mdls, c.pick)
        if (h === undefined) return
        const mdl = h.mdl
        switch (c.op) {
          case 'build': ndis.MmBuildMdlForNonPagedPool(mdl); return
          case 'probe': ndis.MmProbeAndLockPages(mdl, ndis.KernelMode, ndis.IoModifyAccess); return
          case 'unlock': ndis.MmUnlockPages(mdl); return
          case 'map': h.mapped = ndis.MmMapLockedPagesSpecifyCache(mdl, ndis.KernelMode, ndis.MmCached, 0, false, ndis.NormalPagePriority); return
          case 'unmap': ndis.MmUnmapLockedPages(h.mapped, mdl); return
          case 'system-address': ndis.MmGetSystemAddressForMdlSafe(mdl, ndis.NormalPagePriority); return
          case 'byte-count': ndis.MmGetMdlByteCount(mdl); ndis.MmGetMdlVirtualAddress(mdl); ndis.MmGetMdlPfnArray(mdl); return
          case 'free':
          case 'free-again':
            if (h.from === 'ndis') ndis.NdisFreeMdl(mdl)
            else if (h.from === 'io') ndis.IoFreeMdl(mdl)
            else ndis.ExFreePool(mdl)
            if (c.op === 'free-again') {
              if (h.from === 'ndis') ndis.NdisFreeMdl(mdl)
              else ndis.IoFreeMdl(mdl)
            }
            h.live = false
            return
        }
        return
      }
      case 'mdl-scribble': {
        const h = pickFrom(this.mdls, c.pick)
        if (h === undefined) return
        const mdl = h.mdl as unknown as Record<string, unknown>
        if (c.field === 'Next') mdl.Next = c.to === 'self' ? h.mdl : c.to === 'undefined' ? undefined : c.to === null ? null : pickFrom(this.mdls, c.to)?.mdl ?? null
        else mdl[c.field] = c.value
        return
      }
      case 'nbl-scribble': {
        const h = pickFrom(this.nbls, c.pick)
        if (h === undefined) return
        const nb = h.nbl.FirstNetBuffer
        const other = c.to === 'self' ? h : c.to === null ? undefined : pickFrom(this.nbls, c.to)
        switch (c.field) {
          case 'Next': h.nbl.Next = other?.nbl ?? null; return
          case 'NbNext': if (nb !== null) nb.Next = other?.nbl.FirstNetBuffer ?? null; return
          case 'CurrentMdl': if (nb !== null) nb.CurrentMdl = (c.to === null ? null : pickFrom(this.mdls, c.value)?.mdl ?? null) as MDL; return
          case 'DataLength': if (nb !== null) nb.DataLength = c.value; return
          case 'CurrentMdlOffset': if (nb !== null) nb.CurrentMdlOffset = c.value; return
        }
        return
      }
      case 'lookaside-init': {
        let head: number
        if (c.head === 'wild') head = 0xdead_0000
        else if (c.head === 'live') head = pickFrom(this.lookasides, 0)?.head ?? 0
        else {
          const block = ndis.ExAllocatePoolWithTag(c.head === 'paged' ? ndis.PagedPool : ndis.NonPagedPoolNx, 0x90, 'hdaL')
          if (block === 0) return
          this.pool.push({ va: block, bytes: 0x90, live: true, extra: 0, tag: 'hdaL' })
          head = c.head === 'misaligned' ? block + 8 : block
        }
        const size = arg(c.size)
        const allocate = c.custom ? (type: number, bytes: number, tag: number): number => ndis.ExAllocatePoolWithTag(type, bytes, tag) : null
        const free = c.custom ? (buffer: number): void => ndis.ExFreePool(buffer) : null
        if (c.paged) ndis.ExInitializePagedLookasideList(head, allocate, free, c.flags, size, 'saLz', c.depth)
        else ndis.ExInitializeNPagedLookasideList(head, allocate, free, c.flags, size, 'saLz', c.depth)
        this.lookasides.push({ head, paged: c.paged, entries: [], live: true })
        return
      }
      case 'lookaside-alloc': {
        const l = pickFrom(this.lookasides, c.pick)
        if (l === undefined) return
        const entry = l.paged ? ndis.ExAllocateFromPagedLookasideList(l.head) : ndis.ExAllocateFromNPagedLookasideList(l.head)
        if (entry !== 0) l.entries.push(entry)
        return
      }
      case 'lookaside-free': {
        const l = pickFrom(this.lookasides, c.pick)
        if (l === undefined) return
        const other = c.how === 'wrong' ? pickFrom(this.lookasides, c.pick + 1) ?? l : l
        const entry = c.how === 'wild' ? 0xdead_1000 : pickFrom(l.entries, c.entry) ?? 0
        if (c.how !== 'again') l.entries.splice(l.entries.indexOf(entry), l.entries.includes(entry) ? 1 : 0)
        if (other.paged) ndis.ExFreeToPagedLookasideList(other.head, entry)
        else ndis.ExFreeToNPagedLookasideList(other.head, entry)
        return
      }
      case 'lookaside-delete': {
        const l = pickFrom(this.lookasides, c.pick)
        if (l === undefined) return
        if (l.paged) ndis.ExDeletePagedLookasideList(l.head)
        else ndis.ExDeleteNPagedLookasideList(l.head)
        if (c.how !== 'again') l.live = false
        return
      }
      case 'irql':
        if (c.raise) ndis.KeRaiseIrql(c.level)
        else ndis.KeLowerIrql(c.level)
        return
      case 'spinlock': {
        if (c.op === 'allocate') {
          this.spinLocks.push(ndis.NdisAllocateSpinLock().spinLock)
          return
        }
        const lock = pickFrom(this.spinLocks, c.pick) ?? a.lock
        if (lock === null) return
        switch (c.op) {
          case 'acquire': ndis.NdisAcquireSpinLock(lock); return
          case 'release': ndis.NdisReleaseSpinLock(lock); return
          case 'dpr-acquire': ndis.NdisDprAcquireSpinLock(lock); return
          case 'dpr-release': ndis.NdisDprReleaseSpinLock(lock); return
          case 'free': ndis.NdisFreeSpinLock(lock); return
        }
        return
      }
      case 'memory':
        this.memory(a, c)
        return
      case 'register': {
        if (a.regs === 0) return
        const at = a.regs + c.offset
        if (c.write) {
          if (c.width === 4) ndis.NdisWriteRegisterUlong(at, c.value)
          else if (c.width === 2) ndis.NdisWriteRegisterUshort(at, c.value & 0xffff)
          else ndis.NdisWriteRegisterUchar(at, c.value & 0xff)
        } else if (c.width === 4) ndis.NdisReadRegisterUlong(at)
        else if (c.width === 2) ndis.NdisReadRegisterUshort(at)
        else ndis.NdisReadRegisterUchar(at)
        return
      }
      case 'dma-adapter': {
        const pdo = c.pdo ? ndis.NdisMGetDeviceProperty(a.handle).physicalDeviceObject : {}
        const { dmaAdapter } = ndis.IoGetDmaAdapter(pdo, {
          Version: c.version, Master: c.master, ScatterGather: true, Dma32BitAddresses: true, Dma64BitAddresses: c.dma64,
          InterfaceType: ndis.PCIBus, MaximumLength: arg(c.maximumLength), DmaAddressWidth: c.width,
        })
        if (dmaAdapter !== null) this.adapters.push(dmaAdapter)
        return
      }
      case 'dma-put': {
        const adapter = pickFrom(this.adapters, c.pick)
        if (adapter !== undefined) adapter.DmaOperations.PutDmaAdapter(adapter)
        return
      }
      case 'common-alloc': {
        const adapter = pickFrom(this.adapters, c.adapter)
        if (adapter === undefined) return
        const bytes = arg(c.bytes)
        const ops = adapter.DmaOperations
        const cb = c.ex ? ops.AllocateCommonBufferEx(adapter, c.maximum === 0 ? null : c.maximum, bytes, c.cached) : ops.AllocateCommonBuffer(adapter, bytes, c.cached)
        if (cb.virtualAddress !== 0) this.common.push({ va: cb.virtualAddress, bytes, live: true, extra: 0, tag: 0, adapter, logical: cb.logicalAddress, cached: c.cached })
        return
      }
      case 'common-free': {
        const h = choose(this.common, c.pick, c.how)
        if (h === undefined) return
        h.adapter.DmaOperations.FreeCommonBuffer(h.adapter, c.how === 'wrong' ? h.bytes * 2 : h.bytes, c.how === 'wrong' ? h.logical + 4096 : h.logical, address(h, c.how), h.cached)
        h.live = false
        return
      }
      case 'sg-get': {
        const adapter = pickFrom(this.adapters, c.adapter)
        const m = pickFrom(this.mdls, c.mdl)
        if (adapter === undefined || m === undefined) return
        const ops = adapter.DmaOperations
        const currentVa = m.mdl.StartVa + m.mdl.ByteOffset + c.offset
        const bytes = arg(c.bytes)
        const got: SCATTER_GATHER_LIST[] = []
        const exec = (_d: unknown, _i: unknown, sgl: SCATTER_GATHER_LIST): void => void got.push(sgl)
        const buffer: SCATTER_GATHER_LIST = { NumberOfElements: 0, Reserved: 0, Elements: [] }
        if (c.build) ops.BuildScatterGatherList(adapter, null, m.mdl, currentVa, bytes, exec, null, c.write, buffer, c.bufferSize)
        else ops.GetScatterGatherList(adapter, null, m.mdl, currentVa, bytes, exec, null, c.write)
        for (const sgl of got) this.sgls.push({ adapter, sgl, write: c.write, live: true })
        return
      }
      case 'sg-put': {
        const h = choose(this.sgls, c.pick, c.how)
        if (h === undefined) return
        h.adapter.DmaOperations.PutScatterGatherList(h.adapter, h.sgl, c.how === 'wrong' ? !h.write : h.write)
        h.live = false
        return
      }
      case 'sg-calc': {
        const adapter = pickFrom(this.adapters, c.adapter)
        const m = pickFrom(this.mdls, c.mdl)
        if (adapter === undefined) return
        adapter.DmaOperations.CalculateScatterGatherList(adapter, m?.mdl ?? null, m === undefined ? 0 : m.mdl.StartVa + m.mdl.ByteOffset, arg(c.bytes))
        return
      }
      case 'shared-alloc': {
        const bytes = arg(c.bytes)
        const r = ndis.NdisMAllocateSharedMemory(a.handle, bytes, c.cached)
        if (r.virtualAddress !== 0) this.shared.push({ va: r.virtualAddress, bytes, live: true, extra: 0, tag: 0, logical: r.physicalAddress, cached: c.cached })
        return
      }
      case 'shared-free': {
        const h = choose(this.shared, c.pick, c.how)
        if (h === undefined) return
        ndis.NdisMFreeSharedMemory(a.handle, c.how === 'wrong' ? h.bytes + 1 : h.bytes, h.cached, address(h, c.how), h.logical)
        h.live = false
        return
      }
      case 'shared-async':
        if (a.dmaHandle !== null) ndis.NdisMAllocateSharedMemoryAsyncEx(a.dmaHandle, arg(c.bytes), c.cached, null)
        return
      case 'nbl-pool': {
        if (c.free !== null) {
          const pool = pickFrom(this.nblPools, c.free)
          if (pool !== undefined) ndis.NdisFreeNetBufferListPool(pool)
          return
        }
        const pool = ndis.NdisAllocateNetBufferListPool(a.handle, { ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: c.tag, DataSize: 0 })
        if (pool !== null) this.nblPools.push(pool)
        return
      }
      case 'nbl-alloc': {
        const pool = pickFrom(this.nblPools, c.pool) ?? a.nblPool
        if (pool === null) return
        const mdl = c.mdl === null ? null : pickFrom(this.mdls, c.mdl)?.mdl ?? null
        const nbl = ndis.NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, mdl, c.offset, arg(c.bytes))
        if (nbl !== null) this.nbls.push({ nbl, live: true })
        return
      }
      case 'nbl-free': {
        const h = choose(this.nbls, c.pick, c.how)
        if (h === undefined) return
        ndis.NdisFreeNetBufferList(h.nbl)
        h.live = false
        return
      }
      case 'nbl-sg': {
        const h = pickFrom(this.nbls, c.pick)
        if (h === undefined || a.dmaHandle === null || h.nbl.FirstNetBuffer === null) return
        ndis.NdisMAllocateNetBufferSGList(a.dmaHandle, h.nbl.FirstNetBuffer, null, ndis.NDIS_SG_LIST_WRITE_TO_DEVICE, null, 0)
        return
      }
      case 'nbl-indicate': {
        const h = pickFrom(this.nbls, c.pick)
        if (h === undefined) return
        h.nbl.Next = null
        ndis.NdisMIndicateReceiveNetBufferLists(a.handle, h.nbl, 0, c.count, ndis.NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL)
        return
      }
      case 'nbl-complete': {
        const h = pickFrom(this.nbls, c.pick)
        if (h === undefined) return
        h.nbl.Next = null
        ndis.NdisMSendNetBufferListsComplete(a.handle, h.nbl, 0)
        return
      }
      case 'bus-data':
        if (c.set) ndis.NdisMSetBusData(a.handle, 0, c.offset, new Uint8Array(Math.max(0, c.bytes)).fill(0xff), c.bytes)
        else ndis.NdisMGetBusData(a.handle, 0, c.offset, c.bytes)
        return
      case 'io-space': {
        if (c.map) {
          const r = ndis.NdisMMapIoSpace(a.handle, a.ndis.NdisMGetDeviceProperty(a.handle).allocatedResources.PartialDescriptors[0]!.u.Memory!.Start + c.offset, c.bytes)
          if (r.virtualAddress !== 0) this.ioMappings.push({ va: r.virtualAddress, bytes: c.bytes })
          return
        }
        const m = pickFrom(this.ioMappings, c.pick)
        if (m !== undefined) ndis.NdisMUnmapIoSpace(a.handle, m.va, m.bytes)
        return
      }
      case 'ndis-misc':
        switch (c.routine) {
          case 'NdisMSleep': ndis.NdisMSleep(10); return
          case 'NdisStallExecution': ndis.NdisStallExecution(10); return
          case 'NdisMIndicateStatusEx': ndis.NdisMIndicateStatusEx(a.handle, { StatusCode: ndis.NDIS_STATUS_MEDIA_CONNECT }); return
          case 'NdisMSynchronizeWithInterruptEx':
            if (a.interruptHandle !== null) ndis.NdisMSynchronizeWithInterruptEx(a.interruptHandle, 0, () => true, null)
            return
          case 'NdisMGetDeviceProperty': ndis.NdisMGetDeviceProperty(a.handle); return
          case 'NdisMDeregisterScatterGatherDma':
            if (a.dmaHandle !== null) ndis.NdisMDeregisterScatterGatherDma(a.dmaHandle)
            return
          case 'NdisMDeregisterInterruptEx':
            if (a.interruptHandle !== null) ndis.NdisMDeregisterInterruptEx(a.interruptHandle)
            return
          case 'NdisMPauseComplete': ndis.NdisMPauseComplete(a.handle); return
        }
        return
      case 'garbage':
        callWithGarbage(this, a, c.routine, c.value)
        return
      case 'throw':
        throw new Error(DELIBERATE)
      case 'oddity':
        return this.oddity(ndis, c.what)
    }
  }

  /** Values a handler returns instead of its status while `garbage` is set (see shim-run.ts). */
  garbage: unknown = undefined
  private garbageTurn = 0

  private oddity(ndis: TestAdapter['ndis'], what: Oddity): void {
    switch (what) {
      case 'throw-proxy':
        throw new Proxy(new Error('proxied'), { get: () => { throw new Error('trap') }, getPrototypeOf: () => { throw new Error('trap') }, getOwnPropertyDescriptor: () => { throw new Error('trap') } })
      case 'throw-null-proto':
        throw Object.create(null)
      case 'throw-symbol':
        throw Symbol('oddity')
      case 'throw-bigint':
        throw 2n ** 70n
      case 'throw-getters': {
        const e = new Error('getters')
        Object.defineProperty(e, 'stack', { get: () => { throw new Error('stack getter') } })
        Object.defineProperty(e, 'message', { get: () => { throw new Error('message getter') } })
        throw e
      }
      case 'spin':
        // Polls nothing, forever: only the handler watchdog (virtual time) ends it.
        for (;;) ndis.NdisStallExecution(1000)
      case 'return-garbage':
        this.garbage = GARBAGE_RETURNS[this.garbageTurn++ % GARBAGE_RETURNS.length]
    }
  }

  private memory(a: TestAdapter, c: Extract<ShimCall, { call: 'memory' }>): void {
    const m = a.ndis.memory
    const objects = this.objects()
    let va: number
    switch (c.target) {
      case 'object': va = (pickFrom(objects.filter((o) => o.live), c.pick)?.va ?? a.rxRing) + c.offset; break
      case 'freed': va = (pickFrom(objects.filter((o) => !o.live), c.pick)?.va ?? 0) + c.offset; break
      case 'null': va = c.offset; break
      case 'regs': va = a.regs + c.offset; break
      case 'nan': va = Number.NaN; break
      default: va = 0xf800_0000_0000 + 2 ** 40 + c.offset
    }
    const bytes = arg(c.bytes)
    switch (c.access) {
      case 'read8': m.read8(va); return
      case 'read16': m.read16(va); return
      case 'read32': m.read32(va); return
      case 'read64': m.read64(va); return
      case 'write8': m.write8(va, 0xa5); return
      case 'write16': m.write16(va, 0xa5a5); return
      case 'write32': m.write32(va, 0xa5a5_a5a5); return
      case 'write64': m.write64(va, 0x1234_5678_9abc); return
      case 'readBytes': m.readBytes(va, bytes); return
      case 'writeBytes': m.writeBytes(va, new Uint8Array(Math.min(Math.max(0, bytes | 0), 65536)).fill(0x5a)); return
      case 'fill': m.fill(va, bytes, 0x77); return
      case 'copy': m.copy(va, pickFrom(objects, c.pick + 1)?.va ?? va, bytes); return
      case 'zero': a.ndis.NdisZeroMemory(va, bytes); return
      case 'move': a.ndis.NdisMoveMemory(va, pickFrom(objects, c.pick + 1)?.va ?? va, bytes); return
    }
  }
}

export function pickFrom<T>(list: readonly T[], pick: number): T | undefined {
  return list.length === 0 ? undefined : list[pick % list.length]
}

/** The object a free names: a live one to free right (or wrongly), a freed one to free again. */
function choose<T extends { live: boolean }>(list: readonly T[], pick: number, how: How): T | undefined {
  const candidates = list.filter((h) => (how === 'again' ? !h.live : h.live))
  return pickFrom(candidates, pick)
}

/** The address a free passes: the object's own, one inside it, or one it never had. */
function address(h: { va: number }, how: How): number {
  if (how === 'interior') return h.va + 16
  if (how === 'wild') return h.va + 0x10_0000
  return h.va
}

export type { NdisApi }
