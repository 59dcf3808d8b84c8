// NdisAllocateMemory and friends (seed document 000; rules S01–S05).
//
//  - Flags 0: resident (nonpaged) memory any NDIS driver may allocate at IRQL <= DISPATCH_LEVEL,
//    virtually contiguous, possibly backed by several physical runs (S01, S05).
//  - HighestAcceptableAddress bounds every physical page of the allocation (S02).
//  - NDIS_MEMORY_CONTIGUOUS: one physically contiguous run; NDIS_MEMORY_NONCACHED: mapped
//    noncached; the two may be ORed (S03).
//  - Those flags only from a miniport's MiniportInitialize[Ex], at PASSIVE_LEVEL. Anywhere else it
//    is a programming error (init-only-call) and, memory being fragmented by then, the call is
//    likely to fail (S04, S06) — dmalab makes the attempt after reporting it.
//  - NdisFreeMemory: Length and MemoryFlags must be those of the allocation when flags were set;
//    at PASSIVE_LEVEL for contiguous memory, below DISPATCH_LEVEL for noncached memory, at or
//    below DISPATCH_LEVEL otherwise (NdisFreeMemory reference, Remarks).
//  - For an NDIS 6 miniport, NdisAllocateMemoryWithTagPriority replaces NdisAllocateMemory and
//    NdisAllocateMemoryWithTag ("Allocating Memory in an NDIS 6.0 Miniport Driver"). The old
//    routines keep working (the seeds are written around them) and are a note (`info`), once
//    per calling line.
//  - NdisAllocateMemoryWithTagPriority is pool: a zero tag is 0xC2/0x9B and a tag with no letter
//    or digit 0xC2/0x9D (bug check 0xC2 reference), as for ExAllocatePoolWithTag.
import { formatBytes, hex } from '../hw/address.js'
import { BUGCHECK } from '../kernel/bugcheck.js'
import { APC_LEVEL, DISPATCH_LEVEL, PASSIVE_LEVEL } from '../kernel/irql.js'
import { requireIrql } from '../kernel/irql-checks.js'
import { hasLetterOrDigit, tagName, tagValue, type PoolTag } from '../kernel/tags.js'
import { siteText } from '../kernel/calls.js'
import { POOL_TYPE } from '../kernel/wdm.js'
import type { CallSite } from '../kernel/calls.js'
import { siteHere } from '../kernel/sites.js'
import { NDIS_MEMORY, NDIS_STATUS } from './constants.js'
import type { NdisContext } from './context.js'

/** The pool tag NdisAllocateMemory charges (dmalab's choice; shows as "Ndis" in a dump). */
export const NDIS_MEMORY_TAG = tagValue('sidN')

type Kind = 'pool' | 'contiguous' | 'noncached'

interface NdisAllocation {
  readonly kind: Kind
  readonly length: number
  readonly flags: number
  readonly routine: string
}

const VALID_FLAGS = NDIS_MEMORY.NDIS_MEMORY_CONTIGUOUS | NDIS_MEMORY.NDIS_MEMORY_NONCACHED

/** 0xC4 parameter 1 for a nonpaged allocation above DISPATCH_LEVEL, and for its free. */
const NONPAGED_ALLOC_IRQL = 0x02
const NONPAGED_FREE_IRQL = 0x12

export class NdisMemory {
  private readonly ctx: NdisContext
  private readonly live = new Map<number, NdisAllocation>()
  /** Calling lines already told their routine is replaced for NDIS 6 (`routine@site`). */
  private readonly deprecatedNoted = new Set<string>()

  constructor(ctx: NdisContext) {
    this.ctx = ctx
  }

  /** NdisAllocateMemory(&VirtualAddress, Length, MemoryFlags, HighestAcceptableAddress). */
  NdisAllocateMemory(Length: number, MemoryFlags: number, HighestAcceptableAddress: number): { status: number; virtualAddress: number } {
    const k = this.ctx.kernel
    k.log.throwIfStopped()
    const fail = { status: NDIS_STATUS.NDIS_STATUS_FAILURE, virtualAddress: 0 }
    const ctx = k.calls.allocation('NdisAllocateMemory', Length, tagName(NDIS_MEMORY_TAG))
    if ((MemoryFlags & ~VALID_FLAGS) !== 0) {
      this.ctx.violation('ndis-bad-argument', `NdisAllocateMemory: MemoryFlags ${hex(MemoryFlags)} has bits other than NDIS_MEMORY_CONTIGUOUS and NDIS_MEMORY_NONCACHED`)
    }
    this.deprecated('NdisAllocateMemory', ctx.site)
    const flags = MemoryFlags & VALID_FLAGS
    if (flags === 0) {
      requireIrql(k, 'NdisAllocateMemory', DISPATCH_LEVEL, NONPAGED_ALLOC_IRQL, POOL_TYPE.NonPagedPool, Length)
    } else {
      this.checkInitOnly(Length, flags)
    }
    if (ctx.fail || !(Length > 0)) return fail
    // -1 (NDIS_PHYSICAL_ADDRESS_CONST(-1, -1)) and anything at or past the top of RAM: no limit.
    const highest = HighestAcceptableAddress < 0 || HighestAcceptableAddress >= k.ram.top ? undefined : HighestAcceptableAddress
    const va = this.allocate(flags, Length, highest, ctx.site)
    if (va === 0) return fail
    this.live.set(va, { kind: kindOf(flags), length: Length, flags, routine: 'NdisAllocateMemory' })
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, virtualAddress: va }
  }

  NdisAllocateMemoryWithTag(Length: number, Tag: PoolTag): { status: number; virtualAddress: number } {
    const k = this.ctx.kernel
    k.log.throwIfStopped()
    const tag = tagValue(Tag)
    const ctx = k.calls.allocation('NdisAllocateMemoryWithTag', Length, Number.isNaN(tag) ? undefined : tagName(tag))
    this.deprecated('NdisAllocateMemoryWithTag', ctx.site)
    requireIrql(k, 'NdisAllocateMemoryWithTag', DISPATCH_LEVEL, NONPAGED_ALLOC_IRQL, POOL_TYPE.NonPagedPoolNx, Length)
    if (ctx.fail || !(Length > 0) || Number.isNaN(tag)) return { status: NDIS_STATUS.NDIS_STATUS_FAILURE, virtualAddress: 0 }
    const va = k.pool.allocate(POOL_TYPE.NonPagedPoolNx, Length, tag, ctx.site === undefined ? {} : { site: ctx.site })
    if (va === 0) return { status: NDIS_STATUS.NDIS_STATUS_FAILURE, virtualAddress: 0 }
    this.live.set(va, { kind: 'pool', length: Length, flags: 0, routine: 'NdisAllocateMemoryWithTag' })
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, virtualAddress: va }
  }

  NdisAllocateMemoryWithTagPriority(_handle: unknown, Length: number, Tag: PoolTag, _Priority: number): number {
    const k = this.ctx.kernel
    k.log.throwIfStopped()
    const tag = tagValue(Tag)
    const ctx = k.calls.allocation('NdisAllocateMemoryWithTagPriority', Length, Number.isNaN(tag) ? undefined : tagName(tag))
    requireIrql(k, 'NdisAllocateMemoryWithTagPriority', DISPATCH_LEVEL, NONPAGED_ALLOC_IRQL, POOL_TYPE.NonPagedPoolNx, Length)
    if (!Number.isNaN(tag)) this.checkTag(tag, Length)
    if (ctx.fail || !(Length > 0) || Number.isNaN(tag)) return 0
    const va = k.pool.allocate(POOL_TYPE.NonPagedPoolNx, Length, tag, ctx.site === undefined ? {} : { site: ctx.site })
    if (va !== 0) this.live.set(va, { kind: 'pool', length: Length, flags: 0, routine: 'NdisAllocateMemoryWithTagPriority' })
    return va
  }

  /** NdisFreeMemory(VirtualAddress, Length, MemoryFlags). */
  NdisFreeMemory(VirtualAddress: number, Length: number, MemoryFlags: number): void {
    const k = this.ctx.kernel
    k.log.throwIfStopped()
    const a = this.live.get(VirtualAddress)
    if (a === undefined) {
      // Not ours: let the pool decide (double free, or a wild address: both fatal there).
      k.pool.free(VirtualAddress, { routine: 'NdisFreeMemory' })
      return
    }
    // NdisFreeMemory reference, Remarks: contiguous at PASSIVE_LEVEL, noncached below
    // DISPATCH_LEVEL, anything else at or below DISPATCH_LEVEL.
    if (a.kind === 'contiguous') requireIrql(k, 'NdisFreeMemory of contiguous memory', PASSIVE_LEVEL)
    else if (a.kind === 'noncached') requireIrql(k, 'NdisFreeMemory of noncached memory', APC_LEVEL)
    else requireIrql(k, 'NdisFreeMemory', DISPATCH_LEVEL, NONPAGED_FREE_IRQL, POOL_TYPE.NonPagedPool, VirtualAddress)
    const wrong: string[] = []
    if ((MemoryFlags & VALID_FLAGS) !== a.flags) wrong.push(`MemoryFlags ${flagText(MemoryFlags)} (allocated with ${flagText(a.flags)})`)
    if (a.flags !== 0 && Length !== a.length) wrong.push(`Length ${Length} (allocated ${a.length})`)
    if (wrong.length > 0) {
      this.ctx.violation('pool-free-mismatch', `NdisFreeMemory of ${formatBytes(a.length)} at ${hex(VirtualAddress)} with ${wrong.join(' and ')}: the memory was allocated by ${a.routine} with ${flagText(a.flags)}, and NDIS frees it by the flags it is told, so a mismatch frees it the wrong way`, undefined, undefined, {
        va: VirtualAddress,
        length: Length,
        allocatedLength: a.length,
        flags: MemoryFlags,
        allocatedFlags: a.flags,
      })
    }
    this.live.delete(VirtualAddress)
    this.release(a, VirtualAddress)
  }

  NdisFreeMemoryWithTagPriority(_handle: unknown, VirtualAddress: number, Tag: PoolTag): void {
    const k = this.ctx.kernel
    k.log.throwIfStopped()
    this.live.delete(VirtualAddress)
    const tag = tagValue(Tag)
    k.pool.free(VirtualAddress, { routine: 'NdisFreeMemoryWithTagPriority', ...(Number.isNaN(tag) ? {} : { tag }) })
  }

  private allocate(flags: number, length: number, highest: number | undefined, site: CallSite | undefined): number {
    const k = this.ctx.kernel
    const s = site === undefined ? {} : { site }
    switch (kindOf(flags)) {
      case 'pool':
        return k.pool.allocate(POOL_TYPE.NonPagedPool, length, NDIS_MEMORY_TAG, { ...s, ...(highest === undefined ? {} : { highest }) })
      case 'contiguous':
        return k.contiguous.allocateContiguous(length, {
          lowest: 0,
          highest: highest ?? k.ram.top - 1,
          boundary: 0,
          cache: (flags & NDIS_MEMORY.NDIS_MEMORY_NONCACHED) !== 0 ? 'noncached' : 'cached',
          ...s,
        })
      case 'noncached':
        return k.contiguous.allocateNonCached(length, { ...s, ...(highest === undefined ? {} : { highest }) })
    }
  }

  private release(a: NdisAllocation, va: number): void {
    const k = this.ctx.kernel
    switch (a.kind) {
      case 'pool':
        k.pool.free(va, { routine: 'NdisFreeMemory' })
        return
      case 'contiguous':
      case 'noncached':
        k.contiguous.free(a.kind, va, { routine: 'NdisFreeMemory' })
    }
  }

  /** S04: contiguous / noncached memory only from MiniportInitialize[Ex], at PASSIVE_LEVEL. */
  private checkInitOnly(length: number, flags: number): void {
    const k = this.ctx.kernel
    if (!this.ctx.inInitialize) {
      this.ctx.violation('init-only-call', `NdisAllocateMemory with ${flagText(flags)} (${formatBytes(length)}) outside ${this.ctx.initializeHandler}: only a miniport's initialization may ask for contiguous or noncached memory; by now physical memory is fragmented and the call is likely to fail`, undefined, undefined, {
        routine: 'NdisAllocateMemory',
        flags,
        length,
        phase: k.phase,
      })
    }
    requireIrql(k, 'NdisAllocateMemory with NDIS_MEMORY_CONTIGUOUS/NONCACHED', PASSIVE_LEVEL)
  }

  /** An NDIS 5-era routine called by an NDIS 6 miniport: a note, once per calling line. */
  private deprecated(routine: string, site: CallSite | undefined): void {
    if (this.ctx.ndisMajorVersion < 6) return
    const where = siteText(site)
    const key = `${routine}@${where ?? ''}`
    if (this.deprecatedNoted.has(key)) return
    this.deprecatedNoted.add(key)
    this.ctx.kernel.log.report({
      kind: 'deprecated-routine',
      message: `${routine} is an NDIS 5 routine: for NDIS 6.0 and later, NdisAllocateMemoryWithTagPriority replaces NdisAllocateMemory and NdisAllocateMemoryWithTag (it takes the miniport's handle, a tag and a priority). The call works; this is a note, not a fault`,
      ...(where === undefined ? {} : { site: where }),
      details: { routine, replacement: 'NdisAllocateMemoryWithTagPriority' },
    })
  }

  /** NdisAllocateMemoryWithTagPriority is pool: the pool's tag rules apply (0xC2/0x9B, 0x9D). */
  private checkTag(tag: number, length: number): void {
    if (tag === 0) {
      this.ctx.kernel.log.violation({ kind: 'pool-bad-call', code: BUGCHECK.BAD_POOL_CALLER, params: [0x9b, POOL_TYPE.NonPagedPoolNx, length, 0], message: 'NdisAllocateMemoryWithTagPriority with tag 0: an untagged allocation cannot be tracked (use a unique four-character tag)', ...this.site() })
    } else if (!hasLetterOrDigit(tag)) {
      this.ctx.kernel.log.violation({ kind: 'pool-bad-call', code: BUGCHECK.BAD_POOL_CALLER, params: [0x9d, tag, POOL_TYPE.NonPagedPoolNx, 0], message: `NdisAllocateMemoryWithTagPriority with tag 0x${tag.toString(16).padStart(8, '0')}: a tag must hold a letter or digit, or pool tracking cannot tell it apart`, ...this.site() })
    }
  }

  private site(): { site?: string } {
    const s = siteHere()
    return s === undefined ? {} : { site: s }
  }
}

function kindOf(flags: number): Kind {
  if ((flags & NDIS_MEMORY.NDIS_MEMORY_CONTIGUOUS) !== 0) return 'contiguous'
  if ((flags & NDIS_MEMORY.NDIS_MEMORY_NONCACHED) !== 0) return 'noncached'
  return 'pool'
}

function flagText(flags: number): string {
  const names: string[] = []
  if ((flags & NDIS_MEMORY.NDIS_MEMORY_CONTIGUOUS) !== 0) names.push('NDIS_MEMORY_CONTIGUOUS')
  if ((flags & NDIS_MEMORY.NDIS_MEMORY_NONCACHED) !== 0) names.push('NDIS_MEMORY_NONCACHED')
  return names.length === 0 ? 'flags 0' : names.join(' | ')
}
