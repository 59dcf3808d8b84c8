/*
 * MiniportHalt (PASSIVE_LEVEL): stop the NIC first (no DMA may land in memory about to be freed),
 * cancel the watchdog, deregister the interrupt, then give everything back in the reverse order
 * of initialization, the context area last (NdisFreeMemory with the flags it was allocated with).
 * E1000Release is also the unwind of a failed MiniportInitialize, so every step copes with any
 * prefix of the set-up. MiniportShutdown only stops the NIC: at shutdown nothing is freed (the
 * NDIS 5.1 reference: it "should put the NIC in a known state").
 */
#include "e1000-ndis5.h"

/* Masks interrupts, turns receiver and transmitter off and resets the NIC (manual chapter 13). */
void E1000StopDevice(PADAPTER a)
{
    if (a->Registers == NULL) return;
    E1000Write(a, E1000_IMC, 0xFFFFFFFF);
    E1000Write(a, E1000_RCTL, 0);
    E1000Write(a, E1000_TCTL, 0);
    E1000Write(a, E1000_CTRL, E1000Read(a, E1000_CTRL) | CTRL_RST);
    (void)E1000Read(a, E1000_ICR);
}

void E1000Halt(NDIS_HANDLE MiniportAdapterContext)
{
    PADAPTER a = (PADAPTER)MiniportAdapterContext;
    PNDIS_PACKET aborted;
    a->Halting = TRUE;
    if (!a->Removed) E1000StopDevice(a);
    NdisAcquireSpinLock(&a->Lock);
    aborted = E1000AbortTransmits(a);
    NdisReleaseSpinLock(&a->Lock);
    E1000CompleteSends(a, aborted, NDIS_STATUS_REQUEST_ABORTED);
    E1000Release(a);
}

/* MiniportPnPEventNotify (PASSIVE_LEVEL): after a surprise removal the registers are gone; halt leaves them alone. */
void E1000PnPEventNotify(NDIS_HANDLE MiniportAdapterContext, NDIS_DEVICE_PNP_EVENT DevicePnPEvent, PVOID InformationBuffer, ULONG InformationBufferLength)
{
    PADAPTER a = (PADAPTER)MiniportAdapterContext;
    UNREFERENCED_PARAMETER(InformationBuffer);
    UNREFERENCED_PARAMETER(InformationBufferLength);
    if (DevicePnPEvent == NdisDevicePnPEventSurpriseRemoved) a->Removed = TRUE;
}

/* MiniportShutdown: the system is going down; the NIC must stop its DMA, nothing is freed. */
void E1000Shutdown(PVOID ShutdownContext)
{
    PADAPTER a = (PADAPTER)ShutdownContext;
    if (!a->Halting) E1000StopDevice(a);
}

/* Frees everything, in the reverse order of initialization. The NIC must be stopped. */
void E1000Release(PADAPTER a)
{
    ULONG i;
    if (a->TimerInitialized) {
        BOOLEAN cancelled;
        NdisMCancelTimer(&a->Watchdog, &cancelled);
    }
    a->TimerInitialized = FALSE;
    if (a->InterruptRegistered) NdisMDeregisterInterrupt(&a->Interrupt);
    a->InterruptRegistered = FALSE;
    E1000FreeStaging(a);
    for (i = 0; i < RING_SIZE_LARGEST; i++) {
        if (a->RxPackets[i] != NULL) {
            PNDIS_BUFFER b;
            NdisUnchainBufferAtFront(a->RxPackets[i], &b);
            NdisFreePacket(a->RxPackets[i]);
        }
        if (a->RxBuffers[i] != NULL) NdisFreeBuffer(a->RxBuffers[i]);
        a->RxPackets[i] = NULL;
        a->RxBuffers[i] = NULL;
    }
    while (a->RxBlockCount > 0) {
        RX_BLOCK *b = &a->RxBlocks[--a->RxBlockCount];
        NdisMFreeSharedMemory(a->Handle, b->Length, TRUE, b->Va, b->Logical);
    }
    if (a->RxRing != NULL) NdisMFreeSharedMemory(a->Handle, a->RingCount * sizeof(E1000_RX_DESC), FALSE, a->RxRing, a->RxRingLogical);
    if (a->TxRing != NULL) NdisMFreeSharedMemory(a->Handle, a->RingCount * sizeof(E1000_TX_DESC), FALSE, a->TxRing, a->TxRingLogical);
    a->RxRing = NULL;
    a->TxRing = NULL;
    if (a->MapRegisters) NdisMFreeMapRegisters(a->Handle);
    a->MapRegisters = FALSE;
    if (a->BufferPool != NULL) NdisFreeBufferPool(a->BufferPool);
    if (a->PacketPool != NULL) NdisFreePacketPool(a->PacketPool);
    a->BufferPool = a->PacketPool = NULL;
    if (a->IoPort != NULL) NdisMDeregisterIoPortRange(a->Handle, a->IoPortFirst, a->IoPorts, a->IoPort);
    a->IoPort = NULL;
    if (a->Registers != NULL) NdisMUnmapIoSpace(a->Handle, a->Registers, a->RegistersLength);
    a->Registers = NULL;
    if (a->LockAllocated) NdisFreeSpinLock(&a->Lock);
    a->LockAllocated = FALSE;
    NdisFreeMemory(a, sizeof(ADAPTER), CONTEXT_FLAGS);
}
