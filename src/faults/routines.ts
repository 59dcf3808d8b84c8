// The driver-facing routines that can be failed: the one table. The faults layer knows them only
// as names; each kernel, DMA and NDIS shim asks the one hook (kernel/calls.ts) under its own name,
// and that hook takes only an `AllocationRoutine`, so a shim cannot ask under a name that is not
// here, and a `routine=` glob that matches nothing here is a usage error. A routine belongs here
// once its shim asks the hook (test/faults/routines.test.ts checks every name is asked for; each
// routine's own test fails it and checks what the driver sees); adding one is one line.
//
// Columns: `perPacket` (drivers call it per packet: its call sites are sampled, since a stack
// walk costs more than a frame's budget), `partial` (it can return less than asked, `partial` in
// a spec).
//
// Driver Verifier's Low Resources Simulation fails ExAllocatePoolWithXxx, MmGetSystemAddressForMdlSafe,
// MmProbeAndLockPages, MmMapLockedPagesSpecifyCache, MmMapIoSpace, IoAllocateMdl,
// MmAllocateContiguousMemory[SpecifyCache], MmAllocatePagesForMdl[Ex] and MmAllocateNonCachedMemory
// ("Low Resources Simulation", Driver Verifier documentation): all are here.

export interface RoutineInfo {
  readonly perPacket?: true
  readonly partial?: true
}

export const ALLOCATION_ROUTINE_TABLE = {
  // Ex pool and lookaside lists
  ExAllocatePool: {},
  ExAllocatePoolWithTag: {},
  ExAllocatePoolWithTagPriority: {},
  ExAllocatePoolWithQuotaTag: {},
  ExAllocatePool2: {},
  ExAllocateFromNPagedLookasideList: { perPacket: true },
  ExAllocateFromPagedLookasideList: { perPacket: true },
  ExAllocateFromLookasideListEx: { perPacket: true },
  // Mm
  MmAllocateContiguousMemory: {},
  MmAllocateContiguousMemorySpecifyCache: {},
  MmAllocateNonCachedMemory: {},
  MmAllocatePagesForMdl: { partial: true },
  MmAllocatePagesForMdlEx: { partial: true },
  MmAllocateMappingAddress: {},
  MmGetSystemAddressForMdlSafe: {},
  MmMapLockedPagesSpecifyCache: {},
  MmProbeAndLockPages: {},
  MmMapIoSpace: {},
  MmMapIoSpaceEx: {},
  IoAllocateMdl: {},
  // HAL DMA
  IoGetDmaAdapter: {},
  AllocateCommonBuffer: {},
  AllocateCommonBufferEx: {},
  GetScatterGatherList: { perPacket: true },
  BuildScatterGatherList: { perPacket: true },
  GetScatterGatherListEx: { perPacket: true },
  BuildScatterGatherListEx: { perPacket: true },
  AllocateAdapterChannel: { perPacket: true },
  // NDIS
  NdisAllocateMemory: {},
  NdisAllocateMemoryWithTag: {},
  NdisAllocateMemoryWithTagPriority: {},
  NdisMMapIoSpace: {},
  NdisMAllocateSharedMemory: {},
  NdisMAllocateSharedMemoryAsyncEx: {},
  NdisMRegisterScatterGatherDma: {},
  NdisMAllocateNetBufferSGList: { perPacket: true },
  NdisAllocateNetBufferListPool: {},
  NdisAllocateNetBufferAndNetBufferList: { perPacket: true },
  NdisAllocateMdl: {},
  NdisAllocateNetBufferPool: {},
  NdisAllocateNetBuffer: { perPacket: true },
  NdisAllocateNetBufferList: { perPacket: true },
  NdisRetreatNetBufferDataStart: { perPacket: true },
  NdisAllocateCloneNetBufferList: { perPacket: true },
  NdisAllocateFragmentNetBufferList: { perPacket: true },
  NdisAllocateFromNPagedLookasideList: { perPacket: true },
  NdisAllocateIoWorkItem: {},
  NdisAllocateTimerObject: {},
  // NDIS 5.1
  NdisMInitializeWrapper: {},
  NdisMRegisterMiniport: {},
  NdisMAllocateMapRegisters: {},
  NdisMInitializeScatterGatherDma: {},
  NdisMAllocateSharedMemoryAsync: {},
  NdisAllocatePacketPool: {},
  NdisAllocatePacketPoolEx: {},
  NdisAllocatePacket: { perPacket: true },
  NdisDprAllocatePacket: { perPacket: true },
  NdisAllocateBufferPool: {},
  NdisAllocateBuffer: { perPacket: true },
  NdisOpenConfiguration: {},
  NdisReadConfiguration: {},
  NdisReadNetworkAddress: {},
} as const satisfies Record<string, RoutineInfo>

export type AllocationRoutine = keyof typeof ALLOCATION_ROUTINE_TABLE

/** Every routine that can be failed, in table order. */
export const ALLOCATION_ROUTINES = Object.keys(ALLOCATION_ROUTINE_TABLE) as readonly AllocationRoutine[]

const info = (routine: string): RoutineInfo | undefined => (ALLOCATION_ROUTINE_TABLE as Record<string, RoutineInfo>)[routine]

/** Whether the routine can return less than asked instead of nothing (`partial` in a spec). */
export const isPartialRoutine = (routine: string): boolean => info(routine)?.partial === true

/** Whether drivers call the routine per packet (its call sites are sampled: kernel/calls.ts). */
export const isPerPacketRoutine = (routine: string): boolean => info(routine)?.perPacket === true
