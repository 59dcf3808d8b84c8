/*
 * An NdisAllocateMemoryWithTagPriority result used without a NULL check (found by `dmalab sweep`).
 *
 * What is wrong: the statistics block is cleared without looking at what the allocation
 * returned. NdisAllocateMemoryWithTagPriority "returns NULL if the allocation fails" (WDK
 * reference), and allocations do fail: under memory pressure, and under Driver Verifier's low
 * resources simulation, which is how this bug is found before a customer finds it.
 * What dmalab reports: nothing in a normal run. `dmalab sweep c/buggy/unchecked-allocation` fails
 * each allocation call in turn; the run that fails this one is a `page-fault`, bug check 0x50
 * (PAGE_FAULT_IN_NONPAGED_AREA) at the NdisZeroMemory line below, with the C call stack (SetUp in
 * examples/c/e1000/init.c, E1000InitializeEx), outcome `bugcheck`; every other run is handled.
 * `--fail tag=E1kS` replays it.
 */
#include "../e1000-parts.h"

static PVOID AllocateStatisticsUnchecked(PADAPTER Adapter, ULONG Length)
{
    PVOID block = NdisAllocateMemoryWithTagPriority(Adapter->Handle, Length, TAG_STATS, NormalPoolPriority);
    NdisZeroMemory(block, Length); /* BUG: block may be NULL */
    return block;
}

static const E1000_MEMORY UncheckedMemory = {
    AllocateStatisticsUnchecked, FreeStatistics, AllocateTable, FreeTable, EnableDma, DisableDma,
    AllocateShared, FreeShared, MapTransmit, UnmapTransmit,
};

DRIVER_INITIALIZE DriverEntry;

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    return E1000RegisterMiniport(DriverObject, RegistryPath, &UncheckedMemory);
}
