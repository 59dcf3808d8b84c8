// Paged pool touched in the DPC (irql-violation).
//
// What is wrong: the statistics block comes from PagedPool, on the reasoning that statistics
// are read by OID requests at PASSIVE_LEVEL. But the DPC (DISPATCH_LEVEL) counts every sent
// and received frame in it. Paged pool may be paged out, and a page fault at DISPATCH_LEVEL or
// above cannot be serviced: "A caller at DISPATCH_LEVEL must specify a NonPagedXxx PoolType"
// (seed 000; S08), and the same holds for touching the memory. On a real machine it works until
// the page is paged out, then bug checks 0xD1; Driver Verifier's IRQL checking catches it on the
// first access.
// What dmalab reports, in every configuration: `irql-violation` findings for the DPC's reads and
// writes of pageable memory at DISPATCH_LEVEL (bug check 0xD1 in crash mode), at the e1000's
// statistics line. Frames still flow in log mode.
// Everything else is the e1000's; only memory.ts's statistics entries are replaced.
import type { NdisApi } from '../../src/ndis/api.js'
import { TAG } from '../e1000/adapter.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { ndisAdapterMemory, type AdapterMemory } from '../e1000/memory.js'

const pagedStatistics: AdapterMemory = {
  ...ndisAdapterMemory,
  allocateStatistics(a, length) {
    const ndis = a.ndis
    // BUG: pageable memory for counters the DPC updates at DISPATCH_LEVEL.
    const va = ndis.ExAllocatePoolWithTag(ndis.PagedPool, length, TAG.stats)
    if (va === 0) return 0
    ndis.NdisZeroMemory(va, length)
    return va
  },
  freeStatistics(a, va) {
    a.ndis.ExFreePoolWithTag(va, TAG.stats)
  },
}

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, miniportCharacteristics(ndis, () => pagedStatistics))
}
