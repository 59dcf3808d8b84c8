/*
 * MiniportInitialize, in the order the NDIS 5.1 reference gives it: pick the medium; allocate
 * the context area (NdisAllocateMemory) and hand it to NdisMSetAttributesEx as a deserialized
 * bus master; read the configuration (a "NetworkAddress" override through
 * NdisReadNetworkAddress); check the PCI function (NdisReadPciSlotInformation) and take its
 * resources (NdisMQueryAdapterResources, NdisMMapIoSpace, NdisMRegisterIoPortRange for the I/O
 * BAR, through which it resets the NIC); reserve map registers; packet and buffer pools; the
 * rings and receive buffers in shared memory and the transmit staging area in contiguous
 * noncached memory, each with its smaller-blocks fallback; the interrupt; the watchdog timer;
 * then start the NIC. Every failure unwinds what was done (E1000Release in halt.c).
 */
#include "e1000-ndis5.h"

/* The global reset (CTRL.RST) through the I/O window, IOADDR then IODATA (manual 13.2.2). */
static void ResetThroughPorts(PADAPTER a)
{
    ULONG port = (ULONG)(ULONG_PTR)a->IoPort;
    ULONG ctrl;
    E1000Write(a, E1000_IMC, 0xFFFFFFFF);
    NdisRawWritePortUlong(port + E1000_IOADDR, E1000_CTRL);
    NdisRawReadPortUlong(port + E1000_IODATA, &ctrl);
    NdisRawWritePortUlong(port + E1000_IODATA, ctrl | CTRL_RST);
    E1000Write(a, E1000_IMC, 0xFFFFFFFF);
    (void)E1000Read(a, E1000_ICR);
}

static void ResetDevice(PADAPTER a)
{
    E1000Write(a, E1000_IMC, 0xFFFFFFFF);
    E1000Write(a, E1000_CTRL, E1000Read(a, E1000_CTRL) | CTRL_RST);
    E1000Write(a, E1000_IMC, 0xFFFFFFFF);
    (void)E1000Read(a, E1000_ICR);
}

/* The permanent address from EEPROM words 0..2 through EERD (manual 13.4.4). */
static void ReadMac(PADAPTER a)
{
    ULONG word, spin, value;
    for (word = 0; word < 3; word++) {
        E1000Write(a, E1000_EERD, (word << 8) | EERD_START);
        value = E1000Read(a, E1000_EERD);
        for (spin = 0; (value & EERD_DONE) == 0 && spin < 1000; spin++) value = E1000Read(a, E1000_EERD);
        a->Mac[word * 2] = (UCHAR)(value >> 16);
        a->Mac[word * 2 + 1] = (UCHAR)(value >> 24);
    }
}

/* The registry: a "NetworkAddress" the administrator set (unicast, six bytes) overrides the EEPROM's. */
static NDIS_STATUS ReadConfiguration(PADAPTER a, NDIS_HANDLE WrapperConfigurationContext, BOOLEAN *Override)
{
    NDIS_STATUS status;
    NDIS_HANDLE config;
    PVOID address;
    UINT length;
    *Override = FALSE;
    NdisOpenConfiguration(&status, &config, WrapperConfigurationContext);
    if (status != NDIS_STATUS_SUCCESS) return status;
    NdisReadNetworkAddress(&status, &address, &length, config);
    if (status == NDIS_STATUS_SUCCESS && length == 6 && (((PUCHAR)address)[0] & 1) == 0) {
        NdisMoveMemory(a->Mac, address, 6);
        *Override = TRUE;
    }
    NdisCloseConfiguration(config);
    return NDIS_STATUS_SUCCESS;
}

/* The register window (memory BAR), the I/O BAR when there is one, and the interrupt. */
static NDIS_STATUS TakeResources(PADAPTER a, NDIS_HANDLE WrapperConfigurationContext, PULONG Vector, PULONG Level)
{
    ULONG listBuffer[64];
    PNDIS_RESOURCE_LIST list = (PNDIS_RESOURCE_LIST)listBuffer;
    UINT size = sizeof(listBuffer);
    PCM_PARTIAL_RESOURCE_DESCRIPTOR memory = NULL, port = NULL, interrupt = NULL;
    NDIS_STATUS status;
    ULONG i;
    NdisMQueryAdapterResources(&status, WrapperConfigurationContext, list, &size);
    if (status != NDIS_STATUS_SUCCESS) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    for (i = 0; i < list->Count; i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR d = &list->PartialDescriptors[i];
        if (d->Type == CmResourceTypeMemory && memory == NULL) memory = d;
        else if (d->Type == CmResourceTypePort && port == NULL) port = d;
        else if (d->Type == CmResourceTypeInterrupt && interrupt == NULL) interrupt = d;
    }
    if (memory == NULL || interrupt == NULL) return NDIS_STATUS_ADAPTER_NOT_FOUND;
    status = NdisMMapIoSpace((PVOID *)&a->Registers, a->Handle, memory->u.Memory.Start, memory->u.Memory.Length);
    if (status != NDIS_STATUS_SUCCESS) return status;
    a->RegistersLength = memory->u.Memory.Length;
    if (port != NULL) {
        status = NdisMRegisterIoPortRange(&a->IoPort, a->Handle, port->u.Port.Start.LowPart, port->u.Port.Length);
        if (status != NDIS_STATUS_SUCCESS) return status;
        a->IoPortFirst = port->u.Port.Start.LowPart;
        a->IoPorts = port->u.Port.Length;
    }
    *Vector = interrupt->u.Interrupt.Vector;
    *Level = interrupt->u.Interrupt.Level;
    return NDIS_STATUS_SUCCESS;
}

/* The two descriptor rings in shared memory, trying smaller rings when memory is short (S07). */
static NDIS_STATUS AllocateRings(PADAPTER a)
{
    ULONG count;
    for (count = RING_SIZE_LARGEST; count >= RING_SIZE_SMALLEST && a->RingCount == 0; count /= 2) {
        ULONG bytes = count * sizeof(E1000_TX_DESC);
        a->TxRing = E1000AllocateShared(a, bytes, FALSE, &a->TxRingLogical);
        if (a->TxRing == NULL) continue;
        a->RxRing = E1000AllocateShared(a, bytes, FALSE, &a->RxRingLogical);
        if (a->RxRing == NULL) {
            NdisMFreeSharedMemory(a->Handle, bytes, FALSE, a->TxRing, a->TxRingLogical);
            a->TxRing = NULL;
            continue;
        }
        a->RingCount = count;
    }
    if (a->RingCount == 0) return NDIS_STATUS_RESOURCES;
    NdisZeroMemory(a->TxRing, a->RingCount * sizeof(E1000_TX_DESC));
    NdisZeroMemory(a->RxRing, a->RingCount * sizeof(E1000_RX_DESC));
    a->TxFree = a->RingCount;
    return NDIS_STATUS_SUCCESS;
}

/* Receive buffers in shared memory, one block if the system has it, else a page (two buffers) at a time. */
static BOOLEAN AllocateRxBlocks(PADAPTER a)
{
    ULONG total = a->RingCount * RX_BUFFER_SIZE, done;
    RX_BLOCK *b = &a->RxBlocks[0];
    b->Va = E1000AllocateShared(a, total, TRUE, &b->Logical);
    if (b->Va != NULL) {
        b->Length = total;
        a->RxBlockCount = 1;
        return TRUE;
    }
    for (done = 0; done < total; done += PAGE_SIZE) {
        b = &a->RxBlocks[a->RxBlockCount];
        b->Va = E1000AllocateShared(a, PAGE_SIZE, TRUE, &b->Logical);
        if (b->Va == NULL) return FALSE;
        b->Length = PAGE_SIZE;
        a->RxBlockCount++;
    }
    return TRUE;
}

/* Each receive buffer gets a buffer descriptor and a packet descriptor, and is posted to its descriptor. */
static NDIS_STATUS AllocateReceiveBuffers(PADAPTER a)
{
    ULONG i;
    NDIS_STATUS status;
    if (!AllocateRxBlocks(a)) return NDIS_STATUS_RESOURCES;
    for (i = 0; i < a->RingCount; i++) {
        ULONG offset = i * RX_BUFFER_SIZE, k = 0;
        PUCHAR va;
        PHYSICAL_ADDRESS logical;
        while (offset >= a->RxBlocks[k].Length) offset -= a->RxBlocks[k++].Length;
        va = a->RxBlocks[k].Va + offset;
        logical.QuadPart = a->RxBlocks[k].Logical.QuadPart + offset;
        NdisAllocateBuffer(&status, &a->RxBuffers[i], a->BufferPool, va, RX_BUFFER_SIZE);
        if (status != NDIS_STATUS_SUCCESS) return NDIS_STATUS_RESOURCES;
        NdisAllocatePacket(&status, &a->RxPackets[i], a->PacketPool);
        if (status != NDIS_STATUS_SUCCESS) return NDIS_STATUS_RESOURCES;
        NdisChainBufferAtFront(a->RxPackets[i], a->RxBuffers[i]);
        NDIS_SET_PACKET_HEADER_SIZE(a->RxPackets[i], ETHERNET_HEADER);
        RX_INDEX(a->RxPackets[i]) = i;
        a->RxRing[i].BufferAddress = logical;
    }
    return NDIS_STATUS_SUCCESS;
}

/* Programs the rings and starts both directions (manual 14.5, 14.6). */
static void StartDevice(PADAPTER a)
{
    ULONG i;
    PUCHAR m = a->Mac;
    E1000Write(a, E1000_CTRL, E1000Read(a, E1000_CTRL) | CTRL_SLU);
    E1000Write(a, E1000_RAL0, m[0] | (m[1] << 8) | (m[2] << 16) | ((ULONG)m[3] << 24));
    E1000Write(a, E1000_RAH0, m[4] | (m[5] << 8) | RAH_AV);
    for (i = 0; i < 128; i++) E1000Write(a, E1000_MTA + i * 4, 0);
    E1000Write(a, E1000_TDBAL, a->TxRingLogical.LowPart);
    E1000Write(a, E1000_TDBAH, a->TxRingLogical.HighPart);
    E1000Write(a, E1000_TDLEN, a->RingCount * sizeof(E1000_TX_DESC));
    E1000Write(a, E1000_TDH, 0);
    E1000Write(a, E1000_TDT, 0);
    E1000Write(a, E1000_TCTL, TCTL_EN | TCTL_PSP | TCTL_CT_COLD);
    E1000Write(a, E1000_RDBAL, a->RxRingLogical.LowPart);
    E1000Write(a, E1000_RDBAH, a->RxRingLogical.HighPart);
    E1000Write(a, E1000_RDLEN, a->RingCount * sizeof(E1000_RX_DESC));
    E1000Write(a, E1000_RDH, 0);
    /* All but one descriptor to the hardware: head == tail means empty. The last is the spare. */
    for (i = 0; i < a->RingCount; i++) a->RxReady[i] = FALSE;
    a->RxReady[a->RingCount - 1] = TRUE;
    a->RxNext = 0;
    a->RxTail = a->RingCount - 1;
    E1000Write(a, E1000_RDT, a->RxTail);
    E1000Write(a, E1000_RCTL, RCTL_EN | RCTL_BAM | RCTL_BSIZE_2048 | RCTL_SECRC);
    E1000Write(a, E1000_ITR, ITR_COALESCE);
    E1000Write(a, E1000_IMS, IMS_ENABLE);
    a->LinkUp = (E1000Read(a, E1000_STATUS) & STATUS_LU) != 0;
}

static NDIS_STATUS SetUp(PADAPTER a, NDIS_HANDLE WrapperConfigurationContext)
{
    NDIS_STATUS status;
    UCHAR id[4];
    ULONG vector = 0, level = 0, i;
    BOOLEAN overridden;

    /* Seed 000: the context area from NdisAllocateMemory goes to NdisMSetAttributesEx. */
    NdisMSetAttributesEx(a->Handle, a, 0, NDIS_ATTRIBUTE_BUS_MASTER | NDIS_ATTRIBUTE_DESERIALIZE, NdisInterfacePci);
    NdisAllocateSpinLock(&a->Lock);
    a->LockAllocated = TRUE;

    status = ReadConfiguration(a, WrapperConfigurationContext, &overridden);
    if (status != NDIS_STATUS_SUCCESS) return status;
    if (NdisReadPciSlotInformation(a->Handle, 0, 0, id, 4) != 4 || (id[0] | (id[1] << 8)) != VENDOR_INTEL || (id[2] | (id[3] << 8)) != DEVICE_82540EM)
        return NDIS_STATUS_ADAPTER_NOT_FOUND;
    status = TakeResources(a, WrapperConfigurationContext, &vector, &level);
    if (status != NDIS_STATUS_SUCCESS) return status;
    if (a->IoPort != NULL) ResetThroughPorts(a);
    else ResetDevice(a);
    if (!overridden) ReadMac(a);

    /* A 32-bit bus master: one map register per buffer in flight, each a whole frame. */
    status = NdisMAllocateMapRegisters(a->Handle, 0, NDIS_DMA_32BITS, MAP_REGISTERS, MAXIMUM_PHYSICAL_MAPPING);
    if (status != NDIS_STATUS_SUCCESS) return status;
    a->MapRegisters = TRUE;
    for (i = 0; i < MAP_REGISTERS; i++) a->FreeRegisters[i] = MAP_REGISTERS - 1 - i;
    a->FreeRegisterCount = MAP_REGISTERS;

    NdisAllocatePacketPool(&status, &a->PacketPool, RING_SIZE_LARGEST, 0);
    if (status != NDIS_STATUS_SUCCESS) return status;
    NdisAllocateBufferPool(&status, &a->BufferPool, RING_SIZE_LARGEST * 2);
    if (status != NDIS_STATUS_SUCCESS) return status;
    status = AllocateRings(a);
    if (status != NDIS_STATUS_SUCCESS) return status;
    status = AllocateReceiveBuffers(a);
    if (status != NDIS_STATUS_SUCCESS) return status;
    if (!E1000AllocateStaging(a)) return NDIS_STATUS_RESOURCES;

    status = NdisMRegisterInterrupt(&a->Interrupt, a->Handle, vector, level, TRUE, TRUE, NdisInterruptLevelSensitive);
    if (status != NDIS_STATUS_SUCCESS) return status;
    a->InterruptRegistered = TRUE;
    NdisMInitializeTimer(&a->Watchdog, a->Handle, E1000Watchdog, a);
    a->TimerInitialized = TRUE;

    StartDevice(a);
    NdisMSetPeriodicTimer(&a->Watchdog, WATCHDOG_MS);
    return NDIS_STATUS_SUCCESS;
}

NDIS_STATUS E1000Initialize(PNDIS_STATUS OpenErrorStatus, PUINT SelectedMediumIndex, PNDIS_MEDIUM MediumArray, UINT MediumArraySize,
                            NDIS_HANDLE MiniportAdapterHandle, NDIS_HANDLE WrapperConfigurationContext)
{
    UINT i;
    PADAPTER a;
    NDIS_STATUS status;
    UNREFERENCED_PARAMETER(OpenErrorStatus);
    for (i = 0; i < MediumArraySize && MediumArray[i] != NdisMedium802_3; i++) {}
    if (i == MediumArraySize) return NDIS_STATUS_UNSUPPORTED_MEDIA;
    *SelectedMediumIndex = i;
    a = E1000AllocateContext();
    if (a == NULL) return NDIS_STATUS_RESOURCES;
    a->Handle = MiniportAdapterHandle;
    status = SetUp(a, WrapperConfigurationContext);
    /* The NIC is reset early and started only by the last step: on failure there is no DMA to stop. */
    if (status != NDIS_STATUS_SUCCESS) E1000Release(a);
    return status;
}
