/*
 * A small NDIS 5.1 miniport in C for the runtime tests: it registers with NdisMRegisterMiniport
 * and loops every frame it is sent back to the protocol, without the NIC's rings, so the test
 * sees NDIS 5's structures and routines from C: the characteristics, MiniportInitialize's medium
 * array, the context area from NdisAllocateMemory handed to NdisMSetAttributesEx, the resources,
 * map registers (each send buffer is mapped for the device and the mapping completed), packet
 * and buffer pools, the packet's OOB data through the documented macros, NdisMSendComplete,
 * NdisMIndicateReceivePacket with MiniportReturnPacket, the interrupt and a timer.
 *
 * The driver's name (the registry path's last component) picks a mistake for the tests:
 * "wild-packet" completes a send with a pointer that is no packet, "no-header-size" indicates
 * receives without NDIS_SET_PACKET_HEADER_SIZE; "sg-dma" is the clean driver with NDIS's
 * scatter/gather DMA instead of map registers (NdisMInitializeScatterGatherDma: NDIS maps each send
 * and hands its list in ScatterGatherListPacketInfo); any other name is the clean driver.
 */
#include <ndis.h>

#define LOOP_SLOTS 16
#define SLOT_BYTES 2048
#define MAP_REGISTERS 8
#define REG_IMC 0x00D8

typedef struct _LOOP_ADAPTER {
    NDIS_HANDLE Handle;
    PUCHAR Registers;
    ULONG RegistersLength;
    NDIS_HANDLE PacketPool;
    NDIS_HANDLE BufferPool;
    PUCHAR Frames;                       /* LOOP_SLOTS receive slots, NdisAllocateMemory */
    PNDIS_PACKET Packets[LOOP_SLOTS];
    PNDIS_BUFFER Buffers[LOOP_SLOTS];
    BOOLEAN Held[LOOP_SLOTS];
    ULONG NextSlot;
    ULONG PacketFilter;
    ULONG Ticks;
    ULONG Mapped;
    NDIS_MINIPORT_INTERRUPT Interrupt;
    NDIS_MINIPORT_TIMER Timer;
    BOOLEAN InterruptRegistered;
    BOOLEAN MapRegisters;
    UCHAR Mac[6];
} LOOP_ADAPTER, *PLOOP_ADAPTER;

static NDIS_HANDLE WrapperHandle;
static WCHAR Scenario[16];

static BOOLEAN Is(const WCHAR *Name)
{
    ULONG i;
    for (i = 0; Name[i] != 0 || Scenario[i] != 0; i++) {
        if (Name[i] != Scenario[i]) return FALSE;
    }
    return TRUE;
}
static const NDIS_PHYSICAL_ADDRESS AnyAddress = { .QuadPart = -1 };

static void Release(PLOOP_ADAPTER a)
{
    ULONG i;
    if (a->InterruptRegistered) NdisMDeregisterInterrupt(&a->Interrupt);
    for (i = 0; i < LOOP_SLOTS; i++) {
        if (a->Packets[i] != NULL) {
            PNDIS_BUFFER b;
            NdisUnchainBufferAtFront(a->Packets[i], &b);
            NdisFreePacket(a->Packets[i]);
        }
        if (a->Buffers[i] != NULL) NdisFreeBuffer(a->Buffers[i]);
    }
    if (a->MapRegisters) NdisMFreeMapRegisters(a->Handle);
    if (a->Frames != NULL) NdisFreeMemory(a->Frames, LOOP_SLOTS * SLOT_BYTES, 0);
    if (a->BufferPool != NULL) NdisFreeBufferPool(a->BufferPool);
    if (a->PacketPool != NULL) NdisFreePacketPool(a->PacketPool);
    if (a->Registers != NULL) NdisMUnmapIoSpace(a->Handle, a->Registers, a->RegistersLength);
    NdisFreeMemory(a, sizeof(*a), 0);
}

static void Tick(PVOID SystemSpecific1, PVOID FunctionContext, PVOID SystemSpecific2, PVOID SystemSpecific3)
{
    ((PLOOP_ADAPTER)FunctionContext)->Ticks++;
}

static NDIS_STATUS SetUp(PLOOP_ADAPTER a, NDIS_HANDLE Configuration)
{
    NDIS_STATUS status;
    UCHAR listBuffer[256];
    PNDIS_RESOURCE_LIST list = (PNDIS_RESOURCE_LIST)listBuffer;
    UINT size = sizeof(listBuffer);
    ULONG i, vector = 0, level = 0;
    NDIS_HANDLE config;
    PVOID address;
    UINT addressLength;

    NdisMSetAttributesEx(a->Handle, a, 0, NDIS_ATTRIBUTE_BUS_MASTER | NDIS_ATTRIBUTE_DESERIALIZE, NdisInterfacePci);

    NdisOpenConfiguration(&status, &config, Configuration);
    if (status != NDIS_STATUS_SUCCESS) return status;
    NdisReadNetworkAddress(&status, &address, &addressLength, config);
    if (status == NDIS_STATUS_SUCCESS && addressLength == 6) NdisMoveMemory(a->Mac, address, 6);
    NdisCloseConfiguration(config);

    NdisMQueryAdapterResources(&status, Configuration, list, &size);
    if (status != NDIS_STATUS_SUCCESS) return status;
    for (i = 0; i < list->Count; i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR d = &list->PartialDescriptors[i];
        if (d->Type == CmResourceTypeMemory && a->Registers == NULL) {
            a->RegistersLength = d->u.Memory.Length;
            status = NdisMMapIoSpace((PVOID *)&a->Registers, a->Handle, d->u.Memory.Start, d->u.Memory.Length);
            if (status != NDIS_STATUS_SUCCESS) return status;
        } else if (d->Type == CmResourceTypeInterrupt) {
            vector = d->u.Interrupt.Vector;
            level = d->u.Interrupt.Level;
        }
    }
    if (a->Registers == NULL) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    NdisWriteRegisterUlong(a->Registers + REG_IMC, 0xFFFFFFFF);

    if (Is(L"sg-dma")) {
        status = NdisMInitializeScatterGatherDma(a->Handle, FALSE, SLOT_BYTES);
        if (status != NDIS_STATUS_SUCCESS) return status;
    } else {
        status = NdisMAllocateMapRegisters(a->Handle, 0, NDIS_DMA_32BITS, MAP_REGISTERS, SLOT_BYTES);
        if (status != NDIS_STATUS_SUCCESS) return status;
        a->MapRegisters = TRUE;
    }

    NdisAllocatePacketPool(&status, &a->PacketPool, LOOP_SLOTS, 0);
    if (status != NDIS_STATUS_SUCCESS) return status;
    NdisAllocateBufferPool(&status, &a->BufferPool, LOOP_SLOTS);
    if (status != NDIS_STATUS_SUCCESS) return status;
    status = NdisAllocateMemory((PVOID *)&a->Frames, LOOP_SLOTS * SLOT_BYTES, 0, AnyAddress);
    if (status != NDIS_STATUS_SUCCESS) return status;
    for (i = 0; i < LOOP_SLOTS; i++) {
        NdisAllocateBuffer(&status, &a->Buffers[i], a->BufferPool, a->Frames + i * SLOT_BYTES, SLOT_BYTES);
        if (status != NDIS_STATUS_SUCCESS) return status;
        NdisAllocatePacket(&status, &a->Packets[i], a->PacketPool);
        if (status != NDIS_STATUS_SUCCESS) return status;
        NdisChainBufferAtFront(a->Packets[i], a->Buffers[i]);
        *(ULONG *)a->Packets[i]->MiniportReservedEx = i;
        if (!Is(L"no-header-size")) NDIS_SET_PACKET_HEADER_SIZE(a->Packets[i], 14);
    }

    status = NdisMRegisterInterrupt(&a->Interrupt, a->Handle, vector, level, TRUE, TRUE, NdisInterruptLevelSensitive);
    if (status != NDIS_STATUS_SUCCESS) return status;
    a->InterruptRegistered = TRUE;
    NdisMInitializeTimer(&a->Timer, a->Handle, Tick, a);
    NdisMSetPeriodicTimer(&a->Timer, 100);
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS LoopInitialize(PNDIS_STATUS OpenErrorStatus, PUINT SelectedMediumIndex, PNDIS_MEDIUM MediumArray, UINT MediumArraySize,
                                  NDIS_HANDLE MiniportAdapterHandle, NDIS_HANDLE WrapperConfigurationContext)
{
    UINT i;
    PLOOP_ADAPTER a;
    NDIS_STATUS status;
    for (i = 0; i < MediumArraySize && MediumArray[i] != NdisMedium802_3; i++) {}
    if (i == MediumArraySize) return NDIS_STATUS_UNSUPPORTED_MEDIA;
    *SelectedMediumIndex = i;
    status = NdisAllocateMemory((PVOID *)&a, sizeof(*a), 0, AnyAddress);
    if (status != NDIS_STATUS_SUCCESS) return status;
    NdisZeroMemory(a, sizeof(*a));
    a->Handle = MiniportAdapterHandle;
    a->Mac[0] = 0x02;
    a->Mac[5] = 0x01;
    status = SetUp(a, WrapperConfigurationContext);
    if (status != NDIS_STATUS_SUCCESS) Release(a);
    return status;
}

static void LoopHalt(NDIS_HANDLE MiniportAdapterContext)
{
    PLOOP_ADAPTER a = MiniportAdapterContext;
    BOOLEAN cancelled;
    NdisMCancelTimer(&a->Timer, &cancelled);
    Release(a);
}

static NDIS_STATUS Answer(PVOID Buffer, ULONG Length, const void *Data, ULONG Size, PULONG BytesWritten, PULONG BytesNeeded)
{
    if (Length < Size) {
        *BytesNeeded = Size;
        return NDIS_STATUS_INVALID_LENGTH;
    }
    NdisMoveMemory(Buffer, Data, Size);
    *BytesWritten = Size;
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS LoopQuery(NDIS_HANDLE Context, NDIS_OID Oid, PVOID Buffer, ULONG Length, PULONG BytesWritten, PULONG BytesNeeded)
{
    PLOOP_ADAPTER a = Context;
    ULONG value;
    switch (Oid) {
    case OID_GEN_MAXIMUM_SEND_PACKETS: value = MAP_REGISTERS; break;
    case OID_GEN_MAC_OPTIONS: value = NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA | NDIS_MAC_OPTION_TRANSFERS_NOT_PEND | NDIS_MAC_OPTION_NO_LOOPBACK; break;
    case OID_GEN_MAXIMUM_LOOKAHEAD: case OID_GEN_MAXIMUM_FRAME_SIZE: value = 1500; break;
    case OID_GEN_MAXIMUM_TOTAL_SIZE: value = 1514; break;
    case OID_GEN_LINK_SPEED: value = 10000000; break;
    case OID_GEN_MEDIA_CONNECT_STATUS: value = NdisMediaStateConnected; break;
    case OID_GEN_CURRENT_PACKET_FILTER: value = a->PacketFilter; break;
    case OID_802_3_CURRENT_ADDRESS: case OID_802_3_PERMANENT_ADDRESS:
        return Answer(Buffer, Length, a->Mac, 6, BytesWritten, BytesNeeded);
    default: return NDIS_STATUS_NOT_SUPPORTED;
    }
    return Answer(Buffer, Length, &value, sizeof(value), BytesWritten, BytesNeeded);
}

static NDIS_STATUS LoopSet(NDIS_HANDLE Context, NDIS_OID Oid, PVOID Buffer, ULONG Length, PULONG BytesRead, PULONG BytesNeeded)
{
    PLOOP_ADAPTER a = Context;
    switch (Oid) {
    case OID_GEN_CURRENT_PACKET_FILTER:
        if (Length < 4) { *BytesNeeded = 4; return NDIS_STATUS_INVALID_LENGTH; }
        a->PacketFilter = *(PULONG)Buffer;
        *BytesRead = 4;
        return NDIS_STATUS_SUCCESS;
    case OID_GEN_CURRENT_LOOKAHEAD:
        *BytesRead = Length;
        return NDIS_STATUS_SUCCESS;
    case OID_802_3_MULTICAST_LIST:
        *BytesRead = Length;
        return NDIS_STATUS_SUCCESS;
    default:
        return NDIS_STATUS_NOT_SUPPORTED;
    }
}

static NDIS_STATUS LoopReset(PBOOLEAN AddressingReset, NDIS_HANDLE Context)
{
    *AddressingReset = FALSE;
    return NDIS_STATUS_SUCCESS;
}

static void LoopIsr(PBOOLEAN InterruptRecognized, PBOOLEAN QueueMiniportHandleInterrupt, NDIS_HANDLE Context)
{
    *InterruptRecognized = FALSE;
    *QueueMiniportHandleInterrupt = FALSE;
}

static void LoopHandleInterrupt(NDIS_HANDLE Context) {}

/* With scatter/gather DMA: NDIS's list covers the whole packet, every element within 32 address lines. */
static BOOLEAN CheckScatterGather(PNDIS_PACKET Packet, UINT Length)
{
    PSCATTER_GATHER_LIST sgl = NDIS_PER_PACKET_INFO_FROM_PACKET(Packet, ScatterGatherListPacketInfo);
    ULONG i, total = 0;
    if (sgl == NULL || sgl->NumberOfElements == 0) return FALSE;
    for (i = 0; i < sgl->NumberOfElements; i++) {
        if (sgl->Elements[i].Address.HighPart != 0) return FALSE;
        total += sgl->Elements[i].Length;
    }
    return total == Length;
}

/* Maps every buffer of a send for the device (as a bus master would before DMA) and gives the mapping back. */
static BOOLEAN MapForDevice(PLOOP_ADAPTER a, PNDIS_PACKET Packet)
{
    PNDIS_BUFFER b;
    UINT count, length;
    NdisQueryPacket(Packet, NULL, &count, &b, &length);
    if (!a->MapRegisters) return CheckScatterGather(Packet, length);
    for (; b != NULL; NdisGetNextBuffer(b, &b)) {
        NDIS_PHYSICAL_ADDRESS_UNIT units[4];
        UINT n = 0;
        if (NdisBufferLength(b) == 0) continue;
        NdisMStartBufferPhysicalMapping(a->Handle, b, 0, TRUE, units, &n);
        if (n == 0 || units[0].Length == 0) return FALSE;
        a->Mapped += n;
        NdisMCompleteBufferPhysicalMapping(a->Handle, b, 0);
    }
    return TRUE;
}

/* Copies a sent packet into a free receive slot; the slot's index, or LOOP_SLOTS when none is free. */
static ULONG CopyToSlot(PLOOP_ADAPTER a, PNDIS_PACKET Packet, PUINT Length)
{
    ULONG slot, tries;
    PNDIS_BUFFER b;
    PUCHAR to;
    UINT total = 0;
    for (tries = 0; tries < LOOP_SLOTS; tries++) {
        slot = (a->NextSlot + tries) % LOOP_SLOTS;
        if (!a->Held[slot]) break;
    }
    if (tries == LOOP_SLOTS) return LOOP_SLOTS;
    a->NextSlot = (slot + 1) % LOOP_SLOTS;
    to = a->Frames + slot * SLOT_BYTES;
    NdisQueryPacket(Packet, NULL, NULL, &b, NULL);
    for (; b != NULL; NdisGetNextBuffer(b, &b)) {
        PVOID va;
        UINT n;
        NdisQueryBufferSafe(b, &va, &n, NormalPagePriority);
        /* The buffer descriptor is an MDL in memory: MmGetMdlVirtualAddress agrees with NDIS. */
        if (va == NULL || va != MmGetMdlVirtualAddress(b) || total + n > SLOT_BYTES) return LOOP_SLOTS;
        NdisMoveMemory(to + total, va, n);
        total += n;
    }
    *Length = total;
    return slot;
}

static void LoopSendPackets(NDIS_HANDLE Context, PPNDIS_PACKET PacketArray, UINT NumberOfPackets)
{
    PLOOP_ADAPTER a = Context;
    UINT i;
    for (i = 0; i < NumberOfPackets; i++) {
        PNDIS_PACKET p = PacketArray[i];
        UINT length = 0;
        ULONG slot;
        NDIS_SET_PACKET_STATUS(p, NDIS_STATUS_PENDING);
        if (!MapForDevice(a, p)) {
            NdisMSendComplete(a->Handle, p, NDIS_STATUS_FAILURE);
            continue;
        }
        slot = CopyToSlot(a, p, &length);
        /* The mistake: the adapter context is no packet descriptor. */
        NdisMSendComplete(a->Handle, Is(L"wild-packet") ? (PNDIS_PACKET)a : p, NDIS_STATUS_SUCCESS);
        if (slot == LOOP_SLOTS) continue;
        {
            PNDIS_PACKET r = a->Packets[slot];
            ULONG k, held = 0;
            for (k = 0; k < LOOP_SLOTS; k++) held += a->Held[k];
            NdisAdjustBufferLength(a->Buffers[slot], length);
            NdisRecalculatePacketCounts(r);
            /* Few slots left: NDIS_STATUS_RESOURCES, so the protocol copies the frame and gives the packet back at once. */
            NDIS_SET_PACKET_STATUS(r, LOOP_SLOTS - held < 4 ? NDIS_STATUS_RESOURCES : NDIS_STATUS_SUCCESS);
            NdisMIndicateReceivePacket(a->Handle, &r, 1);
            /* PENDING after the call: the protocol keeps the packet until MiniportReturnPacket. */
            if (NDIS_GET_PACKET_STATUS(r) == NDIS_STATUS_PENDING) a->Held[slot] = TRUE;
        }
    }
}

static void LoopReturnPacket(NDIS_HANDLE Context, PNDIS_PACKET Packet)
{
    PLOOP_ADAPTER a = Context;
    ULONG slot = *(ULONG *)Packet->MiniportReservedEx;
    if (slot < LOOP_SLOTS && a->Packets[slot] == Packet) a->Held[slot] = FALSE;
}

static void LoopShutdown(PVOID Context)
{
    PLOOP_ADAPTER a = Context;
    NdisWriteRegisterUlong(a->Registers + REG_IMC, 0xFFFFFFFF);
}

static void LoopPnP(NDIS_HANDLE Context, NDIS_DEVICE_PNP_EVENT Event, PVOID Buffer, ULONG Length) {}

static void LoopCancel(NDIS_HANDLE Context, PVOID CancelId) {}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NDIS_MINIPORT_CHARACTERISTICS chars;
    NDIS_STATUS status;
    ULONG length = RegistryPath->Length / sizeof(WCHAR), start = length, i;
    /* The scenario is the registry path's last component (the driver's name). */
    while (start > 0 && RegistryPath->Buffer[start - 1] != L'\\') start--;
    for (i = 0; i + start < length && i < 15; i++) Scenario[i] = RegistryPath->Buffer[start + i];
    NdisMInitializeWrapper(&WrapperHandle, DriverObject, RegistryPath, NULL);
    if (WrapperHandle == NULL) return NDIS_STATUS_FAILURE;
    NdisZeroMemory(&chars, sizeof(chars));
    chars.MajorNdisVersion = 5;
    chars.MinorNdisVersion = 1;
    chars.InitializeHandler = LoopInitialize;
    chars.HaltHandler = LoopHalt;
    chars.QueryInformationHandler = LoopQuery;
    chars.SetInformationHandler = LoopSet;
    chars.ResetHandler = LoopReset;
    chars.ISRHandler = LoopIsr;
    chars.HandleInterruptHandler = LoopHandleInterrupt;
    chars.SendPacketsHandler = LoopSendPackets;
    chars.ReturnPacketHandler = LoopReturnPacket;
    chars.AdapterShutdownHandler = LoopShutdown;
    chars.PnPEventNotifyHandler = LoopPnP;
    chars.CancelSendPacketsHandler = LoopCancel;
    status = NdisMRegisterMiniport(WrapperHandle, &chars, sizeof(chars));
    if (status != NDIS_STATUS_SUCCESS) NdisTerminateWrapper(WrapperHandle, NULL);
    return status;
}
