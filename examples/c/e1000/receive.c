/*
 * Receive: the DPC walks the descriptors the device has written back (DD set), points each
 * one's pre-built NBL at the frame and indicates them in one chain. The protocol returns the
 * NBLs through MiniportReturnNetBufferLists, and the buffers go back to the device (one RDT write
 * per batch).
 */
#include "e1000.h"

/* Indicates up to Budget received frames; returns how many. DPC, lock not held. */
ULONG E1000ReceiveFrames(PADAPTER Adapter, ULONG Budget)
{
    PNET_BUFFER_LIST head = NULL, tail = NULL;
    ULONG count = 0;
    BOOLEAN recycled = FALSE;
    while (count < Budget) {
        ULONG i = Adapter->RxNext;
        volatile E1000_RX_DESC *d = &Adapter->RxRing[i];
        UCHAR status = d->Status;
        PNET_BUFFER_LIST nbl = Adapter->RxTable[i].Nbl;
        PNET_BUFFER nb;
        BOOLEAN drop;
        if ((status & RXD_STA_DD) == 0) break;
        Adapter->RxNext = (i + 1) % Adapter->RxCount;
        /* Frames that span descriptors cannot happen with 2 KiB buffers and a 1514-byte MTU: drop
           them (and errored frames, and every frame while the packet filter is zero: before
           TCP/IP binds and after it unbinds a miniport indicates nothing, WDK
           OID_GEN_CURRENT_PACKET_FILTER, and frames the NIC's filters take that the packet filter
           excludes, filter.c) and give the buffer straight back. */
        drop = nbl == NULL || d->Errors != 0 || (status & RXD_STA_EOP) == 0 || Adapter->Halting || Adapter->Paused || Adapter->PacketFilter == 0;
        if (drop || E1000FilterExcludes(Adapter, Adapter->RxTable[i].Buffer, d->Length)) {
            /* A frame the packet filter excludes is no receive error (OID_GEN_RCV_ERROR). */
            if (drop) Adapter->Stats->RxErrors++;
            d->Status = 0;
            Adapter->RxTail = i;
            recycled = TRUE;
            continue;
        }
        nb = NET_BUFFER_LIST_FIRST_NB(nbl);
        NET_BUFFER_DATA_LENGTH(nb) = d->Length;
        NET_BUFFER_DATA_OFFSET(nb) = 0;
        NET_BUFFER_CURRENT_MDL_OFFSET(nb) = 0;
        NET_BUFFER_LIST_STATUS(nbl) = NDIS_STATUS_SUCCESS;
        NET_BUFFER_LIST_NEXT_NBL(nbl) = NULL;
        if (tail == NULL) head = nbl;
        else NET_BUFFER_LIST_NEXT_NBL(tail) = nbl;
        tail = nbl;
        count++;
    }
    if (recycled) E1000Write(Adapter, E1000_RDT, Adapter->RxTail);
    if (head != NULL) {
        Adapter->RxIndicated += count;
        Adapter->Stats->RxOk += count;
        NdisMIndicateReceiveNetBufferLists(Adapter->Handle, head, NDIS_DEFAULT_PORT_NUMBER, count, NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL);
    }
    return count;
}

/* MiniportReturnNetBufferLists: the protocol is done with these buffers; post them again. */
void E1000ReturnNetBufferLists(NDIS_HANDLE MiniportAdapterContext, PNET_BUFFER_LIST NetBufferLists, ULONG ReturnFlags)
{
    PADAPTER adapter = (PADAPTER)MiniportAdapterContext;
    BOOLEAN atDispatch = (ReturnFlags & NDIS_RETURN_FLAGS_DISPATCH_LEVEL) != 0;
    BOOLEAN pauseDone;
    PNET_BUFFER_LIST nbl, next;
    if (atDispatch) NdisDprAcquireSpinLock(&adapter->Lock);
    else NdisAcquireSpinLock(&adapter->Lock);
    for (nbl = NetBufferLists; nbl != NULL; nbl = next) {
        ULONG i = (ULONG)RX_INDEX(nbl);
        next = NET_BUFFER_LIST_NEXT_NBL(nbl);
        NET_BUFFER_LIST_NEXT_NBL(nbl) = NULL;
        adapter->RxRing[i].Status = 0;
        adapter->RxIndicated--;
        adapter->RxTail = i;
    }
    /* The descriptor just returned is the newest free one: everything before it is the device's. */
    if (!adapter->Halting) E1000Write(adapter, E1000_RDT, adapter->RxTail);
    pauseDone = adapter->Pausing && adapter->RxIndicated == 0 && adapter->TxFree == adapter->TxCount;
    if (atDispatch) NdisDprReleaseSpinLock(&adapter->Lock);
    else NdisReleaseSpinLock(&adapter->Lock);
    if (pauseDone) E1000CompletePause(adapter);
}

/* The last outstanding packet came back while pausing: finish the pause. */
void E1000CompletePause(PADAPTER Adapter)
{
    if (!Adapter->Pausing) return;
    Adapter->Pausing = FALSE;
    Adapter->Paused = TRUE;
    NdisMPauseComplete(Adapter->Handle);
}

/* SharedMemAllocateCompleteHandler: this driver allocates all shared memory at initialization,
   so an asynchronous completion is memory nobody asked for: give it back. */
void E1000SharedMemoryAllocated(NDIS_HANDLE MiniportAdapterContext, PVOID VirtualAddress, PNDIS_PHYSICAL_ADDRESS PhysicalAddress,
                                ULONG Length, PVOID Context)
{
    PADAPTER adapter = (PADAPTER)MiniportAdapterContext;
    UNREFERENCED_PARAMETER(Context);
    if (VirtualAddress != NULL) NdisMFreeSharedMemory(adapter->Handle, Length, TRUE, VirtualAddress, *PhysicalAddress);
}
