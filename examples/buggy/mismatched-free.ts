// Memory allocated with NDIS_MEMORY_CONTIGUOUS | NDIS_MEMORY_NONCACHED and freed with flags 0 (pool-free-mismatch).
//
// What is wrong: the descriptor-tracking tables are allocated in MiniportInitializeEx with
// NDIS_MEMORY_CONTIGUOUS | NDIS_MEMORY_NONCACHED ("like the rings") — legal there (S04) — but
// the halt path still frees them as the e1000 does, with MemoryFlags 0. NdisFreeMemory's
// Length and MemoryFlags must be those of the allocation: NDIS frees by the flags it is told,
// so this hands contiguous, noncached memory to the pool's free routine.
// What dmalab reports, in every configuration: two `pool-free-mismatch` findings at halt (one
// per table), each naming the flags it was allocated with and the flags it was freed with, at
// the e1000's NdisFreeMemory line. Frames flow normally.
// Everything else is the e1000's; only memory.ts's table allocation is replaced.
import type { NdisApi } from '../../src/ndis/api.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { ANY_ADDRESS, ndisAdapterMemory, type AdapterMemory } from '../e1000/memory.js'

const contiguousTables: AdapterMemory = {
  ...ndisAdapterMemory,
  allocateTable(a, length) {
    const ndis = a.ndis
    // BUG: allocated with flags; ndisAdapterMemory.freeTable frees with flags 0.
    const { status, virtualAddress } = ndis.NdisAllocateMemory(length, ndis.NDIS_MEMORY_CONTIGUOUS | ndis.NDIS_MEMORY_NONCACHED, ANY_ADDRESS)
    return status === ndis.NDIS_STATUS_SUCCESS ? virtualAddress : 0
  },
}

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, miniportCharacteristics(ndis, () => contiguousTables))
}
