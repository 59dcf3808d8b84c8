/*
 * MiniportOidRequest: the OIDs a protocol asks an Ethernet miniport for (ntddndis.h), answered
 * from the adapter and its statistics block. NDIS 6 answers most queries itself from the
 * attributes the miniport set; the sets of the packet filter and the multicast list are
 * mandatory (WDK: OID_GEN_CURRENT_PACKET_FILTER, OID_802_3_MULTICAST_LIST) and take effect in the
 * NIC's receive filters (filter.c).
 */
#include "e1000.h"

static NDIS_STATUS Answer(PNDIS_OID_REQUEST Request, const void *Data, ULONG Length)
{
    if (Request->DATA.QUERY_INFORMATION.InformationBufferLength < Length) {
        Request->DATA.QUERY_INFORMATION.BytesNeeded = Length;
        return NDIS_STATUS_BUFFER_TOO_SHORT;
    }
    NdisMoveMemory(Request->DATA.QUERY_INFORMATION.InformationBuffer, Data, Length);
    Request->DATA.QUERY_INFORMATION.BytesWritten = Length;
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS Query(PADAPTER Adapter, PNDIS_OID_REQUEST Request)
{
    ULONG value;
    switch (Request->DATA.QUERY_INFORMATION.Oid) {
    case OID_802_3_CURRENT_ADDRESS:
    case OID_802_3_PERMANENT_ADDRESS:
        return Answer(Request, Adapter->Mac, 6);
    case OID_GEN_LINK_SPEED:
        value = Adapter->LinkUp ? 10000000 : 0; /* in 100 bit/s units */
        return Answer(Request, &value, sizeof(value));
    case OID_GEN_MEDIA_CONNECT_STATUS:
        value = Adapter->LinkUp ? 0 : 1; /* NdisMediaStateConnected = 0 */
        return Answer(Request, &value, sizeof(value));
    case OID_GEN_MAXIMUM_FRAME_SIZE:
        value = 1500;
        return Answer(Request, &value, sizeof(value));
    case OID_GEN_CURRENT_PACKET_FILTER:
        return Answer(Request, &Adapter->PacketFilter, sizeof(ULONG));
    case OID_802_3_MAXIMUM_LIST_SIZE:
        value = MAX_MULTICAST;
        return Answer(Request, &value, sizeof(value));
    case OID_802_3_MULTICAST_LIST:
        return Answer(Request, Adapter->Multicast, Adapter->MulticastCount * 6);
    case OID_GEN_XMIT_OK:
        return Answer(Request, &Adapter->Stats->TxOk, sizeof(ULONG64));
    case OID_GEN_RCV_OK:
        return Answer(Request, &Adapter->Stats->RxOk, sizeof(ULONG64));
    case OID_GEN_RCV_NO_BUFFER:
        return Answer(Request, &Adapter->Stats->RxNoBuffer, sizeof(ULONG64));
    default:
        return NDIS_STATUS_NOT_SUPPORTED;
    }
}

/* OID_GEN_CURRENT_PACKET_FILTER: a filter with a type this driver cannot apply is refused. */
static NDIS_STATUS SetPacketFilter(PADAPTER Adapter, ULONG Filter)
{
    if (Filter & ~SUPPORTED_PACKET_FILTERS) return NDIS_STATUS_NOT_SUPPORTED;
    NdisAcquireSpinLock(&Adapter->Lock);
    Adapter->PacketFilter = Filter;
    E1000ApplyReceiveFilter(Adapter);
    NdisReleaseSpinLock(&Adapter->Lock);
    return NDIS_STATUS_SUCCESS;
}

/* OID_802_3_MULTICAST_LIST: 6 bytes an address, each a group address (bit 0 of its first byte
   set), at most MAX_MULTICAST of them (NDIS_STATUS_MULTICAST_FULL beyond, WDK). The new list
   replaces the old one; an empty list leaves no group joined. */
static NDIS_STATUS SetMulticastList(PADAPTER Adapter, const UCHAR *List, ULONG Length)
{
    ULONG i;
    if (Length % 6 != 0) return NDIS_STATUS_INVALID_LENGTH;
    if (Length / 6 > MAX_MULTICAST) return NDIS_STATUS_MULTICAST_FULL;
    for (i = 0; i < Length; i += 6)
        if ((List[i] & 1) == 0) return NDIS_STATUS_INVALID_DATA;
    NdisAcquireSpinLock(&Adapter->Lock);
    if (Length > 0) NdisMoveMemory(Adapter->Multicast, List, Length);
    Adapter->MulticastCount = Length / 6;
    E1000ApplyReceiveFilter(Adapter);
    NdisReleaseSpinLock(&Adapter->Lock);
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS Set(PADAPTER Adapter, PNDIS_OID_REQUEST Request)
{
    PVOID buffer = Request->DATA.SET_INFORMATION.InformationBuffer;
    ULONG length = Request->DATA.SET_INFORMATION.InformationBufferLength;
    NDIS_STATUS status;
    switch (Request->DATA.SET_INFORMATION.Oid) {
    case OID_GEN_CURRENT_PACKET_FILTER:
    case OID_GEN_CURRENT_LOOKAHEAD:
        if (length < sizeof(ULONG)) {
            Request->DATA.SET_INFORMATION.BytesNeeded = sizeof(ULONG);
            return NDIS_STATUS_INVALID_LENGTH;
        }
        Request->DATA.SET_INFORMATION.BytesRead = sizeof(ULONG);
        /* The lookahead is a suggestion an NDIS 6 miniport need not follow: it indicates whole frames. */
        if (Request->DATA.SET_INFORMATION.Oid == OID_GEN_CURRENT_LOOKAHEAD) {
            Adapter->Lookahead = *(PULONG)buffer;
            return NDIS_STATUS_SUCCESS;
        }
        return SetPacketFilter(Adapter, *(PULONG)buffer);
    case OID_802_3_MULTICAST_LIST:
        status = SetMulticastList(Adapter, buffer, length);
        if (status == NDIS_STATUS_SUCCESS) Request->DATA.SET_INFORMATION.BytesRead = length;
        return status;
    default:
        return NDIS_STATUS_NOT_SUPPORTED;
    }
}

NDIS_STATUS E1000OidRequest(NDIS_HANDLE MiniportAdapterContext, PNDIS_OID_REQUEST OidRequest)
{
    PADAPTER adapter = (PADAPTER)MiniportAdapterContext;
    switch (OidRequest->RequestType) {
    case NdisRequestQueryInformation:
    case NdisRequestQueryStatistics:
        return Query(adapter, OidRequest);
    case NdisRequestSetInformation:
        return Set(adapter, OidRequest);
    default:
        return NDIS_STATUS_NOT_SUPPORTED;
    }
}
