// The packet filter NDIS sets is acknowledged and never applied (packet-filter-ignored).
//
// What is wrong: MiniportOidRequest answers every set of OID_GEN_CURRENT_PACKET_FILTER with
// NDIS_STATUS_SUCCESS but never changes the receive filters, and MiniportRestart sets the NIC up
// once to take its own address, its multicast groups and broadcasts, as if TCP/IP's filter were
// in force from the start. The set is mandatory for an NDIS 6 miniport, and while the filter is
// zero — from MiniportInitializeEx until a protocol sets it, and again once it unbinds — a
// miniport indicates nothing (WDK: OID_GEN_CURRENT_PACKET_FILTER).
// What dmalab reports, in every configuration: when TCP/IP unbinds, NDIS sets the filter to
// zero before the pause; the LAN's next frames (a broadcast ARP request, an ARP reply to this
// host) are indicated anyway: `packet-filter-ignored` findings naming the destination, the
// filter and the driver's call stack. Frames before that flow normally. Everything else is the
// e1000's.
import type { NdisApi } from '../../src/ndis/api.js'
import type { Adapter } from '../e1000/adapter.js'
import { applyReceiveFilter } from '../e1000/filter.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { ndisAdapterMemory } from '../e1000/memory.js'
import { oidRequest } from '../e1000/oid.js'

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  const base = miniportCharacteristics(ndis, () => ndisAdapterMemory)
  return registerMiniport(ndis, registryPath, {
    ...base,
    RestartHandler: (context, parameters) => {
      const a = context as Adapter
      // BUG: a fixed filter from the start, whatever NDIS sets later.
      ndis.NdisAcquireSpinLock(a.lock!)
      a.packetFilter = ndis.NDIS_PACKET_TYPE_DIRECTED | ndis.NDIS_PACKET_TYPE_MULTICAST | ndis.NDIS_PACKET_TYPE_BROADCAST
      applyReceiveFilter(a)
      ndis.NdisReleaseSpinLock(a.lock!)
      return base.RestartHandler(context, parameters)
    },
    OidRequestHandler: (context, request) => {
      if (request.RequestType === ndis.NdisRequestSetInformation && request.DATA.Oid === ndis.OID_GEN_CURRENT_PACKET_FILTER) {
        // BUG: acknowledged, never applied.
        request.DATA.BytesRead = 4
        return ndis.NDIS_STATUS_SUCCESS
      }
      return oidRequest(context as Adapter, request)
    },
  })
}
