// The one table of finding kinds: for each kind its severity, whether it is something the
// driver still held at unload (a leak), and the Windows bug checks it corresponds to, with
// what each parameter holds as the bug check's reference page defines it. Every layer reports
// kinds from this table: a kind that is not here does not compile (`FindingKind`), and the
// hardware's own kinds (hw/finding.ts) must all have a row (`satisfies` below).
//
// Where Windows has a documented code for a case, the row uses it. dmalab sees more than
// Windows does; a kind Windows has no bug check for uses parameter 1 in dmalab's own range,
// DMALAB_P1 below (0xD0000001 and up), with the bug check code of the layer that found it:
// 0xC4 for the kernel, 0xE6 for DMA and the device, 0x7C for NDIS. No Microsoft bug check
// reference page documents any parameter-1 value in 0xD0000000–0xD00000FF (the documented
// 0xC4 values run to 0x0009400C, the 0xE6 values to 0x26, the 0x7C values to 0x25).
// README "Findings" lists this table; test/kernel/kinds.test.ts keeps the two in step.
import type { BugCheckParams, DeviceFindingKind, FindingRecord, FindingReport, Severity } from '../hw/finding.js'
import { BUGCHECK } from './bugcheck.js'

/** One bug check a kind is reported with. */
export interface KindBugCheck {
  readonly code: number
  /** Parameter 1 when it is a sub-code; null when it is a value (an address, an exception code). */
  readonly p1: number | null
  /** What parameters 1–4 hold, in the words of the bug check's reference page. */
  readonly params: readonly [string, string, string, string]
  /** When this bug check applies, for a kind with several. */
  readonly when?: string
}

export interface KindInfo {
  readonly severity: Severity
  /** When a kind that is normally a violation stops the machine (Windows bug checks at once). */
  readonly fatalWhen?: string
  /** Something the driver still held when it unloaded: a sweep run with one is a `leak`. */
  readonly leak: boolean
  /** The first is what a crash-mode run stops with when the call site names none. */
  readonly bugchecks: readonly KindBugCheck[]
  /** One line for the README. */
  readonly summary: string
}

/** Parameter-1 values in dmalab's own range: no Windows bug check page documents them. */
export const DMALAB_P1 = {
  poolFreeMismatch: 0xd000_0001,
  initOnlyCall: 0xd000_0002,
  dmaAddressTruncated: 0xd000_0003,
  busMasterDisabled: 0xd000_0004,
  deviceError: 0xd000_0005,
  hang: 0xd000_0006,
  memoryLeak: 0xd000_0007,
  irqlNotRestored: 0xd000_0008,
  spinLockMisuse: 0xd000_0009,
  lookasideReservedNotZero: 0xd000_000a,
  lookasideHeadPageable: 0xd000_000b,
  lookasideHeadMisaligned: 0xd000_000c,
  lookasideNotInitialized: 0xd000_000d,
  lookasideEntryModified: 0xd000_000e,
  ndisCallOrder: 0xd000_0010,
  ndisResourceLeak: 0xd000_0011,
  nblMisuse: 0xd000_0012,
  sendsNotCompleted: 0xd000_0013,
  ndisBadArgument: 0xd000_0014,
  ndisBadHandle: 0xd000_0015,
  ndisRestartFailed: 0xd000_0016,
  frameCorrupted: 0xd000_0017,
  framesLost: 0xd000_0018,
  packetFilterIgnored: 0xd000_0019,
  badReturnValue: 0xd000_001a,
  asyncDriverCode: 0xd000_001b,
  ndisVerifierWarning: 0xd000_001c,
  packetMisuse: 0xd000_001d,
  oidFailed: 0xd000_001e,
  dmaBadArgument: 0xd000_0020,
  mapRegisterMisuse: 0xd000_0021,
  dmaWrongDirection: 0xd000_0022,
  /** A stop with no bug check of its own (dmalab's internal error). */
  internal: 0xd000_00ff,
} as const

/** The first and last parameter-1 value of dmalab's own range. */
export const DMALAB_P1_RANGE = [0xd000_0000, 0xd000_00ff] as const

export const isDmalabP1 = (p1: number): boolean => p1 >= DMALAB_P1_RANGE[0] && p1 <= DMALAB_P1_RANGE[1]

const { DRIVER_VERIFIER_DETECTED_VIOLATION: C4, DRIVER_VERIFIER_DMA_VIOLATION: E6, BUGCODE_NDIS_DRIVER: NDIS, BAD_POOL_CALLER: C2 } = BUGCHECK

/** A dmalab-range bug check: parameter 1 names the rule, the others are as the finding says. */
function own(code: number, p1: number, p2 = 'see the finding\'s details', p3 = '0', p4 = '0'): KindBugCheck {
  return { code, p1, params: ['dmalab\'s own code', p2, p3, p4] }
}

const bc = (code: number, p1: number | null, params: KindBugCheck['params'], when?: string): KindBugCheck =>
  when === undefined ? { code, p1, params } : { code, p1, params, when }

const LOOKASIDE = 'address of the lookaside list'
const ADAPTER_BLOCK = 'the miniport adapter block'

export const FINDING_KINDS = {
  // ---- pool and kernel memory ------------------------------------------------------------------
  'pool-leak': {
    severity: 'violation', leak: true,
    bugchecks: [bc(C4, 0x62, ['0x62', 'name of the driver', 'reserved', 'allocations not freed'])],
    summary: 'pool still allocated when the driver unloaded: one finding per block, with tag, size and the allocating line',
  },
  'memory-leak': {
    severity: 'violation', leak: true,
    bugchecks: [own(C4, DMALAB_P1.memoryLeak)],
    summary: 'contiguous, noncached, MmAllocatePagesForMdl memory or a mapping address still held at unload',
  },
  'pool-double-free': {
    severity: 'fatal', leak: false,
    bugchecks: [
      bc(C2, 0x07, ['0x07', 'reserved', 'pool header contents', 'address of the block being freed']),
      bc(C2, 0x60, ['0x60', 'starting address', '0', '0'], 'MmFreeContiguousMemory of memory already freed'),
      bc(C2, 0x46, ['0x46', 'starting address', '0', '0'], 'MmFreeNonCachedMemory of memory already freed'),
      bc(C4, 0x16, ['0x16', 'reserved', 'the MDL', '0'], 'MmFreePagesFromMdl of pages already freed'),
    ],
    summary: 'a pool block, contiguous memory or MDL pages freed twice',
  },
  'pool-bad-free': {
    severity: 'fatal', leak: false,
    bugchecks: [
      bc(C4, 0x10, ['0x10', 'bad address', '0', '0']),
      bc(C2, 0x60, ['0x60', 'starting address', '0', '0'], 'MmFreeContiguousMemory of an address it did not return'),
      bc(C2, 0x46, ['0x46', 'starting address', '0', '0'], 'MmFreeNonCachedMemory of an address it did not return'),
    ],
    summary: 'a free of an address no allocation returned',
  },
  'pool-overrun': {
    severity: 'fatal', leak: false,
    bugchecks: [
      bc(BUGCHECK.DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION, null, ['memory address referenced', '0 read, 1 write', 'address that referenced memory', 'reserved'], 'special pool: the access itself'),
      bc(BUGCHECK.SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, null, ['address the driver tried to free', 'address where bits are corrupted', 'reserved', '0x23 nearby bytes, 0x24 bytes after the end'], 'special pool: found at free'),
      bc(C4, 0x51, ['0x51', 'base address of allocation', 'address of the reference beyond the allocation', 'number of charged bytes'], 'pool tracking: found at free'),
      bc(BUGCHECK.BAD_POOL_HEADER, 0x20, ['0x20', 'the pool entry being checked', 'the next pool entry', 'reserved'], 'a pool header overwritten'),
    ],
    summary: 'the driver wrote past the end of a pool block',
  },
  'pool-free-mismatch': {
    severity: 'violation', leak: false,
    fatalWhen: 'ExFreePoolWithTag (or NdisFreeMemoryWithTagPriority) with a tag other than the allocation\'s: Windows always bug checks (0xC2/0x0A)',
    bugchecks: [
      own(C4, DMALAB_P1.poolFreeMismatch),
      bc(C2, 0x0a, ['0x0A', 'address of pool', 'allocator\'s tag', 'tag being used in the attempted free'], 'a free with the wrong tag'),
    ],
    summary: 'a free whose length, flags, cache type or tag differ from the allocation\'s',
  },
  'must-succeed-pool': {
    severity: 'fatal', leak: false,
    bugchecks: [bc(C2, 0x9a, ['0x9A', 'pool type', 'number of bytes requested', 'pool tag'])],
    summary: 'an allocation from NonPagedPoolMustSucceed',
  },
  'pool-bad-call': {
    severity: 'violation', leak: false,
    bugchecks: [
      bc(C2, 0x9b, ['0x9B', 'pool type', 'number of bytes requested', 'caller\'s address'], 'tag 0'),
      bc(C2, 0x9d, ['0x9D', 'incorrect pool tag used', 'pool type', 'caller\'s address'], 'a tag with no letter or digit'),
      bc(C4, 0x00, ['0x00', 'current IRQL', 'pool type', 'number of bytes'], 'a zero-byte allocation'),
    ],
    summary: 'an allocation the pool refuses: tag 0, a tag with no letter or digit, zero bytes',
  },
  'irql-violation': {
    severity: 'violation', leak: false,
    bugchecks: [
      bc(C4, 0xe5, ['0xE5', 'current IRQL', 'reserved', 'reserved'], 'a routine called at too high an IRQL, when the page has no code of its own for it'),
      bc(C4, 0x01, ['0x01', 'current IRQL', 'pool type', 'size of allocation'], 'paged allocation above APC_LEVEL'),
      bc(C4, 0x02, ['0x02', 'current IRQL', 'pool type', 'size of allocation'], 'nonpaged allocation above DISPATCH_LEVEL'),
      bc(C4, 0x11, ['0x11', 'current IRQL', 'pool type', 'address of pool'], 'paged free above APC_LEVEL'),
      bc(C4, 0x12, ['0x12', 'current IRQL', 'pool type', 'address of pool'], 'nonpaged free above DISPATCH_LEVEL'),
      bc(C4, 0x30, ['0x30', 'current IRQL', 'requested IRQL', '0'], 'KeRaiseIrql to a lower level'),
      bc(C4, 0x31, ['0x31', 'current IRQL', 'requested IRQL', '0'], 'KeLowerIrql to a higher level'),
      bc(C4, 0x32, ['0x32', 'current IRQL', 'spin lock address', '0'], 'NdisReleaseSpinLock at an IRQL other than DISPATCH_LEVEL'),
      bc(C4, 0x40, ['0x40', 'current IRQL', 'spin lock address', '0'], 'NdisDprAcquireSpinLock below DISPATCH_LEVEL'),
      bc(C4, 0x41, ['0x41', 'current IRQL', 'spin lock address', '0'], 'NdisDprReleaseSpinLock below DISPATCH_LEVEL'),
      bc(C4, 0x42, ['0x42', 'current IRQL', 'spin lock address', '0'], 'NdisAcquireSpinLock above DISPATCH_LEVEL'),
      bc(C4, 0x70, ['0x70', 'current IRQL', 'MDL address', 'access mode'], 'MmProbeAndLockPages above DISPATCH_LEVEL'),
      bc(C4, 0x73, ['0x73', 'current IRQL', 'physical address', 'number of bytes'], 'MmMapIoSpace above DISPATCH_LEVEL'),
      bc(C4, 0x76, ['0x76', 'current IRQL', 'MDL address', 'access mode'], 'MmMapLockedPagesSpecifyCache above DISPATCH_LEVEL'),
      bc(C4, 0x78, ['0x78', 'current IRQL', 'MDL address', '0'], 'MmUnlockPages above DISPATCH_LEVEL'),
      bc(C4, 0x79, ['0x79', 'current IRQL', 'virtual address being unmapped', 'MDL address'], 'MmUnmapLockedPages above DISPATCH_LEVEL'),
      bc(C4, 0x7b, ['0x7B', 'current IRQL', 'virtual address being unmapped', 'number of bytes'], 'MmUnmapIoSpace above APC_LEVEL'),
      bc(C4, 0x7e, ['0x7E', 'current IRQL', 'DISPATCH_LEVEL', '0'], 'MmAllocatePagesForMdl[Ex] / MmFreePagesFromMdl above DISPATCH_LEVEL'),
      bc(C4, 0x111, ['0x111', 'address of the ISR', 'IRQL before the ISR', 'IRQL after the ISR'], 'MiniportInterrupt returned at another IRQL'),
      own(C4, DMALAB_P1.irqlNotRestored, 'IRQL on return', 'IRQL the handler was called at'),
      bc(BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL, null, ['memory referenced', 'IRQL at time of reference', '0 read, 1 write', 'address that referenced memory'], 'pageable memory touched at DISPATCH_LEVEL or above'),
      bc(E6, 0x13, ['0x13', '1: IRQL not the one expected, 2: IRQL above the maximum', 'expected (maximum) IRQL', 'current IRQL'], 'a HAL DMA routine'),
      bc(NDIS, 0x01, ['0x01', ADAPTER_BLOCK, 'length of the requested shared memory', 'current IRQL'], 'NdisMAllocateSharedMemory at a raised IRQL'),
    ],
    summary: 'a routine called at an IRQL its page forbids, or a handler that returned at another IRQL',
  },
  'page-fault': {
    severity: 'fatal', leak: false,
    bugchecks: [
      bc(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA, null, ['memory address referenced', '0 read, 2 write, 10 execute (x64, Windows 10 1507 and later)', 'address that referenced memory', 'type of page fault: 0x0 freed PTE, 0x2 no valid PTE']),
      bc(BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL, null, ['memory referenced', 'IRQL at time of reference', '0 read, 1 write', 'address that referenced memory'], 'at DISPATCH_LEVEL or above'),
      bc(BUGCHECK.DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL, null, ['memory address referenced', '0 read, 1 write', 'address that referenced memory', 'reserved'], 'with special pool on, the driver touched a block it had freed'),
    ],
    summary: 'an access to an unmapped, freed, reserved-but-unmapped or NULL address',
  },
  'reserved-mapping-misuse': {
    severity: 'fatal', leak: false,
    bugchecks: [
      bc(BUGCHECK.SYSTEM_PTE_MISUSE, 0x400, ['0x400', 'base address of the I/O space mapping', 'number of pages to be freed', '0'], 'MmUnmapIoSpace of a range that is not an I/O space mapping'),
      bc(BUGCHECK.SYSTEM_PTE_MISUSE, 0x101, ['0x101', 'first mapping address', 'caller\'s tag', 'owner\'s tag'], 'MmFreeMappingAddress with another tag'),
      bc(BUGCHECK.SYSTEM_PTE_MISUSE, 0x102, ['0x102', 'first mapping address', 'caller\'s tag', 'reserved'], 'MmFreeMappingAddress of a range that is not reserved'),
      bc(BUGCHECK.SYSTEM_PTE_MISUSE, 0x103, ['0x103', 'address of the mapping', 'caller\'s tag', 'mappings in the range'], 'MmFreeMappingAddress while pages are still mapped there'),
      bc(BUGCHECK.SYSTEM_PTE_MISUSE, 0x104, ['0x104', 'first mapping address', 'caller\'s tag', 'owner\'s tag'], 'MmMapLockedPagesWithReservedMapping with another tag'),
      bc(BUGCHECK.SYSTEM_PTE_MISUSE, 0x105, ['0x105', 'first mapping address', 'caller\'s tag', 'reserved'], 'MmMapLockedPagesWithReservedMapping of an address that is not reserved'),
      bc(BUGCHECK.SYSTEM_PTE_MISUSE, 0x107, ['0x107', 'first mapping address', 'address of the non-empty mapping', 'last mapping address'], 'mapping into a range that is already mapped'),
      bc(BUGCHECK.SYSTEM_PTE_MISUSE, 0x108, ['0x108', 'first mapping address', 'caller\'s tag', 'owner\'s tag'], 'MmUnmapReservedMapping with another tag'),
      bc(BUGCHECK.SYSTEM_PTE_MISUSE, 0x109, ['0x109', 'first mapping address', 'caller\'s tag', 'reserved'], 'MmUnmapReservedMapping of a range with nothing mapped'),
      bc(BUGCHECK.SYSTEM_PTE_MISUSE, 0x10a, ['0x10A', 'first mapping address', 'mappings in the range', 'mappings to unmap'], 'MmUnmapReservedMapping with an MDL spanning more pages than are mapped'),
      bc(BUGCHECK.SYSTEM_PTE_MISUSE, 0x10c, ['0x10C', 'first mapping address', 'caller\'s tag', 'number of mappings to unmap'], 'MmUnmapReservedMapping with an MDL spanning fewer pages than are mapped'),
    ],
    summary: 'MmAllocateMappingAddress ranges or MmMapIoSpace mappings used against their rules (SYSTEM_PTE_MISUSE)',
  },
  'init-only-call': {
    severity: 'violation', leak: false,
    bugchecks: [own(C4, DMALAB_P1.initOnlyCall)],
    summary: 'contiguous or noncached NdisAllocateMemory, or NdisMAllocateSharedMemory, outside MiniportInitializeEx',
  },
  'lookaside-misuse': {
    severity: 'violation', leak: false,
    bugchecks: [
      bc(C4, 0xca, ['0xCA', LOOKASIDE, 'reserved', 'reserved'], 'initialized twice'),
      bc(C4, 0xcb, ['0xCB', LOOKASIDE, 'reserved', 'reserved'], 'deleted without being initialized'),
      bc(C4, 0xcc, ['0xCC', LOOKASIDE, 'starting address of the pool allocation', 'size of the pool allocation'], 'the pool holding a live list freed'),
      bc(C4, 0xcd, ['0xCD', LOOKASIDE, 'block size specified by the caller', 'minimum supported block size'], 'entries smaller than LOOKASIDE_MINIMUM_BLOCK_SIZE'),
      own(C4, DMALAB_P1.lookasideReservedNotZero, LOOKASIDE, 'Flags', 'Depth'),
      own(C4, DMALAB_P1.lookasideHeadPageable, LOOKASIDE, '1 for a paged list'),
      own(C4, DMALAB_P1.lookasideHeadMisaligned, LOOKASIDE),
      own(C4, DMALAB_P1.lookasideNotInitialized, LOOKASIDE),
      own(C4, DMALAB_P1.lookasideEntryModified, LOOKASIDE, 'the entry'),
    ],
    summary: 'a lookaside list used against its rules',
  },
  'lookaside-leak': {
    severity: 'violation', leak: true,
    bugchecks: [bc(BUGCHECK.DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, null, ['memory address referenced (the list)', '0 read, 1 write', 'address that referenced memory (0: the system\'s lookaside scan)', 'reserved'])],
    summary: 'a lookaside list not deleted before the driver unloaded: the system keeps scanning it',
  },
  'mdl-misuse': {
    severity: 'violation', leak: false,
    bugchecks: [
      bc(C4, 0x16, ['0x16', 'reserved', 'address', '0'], 'invalid parameters to a memory routine'),
      bc(C4, 0x7c, ['0x7C', 'MDL address', 'MDL flags', '0'], 'MmUnlockPages of pages never locked'),
      bc(C4, 0x7d, ['0x7D', 'MDL address', 'MDL flags', '0'], 'MmUnlockPages of nonpaged pool'),
      bc(C4, 0x7f, ['0x7F', 'current IRQL', 'MDL address', 'MDL flags'], 'MmBuildMdlForNonPagedPool on paged memory'),
      bc(C4, 0x82, ['0x82', 'MDL address', 'MDL flags', '0'], 'MmMapLockedPagesSpecifyCache with BugCheckOnFailure TRUE'),
      bc(C4, 0x83, ['0x83', 'start of the physical range to map', 'number of bytes to map', 'first page frame that is not locked down'], 'MmMapIoSpace of RAM no one has locked down'),
      bc(C4, 0xb0, ['0xB0', 'MDL address', 'MDL flags', 'incorrect MDL flags'], 'MmProbeAndLockPages of a locked or nonpaged-pool MDL'),
      bc(C4, 0xb2, ['0xB2', 'MDL address', 'MDL flags', 'incorrect MDL flags'], 'mapping an MDL already mapped'),
      bc(C4, 0xb3, ['0xB3', 'MDL address', 'MDL flags', 'missing MDL flags'], 'mapping an MDL whose pages are not locked'),
      bc(C4, 0xb8, ['0xB8', 'MDL address', 'MDL flags', 'reserved'], 'IoFreeMdl of an MDL still mapped'),
      bc(BUGCHECK.MEMORY_MANAGEMENT, 0x1236, ['0x1236', 'MDL address', 'address of the invalid PFN', 'the invalid PFN value'], 'mapping an MDL with a PFN Mm did not put there (an unlocked or invalid page)'),
    ],
    summary: 'an MDL used against its rules',
  },

  // ---- drivers and their calls --------------------------------------------------------------------
  'driver-exception': {
    severity: 'fatal', leak: false,
    bugchecks: [
      bc(BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, null, ['exception code (0xE0000001: a JavaScript exception; a C driver\'s trap has its NTSTATUS, e.g. 0xC0000094 integer divide by zero)', 'address where the exception occurred', 'exception record address', 'context record address']),
      // UNEXPECTED_KERNEL_MODE_TRAP: "8 = double fault"; a kernel stack overflow is its common cause.
      bc(BUGCHECK.UNEXPECTED_KERNEL_MODE_TRAP, 8, ['8: double fault', 'reserved', 'reserved', 'reserved'], 'a C driver overflowed its kernel stack'),
    ],
    summary: 'driver code threw (a C driver: trapped, or overflowed its kernel stack)',
  },
  hang: {
    severity: 'violation', leak: false,
    fatalWhen: 'NDIS\'s watchdog gave up on a pause or an OID request (0x7C/0x25), or code spun at DISPATCH_LEVEL or above (0x133)',
    bugchecks: [
      own(C4, DMALAB_P1.hang, 'events run', 'events pending'),
      bc(NDIS, 0x25, ['0x25', '0x21 MiniportPause, 0x22 MiniportHaltEx, 0x23 an OID request', 'NDIS_WATCHDOG_TRIAGE_BLOCK', 'the OID, for 0x23'], 'NDIS\'s watchdog'),
      bc(BUGCHECK.DPC_WATCHDOG_VIOLATION, null, ['0: one DPC or ISR ran too long, 1: too long at DISPATCH_LEVEL in all', 'DPC time count (ticks) / watchdog period', 'DPC time allotment (ticks)', 'reserved'], 'spinning at DISPATCH_LEVEL or above'),
    ],
    summary: 'a run that cannot finish: the machine never goes idle, or the driver never completes what NDIS waits for',
  },
  'async-driver-code': {
    severity: 'violation', leak: false,
    bugchecks: [own(C4, DMALAB_P1.asyncDriverCode)],
    summary: 'timers, promises or rejections a driver left behind',
  },
  'host-tampering': {
    severity: 'fatal', leak: false,
    bugchecks: [bc(BUGCHECK.CRITICAL_STRUCTURE_CORRUPTION, null, ['reserved', 'reserved', 'reserved', 'type of corrupted region (0x0: a generic data region)'])],
    summary: 'driver code added a name to a JavaScript built-in dmalab itself runs on (Object.prototype, Array.prototype, a typed-array prototype), as Windows\' kernel patch protection stops a driver that modifies kernel data',
  },
  'bad-return-value': {
    severity: 'violation', leak: false,
    bugchecks: [own(NDIS, DMALAB_P1.badReturnValue, 'the value returned')],
    summary: 'a handler returned something that is not a valid status for it',
  },
  'deprecated-routine': {
    severity: 'info', leak: false,
    bugchecks: [],
    summary: 'a routine the WDK documents as replaced for this driver model (it still works)',
  },
  'emulator-error': {
    severity: 'fatal', leak: false,
    bugchecks: [],
    summary: 'dmalab itself failed (a bug in dmalab, not in the driver): please report it',
  },

  // ---- NDIS ------------------------------------------------------------------------------------------
  'ndis-bad-argument': {
    severity: 'violation', leak: false,
    bugchecks: [own(NDIS, DMALAB_P1.ndisBadArgument)],
    summary: 'an NDIS routine given an argument its page does not allow',
  },
  'ndis-bad-handle': {
    severity: 'violation', leak: false,
    bugchecks: [own(NDIS, DMALAB_P1.ndisBadHandle)],
    summary: 'an NDIS routine given a handle NDIS did not hand out for it',
  },
  'ndis-call-order': {
    severity: 'violation', leak: false,
    bugchecks: [
      own(NDIS, DMALAB_P1.ndisCallOrder),
      bc(NDIS, 0x0f, ['0x0F', ADAPTER_BLOCK, 'the reset status', 'AddressingReset'], 'NdisMResetComplete with no reset pending (NDIS 5)'),
    ],
    summary: 'an NDIS call out of the order NDIS documents',
  },
  'ndis-restart-failed': {
    severity: 'violation', leak: false,
    bugchecks: [own(NDIS, DMALAB_P1.ndisRestartFailed, 'the status returned')],
    summary: 'MiniportRestart failed',
  },
  'ndis-resource-leak': {
    severity: 'violation', leak: true,
    bugchecks: [own(NDIS, DMALAB_P1.ndisResourceLeak)],
    summary: 'an NDIS object (SG DMA registration, register window, NBL or NET_BUFFER pool, work item, timer object, DMA adapter) still held at halt or unload',
  },
  'interrupt-not-deregistered': {
    severity: 'fatal', leak: true,
    bugchecks: [
      bc(NDIS, 0x08, ['0x08', ADAPTER_BLOCK, 'the NDIS_MINIPORT_INTERRUPT', '0'], 'MiniportHalt[Ex] returned with the interrupt registered'),
      bc(NDIS, 0x0b, ['0x0B', ADAPTER_BLOCK, 'the NDIS_MINIPORT_INTERRUPT', '0'], 'MiniportInitialize[Ex] failed with the interrupt registered'),
    ],
    summary: 'the interrupt still registered when MiniportHalt[Ex] returned or MiniportInitialize[Ex] failed: NDIS bug checks',
  },
  'nbl-misuse': {
    severity: 'violation', leak: false,
    bugchecks: [own(NDIS, DMALAB_P1.nblMisuse)],
    summary: 'a NET_BUFFER_LIST, NET_BUFFER or their pool used wrongly (double free, foreign pool, a chain that loops)',
  },
  'timer-not-cancelled': {
    severity: 'fatal', leak: true,
    bugchecks: [
      bc(NDIS, 0x09, ['0x09', ADAPTER_BLOCK, 'the miniport\'s timer queue (NDIS_MINIPORT_TIMER)', '0'], 'MiniportHalt returned with a timer still set'),
      bc(NDIS, 0x0c, ['0x0C', ADAPTER_BLOCK, 'the miniport\'s timer queue (NDIS_MINIPORT_TIMER)', '0'], 'MiniportInitialize failed with a timer still set'),
    ],
    summary: 'an NDIS 5 timer (NdisMInitializeTimer) still set when MiniportHalt returned or MiniportInitialize failed: NDIS bug checks',
  },
  'packet-misuse': {
    severity: 'violation', leak: false,
    bugchecks: [
      own(NDIS, DMALAB_P1.packetMisuse),
      bc(NDIS, 0x06, ['0x06', ADAPTER_BLOCK, 'the packet descriptor', 'the packet array'], 'a packet indicated while the protocol still holds it'),
    ],
    summary: 'an NDIS 5 packet descriptor used wrongly: completed when the miniport does not own it, indicated while the protocol holds it',
  },
  'ndis-version-mismatch': {
    severity: 'violation', leak: false,
    bugchecks: [bc(NDIS, 0x15, ['0x15', ADAPTER_BLOCK, '0', '0'])],
    summary: 'an NDIS 6 driver called a routine reserved for NDIS 5 drivers, or a driver registered with both',
  },
  'ndis-verifier-warning': {
    severity: 'violation', leak: false,
    bugchecks: [own(NDIS, DMALAB_P1.ndisVerifierWarning)],
    summary: 'what the NDIS Verifier warns about: no MiniportShutdown, send and request timeouts ignored by a hardware miniport, a PCI slot number other than 0',
  },
  'oid-failed': {
    severity: 'violation', leak: false,
    bugchecks: [own(NDIS, DMALAB_P1.oidFailed)],
    summary: 'an OID every Ethernet miniport supports failed when NDIS and the protocol bound',
  },
  'send-not-completed': {
    severity: 'violation', leak: false,
    bugchecks: [own(NDIS, DMALAB_P1.sendsNotCompleted, 'sends not completed')],
    summary: 'MiniportPause completed with sends not given back; NDIS 5: the protocol unbound with sends not completed, or a serialized miniport held pended sends through two ticks of the wake-up timer (NDIS resets the adapter)',
  },
  'spin-lock-misuse': {
    severity: 'violation', leak: false,
    fatalWhen: 'a lock acquired twice on one processor (a deadlock), or one never allocated',
    bugchecks: [own(C4, DMALAB_P1.spinLockMisuse, 'lock id', 'current IRQL')],
    summary: 'an NDIS spin lock used wrongly',
  },
  'interrupt-storm': {
    severity: 'violation', leak: false,
    bugchecks: [bc(BUGCHECK.HARDWARE_INTERRUPT_STORM, null, ['address of the ISR', 'ISR context', 'address of the interrupt object', '0x1 the ISR is not chained'])],
    summary: 'the NIC\'s level-triggered interrupt stayed asserted through the ISR: it neither clears nor masks the cause',
  },
  'frame-corrupted': {
    severity: 'violation', leak: false,
    bugchecks: [own(NDIS, DMALAB_P1.frameCorrupted)],
    summary: 'a frame indicated to the protocol differs from the one that was sent',
  },
  'frames-lost': {
    severity: 'violation', leak: false,
    bugchecks: [own(NDIS, DMALAB_P1.framesLost)],
    summary: 'frames the protocol sent did not come back intact, or frames the LAN offered were not indicated',
  },
  'packet-filter-ignored': {
    severity: 'violation', leak: false,
    bugchecks: [own(NDIS, DMALAB_P1.packetFilterIgnored)],
    summary: 'frames indicated that the packet filter excludes',
  },

  // ---- DMA and the device -----------------------------------------------------------------------------
  'dma-address-truncated': {
    severity: 'violation', leak: false,
    bugchecks: [own(E6, DMALAB_P1.dmaAddressTruncated, 'the address the device was given', 'the address it reached')],
    summary: 'the device was given an address above its DMA address width',
  },
  'iommu-fault': {
    severity: 'violation', leak: false,
    bugchecks: [bc(E6, 0x26, ['0x26', 'device object of the faulting device', 'faulting address', 'fault type'])],
    summary: 'the IOMMU blocked a device access; carries requester, address, access and reason',
  },
  'dma-to-freed-memory': {
    severity: 'violation', leak: false,
    bugchecks: [bc(E6, 0x0f, ['0x0F', 'violation code', 'buffer length or start', 'buffer start or corruption address'])],
    summary: 'the device read or wrote a page the driver had freed',
  },
  'dma-outside-buffer': {
    severity: 'violation', leak: false,
    fatalWhen: 'the driver\'s own access lands in the guard region around a common buffer',
    bugchecks: [bc(E6, 0x0f, ['0x0F', 'violation code', 'buffer length or start', 'buffer start or corruption address'])],
    summary: 'the device touched memory that is neither a live DMA mapping nor driver memory',
  },
  'dma-not-dma-memory': {
    severity: 'violation', leak: false,
    bugchecks: [bc(E6, 0x0f, ['0x0F', 'violation code', 'buffer length or start', 'buffer start or corruption address'])],
    summary: 'the device touched driver memory no live DMA mapping covers',
  },
  'dma-bad-argument': {
    severity: 'violation', leak: false,
    bugchecks: [
      own(E6, DMALAB_P1.dmaBadArgument),
      bc(E6, 0x06, ['0x06', 'scatter/gather lists allocated', 'scatter/gather lists freed', '0'], 'a scatter/gather list put back twice'),
      bc(E6, 0x18, ['0x18', 'the DMA adapter', 'verifier data', '0'], 'a routine called through an adapter already released'),
      bc(E6, 0x19, ['0x19', '0', '0', '0'], 'a routine called through a NULL (or no) DMA adapter'),
      bc(E6, 0x1f, ['0x1F', '0x01 before / 0x02 after the first MDL', 'virtual address of the start of the DMA buffer', 'the first MDL'], 'CurrentVa outside the first MDL'),
      bc(E6, 0x21, ['0x21', 'verifier data', '0', '0'], 'a zero-length buffer mapped'),
      bc(E6, 0x24, ['0x24', 'length not accounted for', '0', '0'], 'an MDL chain shorter than Length'),
      bc(E6, 0x25, ['0x25', '0', '0', '0'], 'IoGetDmaAdapter with an unknown DEVICE_DESCRIPTION version'),
      bc(E6, 0x04, ['0x04', 'extra adapter channels freed', '0', '0'], 'FreeAdapterChannel / FreeAdapterObject with no channel allocated'),
      bc(E6, 0x0b, ['0x0B', 'outstanding adapter channels', '0', '0'], 'AllocateAdapterChannel while the adapter\'s channel is allocated or requested (one per adapter at a time)'),
    ],
    summary: 'a HAL DMA routine given an argument its page does not allow (a released or no adapter, an address outside the MDL, a list put back twice, ...)',
  },
  'dma-channel-leak': {
    severity: 'violation', leak: true,
    bugchecks: [bc(E6, 0x08, ['0x08', 'the DMA adapter', 'outstanding adapter channels', 'verifier data'])],
    summary: 'the adapter released with its adapter channel (or an adapter object of a synchronous Ex S/G call) still allocated',
  },
  'dma-too-many-map-registers': {
    severity: 'violation', leak: false,
    bugchecks: [bc(E6, 0x0c, ['0x0C', 'map registers required', 'maximum map registers', '0'])],
    summary: 'a transfer needing more map registers than the adapter was given (IoGetDmaAdapter; for an NDIS 5 map register, MaximumPhysicalMapping in NdisMAllocateMapRegisters): it fails every time',
  },
  'dma-double-map': {
    severity: 'violation', leak: false,
    bugchecks: [bc(E6, 0x1d, ['0x1D', 'start of the buffer to map', 'end of the buffer to map', 'address in the buffer that is already mapped'])],
    summary: 'a buffer mapped for DMA again while a transfer that maps it is still live',
  },
  'dma-unlocked-buffer': {
    severity: 'violation', leak: false,
    bugchecks: [bc(E6, 0x0e, ['0x0E', 'the MDL of the DMA buffer', '0', '0'])],
    summary: 'DMA to a buffer whose MDL was never built or locked (MmBuildMdlForNonPagedPool / MmProbeAndLockPages)',
  },
  'dma-wrong-direction': {
    severity: 'violation', leak: false,
    bugchecks: [own(E6, DMALAB_P1.dmaWrongDirection, 'the device address', 'the physical address')],
    summary: 'the device wrote into a mapping made for a transfer to it, or read one made for a transfer from it (with the IOMMU on, an iommu-fault)',
  },
  'common-buffer-leak': {
    severity: 'violation', leak: true,
    bugchecks: [bc(E6, 0x07, ['0x07', 'the DMA adapter', 'outstanding common buffers', 'verifier data'])],
    summary: 'the adapter released with common buffers outstanding',
  },
  'map-register-leak': {
    severity: 'violation', leak: true,
    bugchecks: [
      bc(E6, 0x09, ['0x09', 'the DMA adapter', 'outstanding map registers', 'verifier data']),
      bc(E6, 0x10, ['0x10', 'number of registers still mapped', '0', '0'], 'map registers freed while some still map a buffer (NdisMFreeMapRegisters; FreeMapRegisters / FreeAdapterChannel before FlushAdapterBuffers)'),
    ],
    summary: 'the adapter released with map registers outstanding, or map registers freed while still mapped',
  },
  'map-register-misuse': {
    severity: 'violation', leak: false,
    bugchecks: [
      bc(E6, 0x1d, ['0x1D', 'buffer to map start', 'buffer to map end', 'system address in buffer that is already mapped'], 'a map register mapped again before its mapping was completed'),
      bc(E6, 0x20, ['0x20', 'map register base', 'VA of the start of the DMA buffer', 'the MDL'], 'a mapping completed that was never started'),
      bc(E6, 0x05, ['0x05', 'extra map registers freed', '0', '0'], 'FreeMapRegisters of map registers already freed'),
      bc(E6, 0x15, ['0x15', 'map registers used', 'map registers allocated', '0'], 'MapTransfer beyond the map registers AllocateAdapterChannel allocated'),
      own(E6, DMALAB_P1.mapRegisterMisuse, 'the register index'),
    ],
    summary: 'a map register used wrongly: NDIS 5 (NdisMStartBufferPhysicalMapping / NdisMCompleteBufferPhysicalMapping) or packet-based DMA (MapTransfer, FlushAdapterBuffers, FreeMapRegisters)',
  },
  'sg-list-leak': {
    severity: 'violation', leak: true,
    bugchecks: [bc(E6, 0x0a, ['0x0A', 'the DMA adapter', 'outstanding scatter/gather lists', 'verifier data'])],
    summary: 'the adapter released with scatter/gather lists outstanding',
  },
  'common-buffer-double-free': {
    severity: 'violation', leak: false,
    fatalWhen: 'shared memory freed twice through NdisMFreeSharedMemory: NDIS bug checks (0x7C/0x03)',
    bugchecks: [
      bc(E6, 0x03, ['0x03', 'extra common buffers freed', '0', '0']),
      bc(NDIS, 0x03, ['0x03', ADAPTER_BLOCK, 'the page the shared memory was allocated from', 'virtual address of the shared memory'], 'NdisMFreeSharedMemory of shared memory already freed'),
    ],
    summary: 'a common buffer (shared memory) freed twice',
  },
  'bus-master-disabled': {
    severity: 'violation', leak: false,
    bugchecks: [own(E6, DMALAB_P1.busMasterDisabled, 'the device address')],
    summary: 'the device tried DMA while PCI COMMAND.BME was clear',
  },
  'device-error': {
    severity: 'violation', leak: false,
    bugchecks: [own(E6, DMALAB_P1.deviceError)],
    summary: 'the device met a misprogrammed ring or descriptor (bad length, head or tail out of range, ...)',
  },
} as const satisfies Record<string, KindInfo> & Record<DeviceFindingKind, KindInfo>

type Rows = typeof FINDING_KINDS
export type FindingKind = keyof Rows
/** Kinds that can stop the machine: fatal ones, and violations with a `fatalWhen`. */
export type StoppingKind = { [K in FindingKind]: Rows[K]['severity'] extends 'fatal' ? K : Rows[K] extends { fatalWhen: string } ? K : never }[FindingKind]
/** Kinds that are recorded and the machine goes on (violations and notes). */
export type ReportedKind = { [K in FindingKind]: Rows[K]['severity'] extends 'fatal' ? never : K }[FindingKind]

export type Finding = FindingRecord<FindingKind>
export type FindingInput<K extends FindingKind = FindingKind> = FindingReport<K>

export const kindInfo = (kind: FindingKind): KindInfo => FINDING_KINDS[kind]
export const isLeakKind = (kind: FindingKind): boolean => FINDING_KINDS[kind].leak
export const isFindingKind = (kind: string): kind is FindingKind => Object.hasOwn(FINDING_KINDS, kind)
export const FINDING_KIND_NAMES = Object.keys(FINDING_KINDS) as FindingKind[]

/** Whether (code, parameter 1) is one of the bug checks the table lists for `kind`. */
export function declaresBugCheck(kind: FindingKind, code: number, p1: number): boolean {
  for (const b of FINDING_KINDS[kind].bugchecks as readonly KindBugCheck[]) if (b.code === code && (b.p1 === null || b.p1 === p1)) return true
  return false
}

/** The bug check a finding of `kind` carries when its call site named none (none for notes). */
export function defaultBugCheck(kind: FindingKind): { code: number; params: BugCheckParams } | undefined {
  const first = (FINDING_KINDS[kind].bugchecks as readonly KindBugCheck[])[0]
  return first === undefined ? undefined : { code: first.code, params: [first.p1 ?? 0, 0, 0, 0] }
}

/** What a machine stops with when nothing better is known. */
export const INTERNAL_STOP = { code: C4, params: [DMALAB_P1.internal, 0, 0, 0] } as const
