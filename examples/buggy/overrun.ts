// Writes 16 bytes past the end of a pool block (pool-overrun with special pool).
//
// What is wrong: the statistics block grew from four counters (32 bytes) to six (48 bytes)
// when rxNoBuffer and txDropped were added, but its allocation still uses the old size. The
// driver zeroes, and later counts into, all 48 bytes: 16 bytes past the end of its block, into
// whatever the pool put there.
// What dmalab reports: with Driver Verifier's special pool (`verifier: { specialPool: true }`,
// `--special-pool`), the block sits at the end of its own page and the first byte past it is on
// an inaccessible page: `pool-overrun`, bug check 0xD6 (DRIVER_PAGE_FAULT_BEYOND_END_OF_
// ALLOCATION) at the NdisZeroMemory in this file, during MiniportInitializeEx; the run's
// outcome is `bugcheck`. Without special pool nothing notices: the 16 bytes land in the pool
// memory beside the block, which the next allocation takes over and writes its own header in
// — which is why Driver Verifier has special pool.
// Everything else is the e1000's; only memory.ts's statistics allocation is replaced.
import type { NdisApi } from '../../src/ndis/api.js'
import { TAG } from '../e1000/adapter.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { ndisAdapterMemory, type AdapterMemory } from '../e1000/memory.js'

/** The size of the statistics block before rxNoBuffer and txDropped were added. */
const STATS_SIZE_V1 = 32

const staleSize: AdapterMemory = {
  ...ndisAdapterMemory,
  allocateStatistics(a, length) {
    const ndis = a.ndis
    // BUG: allocates the old size, then uses `length` (48) bytes.
    const { status, virtualAddress } = ndis.NdisAllocateMemoryWithTag(STATS_SIZE_V1, TAG.stats)
    if (status !== ndis.NDIS_STATUS_SUCCESS) return 0
    ndis.NdisZeroMemory(virtualAddress, length)
    return virtualAddress
  },
}

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, miniportCharacteristics(ndis, () => staleSize))
}
