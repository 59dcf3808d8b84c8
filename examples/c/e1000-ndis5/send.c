/*
 * Transmit for a deserialized NDIS 5.1 miniport: MiniportSendPackets marks every packet pending
 * and queues it; the queue drains onto the ring while descriptors and map registers last. Each
 * NDIS_BUFFER of a packet is mapped on its own map register with NdisMStartBufferPhysicalMapping
 * (the HAL bounces a buffer beyond the NIC's 32 address lines); a packet of many small buffers,
 * or a short one, is copied into a staging slot and that slot is mapped instead. When the NIC
 * has written a packet's last descriptor back, every mapping is completed
 * (NdisMCompleteBufferPhysicalMapping) and the packet goes back with NdisMSendComplete, in order
 * ("Multipacket Sends from Deserialized Miniport Drivers").
 */
#include "e1000-ndis5.h"

static void Enqueue(PNDIS_PACKET *Head, PNDIS_PACKET *Tail, PNDIS_PACKET Packet)
{
    PACKET_NEXT(Packet) = NULL;
    if (*Head == NULL) *Head = Packet;
    else PACKET_NEXT(*Tail) = Packet;
    *Tail = Packet;
}

void E1000SendPackets(NDIS_HANDLE MiniportAdapterContext, PPNDIS_PACKET PacketArray, UINT NumberOfPackets)
{
    PADAPTER a = (PADAPTER)MiniportAdapterContext;
    PNDIS_PACKET refused = NULL, refusedTail = NULL, failed;
    BOOLEAN up;
    UINT i;
    NdisAcquireSpinLock(&a->Lock);
    up = a->LinkUp && !a->Halting;
    for (i = 0; i < NumberOfPackets; i++) {
        PNDIS_PACKET p = PacketArray[i];
        NDIS_SET_PACKET_STATUS(p, NDIS_STATUS_PENDING);
        if (up) Enqueue(&a->TxQueueHead, &a->TxQueueTail, p);
        else Enqueue(&refused, &refusedTail, p);
    }
    E1000DrainQueue(a);
    failed = a->TxFailed;
    a->TxFailed = a->TxFailedTail = NULL;
    NdisReleaseSpinLock(&a->Lock);
    E1000CompleteSends(a, refused, a->LinkUp ? NDIS_STATUS_FAILURE : NDIS_STATUS_MEDIA_DISCONNECT);
    E1000CompleteSends(a, failed, NDIS_STATUS_RESOURCES);
}

/* Copies a packet's buffers into staging slot `Slot`. */
static void CopyIntoSlot(PADAPTER a, PNDIS_PACKET Packet, ULONG Slot)
{
    PUCHAR at = a->Staging[Slot].Va;
    PNDIS_BUFFER b;
    NdisQueryPacket(Packet, NULL, NULL, &b, NULL);
    for (; b != NULL; NdisGetNextBuffer(b, &b)) {
        PVOID va;
        UINT length;
        NdisQueryBufferSafe(b, &va, &length, NormalPagePriority);
        if (va == NULL || length == 0) continue;
        NdisMoveMemory(at, va, length);
        at += length;
    }
}

/* One descriptor per mapped range; EOP and RS on the last (manual 3.3.3). */
static void WriteDescriptors(PADAPTER a, PNDIS_PACKET Packet, const NDIS_PHYSICAL_ADDRESS_UNIT *Units, UINT Count, const TX_MAPPING *Mappings,
                             ULONG MappingCount, LONG Slot)
{
    ULONG index = a->TxNext, last = index, i;
    PTX_PACKET record;
    for (i = 0; i < Count; i++) {
        PE1000_TX_DESC d = &a->TxRing[index];
        d->BufferAddress = Units[i].PhysicalAddress;
        d->Length = (USHORT)Units[i].Length;
        d->Cso = 0;
        d->Command = TXD_CMD_IFCS | (i == Count - 1 ? TXD_CMD_EOP | TXD_CMD_RS : 0);
        d->Status = 0;
        d->Css = 0;
        d->Special = 0;
        last = index;
        index = (index + 1) % a->RingCount;
    }
    record = &a->TxPackets[last];
    record->Packet = Packet;
    for (i = 0; i < MappingCount; i++) record->Mappings[i] = Mappings[i];
    record->MappingCount = MappingCount;
    record->Slot = Slot;
    record->Descriptors = Count;
    a->TxUsed[last] = TRUE;
    a->TxNext = index;
    a->TxFree -= Count;
}

/* Maps one packet and writes its descriptors; FALSE when it must wait for resources. */
static BOOLEAN PlacePacket(PADAPTER a, PNDIS_PACKET Packet)
{
    NDIS_PHYSICAL_ADDRESS_UNIT units[MAX_DIRECT_BUFFERS * MAX_UNITS];
    TX_MAPPING mappings[MAX_DIRECT_BUFFERS];
    UINT bufferCount, total, unitCount = 0, n;
    ULONG mappingCount = 0, i;
    LONG slot = -1;
    PNDIS_BUFFER b;
    BOOLEAN stage;
    NdisQueryPacket(Packet, NULL, &bufferCount, &b, &total);
    /* Many small buffers, or a short frame: one copy is cheaper than a mapping per buffer. */
    stage = bufferCount > MAX_DIRECT_BUFFERS || total < COPY_BELOW;
    /* Keep one descriptor unused: head == tail means an empty ring. A buffer of one frame spans at most two pages. */
    if ((LONG)a->TxFree - (LONG)(stage ? 2 : bufferCount * 2) < 1) return FALSE;
    if (stage) {
        if (a->FreeSlotCount == 0) {
            if (a->StagingCount == 0) {
                /* No staging area at all: the packet can never be sent (S11: NDIS_STATUS_RESOURCES). */
                a->TxDropped++;
                Enqueue(&a->TxFailed, &a->TxFailedTail, Packet);
                return TRUE;
            }
            return FALSE;
        }
        if (total > STAGING_SLOT_BYTES) total = STAGING_SLOT_BYTES;
        slot = (LONG)a->FreeSlots[--a->FreeSlotCount];
        CopyIntoSlot(a, Packet, (ULONG)slot);
        NdisAdjustBufferLength(a->Staging[slot].Buffer, total);
        if (!E1000MapBuffer(a, a->Staging[slot].Buffer, &mappings[0], units, &n)) {
            a->FreeSlots[a->FreeSlotCount++] = (ULONG)slot;
            return FALSE;
        }
        mappingCount = 1;
        unitCount = n;
    } else {
        if (a->FreeRegisterCount < bufferCount) return FALSE;
        for (; b != NULL; NdisGetNextBuffer(b, &b)) {
            if (NdisBufferLength(b) == 0) continue;
            if (!E1000MapBuffer(a, b, &mappings[mappingCount], units + unitCount, &n)) {
                for (i = 0; i < mappingCount; i++) E1000CompleteMapping(a, &mappings[i]);
                return FALSE;
            }
            mappingCount++;
            unitCount += n;
        }
    }
    WriteDescriptors(a, Packet, units, unitCount, mappings, mappingCount, slot);
    return TRUE;
}

/* Puts queued packets on the ring while descriptors and map registers last; one doorbell. Lock held. */
void E1000DrainQueue(PADAPTER a)
{
    ULONG start = a->TxNext;
    while (a->TxQueueHead != NULL) {
        PNDIS_PACKET p = a->TxQueueHead;
        PNDIS_PACKET next = PACKET_NEXT(p);
        if (!PlacePacket(a, p)) break;
        a->TxQueueHead = next;
        if (next == NULL) a->TxQueueTail = NULL;
    }
    if (a->TxNext != start) E1000Write(a, E1000_TDT, a->TxNext);
}

/* The NIC is done with a packet's buffers: its mappings and staging slot go back. */
static void FinishRecord(PADAPTER a, PTX_PACKET Record)
{
    ULONG i;
    for (i = 0; i < Record->MappingCount; i++) E1000CompleteMapping(a, &Record->Mappings[i]);
    if (Record->Slot >= 0) a->FreeSlots[a->FreeSlotCount++] = (ULONG)Record->Slot;
}

/* Reaps finished packets (DD on their last descriptor), in order, as a chain for NdisMSendComplete. Lock held. */
PNDIS_PACKET E1000ReapTransmits(PADAPTER a)
{
    PNDIS_PACKET done = NULL, tail = NULL;
    while (a->TxFree < a->RingCount) {
        ULONG last = a->TxClean, descriptors = 1;
        PTX_PACKET record;
        while (!a->TxUsed[last] && descriptors < a->RingCount) {
            last = (last + 1) % a->RingCount;
            descriptors++;
        }
        if (!a->TxUsed[last] || (a->TxRing[last].Status & TXD_STA_DD) == 0) break;
        record = &a->TxPackets[last];
        a->TxUsed[last] = FALSE;
        FinishRecord(a, record);
        a->TxClean = (last + 1) % a->RingCount;
        a->TxFree += descriptors;
        a->TxOk++;
        Enqueue(&done, &tail, record->Packet);
    }
    return done;
}

/* Every packet on the ring or queued, taken back with its resources (reset, halt). Lock held. */
PNDIS_PACKET E1000AbortTransmits(PADAPTER a)
{
    PNDIS_PACKET out = NULL, tail = NULL, p;
    ULONG k, i;
    for (k = 0, i = a->TxClean; k < a->RingCount; k++, i = (i + 1) % a->RingCount) {
        if (!a->TxUsed[i]) continue;
        a->TxUsed[i] = FALSE;
        FinishRecord(a, &a->TxPackets[i]);
        a->TxDropped++;
        Enqueue(&out, &tail, a->TxPackets[i].Packet);
    }
    for (p = a->TxQueueHead; p != NULL;) {
        PNDIS_PACKET next = PACKET_NEXT(p);
        Enqueue(&out, &tail, p);
        p = next;
    }
    a->TxQueueHead = a->TxQueueTail = NULL;
    a->TxNext = a->TxClean = 0;
    a->TxFree = a->RingCount;
    return out;
}

/* Completes a chain of packets to NDIS (lock not held). */
void E1000CompleteSends(PADAPTER a, PNDIS_PACKET Chain, NDIS_STATUS Status)
{
    while (Chain != NULL) {
        PNDIS_PACKET next = PACKET_NEXT(Chain);
        NdisMSendComplete(a->Handle, Chain, Status);
        Chain = next;
    }
}

/*
 * MiniportCancelSendPackets: packets still queued with this cancel ID go back with
 * NDIS_STATUS_REQUEST_ABORTED; those on the ring are the NIC's and complete when it is done.
 */
void E1000CancelSendPackets(NDIS_HANDLE MiniportAdapterContext, PVOID CancelId)
{
    PADAPTER a = (PADAPTER)MiniportAdapterContext;
    PNDIS_PACKET keep = NULL, keepTail = NULL, cancelled = NULL, cancelledTail = NULL, p;
    NdisAcquireSpinLock(&a->Lock);
    for (p = a->TxQueueHead; p != NULL;) {
        PNDIS_PACKET next = PACKET_NEXT(p);
        if (NDIS_GET_PACKET_CANCEL_ID(p) == CancelId) Enqueue(&cancelled, &cancelledTail, p);
        else Enqueue(&keep, &keepTail, p);
        p = next;
    }
    a->TxQueueHead = keep;
    a->TxQueueTail = keepTail;
    NdisReleaseSpinLock(&a->Lock);
    E1000CompleteSends(a, cancelled, NDIS_STATUS_REQUEST_ABORTED);
}
