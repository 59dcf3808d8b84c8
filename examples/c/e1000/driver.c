/*
 * DriverEntry of the e1000 miniport in C (see e1000.h for the driver's files): it registers the
 * miniport, whose adapters take their memory the way memory.c says.
 */
#include "e1000.h"

DRIVER_INITIALIZE DriverEntry;

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    return E1000RegisterMiniport(DriverObject, RegistryPath, &E1000NdisMemory);
}
