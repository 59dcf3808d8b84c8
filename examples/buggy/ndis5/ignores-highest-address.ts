// An NDIS 5.1 e1000 that ignores the NIC's 4 GiB reach and gives it pool memory by physical address (dma-address-truncated above 4 GiB).
//
// What is wrong: this e1000-ndis5 variant copies every frame into a staging area it allocates
// with NdisAllocateMemory(flags 0, HighestAcceptableAddress = -1): ordinary nonpaged pool,
// anywhere in physical memory, with no regard for the NIC's 32 address lines (seed 000: "optionally
// within a specified address limit"). It then hands the NIC each slot's physical address
// (MmGetPhysicalAddress) instead of mapping the slot through a map register.
// What dmalab reports: with the IOMMU off and memory handed out high first, the pool is above
// 4 GiB: every frame is `dma-address-truncated` (the NIC reads whatever lies at the truncated
// address, so the frames on the wire are not the protocol's); with low-first memory the pool
// happens to be reachable and frames arrive, but `dma-not-dma-memory` says why it is still
// wrong; with the IOMMU on, no mapping covers the pool: `iommu-fault`.
import type { NdisApi } from '../../../src/ndis/api.js'
import { STAGING_SLOTS, STAGING_SLOT_BYTES } from '../../e1000-ndis5/adapter.js'
import { driverEntry } from '../../e1000-ndis5/index.js'
import { ANY_ADDRESS, carveSlots, defaultHooks } from '../../e1000-ndis5/memory.js'

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return driverEntry(ndis, registryPath, {
    ...defaultHooks,
    allocateStaging(a) {
      const length = STAGING_SLOTS * STAGING_SLOT_BYTES
      // BUG: no address limit, and pool memory the device can only reach through a mapping.
      const { status, virtualAddress } = a.ndis.NdisAllocateMemory(length, 0, ANY_ADDRESS)
      if (status !== a.ndis.NDIS_STATUS_SUCCESS) return false
      a.stagingBlocks.push({ va: virtualAddress, length, flags: 0 })
      return carveSlots(a)
    },
    stage: () => true,
    mapStaged(a, slot, length) {
      // BUG: the CPU physical address, not a device address.
      const pa = a.ndis.MmGetPhysicalAddress(a.staging[slot]!.va)
      return { units: [{ PhysicalAddress: pa, Length: length }], mapping: null }
    },
  })
}
