/*
 * Where the adapter's memory comes from and how it goes back, in one table: the driver's own
 * blocks (statistics, descriptor-tracking tables) from NDIS's memory routines, and everything
 * the device touches from NDIS's scatter/gather DMA: shared memory for the rings and the
 * receive buffers, a scatter/gather list per transmitted NET_BUFFER.
 */
#include "e1000.h"

/* NDIS 6 memory: NdisAllocateMemoryWithTagPriority (it replaces NdisAllocateMemory and
   NdisAllocateMemoryWithTag for NDIS 6 miniports), nonpaged, any IRQL <= DISPATCH_LEVEL. */
static PVOID AllocateStatistics(PADAPTER Adapter, ULONG Length)
{
    PVOID block = NdisAllocateMemoryWithTagPriority(Adapter->Handle, Length, TAG_STATS, NormalPoolPriority);
    if (block != NULL) NdisZeroMemory(block, Length);
    return block;
}

static void FreeStatistics(PADAPTER Adapter, PVOID Block, ULONG Length)
{
    UNREFERENCED_PARAMETER(Length);
    NdisFreeMemoryWithTagPriority(Adapter->Handle, Block, TAG_STATS);
}

/* The tracking tables are ordinary nonpaged memory too (S01). */
static PVOID AllocateTable(PADAPTER Adapter, ULONG Length)
{
    return NdisAllocateMemoryWithTagPriority(Adapter->Handle, Length, TAG_TABLES, NormalPoolPriority);
}

static void FreeTable(PADAPTER Adapter, PVOID Table, ULONG Length)
{
    UNREFERENCED_PARAMETER(Length);
    NdisFreeMemoryWithTagPriority(Adapter->Handle, Table, TAG_TABLES);
}

/* The 82540EM is a 32-bit bus master: NDIS_SG_DMA_64_BIT_ADDRESS clear. */
static NDIS_STATUS EnableDma(PADAPTER Adapter)
{
    NDIS_SG_DMA_DESCRIPTION dma;
    NdisZeroMemory(&dma, sizeof(dma));
    dma.Header.Type = NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION;
    dma.Header.Revision = NDIS_SG_DMA_DESCRIPTION_REVISION_1;
    dma.Header.Size = NDIS_SIZEOF_SG_DMA_DESCRIPTION_REVISION_1;
    dma.Flags = 0;
    dma.MaximumPhysicalMapping = MAXIMUM_PHYSICAL_MAPPING;
    dma.ProcessSGListHandler = E1000ProcessSGList;
    dma.SharedMemAllocateCompleteHandler = E1000SharedMemoryAllocated;
    return NdisMRegisterScatterGatherDma(Adapter->Handle, &dma, &Adapter->DmaHandle);
}

static void DisableDma(PADAPTER Adapter)
{
    if (Adapter->DmaHandle != NULL) NdisMDeregisterScatterGatherDma(Adapter->DmaHandle);
    Adapter->DmaHandle = NULL;
}

/* NdisMAllocateSharedMemory wraps the DMA adapter's AllocateCommonBuffer: reachable by the
   device (below its limit, or mapped by the IOMMU); its PhysicalAddress is a logical one. */
static PVOID AllocateShared(PADAPTER Adapter, ULONG Length, BOOLEAN Cached, PPHYSICAL_ADDRESS Logical)
{
    PVOID va = NULL;
    NdisMAllocateSharedMemory(Adapter->Handle, Length, Cached, &va, Logical);
    return va;
}

static void FreeShared(PADAPTER Adapter, ULONG Length, BOOLEAN Cached, PVOID Va, PHYSICAL_ADDRESS Logical)
{
    NdisMFreeSharedMemory(Adapter->Handle, Length, Cached, Va, Logical);
}

/* A transfer to the device (NDIS_SG_LIST_WRITE_TO_DEVICE): the device only reads the packet. The
   list starts at the beginning of CurrentMdl, so E1000ProcessSGList skips CurrentMdlOffset. */
static NDIS_STATUS MapTransmit(PADAPTER Adapter, PNET_BUFFER Nb)
{
    NB_SKIP(Nb) = NET_BUFFER_CURRENT_MDL_OFFSET(Nb);
    return NdisMAllocateNetBufferSGList(Adapter->DmaHandle, Nb, Nb, NDIS_SG_LIST_WRITE_TO_DEVICE, NULL, 0);
}

static void UnmapTransmit(PADAPTER Adapter, PSCATTER_GATHER_LIST Sgl, PNET_BUFFER Nb)
{
    NdisMFreeNetBufferSGList(Adapter->DmaHandle, Sgl, Nb);
}

/* The e1000's choice: NDIS's memory routines and NDIS's scatter/gather DMA. */
const E1000_MEMORY E1000NdisMemory = {
    AllocateStatistics, FreeStatistics, AllocateTable, FreeTable, EnableDma, DisableDma,
    AllocateShared, FreeShared, MapTransmit, UnmapTransmit,
};
