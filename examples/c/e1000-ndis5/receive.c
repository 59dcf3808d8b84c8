/*
 * Receive: MiniportHandleInterrupt walks the descriptors the NIC has written back (DD set), sets
 * each frame's length on its packet's buffer (NdisAdjustBufferLength, then
 * NdisRecalculatePacketCounts), and indicates them in one array with NdisMIndicateReceivePacket.
 * While enough descriptors remain with the NIC, packets go up with NDIS_STATUS_SUCCESS and the
 * protocol may keep them (MiniportReturnPacket brings them back); when few remain, with
 * NDIS_STATUS_RESOURCES, so the protocol copies them and they are reusable at once. Nothing is
 * indicated while the packet filter is 0.
 */
#include "e1000-ndis5.h"

/* Indicates every frame the NIC has written back. DPC (DISPATCH_LEVEL), lock not held. */
void E1000ReceiveFrames(PADAPTER a)
{
    ULONG n, batch = 0, i;
    for (n = 0; n < a->RingCount; n++) {
        ULONG index = a->RxNext;
        PE1000_RX_DESC d = &a->RxRing[index];
        UCHAR status = d->Status;
        USHORT length;
        UCHAR errors;
        PNDIS_PACKET packet;
        ULONG withNic;
        if ((status & RXD_STA_DD) == 0) break;
        length = d->Length;
        errors = d->Errors;
        a->RxNext = (index + 1) % a->RingCount;
        packet = a->RxPackets[index];
        /* Frames spanning descriptors cannot happen with 2 KiB buffers and a 1514-byte MTU: drop
           them, errored frames, and everything while the filter is 0 or the adapter halts. */
        if (packet == NULL || errors != 0 || (status & RXD_STA_EOP) == 0 || a->Halting || a->PacketFilter == 0) {
            if (errors != 0 || (status & RXD_STA_EOP) == 0) a->RxErrors++;
            d->Status = 0;
            a->RxReady[index] = TRUE;
            continue;
        }
        NdisAdjustBufferLength(a->RxBuffers[index], length);
        NdisRecalculatePacketCounts(packet);
        /* Descriptors the NIC still has to receive into: low, and the protocol must copy. */
        withNic = a->RingCount - 1 - a->RxHeld - batch;
        NDIS_SET_PACKET_STATUS(packet, withNic < RX_LOW_WATER ? NDIS_STATUS_RESOURCES : NDIS_STATUS_SUCCESS);
        NDIS_SET_PACKET_HEADER_SIZE(packet, ETHERNET_HEADER);
        a->RxBatch[batch++] = packet;
    }
    if (batch > 0) {
        a->RxOk += batch;
        NdisMIndicateReceivePacket(a->Handle, a->RxBatch, batch);
        /* NDIS_GET_PACKET_STATUS after the call: PENDING means the protocol kept the packet. */
        for (i = 0; i < batch; i++) {
            PNDIS_PACKET p = a->RxBatch[i];
            ULONG index = RX_INDEX(p);
            if (NDIS_GET_PACKET_STATUS(p) == NDIS_STATUS_PENDING) {
                a->RxHeld++;
            } else {
                a->RxRing[index].Status = 0;
                a->RxReady[index] = TRUE;
            }
        }
    }
    E1000PostReady(a);
}

/* MiniportReturnPacket (DISPATCH_LEVEL): the protocol is done with a packet; its buffer goes back to the NIC. */
void E1000ReturnPacket(NDIS_HANDLE MiniportAdapterContext, PNDIS_PACKET Packet)
{
    PADAPTER a = (PADAPTER)MiniportAdapterContext;
    ULONG index = RX_INDEX(Packet);
    NdisDprAcquireSpinLock(&a->Lock);
    if (index < a->RingCount && a->RxPackets[index] == Packet) {
        a->RxRing[index].Status = 0;
        a->RxReady[index] = TRUE;
        a->RxHeld--;
        E1000PostReady(a);
    }
    NdisDprReleaseSpinLock(&a->Lock);
}

/*
 * Hands finished descriptors back in ring order: the NIC owns head..tail-1, so the tail moves
 * only over a run of ready descriptors, and one descriptor always stays with the driver (head ==
 * tail means an empty ring, manual 3.2.6).
 */
void E1000PostReady(PADAPTER a)
{
    ULONG tail = a->RxTail, start = tail;
    while (a->RxReady[tail] && (tail + 1) % a->RingCount != a->RxNext) {
        a->RxReady[tail] = FALSE;
        tail = (tail + 1) % a->RingCount;
    }
    if (tail != start) {
        a->RxTail = tail;
        if (!a->Halting) E1000Write(a, E1000_RDT, tail);
    }
}
