// Allocates from NonPagedPoolMustSucceed (must-succeed-pool, bug check 0xC2 / 0x9A, fatal).
//
// What is wrong: the statistics block is allocated from NonPagedPoolMustSucceed, so that the
// driver need not handle a failure. Seed 002: "The pool type NonPagedPoolMustSucceed has been
// deprecated. Drivers should specify the pool type NonPagedPool or NonPagedPoolCacheAligned
// instead and should return the NTSTATUS value STATUS_INSUFFICIENT_RESOURCES if the allocation
// fails. The Driver Verifier flags any pool allocation that is specified as
// NonPagedPoolMustSucceed as fatal and causes a bug check" (S20).
// What dmalab reports, in every configuration: `must-succeed-pool`, bug check 0xC2
// (BAD_POOL_CALLER) with parameter 1 = 0x9A, at the allocation in this file during
// MiniportInitializeEx. It is fatal in log mode too: the run's outcome is `bugcheck`.
// Everything else is the e1000's; only memory.ts's statistics entries are replaced.
import type { NdisApi } from '../../src/ndis/api.js'
import { TAG } from '../e1000/adapter.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { ndisAdapterMemory, type AdapterMemory } from '../e1000/memory.js'

const mustSucceed: AdapterMemory = {
  ...ndisAdapterMemory,
  allocateStatistics(a, length) {
    const ndis = a.ndis
    // BUG: a deprecated pool type, asked for so that NULL "cannot happen".
    const va = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolMustSucceed, length, TAG.stats)
    ndis.NdisZeroMemory(va, length)
    return va
  },
  freeStatistics(a, va) {
    a.ndis.ExFreePoolWithTag(va, TAG.stats)
  },
}

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, miniportCharacteristics(ndis, () => mustSucceed))
}
