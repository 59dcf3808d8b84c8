// NDIS_MEMORY_CONTIGUOUS in the send path (init-only-call; sends fail once memory is fragmented).
//
// What is wrong: this driver copies each frame into a transmit copy area — one 16 KiB slot per
// ring descriptor, the largest frame one 82540EM descriptor carries — so that every frame is
// one physically contiguous piece. It allocates the area on the first send, not in
// MiniportInitializeEx, with NdisAllocateMemory(NDIS_MEMORY_CONTIGUOUS): 4 MiB for a 256-entry
// ring. Seed 000: "Only miniport drivers can set the MemoryFlags with either or both of the
// NDIS_MEMORY_XXX when they make initialization-time calls to NdisAllocateMemory ... Attempts
// to allocate either of these types of memory except during driver initialization are a
// programming error. Such an attempt is unlikely to be successful because system-space memory
// becomes fragmented" (S04, S06). The send path also runs at DISPATCH_LEVEL, and contiguous
// NdisAllocateMemory needs PASSIVE_LEVEL. (The copies themselves are mapped correctly, through
// NdisMAllocateNetBufferSGList, for the device to read, of an NBL the driver builds over its slot.)
// What dmalab reports, in every configuration: `init-only-call` (and an `irql-violation`, for
// DISPATCH_LEVEL) for the runtime NdisAllocateMemory. When physical memory is fragmented before
// the first send — the machine has been up a while (`memory.fragmentation` 0.5 leaves no free
// run longer than 2 MiB once it has set in) — the allocation fails, the driver retries on every
// send, and every frame completes with NDIS_STATUS_RESOURCES: traffic.dropped.txFailed.
// Everything else is the e1000's; only memory.ts's transmit-mapping entries are replaced.
import type { NdisApi } from '../../src/ndis/api.js'
import type { MDL, NET_BUFFER, NET_BUFFER_LIST } from '../../src/ndis/types.js'
import type { Adapter } from '../e1000/adapter.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { ANY_ADDRESS, ndisAdapterMemory, type AdapterMemory } from '../e1000/memory.js'
import { copyNetBuffer } from '../e1000/net-buffer.js'

/** One copy slot: a frame of up to 16288 bytes (the TX descriptor's maximum length) fits. */
const SLOT_BYTES = 16 * 1024

/** The copy area, an MDL per slot, and which slots are free. */
interface CopyArea {
  va: number
  length: number
  /**
   * One MDL per slot: NdisMAllocateNetBufferSGList maps from the start of a NET_BUFFER's
   * CurrentMdl, so an NBL over one MDL of the whole area would map every slot before its own.
   */
  mdls: MDL[]
  freeSlots: number[]
}

function contiguousCopies(): AdapterMemory {
  let area: CopyArea | null = null
  /** The driver's NBL over the slot holding each protocol NET_BUFFER's copy. */
  const copies = new Map<NET_BUFFER, NET_BUFFER_LIST>()

  const allocateArea = (a: Adapter): CopyArea | null => {
    const ndis = a.ndis
    const length = a.txCount * SLOT_BYTES
    // BUG: contiguous memory asked for outside MiniportInitializeEx, at DISPATCH_LEVEL.
    const { status, virtualAddress } = ndis.NdisAllocateMemory(length, ndis.NDIS_MEMORY_CONTIGUOUS, ANY_ADDRESS)
    if (status !== ndis.NDIS_STATUS_SUCCESS) return null
    const mdls: MDL[] = []
    for (let slot = 0; slot < a.txCount; slot++) {
      const mdl = ndis.NdisAllocateMdl(a.handle, virtualAddress + slot * SLOT_BYTES, SLOT_BYTES)
      if (mdl === null) {
        for (const m of mdls) ndis.NdisFreeMdl(m)
        ndis.NdisFreeMemory(virtualAddress, length, ndis.NDIS_MEMORY_CONTIGUOUS)
        return null
      }
      mdls.push(mdl)
    }
    return { va: virtualAddress, length, mdls, freeSlots: Array.from({ length: a.txCount }, (_, i) => a.txCount - 1 - i) }
  }

  return {
    ...ndisAdapterMemory,
    mapTransmit(a, nb, context) {
      const ndis = a.ndis
      area ??= allocateArea(a)
      if (area === null) return ndis.NDIS_STATUS_RESOURCES
      const slot = area.freeSlots.pop()
      if (slot === undefined || nb.DataLength > SLOT_BYTES) {
        if (slot !== undefined) area.freeSlots.push(slot)
        return ndis.NDIS_STATUS_RESOURCES
      }
      copyNetBuffer(ndis, nb, area.va + slot * SLOT_BYTES)
      const copy = ndis.NdisAllocateNetBufferAndNetBufferList(a.nblPool!, 0, 0, area.mdls[slot]!, 0, nb.DataLength)
      if (copy === null) {
        area.freeSlots.push(slot)
        return ndis.NDIS_STATUS_RESOURCES
      }
      copy.MiniportReserved[0] = slot
      copies.set(nb, copy)
      context.skip = copy.FirstNetBuffer!.CurrentMdlOffset
      const status = ndis.NdisMAllocateNetBufferSGList(a.dmaHandle!, copy.FirstNetBuffer!, context, ndis.NDIS_SG_LIST_WRITE_TO_DEVICE, null, 0)
      if (status !== ndis.NDIS_STATUS_SUCCESS) {
        copies.delete(nb)
        ndis.NdisFreeNetBufferList(copy)
        area.freeSlots.push(slot)
      }
      return status
    },
    unmapTransmit(a, sgl, nb) {
      const ndis = a.ndis
      const copy = copies.get(nb)
      if (copy === undefined) return
      copies.delete(nb)
      ndis.NdisMFreeNetBufferSGList(a.dmaHandle!, sgl, copy.FirstNetBuffer!)
      area?.freeSlots.push(copy.MiniportReserved[0] as number)
      ndis.NdisFreeNetBufferList(copy)
    },
    // At halt (PASSIVE_LEVEL, every send completed), the area goes before DMA is deregistered.
    disableDma(a) {
      const ndis = a.ndis
      if (area !== null) {
        for (const mdl of area.mdls) ndis.NdisFreeMdl(mdl)
        ndis.NdisFreeMemory(area.va, area.length, ndis.NDIS_MEMORY_CONTIGUOUS)
        area = null
      }
      ndisAdapterMemory.disableDma(a)
    },
  }
}

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, miniportCharacteristics(ndis, contiguousCopies))
}
