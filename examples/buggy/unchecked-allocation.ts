// An ExAllocatePoolWithTag result used without a NULL check (page-fault under fault injection).
//
// What is wrong: MiniportInitializeEx allocates the statistics block with ExAllocatePoolWithTag
// and zeroes it without looking at the result. "If ExAllocatePool returns NULL, the caller
// should return the NTSTATUS value STATUS_INSUFFICIENT_RESOURCES or should delay processing to
// another point in time" (seed 000; S11). Allocations fail under memory pressure — and under
// Driver Verifier's low-resources simulation, which is how this bug is found before a customer
// finds it.
// What dmalab reports: nothing in a normal run. With the allocation failed by fault injection
// (`--fail routine=ExAllocatePoolWithTag`, or `tag=E1kS`, or any sweep), the NdisZeroMemory of
// NULL is a `page-fault`: bug check 0x50 (PAGE_FAULT_IN_NONPAGED_AREA) at the line in this file,
// and the run's outcome is `bugcheck`.
// Everything else is the e1000's; only memory.ts's statistics entries are replaced.
import type { NdisApi } from '../../src/ndis/api.js'
import { TAG } from '../e1000/adapter.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { ndisAdapterMemory, type AdapterMemory } from '../e1000/memory.js'

const uncheckedMemory: AdapterMemory = {
  ...ndisAdapterMemory,
  allocateStatistics(a, length) {
    const ndis = a.ndis
    const va = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, length, TAG.stats)
    // BUG: va may be NULL (0); it is used without a check.
    ndis.NdisZeroMemory(va, length)
    return va
  },
  freeStatistics(a, va) {
    a.ndis.ExFreePoolWithTag(va, TAG.stats)
  },
}

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, miniportCharacteristics(ndis, () => uncheckedMemory))
}
