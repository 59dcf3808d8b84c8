// Only the first element of each scatter/gather list is put on the ring (frame-corrupted,
// frames-lost): every NET_BUFFER whose data spans more than one element goes out truncated.
//
// What is wrong: ProcessSGList writes one descriptor for SCATTER_GATHER_LIST.Elements[0] and
// marks it end of packet, as if a packet were always one physically contiguous buffer. A
// NET_BUFFER is an MDL chain: a protocol builds headers in one buffer and chains the payload
// behind it, and a buffer that crosses a page lies on two physical pages, so its list has one
// element per piece and the device must be given every one (NdisMAllocateNetBufferSGList;
// 8254x manual 3.3: a packet is the descriptors up to the one with EOP).
// What dmalab reports with mixed traffic (the command line's default), in every configuration:
// `frame-corrupted` for sent frames that came back shorter than they were sent, and
// `frames-lost` counting them, with the send path's call stack. With uniform traffic (one
// buffer per frame, within a page) every list has one element and nothing shows: the bug needs
// the traffic a real stack sends. Everything else is the e1000's.
import type { NdisApi } from '../../src/ndis/api.js'
import type { SCATTER_GATHER_LIST } from '../../src/ndis/types.js'
import type { Adapter } from '../e1000/adapter.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { MAXIMUM_PHYSICAL_MAPPING, ndisAdapterMemory, type AdapterMemory } from '../e1000/memory.js'
import { onSharedMemoryAllocated } from '../e1000/receive.js'
import { placeSGList, type SendContext } from '../e1000/send.js'

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, miniportCharacteristics(ndis, () => firstElementOnly))
}

/** ProcessSGList with the bug. */
function processSGList(_deviceObject: unknown, _reserved: null, sgl: SCATTER_GATHER_LIST, context: unknown): void {
  // BUG: Elements[0] only, whatever NumberOfElements says.
  placeSGList(sgl, context as SendContext, 1)
}

/** The e1000's memory table, registering the ProcessSGList above. */
const firstElementOnly: AdapterMemory = {
  ...ndisAdapterMemory,
  enableDma(a: Adapter): number {
    const ndis = a.ndis
    const dma = ndis.NdisMRegisterScatterGatherDma(a.handle, {
      Flags: 0,
      MaximumPhysicalMapping: MAXIMUM_PHYSICAL_MAPPING,
      ProcessSGListHandler: processSGList,
      SharedMemAllocateCompleteHandler: onSharedMemoryAllocated,
    })
    if (dma.status === ndis.NDIS_STATUS_SUCCESS) a.dmaHandle = dma.ndisMiniportDmaHandle
    return dma.status
  },
}
