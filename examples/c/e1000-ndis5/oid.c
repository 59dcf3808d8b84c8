/*
 * MiniportQueryInformation and MiniportSetInformation (DISPATCH_LEVEL): the OIDs every NDIS 5
 * Ethernet miniport answers (the NDIS 5.1 reference lists them as mandatory for 802.3), from the
 * context area's state and statistics.
 */
#include "e1000-ndis5.h"

#define LOOKAHEAD (MAX_FRAME_SIZE - ETHERNET_HEADER)
#define DRIVER_VERSION 0x0501 /* NDIS 5.1 */
#define VENDOR_DRIVER_VERSION 0x00010000

static const char Description[] = "dmalab 82540EM NDIS 5.1 miniport (C)";

static const NDIS_OID SupportedOids[] = {
    OID_GEN_SUPPORTED_LIST, OID_GEN_HARDWARE_STATUS, OID_GEN_MEDIA_SUPPORTED, OID_GEN_MEDIA_IN_USE, OID_GEN_MAXIMUM_LOOKAHEAD,
    OID_GEN_MAXIMUM_FRAME_SIZE, OID_GEN_LINK_SPEED, OID_GEN_TRANSMIT_BUFFER_SPACE, OID_GEN_RECEIVE_BUFFER_SPACE, OID_GEN_TRANSMIT_BLOCK_SIZE,
    OID_GEN_RECEIVE_BLOCK_SIZE, OID_GEN_VENDOR_ID, OID_GEN_VENDOR_DESCRIPTION, OID_GEN_CURRENT_PACKET_FILTER, OID_GEN_CURRENT_LOOKAHEAD,
    OID_GEN_DRIVER_VERSION, OID_GEN_MAXIMUM_TOTAL_SIZE, OID_GEN_MAC_OPTIONS, OID_GEN_MEDIA_CONNECT_STATUS, OID_GEN_MAXIMUM_SEND_PACKETS,
    OID_GEN_VENDOR_DRIVER_VERSION, OID_GEN_XMIT_OK, OID_GEN_RCV_OK, OID_GEN_XMIT_ERROR, OID_GEN_RCV_ERROR, OID_GEN_RCV_NO_BUFFER,
    OID_802_3_PERMANENT_ADDRESS, OID_802_3_CURRENT_ADDRESS, OID_802_3_MULTICAST_LIST, OID_802_3_MAXIMUM_LIST_SIZE,
    OID_802_3_RCV_ERROR_ALIGNMENT, OID_802_3_XMIT_ONE_COLLISION, OID_802_3_XMIT_MORE_COLLISIONS,
};

/* Copies `Size` bytes of the answer when the buffer holds them, else says how many it needs. */
static NDIS_STATUS Fits(PVOID Buffer, ULONG Length, const void *Data, ULONG Size, PULONG BytesWritten, PULONG BytesNeeded)
{
    if (Length < Size) {
        *BytesNeeded = Size;
        return NDIS_STATUS_INVALID_LENGTH;
    }
    NdisMoveMemory(Buffer, Data, Size);
    *BytesWritten = Size;
    return NDIS_STATUS_SUCCESS;
}

/* A statistic: 64 bits when the buffer has room, else its low 32 (as NDIS 5 allows). */
static NDIS_STATUS Counter(PVOID Buffer, ULONG Length, ULONG64 Value, PULONG BytesWritten, PULONG BytesNeeded)
{
    ULONG low = (ULONG)Value;
    if (Length >= sizeof(ULONG64)) return Fits(Buffer, Length, &Value, sizeof(Value), BytesWritten, BytesNeeded);
    return Fits(Buffer, Length, &low, sizeof(low), BytesWritten, BytesNeeded);
}

NDIS_STATUS E1000QueryInformation(NDIS_HANDLE MiniportAdapterContext, NDIS_OID Oid, PVOID InformationBuffer, ULONG InformationBufferLength,
                                  PULONG BytesWritten, PULONG BytesNeeded)
{
    PADAPTER a = (PADAPTER)MiniportAdapterContext;
    ULONG value;
    USHORT version;
    *BytesWritten = 0;
    *BytesNeeded = 0;
    switch (Oid) {
    case OID_GEN_SUPPORTED_LIST:
        return Fits(InformationBuffer, InformationBufferLength, SupportedOids, sizeof(SupportedOids), BytesWritten, BytesNeeded);
    case OID_GEN_HARDWARE_STATUS: value = NdisHardwareStatusReady; break;
    case OID_GEN_MEDIA_SUPPORTED:
    case OID_GEN_MEDIA_IN_USE: value = NdisMedium802_3; break;
    case OID_GEN_MAXIMUM_LOOKAHEAD: value = LOOKAHEAD; break;
    case OID_GEN_CURRENT_LOOKAHEAD: value = a->Lookahead != 0 ? a->Lookahead : LOOKAHEAD; break;
    case OID_GEN_MAXIMUM_FRAME_SIZE: value = MAX_FRAME_SIZE - ETHERNET_HEADER; break;
    case OID_GEN_MAXIMUM_TOTAL_SIZE: value = MAX_FRAME_SIZE; break;
    case OID_GEN_LINK_SPEED: value = a->LinkUp ? 10000000 : 0; break; /* 100 bit/s units: 1 Gbit/s */
    case OID_GEN_TRANSMIT_BUFFER_SPACE: value = a->RingCount * STAGING_SLOT_BYTES; break;
    case OID_GEN_RECEIVE_BUFFER_SPACE: value = a->RingCount * RX_BUFFER_SIZE; break;
    case OID_GEN_TRANSMIT_BLOCK_SIZE:
    case OID_GEN_RECEIVE_BLOCK_SIZE: value = RX_BUFFER_SIZE; break;
    case OID_GEN_VENDOR_ID: value = ((ULONG)a->Mac[0] << 16) | ((ULONG)a->Mac[1] << 8) | a->Mac[2]; break;
    case OID_GEN_VENDOR_DESCRIPTION:
        return Fits(InformationBuffer, InformationBufferLength, Description, sizeof(Description), BytesWritten, BytesNeeded);
    case OID_GEN_CURRENT_PACKET_FILTER: value = a->PacketFilter; break;
    case OID_GEN_DRIVER_VERSION:
        version = DRIVER_VERSION;
        return Fits(InformationBuffer, InformationBufferLength, &version, sizeof(version), BytesWritten, BytesNeeded);
    case OID_GEN_VENDOR_DRIVER_VERSION: value = VENDOR_DRIVER_VERSION; break;
    case OID_GEN_MAC_OPTIONS:
        value = NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA | NDIS_MAC_OPTION_TRANSFERS_NOT_PEND | NDIS_MAC_OPTION_NO_LOOPBACK | NDIS_MAC_OPTION_FULL_DUPLEX;
        break;
    case OID_GEN_MEDIA_CONNECT_STATUS: value = a->LinkUp ? NdisMediaStateConnected : NdisMediaStateDisconnected; break;
    case OID_GEN_MAXIMUM_SEND_PACKETS: value = MAP_REGISTERS / 2; break;
    case OID_GEN_XMIT_OK: return Counter(InformationBuffer, InformationBufferLength, a->TxOk, BytesWritten, BytesNeeded);
    case OID_GEN_RCV_OK: return Counter(InformationBuffer, InformationBufferLength, a->RxOk, BytesWritten, BytesNeeded);
    case OID_GEN_XMIT_ERROR: return Counter(InformationBuffer, InformationBufferLength, a->TxErrors + a->TxDropped, BytesWritten, BytesNeeded);
    case OID_GEN_RCV_ERROR: return Counter(InformationBuffer, InformationBufferLength, a->RxErrors, BytesWritten, BytesNeeded);
    case OID_GEN_RCV_NO_BUFFER: return Counter(InformationBuffer, InformationBufferLength, a->RxNoBuffer, BytesWritten, BytesNeeded);
    case OID_802_3_PERMANENT_ADDRESS:
    case OID_802_3_CURRENT_ADDRESS:
        return Fits(InformationBuffer, InformationBufferLength, a->Mac, 6, BytesWritten, BytesNeeded);
    case OID_802_3_MULTICAST_LIST:
        return Fits(InformationBuffer, InformationBufferLength, a->Multicast, a->MulticastCount * 6, BytesWritten, BytesNeeded);
    case OID_802_3_MAXIMUM_LIST_SIZE: value = MULTICAST_LIST_SIZE; break;
    case OID_802_3_RCV_ERROR_ALIGNMENT:
    case OID_802_3_XMIT_ONE_COLLISION:
    case OID_802_3_XMIT_MORE_COLLISIONS:
        value = 0; /* full duplex: no collisions, and the MAC reports no alignment errors */
        break;
    default:
        return NDIS_STATUS_NOT_SUPPORTED;
    }
    return Fits(InformationBuffer, InformationBufferLength, &value, sizeof(value), BytesWritten, BytesNeeded);
}

/*
 * The receive filters from the packet filter and the multicast list (manual 13.4.22 RCTL,
 * 13.4.62 MTA): broadcasts with RCTL.BAM; the joined groups through the multicast table, each
 * address's bit at its destination bits 47:36 (RCTL.MO = 00: the high nibble of byte 4 and all
 * of byte 5; bits 11:5 pick the register, 4:0 the bit); every group with RCTL.MPE only for
 * NDIS_PACKET_TYPE_ALL_MULTICAST or _PROMISCUOUS, so a group nobody joined stays off the wire.
 */
void E1000ProgramFilter(PADAPTER a)
{
    ULONG table[MTA_REGISTERS];
    ULONG rctl, i;
    if (a->Registers == NULL || a->Halting) return;
    NdisZeroMemory(table, sizeof(table));
    if (a->PacketFilter & NDIS_PACKET_TYPE_MULTICAST) {
        for (i = 0; i < a->MulticastCount; i++) {
            ULONG hash = ((ULONG)(a->Multicast[i][4] >> 4) | ((ULONG)a->Multicast[i][5] << 4)) & 0xFFF;
            table[hash >> 5] |= 1u << (hash & 31);
        }
    }
    for (i = 0; i < MTA_REGISTERS; i++) E1000Write(a, E1000_MTA + i * 4, table[i]);
    rctl = E1000Read(a, E1000_RCTL) & ~(RCTL_BAM | RCTL_MPE | RCTL_UPE);
    if (a->PacketFilter & NDIS_PACKET_TYPE_BROADCAST) rctl |= RCTL_BAM;
    if (a->PacketFilter & NDIS_PACKET_TYPE_ALL_MULTICAST) rctl |= RCTL_MPE;
    if (a->PacketFilter & NDIS_PACKET_TYPE_PROMISCUOUS) rctl |= RCTL_UPE | RCTL_MPE;
    E1000Write(a, E1000_RCTL, rctl | RCTL_EN | RCTL_BSIZE_2048 | RCTL_SECRC);
}

NDIS_STATUS E1000SetInformation(NDIS_HANDLE MiniportAdapterContext, NDIS_OID Oid, PVOID InformationBuffer, ULONG InformationBufferLength,
                                PULONG BytesRead, PULONG BytesNeeded)
{
    PADAPTER a = (PADAPTER)MiniportAdapterContext;
    ULONG value;
    *BytesRead = 0;
    *BytesNeeded = 0;
    switch (Oid) {
    case OID_GEN_CURRENT_PACKET_FILTER:
        if (InformationBufferLength < 4) {
            *BytesNeeded = 4;
            return NDIS_STATUS_INVALID_LENGTH;
        }
        value = *(PULONG)InformationBuffer;
        *BytesRead = 4;
        if (value & ~(NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_MULTICAST | NDIS_PACKET_TYPE_ALL_MULTICAST | NDIS_PACKET_TYPE_BROADCAST |
                      NDIS_PACKET_TYPE_PROMISCUOUS))
            return NDIS_STATUS_NOT_SUPPORTED;
        a->PacketFilter = value;
        E1000ProgramFilter(a);
        return NDIS_STATUS_SUCCESS;
    case OID_GEN_CURRENT_LOOKAHEAD:
        if (InformationBufferLength < 4) {
            *BytesNeeded = 4;
            return NDIS_STATUS_INVALID_LENGTH;
        }
        value = *(PULONG)InformationBuffer;
        *BytesRead = 4;
        if (value > LOOKAHEAD) return NDIS_STATUS_INVALID_DATA;
        a->Lookahead = value;
        return NDIS_STATUS_SUCCESS;
    case OID_802_3_MULTICAST_LIST:
        if (InformationBufferLength % 6 != 0) {
            *BytesNeeded = (InformationBufferLength / 6 + 1) * 6;
            return NDIS_STATUS_INVALID_LENGTH;
        }
        if (InformationBufferLength / 6 > MULTICAST_LIST_SIZE) return NDIS_STATUS_MULTICAST_FULL;
        for (value = 0; value < InformationBufferLength; value += 6)
            if ((((PUCHAR)InformationBuffer)[value] & 1) == 0) return NDIS_STATUS_INVALID_DATA; /* not a group address */
        if (InformationBufferLength > 0) NdisMoveMemory(a->Multicast, InformationBuffer, InformationBufferLength);
        a->MulticastCount = InformationBufferLength / 6;
        *BytesRead = InformationBufferLength;
        E1000ProgramFilter(a);
        return NDIS_STATUS_SUCCESS;
    default:
        return NDIS_STATUS_NOT_SUPPORTED;
    }
}
