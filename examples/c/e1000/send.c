/*
 * Transmit: MiniportSendNetBufferLists queues the NBLs; each NET_BUFFER is mapped (for the e1000,
 * NdisMAllocateNetBufferSGList; see memory.c), and E1000ProcessSGList writes one descriptor per
 * scatter/gather element. The device is told once per batch (one TDT write). Completions are
 * reaped in the DPC.
 */
#include "e1000.h"

static void Enqueue(PADAPTER Adapter, PNET_BUFFER_LIST Nbl)
{
    NET_BUFFER_LIST_NEXT_NBL(Nbl) = NULL;
    if (Adapter->TxQueueTail == NULL) Adapter->TxQueueHead = Nbl;
    else NET_BUFFER_LIST_NEXT_NBL(Adapter->TxQueueTail) = Nbl;
    Adapter->TxQueueTail = Nbl;
}

static PNET_BUFFER_LIST Dequeue(PADAPTER Adapter)
{
    PNET_BUFFER_LIST nbl = Adapter->TxQueueHead;
    Adapter->TxQueueHead = NET_BUFFER_LIST_NEXT_NBL(nbl);
    if (Adapter->TxQueueHead == NULL) Adapter->TxQueueTail = NULL;
    NET_BUFFER_LIST_NEXT_NBL(nbl) = NULL;
    return nbl;
}

static void Push(PNET_BUFFER_LIST *Chain, PNET_BUFFER_LIST Nbl)
{
    NET_BUFFER_LIST_NEXT_NBL(Nbl) = *Chain;
    *Chain = Nbl;
}

/* One NET_BUFFER of Nbl is finished; TRUE when it was the last. */
static BOOLEAN FinishNb(PNET_BUFFER_LIST Nbl)
{
    if (NBL_NBS_LEFT(Nbl) > 0) NBL_NBS_LEFT(Nbl)--;
    return NBL_NBS_LEFT(Nbl) == 0;
}

void E1000SendNetBufferLists(NDIS_HANDLE MiniportAdapterContext, PNET_BUFFER_LIST NetBufferList, NDIS_PORT_NUMBER PortNumber, ULONG SendFlags)
{
    PADAPTER adapter = (PADAPTER)MiniportAdapterContext;
    BOOLEAN atDispatch = (SendFlags & NDIS_SEND_FLAGS_DISPATCH_LEVEL) != 0;
    PNET_BUFFER_LIST nbl, next, failed = NULL, completions;
    UNREFERENCED_PARAMETER(PortNumber);

    if (atDispatch) NdisDprAcquireSpinLock(&adapter->Lock);
    else NdisAcquireSpinLock(&adapter->Lock);
    for (nbl = NetBufferList; nbl != NULL; nbl = next) {
        PNET_BUFFER nb;
        ULONG count = 0;
        next = NET_BUFFER_LIST_NEXT_NBL(nbl);
        if (adapter->Paused || adapter->Pausing || adapter->Halting || !adapter->LinkUp) {
            NET_BUFFER_LIST_STATUS(nbl) = adapter->LinkUp ? NDIS_STATUS_PAUSED : NDIS_STATUS_MEDIA_DISCONNECT;
            Push(&failed, nbl);
            continue;
        }
        for (nb = NET_BUFFER_LIST_FIRST_NB(nbl); nb != NULL; nb = NET_BUFFER_NEXT_NB(nb)) count++;
        NBL_NBS_LEFT(nbl) = count;
        NBL_NEXT_NB(nbl) = NET_BUFFER_LIST_FIRST_NB(nbl);
        NET_BUFFER_LIST_STATUS(nbl) = NDIS_STATUS_SUCCESS;
        Enqueue(adapter, nbl);
    }
    completions = E1000DrainQueue(adapter);
    if (atDispatch) NdisDprReleaseSpinLock(&adapter->Lock);
    else NdisReleaseSpinLock(&adapter->Lock);
    E1000CompleteChain(adapter, failed, atDispatch);
    E1000CompleteChain(adapter, completions, atDispatch);
}

/*
 * The most descriptors a NET_BUFFER can need: one per page each MDL of its data touches, from
 * the start of CurrentMdl (the list NdisMAllocateNetBufferSGList builds starts there). A stack's
 * NET_BUFFER spreads its data over several MDLs in different memory (header blocks, payload), so
 * the element count follows the chain, not DataLength: two 20-byte headers are two elements.
 */
static ULONG DescriptorsFor(PNET_BUFFER Nb)
{
    PMDL mdl = NET_BUFFER_CURRENT_MDL(Nb);
    ULONG skip = NET_BUFFER_CURRENT_MDL_OFFSET(Nb), left = NET_BUFFER_DATA_LENGTH(Nb), pages = 0, links = 0;
    for (; mdl != NULL && left > 0 && links < 64; mdl = mdl->Next, skip = 0, links++) {
        ULONG count = MmGetMdlByteCount(mdl), take;
        if (count <= skip) continue;
        take = count - skip < left ? count - skip : left;
        pages += ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(mdl), skip + take);
        left -= take;
    }
    return pages == 0 ? 1 : pages;
}

/*
 * Maps queued NET_BUFFERs onto the ring while descriptors last and tells the device once. Returns
 * the NBLs that finished here (every NET_BUFFER failed to map). Called with the lock held.
 *
 * E1000ProcessSGList may run before or after the mapping call returns, so descriptors are set
 * aside for the worst case first (DescriptorsFor) and the callback gives back what it did not use.
 */
PNET_BUFFER_LIST E1000DrainQueue(PADAPTER Adapter)
{
    ULONG startTail = Adapter->TxNext;
    PNET_BUFFER_LIST done = NULL;
    while (Adapter->TxQueueHead != NULL) {
        PNET_BUFFER_LIST nbl = Adapter->TxQueueHead;
        PNET_BUFFER nb = NBL_NEXT_NB(nbl);
        while (nb != NULL) {
            ULONG reserve = DescriptorsFor(nb);
            NDIS_STATUS status;
            /* Keep one descriptor unused: head == tail means an empty ring, never a full one. */
            if (Adapter->TxFree < reserve + 1) break;
            Adapter->TxFree -= reserve;
            NB_ADAPTER(nb) = Adapter;
            NB_NBL(nb) = nbl;
            NB_RESERVED(nb) = reserve;
            Adapter->MappingInline = nb;
            status = Adapter->Memory->MapTransmit(Adapter, nb);
            Adapter->MappingInline = NULL;
            if (status != NDIS_STATUS_SUCCESS) {
                /* No map registers or memory for this packet: it fails, the others go on (S11). */
                Adapter->TxFree += reserve;
                NET_BUFFER_LIST_STATUS(nbl) = status;
                Adapter->Stats->TxDropped++;
                FinishNb(nbl);
            }
            nb = NET_BUFFER_NEXT_NB(nb);
            NBL_NEXT_NB(nbl) = nb;
        }
        if (nb != NULL) break; /* ring full: the rest waits for completions */
        Dequeue(Adapter);
        /* Every NET_BUFFER failed to map (or was dropped while being mapped): done now. */
        if (NBL_NBS_LEFT(nbl) == 0) Push(&done, nbl);
    }
    if (Adapter->TxNext != startTail) E1000Write(Adapter, E1000_TDT, Adapter->TxNext);
    return done;
}

/*
 * MiniportProcessSGList (DISPATCH_LEVEL): one descriptor per element of the packet's data (the
 * list's first NB_SKIP bytes are not the packet's), EOP and RS on the last.
 */
void E1000ProcessSGList(PDEVICE_OBJECT pDO, PVOID Reserved, PSCATTER_GATHER_LIST pSGL, PVOID Context)
{
    PNET_BUFFER nb = (PNET_BUFFER)Context;
    PADAPTER adapter = NB_ADAPTER(nb);
    PNET_BUFFER_LIST nbl = NB_NBL(nb);
    ULONG first = 0, offset = (ULONG)NB_SKIP(nb), n, i, index;
    UNREFERENCED_PARAMETER(pDO);
    UNREFERENCED_PARAMETER(Reserved);

    while (first < pSGL->NumberOfElements && offset >= pSGL->Elements[first].Length) offset -= pSGL->Elements[first++].Length;
    n = pSGL->NumberOfElements - first;
    adapter->TxFree += (ULONG)NB_RESERVED(nb);
    if (n == 0 || n + 1 > adapter->TxFree) {
        /* Cannot happen with the reservation above; if it does, drop the packet rather than overrun. */
        adapter->Memory->UnmapTransmit(adapter, pSGL, nb);
        NET_BUFFER_LIST_STATUS(nbl) = NDIS_STATUS_RESOURCES;
        adapter->Stats->TxDropped++;
        /* Mapped later than its call: its NBL has left the queue, and nobody else completes it. */
        if (FinishNb(nbl) && adapter->MappingInline != nb) E1000CompleteChain(adapter, nbl, TRUE);
        return;
    }
    index = adapter->TxNext;
    for (i = 0; i < n; i++) {
        PSCATTER_GATHER_ELEMENT e = &pSGL->Elements[first + i];
        PE1000_TX_DESC d = &adapter->TxRing[index];
        BOOLEAN last = i == n - 1;
        d->BufferAddress.QuadPart = e->Address.QuadPart + (i == 0 ? offset : 0);
        d->Length = (USHORT)(e->Length - (i == 0 ? offset : 0));
        d->Cso = 0;
        d->Command = TXD_CMD_IFCS | (last ? TXD_CMD_EOP | TXD_CMD_RS : 0);
        d->Status = 0;
        d->Css = 0;
        d->Special = 0;
        adapter->TxTable[index].Last = last;
        if (last) {
            adapter->TxTable[index].Nbl = nbl;
            adapter->TxTable[index].Nb = nb;
            adapter->TxTable[index].Sgl = pSGL;
            adapter->TxTable[index].Length = NET_BUFFER_DATA_LENGTH(nb);
        }
        index = (index + 1) % adapter->TxCount;
    }
    adapter->TxFree -= n;
    adapter->TxNext = index;
    /* Mapped after the mapping call returned: nobody else will ring the doorbell. */
    if (adapter->MappingInline != nb) E1000Write(adapter, E1000_TDT, adapter->TxNext);
}

/*
 * Reaps finished packets (DD written back on their last descriptor), frees their lists, and
 * returns the NBLs whose every NET_BUFFER is done. Called in the DPC with the lock held.
 */
PNET_BUFFER_LIST E1000ReapTransmits(PADAPTER Adapter)
{
    PNET_BUFFER_LIST done = NULL;
    while (Adapter->TxFree < Adapter->TxCount) {
        /* The end of the oldest packet: the next entry flagged as last. */
        ULONG last = Adapter->TxClean, descriptors = 1;
        PTX_ENTRY entry;
        while (!Adapter->TxTable[last].Last && descriptors < Adapter->TxCount) {
            last = (last + 1) % Adapter->TxCount;
            descriptors++;
        }
        if ((((volatile E1000_TX_DESC *)Adapter->TxRing)[last].Status & TXD_STA_DD) == 0) break;
        entry = &Adapter->TxTable[last];
        Adapter->TxClean = (last + 1) % Adapter->TxCount;
        Adapter->TxFree += descriptors;
        entry->Last = FALSE;
        if (entry->Nbl == NULL) continue;
        if (entry->Sgl != NULL) Adapter->Memory->UnmapTransmit(Adapter, entry->Sgl, entry->Nb);
        Adapter->Stats->TxOk++;
        if (FinishNb(entry->Nbl)) Push(&done, entry->Nbl);
        entry->Nbl = NULL;
        entry->Nb = NULL;
        entry->Sgl = NULL;
    }
    return done;
}

void E1000CompleteChain(PADAPTER Adapter, PNET_BUFFER_LIST Chain, BOOLEAN AtDispatch)
{
    if (Chain == NULL) return;
    NdisMSendNetBufferListsComplete(Adapter->Handle, Chain, AtDispatch ? NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL : 0);
}

/*
 * Fails every queued send (pause, halt): the protocol gets its NBLs back. A NET_BUFFER list some
 * of whose NET_BUFFERs are already on the ring is completed when the last of those is reaped.
 */
PNET_BUFFER_LIST E1000FlushQueue(PADAPTER Adapter, NDIS_STATUS Status)
{
    PNET_BUFFER_LIST done = NULL;
    while (Adapter->TxQueueHead != NULL) {
        PNET_BUFFER_LIST nbl = Dequeue(Adapter);
        PNET_BUFFER nb;
        for (nb = NBL_NEXT_NB(nbl); nb != NULL; nb = NET_BUFFER_NEXT_NB(nb)) FinishNb(nbl);
        NBL_NEXT_NB(nbl) = NULL;
        NET_BUFFER_LIST_STATUS(nbl) = Status;
        if (NBL_NBS_LEFT(nbl) == 0) Push(&done, nbl);
    }
    return done;
}
