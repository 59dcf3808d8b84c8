/*
 * Where the adapter's memory comes from, as seed document 000 and the NDIS 5.1 reference say:
 *  - the context area: NdisAllocateMemory, flags 0 (any NDIS driver may), handed to
 *    NdisMSetAttributesEx (init.c), freed last with the same flags (halt.c);
 *  - the descriptor rings and the receive buffers, which the NIC reads and writes while the
 *    driver does: shared memory (NdisMAllocateSharedMemory "allocates and maps a host memory
 *    range so that the memory range is simultaneously accessible from both the host system and
 *    a DMA NIC"). Memory from NdisAllocateMemory reaches the NIC only through map registers, one
 *    transfer in one direction at a time, so a ring cannot live there;
 *  - the transmit staging area: NdisAllocateMemory(NDIS_MEMORY_CONTIGUOUS | NDIS_MEMORY_NONCACHED)
 *    inside MiniportInitialize (the only time those flags are legal), bounded by
 *    HighestAcceptableAddress to the NIC's 32 address lines, falling back to smaller blocks when a
 *    large one fails (S04, S07, S02). A frame copied there is mapped through a map register like
 *    any other buffer, and needs no bounce buffer because it is below 4 GiB.
 */
#include "e1000-ndis5.h"

/* NDIS_PHYSICAL_ADDRESS_CONST(-1, 0): the highest address a device with 32 address lines reaches. */
const NDIS_PHYSICAL_ADDRESS HighestDeviceAddress = { .QuadPart = 0xFFFFFFFFLL };
/* NDIS_PHYSICAL_ADDRESS_CONST(-1, -1): no limit (memory only the CPU touches). */
const NDIS_PHYSICAL_ADDRESS AnyAddress = { .QuadPart = -1 };

PADAPTER E1000AllocateContext(void)
{
    PADAPTER a;
    if (NdisAllocateMemory((PVOID *)&a, sizeof(ADAPTER), CONTEXT_FLAGS, AnyAddress) != NDIS_STATUS_SUCCESS) return NULL;
    NdisZeroMemory(a, sizeof(ADAPTER));
    return a;
}

/* One slot per STAGING_SLOT_BYTES of the blocks, each with the buffer descriptor that maps it. */
static BOOLEAN CarveSlots(PADAPTER a)
{
    ULONG b, offset;
    for (b = 0; b < a->StagingBlockCount; b++) {
        for (offset = 0; offset + STAGING_SLOT_BYTES <= a->StagingBlocks[b].Length && a->StagingCount < STAGING_SLOTS; offset += STAGING_SLOT_BYTES) {
            STAGING_SLOT *slot = &a->Staging[a->StagingCount];
            NDIS_STATUS status;
            slot->Va = a->StagingBlocks[b].Va + offset;
            NdisAllocateBuffer(&status, &slot->Buffer, a->BufferPool, slot->Va, STAGING_SLOT_BYTES);
            if (status != NDIS_STATUS_SUCCESS) {
                slot->Buffer = NULL;
                return FALSE;
            }
            a->FreeSlots[a->FreeSlotCount++] = a->StagingCount++;
        }
    }
    return TRUE;
}

/*
 * The staging area: one block if the system has it, else blocks half the size, down to one page
 * (S07: "a NIC driver can attempt to allocate one or more smaller blocks of contiguous and/or
 * noncached memory, rather than failing to initialize if it cannot allocate a large block").
 */
BOOLEAN E1000AllocateStaging(PADAPTER a)
{
    ULONG total = STAGING_SLOTS * STAGING_SLOT_BYTES, block = total, have = 0;
    while (have < total) {
        ULONG length = block < total - have ? block : total - have;
        PVOID va;
        if (NdisAllocateMemory(&va, length, STAGING_FLAGS, HighestDeviceAddress) != NDIS_STATUS_SUCCESS) {
            if (block <= PAGE_SIZE) return FALSE;
            block = block / 2 > PAGE_SIZE ? block / 2 : PAGE_SIZE;
            continue;
        }
        a->StagingBlocks[a->StagingBlockCount].Va = va;
        a->StagingBlocks[a->StagingBlockCount].Length = length;
        a->StagingBlockCount++;
        have += length;
    }
    return CarveSlots(a);
}

/* The staging area back: its buffer descriptors, then its blocks with the flags they were allocated with. */
void E1000FreeStaging(PADAPTER a)
{
    ULONG i;
    for (i = 0; i < a->StagingCount; i++) {
        if (a->Staging[i].Buffer != NULL) NdisFreeBuffer(a->Staging[i].Buffer);
        a->Staging[i].Buffer = NULL;
    }
    a->StagingCount = a->FreeSlotCount = 0;
    for (i = 0; i < a->StagingBlockCount; i++) NdisFreeMemory(a->StagingBlocks[i].Va, a->StagingBlocks[i].Length, STAGING_FLAGS);
    a->StagingBlockCount = 0;
}

/* Shared memory for the rings and the receive buffers; NULL when there is none. */
PVOID E1000AllocateShared(PADAPTER a, ULONG Length, BOOLEAN Cached, PNDIS_PHYSICAL_ADDRESS Logical)
{
    PVOID va = NULL;
    NdisMAllocateSharedMemory(a->Handle, Length, Cached, &va, Logical);
    return va;
}

/* Maps one buffer for the NIC (to the device) on a free map register; FALSE when none is free. */
BOOLEAN E1000MapBuffer(PADAPTER a, PNDIS_BUFFER Buffer, TX_MAPPING *Mapping, NDIS_PHYSICAL_ADDRESS_UNIT *Units, PUINT Count)
{
    ULONG reg;
    UINT n = 0;
    if (a->FreeRegisterCount == 0) return FALSE;
    reg = a->FreeRegisters[--a->FreeRegisterCount];
    NdisMStartBufferPhysicalMapping(a->Handle, Buffer, reg, TRUE, Units, &n);
    if (n == 0) {
        a->FreeRegisters[a->FreeRegisterCount++] = reg;
        return FALSE;
    }
    Mapping->Buffer = Buffer;
    Mapping->Register = reg;
    *Count = n;
    return TRUE;
}

/* The NIC is done with a mapping: complete it (NdisMCompleteBufferPhysicalMapping) and free its register. */
void E1000CompleteMapping(PADAPTER a, const TX_MAPPING *Mapping)
{
    NdisMCompleteBufferPhysicalMapping(a->Handle, Mapping->Buffer, Mapping->Register);
    a->FreeRegisters[a->FreeRegisterCount++] = Mapping->Register;
}
