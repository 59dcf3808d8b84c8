// The shim fuzzer's garbage calls: a routine given what a JavaScript driver can pass by
// mistake where an object, function, buffer or address belongs (NULL, undefined, a plain
// object or array, a string, NaN). The shim must answer with a finding, a failure status or a
// TypeError naming the routine — never throw from inside itself.
import type { DMA_ADAPTER } from '../../src/ndis/api.js'
import type { TestAdapter } from '../support/test-miniport.js'
import { pickFrom, type FuzzDriver } from './shim-driver.js'
import type { Garbage, GarbageRoutine } from './shim-ops.js'

function garbageValue(g: Garbage): never {
  const values: Record<Garbage, unknown> = { null: null, undefined, object: {}, array: [1, 2, 3], string: 'tseT', nan: Number.NaN }
  return values[g] as never
}

/** One routine called with `value` where an object, function, buffer or address belongs. */
export function callWithGarbage(d: FuzzDriver, a: TestAdapter, routine: GarbageRoutine, value: Garbage): void {
  const g = garbageValue(value)
  const ndis = a.ndis
  const adapter = pickFrom(d.adapters, 0)
  switch (routine) {
    case 'memory.writeBytes': ndis.memory.writeBytes(a.rxRing, g); return
    case 'memory.readInto': ndis.memory.readInto(a.rxRing, new Uint8Array(4), 0, 100); return
    case 'memory.read32': ndis.memory.read32(g); return
    case 'MmGetMdlByteCount': ndis.MmGetMdlByteCount(g); return
    case 'MmGetMdlByteOffset': ndis.MmGetMdlByteOffset(g); return
    case 'MmGetMdlVirtualAddress': ndis.MmGetMdlVirtualAddress(g); return
    case 'MmGetMdlPfnArray': ndis.MmGetMdlPfnArray(g); return
    case 'NdisMIndicateReceiveNetBufferLists': ndis.NdisMIndicateReceiveNetBufferLists(a.handle, g, 0, 1, 0); return
    case 'NdisMSendNetBufferListsComplete': ndis.NdisMSendNetBufferListsComplete(a.handle, g, 0); return
    case 'NdisAllocateNetBufferListPool': ndis.NdisAllocateNetBufferListPool(a.handle, g); return
    case 'NdisMSynchronizeWithInterruptEx': if (a.interruptHandle !== null) ndis.NdisMSynchronizeWithInterruptEx(a.interruptHandle, 0, g, null); return
    case 'ExAllocateFromNPagedLookasideList': ndis.ExAllocateFromNPagedLookasideList(g); return
    case 'ExFreeToNPagedLookasideList': ndis.ExFreeToNPagedLookasideList(g, g); return
    case 'ExDeleteNPagedLookasideList': ndis.ExDeleteNPagedLookasideList(g); return
    case 'ExInitializeNPagedLookasideList': ndis.ExInitializeNPagedLookasideList(g, g, g, 0, 64, 'saLz', 0); return
    case 'IoFreeMdl': ndis.IoFreeMdl(g); return
    case 'ExFreePool': ndis.ExFreePool(g); return
    case 'MmBuildMdlForNonPagedPool': ndis.MmBuildMdlForNonPagedPool(g); return
    case 'MmProbeAndLockPages': ndis.MmProbeAndLockPages(g, ndis.KernelMode, ndis.IoReadAccess); return
    case 'NdisFreeNetBufferList': ndis.NdisFreeNetBufferList(g); return
    case 'NdisFreeNetBufferListPool': ndis.NdisFreeNetBufferListPool(g); return
    case 'NdisFreeSpinLock': ndis.NdisFreeSpinLock(g); return
    case 'NdisAcquireSpinLock': ndis.NdisAcquireSpinLock(g); return
    case 'NdisMFreeNetBufferSGList': if (a.dmaHandle !== null) ndis.NdisMFreeNetBufferSGList(a.dmaHandle, g, g); return
    case 'PutScatterGatherList': if (adapter !== undefined) adapter.DmaOperations.PutScatterGatherList(adapter, g, true); return
    case 'FreeCommonBuffer': if (adapter !== undefined) adapter.DmaOperations.FreeCommonBuffer(adapter, g, g, g, true); return
    case 'PutDmaAdapter': (adapter ?? ({ DmaOperations: { PutDmaAdapter: () => {} } } as unknown as DMA_ADAPTER)).DmaOperations.PutDmaAdapter(g); return
    case 'GetScatterGatherList': if (adapter !== undefined) adapter.DmaOperations.GetScatterGatherList(adapter, null, g, g, g, g, null, true); return
    case 'NdisMSetMiniportAttributes': ndis.NdisMSetMiniportAttributes(a.handle, g); return
    case 'NdisMOidRequestComplete': ndis.NdisMOidRequestComplete(a.handle, g, 0); return
    case 'NdisMRegisterScatterGatherDma': ndis.NdisMRegisterScatterGatherDma(a.handle, g); return
    case 'IoGetDmaAdapter': ndis.IoGetDmaAdapter(g, g); return
    case 'NdisAllocateMdl': { const m = ndis.NdisAllocateMdl(a.handle, g, 100); if (m !== null) d.mdls.push({ mdl: m, from: 'ndis', live: true, mapped: 0, reservedAt: 0 }); return }
    case 'IoAllocateMdl': { const m = ndis.IoAllocateMdl(g, 100); if (m !== null) d.mdls.push({ mdl: m, from: 'io', live: true, mapped: 0, reservedAt: 0 }); return }
    case 'NdisMMapIoSpace': ndis.NdisMMapIoSpace(a.handle, g, g); return
    case 'KeRaiseIrql': ndis.KeRaiseIrql(g); return
    case 'NdisAllocateNetBufferAndNetBufferList': { const n = ndis.NdisAllocateNetBufferAndNetBufferList(a.nblPool ?? g, 0, 0, g, g, g); if (n !== null) d.nbls.push({ nbl: n, live: true }); return }
    case 'NdisMAllocateNetBufferSGList': if (a.dmaHandle !== null) ndis.NdisMAllocateNetBufferSGList(a.dmaHandle, g, null, 0, g, 0); return
    case 'MmMapLockedPagesSpecifyCache': ndis.MmMapLockedPagesSpecifyCache(g, ndis.KernelMode, ndis.MmCached, 0, false, ndis.NormalPagePriority); return
    case 'MmAllocatePagesForMdl': { const m = ndis.MmAllocatePagesForMdl(g, g, g, 4096); if (m !== null) d.mdls.push({ mdl: m, from: 'pages', live: true, mapped: 0, reservedAt: 0 }); return }
    case 'ExAllocatePoolWithTag': { const va = ndis.ExAllocatePoolWithTag(g, 64, 'tseT'); if (va !== 0) d.pool.push({ va, bytes: 64, live: true, extra: 0, tag: 'tseT' }); return }
    case 'NdisMFreeSharedMemory': ndis.NdisMFreeSharedMemory(a.handle, g, true, g, g); return
    case 'MmFreeContiguousMemory': ndis.MmFreeContiguousMemory(g); return
    case 'NdisFreeMemory': ndis.NdisFreeMemory(g, g, g); return
    case 'MmAllocateMappingAddress': { const va = ndis.MmAllocateMappingAddress(g, 'tseT'); if (va !== 0) d.mappings.push({ va, bytes: 0, live: true, extra: 0, tag: 'tseT' }); return }
  }
}
