// What the shim fuzzer's driver does, as data fast-check generates and shrinks: calls to the
// kernel, HAL DMA and NDIS shims, each made from inside one of the miniport's handlers (so at
// the IRQL Windows runs that handler at), right and wrong: allocate and free with the right
// arguments, then twice, with the wrong length, flags or tag, at the wrong IRQL; wild, NULL
// and freed addresses through `ndis.memory`; lookaside lists, MDLs, S/G lists, shared memory
// outside initialization, NBLs that are not the driver's. Objects a call made are named by
// `pick`, an index into what the driver holds of that kind (modulo how many it holds).
import fc from 'fast-check'

/** The handler a call is made from (TestMiniportHooks): its IRQL is the one NDIS runs it at. */
export type Where = 'init' | 'send' | 'sg' | 'isr' | 'dpc' | 'oid' | 'pause' | 'halt' | 'shared'

/** How a free names its object: right, again (double), or with one argument wrong. */
export type How = 'ok' | 'again' | 'wrong' | 'interior' | 'wild'

/** A numeric argument that is not a number of bytes a C caller could pass (a JavaScript driver's slip). */
export type Odd = 'nan' | 'negative' | 'fraction' | 'huge' | 'undefined'

export type Arg = number | Odd

export type ShimCall =
  | { readonly call: 'pool-alloc'; readonly routine: 'ExAllocatePoolWithTag' | 'ExAllocatePool2' | 'ExAllocatePoolWithQuotaTag' | 'ExAllocatePoolWithTagPriority' | 'ExAllocatePool'; readonly type: number; readonly bytes: Arg; readonly tag: string | number }
  | { readonly call: 'pool-free'; readonly pick: number; readonly how: How; readonly withTag: boolean }
  | { readonly call: 'ndis-alloc'; readonly routine: 'NdisAllocateMemory' | 'NdisAllocateMemoryWithTag' | 'NdisAllocateMemoryWithTagPriority'; readonly bytes: Arg; readonly flags: number; readonly highest: number }
  | { readonly call: 'ndis-free'; readonly pick: number; readonly how: How }
  | { readonly call: 'contiguous-alloc'; readonly bytes: Arg; readonly lowest: number; readonly highest: number; readonly boundary: number; readonly cache: number }
  | { readonly call: 'noncached-alloc'; readonly bytes: Arg }
  | { readonly call: 'mm-free'; readonly pick: number; readonly how: How; readonly routine: 'MmFreeContiguousMemory' | 'MmFreeContiguousMemorySpecifyCache' | 'MmFreeNonCachedMemory' | 'ExFreePool' }
  | { readonly call: 'pages-alloc'; readonly low: number; readonly high: number; readonly skip: number; readonly bytes: Arg; readonly ex: boolean }
  | { readonly call: 'pages-free'; readonly pick: number; readonly steps: 'pages-then-mdl' | 'mdl-only' | 'pages-only' | 'twice' }
  | { readonly call: 'mapping-alloc'; readonly bytes: Arg; readonly tag: string | number }
  | { readonly call: 'mapping-map'; readonly pick: number; readonly mdl: number; readonly tag: 'same' | 'other' }
  | { readonly call: 'mapping-unmap'; readonly pick: number; readonly mdl: number }
  | { readonly call: 'mapping-free'; readonly pick: number; readonly how: How }
  | { readonly call: 'mdl-alloc'; readonly routine: 'IoAllocateMdl' | 'NdisAllocateMdl'; readonly target: number; readonly offset: number; readonly bytes: Arg }
  | { readonly call: 'mdl-op'; readonly pick: number; readonly op: 'build' | 'probe' | 'unlock' | 'map' | 'unmap' | 'system-address' | 'free' | 'free-again' | 'byte-count' }
  /** The driver rewrites an MDL's fields or links MDLs into a chain (to another, to itself, to nothing). */
  | { readonly call: 'mdl-scribble'; readonly pick: number; readonly field: 'Next' | 'ByteCount' | 'ByteOffset' | 'StartVa'; readonly to: number | 'self' | 'undefined' | null; readonly value: number }
  | { readonly call: 'lookaside-init'; readonly head: 'nonpaged' | 'paged' | 'misaligned' | 'wild' | 'live'; readonly paged: boolean; readonly flags: number; readonly depth: number; readonly size: Arg; readonly custom: boolean }
  | { readonly call: 'lookaside-alloc'; readonly pick: number }
  | { readonly call: 'lookaside-free'; readonly pick: number; readonly entry: number; readonly how: How }
  | { readonly call: 'lookaside-delete'; readonly pick: number; readonly how: How }
  | { readonly call: 'irql'; readonly raise: boolean; readonly level: number }
  | { readonly call: 'spinlock'; readonly pick: number; readonly op: 'allocate' | 'acquire' | 'release' | 'dpr-acquire' | 'dpr-release' | 'free' }
  | { readonly call: 'memory'; readonly access: 'read8' | 'read16' | 'read32' | 'read64' | 'write8' | 'write16' | 'write32' | 'write64' | 'readBytes' | 'writeBytes' | 'fill' | 'copy' | 'zero' | 'move'; readonly target: 'object' | 'null' | 'wild' | 'freed' | 'regs' | 'nan'; readonly pick: number; readonly offset: number; readonly bytes: Arg }
  | { readonly call: 'register'; readonly offset: number; readonly value: number; readonly write: boolean; readonly width: 1 | 2 | 4 }
  | { readonly call: 'dma-adapter'; readonly version: number; readonly master: boolean; readonly width: number; readonly dma64: boolean; readonly maximumLength: Arg; readonly pdo: boolean }
  | { readonly call: 'dma-put'; readonly pick: number }
  | { readonly call: 'common-alloc'; readonly adapter: number; readonly bytes: Arg; readonly cached: boolean; readonly ex: boolean; readonly maximum: number }
  | { readonly call: 'common-free'; readonly pick: number; readonly how: How }
  | { readonly call: 'sg-get'; readonly adapter: number; readonly mdl: number; readonly offset: number; readonly bytes: Arg; readonly write: boolean; readonly build: boolean; readonly bufferSize: number }
  | { readonly call: 'sg-put'; readonly pick: number; readonly how: How }
  | { readonly call: 'sg-calc'; readonly adapter: number; readonly mdl: number; readonly bytes: Arg }
  | { readonly call: 'shared-alloc'; readonly bytes: Arg; readonly cached: boolean }
  | { readonly call: 'shared-free'; readonly pick: number; readonly how: How }
  | { readonly call: 'shared-async'; readonly bytes: Arg; readonly cached: boolean }
  | { readonly call: 'nbl-pool'; readonly tag: string | number; readonly free: number | null }
  | { readonly call: 'nbl-alloc'; readonly pool: number; readonly mdl: number | null; readonly offset: number; readonly bytes: Arg }
  | { readonly call: 'nbl-free'; readonly pick: number; readonly how: How }
  | { readonly call: 'nbl-sg'; readonly pick: number }
  /** The driver links NBLs into a chain (to another, to itself, to nothing), or points a NET_BUFFER at another MDL. */
  | { readonly call: 'nbl-scribble'; readonly pick: number; readonly field: 'Next' | 'CurrentMdl' | 'DataLength' | 'CurrentMdlOffset' | 'NbNext'; readonly to: number | 'self' | null; readonly value: number }
  | { readonly call: 'nbl-indicate'; readonly pick: number; readonly count: number }
  | { readonly call: 'nbl-complete'; readonly pick: number }
  | { readonly call: 'bus-data'; readonly set: boolean; readonly offset: number; readonly bytes: number }
  | { readonly call: 'io-space'; readonly map: boolean; readonly offset: number; readonly bytes: number; readonly pick: number }
  | { readonly call: 'ndis-misc'; readonly routine: 'NdisMSleep' | 'NdisStallExecution' | 'NdisMIndicateStatusEx' | 'NdisMSynchronizeWithInterruptEx' | 'NdisMGetDeviceProperty' | 'NdisMDeregisterScatterGatherDma' | 'NdisMDeregisterInterruptEx' | 'NdisMPauseComplete' }
  /** A routine given something that is not what its parameter is (NULL, undefined, a plain object or array, a string). */
  | { readonly call: 'garbage'; readonly routine: GarbageRoutine; readonly value: Garbage }
  | { readonly call: 'throw' }
  /**
   * Driver code at its most hostile: throws something that is not an Error (a Proxy whose
   * traps throw, an object with no prototype, a Symbol, a BigInt, an Error whose getters
   * throw), spins on a stall that never ends, or makes its handler return garbage.
   */
  | { readonly call: 'oddity'; readonly what: Oddity }

export const ODDITIES = ['throw-proxy', 'throw-null-proto', 'throw-symbol', 'throw-bigint', 'throw-getters', 'spin', 'return-garbage'] as const
export type Oddity = (typeof ODDITIES)[number]

/** What a JavaScript driver can pass by mistake where an object, function or buffer belongs. */
export type Garbage = 'null' | 'undefined' | 'object' | 'array' | 'string' | 'nan'

export const GARBAGE_ROUTINES = [
  'memory.writeBytes', 'memory.readInto', 'memory.read32', 'MmGetMdlByteCount', 'MmGetMdlByteOffset', 'MmGetMdlVirtualAddress', 'MmGetMdlPfnArray',
  'NdisMIndicateReceiveNetBufferLists', 'NdisMSendNetBufferListsComplete', 'NdisAllocateNetBufferListPool', 'NdisMSynchronizeWithInterruptEx',
  'ExAllocateFromNPagedLookasideList', 'ExFreeToNPagedLookasideList', 'ExDeleteNPagedLookasideList', 'ExInitializeNPagedLookasideList', 'IoFreeMdl', 'ExFreePool',
  'MmBuildMdlForNonPagedPool', 'MmProbeAndLockPages', 'NdisFreeNetBufferList', 'NdisFreeNetBufferListPool', 'NdisFreeSpinLock', 'NdisAcquireSpinLock',
  'NdisMFreeNetBufferSGList', 'PutScatterGatherList', 'FreeCommonBuffer', 'PutDmaAdapter', 'GetScatterGatherList', 'NdisMSetMiniportAttributes',
  'NdisMOidRequestComplete', 'NdisMRegisterScatterGatherDma', 'IoGetDmaAdapter', 'NdisAllocateMdl', 'IoAllocateMdl', 'NdisMMapIoSpace',
  'KeRaiseIrql', 'NdisAllocateNetBufferAndNetBufferList', 'NdisMAllocateNetBufferSGList', 'MmMapLockedPagesSpecifyCache', 'MmAllocatePagesForMdl',
  'ExAllocatePoolWithTag', 'NdisMFreeSharedMemory', 'MmFreeContiguousMemory', 'NdisFreeMemory', 'MmAllocateMappingAddress',
] as const
export type GarbageRoutine = (typeof GARBAGE_ROUTINES)[number]

export interface PlacedCall {
  readonly where: Where
  readonly call: ShimCall
}

/** Protocol-side traffic and time between the driver's handlers (host API calls). */
export type HostStep =
  | { readonly step: 'send'; readonly count: number; readonly size: number }
  | { readonly step: 'receive'; readonly count: number; readonly size: number }
  | { readonly step: 'run'; readonly ns: number }

export interface ShimConfig {
  readonly mode: 'log' | 'crash'
  readonly iommu: boolean
  readonly dma64: boolean
  readonly policy: 'high-first' | 'low-first' | 'random'
  readonly memory: '32MiB' | '8GiB'
  /** Other components allocate and free frames as time passes (S06). */
  readonly fragmentation: 0 | 0.5 | 1
  readonly specialPool: boolean
  readonly dmaGuard: boolean
  /** A fault spec, or none. */
  readonly faults: string | null
  /** Runs the program twice and compares the findings (same config and seed: same report). */
  readonly twice: boolean
}

export interface ShimProgram {
  readonly config: ShimConfig
  readonly calls: readonly PlacedCall[]
  readonly steps: readonly HostStep[]
}

const odd = fc.constantFrom<Odd>('nan', 'negative', 'fraction', 'huge', 'undefined')
/** Sizes around the pool's page threshold (S09/S10), a page, and odd ones now and then. */
const bytes: fc.Arbitrary<Arg> = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom(0, 1, 8, 16, 64, 100, 256, 4064, 4080, 4081, 4096, 4097, 8192, 65536, 0x10_0000) },
  { weight: 10, arbitrary: fc.integer({ min: 1, max: 20_000 }) },
  { weight: 1, arbitrary: odd },
)
const pick = fc.integer({ min: 0, max: 7 })
const how = fc.oneof({ weight: 14, arbitrary: fc.constant<How>('ok') }, { weight: 1, arbitrary: fc.constantFrom<How>('again', 'wrong', 'interior', 'wild') })
const tag = fc.oneof({ weight: 20, arbitrary: fc.constantFrom('tseT', 'zzuF', 'A') }, { weight: 1, arbitrary: fc.constantFrom<string | number>(0, 'toolong', 0x6c6f6f50, '') })
const address = fc.oneof(fc.constantFrom(0, 0xffff_ffff, 0xbfff_ffff, 0x1_0000_0000, 2 ** 36, -1), fc.integer({ min: 0, max: 2 ** 40 }))
const poolType = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(512, 0, 1, 4, 516, 5) }, { weight: 1, arbitrary: fc.constantFrom(2, 6, 16, 8, 33, 7, 999) })
const offset = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 60 }) }, { weight: 1, arbitrary: fc.constantFrom(4095, 4096, -16, 9000) })

export const shimCall: fc.Arbitrary<ShimCall> = fc.oneof(
  { weight: 24, arbitrary: fc.record({ call: fc.constant('pool-alloc' as const), routine: fc.constantFrom('ExAllocatePoolWithTag' as const, 'ExAllocatePool2' as const, 'ExAllocatePoolWithQuotaTag' as const, 'ExAllocatePoolWithTagPriority' as const, 'ExAllocatePool' as const), type: poolType, bytes, tag }) },
  { weight: 18, arbitrary: fc.record({ call: fc.constant('pool-free' as const), pick, how, withTag: fc.boolean() }) },
  { weight: 12, arbitrary: fc.record({ call: fc.constant('ndis-alloc' as const), routine: fc.constantFrom('NdisAllocateMemory' as const, 'NdisAllocateMemoryWithTag' as const, 'NdisAllocateMemoryWithTagPriority' as const), bytes, flags: fc.constantFrom(0, 0, 1, 2, 3, 4), highest: fc.constantFrom(-1, 0xffff_ffff, 0x00ff_ffff, 2 ** 40) }) },
  { weight: 12, arbitrary: fc.record({ call: fc.constant('ndis-free' as const), pick, how }) },
  { weight: 6, arbitrary: fc.record({ call: fc.constant('contiguous-alloc' as const), bytes, lowest: fc.constantFrom(0, 0x1000, 0x1_0000_0000), highest: address, boundary: fc.constantFrom(0, 0x1000, 0x1_0000, 0x3000, 0x1_0000_0000), cache: fc.constantFrom(0, 1, 2, 9) }) },
  { weight: 6, arbitrary: fc.record({ call: fc.constant('noncached-alloc' as const), bytes }) },
  { weight: 9, arbitrary: fc.record({ call: fc.constant('mm-free' as const), pick, how, routine: fc.constantFrom('MmFreeContiguousMemory' as const, 'MmFreeContiguousMemorySpecifyCache' as const, 'MmFreeNonCachedMemory' as const, 'ExFreePool' as const) }) },
  { weight: 6, arbitrary: fc.record({ call: fc.constant('pages-alloc' as const), low: fc.constantFrom(0, 0x1_0000_0000), high: address, skip: fc.constantFrom(0, 0x1000, 0x10_0000), bytes, ex: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ call: fc.constant('pages-free' as const), pick, steps: fc.constantFrom('pages-then-mdl' as const, 'pages-then-mdl' as const, 'mdl-only' as const, 'pages-only' as const, 'twice' as const) }) },
  { weight: 3, arbitrary: fc.record({ call: fc.constant('mapping-alloc' as const), bytes: fc.oneof({ weight: 6, arbitrary: bytes }, { weight: 1, arbitrary: fc.constantFrom<Arg>(2 ** 32, 2 ** 33, 2 ** 40, 2 ** 44) }), tag }) },
  { weight: 3, arbitrary: fc.record({ call: fc.constant('mapping-map' as const), pick, mdl: pick, tag: fc.constantFrom('same' as const, 'other' as const) }) },
  { weight: 3, arbitrary: fc.record({ call: fc.constant('mapping-unmap' as const), pick, mdl: pick }) },
  { weight: 3, arbitrary: fc.record({ call: fc.constant('mapping-free' as const), pick, how }) },
  { weight: 9, arbitrary: fc.record({ call: fc.constant('mdl-alloc' as const), routine: fc.constantFrom('IoAllocateMdl' as const, 'NdisAllocateMdl' as const), target: pick, offset, bytes }) },
  { weight: 12, arbitrary: fc.record({ call: fc.constant('mdl-op' as const), pick, op: fc.constantFrom('build' as const, 'probe' as const, 'unlock' as const, 'map' as const, 'unmap' as const, 'system-address' as const, 'free' as const, 'free-again' as const, 'byte-count' as const) }) },
  { weight: 2, arbitrary: fc.record({ call: fc.constant('mdl-scribble' as const), pick, field: fc.constantFrom('Next' as const, 'Next' as const, 'ByteCount' as const, 'ByteOffset' as const, 'StartVa' as const), to: fc.oneof(pick, fc.constantFrom('self' as const, 'undefined' as const, null)), value: fc.constantFrom(0, 1, 4095, 4096, 0x1_0000, -1, 2 ** 32, Number.NaN) }) },
  { weight: 2, arbitrary: fc.record({ call: fc.constant('nbl-scribble' as const), pick, field: fc.constantFrom('Next' as const, 'Next' as const, 'CurrentMdl' as const, 'DataLength' as const, 'CurrentMdlOffset' as const, 'NbNext' as const), to: fc.oneof(pick, fc.constantFrom('self' as const, null)), value: fc.constantFrom(0, 1, 60, 4096, 70_000, -1) }) },
  { weight: 6, arbitrary: fc.record({ call: fc.constant('lookaside-init' as const), head: fc.constantFrom('nonpaged' as const, 'nonpaged' as const, 'paged' as const, 'misaligned' as const, 'wild' as const, 'live' as const), paged: fc.boolean(), flags: fc.constantFrom(0, 0, 512, 16, 1), depth: fc.constantFrom(0, 0, 0, 4), size: fc.oneof({ weight: 12, arbitrary: fc.constantFrom<Arg>(8, 64, 256, 4096) }, { weight: 1, arbitrary: fc.constantFrom<Arg>(0, 4) }, { weight: 1, arbitrary: odd }), custom: fc.boolean() }) },
  { weight: 9, arbitrary: fc.record({ call: fc.constant('lookaside-alloc' as const), pick }) },
  { weight: 9, arbitrary: fc.record({ call: fc.constant('lookaside-free' as const), pick, entry: pick, how }) },
  { weight: 3, arbitrary: fc.record({ call: fc.constant('lookaside-delete' as const), pick, how }) },
  { weight: 6, arbitrary: fc.record({ call: fc.constant('irql' as const), raise: fc.boolean(), level: fc.constantFrom(0, 1, 2, 2, 11, 15, 31, 40, -1) }) },
  { weight: 6, arbitrary: fc.record({ call: fc.constant('spinlock' as const), pick, op: fc.constantFrom('allocate' as const, 'acquire' as const, 'release' as const, 'dpr-acquire' as const, 'dpr-release' as const, 'free' as const) }) },
  {
    weight: 8,
    arbitrary: fc.record({
      call: fc.constant('memory' as const),
      access: fc.constantFrom('read8' as const, 'read16' as const, 'read32' as const, 'read64' as const, 'write8' as const, 'write16' as const, 'write32' as const, 'write64' as const, 'readBytes' as const, 'writeBytes' as const, 'fill' as const, 'copy' as const, 'zero' as const, 'move' as const),
      target: fc.oneof({ weight: 72, arbitrary: fc.constant('object' as const) }, { weight: 3, arbitrary: fc.constantFrom('null' as const, 'wild' as const, 'freed' as const, 'regs' as const, 'nan' as const) }),
      pick,
      offset,
      bytes: fc.oneof({ weight: 72, arbitrary: fc.constantFrom<Arg>(0, 1, 4, 8, 64, 256, 4096) }, { weight: 3, arbitrary: fc.constantFrom<Arg>(4097, 9000, 2 ** 31, 2 ** 33) }, { weight: 3, arbitrary: odd }),
    }),
  },
  { weight: 9, arbitrary: fc.record({ call: fc.constant('register' as const), offset: fc.oneof(fc.constantFrom(0x0, 0xc0, 0xd0, 0xd8, 0x100, 0x400, 0x2818, 0x3818, 0x3808, 0x2808, 0x3800), fc.integer({ min: 0, max: 0x2_0004 })), value: fc.oneof(fc.constantFrom(0, 0xffff_ffff, 1 << 26, 2, 0x40), fc.integer({ min: 0, max: 0xffff_ffff })), write: fc.boolean(), width: fc.constantFrom<1 | 2 | 4>(4, 4, 2, 1) }) },
  { weight: 6, arbitrary: fc.record({ call: fc.constant('dma-adapter' as const), version: fc.constantFrom(0, 2, 3), master: fc.oneof({ weight: 15, arbitrary: fc.constant(true) }, { weight: 3, arbitrary: fc.constant(false) }), width: fc.constantFrom(0, 24, 32, 36, 64, 65), dma64: fc.boolean(), maximumLength: bytes, pdo: fc.oneof({ weight: 15, arbitrary: fc.constant(true) }, { weight: 3, arbitrary: fc.constant(false) }) }) },
  { weight: 3, arbitrary: fc.record({ call: fc.constant('dma-put' as const), pick }) },
  { weight: 9, arbitrary: fc.record({ call: fc.constant('common-alloc' as const), adapter: pick, bytes, cached: fc.boolean(), ex: fc.boolean(), maximum: fc.constantFrom(0, 0xffff_ffff, 0xff_ffff, 2 ** 40) }) },
  { weight: 9, arbitrary: fc.record({ call: fc.constant('common-free' as const), pick, how }) },
  { weight: 12, arbitrary: fc.record({ call: fc.constant('sg-get' as const), adapter: pick, mdl: pick, offset: fc.constantFrom(0, 1, 100, 4095, 4096, 70_000, -1), bytes, write: fc.boolean(), build: fc.boolean(), bufferSize: fc.constantFrom(0, 64, 4096) }) },
  { weight: 9, arbitrary: fc.record({ call: fc.constant('sg-put' as const), pick, how }) },
  { weight: 3, arbitrary: fc.record({ call: fc.constant('sg-calc' as const), adapter: pick, mdl: pick, bytes }) },
  { weight: 6, arbitrary: fc.record({ call: fc.constant('shared-alloc' as const), bytes, cached: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ call: fc.constant('shared-free' as const), pick, how }) },
  { weight: 3, arbitrary: fc.record({ call: fc.constant('shared-async' as const), bytes, cached: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ call: fc.constant('nbl-pool' as const), tag, free: fc.option(pick, { nil: null }) }) },
  { weight: 9, arbitrary: fc.record({ call: fc.constant('nbl-alloc' as const), pool: pick, mdl: fc.option(pick, { nil: null }), offset: fc.constantFrom(0, 1, 14, 5000), bytes }) },
  { weight: 6, arbitrary: fc.record({ call: fc.constant('nbl-free' as const), pick, how }) },
  { weight: 6, arbitrary: fc.record({ call: fc.constant('nbl-sg' as const), pick }) },
  { weight: 3, arbitrary: fc.record({ call: fc.constant('nbl-indicate' as const), pick, count: fc.constantFrom(0, 1, 2, 5) }) },
  { weight: 3, arbitrary: fc.record({ call: fc.constant('nbl-complete' as const), pick }) },
  { weight: 3, arbitrary: fc.record({ call: fc.constant('bus-data' as const), set: fc.boolean(), offset: fc.constantFrom(0, 4, 0x10, 0x3c, 255, 256, 300, -4), bytes: fc.constantFrom(0, 1, 4, 64, 256, 1000, -1) }) },
  { weight: 3, arbitrary: fc.record({ call: fc.constant('io-space' as const), map: fc.boolean(), offset: fc.constantFrom(0, 4, 0x1_fff0, 0x2_0000, -4096), bytes: fc.constantFrom(0, 4, 0x1000, 0x2_0000, 0x2_0001), pick }) },
  { weight: 3, arbitrary: fc.record({ call: fc.constant('ndis-misc' as const), routine: fc.constantFrom('NdisMSleep' as const, 'NdisStallExecution' as const, 'NdisMIndicateStatusEx' as const, 'NdisMSynchronizeWithInterruptEx' as const, 'NdisMGetDeviceProperty' as const, 'NdisMDeregisterScatterGatherDma' as const, 'NdisMDeregisterInterruptEx' as const, 'NdisMPauseComplete' as const) }) },
  { weight: 6, arbitrary: fc.record({ call: fc.constant('garbage' as const), routine: fc.constantFrom(...GARBAGE_ROUTINES), value: fc.constantFrom<Garbage>('null', 'undefined', 'object', 'array', 'string', 'nan') }) },
  { weight: 1, arbitrary: fc.constant({ call: 'throw' as const }) },
  { weight: 1, arbitrary: fc.record({ call: fc.constant('oddity' as const), what: fc.constantFrom(...ODDITIES) }) },
)

const where = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Where>('init') },
  { weight: 3, arbitrary: fc.constantFrom<Where>('send', 'dpc', 'halt') },
  { weight: 1, arbitrary: fc.constantFrom<Where>('sg', 'isr', 'oid', 'pause', 'shared') },
)

const hostStep: fc.Arbitrary<HostStep> = fc.oneof(
  fc.record({ step: fc.constant('send' as const), count: fc.integer({ min: 1, max: 12 }), size: fc.constantFrom(60, 64, 500, 1514, 2000) }),
  fc.record({ step: fc.constant('receive' as const), count: fc.integer({ min: 1, max: 12 }), size: fc.constantFrom(60, 64, 500, 1514, 2000) }),
  fc.record({ step: fc.constant('run' as const), ns: fc.constantFrom(0, 1000, 100_000, 2_000_000) }),
)

export const shimConfig: fc.Arbitrary<ShimConfig> = fc.record({
  mode: fc.constantFrom('log' as const, 'log' as const, 'log' as const, 'crash' as const),
  iommu: fc.boolean(),
  dma64: fc.boolean(),
  policy: fc.constantFrom('high-first' as const, 'low-first' as const, 'random' as const),
  memory: fc.constantFrom('8GiB' as const, '8GiB' as const, '8GiB' as const, '32MiB' as const),
  fragmentation: fc.constantFrom(0 as const, 0 as const, 0.5 as const, 1 as const),
  specialPool: fc.boolean(),
  dmaGuard: fc.boolean(),
  faults: fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom('p=1000,seed=3', 'routine=Ex*,nth=2', 'phase=runtime,p=3000,seed=9', 'routine=MmAllocatePagesForMdl*,nth=1') }),
  twice: fc.oneof({ weight: 7, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
})

export function shimProgram(maxCalls: number): fc.Arbitrary<ShimProgram> {
  return fc.record({
    config: shimConfig,
    calls: fc.array(fc.record({ where, call: shimCall }), { minLength: 1, maxLength: maxCalls, size: 'max' }),
    steps: fc.array(hostStep, { minLength: 1, maxLength: 6 }),
  })
}
