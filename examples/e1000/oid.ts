// MiniportOidRequest: the few OIDs a protocol asks an Ethernet miniport for.
import type { NDIS_OID_REQUEST } from '../../src/ndis/types.js'
import { STAT, type Adapter } from './adapter.js'
import { setOffloadParameters } from './offload.js'

export function oidRequest(a: Adapter, request: NDIS_OID_REQUEST): number {
  const ndis = a.ndis
  const m = ndis.memory
  const data = request.DATA
  const query = request.RequestType === ndis.NdisRequestQueryInformation || request.RequestType === ndis.NdisRequestQueryStatistics
  const answer = (bytes: number, write: (va: number) => void): number => {
    if (data.InformationBufferLength < bytes) {
      data.BytesNeeded = bytes
      return ndis.NDIS_STATUS_BUFFER_TOO_SHORT
    }
    write(data.InformationBuffer)
    data.BytesWritten = bytes
    return ndis.NDIS_STATUS_SUCCESS
  }
  if (query) {
    switch (data.Oid) {
      case ndis.OID_802_3_CURRENT_ADDRESS:
      case ndis.OID_802_3_PERMANENT_ADDRESS:
        return answer(6, (va) => m.writeBytes(va, a.mac))
      case ndis.OID_GEN_LINK_SPEED:
        return answer(4, (va) => m.write32(va, a.linkUp ? 10_000_000 : 0)) // in 100 bit/s units
      case ndis.OID_GEN_MEDIA_CONNECT_STATUS:
        return answer(4, (va) => m.write32(va, a.linkUp ? 0 : 1)) // NdisMediaStateConnected = 0
      case ndis.OID_GEN_MAXIMUM_FRAME_SIZE:
        return answer(4, (va) => m.write32(va, 1500))
      case ndis.OID_GEN_XMIT_OK:
        return answer(8, (va) => m.write64(va, m.read64(a.stats + STAT.txOk)))
      case ndis.OID_GEN_RCV_OK:
        return answer(8, (va) => m.write64(va, m.read64(a.stats + STAT.rxOk)))
      case ndis.OID_GEN_RCV_NO_BUFFER:
        return answer(8, (va) => m.write64(va, m.read64(a.stats + STAT.rxNoBuffer)))
      default:
        return ndis.NDIS_STATUS_NOT_SUPPORTED
    }
  }
  if (data.Oid === ndis.OID_TCP_OFFLOAD_PARAMETERS) {
    const status = setOffloadParameters(a, data.InformationBuffer, data.InformationBufferLength)
    if (status === ndis.NDIS_STATUS_SUCCESS) data.BytesRead = data.InformationBufferLength
    return status
  }
  if (data.Oid === ndis.OID_GEN_CURRENT_PACKET_FILTER) {
    if (data.InformationBufferLength < 4) {
      data.BytesNeeded = 4
      return ndis.NDIS_STATUS_INVALID_LENGTH
    }
    a.packetFilter = m.read32(data.InformationBuffer)
    data.BytesRead = 4
    return ndis.NDIS_STATUS_SUCCESS
  }
  return ndis.NDIS_STATUS_NOT_SUPPORTED
}
