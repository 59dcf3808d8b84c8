// MmAllocateMappingAddress and friends (S15): a range of system VA reserved without any
// memory behind it. Touching it is a page fault until MmMapLockedPagesWithReservedMapping maps
// an MDL's pages there; MmUnmapReservedMapping makes it reserved-and-unmapped again, and
// MmFreeMappingAddress gives the VA back. The tag passed to each call must be the one the range
// was reserved with. Misuse is what Windows' memory manager bug checks at once: SYSTEM_PTE_MISUSE
// (0xDA) with the parameter-1 code its reference page gives for the case
// (`reserved-mapping-misuse`, fatal).
import { PAGE_SIZE, hex, pagesSpanned, type VirtualAddress, asVirtual } from '../hw/address.js'
import type { BugCheckParams } from '../hw/finding.js'
import { PTE, type PageNote } from './address-space.js'
import { BUGCHECK } from './bugcheck.js'
import type { CallSite } from './calls.js'
import type { Kernel } from './kernel.js'
import type { MDL, MdlService } from './mdl.js'
import type { CacheType } from './mm.js'
import { freeSite, pageNote } from './page-notes.js'
import { siteHere } from './sites.js'
import { tagName } from './tags.js'
import { MDL_FLAGS, MDL_MAX_BYTES } from './wdm.js'

/**
 * System PTEs for reservations, machine-wide (4 GiB of VA). Windows fails MmAllocateMappingAddress
 * (NULL) when it runs out of system PTEs; here the limit also keeps the kernel page tables and
 * page notes that record reserved pages bounded (about 36 MiB of host memory at the limit).
 */
export const MAX_RESERVED_PAGES = 1024 * 1024

/** SYSTEM_PTE_MISUSE (0xDA) parameter 1 for the reserved-mapping routines (bug check 0xDA reference). */
export const PTE_MISUSE = {
  freeNotOwner: 0x101,
  freeNotReserved: 0x102,
  freeStillMapped: 0x103,
  mapNotOwner: 0x104,
  mapNotReserved: 0x105,
  mapNotEmpty: 0x107,
  unmapNotOwner: 0x108,
  unmapEmpty: 0x109,
  unmapTooMany: 0x10a,
  unmapPartial: 0x10c,
} as const

export interface MappingAddress {
  readonly va: VirtualAddress
  readonly pages: number
  readonly bytes: number
  readonly tag: number
  readonly site: CallSite | undefined
  readonly driver: boolean
  /** The MDL mapped into the range now, if any. */
  mapped: MDL | null
}

export class MappingAddresses {
  private readonly kernel: Kernel
  private readonly mdls: MdlService
  private readonly live = new Map<number, MappingAddress>()
  /** Pages all live reservations span. */
  private reservedPages = 0

  constructor(kernel: Kernel, mdls: MdlService) {
    this.kernel = kernel
    this.mdls = mdls
  }

  get reservations(): IterableIterator<MappingAddress> {
    return this.live.values()
  }

  /** Reserves whole pages of VA, unmapped (RESERVED), and returns the first; 0 for zero bytes. */
  allocate(bytes: number, tag: number, site?: CallSite, driver = true): VirtualAddress {
    const pages = Math.ceil(bytes / PAGE_SIZE)
    if (pages === 0) return asVirtual(0)
    // Only an MDL (at most 4 GiB) is ever mapped into a reservation; beyond the system PTEs, NULL.
    if (bytes > MDL_MAX_BYTES || this.reservedPages + pages > MAX_RESERVED_PAGES) return asVirtual(0)
    this.reservedPages += pages
    const space = this.kernel.space
    const va = space.reserve(pages)
    const r: MappingAddress = { va: asVirtual(va), pages, bytes, tag: tag >>> 0, site, driver, mapped: null }
    space.unmap(va, pages, PTE.RESERVED, this.reservedNote(r))
    this.live.set(va, r)
    return r.va
  }

  /** MmFreeMappingAddress: the range must be reserved with this tag and no longer mapped. */
  free(va: number, tag: number, routine = 'MmFreeMappingAddress'): void {
    const r = this.find(va, tag, routine, PTE_MISUSE.freeNotReserved, PTE_MISUSE.freeNotOwner)
    if (r.mapped !== null) {
      this.misuse([PTE_MISUSE.freeStillMapped, va, tag, pagesSpanned(r.mapped.ByteOffset, r.mapped.ByteCount)], `${routine} of ${hex(va)} while an MDL is still mapped there: call MmUnmapReservedMapping first`)
    }
    this.live.delete(va)
    this.reservedPages -= r.pages
    this.kernel.mm.unmap(va, r.pages, pageNote(`freed mapping address reserved with tag '${tagName(r.tag)}' (${r.bytes} bytes)`, r.site, freeSite(this.kernel)))
  }

  /**
   * MmMapLockedPagesWithReservedMapping: maps the MDL's locked pages at the start of the
   * reserved range and returns the VA of the buffer's first byte; 0 when the MDL does not fit
   * or its pages are not locked, or the range is already mapped.
   */
  map(va: number, tag: number, mdl: MDL, cache: CacheType, routine = 'MmMapLockedPagesWithReservedMapping'): VirtualAddress {
    const state = this.mdls.require(mdl, routine)
    const r = this.find(va, tag, routine, PTE_MISUSE.mapNotReserved, PTE_MISUSE.mapNotOwner)
    if (r.mapped !== null) {
      this.misuse([PTE_MISUSE.mapNotEmpty, va, r.mapped.MappedSystemVa, va + (r.pages - 1) * PAGE_SIZE], `${routine} of ${hex(va)}: an MDL is already mapped there (MmUnmapReservedMapping first)`)
    }
    if (state.mapping !== null) return asVirtual(0)
    const pages = pagesSpanned(mdl.ByteOffset, mdl.ByteCount)
    const locked = (mdl.MdlFlags & (MDL_FLAGS.MDL_PAGES_LOCKED | MDL_FLAGS.MDL_SOURCE_IS_NONPAGED_POOL)) !== 0
    if (!locked) {
      this.mdls.misuse(mdl, [0xb3, state.address, mdl.MdlFlags, MDL_FLAGS.MDL_PAGES_LOCKED], `${routine} with an MDL whose pages are not locked`)
      return asVirtual(0)
    }
    if (pages === 0 || pages > r.pages || !this.mdls.pfnsFromMm(mdl, pages, routine)) return asVirtual(0)
    const flags = PTE.WRITE | (cache === 'noncached' ? PTE.NOCACHE : cache === 'write-combined' ? PTE.WRITECOMBINE : 0)
    for (let i = 0; i < pages; i++) this.kernel.space.map(va + i * PAGE_SIZE, mdl.PfnArray[i]! * PAGE_SIZE, flags)
    r.mapped = mdl
    state.mapping = { va, pages, reserved: true }
    mdl.MappedSystemVa = va + mdl.ByteOffset
    mdl.MdlFlags |= MDL_FLAGS.MDL_MAPPED_TO_SYSTEM_VA
    return asVirtual(mdl.MappedSystemVa)
  }

  /** MmUnmapReservedMapping: the range goes back to reserved-and-unmapped. */
  unmap(va: number, tag: number, mdl: MDL, routine = 'MmUnmapReservedMapping'): void {
    const r = this.find(va, tag, routine, PTE_MISUSE.unmapEmpty, PTE_MISUSE.unmapNotOwner)
    if (r.mapped === null) this.misuse([PTE_MISUSE.unmapEmpty, va, tag, 0], `${routine} of ${hex(va)}: nothing is mapped there`)
    // Windows unmaps as many pages as the MDL spans: more than are mapped, or fewer, is misuse.
    const mapped = pagesSpanned(r.mapped.ByteOffset, r.mapped.ByteCount)
    const asked = pagesSpanned(mdl.ByteOffset, mdl.ByteCount)
    if (asked > mapped) this.misuse([PTE_MISUSE.unmapTooMany, va, mapped, asked], `${routine} of ${hex(va)} with an MDL of ${asked} pages: only ${mapped} are mapped there`)
    if (asked < mapped) this.misuse([PTE_MISUSE.unmapPartial, va, tag, asked], `${routine} of ${hex(va)} with an MDL of ${asked} pages: ${mapped} are mapped there, and the whole range must be unmapped`)
    this.unmapMdl(r)
  }

  private unmapMdl(r: MappingAddress): void {
    const mdl = r.mapped!
    const state = this.mdls.stateOf(mdl)
    this.kernel.space.unmap(r.va, r.pages, PTE.RESERVED, this.reservedNote(r))
    r.mapped = null
    if (state !== undefined) state.mapping = null
    mdl.MdlFlags &= ~MDL_FLAGS.MDL_MAPPED_TO_SYSTEM_VA
  }

  /** The reservation at `va` with `tag`: anything else is SYSTEM_PTE_MISUSE with `unknown` or `notOwner`. */
  private find(va: number, tag: number, routine: string, unknown: number, notOwner: number): MappingAddress {
    const r = this.live.get(va)
    if (r === undefined) this.misuse([unknown, va, tag, 0], `${routine} of ${hex(va)}: not an address MmAllocateMappingAddress returned (or it was already freed)`)
    if (tag >>> 0 !== r.tag) this.misuse([notOwner, va, tag >>> 0, r.tag], `${routine} of ${hex(va)} with tag '${tagName(tag)}': the range was reserved with tag '${tagName(r.tag)}'`)
    return r
  }

  private misuse(params: BugCheckParams, message: string): never {
    const site = siteHere()
    this.kernel.log.fatal({
      kind: 'reserved-mapping-misuse',
      code: BUGCHECK.SYSTEM_PTE_MISUSE,
      params,
      message,
      ...(site === undefined ? {} : { site }),
      details: { address: params[1] },
    })
  }

  private reservedNote(r: MappingAddress): PageNote {
    return pageNote(`mapping address reserved with tag '${tagName(r.tag)}' (${r.bytes} bytes), nothing mapped there`, r.site)
  }
}
