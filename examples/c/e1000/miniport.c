/*
 * The miniport's NDIS_MINIPORT_DRIVER_CHARACTERISTICS, its unload, and MiniportPause /
 * MiniportRestart. A driver built on this one registers with its own memory table.
 */
#include "e1000.h"

static NDIS_HANDLE DriverHandle;
/* The memory table adapters take at MiniportInitializeEx: the driver's own, given at registration. */
const E1000_MEMORY *E1000AdapterMemory;

static MINIPORT_UNLOAD E1000Unload;
static MINIPORT_PAUSE E1000Pause;
static MINIPORT_RESTART E1000Restart;

NDIS_STATUS E1000RegisterMiniport(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath, const E1000_MEMORY *Memory)
{
    NDIS_MINIPORT_DRIVER_CHARACTERISTICS chars;

    E1000AdapterMemory = Memory;
    NdisZeroMemory(&chars, sizeof(chars));
    chars.Header.Type = NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS;
    chars.Header.Revision = NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1;
    chars.Header.Size = NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1;
    chars.MajorNdisVersion = 6;
    chars.MinorNdisVersion = 20;
    chars.MajorDriverVersion = 1;
    chars.MinorDriverVersion = 0;
    chars.InitializeHandlerEx = E1000InitializeEx;
    chars.HaltHandlerEx = E1000HaltEx;
    chars.UnloadHandler = E1000Unload;
    chars.PauseHandler = E1000Pause;
    chars.RestartHandler = E1000Restart;
    chars.OidRequestHandler = E1000OidRequest;
    chars.SendNetBufferListsHandler = E1000SendNetBufferLists;
    chars.ReturnNetBufferListsHandler = E1000ReturnNetBufferLists;
    return NdisMRegisterMiniportDriver(DriverObject, RegistryPath, NULL, &chars, &DriverHandle);
}

static void E1000Unload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    NdisMDeregisterMiniportDriver(DriverHandle);
}

/* MiniportPause: stop taking sends; done once every send and indication is back. */
static NDIS_STATUS E1000Pause(NDIS_HANDLE MiniportAdapterContext, PNDIS_MINIPORT_PAUSE_PARAMETERS PauseParameters)
{
    PADAPTER adapter = (PADAPTER)MiniportAdapterContext;
    PNET_BUFFER_LIST aborted;
    BOOLEAN idle;
    UNREFERENCED_PARAMETER(PauseParameters);

    NdisAcquireSpinLock(&adapter->Lock);
    aborted = E1000FlushQueue(adapter, NDIS_STATUS_PAUSED);
    idle = adapter->RxIndicated == 0 && adapter->TxFree == adapter->TxCount;
    if (idle) adapter->Paused = TRUE;
    else adapter->Pausing = TRUE;
    NdisReleaseSpinLock(&adapter->Lock);
    E1000CompleteChain(adapter, aborted, FALSE);
    return idle ? NDIS_STATUS_SUCCESS : NDIS_STATUS_PENDING;
}

static NDIS_STATUS E1000Restart(NDIS_HANDLE MiniportAdapterContext, PNDIS_MINIPORT_RESTART_PARAMETERS RestartParameters)
{
    PADAPTER adapter = (PADAPTER)MiniportAdapterContext;
    UNREFERENCED_PARAMETER(RestartParameters);
    adapter->Paused = FALSE;
    adapter->Pausing = FALSE;
    return NDIS_STATUS_SUCCESS;
}
