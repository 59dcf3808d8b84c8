// Lookaside lists (seed 002, "Creating and Using Lookaside Lists"; S24, S28): a LIFO cache of
// fixed-size pool blocks. Allocate pops the most recently freed entry, or allocates a new one
// with the list's Allocate routine (NULL means the system's pool routine); Free pushes the
// entry back, or frees it with the Free routine once the list holds its maximum depth; Delete
// frees whatever the list still holds.
//
// The list head is driver memory: Initialize writes the GENERAL_LOOKASIDE fields into it (so a
// wild head faults), and it must be nonpaged even for a paged list, because the system scans it
// at DISPATCH_LEVEL (S28). As on Windows, an entry on the list holds the link to the next one
// in its first 8 bytes; a driver that writes to an entry after freeing it breaks that link,
// and the next allocation sees it.
//
// Misuse is `lookaside-misuse` with Driver Verifier's 0xC4 parameters where Windows has one
// (0xCA re-initialize, 0xCB delete uninitialized, 0xCC free a pool block holding a live list,
// 0xCD block size too small) and a dmalab-range parameter 1 where it has none.
import { hex } from '../hw/address.js'
import type { BugCheckParams } from '../hw/finding.js'
import { PTE } from './address-space.js'
import { BUGCHECK } from './bugcheck.js'
import type { CallSite } from './calls.js'
import type { Kernel } from './kernel.js'
import type { PoolBlock } from './pool.js'
import { siteHere } from './sites.js'
import { tagName } from './tags.js'
import { DMALAB_P1 } from './kinds.js'
import { POOL_MODIFIERS, POOL_TYPE, decodePoolType } from './wdm.js'

/** PALLOCATE_FUNCTION: (PoolType, NumberOfBytes, Tag) → entry VA or 0. */
export type LookasideAllocate = (PoolType: number, NumberOfBytes: number, Tag: number) => number
/** PFREE_FUNCTION: (Buffer) → void. */
export type LookasideFree = (Buffer: number) => void

/** sizeof(NPAGED_LOOKASIDE_LIST) / sizeof(PAGED_LOOKASIDE_LIST) on x64 (cache-line padded). */
export const LOOKASIDE_LIST_BYTES = 0x80
/** LOOKASIDE_MINIMUM_BLOCK_SIZE (wdm.h): RTL_SIZEOF_THROUGH_FIELD(SLIST_ENTRY, Next) on x64. */
export const LOOKASIDE_MINIMUM_BLOCK_SIZE = 8
/** The most entries a list keeps (ex.h MAXIMUM_LOOKASIDE_DEPTH; Windows tunes the depth up to it). */
export const LOOKASIDE_MAXIMUM_DEPTH = 256

// GENERAL_LOOKASIDE field offsets (x64).
const DEPTH = 0x10
const MAXIMUM_DEPTH = 0x12
const TOTAL_ALLOCATES = 0x14
const ALLOCATE_MISSES = 0x18
const TOTAL_FREES = 0x1c
const FREE_MISSES = 0x20
const TYPE = 0x24
const TAG = 0x28
const SIZE = 0x2c

/** dmalab's own 0xC4 parameter 1 (kinds.ts) for misuse Windows does not bug check. */
export const LOOKASIDE_MISUSE = {
  /** Flags other than POOL_NX_ALLOCATION / POOL_RAISE_IF_ALLOCATION_FAILURE, or Depth not 0. */
  RESERVED_NOT_ZERO: DMALAB_P1.lookasideReservedNotZero,
  /** The head is in pageable memory (S28). */
  HEAD_PAGEABLE: DMALAB_P1.lookasideHeadPageable,
  /** The head is not aligned for its SLIST_HEADER (16 bytes on x64, cmpxchg16b would fault; 8 on x86). */
  HEAD_MISALIGNED: DMALAB_P1.lookasideHeadMisaligned,
  /** Allocate from / free to a list that is not initialized (or of the other kind). */
  NOT_INITIALIZED: DMALAB_P1.lookasideNotInitialized,
  /** An entry on the list was written after it was freed to the list. */
  ENTRY_MODIFIED: DMALAB_P1.lookasideEntryModified,
} as const

/**
 * Which routines a list belongs to: ExInitializeNPagedLookasideList (and NDIS's
 * NdisInitializeNPagedLookasideList), ExInitializePagedLookasideList, ExInitializeLookasideListEx.
 * A list is used only through its own family's routines.
 */
export type LookasideKind = 'npaged' | 'paged' | 'ex'

/** sizeof(LOOKASIDE_LIST_EX) on x64: a GENERAL_LOOKASIDE_POOL, not cache-line padded. */
export const LOOKASIDE_LIST_EX_BYTES = 0x60

export interface LookasideList {
  readonly head: number
  readonly kind: LookasideKind
  /** Entries come from paged pool. */
  readonly paged: boolean
  readonly poolType: number
  readonly size: number
  readonly tag: number
  readonly allocate: LookasideAllocate | null
  readonly free: LookasideFree | null
  /** Entries on the list, most recently freed last. */
  readonly entries: number[]
  /** The driver's (false: dmalab's own upper edge's, never the driver's leak). */
  readonly driver: boolean
  totalAllocates: number
  allocateMisses: number
  totalFrees: number
  freeMisses: number
}

export interface LookasideInit {
  /** For an Ex list, the PoolType it was given (with the modifiers its Flags add); else the kind's. */
  readonly poolType?: number
  readonly allocate: LookasideAllocate | null
  readonly free: LookasideFree | null
  readonly flags: number
  readonly size: number
  readonly tag: number
  /** False for a list of dmalab's own (the upper edge's send buffers); the driver's unless said. */
  readonly driver?: boolean
  readonly depth: number
}

const ALLOWED_FLAGS = POOL_MODIFIERS.POOL_NX_ALLOCATION | POOL_MODIFIERS.POOL_RAISE_IF_ALLOCATION_FAILURE
const KIND_NAME: Record<LookasideKind, string> = { npaged: 'nonpaged', paged: 'paged', ex: 'LOOKASIDE_LIST_EX' }
const KIND_ROUTINES: Record<LookasideKind, string> = { npaged: 'NPaged', paged: 'Paged', ex: 'Ex*LookasideListEx' }

export class LookasideLists {
  private readonly kernel: Kernel
  private readonly lists = new Map<number, LookasideList>()

  constructor(kernel: Kernel) {
    this.kernel = kernel
    kernel.pool.onFree((block) => this.poolFreed(block))
  }

  get active(): IterableIterator<LookasideList> {
    return this.lists.values()
  }

  at(head: number): LookasideList | undefined {
    return this.lists.get(head)
  }

  initialize(head: number, kind: LookasideKind, init: LookasideInit, routine: string): void {
    const k = this.kernel
    const paged = kind === 'ex' ? decodePoolType(init.poolType ?? 0).paged : kind === 'paged'
    const headBytes = kind === 'ex' ? LOOKASIDE_LIST_EX_BYTES : LOOKASIDE_LIST_BYTES
    if (this.lists.has(head)) this.misuse([0xca, head, 0, 0], `${routine} of the lookaside list at ${hex(head)}, which is already initialized (delete it first)`)
    // Windows 8 and later accept POOL_NX_ALLOCATION and POOL_RAISE_IF_ALLOCATION_FAILURE in
    // Flags; seed 002 says Flags and Depth "must be zero". (An Ex list's Flags are checked by
    // ExInitializeLookasideListEx, which returns a status for them.)
    if ((kind !== 'ex' && (init.flags & ~ALLOWED_FLAGS) !== 0) || init.depth !== 0) {
      this.misuse([LOOKASIDE_MISUSE.RESERVED_NOT_ZERO, head, init.flags, init.depth], `${routine} with Flags ${hex(init.flags)} and Depth ${init.depth}: Depth is reserved and must be 0, and Flags may hold only POOL_NX_ALLOCATION or POOL_RAISE_IF_ALLOCATION_FAILURE`)
    }
    const align = k.space.arch.slistAlignment
    if (head % align !== 0) this.misuse([LOOKASIDE_MISUSE.HEAD_MISALIGNED, head, 0, 0], `${routine}: the list head at ${hex(head)} must be ${align}-byte aligned on ${k.space.arch.pointerBytes * 8}-bit Windows`)
    let size = init.size
    if (size < LOOKASIDE_MINIMUM_BLOCK_SIZE) {
      this.misuse([0xcd, head, size, LOOKASIDE_MINIMUM_BLOCK_SIZE], `${routine} with Size ${size}: entries must be at least LOOKASIDE_MINIMUM_BLOCK_SIZE (${LOOKASIDE_MINIMUM_BLOCK_SIZE}) bytes to hold the list link`)
      size = LOOKASIDE_MINIMUM_BLOCK_SIZE
    }
    // Writing the head faults as Windows would if it is not writable memory.
    k.memory.fill(head, headBytes, 0)
    if ((k.space.pteAt(head) & PTE.PAGED) !== 0 || (k.space.pteAt(head + headBytes - 1) & PTE.PAGED) !== 0) {
      this.misuse([LOOKASIDE_MISUSE.HEAD_PAGEABLE, head, paged ? 1 : 0, 0], `${routine}: the list head at ${hex(head)} is in pageable memory; even a paged lookaside list's head must be nonpaged, because the system scans it at DISPATCH_LEVEL`)
    }
    const poolType = kind === 'ex' ? init.poolType ?? 0 : (paged ? POOL_TYPE.PagedPool : POOL_TYPE.NonPagedPool) | (init.flags & ALLOWED_FLAGS)
    const list: LookasideList = {
      head, kind, paged, poolType, size, tag: init.tag >>> 0, allocate: init.allocate, free: init.free, entries: [], driver: init.driver ?? true,
      totalAllocates: 0, allocateMisses: 0, totalFrees: 0, freeMisses: 0,
    }
    this.lists.set(head, list)
    this.writeHead(list, DEPTH, 2, LOOKASIDE_MAXIMUM_DEPTH)
    this.writeHead(list, MAXIMUM_DEPTH, 2, LOOKASIDE_MAXIMUM_DEPTH)
    this.writeHead(list, TYPE, 4, poolType)
    this.writeHead(list, TAG, 4, list.tag)
    this.writeHead(list, SIZE, 4, size)
  }

  /** An entry: the most recently freed one, else a new one from the Allocate routine or pool. */
  allocate(head: number, kind: LookasideKind, site: CallSite | undefined, routine: string): number {
    const list = this.listFor(head, kind, routine)
    if (list === undefined) return 0
    list.totalAllocates++
    this.writeHead(list, TOTAL_ALLOCATES, 4, list.totalAllocates)
    const entry = list.entries.pop()
    if (entry !== undefined) {
      const expected = list.entries.at(-1) ?? 0
      const link = this.kernel.space.translate(entry) < 0 ? -1 : this.kernel.ram.read64(this.kernel.space.translate(entry))
      if (link !== expected) {
        this.misuse([LOOKASIDE_MISUSE.ENTRY_MODIFIED, head, entry, 0], `${routine}: the entry at ${hex(entry)} was written after it was freed to the lookaside list at ${hex(head)} (its list link is ${hex(Math.max(0, link))}, expected ${hex(expected)})`)
      }
      this.kernel.pool.setSite(entry, site)
      return entry
    }
    list.allocateMisses++
    this.writeHead(list, ALLOCATE_MISSES, 4, list.allocateMisses)
    if (list.allocate !== null) return list.allocate(list.poolType, list.size, list.tag)
    return this.kernel.pool.allocate(list.poolType, list.size, list.tag, site === undefined ? {} : { site })
  }

  /** Pushes the entry back, or frees it when the list is full. */
  free(head: number, kind: LookasideKind, entry: number, routine: string): void {
    const list = this.listFor(head, kind, routine)
    if (list === undefined) {
      this.kernel.pool.free(entry, { routine })
      return
    }
    list.totalFrees++
    this.writeHead(list, TOTAL_FREES, 4, list.totalFrees)
    if (list.entries.length >= LOOKASIDE_MAXIMUM_DEPTH) {
      list.freeMisses++
      this.writeHead(list, FREE_MISSES, 4, list.freeMisses)
      this.release(list, entry, routine)
      return
    }
    const pa = this.kernel.space.translate(entry)
    if (pa < 0) this.kernel.memory.write64(entry, 0) // faults, with the reason, as the push would
    this.kernel.ram.write64(pa, list.entries.at(-1) ?? 0)
    list.entries.push(entry)
  }

  /** Frees every entry the list holds and forgets the list (0xCB when it was not initialized). */
  delete(head: number, kind: LookasideKind, routine: string): void {
    const list = this.lists.get(head)
    if (list === undefined || list.kind !== kind) {
      this.misuse([0xcb, head, 0, 0], `${routine} of ${hex(head)}, which is not an initialized ${KIND_NAME[kind]} lookaside list`)
      return
    }
    this.lists.delete(head)
    this.flushEntries(list, routine)
  }

  /** ExFlushLookasideListEx: frees every entry the list holds; the list stays initialized. */
  flush(head: number, routine: string): void {
    const list = this.listFor(head, 'ex', routine)
    if (list !== undefined) this.flushEntries(list, routine)
  }

  private flushEntries(list: LookasideList, routine: string): void {
    while (list.entries.length > 0) this.release(list, list.entries.pop()!, routine)
  }

  private release(list: LookasideList, entry: number, routine: string): void {
    if (list.free !== null) list.free(entry)
    else this.kernel.pool.free(entry, { routine })
  }

  private listFor(head: number, kind: LookasideKind, routine: string): LookasideList | undefined {
    const list = this.lists.get(head)
    if (list !== undefined && list.kind === kind) return list
    this.misuse(
      [LOOKASIDE_MISUSE.NOT_INITIALIZED, head, 0, 0],
      list === undefined
        ? `${routine} on ${hex(head)}, which is not an initialized lookaside list`
        : `${routine} on the ${KIND_NAME[list.kind]} lookaside list at ${hex(head)}: use the ${KIND_ROUTINES[list.kind]} routines for it`,
    )
    return undefined
  }

  /** A pool block is being freed: a live list head inside it is 0xC4/0xCC. */
  private poolFreed(block: PoolBlock): void {
    for (const list of this.lists.values()) {
      if (list.head >= block.va && list.head < block.va + Math.max(block.bytes, 1)) {
        this.misuse([0xcc, list.head, block.va, block.bytes], `freeing ${tagName(block.tag)} pool at ${hex(block.va)} (${block.bytes} bytes), which holds the live lookaside list at ${hex(list.head)}: delete the list first`)
      }
    }
  }

  /** Keeps the head's counters current (a driver or debugger reading them sees real numbers). */
  private writeHead(list: LookasideList, offset: number, width: 2 | 4, value: number): void {
    const pa = this.kernel.space.translate(list.head + offset)
    if (pa < 0) return
    if (width === 2) this.kernel.ram.write16(pa, value & 0xffff)
    else this.kernel.ram.write32(pa, value >>> 0)
  }

  private misuse(params: BugCheckParams, message: string): void {
    const site = siteHere()
    this.kernel.log.violation({
      kind: 'lookaside-misuse',
      code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
      params,
      message,
      ...(site === undefined ? {} : { site }),
      details: { list: params[1] },
    })
  }
}
