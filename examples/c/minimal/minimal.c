/*
 * A minimal NDIS 6 miniport in C for dmalab's emulated Intel 82540EM: it brings the adapter up
 * and takes it down, the part of a driver that runs before any frame moves.
 *
 *   DriverEntry            registers the miniport (NdisMRegisterMiniportDriver)
 *   MiniportInitializeEx   allocates its adapter context from pool, finds the register window
 *                          among the PnP resources and maps it, resets the NIC, reads the MAC
 *                          address from the EEPROM, sets the adapter's attributes
 *   MiniportOidRequest     answers the OIDs NDIS asks when it binds (the MAC address, ...)
 *   MiniportHaltEx         masks the NIC's interrupts, unmaps the registers, frees the context
 *
 * It moves no frames (its send handler keeps what it is given; examples/c/e1000 is the whole
 * driver), so it runs without traffic. Build it with `dmalab build examples/c/minimal`, run it
 * with `dmalab run examples/c/minimal --packets 0`.
 *
 * Register facts: Intel 8254x Family Developer's Manual, chapter 13 (CTRL 0x0000, STATUS 0x0008,
 * EERD 0x0014, IMC 0x00D8, RAL0/RAH0 0x5400/0x5404; EEPROM words 0-2 hold the MAC address).
 */
#include <ndis.h>

#define MINIMAL_TAG 'niMC' /* "CMin" in a pool dump */

#define REG_CTRL 0x0000
#define REG_STATUS 0x0008
#define REG_EERD 0x0014
#define REG_IMC 0x00D8
#define REG_RAL0 0x5400
#define REG_RAH0 0x5404
#define CTRL_RST (1UL << 26)
#define CTRL_SLU 0x40
#define STATUS_LU 0x2
#define EERD_START 0x1
#define EERD_DONE 0x10
#define RAH_AV (1UL << 31)

typedef struct _ADAPTER {
    NDIS_HANDLE Handle;
    PUCHAR Registers;
    ULONG RegistersLength;
    UCHAR Mac[6];
    ULONG PacketFilter;
    ULONG Lookahead;
} ADAPTER, *PADAPTER;

static NDIS_HANDLE MiniportDriverHandle;

static const NDIS_OID SupportedOids[] = {
    OID_GEN_SUPPORTED_LIST, OID_GEN_MAXIMUM_FRAME_SIZE, OID_GEN_LINK_SPEED, OID_GEN_CURRENT_PACKET_FILTER,
    OID_GEN_CURRENT_LOOKAHEAD, OID_GEN_MAXIMUM_TOTAL_SIZE, OID_GEN_MEDIA_CONNECT_STATUS,
    OID_802_3_PERMANENT_ADDRESS, OID_802_3_CURRENT_ADDRESS, OID_802_3_MULTICAST_LIST,
};

static ULONG ReadRegister(PADAPTER Adapter, ULONG Offset)
{
    ULONG value;
    NdisReadRegisterUlong(Adapter->Registers + Offset, &value);
    return value;
}

static void WriteRegister(PADAPTER Adapter, ULONG Offset, ULONG Value)
{
    NdisWriteRegisterUlong(Adapter->Registers + Offset, Value);
}

/* EERD: start a read of one 16-bit EEPROM word and wait for DONE (manual 13.4.4). */
static USHORT ReadEeprom(PADAPTER Adapter, ULONG Word)
{
    ULONG value;
    ULONG i;
    WriteRegister(Adapter, REG_EERD, (Word << 8) | EERD_START);
    for (i = 0; i < 1000; i++) {
        value = ReadRegister(Adapter, REG_EERD);
        if (value & EERD_DONE) return (USHORT)(value >> 16);
        NdisStallExecution(5);
    }
    return 0xFFFF;
}

static void ReleaseAdapter(PADAPTER Adapter)
{
    if (Adapter->Registers != NULL) NdisMUnmapIoSpace(Adapter->Handle, Adapter->Registers, Adapter->RegistersLength);
    NdisFreeMemoryWithTagPriority(Adapter->Handle, Adapter, MINIMAL_TAG);
}

static NDIS_STATUS SetAttributes(PADAPTER Adapter)
{
    NDIS_MINIPORT_ADAPTER_ATTRIBUTES attributes;
    NDIS_STATUS status;

    NdisZeroMemory(&attributes, sizeof(attributes));
    attributes.RegistrationAttributes.Header.Type = NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES;
    attributes.RegistrationAttributes.Header.Revision = NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1;
    attributes.RegistrationAttributes.Header.Size = NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1;
    attributes.RegistrationAttributes.MiniportAdapterContext = Adapter;
    attributes.RegistrationAttributes.AttributeFlags = NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE | NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER;
    attributes.RegistrationAttributes.InterfaceType = NdisInterfacePci;
    status = NdisMSetMiniportAttributes(Adapter->Handle, &attributes);
    if (status != NDIS_STATUS_SUCCESS) return status;

    NdisZeroMemory(&attributes, sizeof(attributes));
    attributes.GeneralAttributes.Header.Type = NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES;
    attributes.GeneralAttributes.Header.Revision = NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1;
    attributes.GeneralAttributes.Header.Size = NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1;
    attributes.GeneralAttributes.MediaType = NdisMedium802_3;
    attributes.GeneralAttributes.PhysicalMediumType = NdisPhysicalMedium802_3;
    attributes.GeneralAttributes.MtuSize = 1500;
    attributes.GeneralAttributes.MaxXmitLinkSpeed = 1000000000ULL;
    attributes.GeneralAttributes.MaxRcvLinkSpeed = 1000000000ULL;
    attributes.GeneralAttributes.XmitLinkSpeed = 1000000000ULL;
    attributes.GeneralAttributes.RcvLinkSpeed = 1000000000ULL;
    attributes.GeneralAttributes.MediaConnectState =
        (ReadRegister(Adapter, REG_STATUS) & STATUS_LU) ? MediaConnectStateConnected : MediaConnectStateDisconnected;
    attributes.GeneralAttributes.MediaDuplexState = MediaDuplexStateFull;
    attributes.GeneralAttributes.LookaheadSize = 1500;
    attributes.GeneralAttributes.MacAddressLength = 6;
    NdisMoveMemory(attributes.GeneralAttributes.PermanentMacAddress, Adapter->Mac, 6);
    NdisMoveMemory(attributes.GeneralAttributes.CurrentMacAddress, Adapter->Mac, 6);
    attributes.GeneralAttributes.SupportedPacketFilters = NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_MULTICAST | NDIS_PACKET_TYPE_BROADCAST;
    attributes.GeneralAttributes.MaxMulticastListSize = 32;
    attributes.GeneralAttributes.AccessType = NET_IF_ACCESS_BROADCAST;
    attributes.GeneralAttributes.DirectionType = NET_IF_DIRECTION_SENDRECEIVE;
    attributes.GeneralAttributes.ConnectionType = NET_IF_CONNECTION_DEDICATED;
    attributes.GeneralAttributes.IfType = IF_TYPE_ETHERNET_CSMACD;
    attributes.GeneralAttributes.IfConnectorPresent = TRUE;
    attributes.GeneralAttributes.SupportedOidList = (PNDIS_OID)SupportedOids;
    attributes.GeneralAttributes.SupportedOidListLength = sizeof(SupportedOids);
    return NdisMSetMiniportAttributes(Adapter->Handle, &attributes);
}

static NDIS_STATUS MiniportInitializeEx(NDIS_HANDLE MiniportAdapterHandle, NDIS_HANDLE MiniportDriverContext,
                                        PNDIS_MINIPORT_INIT_PARAMETERS MiniportInitParameters)
{
    PADAPTER adapter;
    PNDIS_RESOURCE_LIST resources = MiniportInitParameters->AllocatedResources;
    NDIS_STATUS status;
    ULONG i;
    UNREFERENCED_PARAMETER(MiniportDriverContext);

    adapter = NdisAllocateMemoryWithTagPriority(MiniportAdapterHandle, sizeof(ADAPTER), MINIMAL_TAG, NormalPoolPriority);
    if (adapter == NULL) return NDIS_STATUS_RESOURCES;
    NdisZeroMemory(adapter, sizeof(*adapter));
    adapter->Handle = MiniportAdapterHandle;

    /* The register window is the adapter's memory resource (BAR0). */
    for (i = 0; i < resources->Count; i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR d = &resources->PartialDescriptors[i];
        if (d->Type == CmResourceTypeMemory && adapter->Registers == NULL) {
            status = NdisMMapIoSpace((PVOID *)&adapter->Registers, MiniportAdapterHandle, d->u.Memory.Start, d->u.Memory.Length);
            if (status != NDIS_STATUS_SUCCESS) {
                ReleaseAdapter(adapter);
                return status;
            }
            adapter->RegistersLength = d->u.Memory.Length;
        }
    }
    if (adapter->Registers == NULL) {
        ReleaseAdapter(adapter);
        return NDIS_STATUS_ADAPTER_NOT_FOUND;
    }

    /* Reset (CTRL.RST self-clears), mask every interrupt, read the MAC from EEPROM words 0-2. */
    WriteRegister(adapter, REG_CTRL, CTRL_RST);
    WriteRegister(adapter, REG_IMC, 0xFFFFFFFF);
    for (i = 0; i < 3; i++) {
        USHORT word = ReadEeprom(adapter, i);
        adapter->Mac[2 * i] = (UCHAR)(word & 0xFF);
        adapter->Mac[2 * i + 1] = (UCHAR)(word >> 8);
    }
    WriteRegister(adapter, REG_RAL0, adapter->Mac[0] | (adapter->Mac[1] << 8) | (adapter->Mac[2] << 16) | ((ULONG)adapter->Mac[3] << 24));
    WriteRegister(adapter, REG_RAH0, adapter->Mac[4] | (adapter->Mac[5] << 8) | RAH_AV);
    WriteRegister(adapter, REG_CTRL, CTRL_SLU);

    status = SetAttributes(adapter);
    if (status != NDIS_STATUS_SUCCESS) {
        ReleaseAdapter(adapter);
        return status;
    }
    return NDIS_STATUS_SUCCESS;
}

static void MiniportHaltEx(NDIS_HANDLE MiniportAdapterContext, NDIS_HALT_ACTION HaltAction)
{
    PADAPTER adapter = (PADAPTER)MiniportAdapterContext;
    UNREFERENCED_PARAMETER(HaltAction);
    WriteRegister(adapter, REG_IMC, 0xFFFFFFFF);
    WriteRegister(adapter, REG_CTRL, CTRL_RST);
    ReleaseAdapter(adapter);
}

static NDIS_STATUS MiniportPause(NDIS_HANDLE MiniportAdapterContext, PNDIS_MINIPORT_PAUSE_PARAMETERS PauseParameters)
{
    UNREFERENCED_PARAMETER(MiniportAdapterContext);
    UNREFERENCED_PARAMETER(PauseParameters);
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS MiniportRestart(NDIS_HANDLE MiniportAdapterContext, PNDIS_MINIPORT_RESTART_PARAMETERS RestartParameters)
{
    UNREFERENCED_PARAMETER(MiniportAdapterContext);
    UNREFERENCED_PARAMETER(RestartParameters);
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS QueryUlong(PNDIS_OID_REQUEST Request, ULONG Value)
{
    if (Request->DATA.QUERY_INFORMATION.InformationBufferLength < sizeof(ULONG)) {
        Request->DATA.QUERY_INFORMATION.BytesNeeded = sizeof(ULONG);
        return NDIS_STATUS_BUFFER_TOO_SHORT;
    }
    *(PULONG)Request->DATA.QUERY_INFORMATION.InformationBuffer = Value;
    Request->DATA.QUERY_INFORMATION.BytesWritten = sizeof(ULONG);
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS QueryBytes(PNDIS_OID_REQUEST Request, const void *Data, ULONG Length)
{
    if (Request->DATA.QUERY_INFORMATION.InformationBufferLength < Length) {
        Request->DATA.QUERY_INFORMATION.BytesNeeded = Length;
        return NDIS_STATUS_BUFFER_TOO_SHORT;
    }
    NdisMoveMemory(Request->DATA.QUERY_INFORMATION.InformationBuffer, Data, Length);
    Request->DATA.QUERY_INFORMATION.BytesWritten = Length;
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS MiniportOidRequest(NDIS_HANDLE MiniportAdapterContext, PNDIS_OID_REQUEST Request)
{
    PADAPTER adapter = (PADAPTER)MiniportAdapterContext;
    if (Request->RequestType == NdisRequestSetInformation) {
        PVOID buffer = Request->DATA.SET_INFORMATION.InformationBuffer;
        switch (Request->DATA.SET_INFORMATION.Oid) {
        case OID_GEN_CURRENT_PACKET_FILTER:
        case OID_GEN_CURRENT_LOOKAHEAD:
            if (Request->DATA.SET_INFORMATION.InformationBufferLength < sizeof(ULONG)) {
                Request->DATA.SET_INFORMATION.BytesNeeded = sizeof(ULONG);
                return NDIS_STATUS_INVALID_LENGTH;
            }
            if (Request->DATA.SET_INFORMATION.Oid == OID_GEN_CURRENT_PACKET_FILTER) adapter->PacketFilter = *(PULONG)buffer;
            else adapter->Lookahead = *(PULONG)buffer;
            Request->DATA.SET_INFORMATION.BytesRead = sizeof(ULONG);
            return NDIS_STATUS_SUCCESS;
        case OID_802_3_MULTICAST_LIST:
            Request->DATA.SET_INFORMATION.BytesRead = Request->DATA.SET_INFORMATION.InformationBufferLength;
            return NDIS_STATUS_SUCCESS;
        default:
            return NDIS_STATUS_NOT_SUPPORTED;
        }
    }
    switch (Request->DATA.QUERY_INFORMATION.Oid) {
    case OID_GEN_SUPPORTED_LIST:
        return QueryBytes(Request, SupportedOids, sizeof(SupportedOids));
    case OID_GEN_MAXIMUM_FRAME_SIZE:
        return QueryUlong(Request, 1500);
    case OID_GEN_MAXIMUM_TOTAL_SIZE:
        return QueryUlong(Request, 1514);
    case OID_GEN_LINK_SPEED:
        return QueryUlong(Request, 10000000); /* in 100 bit/s units */
    case OID_GEN_CURRENT_PACKET_FILTER:
        return QueryUlong(Request, adapter->PacketFilter);
    case OID_GEN_MEDIA_CONNECT_STATUS:
        return QueryUlong(Request, (ReadRegister(adapter, REG_STATUS) & STATUS_LU) ? 0 : 1);
    case OID_802_3_PERMANENT_ADDRESS:
    case OID_802_3_CURRENT_ADDRESS:
        return QueryBytes(Request, adapter->Mac, 6);
    default:
        return NDIS_STATUS_NOT_SUPPORTED;
    }
}

static void MiniportSendNetBufferLists(NDIS_HANDLE MiniportAdapterContext, PNET_BUFFER_LIST NetBufferLists,
                                       NDIS_PORT_NUMBER PortNumber, ULONG SendFlags)
{
    /* Not called: dmalab sends C miniports no frames yet (see the top of this file). */
    UNREFERENCED_PARAMETER(MiniportAdapterContext);
    UNREFERENCED_PARAMETER(NetBufferLists);
    UNREFERENCED_PARAMETER(PortNumber);
    UNREFERENCED_PARAMETER(SendFlags);
}

static void MiniportReturnNetBufferLists(NDIS_HANDLE MiniportAdapterContext, PNET_BUFFER_LIST NetBufferLists, ULONG ReturnFlags)
{
    /* Not called: this miniport indicates no receives. */
    UNREFERENCED_PARAMETER(MiniportAdapterContext);
    UNREFERENCED_PARAMETER(NetBufferLists);
    UNREFERENCED_PARAMETER(ReturnFlags);
}

static void MiniportUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    NdisMDeregisterMiniportDriver(MiniportDriverHandle);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NDIS_MINIPORT_DRIVER_CHARACTERISTICS chars;

    NdisZeroMemory(&chars, sizeof(chars));
    chars.Header.Type = NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS;
    chars.Header.Revision = NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1;
    chars.Header.Size = NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1;
    chars.MajorNdisVersion = NDIS_MINIPORT_MAJOR_VERSION;
    chars.MinorNdisVersion = NDIS_MINIPORT_MINOR_VERSION;
    chars.MajorDriverVersion = 1;
    chars.InitializeHandlerEx = MiniportInitializeEx;
    chars.HaltHandlerEx = MiniportHaltEx;
    chars.UnloadHandler = MiniportUnload;
    chars.PauseHandler = MiniportPause;
    chars.RestartHandler = MiniportRestart;
    chars.OidRequestHandler = MiniportOidRequest;
    chars.SendNetBufferListsHandler = MiniportSendNetBufferLists;
    chars.ReturnNetBufferListsHandler = MiniportReturnNetBufferLists;
    return NdisMRegisterMiniportDriver(DriverObject, RegistryPath, NULL, &chars, &MiniportDriverHandle);
}
