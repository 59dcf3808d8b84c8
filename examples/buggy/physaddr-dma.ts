// Device memory from MmAllocateContiguousMemorySpecifyCache + MmGetPhysicalAddress (dma-not-dma-memory; iommu-fault with the IOMMU on).
//
// What is wrong: the rings and receive buffers come from MmAllocateContiguousMemorySpecifyCache
// below 4 GiB, and the NIC is given MmGetPhysicalAddress of them. Seed 002: "Do not use
// MmAllocateContiguousMemorySpecifyCache to allocate buffers for DMA and then call
// MmGetPhysicalAddress to translate the returned virtual address to an address with which to
// program your DMA controller. This approach does not work on all hardware" (S14, S26). A CPU
// physical address is not a device (logical) address: with DMA remapping on, the device's
// addresses go through the IOMMU, and nothing mapped these pages for it.
// What dmalab reports: with the IOMMU off (either memory policy) frames move and arrive intact
// — the physical address happens to work — and `dma-not-dma-memory` findings say why it is
// still wrong: the device touched contiguous memory that no DMA mapping covers, allocated at
// the line below that calls MmAllocateContiguousMemorySpecifyCache. With the IOMMU
// on, the NIC's first descriptor fetches fault: `iommu-fault` findings (and a `device-error`
// per stopped queue), and no frame moves; the sends never complete, so MiniportPause never
// finishes and NDIS's watchdog bug checks (`hang`, 0x7C/0x25).
// Everything else is the e1000's; only memory.ts's shared-memory entry is replaced.
import type { NdisApi } from '../../src/ndis/api.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { ndisAdapterMemory, type AdapterMemory } from '../e1000/memory.js'

/** The 32-bit device's limit, as the seed's example passes it: the first 4 GiB. */
const HIGHEST_32BIT = 0xffff_ffff

const contiguousMemory: AdapterMemory = {
  ...ndisAdapterMemory,
  allocateShared(a, length, cached) {
    const ndis = a.ndis
    const va = ndis.MmAllocateContiguousMemorySpecifyCache(length, 0, HIGHEST_32BIT, 0, cached ? ndis.MmCached : ndis.MmNonCached)
    if (va === 0) return { virtualAddress: 0, logicalAddress: 0 }
    // BUG: the CPU's physical address handed out as the device's address.
    return { virtualAddress: va, logicalAddress: ndis.MmGetPhysicalAddress(va) }
  },
  freeShared(a, length, cached, virtualAddress) {
    const ndis = a.ndis
    ndis.MmFreeContiguousMemorySpecifyCache(virtualAddress, length, cached ? ndis.MmCached : ndis.MmNonCached)
  },
}

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, miniportCharacteristics(ndis, () => contiguousMemory))
}
