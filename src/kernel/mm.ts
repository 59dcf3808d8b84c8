// The memory manager's internal services: take frames from the PFN database, map them into
// kernel VA with a cache type, unmap and give them back. Every Mm routine, the pool's large and
// special-pool blocks, and the DMA layer's common buffers and map registers are built on these.
// None of them takes a fault decision: that happens once, at the driver-facing routine.
//
// Freed memory is never left mapped: its PTEs become FREED with a note saying what it was,
// where it was allocated and where it was freed, so a late access faults with that message.
// Memory documented as not zeroed is filled with FILL_UNINITIALIZED.
import { PAGE_SIZE, asPhysical, asVirtual, pageOffset, type PhysicalAddress, type VirtualAddress } from '../hw/address.js'
import { PTE, type PageNote } from './address-space.js'
import { FILL_UNINITIALIZED } from './fill-patterns.js'
import type { FrameKind, FrameOwner } from './frames.js'
import type { Kernel } from './kernel.js'

/** How the CPU maps memory (MEMORY_CACHING_TYPE, reduced to what a PTE can say). */

/**
 * The most frames one allocation may take (16 GiB): larger requests are refused as Windows'
 * pools refuse them, and dmalab would otherwise spend a PTE and an owner record per page.
 */
export const MAX_ALLOCATION_FRAMES = 1 << 22
/** The most frames held at once (60 GiB): the PFN database's owner map holds one entry each. */
export const OWNED_FRAMES_LIMIT = (1 << 24) - (1 << 20)

export type CacheType = 'cached' | 'noncached' | 'write-combined'

/** What the frames must be and whose they are. */
export interface FrameRequest {
  readonly kind: FrameKind
  /** What a report calls the allocation: `contiguous 16 KiB`, `common buffer of 8 KiB`. */
  readonly label: string
  /** True (default) for memory that belongs to the driver rather than to the system. */
  readonly driver?: boolean
  readonly site?: string
  /** Lowest and highest acceptable physical addresses, bytes, inclusive (default: all RAM). */
  readonly lowest?: number
  readonly highest?: number
  /** One physically contiguous run. */
  readonly contiguous?: boolean
  /** A contiguous run never crosses a multiple of this many bytes (0 or absent: no boundary). */
  readonly boundary?: number
  /** Non-contiguous only: take as many frames as there are (possibly none) instead of failing. */
  readonly partial?: boolean
}

export interface MapOptions {
  readonly cache?: CacheType
  /** Pageable (paged pool): touching it at DISPATCH_LEVEL is an IRQL violation. */
  readonly paged?: boolean
  /** Default true. */
  readonly writable?: boolean
  /** Guard pages reserved around the range; a touch faults with `guardNote`. */
  readonly guardBefore?: number
  readonly guardAfter?: number
  readonly guardNote?: PageNote
}

/** How new memory starts out: zeroed, the uninitialized pattern, or whatever the frames hold. */
export type Fill = 'zero' | 'uninitialized' | 'keep'

/** Frames mapped at a kernel VA (the result of `allocateMapped`). */
export interface MappedMemory {
  readonly va: VirtualAddress
  readonly pages: number
  readonly pfns: readonly number[]
  readonly owner: FrameOwner
  readonly guardBefore: number
  readonly guardAfter: number
  readonly pteFlags: number
}

/** Pages beyond which uninitialized memory is not pattern-filled (64 MiB: host memory). */
export const UNINITIALIZED_FILL_LIMIT = 16384

export function pteFlagsFor(options: MapOptions): number {
  let flags = options.writable === false ? 0 : PTE.WRITE
  if (options.cache === 'noncached') flags |= PTE.NOCACHE
  else if (options.cache === 'write-combined') flags |= PTE.WRITECOMBINE
  if (options.paged === true) flags |= PTE.PAGED
  return flags
}

export class MemoryManager {
  private readonly kernel: Kernel

  constructor(kernel: Kernel) {
    this.kernel = kernel
  }

  /**
   * `count` frames for `request`, in mapping order; null when they cannot be had (or, with
   * `partial`, the frames there were). Contiguous runs honour lowest/highest/boundary exactly;
   * scattered frames honour lowest/highest (S02, S25). `owner` joins the frames to an existing
   * allocation (several ranges gathered into one MDL).
   */
  allocateFrames(count: number, request: FrameRequest, owner?: FrameOwner): { pfns: number[]; owner: FrameOwner } | null {
    const frames = this.kernel.frames
    if (!(count > 0)) return null
    const lowest = Math.ceil((request.lowest ?? 0) / PAGE_SIZE)
    const highest = request.highest === undefined ? frames.topFrame - 1 : Math.floor((request.highest + 1) / PAGE_SIZE) - 1
    if (lowest > highest) return null
    // Quick refusal, so an absurd request does not walk the whole PFN database first.
    if (count > frames.freeFrames && request.partial !== true) return null
    // Beyond what the emulator represents (a record per frame held, a PTE per page mapped): the
    // request fails as memory that ran out does, NULL, never a host error blamed on the driver.
    const room = Math.min(MAX_ALLOCATION_FRAMES, OWNED_FRAMES_LIMIT - frames.ownedFrames)
    if (count > room) {
      if (request.partial !== true || room <= 0) return null
      count = room
    }
    owner ??= frames.newOwner(request.kind, request.label, request.driver ?? true, request.site)
    if (request.contiguous === true) {
      const boundary = request.boundary ?? 0
      const first = frames.allocateRun(count, owner, { lowest, highest, boundary: boundary / PAGE_SIZE })
      if (first < 0) return null
      return { pfns: Array.from({ length: count }, (_, i) => first + i), owner }
    }
    const pfns = frames.allocateMany(count, owner, { lowest, highest }, request.partial === true)
    return pfns === null ? null : { pfns, owner }
  }

  freeFrames(pfns: readonly number[]): void {
    for (const pfn of pfns) this.kernel.frames.free(pfn)
  }

  /**
   * Sets every byte of the frames to zero or the uninitialized pattern. Zeroing frames never
   * written costs nothing (sparse RAM); the pattern costs host memory for every page, so an
   * allocation larger than UNINITIALIZED_FILL_LIMIT pages keeps what its frames hold instead.
   */
  fillFrames(pfns: readonly number[], fill: Fill): void {
    if (fill === 'keep' || (fill === 'uninitialized' && pfns.length > UNINITIALIZED_FILL_LIMIT)) return
    const value = fill === 'zero' ? 0 : FILL_UNINITIALIZED
    for (const pfn of pfns) this.kernel.ram.fill(pfn * PAGE_SIZE, PAGE_SIZE, value)
  }

  /** Maps `pfns` at a fresh kernel VA (plus guard pages); returns the VA of the first frame. */
  mapFrames(pfns: readonly number[], options: MapOptions = {}): VirtualAddress {
    const space = this.kernel.space
    const va = space.reserve(pfns.length, options.guardBefore ?? 0, options.guardAfter ?? 0, options.guardNote)
    const flags = pteFlagsFor(options)
    for (let i = 0; i < pfns.length; i++) space.map(va + i * PAGE_SIZE, pfns[i]! * PAGE_SIZE, flags)
    return asVirtual(va)
  }

  /**
   * Unmaps `pages` at `va` and gives the VA back (after the address space's quarantine). The
   * PTEs stay FREED with `note` until the VA is reused, so a late access faults and says why.
   */
  unmap(va: number, pages: number, note: PageNote, guardBefore = 0, guardAfter = 0): void {
    const space = this.kernel.space
    space.unmap(va, pages, PTE.FREED, note)
    space.release(va, pages, guardBefore, guardAfter)
  }

  /** Frames for `request`, filled as asked, mapped at a fresh VA. Null when frames ran out. */
  allocateMapped(pages: number, request: FrameRequest, map: MapOptions = {}, fill: Fill = 'uninitialized'): MappedMemory | null {
    const got = this.allocateFrames(pages, request)
    if (got === null || got.pfns.length === 0) return null
    this.fillFrames(got.pfns, fill)
    const va = this.mapFrames(got.pfns, map)
    return {
      va,
      pages: got.pfns.length,
      pfns: got.pfns,
      owner: got.owner,
      guardBefore: map.guardBefore ?? 0,
      guardAfter: map.guardAfter ?? 0,
      pteFlags: pteFlagsFor(map),
    }
  }

  /** Unmaps (FREED, with `note`) and frees what `allocateMapped` returned. */
  freeMapped(memory: MappedMemory, note: PageNote): void {
    this.unmap(memory.va, memory.pages, note, memory.guardBefore, memory.guardAfter)
    this.freeFrames(memory.pfns)
  }

  /**
   * MmGetPhysicalAddress: the CPU physical address behind a kernel VA, or 0 when nothing is
   * mapped there (Windows returns zero for an invalid address). Never a bus address (S14).
   */
  physicalAddress(va: number): PhysicalAddress {
    const pa = this.kernel.space.translate(va)
    return asPhysical(pa < 0 ? 0 : pa)
  }

  /** The frame behind each page of [va, va + bytes), or -1 for a page that is not mapped. */
  framesOf(va: number, bytes: number): number[] {
    const first = va - pageOffset(va)
    const pages = bytes === 0 ? 0 : Math.ceil((pageOffset(va) + bytes) / PAGE_SIZE)
    const out: number[] = []
    for (let i = 0; i < pages; i++) {
      const pa = this.kernel.space.translate(first + i * PAGE_SIZE)
      out.push(pa < 0 ? -1 : pa / PAGE_SIZE)
    }
    return out
  }
}

/** MEMORY_CACHING_TYPE → the PTE's view; undefined for a value the WDK does not define. */
export function cacheTypeOf(memoryCachingType: number): CacheType | undefined {
  switch (memoryCachingType) {
    case 0: // MmNonCached
    case 4: // MmNonCachedUnordered
      return 'noncached'
    case 1: // MmCached
    case 3: // MmHardwareCoherentCached
      return 'cached'
    case 2: // MmWriteCombined
    case 5: // MmUSWCCached
      return 'write-combined'
    default:
      return undefined
  }
}
