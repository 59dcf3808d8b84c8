// MmAllocatePagesForMdl[Ex] and MmFreePagesFromMdl (S17): physical pages with no virtual
// address, taken one at a time from a physical range, so they are typically not contiguous.
//
// Microsoft's documentation: pages come from [LowAddress, HighAddress]; when that range
// cannot supply them all, the routine moves the range up by SkipBytes and tries again, until
// it has them or passes the end of RAM. It may return fewer pages than asked for (the caller
// must check MmGetMdlByteCount), NULL when it got none, and at most 4 GiB - PAGE_SIZE per
// call. MmAllocatePagesForMdl zeroes the pages; MmAllocatePagesForMdlEx does unless told
// MM_DONT_ZERO_ALLOCATION, and with MM_ALLOCATE_FULLY_REQUIRED returns NULL rather than fewer.
import { PAGE_SIZE, formatBytes, hex } from '../hw/address.js'
import { BUGCHECK } from './bugcheck.js'
import type { CallSite } from './calls.js'
import type { FrameOwner } from './frames.js'
import type { Kernel } from './kernel.js'
import { BAD_MEMORY_ROUTINE_PARAMETERS, type MDL, type MdlService } from './mdl.js'
import type { CacheType } from './mm.js'
import { siteHere } from './sites.js'
import { MDL_FLAGS, MDL_MAX_BYTES, MM_ALLOCATE_FLAGS } from './wdm.js'

export interface PagesForMdlRequest {
  readonly lowAddress: number
  readonly highAddress: number
  readonly skipBytes: number
  readonly totalBytes: number
  readonly cache: CacheType
  /** MM_ALLOCATE_* flags (MmAllocatePagesForMdlEx); 0 for MmAllocatePagesForMdl. */
  readonly flags: number
  readonly site?: CallSite
  readonly driver?: boolean
  /** The fault policy said `partial`: hand back half the pages (a short MDL) at most. */
  readonly partial?: boolean
}

/** Live MmAllocatePagesForMdl allocations, for the unload check. */
export interface PagesForMdl {
  readonly mdl: MDL
  readonly pfns: readonly number[]
  readonly owner: FrameOwner
  readonly site: CallSite | undefined
  readonly driver: boolean
}

export class MdlPages {
  private readonly kernel: Kernel
  private readonly mdls: MdlService
  private readonly live = new Map<MDL, PagesForMdl>()

  constructor(kernel: Kernel, mdls: MdlService) {
    this.kernel = kernel
    this.mdls = mdls
  }

  get allocations(): IterableIterator<PagesForMdl> {
    return this.live.values()
  }

  /** An MDL describing the pages, or null when none could be had (see the file comment). */
  allocate(request: PagesForMdlRequest): MDL | null {
    if (!this.validRange(request)) return null
    const frames = this.kernel.frames
    const asked = Math.ceil(Math.min(request.totalBytes, MDL_MAX_BYTES) / PAGE_SIZE)
    let want = request.partial === true ? Math.floor(asked / 2) : asked
    const fully = (request.flags & MM_ALLOCATE_FLAGS.MM_ALLOCATE_FULLY_REQUIRED) !== 0
    if (want === 0 || (fully && want < asked)) return null
    want = Math.min(want, frames.freeFrames)
    const driver = request.driver ?? true
    const owner = frames.newOwner('mdl-pages', `pages for an MDL (${formatBytes(asked * PAGE_SIZE)} asked)`, driver)
    const pfns: number[] = []
    const top = frames.topFrame * PAGE_SIZE
    const skip = request.skipBytes
    for (let k = 0; pfns.length < want; k++) {
      const low = request.lowAddress + k * skip
      if (low >= top || (k > 0 && skip <= 0)) break
      const got = this.kernel.mm.allocateFrames(want - pfns.length, { kind: 'mdl-pages', label: owner.label, lowest: low, highest: request.highAddress + k * skip, partial: true }, owner)
      if (got !== null) for (const pfn of got.pfns) pfns.push(pfn)
    }
    if (pfns.length === 0 || (fully && pfns.length < asked)) {
      this.kernel.mm.freeFrames(pfns)
      return null
    }
    // MM_DONT_ZERO_ALLOCATION: the pages keep whatever they held (zero if never written).
    const zero = (request.flags & MM_ALLOCATE_FLAGS.MM_DONT_ZERO_ALLOCATION) === 0
    this.kernel.mm.fillFrames(pfns, zero ? 'zero' : 'keep')
    const mdl = this.mdls.newMdl(pfns.length, 'pages', request.site, driver, pfns.length * PAGE_SIZE)
    if (mdl === null) {
      this.kernel.mm.freeFrames(pfns)
      return null
    }
    pfns.forEach((pfn, i) => (mdl.PfnArray[i] = pfn))
    this.mdls.stateOf(mdl)!.pfns = pfns.slice()
    mdl.ByteCount = pfns.length * PAGE_SIZE
    mdl.MdlFlags = MDL_FLAGS.MDL_PAGES_LOCKED
    this.mdls.stateOf(mdl)!.cache = request.cache
    this.live.set(mdl, { mdl, pfns, owner, site: request.site, driver })
    return mdl
  }

  /**
   * LowAddress and SkipBytes are physical byte counts, SkipBytes a multiple of PAGE_SIZE
   * (Microsoft's documentation); HighAddress any number but NaN. Anything else would make the
   * retry loop slide by a fraction of a page, or never end (NaN compares false both ways): a
   * finding, and NULL.
   */
  private validRange(r: PagesForMdlRequest): boolean {
    const low = r.lowAddress
    const skip = r.skipBytes
    if (Number.isSafeInteger(low) && low >= 0 && Number.isSafeInteger(skip) && skip >= 0 && skip % PAGE_SIZE === 0 && typeof r.highAddress === 'number' && !Number.isNaN(r.highAddress)) return true
    const site = siteHere()
    this.kernel.log.violation({
      kind: 'mdl-misuse',
      code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
      params: [BAD_MEMORY_ROUTINE_PARAMETERS, 0, 0, 0],
      message: `MmAllocatePagesForMdl with LowAddress ${hex(low)}, HighAddress ${hex(r.highAddress)}, SkipBytes ${hex(skip)}: the addresses must be physical addresses and SkipBytes a multiple of PAGE_SIZE`,
      ...(site === undefined ? {} : { site }),
    })
    return false
  }

  /**
   * MmFreePagesFromMdl: gives the pages back (the MDL itself is then freed with ExFreePool).
   * A mapping still in place is unmapped and reported, as the documentation requires the
   * caller to unmap first; an MDL whose pages were already freed is a double free.
   */
  free(mdl: MDL, routine = 'MmFreePagesFromMdl'): void {
    const state = this.mdls.require(mdl, routine)
    const pages = this.live.get(mdl)
    if (pages === undefined) {
      const site = siteHere()
      this.kernel.log.fatal({
        kind: state.origin === 'pages' ? 'pool-double-free' : 'pool-bad-free',
        code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        params: [BAD_MEMORY_ROUTINE_PARAMETERS, 0, state.address, 0],
        message: state.origin === 'pages'
          ? `${routine} on the MDL at ${hex(state.address)} whose pages were already freed`
          : `${routine} on an MDL from IoAllocateMdl: only MmAllocatePagesForMdl[Ex] MDLs own their pages`,
        ...(site === undefined ? {} : { site }),
        details: { mdl: state.address },
      })
    }
    if (state.mapping !== null) {
      this.mdls.misuse(mdl, [0xb8, state.address, mdl.MdlFlags, 0], `${routine} of pages still mapped at ${hex(mdl.MappedSystemVa)}: unmap them (MmUnmapLockedPages) first`)
      this.mdls.dropMapping(mdl, state)
    }
    this.live.delete(mdl)
    state.pagesLive = false
    this.kernel.mm.freeFrames(pages.pfns)
    mdl.MdlFlags &= ~MDL_FLAGS.MDL_PAGES_LOCKED
  }
}
