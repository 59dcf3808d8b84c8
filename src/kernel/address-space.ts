// The kernel's virtual address space: a VA allocator and the page tables every driver access
// is translated through.
//
// Where kernel VAs are depends on the machine's architecture (arch.ts): at 0xF800_0000_0000
// and up on x64 (the 48-bit form of Windows' 0xFFFFF800… addresses, kept below 2^53, so a VA
// handed to a device by mistake looks nothing like RAM), in the upper 2 GiB on x86.
// Page tables are a directory of 512-entry leaves (Float64Array), allocated as the bump
// allocator reaches them, like x86 page tables. A PTE is the frame's physical address plus
// flag bits in the low 12 bits; a PTE without VALID says why the page is not there (never
// mapped, freed, guard, reserved), and a side table of notes says whose it was.
import { PAGE_SIZE, hex } from '../hw/address.js'
import { X64, type ArchProfile } from './arch.js'

/** The x64 kernel space (the default machine's); `KernelAddressSpace.base/span` for the machine's own. */
export const KERNEL_VA_BASE = X64.vaBase
/** 4 TiB of kernel VA: page indices stay below 2^30, so `| 0` arithmetic is exact. */
export const KERNEL_VA_SPAN = X64.vaSpan
export const KERNEL_VA_END = KERNEL_VA_BASE + KERNEL_VA_SPAN
/** Addresses below this are a NULL-pointer dereference (Windows reserves the first 64 KiB). */
export const NULL_REGION_END = 0x1_0000

export const PTE = {
  VALID: 0x001,
  WRITE: 0x002,
  NOCACHE: 0x004,
  WRITECOMBINE: 0x008,
  /** Pageable memory (paged pool): touching it at DISPATCH_LEVEL or above is an IRQL violation. */
  PAGED: 0x010,
  /** Device memory: the access goes to the system bus, not straight to RAM. */
  IO: 0x020,
  // States of a page that is not VALID:
  FREED: 0x100,
  GUARD: 0x200,
  RESERVED: 0x400,
} as const

const LEAF_SHIFT = 9
const LEAF = 1 << LEAF_SHIFT

/** Why a page is not mapped, and whose it was, for the fault message. */
export interface PageNote {
  /**
   * `special-pool` and `dma-guard` guards turn a fault into pool-overrun / dma-outside-buffer;
   * `freed-special-pool` (a freed special-pool page) into bug check 0xD5; `kernel-stack` into 0x7F.
   */
  readonly guard?: 'special-pool' | 'dma-guard' | 'kernel-stack' | 'guard' | 'freed-special-pool'
  /** What the page belonged to: `pool block 'Test' (64 bytes)`, `common buffer`, … */
  readonly what: string
  readonly site?: string
  readonly freedAt?: string
}

export type PageState = 'unmapped' | 'mapped' | 'freed' | 'guard' | 'reserved' | 'null' | 'outside'

/**
 * Freed pages whose note keeps its call sites (each a captured stack, a few KiB); older freed
 * pages keep only what they were. Without the bound a long run that frees a page every few
 * frames held a stack per freed page for the whole quarantine (hundreds of MiB).
 */
const DETAILED_FREED_NOTES = 1 << 12

export class KernelAddressSpace {
  /** The page-table directory; exposed read-only for the accessor's inlined fast path. */
  readonly directory: Array<Float64Array | undefined> = []
  readonly arch: ArchProfile
  /** The kernel's part of the address space: [base, base + span). */
  readonly base: number
  readonly span: number
  /** Page indices (from `base`) the VA allocator hands out: [firstPage, endPage). */
  private readonly endPage: number
  private nextPage: number
  private readonly notes = new Map<number, PageNote>()
  private readonly quarantine: Array<[number, number]> = []
  private quarantinedPages = 0
  private readonly recycled = new Map<number, number[]>()
  /** The last DETAILED_FREED_NOTES freed pages with a note, oldest first (a ring). */
  private readonly detailed = new Int32Array(DETAILED_FREED_NOTES).fill(-1)
  private detailedNext = 0

  constructor(arch: ArchProfile = X64) {
    this.arch = arch
    this.base = arch.vaBase
    this.span = arch.vaSpan
    this.nextPage = (arch.allocBase - arch.vaBase) / PAGE_SIZE
    this.endPage = (arch.allocEnd - arch.vaBase) / PAGE_SIZE
  }

  /** True for an address in the kernel's part of the address space. */
  contains(va: number): boolean {
    const off = va - this.base
    return off >= 0 && off < this.span
  }

  /**
   * Takes `pages` at a fixed `va` outside the allocator's range (the x86 driver image, linked
   * at its base): they start not present, like reserved pages. Throws when they are not free.
   */
  reserveFixed(va: number, pages: number): void {
    const first = this.pageIndex(va)
    const alloc = (this.arch.allocBase - this.base) / PAGE_SIZE
    if (first + pages > alloc && first < this.endPage) throw new RangeError(`${hex(va)} (+${pages} pages) overlaps the kernel's VA allocator`)
    for (let i = 0; i < pages; i++) {
      if (this.pteAt(va + i * PAGE_SIZE) !== 0) throw new RangeError(`${hex(va + i * PAGE_SIZE)} is already in use`)
    }
    for (let i = 0; i < pages; i++) {
      this.setPte(first + i, 0)
      this.notes.delete(first + i)
    }
  }

  /** Reserves `pages` of VA (plus optional guard pages around it); returns the first usable VA. */
  reserve(pages: number, guardBefore = 0, guardAfter = 0, guardNote?: PageNote): number {
    const total = pages + guardBefore + guardAfter
    const reused = this.recycled.get(total)?.pop()
    let first: number
    if (reused !== undefined) {
      first = reused
    } else {
      if (this.nextPage + total > this.endPage) {
        throw new RangeError('kernel virtual address space exhausted')
      }
      first = this.nextPage
      this.nextPage += total
    }
    for (let i = 0; i < total; i++) {
      this.setPte(first + i, 0)
      this.notes.delete(first + i)
    }
    const note = guardNote ?? { guard: 'guard' as const, what: 'guard page' }
    for (let i = 0; i < guardBefore; i++) this.setGuardPage(first + i, note)
    for (let i = 0; i < guardAfter; i++) this.setGuardPage(first + guardBefore + pages + i, note)
    return this.base + (first + guardBefore) * PAGE_SIZE
  }

  /** Returns a range (including its guard pages) to the allocator, after a quarantine. */
  release(va: number, pages: number, guardBefore = 0, guardAfter = 0): void {
    const first = this.pageIndex(va) - guardBefore
    const total = pages + guardBefore + guardAfter
    this.quarantine.push([first, total])
    this.quarantinedPages += total
    while (this.quarantinedPages > this.arch.quarantinePages) {
      const [f, n] = this.quarantine.shift()!
      this.quarantinedPages -= n
      let list = this.recycled.get(n)
      if (list === undefined) this.recycled.set(n, (list = []))
      list.push(f)
    }
  }

  map(va: number, pa: number, flags: number): void {
    this.setPte(this.pageIndex(va), pa + (flags | PTE.VALID))
    this.notes.delete(this.pageIndex(va))
  }

  /** Marks pages not present, remembering why (freed memory, reserved mapping). */
  unmap(va: number, pages: number, state: typeof PTE.FREED | typeof PTE.RESERVED, note?: PageNote): void {
    const first = this.pageIndex(va)
    for (let i = 0; i < pages; i++) {
      this.setPte(first + i, state)
      if (note !== undefined) this.notes.set(first + i, note)
      else this.notes.delete(first + i)
      if (note !== undefined && state === PTE.FREED) this.keepDetail(first + i)
    }
  }

  /** Keeps the newest freed notes whole; the one it displaces keeps only what the page was. */
  private keepDetail(index: number): void {
    const slot = this.detailedNext
    this.detailedNext = (slot + 1) % DETAILED_FREED_NOTES
    const old = this.detailed[slot]!
    this.detailed[slot] = index
    if (old < 0 || old === index) return
    const note = this.notes.get(old)
    if (note !== undefined && (this.pteAt(this.base + old * PAGE_SIZE) & PTE.FREED) !== 0) {
      this.notes.set(old, note.guard === undefined ? { what: note.what } : { what: note.what, guard: note.guard })
    }
  }

  setGuard(va: number, pages: number, note: PageNote): void {
    const first = this.pageIndex(va)
    for (let i = 0; i < pages; i++) this.setGuardPage(first + i, note)
  }

  /** The raw PTE for `va`, or 0 when it is outside the kernel space or never reached. */
  pteAt(va: number): number {
    const off = va - this.base
    if (!(off >= 0 && off < this.span)) return 0
    const idx = (off / PAGE_SIZE) | 0
    const leaf = this.directory[idx >>> LEAF_SHIFT]
    return leaf === undefined ? 0 : leaf[idx & (LEAF - 1)]!
  }

  /** The physical address `va` maps to, or -1 when it is not mapped. */
  translate(va: number): number {
    const pte = this.pteAt(va)
    if ((pte & PTE.VALID) === 0) return -1
    return pte - (pte & 0xfff) + (va & 0xfff)
  }

  stateOf(va: number): PageState {
    if (va >= 0 && va < NULL_REGION_END) return 'null'
    const off = va - this.base
    if (!(off >= 0 && off < this.span)) return 'outside'
    const pte = this.pteAt(va)
    if ((pte & PTE.VALID) !== 0) return 'mapped'
    if ((pte & PTE.GUARD) !== 0) return 'guard'
    if ((pte & PTE.FREED) !== 0) return 'freed'
    if ((pte & PTE.RESERVED) !== 0) return 'reserved'
    return 'unmapped'
  }

  noteAt(va: number): PageNote | undefined {
    const off = va - this.base
    if (!(off >= 0 && off < this.span)) return undefined
    return this.notes.get((off / PAGE_SIZE) | 0)
  }

  /** One line on why `va` cannot be accessed, for page-fault findings. */
  describeFault(va: number): string {
    const state = this.stateOf(va)
    const note = this.noteAt(va)
    const whose = note ? ` (${note.what}${note.site ? `, allocated at ${note.site}` : ''}${note.freedAt ? `, freed at ${note.freedAt}` : ''})` : ''
    switch (state) {
      case 'null': return `NULL pointer dereference (${hex(va)} is in the first 64 KiB)`
      case 'outside': return `${hex(va)} is not a kernel address`
      case 'unmapped': return `${hex(va)} was never mapped`
      case 'freed': return `${hex(va)} is freed memory${whose}`
      case 'guard': return `${hex(va)} is a guard page${whose}`
      case 'reserved': return `${hex(va)} is reserved but not mapped${whose}`
      case 'mapped': return `${hex(va)} is mapped`
    }
  }

  private pageIndex(va: number): number {
    const off = va - this.base
    if (!(off >= 0 && off < this.span) || off % PAGE_SIZE !== 0) {
      throw new RangeError(`${hex(va)} is not a page-aligned kernel virtual address`)
    }
    return off / PAGE_SIZE
  }

  private setGuardPage(index: number, note: PageNote): void {
    this.setPte(index, PTE.GUARD)
    this.notes.set(index, note)
  }

  private setPte(index: number, value: number): void {
    const d = index >>> LEAF_SHIFT
    let leaf = this.directory[d]
    if (leaf === undefined) {
      while (this.directory.length < d) this.directory.push(undefined)
      leaf = new Float64Array(LEAF)
      this.directory[d] = leaf
    }
    leaf[index & (LEAF - 1)] = value
  }
}
