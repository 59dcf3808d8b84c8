/*
 * Writes one byte past the end of a pool block (pool-overrun 0xD6 under special pool).
 *
 * What is wrong: the routine that allocates the statistics block clears it with a loop whose
 * bound is `<=` where it should be `<`: the last iteration writes the byte just past the block,
 * into whatever the pool put there.
 * What dmalab reports: with Driver Verifier's special pool (--special-pool, or
 * `verifier: { specialPool: true }`) the block ends where its page ends and the next page is
 * inaccessible: the loop's last write is `pool-overrun`, bug check 0xD6
 * (DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION) at the loop's line in this file, with the C call
 * stack (SetUp in examples/c/e1000/init.c, E1000InitializeEx), during MiniportInitializeEx; the run's
 * outcome is `bugcheck`. Without special pool nothing notices at once: the byte lands in pool
 * memory beside the block, which is why Driver Verifier has special pool.
 */
#include "../e1000-parts.h"

static PVOID AllocateStatisticsOffByOne(PADAPTER Adapter, ULONG Length)
{
    PUCHAR block = NdisAllocateMemoryWithTagPriority(Adapter->Handle, Length, TAG_STATS, NormalPoolPriority);
    ULONG i;
    if (block == NULL) return NULL;
    for (i = 0; i <= Length; i++) block[i] = 0; /* BUG: <= writes block[Length], one byte past the end */
    return block;
}

static const E1000_MEMORY OverrunMemory = {
    AllocateStatisticsOffByOne, FreeStatistics, AllocateTable, FreeTable, EnableDma, DisableDma,
    AllocateShared, FreeShared, MapTransmit, UnmapTransmit,
};

DRIVER_INITIALIZE DriverEntry;

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    return E1000RegisterMiniport(DriverObject, RegistryPath, &OverrunMemory);
}
