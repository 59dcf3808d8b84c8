// Where the adapter's memory comes from and how it goes back, in one table: the driver's own
// blocks (statistics, descriptor-tracking tables) from NDIS's memory routines, and everything
// the device touches from NDIS's scatter/gather DMA — shared memory for the rings and the
// receive buffers, an S/G list per transmitted NET_BUFFER.
//
// The rest of the driver calls through `a.memory`, so a driver that gets its device memory
// another way changes this table and nothing else: examples/wdm-dma swaps in the HAL's
// DMA_OPERATIONS, and each examples/buggy miniport replaces the one entry it gets wrong.
import type { NET_BUFFER, SCATTER_GATHER_LIST } from '../../src/ndis/types.js'
import { TAG, type Adapter } from './adapter.js'
import { processSGList, type SendContext } from './send.js'
import { onSharedMemoryAllocated } from './receive.js'
import { LSO_MAX_HEADER, LSO_MAX_OFFLOAD_SIZE } from './offload.js'

/** No limit on where the driver's own tables may live (NDIS_PHYSICAL_ADDRESS_CONST(-1, -1)). */
export const ANY_ADDRESS = -1

/** NDIS_SG_DMA_DESCRIPTION.MaximumPhysicalMapping: the most one packet needs mapped, a large send (offload.ts). */
export const MAXIMUM_PHYSICAL_MAPPING = LSO_MAX_OFFLOAD_SIZE + LSO_MAX_HEADER

export interface AdapterMemory {
  /** The statistics block, zeroed; its VA, or 0 when there is no memory. */
  allocateStatistics(a: Adapter, length: number): number
  freeStatistics(a: Adapter, va: number, length: number): void
  /** A descriptor-tracking table (driver-only memory); its VA, or 0. */
  allocateTable(a: Adapter, length: number): number
  freeTable(a: Adapter, va: number, length: number): void

  /** Sets the adapter up for bus-master DMA as a 32-bit device (MiniportInitializeEx, before any shared memory). */
  enableDma(a: Adapter): number
  disableDma(a: Adapter): void
  /** Memory the CPU and the device share; `virtualAddress` 0 when there is none. `logicalAddress` is what the device is given. */
  allocateShared(a: Adapter, length: number, cached: boolean): { virtualAddress: number; logicalAddress: number }
  freeShared(a: Adapter, length: number, cached: boolean, virtualAddress: number, logicalAddress: number): void
  /**
   * Maps one NET_BUFFER for transmission. processSGList receives the list, before or after
   * this returns. Returns an NDIS_STATUS; on failure processSGList is not called.
   */
  mapTransmit(a: Adapter, nb: NET_BUFFER, context: SendContext): number
  /** Gives back a list processSGList received, once the device is done with it. */
  unmapTransmit(a: Adapter, sgl: SCATTER_GATHER_LIST, nb: NET_BUFFER): void
}

/** The e1000's choice: NDIS's memory routines and NDIS's scatter/gather DMA. */
export const ndisAdapterMemory: AdapterMemory = {
  // NDIS 6 memory: NdisAllocateMemoryWithTagPriority (it replaces NdisAllocateMemory and
  // NdisAllocateMemoryWithTag for NDIS 6.0 miniports), nonpaged, any IRQL <= DISPATCH_LEVEL.
  allocateStatistics(a, length) {
    const ndis = a.ndis
    const virtualAddress = ndis.NdisAllocateMemoryWithTagPriority(a.handle, length, TAG.stats, ndis.NormalPoolPriority)
    if (virtualAddress === 0) return 0
    ndis.NdisZeroMemory(virtualAddress, length)
    return virtualAddress
  },
  freeStatistics(a, va, length) {
    a.ndis.NdisFreeMemory(va, length, 0)
  },

  // The tracking tables are ordinary nonpaged memory too (S01).
  allocateTable(a, length) {
    return a.ndis.NdisAllocateMemoryWithTagPriority(a.handle, length, TAG.tables, a.ndis.NormalPoolPriority)
  },
  freeTable(a, va, length) {
    a.ndis.NdisFreeMemory(va, length, 0)
  },

  // 82540EM: a 32-bit bus master (NDIS_SG_DMA_64_BIT_ADDRESS clear).
  enableDma(a) {
    const ndis = a.ndis
    const dma = ndis.NdisMRegisterScatterGatherDma(a.handle, {
      Header: { Type: ndis.NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION, Revision: ndis.NDIS_SG_DMA_DESCRIPTION_REVISION_1, Size: 0 },
      Flags: 0,
      MaximumPhysicalMapping: MAXIMUM_PHYSICAL_MAPPING,
      ProcessSGListHandler: processSGList,
      SharedMemAllocateCompleteHandler: onSharedMemoryAllocated,
    })
    if (dma.status === ndis.NDIS_STATUS_SUCCESS) a.dmaHandle = dma.ndisMiniportDmaHandle
    return dma.status
  },
  disableDma(a) {
    if (a.dmaHandle !== null) a.ndis.NdisMDeregisterScatterGatherDma(a.dmaHandle)
    a.dmaHandle = null
  },

  // NdisMAllocateSharedMemory wraps the DMA adapter's AllocateCommonBuffer: reachable by the
  // device (below its limit, or mapped by the IOMMU), and its PhysicalAddress is a logical one.
  allocateShared(a, length, cached) {
    const { virtualAddress, physicalAddress } = a.ndis.NdisMAllocateSharedMemory(a.handle, length, cached)
    return { virtualAddress, logicalAddress: physicalAddress }
  },
  freeShared(a, length, cached, virtualAddress, logicalAddress) {
    a.ndis.NdisMFreeSharedMemory(a.handle, length, cached, virtualAddress, logicalAddress)
  },

  // A transfer to the device (NDIS_SG_LIST_WRITE_TO_DEVICE): the device only reads the packet.
  // The list starts at the beginning of CurrentMdl, so ProcessSGList skips CurrentMdlOffset.
  mapTransmit(a, nb, context) {
    const ndis = a.ndis
    context.skip = nb.CurrentMdlOffset
    return ndis.NdisMAllocateNetBufferSGList(a.dmaHandle!, nb, context, ndis.NDIS_SG_LIST_WRITE_TO_DEVICE, null, 0)
  },
  unmapTransmit(a, sgl, nb) {
    a.ndis.NdisMFreeNetBufferSGList(a.dmaHandle!, sgl, nb)
  },
}
