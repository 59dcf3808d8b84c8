// The adapter's device memory through the HAL's DMA interface, as a driver outside NDIS's DMA
// helpers gets it (WDK, "Getting a DMA adapter object" and "Using scatter/gather DMA"):
//  - IoGetDmaAdapter with a DEVICE_DESCRIPTION for a 32-bit PCI bus master, on the PDO that
//    NdisMGetDeviceProperty returns; the adapter's DmaOperations are called adapter first;
//  - rings and receive buffers from AllocateCommonBuffer, freed with FreeCommonBuffer with the
//    same length, logical address, VA and CacheEnabled;
//  - each transmitted NET_BUFFER mapped with GetScatterGatherList, whose execution routine may
//    run before GetScatterGatherList returns or later, when map registers free up; the list goes
//    back with PutScatterGatherList once the device is done with the packet;
//  - PutDmaAdapter at halt, after every common buffer and S/G list is back.
// The driver's own blocks (statistics, tracking tables) are not device memory and come from
// NDIS's memory routines, as in the e1000.
import type { DMA_ADAPTER } from '../../src/ndis/api.js'
import type { DEVICE_DESCRIPTION, SCATTER_GATHER_LIST } from '../../src/ndis/types.js'
import type { Adapter } from '../e1000/adapter.js'
import { MAXIMUM_PHYSICAL_MAPPING, ndisAdapterMemory, type AdapterMemory } from '../e1000/memory.js'
import { processSGList } from '../e1000/send.js'

/** What the driver keeps per adapter for the HAL: in C, fields of its adapter context. */
interface HalDma {
  dmaAdapter: DMA_ADAPTER
  /** The FDO: GetScatterGatherList's DeviceObject is the device object of the target device. */
  deviceObject: object
}

/** A memory table per adapter (called from MiniportInitializeEx), holding that adapter's DMA_ADAPTER. */
export function halAdapterMemory(): AdapterMemory {
  let hal: HalDma | null = null
  const held = (): HalDma => {
    if (hal === null) throw new Error('no DMA adapter: enableDma has not succeeded')
    return hal
  }
  // The execution routine (DRIVER_LIST_CONTROL) has ProcessSGList's shape: the list arrives at
  // DISPATCH_LEVEL with the context GetScatterGatherList was given.
  const executionRoutine = (deviceObject: unknown, _irp: unknown, sgl: SCATTER_GATHER_LIST, context: unknown): void =>
    processSGList(deviceObject, null, sgl, context)

  return {
    allocateStatistics: ndisAdapterMemory.allocateStatistics,
    freeStatistics: ndisAdapterMemory.freeStatistics,
    allocateTable: ndisAdapterMemory.allocateTable,
    freeTable: ndisAdapterMemory.freeTable,

    enableDma(a: Adapter): number {
      const ndis = a.ndis
      const { physicalDeviceObject, functionalDeviceObject } = ndis.NdisMGetDeviceProperty(a.handle)
      // 82540EM: a PCI bus master that drives 32 address lines and gathers a frame from
      // several buffers. Dma64BitAddresses clear, so the HAL keeps every logical address below
      // 4 GiB (bouncing through map registers, or mapping through the IOMMU).
      const description: DEVICE_DESCRIPTION = {
        Version: ndis.DEVICE_DESCRIPTION_VERSION3,
        Master: true,
        ScatterGather: true,
        Dma32BitAddresses: true,
        Dma64BitAddresses: false,
        InterfaceType: ndis.PCIBus,
        MaximumLength: MAXIMUM_PHYSICAL_MAPPING,
        DmaAddressWidth: 32,
      }
      const { dmaAdapter } = ndis.IoGetDmaAdapter(physicalDeviceObject, description)
      if (dmaAdapter === null) return ndis.NDIS_STATUS_RESOURCES
      hal = { dmaAdapter, deviceObject: functionalDeviceObject }
      return ndis.NDIS_STATUS_SUCCESS
    },
    disableDma(_a: Adapter): void {
      if (hal === null) return
      hal.dmaAdapter.DmaOperations.PutDmaAdapter(hal.dmaAdapter)
      hal = null
    },

    // Common buffers: reachable by the device on this platform (S13), never crossing 4 GiB.
    allocateShared(_a: Adapter, length: number, cached: boolean) {
      const { dmaAdapter } = held()
      return dmaAdapter.DmaOperations.AllocateCommonBuffer(dmaAdapter, length, cached)
    },
    freeShared(_a: Adapter, length: number, cached: boolean, virtualAddress: number, logicalAddress: number): void {
      const { dmaAdapter } = held()
      dmaAdapter.DmaOperations.FreeCommonBuffer(dmaAdapter, length, logicalAddress, virtualAddress, cached)
    },

    mapTransmit(a, nb, context) {
      const ndis = a.ndis
      const { dmaAdapter, deviceObject } = held()
      // The packet's data starts CurrentMdlOffset bytes into CurrentMdl and may run on
      // through the MDL chain; CurrentVa names that first byte in the MDL's virtual range.
      const mdl = nb.CurrentMdl
      const currentVa = ndis.MmGetMdlVirtualAddress(mdl) + nb.CurrentMdlOffset
      const status = dmaAdapter.DmaOperations.GetScatterGatherList(dmaAdapter, deviceObject, mdl, currentVa, nb.DataLength, executionRoutine, context, true)
      if (status === ndis.STATUS_SUCCESS) return ndis.NDIS_STATUS_SUCCESS
      return status === ndis.STATUS_INSUFFICIENT_RESOURCES ? ndis.NDIS_STATUS_RESOURCES : ndis.NDIS_STATUS_FAILURE
    },
    unmapTransmit(_a, sgl, _nb) {
      const { dmaAdapter } = held()
      dmaAdapter.DmaOperations.PutScatterGatherList(dmaAdapter, sgl, true)
    },
  }
}
