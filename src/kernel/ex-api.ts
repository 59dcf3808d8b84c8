// The driver-facing Ex and Ke routines: pool allocation and free, lookaside lists, IRQL.
// WDK names and parameter order (DESIGN "Driver model"); a routine that returns a pointer
// returns the address as a number, 0 for NULL. Each allocating routine takes its fault
// decision once, at entry, through `kernel.calls.allocation`, then applies Windows' rules:
// IRQL (S08), NonPagedPoolMustSucceed (S20), zero bytes and tag 0, then the allocation.
import type { BugCheckParams } from '../hw/finding.js'
import { BUGCHECK } from './bugcheck.js'
import { requireIrql } from './irql-checks.js'
import { APC_LEVEL, DISPATCH_LEVEL, type Irql } from './irql.js'
import type { Kernel } from './kernel.js'
import type { LookasideAllocate, LookasideFree, LookasideKind } from './lookaside.js'
import type { MDL } from './mdl.js'
import { siteHere } from './sites.js'
import { hasLetterOrDigit, tagName, tagValue, type PoolTag } from './tags.js'
import { EX_LOOKASIDE_LIST_EX_FLAGS, NTSTATUS, NtStatusError, POOL_FLAG, POOL_MODIFIERS, POOL_TYPE, decodePoolType } from './wdm.js'
import type { AllocationRoutine } from '../faults/routines.js'

const TWO_POW_32 = 2 ** 32
/** ExAllocatePool's tag: 'enoN', "None" in a dump. */
const NONE_TAG = tagValue('enoN')
const KNOWN_REQUIRED_FLAGS =
  POOL_FLAG.POOL_FLAG_USE_QUOTA | POOL_FLAG.POOL_FLAG_UNINITIALIZED | POOL_FLAG.POOL_FLAG_SESSION |
  POOL_FLAG.POOL_FLAG_CACHE_ALIGNED | POOL_FLAG.POOL_FLAG_RAISE_ON_FAILURE | POOL_FLAG.POOL_FLAG_NON_PAGED |
  POOL_FLAG.POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG.POOL_FLAG_PAGED

/** A tag argument as a ULONG; a value that is not a tag is the driver's programming error. */
export function toTag(routine: string, tag: PoolTag): number {
  const v = tagValue(tag)
  if (Number.isNaN(v)) throw new TypeError(`${routine}: ${JSON.stringify(tag)} is not a pool tag (a ULONG, or one to four characters such as 'tseT')`)
  return v
}

/** A SIZE_T argument; anything but a whole number of bytes is the driver's programming error. */
export function toBytes(routine: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`${routine}: ${String(n)} is not a number of bytes`)
  return n
}

/** The VA an Ex*Free* routine is given: an address, or an MDL whose storage is being freed. */
export type PoolPointer = number | MDL

interface PoolRequest {
  readonly zero?: boolean
  /** Failure raises STATUS_INSUFFICIENT_RESOURCES instead of returning NULL. */
  readonly raise?: boolean
  /** Tag 0 is 0xC2/0x9B for the ExAllocatePool* routines (ExAllocatePool2 returns NULL instead). */
  readonly checkTag?: boolean
  readonly specialPool?: boolean
  readonly specialUnderrun?: boolean
}

/** ALLOCATE_FUNCTION_EX: (PoolType, NumberOfBytes, Tag, Lookaside) → entry VA or 0. */
export type LookasideAllocateEx = (PoolType: number, NumberOfBytes: number, Tag: number, Lookaside: number) => number
/** FREE_FUNCTION_EX: (Buffer, Lookaside). */
export type LookasideFreeEx = (Buffer: number, Lookaside: number) => void

/** The POOL_TYPE values wdm.h defines, without the must-succeed ones (ExInitializeLookasideListEx). */
const VALID_POOL_TYPES: ReadonlySet<number> = new Set(Object.values(POOL_TYPE).filter((t) => !decodePoolType(t).mustSucceed))

/**
 * The lookaside list routines' shared path (IRQL, fault decision, raise on failure), for the
 * three kernel families and NDIS's NdisXxxNPagedLookasideList, which are the NPaged routines
 * under NDIS's names. A paged list's routines run at APC_LEVEL or below, a nonpaged one's at
 * DISPATCH_LEVEL or below.
 */
export function lookasideCalls(k: Kernel) {
  const irql = (routine: string, kind: LookasideKind, head: number): void => {
    const paged = kind === 'ex' ? k.lookaside.at(head)?.paged === true : kind === 'paged'
    requireIrql(k, routine, paged ? APC_LEVEL : DISPATCH_LEVEL)
  }
  const failed = (routine: string, raise: boolean): number => {
    if (raise) throw new NtStatusError(routine, NTSTATUS.STATUS_INSUFFICIENT_RESOURCES, 'the lookaside list allocation failed')
    return 0
  }
  return {
    initialize(routine: string, kind: 'npaged' | 'paged', head: number, allocateFn: LookasideAllocate | null | undefined, freeFn: LookasideFree | null | undefined, flags: number, size: number, tag: PoolTag, depth: number): void {
      k.log.throwIfStopped()
      irql(routine, kind, head)
      k.lookaside.initialize(head, kind, { allocate: allocateFn ?? null, free: freeFn ?? null, flags, size: toBytes(routine, size), tag: toTag(routine, tag), depth }, routine)
    },

    allocate(routine: AllocationRoutine, kind: LookasideKind, head: number): number {
      k.log.throwIfStopped()
      const list = k.lookaside.at(head)
      const ctx = k.calls.allocation(routine, list?.size ?? 0, list === undefined ? undefined : tagName(list.tag))
      irql(routine, kind, head)
      const raise = list !== undefined && (list.poolType & POOL_MODIFIERS.POOL_RAISE_IF_ALLOCATION_FAILURE) !== 0
      if (ctx.fail) return failed(routine, raise)
      const entry = k.lookaside.allocate(head, kind, ctx.site, routine)
      return entry === 0 ? failed(routine, raise) : entry
    },

    free(routine: string, kind: LookasideKind, head: number, entry: number): void {
      k.log.throwIfStopped()
      irql(routine, kind, head)
      k.lookaside.free(head, kind, entry, routine)
    },

    delete(routine: string, kind: LookasideKind, head: number): void {
      k.log.throwIfStopped()
      irql(routine, kind, head)
      k.lookaside.delete(head, kind, routine)
    },
  }
}

export function exRoutines(k: Kernel) {
  function pointer(routine: string, p: PoolPointer): number {
    if (typeof p === 'number') return p
    const state = k.mdl.stateOf(p)
    if (state === undefined) throw new TypeError(`${routine}: the argument is neither an address nor an MDL`)
    return state.address
  }

  function badCall(params: BugCheckParams, code: number, message: string): void {
    const site = siteHere()
    k.log.violation({ kind: 'pool-bad-call', code, params, message, ...(site === undefined ? {} : { site }) })
  }

  function failed(routine: string, raise: boolean): number {
    if (raise) throw new NtStatusError(routine, NTSTATUS.STATUS_INSUFFICIENT_RESOURCES, 'the pool allocation failed')
    return 0
  }

  /** The shared path of the ExAllocatePool* routines (S08, S09-S11, S20-S22). */
  function allocate(routine: AllocationRoutine, poolType: number, bytes: number, tag: number, request: PoolRequest): number {
    k.log.throwIfStopped()
    const ctx = k.calls.allocation(routine, bytes, tagName(tag))
    const info = decodePoolType(poolType)
    if (info.mustSucceed) {
      const site = siteHere()
      k.log.fatal({
        kind: 'must-succeed-pool',
        code: BUGCHECK.BAD_POOL_CALLER,
        params: [0x9a, poolType, bytes, tag],
        message: `${routine} with a must-succeed pool type (${poolType}): NonPagedPoolMustSucceed is no longer supported; use NonPagedPoolNx and handle NULL (S20)`,
        ...(site === undefined ? {} : { site }),
        details: { poolType, bytes, tag: tagName(tag) },
      })
    }
    const irql = k.irql
    if (info.paged) requireIrql(k, routine, APC_LEVEL, 0x01, poolType, bytes)
    else requireIrql(k, routine, DISPATCH_LEVEL, 0x02, poolType, bytes)
    if (bytes === 0) {
      badCall([0x00, irql, poolType, 0], BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, `${routine} of zero bytes`)
    }
    if (request.checkTag === true && tag === 0) {
      badCall([0x9b, poolType, bytes, 0], BUGCHECK.BAD_POOL_CALLER, `${routine} with tag 0: an untagged allocation cannot be tracked (use a unique four-character tag, S19)`)
    } else if (request.checkTag === true && !hasLetterOrDigit(tag)) {
      badCall([0x9d, tag, poolType, 0], BUGCHECK.BAD_POOL_CALLER, `${routine} with tag 0x${tag.toString(16).padStart(8, '0')}: a tag must hold a letter or digit, or pool tracking cannot tell it apart`)
    }
    const raise = request.raise === true || info.raiseOnFailure
    if (ctx.fail) return failed(routine, raise)
    const va = k.pool.allocate(poolType, bytes, tag, {
      ...(ctx.site === undefined ? {} : { site: ctx.site }),
      zero: request.zero === true,
      specialPool: request.specialPool === true,
      specialUnderrun: request.specialUnderrun === true,
    })
    return va === 0 ? failed(routine, raise) : va
  }

  function free(routine: string, p: PoolPointer, tag: number | undefined): void {
    k.log.throwIfStopped()
    const va = pointer(routine, p)
    const block = k.pool.blockAt(va)
    if (block !== undefined) {
      const irql = k.irql
      if (block.paged) requireIrql(k, routine, APC_LEVEL, 0x11, block.poolType, va)
      else requireIrql(k, routine, DISPATCH_LEVEL, 0x12, block.poolType, va)
    }
    k.pool.free(va, tag === undefined ? { routine } : { routine, tag })
  }

  const lookaside = lookasideCalls(k)

  return {
    /** Obsolete untagged allocation; Windows tags it "None". */
    ExAllocatePool(PoolType: number, NumberOfBytes: number): number {
      return allocate('ExAllocatePool', PoolType, toBytes('ExAllocatePool', NumberOfBytes), NONE_TAG, {})
    },

    ExAllocatePoolWithTag(PoolType: number, NumberOfBytes: number, Tag: PoolTag): number {
      const r = 'ExAllocatePoolWithTag'
      return allocate(r, PoolType, toBytes(r, NumberOfBytes), toTag(r, Tag), { checkTag: true })
    },

    /** Priority's XxxSpecialPoolUnderrun puts a special-pool block at its page start. */
    ExAllocatePoolWithTagPriority(PoolType: number, NumberOfBytes: number, Tag: PoolTag, Priority: number): number {
      const r = 'ExAllocatePoolWithTagPriority'
      const underrun = (Priority & 8) !== 0 && (Priority & 1) !== 0
      return allocate(r, PoolType, toBytes(r, NumberOfBytes), toTag(r, Tag), { checkTag: true, specialUnderrun: underrun })
    },

    /** Raises on failure unless PoolType includes POOL_QUOTA_FAIL_INSTEAD_OF_RAISE. */
    ExAllocatePoolWithQuotaTag(PoolType: number, NumberOfBytes: number, Tag: PoolTag): number {
      const r = 'ExAllocatePoolWithQuotaTag'
      const raise = (PoolType & POOL_MODIFIERS.POOL_QUOTA_FAIL_INSTEAD_OF_RAISE) === 0
      return allocate(r, PoolType & ~POOL_MODIFIERS.POOL_QUOTA_FAIL_INSTEAD_OF_RAISE, toBytes(r, NumberOfBytes), toTag(r, Tag), { checkTag: true, raise })
    },

    /**
     * Zeroed unless POOL_FLAG_UNINITIALIZED. Exactly one of POOL_FLAG_NON_PAGED,
     * POOL_FLAG_NON_PAGED_EXECUTE and POOL_FLAG_PAGED; an unknown required flag or tag 0 returns
     * NULL (or raises, with POOL_FLAG_RAISE_ON_FAILURE). POOL_FLAG_SPECIAL_POOL is honoured.
     */
    ExAllocatePool2(Flags: number, NumberOfBytes: number, Tag: PoolTag): number {
      const r = 'ExAllocatePool2'
      const bytes = toBytes(r, NumberOfBytes)
      const tag = toTag(r, Tag)
      const required = Flags % TWO_POW_32
      const optional = Math.floor(Flags / TWO_POW_32)
      const raise = (required & POOL_FLAG.POOL_FLAG_RAISE_ON_FAILURE) !== 0
      const kinds = [POOL_FLAG.POOL_FLAG_NON_PAGED, POOL_FLAG.POOL_FLAG_NON_PAGED_EXECUTE, POOL_FLAG.POOL_FLAG_PAGED].filter((f) => (required & f) !== 0)
      if ((required & ~KNOWN_REQUIRED_FLAGS) !== 0 || kinds.length !== 1 || tag === 0) {
        k.log.throwIfStopped()
        k.calls.allocation(r, bytes, tagName(tag))
        return failed(r, raise)
      }
      const aligned = (required & POOL_FLAG.POOL_FLAG_CACHE_ALIGNED) !== 0
      const poolType =
        kinds[0] === POOL_FLAG.POOL_FLAG_PAGED ? (aligned ? POOL_TYPE.PagedPoolCacheAligned : POOL_TYPE.PagedPool)
        : kinds[0] === POOL_FLAG.POOL_FLAG_NON_PAGED ? (aligned ? POOL_TYPE.NonPagedPoolNxCacheAligned : POOL_TYPE.NonPagedPoolNx)
        : aligned ? POOL_TYPE.NonPagedPoolCacheAligned : POOL_TYPE.NonPagedPool
      return allocate(r, poolType, bytes, tag, {
        zero: (required & POOL_FLAG.POOL_FLAG_UNINITIALIZED) === 0,
        raise,
        specialPool: (optional & 1) !== 0,
      })
    },

    ExFreePool(P: PoolPointer): void {
      free('ExFreePool', P, undefined)
    },

    /** A tag other than the allocation's is 0xC2/0x0A. */
    ExFreePoolWithTag(P: PoolPointer, Tag: PoolTag): void {
      free('ExFreePoolWithTag', P, toTag('ExFreePoolWithTag', Tag))
    },

    ExInitializeNPagedLookasideList(Lookaside: number, Allocate: LookasideAllocate | null | undefined, Free: LookasideFree | null | undefined, Flags: number, Size: number, Tag: PoolTag, Depth: number): void {
      lookaside.initialize('ExInitializeNPagedLookasideList', 'npaged', Lookaside, Allocate, Free, Flags, Size, Tag, Depth)
    },

    ExInitializePagedLookasideList(Lookaside: number, Allocate: LookasideAllocate | null | undefined, Free: LookasideFree | null | undefined, Flags: number, Size: number, Tag: PoolTag, Depth: number): void {
      lookaside.initialize('ExInitializePagedLookasideList', 'paged', Lookaside, Allocate, Free, Flags, Size, Tag, Depth)
    },

    ExAllocateFromNPagedLookasideList(Lookaside: number): number {
      return lookaside.allocate('ExAllocateFromNPagedLookasideList', 'npaged', Lookaside)
    },

    ExAllocateFromPagedLookasideList(Lookaside: number): number {
      return lookaside.allocate('ExAllocateFromPagedLookasideList', 'paged', Lookaside)
    },

    ExFreeToNPagedLookasideList(Lookaside: number, Entry: number): void {
      lookaside.free('ExFreeToNPagedLookasideList', 'npaged', Lookaside, Entry)
    },

    ExFreeToPagedLookasideList(Lookaside: number, Entry: number): void {
      lookaside.free('ExFreeToPagedLookasideList', 'paged', Lookaside, Entry)
    },

    ExDeleteNPagedLookasideList(Lookaside: number): void {
      lookaside.delete('ExDeleteNPagedLookasideList', 'npaged', Lookaside)
    },

    ExDeletePagedLookasideList(Lookaside: number): void {
      lookaside.delete('ExDeletePagedLookasideList', 'paged', Lookaside)
    },

    /**
     * ExInitializeLookasideListEx: STATUS_INVALID_PARAMETER_4 for a PoolType that is not one,
     * STATUS_INVALID_PARAMETER_5 for Flags other than one of the two EX_LOOKASIDE_LIST_EX_FLAGS
     * bits (they are mutually exclusive). RAISE_ON_FAIL ORs POOL_RAISE_IF_ALLOCATION_FAILURE into
     * the PoolType the Allocate routine receives, FAIL_NO_RAISE POOL_QUOTA_FAIL_INSTEAD_OF_RAISE.
     */
    ExInitializeLookasideListEx(Lookaside: number, Allocate: LookasideAllocateEx | null | undefined, Free: LookasideFreeEx | null | undefined, PoolType: number, Flags: number, Size: number, Tag: PoolTag, Depth: number): number {
      const r = 'ExInitializeLookasideListEx'
      k.log.throwIfStopped()
      requireIrql(k, r, DISPATCH_LEVEL)
      if (!VALID_POOL_TYPES.has(PoolType)) return NTSTATUS.STATUS_INVALID_PARAMETER_4
      const { EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL: RAISE, EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE: NO_RAISE } = EX_LOOKASIDE_LIST_EX_FLAGS
      if (Flags !== 0 && Flags !== RAISE && Flags !== NO_RAISE) return NTSTATUS.STATUS_INVALID_PARAMETER_5
      const poolType = PoolType | (Flags === RAISE ? POOL_MODIFIERS.POOL_RAISE_IF_ALLOCATION_FAILURE : Flags === NO_RAISE ? POOL_MODIFIERS.POOL_QUOTA_FAIL_INSTEAD_OF_RAISE : 0)
      const allocateFn: LookasideAllocate | null = typeof Allocate === 'function' ? (pt, n, t) => Allocate(pt, n, t, Lookaside) : null
      const freeFn: LookasideFree | null = typeof Free === 'function' ? (b) => Free(b, Lookaside) : null
      k.lookaside.initialize(Lookaside, 'ex', { poolType, allocate: allocateFn, free: freeFn, flags: 0, size: toBytes(r, Size), tag: toTag(r, Tag), depth: Depth }, r)
      return NTSTATUS.STATUS_SUCCESS
    },

    ExAllocateFromLookasideListEx(Lookaside: number): number {
      return lookaside.allocate('ExAllocateFromLookasideListEx', 'ex', Lookaside)
    },

    ExFreeToLookasideListEx(Lookaside: number, Entry: number): void {
      lookaside.free('ExFreeToLookasideListEx', 'ex', Lookaside, Entry)
    },

    ExDeleteLookasideListEx(Lookaside: number): void {
      lookaside.delete('ExDeleteLookasideListEx', 'ex', Lookaside)
    },

    /** Frees every entry the list holds (the list stays initialized). */
    ExFlushLookasideListEx(Lookaside: number): void {
      const r = 'ExFlushLookasideListEx'
      k.log.throwIfStopped()
      requireIrql(k, r, k.lookaside.at(Lookaside)?.paged === true ? APC_LEVEL : DISPATCH_LEVEL)
      k.lookaside.flush(Lookaside, r)
    },

    /**
     * Frees memory from ExAllocatePool2/3 (and the older routines); a Tag other than the
     * allocation's is 0xC2/0x0A, as with ExFreePoolWithTag. ExtendedParameters are not used.
     */
    ExFreePool2(P: PoolPointer, Tag: PoolTag, _ExtendedParameters?: unknown, _ExtendedParametersCount?: number): void {
      free('ExFreePool2', P, toTag('ExFreePool2', Tag))
    },

    /** VOID KeRaiseIrql(NewIrql, &OldIrql): the out-parameter comes back as `oldIrql`. */
    KeRaiseIrql(NewIrql: Irql): { oldIrql: Irql } {
      k.log.throwIfStopped()
      return { oldIrql: k.raiseIrql(NewIrql) }
    },

    KeRaiseIrqlToDpcLevel(): Irql {
      k.log.throwIfStopped()
      return k.raiseIrql(DISPATCH_LEVEL)
    },

    KeLowerIrql(NewIrql: Irql): void {
      k.log.throwIfStopped()
      k.lowerIrql(NewIrql)
    },

    KeGetCurrentIrql(): Irql {
      return k.irql
    },
  }
}
