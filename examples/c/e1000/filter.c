/*
 * The receive filters: what the NIC takes off the wire follows the packet filter and the
 * multicast list NDIS set (OID_GEN_CURRENT_PACKET_FILTER, OID_802_3_MULTICAST_LIST; oid.c). The
 * 82540EM filters in hardware (manual 13.4.22 RCTL, 13.4.62 MTA, 13.4.63 RAL/RAH): broadcasts
 * with RCTL.BAM, the station address in RAL0/RAH0, the joined groups through the 4096-bit
 * multicast table, every group with RCTL.MPE, every unicast address with RCTL.UPE. The receiver
 * stays on from start to halt; while the packet filter is zero (from initialization until a
 * protocol sets it, and again after it unbinds) the NIC still takes frames to its station
 * address and the DPC indicates none of them (receive.c).
 */
#include "e1000.h"

/*
 * The multicast table index of a group address with RCTL.MO = 00: destination bits 47:36, the
 * high nibble of byte 4 and all of byte 5 (manual 13.4.62, Figure 13-2: an address
 * xx:xx:xx:xx:9x:BC sets bit 9 of row 94). Bits 11:5 pick the MTA register, bits 4:0 its bit.
 */
static ULONG MulticastHash(const UCHAR *Address)
{
    return ((ULONG)(Address[4] >> 4) | ((ULONG)Address[5] << 4)) & 0xFFF;
}

/* Programs RAL0/RAH0, the MTA and RCTL from Adapter->PacketFilter and the multicast list.
   Called with the lock held (or before the interrupt is connected, at initialization). */
void E1000ApplyReceiveFilter(PADAPTER Adapter)
{
    ULONG table[MTA_REGISTERS];
    ULONG filter = Adapter->PacketFilter, rctl, i;
    PUCHAR m = Adapter->Mac;
    /* The station address is valid while directed frames are wanted, and while the filter is zero
       (the NIC keeps receiving; nothing is indicated). */
    BOOLEAN station = filter == 0 || (filter & NDIS_PACKET_TYPE_DIRECTED) != 0;

    E1000Write(Adapter, E1000_RAL0, m[0] | (m[1] << 8) | (m[2] << 16) | ((ULONG)m[3] << 24));
    E1000Write(Adapter, E1000_RAH0, m[4] | (m[5] << 8) | (station ? RAH_AV : 0));

    NdisZeroMemory(table, sizeof(table));
    if (filter & NDIS_PACKET_TYPE_MULTICAST) {
        for (i = 0; i < Adapter->MulticastCount; i++) {
            ULONG hash = MulticastHash(Adapter->Multicast[i]);
            table[hash >> 5] |= 1u << (hash & 31);
        }
    }
    for (i = 0; i < MTA_REGISTERS; i++) E1000Write(Adapter, E1000_MTA + i * 4, table[i]);

    rctl = RCTL_EN | RCTL_BSIZE_2048 | RCTL_SECRC;
    if (filter & NDIS_PACKET_TYPE_BROADCAST) rctl |= RCTL_BAM;
    if (filter & (NDIS_PACKET_TYPE_ALL_MULTICAST | NDIS_PACKET_TYPE_PROMISCUOUS)) rctl |= RCTL_MPE;
    if (filter & NDIS_PACKET_TYPE_PROMISCUOUS) rctl |= RCTL_UPE;
    if (E1000Read(Adapter, E1000_RCTL) != rctl) E1000Write(Adapter, E1000_RCTL, rctl);
}

/*
 * Whether the packet filter excludes a frame the NIC took, judged by its destination: RCTL.MPE
 * passes every group address, and the broadcast address is one (its group bit is set), so with
 * NDIS_PACKET_TYPE_ALL_MULTICAST but not _BROADCAST broadcasts reach the ring and are dropped
 * here. Everything else the hardware filters already decide (a group that shares a listed one's
 * hash may pass; NDIS allows that of a hash filter). DPC, the frame in the receive buffer.
 */
BOOLEAN E1000FilterExcludes(PADAPTER Adapter, const UCHAR *Frame, ULONG Length)
{
    ULONG filter = Adapter->PacketFilter, i;
    if (Length < 6 || (filter & (NDIS_PACKET_TYPE_BROADCAST | NDIS_PACKET_TYPE_PROMISCUOUS)) != 0) return FALSE;
    for (i = 0; i < 6; i++)
        if (Frame[i] != 0xFF) return FALSE;
    return TRUE;
}
