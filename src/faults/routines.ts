// The driver-facing routines that allocate, and so can be failed. The faults layer knows them
// only as names; each kernel, DMA and NDIS shim asks the one hook under its own name.

export const ALLOCATION_ROUTINES = [
  // Ex pool and lookaside lists
  'ExAllocatePool',
  'ExAllocatePoolWithTag',
  'ExAllocatePoolWithTagPriority',
  'ExAllocatePoolWithQuotaTag',
  'ExAllocatePool2',
  'ExAllocateFromNPagedLookasideList',
  'ExAllocateFromPagedLookasideList',
  // Mm
  'MmAllocateContiguousMemory',
  'MmAllocateContiguousMemorySpecifyCache',
  'MmAllocateNonCachedMemory',
  'MmAllocatePagesForMdl',
  'MmAllocatePagesForMdlEx',
  'MmAllocateMappingAddress',
  'IoAllocateMdl',
  // HAL DMA
  'IoGetDmaAdapter',
  'AllocateCommonBuffer',
  'AllocateCommonBufferEx',
  'GetScatterGatherList',
  'BuildScatterGatherList',
  'GetScatterGatherListEx',
  'BuildScatterGatherListEx',
  'AllocateAdapterChannel',
  // NDIS
  'NdisAllocateMemory',
  'NdisAllocateMemoryWithTag',
  'NdisAllocateMemoryWithTagPriority',
  'NdisMAllocateSharedMemory',
  'NdisMAllocateSharedMemoryAsyncEx',
  'NdisMRegisterScatterGatherDma',
  'NdisMAllocateNetBufferSGList',
  'NdisAllocateNetBufferListPool',
  'NdisAllocateNetBufferPool',
  'NdisAllocateNetBufferList',
  'NdisAllocateNetBuffer',
  'NdisAllocateNetBufferAndNetBufferList',
  'NdisAllocateMdl',
  // NDIS 5.1
  'NdisMAllocateMapRegisters',
  'NdisMInitializeScatterGatherDma',
  'NdisMAllocateSharedMemoryAsync',
  'NdisAllocatePacketPool',
  'NdisAllocatePacketPoolEx',
  'NdisAllocatePacket',
  'NdisDprAllocatePacket',
  'NdisAllocateBufferPool',
  'NdisAllocateBuffer',
  'NdisOpenConfiguration',
  'NdisReadConfiguration',
] as const

export type AllocationRoutine = (typeof ALLOCATION_ROUTINES)[number]

/** Routines that can return less than asked instead of nothing (`partial` in a spec). */
export const PARTIAL_ROUTINES: readonly string[] = ['MmAllocatePagesForMdl', 'MmAllocatePagesForMdlEx']

/**
 * Routines drivers call per packet. Capturing a call site costs ~1.5 µs (a V8 stack walk), more
 * than the whole per-frame budget, so these sample their sites (see kernel/calls.ts).
 */
export const PER_PACKET_ROUTINES: readonly string[] = [
  'NdisMAllocateNetBufferSGList',
  'GetScatterGatherList',
  'BuildScatterGatherList',
  'GetScatterGatherListEx',
  'BuildScatterGatherListEx',
  'AllocateAdapterChannel',
  'NdisAllocateNetBufferList',
  'NdisAllocateNetBuffer',
  'NdisAllocateNetBufferAndNetBufferList',
  'ExAllocateFromNPagedLookasideList',
  'ExAllocateFromPagedLookasideList',
  'NdisAllocatePacket',
  'NdisDprAllocatePacket',
  'NdisAllocateBuffer',
]
