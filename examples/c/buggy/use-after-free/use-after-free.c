/*
 * A tracking table written after ExFreePoolWithTag returned it (page-fault 0x50 at halt).
 *
 * What is wrong: the descriptor-tracking tables come from ExAllocatePoolWithTag, and the routine
 * that gives one back frees it first and then clears it, "so that no stale NET_BUFFER_LIST
 * pointer survives": the clear writes memory the driver no longer owns. "The caller must not
 * access the memory after it is freed" (ExFreePoolWithTag, WDK reference).
 * What dmalab reports: at MiniportHaltEx, the NdisZeroMemory below is a `page-fault`, bug check
 * 0x50 (PAGE_FAULT_IN_NONPAGED_AREA) at this file's line, with the C call stack (ReleaseRings
 * and E1000Release in examples/c/e1000/halt.c, E1000HaltEx); the message names the block ('E1kT',
 * its size), the line that allocated it and the line that freed it. The tables are larger than
 * a page, and Windows returns the pages of a freed large pool block, so the write faults in every
 * configuration (special pool, which takes only blocks smaller than a page, changes nothing).
 */
#include "../e1000-parts.h"

static PVOID AllocateTableFromPool(PADAPTER Adapter, ULONG Length)
{
    UNREFERENCED_PARAMETER(Adapter);
    return ExAllocatePoolWithTag(NonPagedPoolNx, Length, TAG_TABLES);
}

static void FreeTableThenClear(PADAPTER Adapter, PVOID Table, ULONG Length)
{
    UNREFERENCED_PARAMETER(Adapter);
    ExFreePoolWithTag(Table, TAG_TABLES);
    NdisZeroMemory(Table, Length); /* BUG: the table was freed on the line above */
}

static const E1000_MEMORY UseAfterFreeMemory = {
    AllocateStatistics, FreeStatistics, AllocateTableFromPool, FreeTableThenClear, EnableDma, DisableDma,
    AllocateShared, FreeShared, MapTransmit, UnmapTransmit,
};

DRIVER_INITIALIZE DriverEntry;

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    return E1000RegisterMiniport(DriverObject, RegistryPath, &UseAfterFreeMemory);
}
