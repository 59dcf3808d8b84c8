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
//  - NdisFreeMemory: Length and MemoryFlags must be those of the allocation when flags were set.
import { formatBytes, hex } from '../hw/address.js'
import { BUGCHECK } from '../kernel/bugcheck.js'
import { DISPATCH_LEVEL, PASSIVE_LEVEL, irqlName } from '../kernel/irql.js'
import { tagName, tagValue, type PoolTag } from '../kernel/tags.js'
import { POOL_TYPE } from '../kernel/wdm.js'
import type { CallSite } from '../kernel/calls.js'
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

export class NdisMemory {
  private readonly ctx: NdisContext
  private readonly live = new Map<number, NdisAllocation>()

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
    const flags = MemoryFlags & VALID_FLAGS
    if (flags === 0) {
      if (k.irql > DISPATCH_LEVEL) this.irql('NdisAllocateMemory', DISPATCH_LEVEL)
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
    if (k.irql > DISPATCH_LEVEL) this.irql('NdisAllocateMemoryWithTag', DISPATCH_LEVEL)
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
    if (k.irql > DISPATCH_LEVEL) this.irql('NdisAllocateMemoryWithTagPriority', DISPATCH_LEVEL)
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
    if (a.flags !== 0 && k.irql > PASSIVE_LEVEL) this.irql('NdisFreeMemory', PASSIVE_LEVEL)
    else if (k.irql > DISPATCH_LEVEL) this.irql('NdisFreeMemory', DISPATCH_LEVEL)
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
      this.ctx.violation('init-only-call', `NdisAllocateMemory with ${flagText(flags)} (${formatBytes(length)}) outside ${this.ctx.initializeHandler}: only a miniport's initialization may ask for contiguous or noncached memory (S04); by now physical memory is fragmented and the call is likely to fail (S06)`, undefined, undefined, {
        routine: 'NdisAllocateMemory',
        flags,
        length,
        phase: k.phase,
      })
    }
    if (k.irql !== PASSIVE_LEVEL) this.irql('NdisAllocateMemory with NDIS_MEMORY_CONTIGUOUS/NONCACHED', PASSIVE_LEVEL)
  }

  private irql(routine: string, maximum: number): void {
    const k = this.ctx.kernel
    this.ctx.violation('irql-violation', `${routine} at ${irqlName(k.irql)}: it must be called at ${irqlName(maximum)}${maximum === PASSIVE_LEVEL ? '' : ' or below'}`, BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, [0x02, k.irql, maximum, 0], {
      routine,
      irql: k.irql,
    })
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
