/*
 * MiniportInitializeEx, in the order Microsoft recommends: the adapter context and the driver's
 * own tables (NdisAllocateMemoryWithTagPriority), the NBL pool, the register window,
 * scatter/gather DMA registration as a 32-bit bus master, rings and receive buffers in shared
 * memory (falling back to smaller rings when a large allocation fails, S07), the interrupt, then
 * the hardware. Every failure unwinds what was done (E1000Release in halt.c).
 */
#include "e1000.h"

static NDIS_STATUS SetUp(PADAPTER Adapter, PNDIS_MINIPORT_INIT_PARAMETERS Parameters);

NDIS_STATUS E1000InitializeEx(NDIS_HANDLE MiniportAdapterHandle, NDIS_HANDLE MiniportDriverContext,
                              PNDIS_MINIPORT_INIT_PARAMETERS MiniportInitParameters)
{
    PADAPTER adapter;
    NDIS_STATUS status;
    UNREFERENCED_PARAMETER(MiniportDriverContext);

    adapter = NdisAllocateMemoryWithTagPriority(MiniportAdapterHandle, sizeof(ADAPTER), TAG_ADAPTER, NormalPoolPriority);
    if (adapter == NULL) return NDIS_STATUS_RESOURCES;
    NdisZeroMemory(adapter, sizeof(*adapter));
    adapter->Handle = MiniportAdapterHandle;
    adapter->Memory = E1000AdapterMemory;
    adapter->Paused = TRUE;
    status = SetUp(adapter, MiniportInitParameters);
    /* The device was reset early in SetUp and is started only by its last step, so on failure
       there is no DMA to stop: give back what was allocated. */
    if (status != NDIS_STATUS_SUCCESS) E1000Release(adapter);
    return status;
}

static NDIS_STATUS SetRegistrationAttributes(PADAPTER Adapter)
{
    NDIS_MINIPORT_ADAPTER_ATTRIBUTES attributes;
    NdisZeroMemory(&attributes, sizeof(attributes));
    attributes.RegistrationAttributes.Header.Type = NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES;
    attributes.RegistrationAttributes.Header.Revision = NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1;
    attributes.RegistrationAttributes.Header.Size = NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1;
    attributes.RegistrationAttributes.MiniportAdapterContext = Adapter;
    attributes.RegistrationAttributes.AttributeFlags = NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE | NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER;
    attributes.RegistrationAttributes.CheckForHangTimeInSeconds = 0;
    attributes.RegistrationAttributes.InterfaceType = NdisInterfacePci;
    return NdisMSetMiniportAttributes(Adapter->Handle, &attributes);
}

static NDIS_STATUS SetGeneralAttributes(PADAPTER Adapter)
{
    NDIS_MINIPORT_ADAPTER_ATTRIBUTES attributes;
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
    attributes.GeneralAttributes.MediaConnectState = MediaConnectStateConnected;
    attributes.GeneralAttributes.MediaDuplexState = MediaDuplexStateFull;
    attributes.GeneralAttributes.LookaheadSize = 1500;
    attributes.GeneralAttributes.MacAddressLength = 6;
    NdisMoveMemory(attributes.GeneralAttributes.PermanentMacAddress, Adapter->Mac, 6);
    NdisMoveMemory(attributes.GeneralAttributes.CurrentMacAddress, Adapter->Mac, 6);
    attributes.GeneralAttributes.SupportedPacketFilters = SUPPORTED_PACKET_FILTERS;
    attributes.GeneralAttributes.MaxMulticastListSize = MAX_MULTICAST;
    attributes.GeneralAttributes.AccessType = NET_IF_ACCESS_BROADCAST;
    attributes.GeneralAttributes.DirectionType = NET_IF_DIRECTION_SENDRECEIVE;
    attributes.GeneralAttributes.ConnectionType = NET_IF_CONNECTION_DEDICATED;
    attributes.GeneralAttributes.IfType = IF_TYPE_ETHERNET_CSMACD;
    attributes.GeneralAttributes.IfConnectorPresent = TRUE;
    return NdisMSetMiniportAttributes(Adapter->Handle, &attributes);
}

/* Masks every cause, resets the NIC and clears what was pending (manual 14.3: CTRL.RST). */
static void ResetDevice(PADAPTER Adapter)
{
    E1000Write(Adapter, E1000_IMC, 0xFFFFFFFF);
    E1000Write(Adapter, E1000_CTRL, E1000Read(Adapter, E1000_CTRL) | CTRL_RST);
    E1000Write(Adapter, E1000_IMC, 0xFFFFFFFF);
    (void)E1000Read(Adapter, E1000_ICR);
}

/* The permanent address from EEPROM words 0..2 through EERD (manual 13.4.4). */
static void ReadMac(PADAPTER Adapter)
{
    ULONG word, spin, value;
    for (word = 0; word < 3; word++) {
        E1000Write(Adapter, E1000_EERD, (word << 8) | EERD_START);
        value = E1000Read(Adapter, E1000_EERD);
        for (spin = 0; (value & EERD_DONE) == 0 && spin < 1000; spin++) value = E1000Read(Adapter, E1000_EERD);
        Adapter->Mac[word * 2] = (UCHAR)(value >> 16);
        Adapter->Mac[word * 2 + 1] = (UCHAR)(value >> 24);
    }
}

/* The register window is the adapter's memory resource (BAR0). */
static NDIS_STATUS MapRegisters(PADAPTER Adapter, PNDIS_RESOURCE_LIST Resources)
{
    ULONG i;
    for (i = 0; i < Resources->Count; i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR d = &Resources->PartialDescriptors[i];
        if (d->Type != CmResourceTypeMemory) continue;
        Adapter->RegistersLength = d->u.Memory.Length;
        return NdisMMapIoSpace((PVOID *)&Adapter->Registers, Adapter->Handle, d->u.Memory.Start, d->u.Memory.Length);
    }
    return NDIS_STATUS_ADAPTER_NOT_FOUND;
}

/* Rings and the driver's tracking tables, trying smaller rings when memory is short (S07). */
static NDIS_STATUS AllocateRings(PADAPTER Adapter)
{
    const E1000_MEMORY *mem = Adapter->Memory;
    ULONG count;
    for (count = RING_SIZE_LARGEST; count >= RING_SIZE_SMALLEST; count /= 2) {
        ULONG bytes = count * sizeof(E1000_TX_DESC);
        PVOID tx = mem->AllocateShared(Adapter, bytes, FALSE, &Adapter->TxRingLogical);
        PVOID rx;
        if (tx == NULL) continue;
        rx = mem->AllocateShared(Adapter, bytes, FALSE, &Adapter->RxRingLogical);
        if (rx == NULL) {
            mem->FreeShared(Adapter, bytes, FALSE, tx, Adapter->TxRingLogical);
            continue;
        }
        Adapter->TxRing = tx;
        Adapter->RxRing = rx;
        Adapter->TxCount = count;
        Adapter->RxCount = count;
        break;
    }
    if (Adapter->TxCount == 0) return NDIS_STATUS_RESOURCES;
    NdisZeroMemory(Adapter->TxRing, Adapter->TxCount * sizeof(E1000_TX_DESC));
    NdisZeroMemory(Adapter->RxRing, Adapter->RxCount * sizeof(E1000_RX_DESC));
    Adapter->TxFree = Adapter->TxCount;

    Adapter->TxTable = mem->AllocateTable(Adapter, Adapter->TxCount * sizeof(TX_ENTRY));
    if (Adapter->TxTable == NULL) return NDIS_STATUS_RESOURCES;
    NdisZeroMemory(Adapter->TxTable, Adapter->TxCount * sizeof(TX_ENTRY));
    Adapter->RxTable = mem->AllocateTable(Adapter, Adapter->RxCount * sizeof(RX_ENTRY));
    if (Adapter->RxTable == NULL) return NDIS_STATUS_RESOURCES;
    NdisZeroMemory(Adapter->RxTable, Adapter->RxCount * sizeof(RX_ENTRY));
    return NDIS_STATUS_SUCCESS;
}

/* Room for every receive buffer: one shared-memory block if the system has it, else a page (two
   buffers) at a time, the smaller-blocks fallback of S07. Each block is recorded as soon as it
   is allocated, so a failure part-way leaves exactly what must be freed. */
static BOOLEAN AllocateRxBlocks(PADAPTER Adapter)
{
    const E1000_MEMORY *mem = Adapter->Memory;
    ULONG total = Adapter->RxCount * RX_BUFFER_SIZE;
    ULONG done;
    RX_BLOCK *block = &Adapter->RxBlocks[0];
    block->Va = mem->AllocateShared(Adapter, total, TRUE, &block->Logical);
    if (block->Va != NULL) {
        block->Length = total;
        Adapter->RxBlockCount = 1;
        return TRUE;
    }
    for (done = 0; done < total; done += PAGE_SIZE) {
        block = &Adapter->RxBlocks[Adapter->RxBlockCount];
        block->Va = mem->AllocateShared(Adapter, PAGE_SIZE, TRUE, &block->Logical);
        if (block->Va == NULL) return FALSE;
        block->Length = PAGE_SIZE;
        Adapter->RxBlockCount++;
    }
    return TRUE;
}

/* Each receive buffer gets an MDL and a pre-built NBL for indications, and is posted. */
static NDIS_STATUS AllocateReceiveBuffers(PADAPTER Adapter)
{
    ULONG i, b = 0, offset = 0;
    if (!AllocateRxBlocks(Adapter)) return NDIS_STATUS_RESOURCES;
    for (i = 0; i < Adapter->RxCount; i++) {
        PRX_ENTRY entry = &Adapter->RxTable[i];
        if (offset >= Adapter->RxBlocks[b].Length) {
            b++;
            offset = 0;
        }
        entry->Buffer = Adapter->RxBlocks[b].Va + offset;
        entry->Logical.QuadPart = Adapter->RxBlocks[b].Logical.QuadPart + offset;
        offset += RX_BUFFER_SIZE;
        entry->Mdl = NdisAllocateMdl(Adapter->Handle, entry->Buffer, RX_BUFFER_SIZE);
        if (entry->Mdl == NULL) return NDIS_STATUS_RESOURCES;
        entry->Nbl = NdisAllocateNetBufferAndNetBufferList(Adapter->NblPool, 0, 0, entry->Mdl, 0, 0);
        if (entry->Nbl == NULL) return NDIS_STATUS_RESOURCES;
        RX_INDEX(entry->Nbl) = i;
        /* Post the buffer: the descriptor holds its logical address; status 0 = the hardware's. */
        Adapter->RxRing[i].BufferAddress = entry->Logical;
    }
    return NDIS_STATUS_SUCCESS;
}

static NDIS_STATUS RegisterInterrupt(PADAPTER Adapter)
{
    NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS irq;
    NdisZeroMemory(&irq, sizeof(irq));
    irq.Header.Type = NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT;
    irq.Header.Revision = NDIS_MINIPORT_INTERRUPT_REVISION_1;
    irq.Header.Size = NDIS_SIZEOF_MINIPORT_INTERRUPT_CHARACTERISTICS_REVISION_1;
    irq.InterruptHandler = E1000Isr;
    irq.InterruptDpcHandler = E1000InterruptDpc;
    return NdisMRegisterInterruptEx(Adapter->Handle, Adapter, &irq, &Adapter->InterruptHandle);
}

static void StartDevice(PADAPTER Adapter)
{
    E1000Write(Adapter, E1000_CTRL, E1000Read(Adapter, E1000_CTRL) | CTRL_SLU);

    E1000Write(Adapter, E1000_TDBAL, Adapter->TxRingLogical.LowPart);
    E1000Write(Adapter, E1000_TDBAH, (ULONG)Adapter->TxRingLogical.HighPart);
    E1000Write(Adapter, E1000_TDLEN, Adapter->TxCount * sizeof(E1000_TX_DESC));
    E1000Write(Adapter, E1000_TDH, 0);
    E1000Write(Adapter, E1000_TDT, 0);
    E1000Write(Adapter, E1000_TCTL, TCTL_EN | TCTL_PSP | TCTL_CT_COLD);

    E1000Write(Adapter, E1000_RDBAL, Adapter->RxRingLogical.LowPart);
    E1000Write(Adapter, E1000_RDBAH, (ULONG)Adapter->RxRingLogical.HighPart);
    E1000Write(Adapter, E1000_RDLEN, Adapter->RxCount * sizeof(E1000_RX_DESC));
    E1000Write(Adapter, E1000_RDH, 0);
    /* All but one descriptor to the hardware: head == tail means empty. */
    Adapter->RxTail = Adapter->RxCount - 1;
    E1000Write(Adapter, E1000_RDT, Adapter->RxTail);
    /* The receiver on with the station address only: the packet filter is zero until the protocol
       sets it (filter.c), and the DPC indicates nothing until then. */
    E1000ApplyReceiveFilter(Adapter);

    E1000Write(Adapter, E1000_ITR, ITR_COALESCE);
    E1000Write(Adapter, E1000_IMS, IMS_ENABLE);
    Adapter->LinkUp = (E1000Read(Adapter, E1000_STATUS) & STATUS_LU) != 0;
}

static NDIS_STATUS SetUp(PADAPTER Adapter, PNDIS_MINIPORT_INIT_PARAMETERS Parameters)
{
    NET_BUFFER_LIST_POOL_PARAMETERS pool;
    NDIS_STATUS status;

    status = SetRegistrationAttributes(Adapter);
    if (status != NDIS_STATUS_SUCCESS) return status;

    Adapter->Stats = Adapter->Memory->AllocateStatistics(Adapter, sizeof(E1000_STATS));
    if (Adapter->Stats == NULL) return NDIS_STATUS_RESOURCES;

    NdisAllocateSpinLock(&Adapter->Lock);
    Adapter->LockAllocated = TRUE;

    NdisZeroMemory(&pool, sizeof(pool));
    pool.Header.Type = NDIS_OBJECT_TYPE_DEFAULT;
    pool.Header.Revision = NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1;
    pool.Header.Size = NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1;
    pool.ProtocolId = NDIS_PROTOCOL_ID_DEFAULT;
    pool.fAllocateNetBuffer = TRUE;
    pool.PoolTag = TAG_NBL;
    Adapter->NblPool = NdisAllocateNetBufferListPool(Adapter->Handle, &pool);
    if (Adapter->NblPool == NULL) return NDIS_STATUS_RESOURCES;

    status = MapRegisters(Adapter, Parameters->AllocatedResources);
    if (status != NDIS_STATUS_SUCCESS) return status;
    ResetDevice(Adapter);
    ReadMac(Adapter);

    status = Adapter->Memory->EnableDma(Adapter);
    if (status != NDIS_STATUS_SUCCESS) return status;
    status = AllocateRings(Adapter);
    if (status != NDIS_STATUS_SUCCESS) return status;
    status = AllocateReceiveBuffers(Adapter);
    if (status != NDIS_STATUS_SUCCESS) return status;

    status = RegisterInterrupt(Adapter);
    if (status != NDIS_STATUS_SUCCESS) return status;
    status = SetGeneralAttributes(Adapter);
    if (status != NDIS_STATUS_SUCCESS) return status;

    StartDevice(Adapter);
    return NDIS_STATUS_SUCCESS;
}
