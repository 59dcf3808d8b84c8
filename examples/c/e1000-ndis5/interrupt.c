/*
 * Interrupts and time. MiniportISR (DIRQL) reads ICR (reading clears it and drops the line) and,
 * when the cause is the NIC's, masks it and asks for MiniportHandleInterrupt. That DPC
 * (DISPATCH_LEVEL) reaps transmits, drains the send queue, indicates receives and notes link
 * changes; NDIS then calls MiniportEnableInterrupt, which unmasks. A periodic watchdog timer reaps
 * transmits too (an interrupt can be coalesced away at the end of a burst), and
 * MiniportCheckForHang reports a transmitter that made no progress with work pending for two
 * checks; MiniportReset then restarts the transmit ring.
 */
#include "e1000-ndis5.h"

void E1000Isr(PBOOLEAN InterruptRecognized, PBOOLEAN QueueMiniportHandleInterrupt, NDIS_HANDLE MiniportAdapterContext)
{
    PADAPTER a = (PADAPTER)MiniportAdapterContext;
    ULONG icr = E1000Read(a, E1000_ICR);
    *InterruptRecognized = icr != 0;
    *QueueMiniportHandleInterrupt = icr != 0;
    if (icr == 0) return;
    a->PendingIcr |= icr;
    E1000Write(a, E1000_IMC, 0xFFFFFFFF);
}

/* Reaps finished sends and puts queued ones on the ring; completes outside the lock. */
static void ServiceTransmits(PADAPTER a)
{
    PNDIS_PACKET done, failed;
    NdisDprAcquireSpinLock(&a->Lock);
    done = E1000ReapTransmits(a);
    E1000DrainQueue(a);
    failed = a->TxFailed;
    a->TxFailed = a->TxFailedTail = NULL;
    NdisDprReleaseSpinLock(&a->Lock);
    E1000CompleteSends(a, done, NDIS_STATUS_SUCCESS);
    E1000CompleteSends(a, failed, NDIS_STATUS_RESOURCES);
}

/* The link went up or down: tell the protocol (NdisMIndicateStatus, then NdisMIndicateStatusComplete). */
static void LinkChanged(PADAPTER a)
{
    BOOLEAN up = (E1000Read(a, E1000_STATUS) & STATUS_LU) != 0;
    if (up == a->LinkUp) return;
    a->LinkUp = up;
    NdisMIndicateStatus(a->Handle, up ? NDIS_STATUS_MEDIA_CONNECT : NDIS_STATUS_MEDIA_DISCONNECT, NULL, 0);
    NdisMIndicateStatusComplete(a->Handle);
}

/*
 * The causes MiniportISR saved, taken and cleared at DIRQL: the ISR writes them, and on a shared
 * line it can run while the DPC does. MiniportHandleInterrupt (NDIS 5.1): what it shares with
 * MiniportISR it touches only through NdisMSynchronizeWithInterrupt.
 */
static BOOLEAN TakePendingCauses(PVOID SynchronizeContext)
{
    PADAPTER a = (PADAPTER)SynchronizeContext;
    a->TakenIcr = a->PendingIcr;
    a->PendingIcr = 0;
    return TRUE;
}

void E1000HandleInterrupt(NDIS_HANDLE MiniportAdapterContext)
{
    PADAPTER a = (PADAPTER)MiniportAdapterContext;
    ULONG icr;
    NdisMSynchronizeWithInterrupt(&a->Interrupt, (PVOID)TakePendingCauses, a);
    icr = a->TakenIcr;
    if (icr & ICR_LSC) LinkChanged(a);
    if (icr & ICR_RXO) a->RxNoBuffer++;
    ServiceTransmits(a);
    E1000ReceiveFrames(a);
}

void E1000EnableInterrupt(NDIS_HANDLE MiniportAdapterContext)
{
    PADAPTER a = (PADAPTER)MiniportAdapterContext;
    if (!a->Halting) E1000Write(a, E1000_IMS, IMS_ENABLE);
}

void E1000DisableInterrupt(NDIS_HANDLE MiniportAdapterContext)
{
    E1000Write((PADAPTER)MiniportAdapterContext, E1000_IMC, 0xFFFFFFFF);
}

/* The watchdog's timer function (NdisMSetPeriodicTimer, DISPATCH_LEVEL); FunctionContext is the context area. */
void E1000Watchdog(PVOID SystemSpecific1, PVOID FunctionContext, PVOID SystemSpecific2, PVOID SystemSpecific3)
{
    PADAPTER a = (PADAPTER)FunctionContext;
    UNREFERENCED_PARAMETER(SystemSpecific1);
    UNREFERENCED_PARAMETER(SystemSpecific2);
    UNREFERENCED_PARAMETER(SystemSpecific3);
    if (a->Halting) return;
    ServiceTransmits(a);
}

/* MiniportCheckForHang (DISPATCH_LEVEL): TRUE when transmits are pending and none finished for two checks. */
BOOLEAN E1000CheckForHang(NDIS_HANDLE MiniportAdapterContext)
{
    PADAPTER a = (PADAPTER)MiniportAdapterContext;
    BOOLEAN pending = a->TxFree < a->RingCount;
    if (!pending || a->TxClean != a->LastTxClean) {
        a->LastTxClean = a->TxClean;
        a->StalledChecks = 0;
        return FALSE;
    }
    return ++a->StalledChecks >= 2;
}

/*
 * MiniportReset (DISPATCH_LEVEL): restarts the transmitter. Packets on the ring or queued come back
 * with NDIS_STATUS_REQUEST_ABORTED (a deserialized miniport completes what it holds); the receive
 * side and the addresses are untouched, so AddressingReset is FALSE.
 */
NDIS_STATUS E1000Reset(PBOOLEAN AddressingReset, NDIS_HANDLE MiniportAdapterContext)
{
    PADAPTER a = (PADAPTER)MiniportAdapterContext;
    PNDIS_PACKET aborted;
    NdisDprAcquireSpinLock(&a->Lock);
    E1000Write(a, E1000_TCTL, 0);
    aborted = E1000AbortTransmits(a);
    NdisZeroMemory(a->TxRing, a->RingCount * sizeof(E1000_TX_DESC));
    E1000Write(a, E1000_TDH, 0);
    E1000Write(a, E1000_TDT, 0);
    E1000Write(a, E1000_TCTL, TCTL_EN | TCTL_PSP | TCTL_CT_COLD);
    a->StalledChecks = 0;
    NdisDprReleaseSpinLock(&a->Lock);
    E1000CompleteSends(a, aborted, NDIS_STATUS_REQUEST_ABORTED);
    *AddressingReset = FALSE;
    return NDIS_STATUS_SUCCESS;
}
