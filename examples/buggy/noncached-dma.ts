// MmAllocateNonCachedMemory buffers given to the NIC by physical address (dma-not-dma-memory).
//
// What is wrong: the rings and receive buffers come from MmAllocateNonCachedMemory, and the NIC
// is given MmGetPhysicalAddress of them. Seed 002: MmAllocateNonCachedMemory "allocates
// nonpaged, noncached, page-aligned memory. Drivers rarely use this function; they must not
// use it to allocate buffers for DMA" (S16). Nothing keeps the pages below the device's 32-bit
// limit, and nothing maps them for the device. (Its pages are not physically contiguous either,
// so this driver takes one page at a time and lets initialization fall back to page-sized
// receive blocks, S07.)
// What dmalab reports: with the IOMMU off and low-first memory, frames move and arrive intact,
// and `dma-not-dma-memory` findings say the device touched noncached memory that no DMA mapping
// covers, allocated at the MmAllocateNonCachedMemory line below. With high-first memory the pages lie above 4 GiB and the 32-bit NIC drops the high
// address bits: `dma-address-truncated`, and it fetches its descriptors from some other page
// (`dma-outside-buffer`, `device-error`), so no frame moves. With the IOMMU on: `iommu-fault`
// at the first descriptor fetch, and no frame moves. When sends never complete, MiniportPause
// never finishes (`hang`) and the S/G lists are still held at halt (`sg-list-leak`).
// Everything else is the e1000's; only memory.ts's shared-memory entry is replaced.
import type { NdisApi } from '../../src/ndis/api.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { ndisAdapterMemory, type AdapterMemory } from '../e1000/memory.js'

const noncachedMemory: AdapterMemory = {
  ...ndisAdapterMemory,
  allocateShared(a, length, _cached) {
    const ndis = a.ndis
    const none = { virtualAddress: 0, logicalAddress: 0 }
    // Only virtually contiguous: one address per page would be needed for more than a page.
    if (length > ndis.PAGE_SIZE) return none
    const va = ndis.MmAllocateNonCachedMemory(length)
    if (va === 0) return none
    // BUG: noncached memory handed to the device by its CPU physical address.
    return { virtualAddress: va, logicalAddress: ndis.MmGetPhysicalAddress(va) }
  },
  freeShared(a, length, _cached, virtualAddress) {
    a.ndis.MmFreeNonCachedMemory(virtualAddress, length)
  },
}

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, miniportCharacteristics(ndis, () => noncachedMemory))
}
