// Sends copied into pool and given to the 32-bit NIC by physical address (dma-address-truncated above 4 GiB).
//
// What is wrong: to keep sends simple, this driver copies each frame into a buffer from
// ExAllocatePoolWithTag and gives the NIC MmGetPhysicalAddress of it, as a one-element
// "scatter/gather list" it builds itself. Pool has no address limit: on a machine with RAM above
// 4 GiB (Windows' `nolowmem`, dmalab's default high-first policy) the buffer lands there, and a
// device with 32 address lines cannot reach it — the HAL would have bounced it through map
// registers, or mapped it through the IOMMU, had the driver asked (seed 002: "To allocate
// memory for DMA buffers, drivers should call AllocateCommonBuffer or GetScatterGatherList";
// S26). A CPU physical address is never a device address (S14).
// What dmalab reports: with the IOMMU off and high-first memory, `dma-address-truncated` for
// every send, naming the pool block ('E1kC') and the ExAllocatePoolWithTag line below: the NIC
// drops the address's high bits and reads some other page below 4 GiB
// (`dma-outside-buffer` when nothing of the driver's is there), so what goes on the wire is not
// the frame, and the loopback receiver filters it out (traffic.dropped.nicFiltered). With
// low-first memory the buffers happen to be reachable: frames arrive intact, and
// `dma-not-dma-memory` says the device read pool memory no DMA mapping covers. With the IOMMU
// on and high-first memory, `dma-address-truncated` and `iommu-fault`: the truncated address is
// mapped to nothing in the NIC's domain. With the IOMMU on and low-first memory, `iommu-fault`:
// the raw physical address is not an I/O virtual address the HAL mapped (IOVAs are handed out
// top-down from the device's limit, as Linux does, so a low physical address does not alias one).
// Everything else is the e1000's; only memory.ts's transmit-mapping entries are replaced.
import type { NdisApi } from '../../src/ndis/api.js'
import type { SCATTER_GATHER_LIST } from '../../src/ndis/types.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { ndisAdapterMemory, type AdapterMemory } from '../e1000/memory.js'
import { processSGList } from '../e1000/send.js'
import { copyNetBuffer } from '../e1000/net-buffer.js'

/** 'Ck1E': shows as "E1kC" in a pool dump — transmit copies. */
const TAG_COPY = 'Ck1E'

function poolCopies(): AdapterMemory {
  /** The pool copy behind each list this driver built. */
  const copies = new Map<SCATTER_GATHER_LIST, number>()
  return {
    ...ndisAdapterMemory,
    mapTransmit(a, nb, context) {
      const ndis = a.ndis
      // A frame of at most PAGE_SIZE - sizeof(POOL_HEADER) bytes never crosses a page (S09),
      // so one physical address covers it; this driver's frames are at most 1514 bytes.
      const va = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, nb.DataLength, TAG_COPY)
      if (va === 0) return ndis.NDIS_STATUS_RESOURCES
      copyNetBuffer(a.ndis, nb, va)
      // BUG: the CPU physical address of pool memory given to a 32-bit bus master.
      const sgl: SCATTER_GATHER_LIST = { NumberOfElements: 1, Reserved: 0, Elements: [{ Address: ndis.MmGetPhysicalAddress(va), Length: nb.DataLength, Reserved: 0 }] }
      copies.set(sgl, va)
      processSGList(null, null, sgl, context)
      return ndis.NDIS_STATUS_SUCCESS
    },
    unmapTransmit(a, sgl) {
      const va = copies.get(sgl)
      copies.delete(sgl)
      if (va !== undefined) a.ndis.ExFreePoolWithTag(va, TAG_COPY)
    },
  }
}

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, miniportCharacteristics(ndis, poolCopies))
}
