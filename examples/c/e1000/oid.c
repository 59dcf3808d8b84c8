/*
 * MiniportOidRequest: the OIDs a protocol asks an Ethernet miniport for (ntddndis.h), answered
 * from the adapter and its statistics block.
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

static NDIS_STATUS Set(PADAPTER Adapter, PNDIS_OID_REQUEST Request)
{
    PVOID buffer = Request->DATA.SET_INFORMATION.InformationBuffer;
    switch (Request->DATA.SET_INFORMATION.Oid) {
    case OID_GEN_CURRENT_PACKET_FILTER:
    case OID_GEN_CURRENT_LOOKAHEAD:
        if (Request->DATA.SET_INFORMATION.InformationBufferLength < sizeof(ULONG)) {
            Request->DATA.SET_INFORMATION.BytesNeeded = sizeof(ULONG);
            return NDIS_STATUS_INVALID_LENGTH;
        }
        if (Request->DATA.SET_INFORMATION.Oid == OID_GEN_CURRENT_PACKET_FILTER) Adapter->PacketFilter = *(PULONG)buffer;
        else Adapter->Lookahead = *(PULONG)buffer;
        Request->DATA.SET_INFORMATION.BytesRead = sizeof(ULONG);
        return NDIS_STATUS_SUCCESS;
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
