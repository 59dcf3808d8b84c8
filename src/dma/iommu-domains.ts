// IOMMU domain programming, the OS's half of DMA remapping (DESIGN "Layers"): one domain per
// requester, its translation tables built in emulated RAM from frames the kernel's PFN
// database hands out (kind 'iommu-table'), and the invalidations that make a change visible
// to the hardware. The hardware (hw/iommu) only walks what is built here.
//
// The HAL DMA layer maps common buffers and S/G lists through this; `m.iommu` is the
// machine's facade over it. Intermediate tables are kept for the domain's lifetime, so an
// unmap needs only a page-selective invalidation of the leaf translations.
import { PAGE_MASK, PAGE_SIZE, TWO_POW_32, asPhysical, hex, pagesSpanned, type LogicalAddress, type PhysicalAddress } from '../hw/address.js'
import type { Iommu } from '../hw/iommu/iommu.js'
import {
  ADDRESS_WIDTH_BITS, AW_48_BIT_4_LEVEL, CONTEXT_DID_SHIFT, CONTEXT_ENTRY, CONTEXT_PRESENT, CONTEXT_TT_SHIFT, ROOT_ENTRY,
  ROOT_PRESENT, SL_ENTRY, SL_READ, SL_WRITE, TT_TRANSLATE, levelIndex,
} from '../hw/iommu/formats.js'
import type { PhysicalMemory } from '../hw/memory.js'
import type { FrameDatabase, FrameOwner } from '../kernel/frames.js'

export interface IommuAccess {
  readonly read: boolean
  readonly write: boolean
}

export interface UnmapOptions {
  /** Invalidate the IOTLB for the unmapped pages (default true). False leaves stale entries. */
  readonly invalidate?: boolean
}

interface Domain {
  readonly id: number
  readonly requester: number
  /** Physical address of the top-level (level 4) table. */
  readonly top: number
  mappedPages: number
  /**
   * Leaf (level 1) table addresses by 2 MiB region of IOVA space: the software's own index of
   * the tables it built, so a map or unmap does not walk three levels of RAM per page. Tables
   * are never freed while the domain lives, so an entry never goes stale.
   */
  readonly leaves: Map<number, number>
}

const ADDRESS_LIMIT = 2 ** ADDRESS_WIDTH_BITS
const PAGES_PER_HIGH_WORD = TWO_POW_32 / PAGE_SIZE

export class IommuDomains {
  readonly owner: FrameOwner
  /** Frames holding root, context and page tables. */
  tableFrames = 0
  private readonly frames: FrameDatabase
  private readonly ram: PhysicalMemory
  private readonly iommu: Iommu
  private root = -1
  private readonly contextTables = new Map<number, number>()
  private readonly domains = new Map<number, Domain>()
  private nextDomainId = 1

  constructor(frames: FrameDatabase, ram: PhysicalMemory, iommu: Iommu) {
    this.frames = frames
    this.ram = ram
    this.iommu = iommu
    this.owner = frames.newOwner('iommu-table', 'IOMMU translation tables', false)
  }

  /** True when the hardware translates device addresses (GCMD.TE). */
  get translationEnabled(): boolean {
    return this.iommu.translationEnabled
  }

  /** Builds the root table if needed, points the hardware at it and turns translation on. */
  enable(): boolean {
    if (!this.ensureRoot()) return false
    this.iommu.setRootTable(this.root)
    this.iommu.invalidateContextCache()
    this.iommu.invalidateIotlb()
    this.iommu.enableTranslation(true)
    return true
  }

  disable(): void {
    this.iommu.enableTranslation(false)
  }

  /** The domain id of a requester, if it has one. */
  domainId(requester: number): number | undefined {
    return this.domains.get(requester)?.id
  }

  mappedPages(requester: number): number {
    return this.domains.get(requester)?.mappedPages ?? 0
  }

  /** Gives a requester its own domain: a context entry pointing at an empty top-level table. */
  attach(requester: number): boolean {
    return this.domainFor(requester) !== null
  }

  /**
   * Maps the pages covering [iova, iova + length) to the pages at `pa`. The page offsets of
   * `iova` and `pa` must agree. A page already mapped is replaced and its stale translation
   * invalidated. Returns false (mapping nothing) when no frame is left for a table.
   */
  map(requester: number, iova: LogicalAddress, pa: PhysicalAddress, length: number, access: IommuAccess): boolean {
    checkRange('map', iova, length)
    if (!Number.isSafeInteger(pa) || pa < 0) throw new RangeError(`IOMMU map: physical address ${pa} is not an address`)
    if ((iova & PAGE_MASK) !== (pa & PAGE_MASK)) {
      throw new RangeError(`IOMMU map: ${hex(iova)} and ${hex(pa)} are at different offsets within their pages`)
    }
    const bits = (access.read ? SL_READ : 0) | (access.write ? SL_WRITE : 0)
    if (bits === 0) throw new RangeError('IOMMU map: a mapping must allow read, write or both')
    const domain = this.domainFor(requester)
    if (domain === null) return false
    const first = Math.floor(iova / PAGE_SIZE)
    const frame = Math.floor(pa / PAGE_SIZE)
    const count = pagesSpanned(iova, length)
    // Create every leaf table first, so running out of frames maps nothing.
    for (let p = 0; p < count; p++) if (this.leafTable(domain, first + p, true) < 0) return false
    for (let p = 0; p < count; p++) {
      const at = this.leafTable(domain, first + p, true) + levelIndex(first + p, 1) * SL_ENTRY.span
      const wasPresent = (this.ram.read32(at) & (SL_READ | SL_WRITE)) !== 0
      const target = frame + p
      this.ram.write32(at + SL_ENTRY.offset.high, Math.floor(target / PAGES_PER_HIGH_WORD))
      this.ram.write32(at + SL_ENTRY.offset.low, (((target % PAGES_PER_HIGH_WORD) * PAGE_SIZE) | bits) >>> 0)
      if (wasPresent) this.iommu.invalidatePages(domain.id, (first + p) * PAGE_SIZE, 1)
      else domain.mappedPages++
    }
    return true
  }

  /**
   * Unmaps the pages covering [iova, iova + length) and, unless told not to, invalidates their
   * IOTLB entries. Returns how many pages were mapped before.
   */
  unmap(requester: number, iova: LogicalAddress, length: number, options: UnmapOptions = {}): number {
    checkRange('unmap', iova, length)
    const domain = this.domains.get(requester)
    if (domain === undefined) return 0
    const first = Math.floor(iova / PAGE_SIZE)
    const count = pagesSpanned(iova, length)
    let cleared = 0
    for (let p = 0; p < count; p++) {
      const leaf = this.leafTable(domain, first + p, false)
      if (leaf < 0) continue
      const at = leaf + levelIndex(first + p, 1) * SL_ENTRY.span
      if ((this.ram.read32(at) & (SL_READ | SL_WRITE)) === 0) continue
      this.ram.write32(at + SL_ENTRY.offset.low, 0)
      this.ram.write32(at + SL_ENTRY.offset.high, 0)
      cleared++
    }
    domain.mappedPages -= cleared
    if (options.invalidate ?? true) this.iommu.invalidatePages(domain.id, first * PAGE_SIZE, count)
    return cleared
  }

  /** Flushes the IOTLB: everything, or one requester's domain. */
  invalidate(requester?: number): void {
    if (requester === undefined) {
      this.iommu.invalidateIotlb()
      return
    }
    const domain = this.domains.get(requester)
    if (domain !== undefined) this.iommu.invalidateIotlb(domain.id)
  }

  /** What the tables (not the caches) say `iova` translates to: a physical address, or -1. */
  lookup(requester: number, iova: LogicalAddress, access: 'read' | 'write' = 'read'): PhysicalAddress | -1 {
    const domain = this.domains.get(requester)
    if (domain === undefined || !(iova >= 0 && iova < ADDRESS_LIMIT)) return -1
    const page = Math.floor(iova / PAGE_SIZE)
    const leaf = this.leafTable(domain, page, false)
    if (leaf < 0) return -1
    const at = leaf + levelIndex(page, 1) * SL_ENTRY.span
    const lo = this.ram.read32(at)
    if ((lo & (access === 'write' ? SL_WRITE : SL_READ)) === 0) return -1
    const frame = this.ram.read32(at + SL_ENTRY.offset.high) * PAGES_PER_HIGH_WORD + (lo >>> 12)
    return asPhysical(frame * PAGE_SIZE + (iova & PAGE_MASK))
  }

  // ---- table construction ----------------------------------------------------------------------

  private newTable(): number {
    const pfn = this.frames.allocate(this.owner)
    if (pfn < 0) return -1
    const pa = pfn * PAGE_SIZE
    // Frames are handed out as they were left; a table must start with every entry not present.
    this.ram.fill(pa, PAGE_SIZE, 0)
    this.tableFrames++
    return pa
  }

  private ensureRoot(): boolean {
    if (this.root >= 0) return true
    this.root = this.newTable()
    return this.root >= 0
  }

  private domainFor(requester: number): Domain | null {
    const existing = this.domains.get(requester)
    if (existing !== undefined) return existing
    if (!this.ensureRoot()) return null
    const bus = (requester >>> 8) & 0xff
    let contextTable = this.contextTables.get(bus)
    if (contextTable === undefined) {
      const table = this.newTable()
      if (table < 0) return null
      contextTable = table
      this.contextTables.set(bus, table)
      writeEntry(this.ram, this.root + bus * ROOT_ENTRY.span + ROOT_ENTRY.offset.low, table, ROOT_PRESENT)
    }
    const top = this.newTable()
    if (top < 0) return null
    const domain: Domain = { id: this.nextDomainId++, requester, top, mappedPages: 0, leaves: new Map() }
    const at = contextTable + (requester & 0xff) * CONTEXT_ENTRY.span
    this.ram.write32(at + CONTEXT_ENTRY.offset.widthAndDomain, (AW_48_BIT_4_LEVEL | (domain.id << CONTEXT_DID_SHIFT)) >>> 0)
    writeEntry(this.ram, at + CONTEXT_ENTRY.offset.low, top, CONTEXT_PRESENT | (TT_TRANSLATE << CONTEXT_TT_SHIFT))
    this.domains.set(requester, domain)
    // A context entry changed: drop anything the hardware cached for this device.
    this.iommu.invalidateContextCache(requester)
    return domain
  }

  /** The leaf (level 1) table for `page`, creating missing levels when asked; -1 if absent or out of frames. */
  private leafTable(domain: Domain, page: number, create: boolean): number {
    const region = Math.floor(page / 512)
    const known = domain.leaves.get(region)
    if (known !== undefined) return known
    const leaf = this.walkToLeaf(domain, page, create)
    if (leaf >= 0) domain.leaves.set(region, leaf)
    return leaf
  }

  private walkToLeaf(domain: Domain, page: number, create: boolean): number {
    let table = domain.top
    for (let level = 4; level >= 2; level--) {
      const at = table + levelIndex(page, level) * SL_ENTRY.span
      const lo = this.ram.read32(at)
      if ((lo & (SL_READ | SL_WRITE)) !== 0) {
        table = this.ram.read32(at + SL_ENTRY.offset.high) * TWO_POW_32 + ((lo & ~PAGE_MASK) >>> 0)
        continue
      }
      if (!create) return -1
      const next = this.newTable()
      if (next < 0) return -1
      // Non-leaf entries allow both; the leaf entry decides.
      writeEntry(this.ram, at, next, SL_READ | SL_WRITE)
      table = next
    }
    return table
  }
}

/** Writes a 64-bit entry holding a 4 KiB-aligned address and flag bits, high half first. */
function writeEntry(ram: PhysicalMemory, at: number, address: number, flags: number): void {
  ram.write32(at + 4, Math.floor(address / TWO_POW_32))
  ram.write32(at, ((address % TWO_POW_32) | flags) >>> 0)
}

function checkRange(what: string, iova: number, length: number): void {
  if (!Number.isSafeInteger(iova) || iova < 0) throw new RangeError(`IOMMU ${what}: device address ${iova} is not an address`)
  if (!Number.isSafeInteger(length) || length <= 0) throw new RangeError(`IOMMU ${what}: length ${length} must be a positive whole number`)
  if (iova + length > ADDRESS_LIMIT) throw new RangeError(`IOMMU ${what}: ${hex(iova)} + ${length} is beyond the 48-bit address width`)
}
