// Memory descriptor lists: the pages behind a virtually contiguous buffer (wdm.h MDL).
//
// An MDL is an object with the WDK field names; its PFN array (MmGetMdlPfnArray) is
// `PfnArray`. Its storage is a real nonpaged pool block tagged 'Mdl ' of sizeof(MDL) plus
// a PFN_NUMBER per page, as IoAllocateMdl and MmAllocatePagesForMdl take it, so an MDL the
// driver never frees is a pool leak with the allocating line, and ExFreePool(mdl) works as
// the documentation of MmAllocatePagesForMdl requires. The MDL's fields themselves live in the
// object, not in those bytes.
//
// MDL protocol errors are `mdl-misuse` violations with Driver Verifier's 0xC4 parameters
// (0x7C, 0x7D, 0x7F, 0x82, 0xB0, 0xB2, 0xB3, 0xB8).
import { PAGE_SIZE, hex, pageOffset, pagesSpanned, type VirtualAddress, asVirtual } from '../hw/address.js'
import type { BugCheckParams } from '../hw/finding.js'
import { PTE } from './address-space.js'
import { BUGCHECK } from './bugcheck.js'
import type { CallSite } from './calls.js'
import type { Kernel } from './kernel.js'
import type { CacheType } from './mm.js'
import { freeSite, pageNote } from './page-notes.js'
import type { PoolBlock } from './pool.js'
import { siteHere } from './sites.js'
import { tagValue } from './tags.js'
import { LOCK_OPERATION, MDL_FLAGS, MDL_HEADER_BYTES, MDL_HEADER_BYTES_X86, MDL_MAX_BYTES, MM_PAGE_PRIORITY, NTSTATUS, NtStatusError, POOL_TYPE } from './wdm.js'

/** An MDL as a driver sees it (wdm.h field names). */
export interface MDL {
  Next: MDL | null
  /** sizeof(MDL) + sizeof(PFN_NUMBER) × pages. */
  Size: number
  MdlFlags: number
  /** The owning process (0: system space; dmalab has no user processes). */
  Process: number
  MappedSystemVa: number
  /** Page-aligned virtual address of the first page (0 for MmAllocatePagesForMdl). */
  StartVa: number
  ByteCount: number
  ByteOffset: number
  /** The physical frame numbers of the pages (MmGetMdlPfnArray); -1 until built or locked. */
  readonly PfnArray: number[]
}

/**
 * The most links a walk of one MDL, NET_BUFFER or NET_BUFFER_LIST chain follows. A driver can
 * make any of them loop back on itself (the `Next` fields are its to write): Windows would walk
 * such a chain forever; dmalab reports the driver's chain instead of hanging the host.
 */
export const CHAIN_LIMIT = 4096

/** The pool tag of MDL storage: "Mdl " in a dump (pooltag.txt: "Mdl  - nt!io - Io, Mdls"). */
export const MDL_TAG = tagValue(' ldM')

/** Kernel-side state of an MDL (kept off the object, which has WDK fields only). */
export interface MdlState {
  /** VA of the pool block holding the MDL. */
  readonly address: number
  readonly origin: 'io' | 'pages'
  readonly site: CallSite | undefined
  /** A system-VA mapping made by MmMapLockedPages* or into a reserved mapping address. */
  mapping: { readonly va: number; readonly pages: number; readonly reserved: boolean } | null
  /** Cache type MmAllocatePagesForMdlEx asked for, used when the pages are mapped. */
  cache: CacheType
  /** MmAllocatePagesForMdl pages still allocated (cleared by MmFreePagesFromMdl). */
  pagesLive: boolean
  readonly pagesBytes: number
  /** The PFNs Mm itself wrote into the MDL (build, lock, allocate): what a mapping may map. */
  pfns: readonly number[] | null
}

/** Parameter 1 of 0xC4 for "invalid parameters to a memory routine" (bug check 0xC4: 0x16). */
export const BAD_MEMORY_ROUTINE_PARAMETERS = 0x16

export class MdlService {
  private readonly kernel: Kernel
  private readonly states = new WeakMap<MDL, MdlState>()
  /** Live MDLs by the VA of their storage (leak listings, ExFreePool of an MDL). */
  private readonly byAddress = new Map<number, MDL>()

  constructor(kernel: Kernel) {
    this.kernel = kernel
    kernel.pool.onFree((block) => this.poolFreed(block))
  }

  stateOf(mdl: MDL): MdlState | undefined {
    return this.states.get(mdl)
  }

  /** The MDL stored at a pool address (what ExFreePool receives for it). */
  atAddress(va: number): MDL | undefined {
    return this.byAddress.get(va)
  }

  get live(): IterableIterator<MDL> {
    return this.byAddress.values()
  }

  /**
   * IoAllocateMdl's work: an MDL for [va, va + length), PFNs not yet filled. Null when its
   * storage cannot be allocated or `length` is beyond what an MDL describes.
   */
  create(va: number, length: number, options: { site?: CallSite; driver?: boolean } = {}): MDL | null {
    if (!(length >= 0) || length > MDL_MAX_BYTES) return null
    const pages = pagesSpanned(va, length)
    const mdl = this.newMdl(pages, 'io', options.site, options.driver ?? true, 0)
    if (mdl === null) return null
    mdl.StartVa = va - pageOffset(va)
    mdl.ByteOffset = pageOffset(va)
    mdl.ByteCount = length
    mdl.MdlFlags = MDL_FLAGS.MDL_ALLOCATED_FIXED_SIZE
    return mdl
  }

  /** Storage and state for an MDL of `pages` pages. */
  newMdl(pages: number, origin: MdlState['origin'], site: CallSite | undefined, driver: boolean, pagesBytes: number): MDL | null {
    // sizeof(MDL) and sizeof(PFN_NUMBER) are pointer-sized per field: 0x30 and 8 on x64, 0x1C
    // and 4 on x86 ("MDL structure"; wdm.h PFN_NUMBER is a ULONG_PTR).
    const x86 = this.kernel.space.arch.pointerBytes === 4
    const size = (x86 ? MDL_HEADER_BYTES_X86 : MDL_HEADER_BYTES) + (x86 ? 4 : 8) * pages
    const address = this.kernel.pool.allocate(POOL_TYPE.NonPagedPool, size, MDL_TAG, site === undefined ? { driver } : { site, driver })
    if (address === 0) return null
    const mdl: MDL = {
      Next: null, Size: size, MdlFlags: 0, Process: 0, MappedSystemVa: 0, StartVa: 0, ByteCount: 0, ByteOffset: 0,
      PfnArray: new Array<number>(pages).fill(-1),
    }
    this.states.set(mdl, { address, origin, site, mapping: null, cache: 'cached', pagesLive: origin === 'pages', pagesBytes, pfns: null })
    this.byAddress.set(address, mdl)
    return mdl
  }

  /** IoFreeMdl: the MDL must not still be mapped by MmMapLockedPages (0xC4/0xB8). */
  free(mdl: MDL, routine = 'IoFreeMdl'): void {
    const state = this.require(mdl, routine)
    if (state.mapping !== null && !state.mapping.reserved) {
      this.misuse(mdl, [0xb8, state.address, mdl.MdlFlags, 0], `${routine} of an MDL whose pages are still mapped at ${hex(mdl.MappedSystemVa)}: call MmUnmapLockedPages first`)
      this.dropMapping(mdl, state)
    }
    this.kernel.pool.free(state.address, { routine })
  }

  /** MmBuildMdlForNonPagedPool: PFNs from the page tables; paged memory is 0xC4/0x7F. */
  buildForNonPagedPool(mdl: MDL, routine = 'MmBuildMdlForNonPagedPool'): void {
    const state = this.require(mdl, routine)
    const space = this.kernel.space
    let pagedSeen = false
    for (let i = 0; i < mdl.PfnArray.length; i++) {
      const page = mdl.StartVa + i * PAGE_SIZE
      const pte = space.pteAt(page)
      // Not present: the build touches the page as Windows does, so the accessor raises the fault.
      if ((pte & PTE.VALID) === 0) this.kernel.memory.read8(i === 0 ? page + mdl.ByteOffset : page)
      if ((pte & PTE.PAGED) !== 0) pagedSeen = true
      mdl.PfnArray[i] = space.translate(page) / PAGE_SIZE
    }
    if (pagedSeen) {
      this.misuse(mdl, [0x7f, this.kernel.irql, state.address, mdl.MdlFlags], `${routine} on an MDL that describes paged memory: only nonpaged memory may be described this way (lock pageable memory with MmProbeAndLockPages)`)
    }
    mdl.MappedSystemVa = mdl.StartVa + mdl.ByteOffset
    mdl.MdlFlags |= MDL_FLAGS.MDL_SOURCE_IS_NONPAGED_POOL
    state.pfns = mdl.PfnArray.slice()
  }

  /**
   * MmProbeAndLockPages: every page must be present (and writable for a write), else it
   * raises STATUS_ACCESS_VIOLATION; an MDL built for nonpaged pool must not be locked (0xB0).
   */
  probeAndLock(mdl: MDL, operation: number, routine = 'MmProbeAndLockPages'): void {
    const state = this.require(mdl, routine)
    if ((mdl.MdlFlags & (MDL_FLAGS.MDL_SOURCE_IS_NONPAGED_POOL | MDL_FLAGS.MDL_PAGES_LOCKED)) !== 0) {
      this.misuse(mdl, [0xb0, state.address, mdl.MdlFlags, mdl.MdlFlags & (MDL_FLAGS.MDL_SOURCE_IS_NONPAGED_POOL | MDL_FLAGS.MDL_PAGES_LOCKED)], `${routine} on an MDL that is already locked or was built by MmBuildMdlForNonPagedPool`)
      return
    }
    const write = operation !== LOCK_OPERATION.IoReadAccess
    const space = this.kernel.space
    const pfns: number[] = []
    for (let i = 0; i < mdl.PfnArray.length; i++) {
      const page = mdl.StartVa + i * PAGE_SIZE
      const pte = space.pteAt(page)
      if ((pte & PTE.VALID) === 0 || (write && (pte & PTE.WRITE) === 0)) {
        throw new NtStatusError(routine, NTSTATUS.STATUS_ACCESS_VIOLATION, `${space.describeFault(page)}; probe inside __try/__except`)
      }
      pfns.push(space.translate(page) / PAGE_SIZE)
    }
    pfns.forEach((pfn, i) => (mdl.PfnArray[i] = pfn))
    state.pfns = pfns
    mdl.MdlFlags |= MDL_FLAGS.MDL_PAGES_LOCKED | (write ? MDL_FLAGS.MDL_WRITE_OPERATION : 0)
  }

  /**
   * Before a mapping: every PFN the MDL lists must be one Mm put there (MmBuildMdlForNonPagedPool,
   * MmProbeAndLockPages, MmAllocatePagesForMdl). A PFN the driver wrote itself names a page
   * that is not locked for it, maybe not even RAM: Windows stops with MEMORY_MANAGEMENT
   * (bug check 0x1A) parameter 1 = 0x1236, "the caller specified an MDL that contains an
   * unlocked (or invalid) physical page" (p2 the MDL, p3 where the PFN is, p4 the PFN). In log
   * mode the finding is recorded and the mapping refused (NULL). False when refused.
   */
  pfnsFromMm(mdl: MDL, pages: number, routine: string): boolean {
    const state = this.require(mdl, routine)
    const listed = mdl.PfnArray
    for (let i = 0; i < pages; i++) {
      const pfn: unknown = Array.isArray(listed) ? listed[i] : undefined
      if (state.pfns !== null && pfn === state.pfns[i]) continue
      // Never built or locked: the unlocked-MDL finding (0xC4/0xB3) has said so already.
      if (state.pfns === null && pfn === -1) return false
      const site = siteHere()
      const shown = typeof pfn === 'number' ? hex(pfn) : String(typeof pfn)
      this.kernel.log.violation({
        kind: 'mdl-misuse',
        code: BUGCHECK.MEMORY_MANAGEMENT,
        params: [0x1236, state.address, state.address + MDL_HEADER_BYTES + 8 * i, typeof pfn === 'number' && Number.isSafeInteger(pfn) ? pfn : 0],
        message: `${routine} of an MDL whose PFN ${i} (${shown}) is not a page Mm locked or allocated for it (MmBuildMdlForNonPagedPool, MmProbeAndLockPages or MmAllocatePagesForMdl fill the PFN array; a driver must not write it): Windows stops with MEMORY_MANAGEMENT; the mapping is refused`,
        ...(site === undefined ? {} : { site }),
        details: { mdl: state.address, index: i, pfn: typeof pfn === 'number' ? pfn : null },
      })
      return false
    }
    return true
  }

  /** True when any page the MDL describes is pageable (MmProbeAndLockPages is then <= APC_LEVEL). */
  describesPageable(mdl: MDL): boolean {
    for (let i = 0; i < mdl.PfnArray.length; i++) {
      if ((this.kernel.space.pteAt(mdl.StartVa + i * PAGE_SIZE) & PTE.PAGED) !== 0) return true
    }
    return false
  }

  /** MmUnlockPages: 0x7C when never locked, 0x7D for nonpaged pool; unmaps a system mapping. */
  unlock(mdl: MDL, routine = 'MmUnlockPages'): void {
    const state = this.require(mdl, routine)
    if ((mdl.MdlFlags & MDL_FLAGS.MDL_SOURCE_IS_NONPAGED_POOL) !== 0) {
      this.misuse(mdl, [0x7d, state.address, mdl.MdlFlags, 0], `${routine} on an MDL built by MmBuildMdlForNonPagedPool: nonpaged pages are never unlocked`)
      return
    }
    if ((mdl.MdlFlags & MDL_FLAGS.MDL_PAGES_LOCKED) === 0) {
      this.misuse(mdl, [0x7c, state.address, mdl.MdlFlags, 0], `${routine} on an MDL whose pages were never locked`)
      return
    }
    if (state.mapping !== null && !state.mapping.reserved) this.dropMapping(mdl, state)
    mdl.MdlFlags &= ~(MDL_FLAGS.MDL_PAGES_LOCKED | MDL_FLAGS.MDL_WRITE_OPERATION)
  }

  /**
   * MmMapLockedPagesSpecifyCache (kernel mode): maps the MDL's pages at a fresh system VA and
   * returns the VA of its first byte, 0 when the MDL has no pages to map.
   */
  mapLocked(mdl: MDL, cache: CacheType, priority: number, routine: string): VirtualAddress {
    const state = this.require(mdl, routine)
    if ((mdl.MdlFlags & MDL_FLAGS.MDL_SOURCE_IS_NONPAGED_POOL) !== 0) return asVirtual(mdl.MappedSystemVa)
    if (state.mapping !== null) {
      this.misuse(mdl, [0xb2, state.address, mdl.MdlFlags, MDL_FLAGS.MDL_MAPPED_TO_SYSTEM_VA], `${routine} on an MDL that is already mapped at ${hex(mdl.MappedSystemVa)}`)
      return asVirtual(mdl.MappedSystemVa)
    }
    // A partial MDL (IoBuildPartialMdl) maps pages its source has locked.
    if ((mdl.MdlFlags & (MDL_FLAGS.MDL_PAGES_LOCKED | MDL_FLAGS.MDL_PARTIAL)) === 0) {
      this.misuse(mdl, [0xb3, state.address, mdl.MdlFlags, MDL_FLAGS.MDL_PAGES_LOCKED], `${routine} on an MDL whose pages are not locked (MmProbeAndLockPages first)`)
    }
    const pages = pagesSpanned(mdl.ByteOffset, mdl.ByteCount)
    if (pages === 0 || !this.pfnsFromMm(mdl, pages, routine)) return asVirtual(0)
    const pfns = mdl.PfnArray.slice(0, pages)
    const writable = (priority & MM_PAGE_PRIORITY.MdlMappingNoWrite) === 0
    const va = this.kernel.mm.mapFrames(pfns, { cache, writable })
    state.mapping = { va, pages, reserved: false }
    mdl.MappedSystemVa = va + mdl.ByteOffset
    mdl.MdlFlags |= MDL_FLAGS.MDL_MAPPED_TO_SYSTEM_VA
    return asVirtual(mdl.MappedSystemVa)
  }

  /** MmUnmapLockedPages: `baseAddress` must be what the mapping returned. */
  unmapLocked(baseAddress: number, mdl: MDL, routine = 'MmUnmapLockedPages'): void {
    const state = this.require(mdl, routine)
    if (state.mapping === null || state.mapping.reserved || baseAddress !== mdl.MappedSystemVa) {
      this.misuse(mdl, [BAD_MEMORY_ROUTINE_PARAMETERS, 0, baseAddress, 0], `${routine} of ${hex(baseAddress)}: the MDL is not mapped there by MmMapLockedPages[SpecifyCache]`)
      return
    }
    this.dropMapping(mdl, state)
  }

  /** Removes a system mapping (its PTEs become FREED, so a late access faults). */
  dropMapping(mdl: MDL, state: MdlState): void {
    const m = state.mapping
    if (m === null) return
    this.kernel.mm.unmap(m.va, m.pages, pageNote(`an MDL's system mapping, unmapped (${mdl.ByteCount} bytes)`, state.site, freeSite(this.kernel)))
    state.mapping = null
    mdl.MdlFlags &= ~MDL_FLAGS.MDL_MAPPED_TO_SYSTEM_VA
  }

  /** The state of an MDL this kernel made; anything else is not an MDL (a TypeError to the driver). */
  require(mdl: MDL, routine: string): MdlState {
    const state = this.states.get(mdl)
    if (state === undefined) throw new TypeError(`${routine}: the argument is not an MDL this system allocated (IoAllocateMdl, MmAllocatePagesForMdl)`)
    return state
  }

  misuse(mdl: MDL, params: BugCheckParams, message: string): void {
    const site = siteHere()
    this.kernel.log.violation({
      kind: 'mdl-misuse',
      code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
      params,
      message,
      ...(site === undefined ? {} : { site }),
      details: { mdl: this.states.get(mdl)?.address ?? 0, flags: mdl.MdlFlags },
    })
  }

  /** The pool block holding an MDL was freed (IoFreeMdl or ExFreePool): forget the MDL. */
  private poolFreed(block: PoolBlock): void {
    const mdl = this.byAddress.get(block.va)
    if (mdl === undefined) return
    this.byAddress.delete(block.va)
    const state = this.states.get(mdl)
    if (state?.mapping !== null && state?.mapping.reserved === false) this.dropMapping(mdl, state)
  }
}
