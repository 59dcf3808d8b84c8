/*
 * A C miniport for the runtime tests: its MiniportInitializeEx does one thing wrong, chosen by
 * the driver's name (the end of the registry path DriverEntry receives), so that one build
 * serves every case. Lines marked FAULT: are the ones the tests expect findings at.
 */
#include <ndis.h>

#define TAG 'tlaF'

static NDIS_HANDLE DriverHandle;
static WCHAR Scenario[16];
static ULONG Seen = 7; /* initialized data, in the image */
static UCHAR Scratch[64]; /* bss */

static BOOLEAN Is(const WCHAR *Name)
{
    ULONG i;
    for (i = 0; Name[i] != 0 || Scenario[i] != 0; i++) {
        if (Name[i] != Scenario[i]) return FALSE;
    }
    return TRUE;
}

static ULONG Divide(ULONG a, ULONG b)
{
    return a / b; /* FAULT: divide */
}

/* Not inlined, so that the stack has a frame of its own above Initialize's. */
static __attribute__((noinline)) void Trap(void)
{
    __builtin_trap(); /* FAULT: trap */
}

/* Paged pool at DISPATCH_LEVEL: ExAllocatePoolWithTag's IRQL rule broken, one call deep. */
static __attribute__((noinline)) void AllocateAtDispatch(void)
{
    KIRQL old;
    PVOID block;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    block = ExAllocatePoolWithTag(PagedPool, 64, TAG); /* FAULT: irql */
    KeLowerIrql(old);
    if (block != NULL) ExFreePoolWithTag(block, TAG);
}

/* A block never freed: a leak at unload, named at this allocation. */
static __attribute__((noinline)) PVOID Leak(void)
{
    return ExAllocatePoolWithTag(NonPagedPoolNx, 32, TAG); /* FAULT: leak */
}

/* A trap twelve calls below Initialize: deeper than the 10 frames V8 records by default. */
static __attribute__((noinline)) ULONG Deep(ULONG n)
{
    volatile ULONG keep = n; /* read after the call, so the recursion stays calls */
    ULONG r;
    if (n == 0) return Seen / Scratch[7]; /* FAULT: deep */
    r = Deep(n - 1); /* FAULT: deeper */
    return r + keep;
}

static ULONG Recurse(ULONG depth)
{
    volatile UCHAR frame[512];
    frame[0] = (UCHAR)depth; /* FAULT: stack */
    return Recurse(depth + 1) + frame[0]; /* FAULT: recurse */
}

/* A common buffer through the HAL's DMA adapter, called through its DMA_OPERATIONS pointers. */
static NDIS_STATUS Dma(NDIS_HANDLE Handle, BOOLEAN FreeIt)
{
    PDEVICE_OBJECT pdo = NULL;
    DEVICE_DESCRIPTION description;
    PDMA_ADAPTER adapter;
    ULONG mapRegisters = 0;
    PHYSICAL_ADDRESS logical;
    PULONG buffer;

    NdisMGetDeviceProperty(Handle, &pdo, NULL, NULL, NULL, NULL);
    NdisZeroMemory(&description, sizeof(description));
    description.Version = DEVICE_DESCRIPTION_VERSION2;
    description.Master = TRUE;
    description.ScatterGather = TRUE;
    description.Dma32BitAddresses = TRUE;
    description.InterfaceType = PCIBus;
    description.MaximumLength = 0x10000;
    adapter = IoGetDmaAdapter(pdo, &description, &mapRegisters);
    if (adapter == NULL || mapRegisters == 0) return NDIS_STATUS_RESOURCES;
    buffer = adapter->DmaOperations->AllocateCommonBuffer(adapter, 8192, &logical, FALSE); /* FAULT: dma-leak */
    if (buffer == NULL) {
        adapter->DmaOperations->PutDmaAdapter(adapter);
        return NDIS_STATUS_RESOURCES;
    }
    buffer[2047] = logical.LowPart; /* the buffer is mapped, all 8 KiB of it */
    if (logical.HighPart != 0) return NDIS_STATUS_FAILURE; /* a 32-bit device's buffer is below 4 GiB */
    if (FreeIt) adapter->DmaOperations->FreeCommonBuffer(adapter, 8192, logical, buffer, FALSE);
    adapter->DmaOperations->PutDmaAdapter(adapter);
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS Initialize(NDIS_HANDLE Handle, NDIS_HANDLE Context, PNDIS_MINIPORT_INIT_PARAMETERS Parameters)
{
    PULONG block;
    NDIS_MINIPORT_ADAPTER_ATTRIBUTES attributes;
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Parameters);

    Scratch[3] = (UCHAR)Seen;
    if (Is(L"use-after-free")) {
        block = ExAllocatePoolWithTag(NonPagedPoolNx, 64, TAG);
        if (block == NULL) return NDIS_STATUS_RESOURCES;
        ExFreePoolWithTag(block, TAG);
        block[2] = 1; /* FAULT: use-after-free */
    }
    if (Is(L"null")) {
        block = NULL;
        Seen = block[1]; /* FAULT: null */
    }
    if (Is(L"divide")) Seen = Divide(Seen, Scratch[7]); /* FAULT: calls divide */
    if (Is(L"trap")) Trap(); /* FAULT: calls trap */
    if (Is(L"irql")) AllocateAtDispatch(); /* FAULT: calls irql */
    if (Is(L"leak") && Leak() == NULL) return NDIS_STATUS_RESOURCES; /* FAULT: calls leak */
    if (Is(L"stack")) Seen = Recurse(0); /* FAULT: calls stack */
    if (Is(L"deep")) Seen = Deep(12); /* FAULT: calls deep */
    if (Is(L"dma") && Dma(Handle, TRUE) != NDIS_STATUS_SUCCESS) return NDIS_STATUS_FAILURE;
    if (Is(L"dma-leak") && Dma(Handle, FALSE) != NDIS_STATUS_SUCCESS) return NDIS_STATUS_FAILURE; /* FAULT: calls dma-leak */

    NdisZeroMemory(&attributes, sizeof(attributes));
    attributes.RegistrationAttributes.Header.Type = NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES;
    attributes.RegistrationAttributes.Header.Revision = NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1;
    attributes.RegistrationAttributes.Header.Size = NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1;
    attributes.RegistrationAttributes.MiniportAdapterContext = &Scratch;
    return NdisMSetMiniportAttributes(Handle, &attributes);
}

static void Halt(NDIS_HANDLE Context, NDIS_HALT_ACTION Action)
{
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Action);
}

static NDIS_STATUS Pause(NDIS_HANDLE Context, PNDIS_MINIPORT_PAUSE_PARAMETERS Parameters)
{
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Parameters);
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS Restart(NDIS_HANDLE Context, PNDIS_MINIPORT_RESTART_PARAMETERS Parameters)
{
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Parameters);
    return NDIS_STATUS_SUCCESS;
}

/* The sets TCP/IP makes when it binds (the packet filter is mandatory for NDIS 6): taken and
   ignored, this miniport indicates nothing. Everything else is not supported. */
static NDIS_STATUS Oid(NDIS_HANDLE Context, PNDIS_OID_REQUEST Request)
{
    UNREFERENCED_PARAMETER(Context);
    if (Request->RequestType != NdisRequestSetInformation) return NDIS_STATUS_NOT_SUPPORTED;
    switch (Request->DATA.SET_INFORMATION.Oid) {
    case OID_GEN_CURRENT_PACKET_FILTER:
    case OID_GEN_CURRENT_LOOKAHEAD:
    case OID_802_3_MULTICAST_LIST:
        Request->DATA.SET_INFORMATION.BytesRead = Request->DATA.SET_INFORMATION.InformationBufferLength;
        return NDIS_STATUS_SUCCESS;
    default:
        return NDIS_STATUS_NOT_SUPPORTED;
    }
}

static void Send(NDIS_HANDLE Context, PNET_BUFFER_LIST Lists, NDIS_PORT_NUMBER Port, ULONG Flags)
{
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Lists);
    UNREFERENCED_PARAMETER(Port);
    UNREFERENCED_PARAMETER(Flags);
}

static void Return(NDIS_HANDLE Context, PNET_BUFFER_LIST Lists, ULONG Flags)
{
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Lists);
    UNREFERENCED_PARAMETER(Flags);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NDIS_MINIPORT_DRIVER_CHARACTERISTICS chars;
    ULONG length = RegistryPath->Length / sizeof(WCHAR);
    ULONG start = length;
    ULONG i;

    /* The scenario is the registry path's last component (the driver's name). */
    while (start > 0 && RegistryPath->Buffer[start - 1] != L'\\') start--;
    for (i = 0; i + start < length && i < 15; i++) Scenario[i] = RegistryPath->Buffer[start + i];

    NdisZeroMemory(&chars, sizeof(chars));
    chars.Header.Type = NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS;
    chars.Header.Revision = NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1;
    chars.Header.Size = NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1;
    chars.MajorNdisVersion = 6;
    chars.InitializeHandlerEx = Initialize;
    chars.HaltHandlerEx = Halt;
    chars.PauseHandler = Pause;
    chars.RestartHandler = Restart;
    chars.OidRequestHandler = Oid;
    chars.SendNetBufferListsHandler = Send;
    chars.ReturnNetBufferListsHandler = Return;
    return NdisMRegisterMiniportDriver(DriverObject, RegistryPath, NULL, &chars, &DriverHandle);
}
