// A tiny NDIS miniport for fault-injection tests: two allocations at initialization (an adapter
// block from NdisAllocateMemoryWithTag, a table from ExAllocatePoolWithTag), released in
// reverse at halt; every failure is unwound. Variants make it leak on a failure, or use a NULL
// it did not check. Sends complete at once with an error (no hardware is touched, nothing is sent).
import type { NdisApi } from '../../../src/ndis/api.js'
import type { NET_BUFFER_LIST, NdisHandle } from '../../../src/ndis/types.js'

export type Variant = 'correct' | 'leaks-on-failure' | 'null-deref-on-failure'

interface Tiny {
  handle: NdisHandle
  block: number
  table: number
}

export function tinyMiniport(variant: Variant): (ndis: NdisApi) => number {
  return (ndis) => {
    const init = (handle: NdisHandle): number => {
      const a: Tiny = { handle, block: 0, table: 0 }
      ndis.NdisMSetMiniportAttributes(handle, {
        Header: { Type: ndis.NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, Revision: 1, Size: 0 },
        MiniportAdapterContext: a,
        AttributeFlags: 0,
        CheckForHangTimeInSeconds: 0,
        InterfaceType: ndis.NDIS_INTERFACE_TYPE_PCI,
      })
      const block = ndis.NdisAllocateMemoryWithTag(256, 'yniT') // "Tiny" in a pool dump
      if (block.status !== ndis.NDIS_STATUS_SUCCESS) {
        // The bug of the null-deref variant: it uses the address without checking the status.
        if (variant === 'null-deref-on-failure') ndis.memory.write32(block.virtualAddress, 1)
        return ndis.NDIS_STATUS_RESOURCES
      }
      a.block = block.virtualAddress
      a.table = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 4096, 'lbaT') // "Tabl"
      if (a.table === 0) {
        // The bug of the leaky variant: it forgets the block it already holds.
        if (variant !== 'leaks-on-failure') ndis.NdisFreeMemory(a.block, 256, 0)
        return ndis.NDIS_STATUS_RESOURCES
      }
      return ndis.NDIS_STATUS_SUCCESS
    }
    const { status } = ndis.NdisMRegisterMiniportDriver(ndis.DriverObject, '', null, {
      MajorNdisVersion: 6,
      MinorNdisVersion: 20,
      InitializeHandlerEx: init,
      HaltHandlerEx: (context) => {
        const a = context as Tiny
        ndis.ExFreePoolWithTag(a.table, 'lbaT')
        ndis.NdisFreeMemory(a.block, 256, 0)
      },
      PauseHandler: () => ndis.NDIS_STATUS_SUCCESS,
      RestartHandler: () => ndis.NDIS_STATUS_SUCCESS,
      // Sets are accepted (TCP/IP's packet filter and multicast list); it receives nothing anyway.
      OidRequestHandler: (_c, request) => (request.RequestType === ndis.NdisRequestSetInformation ? ndis.NDIS_STATUS_SUCCESS : ndis.NDIS_STATUS_NOT_SUPPORTED),
      SendNetBufferListsHandler: (context, nbls) => {
        for (let n: NET_BUFFER_LIST | null = nbls; n !== null; n = n.Next) n.Status = ndis.NDIS_STATUS_FAILURE
        ndis.NdisMSendNetBufferListsComplete((context as Tiny).handle, nbls, ndis.NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL)
      },
      ReturnNetBufferListsHandler: () => {},
    })
    return status
  }
}

export default tinyMiniport('correct')
