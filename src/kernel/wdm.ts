// The constants a driver passes to the Ex/Mm/Io memory routines, with the values of wdm.h and
// ntddk.h (WDK 10), and `NtStatusError`, the exception a routine raises where Windows raises
// one (ExRaiseStatus) instead of returning NULL. Drivers see these under their WDK names.

/** POOL_TYPE (wdm.h). The low three bits are what a type means; the rest are modifiers. */
export const POOL_TYPE = {
  NonPagedPool: 0,
  NonPagedPoolExecute: 0,
  PagedPool: 1,
  NonPagedPoolMustSucceed: 2,
  DontUseThisType: 3,
  NonPagedPoolCacheAligned: 4,
  PagedPoolCacheAligned: 5,
  NonPagedPoolCacheAlignedMustS: 6,
  MaxPoolType: 7,
  NonPagedPoolSession: 32,
  PagedPoolSession: 33,
  NonPagedPoolMustSucceedSession: 34,
  NonPagedPoolCacheAlignedSession: 36,
  PagedPoolCacheAlignedSession: 37,
  NonPagedPoolNx: 512,
  NonPagedPoolNxCacheAligned: 516,
  NonPagedPoolSessionNx: 544,
} as const

/** Modifier bits ORed into a POOL_TYPE (wdm.h). */
export const POOL_MODIFIERS = {
  POOL_QUOTA_FAIL_INSTEAD_OF_RAISE: 8,
  POOL_RAISE_IF_ALLOCATION_FAILURE: 16,
  POOL_COLD_ALLOCATION: 256,
  POOL_NX_ALLOCATION: 512,
} as const

/**
 * POOL_FLAGS for ExAllocatePool2 (wdm.h). A ULONG64: the low 32 bits are required flags (an
 * unknown one fails the call), the high 32 bits optional ones (ignored when unknown). JavaScript's
 * `|` works on 32 bits, so combine an optional flag with `+`: POOL_FLAG_NON_PAGED + POOL_FLAG_SPECIAL_POOL.
 */
export const POOL_FLAG = {
  POOL_FLAG_USE_QUOTA: 0x1,
  POOL_FLAG_UNINITIALIZED: 0x2,
  POOL_FLAG_SESSION: 0x4,
  POOL_FLAG_CACHE_ALIGNED: 0x8,
  POOL_FLAG_RAISE_ON_FAILURE: 0x20,
  POOL_FLAG_NON_PAGED: 0x40,
  POOL_FLAG_NON_PAGED_EXECUTE: 0x80,
  POOL_FLAG_PAGED: 0x100,
  POOL_FLAG_SPECIAL_POOL: 0x1_0000_0000,
} as const

/** EX_POOL_PRIORITY (wdm.h): the SpecialPool variants pick the special-pool alignment. */
export const EX_POOL_PRIORITY = {
  LowPoolPriority: 0,
  LowPoolPrioritySpecialPoolOverrun: 8,
  LowPoolPrioritySpecialPoolUnderrun: 9,
  NormalPoolPriority: 16,
  NormalPoolPrioritySpecialPoolOverrun: 24,
  NormalPoolPrioritySpecialPoolUnderrun: 25,
  HighPoolPriority: 32,
  HighPoolPrioritySpecialPoolOverrun: 40,
  HighPoolPrioritySpecialPoolUnderrun: 41,
} as const

/** MEMORY_CACHING_TYPE (wdm.h). */
export const MEMORY_CACHING_TYPE = {
  MmNonCached: 0,
  MmCached: 1,
  MmWriteCombined: 2,
  MmHardwareCoherentCached: 3,
  MmNonCachedUnordered: 4,
  MmUSWCCached: 5,
  MmMaximumCacheType: 6,
} as const

/** MDL flags (wdm.h). */
export const MDL_FLAGS = {
  MDL_MAPPED_TO_SYSTEM_VA: 0x0001,
  MDL_PAGES_LOCKED: 0x0002,
  MDL_SOURCE_IS_NONPAGED_POOL: 0x0004,
  MDL_ALLOCATED_FIXED_SIZE: 0x0008,
  MDL_PARTIAL: 0x0010,
  MDL_PARTIAL_HAS_BEEN_MAPPED: 0x0020,
  MDL_IO_PAGE_READ: 0x0040,
  MDL_WRITE_OPERATION: 0x0080,
  MDL_IO_SPACE: 0x0800,
  MDL_NETWORK_HEADER: 0x1000,
  MDL_MAPPING_CAN_FAIL: 0x2000,
} as const

/** ExInitializeLookasideListEx Flags (wdm.h): mutually exclusive. */
export const EX_LOOKASIDE_LIST_EX_FLAGS = {
  EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL: 0x1,
  EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE: 0x2,
} as const

/** MmAllocatePagesForMdlEx flags (wdm.h). */
export const MM_ALLOCATE_FLAGS = {
  MM_DONT_ZERO_ALLOCATION: 0x1,
  MM_ALLOCATE_FROM_LOCAL_NODE_ONLY: 0x2,
  MM_ALLOCATE_FULLY_REQUIRED: 0x4,
  MM_ALLOCATE_NO_WAIT: 0x8,
  MM_ALLOCATE_PREFER_CONTIGUOUS: 0x10,
  MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS: 0x20,
} as const

/** MM_PAGE_PRIORITY and the mapping modifiers ORed into it (wdm.h). */
export const MM_PAGE_PRIORITY = {
  LowPagePriority: 0,
  NormalPagePriority: 16,
  HighPagePriority: 32,
  MdlMappingNoWrite: 0x8000_0000,
  MdlMappingNoExecute: 0x4000_0000,
} as const

/** LOCK_OPERATION and KPROCESSOR_MODE (wdm.h). */
/** Page protections MmMapIoSpaceEx takes (the PAGE_* values of the Windows headers). */
export const PAGE_PROTECTION = {
  PAGE_READONLY: 0x02,
  PAGE_READWRITE: 0x04,
  PAGE_EXECUTE: 0x10,
  PAGE_EXECUTE_READ: 0x20,
  PAGE_EXECUTE_READWRITE: 0x40,
  PAGE_NOCACHE: 0x200,
  PAGE_WRITECOMBINE: 0x400,
} as const

export const LOCK_OPERATION = { IoReadAccess: 0, IoWriteAccess: 1, IoModifyAccess: 2 } as const
export const KPROCESSOR_MODE = { KernelMode: 0, UserMode: 1 } as const

/**
 * The one NTSTATUS table (ntstatus.h): the values the kernel, HAL and NDIS routines return or
 * raise. NDIS re-exports it (ndis/constants NT_STATUS); every layer looks statuses up here.
 */
export const NTSTATUS = {
  STATUS_SUCCESS: 0,
  STATUS_ACCESS_VIOLATION: 0xc000_0005,
  STATUS_INVALID_PARAMETER: 0xc000_000d,
  STATUS_INVALID_PARAMETER_4: 0xc000_00f2,
  STATUS_INVALID_PARAMETER_5: 0xc000_00f3,
  STATUS_NO_MEMORY: 0xc000_0017,
  STATUS_BUFFER_TOO_SMALL: 0xc000_0023,
  STATUS_INSUFFICIENT_RESOURCES: 0xc000_009a,
  STATUS_NOT_SUPPORTED: 0xc000_00bb,
} as const

export type NtStatus = number

/** sizeof(MDL) on x64: the header before the PFN array (Next … ByteOffset). */
export const MDL_HEADER_BYTES = 0x30
/** sizeof(MDL) on x86 (seven 4-byte fields; CSHORT Size and MdlFlags share one). */
export const MDL_HEADER_BYTES_X86 = 0x1c
/** sizeof(PFN_NUMBER) on x64. */
export const PFN_ENTRY_BYTES = 8
/**
 * The most one MDL can describe: ByteCount is a ULONG, and MmAllocatePagesForMdl documents
 * "at most 4 GB minus PAGE_SIZE" per call (seed 002: "An MDL can describe up to 4 GB").
 */
export const MDL_MAX_BYTES = 4 * 1024 * 1024 * 1024 - 4096

/**
 * An exception a routine raised (ExRaiseStatus): ExAllocatePoolWithQuotaTag without
 * POOL_QUOTA_FAIL_INSTEAD_OF_RAISE, pool types with POOL_RAISE_IF_ALLOCATION_FAILURE,
 * ExAllocatePool2 with POOL_FLAG_RAISE_ON_FAILURE, MmProbeAndLockPages on a bad range. A
 * driver catches it as it would with __try/__except; uncaught, it is a driver exception.
 */
export class NtStatusError extends Error {
  readonly status: number

  constructor(routine: string, status: number, why: string) {
    super(`${routine} raised 0x${status.toString(16).toUpperCase()}: ${why}`)
    this.name = 'NtStatusError'
    this.status = status
  }
}

/** What a POOL_TYPE means once its modifier bits are set aside. */
export interface PoolTypeInfo {
  readonly paged: boolean
  readonly cacheAligned: boolean
  /** NonPagedPoolMustSucceed and friends (bit 1 of the base type): bug check 0xC2/0x9A. */
  readonly mustSucceed: boolean
  /** POOL_RAISE_IF_ALLOCATION_FAILURE: failure raises instead of returning NULL. */
  readonly raiseOnFailure: boolean
}

/**
 * Decodes a POOL_TYPE. The base type is the low three bits (wdm.h: 0 nonpaged, 1 paged, 2
 * must-succeed, 4 cache-aligned, and their sums); session (32) and NX (512) do not change what
 * dmalab models. DontUseThisType (3) and MaxPoolType (7) carry the must-succeed bit and are
 * treated as must-succeed.
 */
export function decodePoolType(poolType: number): PoolTypeInfo {
  const base = poolType & 7
  return {
    paged: (base & 1) !== 0,
    cacheAligned: (base & 4) !== 0,
    mustSucceed: (base & 2) !== 0,
    raiseOnFailure: (poolType & POOL_MODIFIERS.POOL_RAISE_IF_ALLOCATION_FAILURE) !== 0,
  }
}

/** The cache line the x64 pool aligns NonPagedPoolCacheAligned blocks to (S21). */
export const CACHE_LINE = 64
