/*
 * DriverEntry of an NDIS 5.1 miniport: NdisMInitializeWrapper, then NdisMRegisterMiniport with
 * the NDIS 5.1 characteristics (a deserialized driver with MiniportSendPackets and
 * MiniportReturnPacket, 5.1's MiniportCancelSendPackets, MiniportPnPEventNotify and
 * MiniportShutdown). A DriverEntry that fails after NdisMInitializeWrapper releases the wrapper
 * with NdisTerminateWrapper ("NdisMRegisterMiniport").
 */
#include "e1000-ndis5.h"

static NDIS_HANDLE WrapperHandle;

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NDIS_MINIPORT_CHARACTERISTICS chars;
    NDIS_STATUS status;
    NdisMInitializeWrapper(&WrapperHandle, DriverObject, RegistryPath, NULL);
    if (WrapperHandle == NULL) return NDIS_STATUS_FAILURE;
    NdisZeroMemory(&chars, sizeof(chars));
    chars.MajorNdisVersion = 5;
    chars.MinorNdisVersion = 1;
    chars.InitializeHandler = E1000Initialize;
    chars.HaltHandler = E1000Halt;
    chars.QueryInformationHandler = E1000QueryInformation;
    chars.SetInformationHandler = E1000SetInformation;
    chars.ResetHandler = E1000Reset;
    chars.CheckForHangHandler = E1000CheckForHang;
    chars.ISRHandler = E1000Isr;
    chars.HandleInterruptHandler = E1000HandleInterrupt;
    chars.EnableInterruptHandler = E1000EnableInterrupt;
    chars.DisableInterruptHandler = E1000DisableInterrupt;
    chars.SendPacketsHandler = E1000SendPackets;
    chars.ReturnPacketHandler = E1000ReturnPacket;
    chars.AdapterShutdownHandler = E1000Shutdown;
    chars.CancelSendPacketsHandler = E1000CancelSendPackets;
    chars.PnPEventNotifyHandler = E1000PnPEventNotify;
    status = NdisMRegisterMiniport(WrapperHandle, &chars, sizeof(chars));
    if (status != NDIS_STATUS_SUCCESS) NdisTerminateWrapper(WrapperHandle, NULL);
    return status;
}
