// The driver-facing Mm and Io memory routines: contiguous and noncached memory, pages for an
// MDL, MDLs, mapping addresses, MmGetPhysicalAddress. WDK names and parameter order; a
// PHYSICAL_ADDRESS is a number of bytes; a routine that returns a pointer returns it as a
// number (0 = NULL), one that returns a PMDL returns the MDL object or null. Allocating
// routines take their fault decision once, at entry (`kernel.calls.allocation`).
import { requireIrql } from './irql-checks.js'
import { APC_LEVEL, DISPATCH_LEVEL } from './irql.js'
import type { Kernel } from './kernel.js'
import { MDL_TAG, type MDL } from './mdl.js'
import { buildPartialMdl } from './mdl-partial.js'
import { cacheTypeOf, type CacheType } from './mm.js'
import { tagName, type PoolTag } from './tags.js'
import { toBytes, toTag } from './ex-api.js'
import { KPROCESSOR_MODE, MDL_FLAGS, NTSTATUS, NtStatusError, PAGE_PROTECTION } from './wdm.js'
import type { AllocationRoutine } from '../faults/routines.js'

/**
 * The MDL a field macro (MmGetMdlByteCount and friends) reads. In C these read the structure,
 * and a NULL MDL faults; a value that is not an MDL object is the driver's TypeError naming
 * the macro, not one from inside the shim.
 */
function fields(routine: string, mdl: MDL): MDL {
  if (typeof mdl !== 'object' || mdl === null) throw new TypeError(`${routine}: the argument is not an MDL (got ${mdl === null ? 'NULL' : typeof mdl})`)
  return mdl
}

export function mmRoutines(k: Kernel) {
  /** Entry of an allocating routine: refuse once stopped, then the one fault decision. */
  function enter(routine: AllocationRoutine, bytes: number, tag?: number) {
    k.log.throwIfStopped()
    return k.calls.allocation(routine, bytes, tag === undefined ? undefined : tagName(tag))
  }

  function entered(): void {
    k.log.throwIfStopped()
  }

  function cacheOf(CacheType: number): CacheType | undefined {
    return cacheTypeOf(CacheType)
  }

  function contiguous(routine: AllocationRoutine, bytes: number, lowest: number, highest: number, boundary: number, cacheType: number): number {
    const ctx = enter(routine, bytes)
    requireIrql(k, routine, DISPATCH_LEVEL)
    const cache = cacheOf(cacheType)
    if (ctx.fail || cache === undefined) return 0
    return k.contiguous.allocateContiguous(bytes, { lowest, highest, boundary, cache, ...(ctx.site === undefined ? {} : { site: ctx.site }) })
  }

  function pagesForMdl(routine: AllocationRoutine, low: number, high: number, skip: number, total: number, cacheType: number, flags: number): MDL | null {
    const ctx = enter(routine, total)
    requireIrql(k, routine, DISPATCH_LEVEL, 0x7e, DISPATCH_LEVEL, 0)
    const cache = cacheOf(cacheType)
    if ((ctx.fail && !ctx.partial) || cache === undefined) return null
    return k.mdlPages.allocate({
      lowAddress: low, highAddress: high, skipBytes: skip, totalBytes: total, cache, flags, partial: ctx.partial,
      ...(ctx.site === undefined ? {} : { site: ctx.site }),
    })
  }

  function mapLocked(routine: string, mdl: MDL, accessMode: number, cacheType: number, bugCheckOnFailure: boolean, priority: number): number {
    const state = k.mdl.require(mdl, routine)
    requireIrql(k, routine, DISPATCH_LEVEL, 0x76, state.address, accessMode)
    if (bugCheckOnFailure) {
      k.mdl.misuse(mdl, [0x82, state.address, mdl.MdlFlags, 0], `${routine} with BugCheckOnFailure TRUE: pass FALSE and handle a NULL result`)
    }
    // dmalab has no user processes to map into; a user-mode mapping fails.
    const cache = cacheOf(cacheType)
    if (accessMode !== KPROCESSOR_MODE.KernelMode || cache === undefined) return 0
    return k.mdl.mapLocked(mdl, cache, priority, routine)
  }

  return {
    /** MmAllocateContiguousMemory(NumberOfBytes, HighestAcceptableAddress): cached, no boundary. */
    MmAllocateContiguousMemory(NumberOfBytes: number, HighestAcceptableAddress: number): number {
      const r = 'MmAllocateContiguousMemory'
      return contiguous(r, toBytes(r, NumberOfBytes), 0, HighestAcceptableAddress, 0, 1)
    },

    /** S25: lowest/highest bound every byte, the run crosses no multiple of the boundary. */
    MmAllocateContiguousMemorySpecifyCache(NumberOfBytes: number, LowestAcceptableAddress: number, HighestAcceptableAddress: number, BoundaryAddressMultiple: number, CacheType: number): number {
      const r = 'MmAllocateContiguousMemorySpecifyCache'
      return contiguous(r, toBytes(r, NumberOfBytes), LowestAcceptableAddress, HighestAcceptableAddress, BoundaryAddressMultiple, CacheType)
    },

    MmFreeContiguousMemory(BaseAddress: number): void {
      entered()
      requireIrql(k, 'MmFreeContiguousMemory', DISPATCH_LEVEL)
      k.contiguous.free('contiguous', BaseAddress, { routine: 'MmFreeContiguousMemory' })
    },

    MmFreeContiguousMemorySpecifyCache(BaseAddress: number, NumberOfBytes: number, CacheType: number): void {
      const r = 'MmFreeContiguousMemorySpecifyCache'
      entered()
      requireIrql(k, r, DISPATCH_LEVEL)
      const cache = cacheOf(CacheType)
      k.contiguous.free('contiguous', BaseAddress, { routine: r, bytes: toBytes(r, NumberOfBytes), ...(cache === undefined ? {} : { cache }) })
    },

    /** S16: whole pages, noncached, not necessarily contiguous, not zeroed; <= APC_LEVEL. */
    MmAllocateNonCachedMemory(NumberOfBytes: number): number {
      const r = 'MmAllocateNonCachedMemory'
      const bytes = toBytes(r, NumberOfBytes)
      const ctx = enter(r, bytes)
      requireIrql(k, r, APC_LEVEL)
      if (ctx.fail) return 0
      return k.contiguous.allocateNonCached(bytes, ctx.site === undefined ? {} : { site: ctx.site })
    },

    MmFreeNonCachedMemory(BaseAddress: number, NumberOfBytes: number): void {
      const r = 'MmFreeNonCachedMemory'
      entered()
      requireIrql(k, r, APC_LEVEL)
      k.contiguous.free('noncached', BaseAddress, { routine: r, bytes: toBytes(r, NumberOfBytes) })
    },

    /** S17: zeroed pages from [LowAddress, HighAddress] (then moved up by SkipBytes), maybe fewer. */
    MmAllocatePagesForMdl(LowAddress: number, HighAddress: number, SkipBytes: number, TotalBytes: number): MDL | null {
      const r = 'MmAllocatePagesForMdl'
      return pagesForMdl(r, LowAddress, HighAddress, SkipBytes, toBytes(r, TotalBytes), 1, 0)
    },

    MmAllocatePagesForMdlEx(LowAddress: number, HighAddress: number, SkipBytes: number, TotalBytes: number, CacheType: number, Flags: number): MDL | null {
      const r = 'MmAllocatePagesForMdlEx'
      return pagesForMdl(r, LowAddress, HighAddress, SkipBytes, toBytes(r, TotalBytes), CacheType, Flags)
    },

    /** Frees the pages only; the MDL itself is then freed with ExFreePool. */
    MmFreePagesFromMdl(MemoryDescriptorList: MDL): void {
      entered()
      requireIrql(k, 'MmFreePagesFromMdl', DISPATCH_LEVEL, 0x7e, DISPATCH_LEVEL, 0)
      k.mdlPages.free(MemoryDescriptorList)
    },

    /**
     * IoAllocateMdl(VirtualAddress, Length, SecondaryBuffer, ChargeQuota, Irp): dmalab has no
     * IRPs, so SecondaryBuffer, ChargeQuota and Irp are accepted and ignored.
     */
    IoAllocateMdl(VirtualAddress: number, Length: number, _SecondaryBuffer?: boolean, _ChargeQuota?: boolean, _Irp?: unknown): MDL | null {
      const r = 'IoAllocateMdl'
      const ctx = enter(r, toBytes(r, Length), MDL_TAG)
      requireIrql(k, r, DISPATCH_LEVEL)
      if (ctx.fail) return null
      return k.mdl.create(VirtualAddress, Length, ctx.site === undefined ? {} : { site: ctx.site })
    },

    IoFreeMdl(Mdl: MDL): void {
      entered()
      requireIrql(k, 'IoFreeMdl', DISPATCH_LEVEL)
      k.mdl.free(Mdl)
    },

    /** A caller-allocated MDL describes a subrange of a locked one (kernel/mdl-partial.ts). <= DISPATCH_LEVEL. */
    IoBuildPartialMdl(SourceMdl: MDL, TargetMdl: MDL, VirtualAddress: number, Length: number): void {
      entered()
      requireIrql(k, 'IoBuildPartialMdl', DISPATCH_LEVEL)
      buildPartialMdl(k, SourceMdl, TargetMdl, VirtualAddress, Length)
    },

    MmBuildMdlForNonPagedPool(MemoryDescriptorList: MDL): void {
      entered()
      requireIrql(k, 'MmBuildMdlForNonPagedPool', DISPATCH_LEVEL)
      k.mdl.buildForNonPagedPool(MemoryDescriptorList)
    },

    MmProbeAndLockPages(MemoryDescriptorList: MDL, AccessMode: number, Operation: number): void {
      const ctx = enter('MmProbeAndLockPages', MemoryDescriptorList?.ByteCount ?? 0)
      const state = k.mdl.require(MemoryDescriptorList, 'MmProbeAndLockPages')
      // Pageable memory may have to be paged in: APC_LEVEL at most; nonpaged, DISPATCH_LEVEL.
      const max = k.mdl.describesPageable(MemoryDescriptorList) ? APC_LEVEL : DISPATCH_LEVEL
      requireIrql(k, 'MmProbeAndLockPages', max, 0x70, state.address, AccessMode)
      // MmProbeAndLockPages reference: it raises an exception when the pages cannot be locked;
      // under low resources that is STATUS_INSUFFICIENT_RESOURCES (call it inside __try/__except).
      if (ctx.fail) throw new NtStatusError('MmProbeAndLockPages', NTSTATUS.STATUS_INSUFFICIENT_RESOURCES, 'the pages could not be locked (low resources); probe inside __try/__except')
      k.mdl.probeAndLock(MemoryDescriptorList, Operation)
    },

    MmUnlockPages(MemoryDescriptorList: MDL): void {
      entered()
      const state = k.mdl.require(MemoryDescriptorList, 'MmUnlockPages')
      requireIrql(k, 'MmUnlockPages', DISPATCH_LEVEL, 0x78, state.address, 0)
      k.mdl.unlock(MemoryDescriptorList)
    },

    MmGetMdlByteCount(Mdl: MDL): number {
      return fields('MmGetMdlByteCount', Mdl).ByteCount
    },

    MmGetMdlByteOffset(Mdl: MDL): number {
      return fields('MmGetMdlByteOffset', Mdl).ByteOffset
    },

    MmGetMdlVirtualAddress(Mdl: MDL): number {
      const m = fields('MmGetMdlVirtualAddress', Mdl)
      return m.StartVa + m.ByteOffset
    },

    MmGetMdlPfnArray(Mdl: MDL): number[] {
      return fields('MmGetMdlPfnArray', Mdl).PfnArray
    },

    /** The MDL's system address, mapping its pages first when they are not mapped yet; 0 on failure. */
    MmGetSystemAddressForMdlSafe(Mdl: MDL, Priority: number): number {
      entered()
      if ((Mdl.MdlFlags & (MDL_FLAGS.MDL_MAPPED_TO_SYSTEM_VA | MDL_FLAGS.MDL_SOURCE_IS_NONPAGED_POOL)) !== 0) return Mdl.MappedSystemVa
      // Only a call that has to map can fail (the macro returns MappedSystemVa otherwise).
      if (enter('MmGetSystemAddressForMdlSafe', Mdl.ByteCount).fail) return 0
      const cache = k.mdl.stateOf(Mdl)?.cache ?? 'cached'
      return mapLocked('MmGetSystemAddressForMdlSafe', Mdl, KPROCESSOR_MODE.KernelMode, cache === 'noncached' ? 0 : cache === 'write-combined' ? 2 : 1, false, Priority)
    },

    MmMapLockedPagesSpecifyCache(MemoryDescriptorList: MDL, AccessMode: number, CacheType: number, _RequestedAddress: number, BugCheckOnFailure: boolean, Priority: number): number {
      // With BugCheckOnFailure TRUE a failed mapping is a bug check, and asking for that is
      // itself Driver Verifier's 0xC4/0x82 (reported in mapLocked): such calls are not failed.
      if (BugCheckOnFailure !== true && enter('MmMapLockedPagesSpecifyCache', MemoryDescriptorList?.ByteCount ?? 0).fail) return 0
      entered()
      return mapLocked('MmMapLockedPagesSpecifyCache', MemoryDescriptorList, AccessMode, CacheType, BugCheckOnFailure, Priority)
    },

    /** MmMapIoSpace (<= DISPATCH_LEVEL; 0xC4/0x73 above it): NULL when the range may not be mapped. */
    MmMapIoSpace(PhysicalAddress: number, NumberOfBytes: number, CacheType: number): number {
      const ctx = enter('MmMapIoSpace', NumberOfBytes)
      requireIrql(k, 'MmMapIoSpace', DISPATCH_LEVEL, 0x73, PhysicalAddress, NumberOfBytes)
      const cache = cacheOf(CacheType)
      if (ctx.fail || cache === undefined) return 0
      return k.ioSpace.map(PhysicalAddress, NumberOfBytes, cache, true, 'MmMapIoSpace', ctx.site)
    },

    /** MmMapIoSpaceEx: Protect is PAGE_READONLY or PAGE_READWRITE, optionally PAGE_NOCACHE or PAGE_WRITECOMBINE. */
    MmMapIoSpaceEx(PhysicalAddress: number, NumberOfBytes: number, Protect: number): number {
      const ctx = enter('MmMapIoSpaceEx', NumberOfBytes)
      requireIrql(k, 'MmMapIoSpaceEx', DISPATCH_LEVEL, 0x73, PhysicalAddress, NumberOfBytes)
      const access = Protect & 0xff
      const nocache = (Protect & PAGE_PROTECTION.PAGE_NOCACHE) !== 0
      const combine = (Protect & PAGE_PROTECTION.PAGE_WRITECOMBINE) !== 0
      // Executable I/O mappings are refused: drivers map registers, not code (and an NX-only
      // kernel would not allow it); so is a protection that is neither read-only nor read/write.
      if (ctx.fail || (access !== PAGE_PROTECTION.PAGE_READONLY && access !== PAGE_PROTECTION.PAGE_READWRITE) || (nocache && combine)) return 0
      return k.ioSpace.map(PhysicalAddress, NumberOfBytes, nocache ? 'noncached' : combine ? 'write-combined' : 'cached', access === PAGE_PROTECTION.PAGE_READWRITE, 'MmMapIoSpaceEx', ctx.site)
    },

    /** MmUnmapIoSpace: NumberOfBytes must be what was mapped; Driver Verifier checks IRQL <= APC_LEVEL (0xC4/0x7B). */
    MmUnmapIoSpace(BaseAddress: number, NumberOfBytes: number): void {
      entered()
      requireIrql(k, 'MmUnmapIoSpace', APC_LEVEL, 0x7b, BaseAddress, NumberOfBytes)
      k.ioSpace.unmap(BaseAddress, NumberOfBytes, 'MmUnmapIoSpace', 'an I/O space mapping (unmapped by MmUnmapIoSpace)')
    },

    MmUnmapLockedPages(BaseAddress: number, MemoryDescriptorList: MDL): void {
      entered()
      const state = k.mdl.require(MemoryDescriptorList, 'MmUnmapLockedPages')
      requireIrql(k, 'MmUnmapLockedPages', DISPATCH_LEVEL, 0x79, BaseAddress, state.address)
      k.mdl.unmapLocked(BaseAddress, MemoryDescriptorList)
    },

    /** S15: reserves VA without mapping it; touching it faults until an MDL is mapped there. */
    MmAllocateMappingAddress(NumberOfBytes: number, PoolTag: PoolTag): number {
      const r = 'MmAllocateMappingAddress'
      const bytes = toBytes(r, NumberOfBytes)
      const tag = toTag(r, PoolTag)
      const ctx = enter(r, bytes, tag)
      requireIrql(k, r, APC_LEVEL)
      if (ctx.fail) return 0
      return k.mappingAddresses.allocate(bytes, tag, ctx.site)
    },

    MmFreeMappingAddress(BaseAddress: number, PoolTag: PoolTag): void {
      entered()
      requireIrql(k, 'MmFreeMappingAddress', APC_LEVEL)
      k.mappingAddresses.free(BaseAddress, toTag('MmFreeMappingAddress', PoolTag))
    },

    MmMapLockedPagesWithReservedMapping(MappingAddress: number, PoolTag: PoolTag, MemoryDescriptorList: MDL, CacheType: number): number {
      const r = 'MmMapLockedPagesWithReservedMapping'
      entered()
      requireIrql(k, r, DISPATCH_LEVEL)
      const cache = cacheOf(CacheType)
      if (cache === undefined) return 0
      return k.mappingAddresses.map(MappingAddress, toTag(r, PoolTag), MemoryDescriptorList, cache)
    },

    MmUnmapReservedMapping(BaseAddress: number, PoolTag: PoolTag, MemoryDescriptorList: MDL): void {
      const r = 'MmUnmapReservedMapping'
      entered()
      requireIrql(k, r, DISPATCH_LEVEL)
      k.mappingAddresses.unmap(BaseAddress, toTag(r, PoolTag), MemoryDescriptorList)
    },

    /** The CPU physical address behind a VA (0 when not mapped). Never a DMA address (S14). */
    MmGetPhysicalAddress(BaseAddress: number): number {
      return k.mm.physicalAddress(BaseAddress)
    },
  }
}
