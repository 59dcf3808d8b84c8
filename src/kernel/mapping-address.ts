// MmAllocateMappingAddress and friends (S15): a range of system VA reserved without any
// memory behind it. Touching it is a page fault until MmMapLockedPagesWithReservedMapping maps
// an MDL's pages there; MmUnmapReservedMapping makes it reserved-and-unmapped again, and
// MmFreeMappingAddress gives the VA back. The tag passed to each call must be the one the range
// was reserved with.
import { PAGE_SIZE, hex, pagesSpanned, type VirtualAddress, asVirtual } from '../hw/address.js'
import { PTE, type PageNote } from './address-space.js'
import { BUGCHECK } from './bugcheck.js'
import type { CallSite } from './calls.js'
import type { Kernel } from './kernel.js'
import { BAD_MEMORY_ROUTINE_PARAMETERS, type MDL, type MdlService } from './mdl.js'
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
    const r = this.find(va, tag, routine)
    if (r === undefined) return
    if (r.mapped !== null) {
      this.mdls.misuse(r.mapped, [BAD_MEMORY_ROUTINE_PARAMETERS, 0, va, 0], `${routine} of ${hex(va)} while an MDL is still mapped there: call MmUnmapReservedMapping first`)
      this.unmapMdl(r)
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
    const r = this.find(va, tag, routine)
    if (r === undefined || r.mapped !== null || state.mapping !== null) return asVirtual(0)
    const pages = pagesSpanned(mdl.ByteOffset, mdl.ByteCount)
    const locked = (mdl.MdlFlags & (MDL_FLAGS.MDL_PAGES_LOCKED | MDL_FLAGS.MDL_SOURCE_IS_NONPAGED_POOL)) !== 0
    if (!locked) {
      this.mdls.misuse(mdl, [0xb3, state.address, mdl.MdlFlags, MDL_FLAGS.MDL_PAGES_LOCKED], `${routine} with an MDL whose pages are not locked`)
      return asVirtual(0)
    }
    if (pages === 0 || pages > r.pages || mdl.PfnArray.slice(0, pages).some((p) => p < 0)) return asVirtual(0)
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
    const r = this.find(va, tag, routine)
    if (r === undefined) return
    if (r.mapped !== mdl) {
      this.mdls.misuse(mdl, [BAD_MEMORY_ROUTINE_PARAMETERS, 0, va, 0], `${routine} of ${hex(va)} with an MDL that is not the one mapped there`)
      return
    }
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

  /** The reservation at `va` with `tag`; a wrong address is fatal, a wrong tag a violation. */
  private find(va: number, tag: number, routine: string): MappingAddress | undefined {
    const r = this.live.get(va)
    const site = siteHere()
    if (r === undefined) {
      this.kernel.log.fatal({
        kind: 'pool-bad-free',
        code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        params: [BAD_MEMORY_ROUTINE_PARAMETERS, 0, va, 0],
        message: `${routine} of ${hex(va)}: not an address MmAllocateMappingAddress returned (or it was already freed)`,
        ...(site === undefined ? {} : { site }),
        details: { address: va },
      })
    }
    if (tag >>> 0 !== r.tag) {
      this.kernel.log.violation({
        kind: 'pool-free-mismatch',
        code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        params: [BAD_MEMORY_ROUTINE_PARAMETERS, 0, va, 0],
        message: `${routine} of ${hex(va)} with tag '${tagName(tag)}': the range was reserved with tag '${tagName(r.tag)}'`,
        ...(site === undefined ? {} : { site }),
        details: { address: va, reservedTag: tagName(r.tag), tag: tagName(tag) },
      })
    }
    return r
  }

  private reservedNote(r: MappingAddress): PageNote {
    return pageNote(`mapping address reserved with tag '${tagName(r.tag)}' (${r.bytes} bytes), nothing mapped there`, r.site)
  }
}
