/*
 * Interrupts: the ISR (DIRQL) reads ICR (reading clears it and drops the line), masks the device
 * and queues the DPC; the DPC (DISPATCH_LEVEL) reaps transmits, indicates receives, notes link
 * changes and unmasks. ITR coalesces, so one interrupt serves a batch of frames.
 */
#include "e1000.h"

BOOLEAN E1000Isr(NDIS_HANDLE MiniportInterruptContext, PBOOLEAN QueueDefaultInterruptDpc, PULONG TargetProcessors)
{
    PADAPTER adapter = (PADAPTER)MiniportInterruptContext;
    ULONG icr = E1000Read(adapter, E1000_ICR);
    UNREFERENCED_PARAMETER(TargetProcessors);
    if (icr == 0) {
        *QueueDefaultInterruptDpc = FALSE;
        return FALSE;
    }
    adapter->PendingIcr |= icr;
    E1000Write(adapter, E1000_IMC, 0xFFFFFFFF);
    *QueueDefaultInterruptDpc = TRUE;
    return TRUE;
}

void E1000InterruptDpc(NDIS_HANDLE MiniportInterruptContext, PVOID MiniportDpcContext, PVOID ReceiveThrottleParameters, PVOID NdisReserved2)
{
    PADAPTER adapter = (PADAPTER)MiniportInterruptContext;
    PNDIS_RECEIVE_THROTTLE_PARAMETERS throttle = (PNDIS_RECEIVE_THROTTLE_PARAMETERS)ReceiveThrottleParameters;
    ULONG icr = adapter->PendingIcr;
    PNET_BUFFER_LIST reaped, failed;
    BOOLEAN pauseDone;
    UNREFERENCED_PARAMETER(MiniportDpcContext);
    UNREFERENCED_PARAMETER(NdisReserved2);

    adapter->PendingIcr = 0;
    if (icr & ICR_LSC) adapter->LinkUp = (E1000Read(adapter, E1000_STATUS) & STATUS_LU) != 0;
    if (icr & ICR_RXO) adapter->Stats->RxNoBuffer++;

    NdisDprAcquireSpinLock(&adapter->Lock);
    reaped = E1000ReapTransmits(adapter);
    failed = E1000DrainQueue(adapter);
    pauseDone = adapter->Pausing && adapter->RxIndicated == 0 && adapter->TxFree == adapter->TxCount && adapter->TxQueueHead == NULL;
    NdisDprReleaseSpinLock(&adapter->Lock);
    E1000CompleteChain(adapter, reaped, TRUE);
    E1000CompleteChain(adapter, failed, TRUE);

    E1000ReceiveFrames(adapter, throttle->MaxNblsToIndicate > 0 ? throttle->MaxNblsToIndicate : adapter->RxCount);
    /* Every frame this DPC may indicate is indicated: nothing is left for another DPC call. */
    throttle->MoreNblsPending = FALSE;
    if (pauseDone) E1000CompletePause(adapter);
    if (!adapter->Halting) E1000Write(adapter, E1000_IMS, IMS_ENABLE);
}
