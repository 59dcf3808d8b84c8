/*
 * Sends copied into pool and given to the 32-bit NIC by MmGetPhysicalAddress (dma-address-truncated).
 *
 * What is wrong: to keep sends simple, this driver copies each frame into a block from
 * ExAllocatePoolWithTag and gives the NIC MmGetPhysicalAddress of it, in a one-element
 * scatter/gather list it builds itself. Pool has no address limit: on a machine with RAM above
 * 4 GiB (the 32-bit machine uses PAE, so it has some; dmalab's default high-first policy hands
 * it out first) the block lands there, and a device with 32 address lines cannot reach it. The
 * HAL would have mapped it (map registers or the IOMMU) had the driver asked: "To allocate
 * memory for DMA buffers, drivers should call AllocateCommonBuffer or GetScatterGatherList"
 * (WDK, "Using Common-Buffer Bus-Master DMA"); a CPU physical address is never a device address.
 * What dmalab reports: with the IOMMU off and high-first memory, `dma-address-truncated` for every
 * send, naming the pool block ('E1kC') and the ExAllocatePoolWithTag line below, with the C call
 * stack of the send (E1000DrainQueue and E1000SendNetBufferLists in examples/c/e1000/send.c); the
 * NIC drops the address's high bits and reads some other page below 4 GiB, so what goes on the wire
 * is not the frame. With low-first memory the blocks happen to be reachable: frames arrive
 * intact, and `dma-not-dma-memory` says the device read pool memory no DMA mapping covers. With
 * the IOMMU on the raw physical address is not an I/O virtual address the HAL mapped
 * (`iommu-fault`).
 */
#include "../e1000-parts.h"

#define TAG_COPY 'Ck1E' /* E1kC: transmit copies */

/* The copy's block: the one-element list the device is given, then the frame. A block of at
   most PAGE_SIZE - sizeof(POOL_HEADER) bytes never crosses a page, so one physical address covers
   the frame (this driver's frames are at most 1514 bytes). */
typedef struct _TX_COPY {
    SCATTER_GATHER_LIST List; /* one element */
    UCHAR Frame[MAX_FRAME_SIZE];
} TX_COPY, *PTX_COPY;

/* Copies the NET_BUFFER's data, MDL by MDL from CurrentMdl at CurrentMdlOffset. */
static BOOLEAN CopyNetBuffer(PNET_BUFFER Nb, PUCHAR To)
{
    PMDL mdl = NET_BUFFER_CURRENT_MDL(Nb);
    ULONG offset = NET_BUFFER_CURRENT_MDL_OFFSET(Nb), left = NET_BUFFER_DATA_LENGTH(Nb);
    while (left > 0 && mdl != NULL) {
        PUCHAR va = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
        ULONG n = MmGetMdlByteCount(mdl) - offset;
        if (va == NULL) return FALSE;
        if (n > left) n = left;
        NdisMoveMemory(To, va + offset, n);
        To += n;
        left -= n;
        offset = 0;
        mdl = mdl->Next;
    }
    return left == 0;
}

static NDIS_STATUS MapTransmitFromPool(PADAPTER Adapter, PNET_BUFFER Nb)
{
    ULONG length = NET_BUFFER_DATA_LENGTH(Nb);
    PTX_COPY copy;
    UNREFERENCED_PARAMETER(Adapter);
    if (length > MAX_FRAME_SIZE) return NDIS_STATUS_INVALID_LENGTH;
    copy = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(TX_COPY), TAG_COPY);
    if (copy == NULL) return NDIS_STATUS_RESOURCES;
    if (!CopyNetBuffer(Nb, copy->Frame)) {
        ExFreePoolWithTag(copy, TAG_COPY);
        return NDIS_STATUS_FAILURE;
    }
    copy->List.NumberOfElements = 1;
    copy->List.Reserved = 0;
    /* BUG: the CPU physical address of pool memory given to a 32-bit bus master. */
    copy->List.Elements[0].Address = MmGetPhysicalAddress(copy->Frame);
    copy->List.Elements[0].Length = length;
    copy->List.Elements[0].Reserved = 0;
    NB_SKIP(Nb) = 0;
    E1000ProcessSGList(NULL, NULL, &copy->List, Nb);
    return NDIS_STATUS_SUCCESS;
}

static void UnmapTransmitFromPool(PADAPTER Adapter, PSCATTER_GATHER_LIST Sgl, PNET_BUFFER Nb)
{
    UNREFERENCED_PARAMETER(Adapter);
    UNREFERENCED_PARAMETER(Nb);
    ExFreePoolWithTag(CONTAINING_RECORD(Sgl, TX_COPY, List), TAG_COPY);
}

static const E1000_MEMORY PoolDmaMemory = {
    AllocateStatistics, FreeStatistics, AllocateTable, FreeTable, EnableDma, DisableDma,
    AllocateShared, FreeShared, MapTransmitFromPool, UnmapTransmitFromPool,
};

DRIVER_INITIALIZE DriverEntry;

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    return E1000RegisterMiniport(DriverObject, RegistryPath, &PoolDmaMemory);
}
