/*
 * MiniportHaltEx: stop the device first (no DMA may land in memory about to be freed), then give
 * everything back in the reverse order of initialization. E1000Release is also the unwind of a
 * failed MiniportInitializeEx, so every step copes with any prefix of the set-up.
 */
#include "e1000.h"

void E1000HaltEx(NDIS_HANDLE MiniportAdapterContext, NDIS_HALT_ACTION HaltAction)
{
    PADAPTER adapter = (PADAPTER)MiniportAdapterContext;
    UNREFERENCED_PARAMETER(HaltAction);
    adapter->Halting = TRUE;
    E1000StopDevice(adapter);
    E1000CompleteChain(adapter, E1000FlushQueue(adapter, NDIS_STATUS_SEND_ABORTED), FALSE);
    E1000Release(adapter);
}

/* Masks interrupts, turns the receiver and transmitter off and resets the NIC: after this it
   reads no descriptor and writes no buffer (manual chapter 13: RCTL.EN, TCTL.EN, CTRL.RST). */
void E1000StopDevice(PADAPTER Adapter)
{
    if (Adapter->Registers == NULL) return;
    E1000Write(Adapter, E1000_IMC, 0xFFFFFFFF);
    E1000Write(Adapter, E1000_RCTL, 0);
    E1000Write(Adapter, E1000_TCTL, 0);
    E1000Write(Adapter, E1000_CTRL, E1000Read(Adapter, E1000_CTRL) | CTRL_RST);
    (void)E1000Read(Adapter, E1000_ICR);
}

/* The receive NBLs and MDLs, then the shared memory they describe. */
static void ReleaseReceiveBuffers(PADAPTER Adapter)
{
    const E1000_MEMORY *mem = Adapter->Memory;
    ULONG i;
    if (Adapter->RxTable != NULL) {
        for (i = 0; i < Adapter->RxCount; i++) {
            PRX_ENTRY entry = &Adapter->RxTable[i];
            if (entry->Nbl != NULL) NdisFreeNetBufferList(entry->Nbl);
            if (entry->Mdl != NULL) NdisFreeMdl(entry->Mdl);
            entry->Nbl = NULL;
            entry->Mdl = NULL;
        }
    }
    while (Adapter->RxBlockCount > 0) {
        RX_BLOCK *block = &Adapter->RxBlocks[--Adapter->RxBlockCount];
        mem->FreeShared(Adapter, block->Length, TRUE, block->Va, block->Logical);
    }
}

/* The tracking tables, then the descriptor rings. */
static void ReleaseRings(PADAPTER Adapter)
{
    const E1000_MEMORY *mem = Adapter->Memory;
    if (Adapter->RxTable != NULL) mem->FreeTable(Adapter, Adapter->RxTable, Adapter->RxCount * sizeof(RX_ENTRY));
    if (Adapter->TxTable != NULL) mem->FreeTable(Adapter, Adapter->TxTable, Adapter->TxCount * sizeof(TX_ENTRY));
    Adapter->RxTable = NULL;
    Adapter->TxTable = NULL;
    if (Adapter->RxRing != NULL) mem->FreeShared(Adapter, Adapter->RxCount * sizeof(E1000_RX_DESC), FALSE, Adapter->RxRing, Adapter->RxRingLogical);
    if (Adapter->TxRing != NULL) mem->FreeShared(Adapter, Adapter->TxCount * sizeof(E1000_TX_DESC), FALSE, Adapter->TxRing, Adapter->TxRingLogical);
    Adapter->RxRing = NULL;
    Adapter->TxRing = NULL;
}

/* Frees everything, in the reverse order of initialization. The device must be stopped. */
void E1000Release(PADAPTER Adapter)
{
    if (Adapter->InterruptHandle != NULL) NdisMDeregisterInterruptEx(Adapter->InterruptHandle);
    Adapter->InterruptHandle = NULL;
    ReleaseReceiveBuffers(Adapter);
    ReleaseRings(Adapter);
    Adapter->Memory->DisableDma(Adapter);
    if (Adapter->Registers != NULL) NdisMUnmapIoSpace(Adapter->Handle, Adapter->Registers, Adapter->RegistersLength);
    Adapter->Registers = NULL;
    if (Adapter->NblPool != NULL) NdisFreeNetBufferListPool(Adapter->NblPool);
    Adapter->NblPool = NULL;
    if (Adapter->LockAllocated) NdisFreeSpinLock(&Adapter->Lock);
    Adapter->LockAllocated = FALSE;
    if (Adapter->Stats != NULL) Adapter->Memory->FreeStatistics(Adapter, Adapter->Stats, sizeof(E1000_STATS));
    Adapter->Stats = NULL;
    NdisFreeMemoryWithTagPriority(Adapter->Handle, Adapter, TAG_ADAPTER);
}
