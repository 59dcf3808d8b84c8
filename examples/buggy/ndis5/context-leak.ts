// An NDIS 5.1 e1000 whose NdisAllocateMemory context area never reaches NdisMSetAttributesEx (pool-leak at unload).
//
// What is wrong: seed 000 describes the context area an NDIS 5 miniport allocates with
// NdisAllocateMemory, "in which the driver will maintain per-NIC ... runtime state information",
// and whose pointer it passes to NdisMSetAttributes(Ex). This e1000-ndis5 variant allocates that
// area, then allocates a second one in a helper and hands NdisMSetAttributesEx the second: the
// first is never handed to NDIS, never used, and never freed (MiniportHalt frees the area it
// knows of, the second).
// What dmalab reports, in every configuration: at unload, a `pool-leak` (bug check 0xC4/0x62)
// of the 128-byte block NdisAllocateMemory charged to tag "Ndis", naming the allocating line.
// Frames flow: nothing else is wrong.
import type { NdisApi } from '../../../src/ndis/api.js'
import { CONTEXT_BYTES } from '../../e1000-ndis5/adapter.js'
import { driverEntry } from '../../e1000-ndis5/index.js'
import { ANY_ADDRESS, defaultHooks } from '../../e1000-ndis5/memory.js'

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return driverEntry(ndis, registryPath, {
    ...defaultHooks,
    allocateContext(n) {
      // BUG: this area is the adapter's context area, but the helper below allocates another.
      const area = n.NdisAllocateMemory(CONTEXT_BYTES, 0, ANY_ADDRESS)
      if (area.status !== n.NDIS_STATUS_SUCCESS) return 0
      return allocateAdapterState(n)
    },
  })
}

/** The helper that (re)allocates the adapter's state: its result is what NdisMSetAttributesEx gets. */
function allocateAdapterState(ndis: NdisApi): number {
  const { status, virtualAddress } = ndis.NdisAllocateMemory(CONTEXT_BYTES, 0, ANY_ADDRESS)
  return status === ndis.NDIS_STATUS_SUCCESS ? virtualAddress : 0
}
