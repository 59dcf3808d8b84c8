/*
 * The e1000 miniport in C, the team's NDIS 6 driver for the emulated 82540EM with the TypeScript
 * e1000's design (see e1000.h for its files). DriverEntry registers the miniport, whose adapters
 * take their memory the way memory.c says.
 */
#include "e1000.h"

DRIVER_INITIALIZE DriverEntry;

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    return E1000RegisterMiniport(DriverObject, RegistryPath, &E1000NdisMemory);
}
