// The IOMMU: a VT-d-style DMA-remapping unit doing second-level translation. It only walks
// tables that the OS built in emulated RAM (DESIGN "Layers"): root table (256 entries, by bus)
// → context table (256, by device.function) → 4-level page tables of 4 KiB pages. Results are
// cached (context cache, a paging-structure cache for the leaf tables, the IOTLB of
// `iotlbEntries`, and the current requester's two most recent translations, which are copies of
// IOTLB entries) and stay cached until the OS invalidates them, as on real hardware: an entry
// displaced from the IOTLB may be gone, an entry not invalidated may not. Faults are recorded (requester,
// address, read/write, VT-d reason) and reported as `iommu-fault` findings; the caller turns a
// fault into all-ones for a read and a dropped write.
//
// The OS programs it through the same operations VT-d exposes as registers: RTADDR_REG +
// GCMD.SRTP (setRootTable), GCMD.TE (enableTranslation), CCMD_REG (invalidateContextCache),
// IOTLB_REG global / domain-selective (invalidateIotlb) and page-selective (invalidatePages).
import { PAGE_MASK as ADDRESS_PAGE_MASK, PAGE_SIZE as ADDRESS_PAGE_SIZE, TWO_POW_32, hex } from '../address.js'
import type { FindingSink } from '../finding.js'
import type { PhysicalMemory } from '../memory.js'
import { formatBdf } from '../pci.js'
import { TranslationCache } from './cache.js'
import {
  ADDRESS_WIDTH_BITS, AW_48_BIT_4_LEVEL, CONTEXT_AW_MASK, CONTEXT_DID_MASK, CONTEXT_DID_SHIFT, CONTEXT_ENTRY, CONTEXT_FPD,
  CONTEXT_PRESENT, CONTEXT_RESERVED_LOW, CONTEXT_RESERVED_WIDTH_WORD, CONTEXT_TT_MASK, CONTEXT_TT_SHIFT, FAULT_REASON,
  ROOT_ENTRY, ROOT_PRESENT, ROOT_RESERVED_LOW, SL_ENTRY, SL_PAGE_SIZE, SL_READ as FORMAT_SL_READ, SL_WRITE as FORMAT_SL_WRITE, TT_PASS_THROUGH, TT_TRANSLATE,
  TT_DEVICE_TLB, faultReasonText, levelIndex,
} from './formats.js'

export type DmaAccessKind = 'read' | 'write'

/** One fault record, with exactly the fields DESIGN's public API lists. */
export interface IommuFault {
  readonly requester: string
  /** The device address (IOVA) that faulted, in bytes. */
  readonly address: number
  readonly access: DmaAccessKind
  /** VT-d fault reason code (formats.ts FAULT_REASON). */
  readonly reason: number
  readonly reasonText: string
}

/** Fault records kept; VT-d's fault recording registers overflow too (FSTS.PFO). */
export const FAULT_LOG_LIMIT = 256
/** Leaf-table cache entries (each covers 2 MiB of one domain's IOVA space). */
export const PDE_CACHE_ENTRIES = 256

export interface IommuOptions {
  readonly iotlbEntries: number
}

export interface IommuStats {
  /** IOTLB misses that read the tables (hits and misses are counted on `iotlb`). */
  walks: number
  faults: number
}

interface CachedContext {
  readonly domain: number
  readonly table: number
  readonly type: number
  readonly fpd: boolean
}

// Module-local copies of constants used on every access: V8 folds a module's own `const` into
// optimized code, while an imported binding costs a cell load and a hole check at each use.
const PAGE_SIZE = ADDRESS_PAGE_SIZE
const PAGE_MASK = ADDRESS_PAGE_MASK
const SL_READ = FORMAT_SL_READ
const SL_WRITE = FORMAT_SL_WRITE
/** A second-level entry's size and where its high word is. */
const ENTRY_SPAN = SL_ENTRY.span
const ENTRY_HIGH = SL_ENTRY.offset.high
/** A frame number is the high word (address bits 51:32) times this, plus the low word >>> 12. */
const FRAMES_PER_HIGH_WORD = TWO_POW_32 / PAGE_SIZE
const ADDRESS_LIMIT = 2 ** ADDRESS_WIDTH_BITS
const INVERSE_PAGE_SIZE = 1 / PAGE_SIZE
/** Pages per leaf table (a 2 MiB region of IOVA space); × its inverse is an exact shift. */
const LEAF_PAGES = 512
const INVERSE_LEAF_PAGES = 1 / LEAF_PAGES
/** Address bits 51:32 of a table pointer or page address; bits 63:52 are not address. */
const HIGH_ADDRESS_BITS = 0xf_ffff

export class Iommu {
  readonly iotlb: TranslationCache
  /** Paging-structure cache: (domain, 2 MiB region) → leaf table address, bits = R/W of the path. */
  readonly leafTables: TranslationCache
  readonly faults: IommuFault[] = []
  /** Faults not recorded because the log was full. */
  faultsDropped = 0
  readonly stats: IommuStats = { walks: 0, faults: 0 }
  private readonly memory: PhysicalMemory
  private readonly sink: FindingSink
  /** GCMD.TE, as 0 or 1: a boolean field costs a generic truthiness test in optimized code. */
  private enabled = 0
  private root = 0
  private readonly contexts = new Map<number, CachedContext>()
  // The last requester's context, in fields: one device makes every lookup hit here.
  private lastRequester = -1
  private lastDomain = 0
  private lastTable = 0
  private lastType = 0
  private lastFpd = false
  /** The reason of the last context-level fault. */
  private lastFault = 0
  /** The page frame `resolve` found (a small integer where an address above 2^31 is a double). */
  resolvedFrame = 0
  private recentPage0 = -1
  private recentFrame0 = 0
  private recentBits0 = 0
  private recentPage1 = -1
  private recentFrame1 = 0
  private recentBits1 = 0
  /** R/W bits allowed along the path `walkUpper` took (every level must allow an access). */
  private walkedBits = 0

  constructor(memory: PhysicalMemory, sink: FindingSink, options: IommuOptions) {
    this.memory = memory
    this.sink = sink
    this.iotlb = new TranslationCache(options.iotlbEntries)
    this.leafTables = new TranslationCache(PDE_CACHE_ENTRIES)
  }

  get translationEnabled(): boolean {
    return this.enabled !== 0
  }

  get rootTableAddress(): number {
    return this.root
  }

  /** RTADDR_REG + GCMD.SRTP. Cached state is not flushed: the OS invalidates after this. */
  setRootTable(pa: number): void {
    this.root = pa - (pa & PAGE_MASK)
  }

  /** GCMD.TE. */
  enableTranslation(on: boolean): void {
    this.enabled = on ? 1 : 0
    this.forgetRecent()
  }

  /** CCMD_REG: global, or device-selective when a requester is given. */
  invalidateContextCache(requester?: number): void {
    if (requester === undefined) this.contexts.clear()
    else this.contexts.delete(requester)
    this.lastRequester = -1
    this.forgetRecent()
  }

  /** IOTLB_REG: global, or domain-selective. Paging-structure caches go with it. */
  invalidateIotlb(domain?: number): void {
    this.forgetRecent()
    if (domain === undefined) {
      this.iotlb.flushAll()
      this.leafTables.flushAll()
    } else {
      this.iotlb.flushDomain(domain)
      this.leafTables.flushDomain(domain)
    }
  }

  /**
   * Page-selective IOTLB invalidation with the invalidation hint set (VT-d 6.5.2.3, IH = 1):
   * only leaf translations are dropped; the OS never frees a non-leaf table while it is live.
   */
  invalidatePages(domain: number, iova: number, pages: number): void {
    this.forgetRecent()
    const first = Math.floor(iova / PAGE_SIZE)
    if (pages >= this.iotlb.size) {
      this.iotlb.flushDomain(domain)
      return
    }
    for (let p = 0; p < pages; p++) this.iotlb.flushTag(domain, first + p)
  }

  /**
   * Translates one device access to the byte at `address` (the caller splits accesses at page
   * boundaries). Returns the physical address, or -reason on a fault (already recorded).
   */
  translate(requester: number, address: number, write: boolean): number {
    const reason = this.resolve(requester, address, write)
    return reason === 0 ? this.resolvedFrame * PAGE_SIZE + (address & PAGE_MASK) : -reason
  }

  /**
   * The per-access form of `translate` for the DMA engine: returns 0 and leaves the page frame
   * in `resolvedFrame` (the offset within the page is the address's), or returns the fault
   * reason (already recorded). Nothing is boxed: a frame of RAM is a small integer.
   */
  resolve(requester: number, address: number, write: boolean): number {
    // The current requester's most recent translation, in fields: a device keeps coming back to
    // its ring page. It is a copy of an IOTLB entry, dropped with every invalidation, context
    // change and GCMD.TE write, and only a translating context fills it, so a hit needs no
    // other check. Small on purpose, so that the DMA engine inlines it.
    if (requester === this.lastRequester && Math.floor(address * INVERSE_PAGE_SIZE) === this.recentPage0 && (this.recentBits0 & (write ? SL_WRITE : SL_READ)) !== 0) {
      this.iotlb.hits++
      this.resolvedFrame = this.recentFrame0
      return 0
    }
    return this.lookup(requester, address, write)
  }

  /**
   * The second most recent translation, then the context, the IOTLB and, on a miss, the tables
   * (one function: the miss path is per buffer page, and a call more costs ~12% of it).
   */
  private lookup(requester: number, address: number, write: boolean): number {
    // × 2^-12 is exact and cheaper than a division.
    const page = Math.floor(address * INVERSE_PAGE_SIZE)
    if (requester === this.lastRequester && page === this.recentPage1 && (this.recentBits1 & (write ? SL_WRITE : SL_READ)) !== 0) {
      this.iotlb.hits++
      this.resolvedFrame = this.recentFrame1
      this.swapRecent()
      return 0
    }
    if (this.enabled === 0 || (requester === this.lastRequester && this.lastType === TT_PASS_THROUGH)) {
      this.resolvedFrame = page
      return 0
    }
    if (requester !== this.lastRequester) {
      if (!this.loadContext(requester, address, write)) return this.lastFault
      if (this.lastType === TT_PASS_THROUGH) {
        this.resolvedFrame = page
        return 0
      }
    }
    if (address >= ADDRESS_LIMIT) return this.fault(requester, address, write, FAULT_REASON.beyondAddressWidth, this.lastFpd)
    const domain = this.lastDomain
    const tlb = this.iotlb
    const i = tlb.slot(domain, page)
    if (tlb.domain[i] === domain && tlb.tag[i] === page) {
      tlb.hits++
      if ((tlb.bits[i]! & (write ? SL_WRITE : SL_READ)) === 0) {
        return this.fault(requester, address, write, write ? FAULT_REASON.writeNotPermitted : FAULT_REASON.readNotPermitted, this.lastFpd)
      }
      this.remember(page, tlb.value[i]!, tlb.bits[i]!)
      this.resolvedFrame = tlb.value[i]!
      return 0
    }
    // IOTLB miss: the leaf table from the paging-structure cache, or a walk of the upper levels
    // that fills it, then the leaf entry. With the leaf table cached a miss costs one 8-byte
    // read of the tables, as on VT-d hardware with its paging-structure caches (VT-d 6.2.4).
    tlb.misses++
    this.stats.walks++
    const mem = this.memory
    const region = Math.floor(page * INVERSE_LEAF_PAGES)
    const pde = this.leafTables
    const c = pde.slot(domain, region)
    let table: number
    let allowed: number
    let host: number
    if (pde.domain[c] === domain && pde.tag[c] === region) {
      pde.hits++
      table = pde.value[c]!
      allowed = pde.bits[c]!
      host = pde.host[c]!
    } else {
      pde.misses++
      table = this.walkUpper(requester, address, page, write)
      if (table < 0) return -table
      allowed = this.walkedBits
      pde.insertAt(c, domain, region, table, allowed)
      host = -1
    }
    if (host < 0) {
      // The leaf table's place in host memory, kept beside the cached pointer so the next miss
      // in this 2 MiB reads the entry without looking the frame up (a slot never moves).
      const tableFrame = table / PAGE_SIZE
      if (!mem.isRamFrame(tableFrame)) return this.fault(requester, address, write, FAULT_REASON.pagingEntryAccess, this.lastFpd)
      host = mem.frameSlot(tableFrame)
      pde.host[c] = host
    }
    // `page & 511` keeps the low 9 bits exactly (ToInt32 keeps the low 32 of any page number).
    // A table frame never written reads as zeros: not present.
    const at = (page & (LEAF_PAGES - 1)) * ENTRY_SPAN
    const lo = host < 0 ? 0 : mem.slotWord(host, at)
    const present = lo & (SL_READ | SL_WRITE)
    const rw = present & allowed
    const frame = host < 0 ? 0 : (mem.slotWord(host, at + ENTRY_HIGH) & HIGH_ADDRESS_BITS) * FRAMES_PER_HIGH_WORD + (lo >>> 12)
    // Only present translations are cached (caching mode 0: not-present entries never are).
    if (present !== 0) {
      tlb.insertAt(i, domain, page, frame, rw)
      this.remember(page, frame, rw)
    }
    if ((rw & (write ? SL_WRITE : SL_READ)) === 0) {
      return this.fault(requester, address, write, write ? FAULT_REASON.writeNotPermitted : FAULT_REASON.readNotPermitted, this.lastFpd)
    }
    this.resolvedFrame = frame
    return 0
  }

  /**
   * Keeps (page → frame) as a recent translation of the current requester: second, so a
   * buffer page walked once does not push out the ring page the device comes back to (a
   * second use promotes it); first when there is none.
   */
  private remember(page: number, frame: number, bits: number): void {
    if (this.recentPage0 === -1) {
      this.recentPage0 = page
      this.recentFrame0 = frame
      this.recentBits0 = bits
    } else {
      this.recentPage1 = page
      this.recentFrame1 = frame
      this.recentBits1 = bits
    }
  }

  /** The second recent translation was used: it becomes the first. */
  private swapRecent(): void {
    const page = this.recentPage0
    const frame = this.recentFrame0
    const bits = this.recentBits0
    this.recentPage0 = this.recentPage1
    this.recentFrame0 = this.recentFrame1
    this.recentBits0 = this.recentBits1
    this.recentPage1 = page
    this.recentFrame1 = frame
    this.recentBits1 = bits
  }

  private forgetRecent(): void {
    this.recentPage0 = -1
    this.recentPage1 = -1
  }

  private loadContext(requester: number, address: number, write: boolean): boolean {
    let ctx = this.contexts.get(requester)
    if (ctx === undefined) {
      const found = this.readContext(requester)
      if (typeof found === 'number') {
        // No context entry: fault processing cannot be disabled (there is no FPD to read).
        this.lastFault = found
        this.fault(requester, address, write, found, false)
        return false
      }
      ctx = found
      this.contexts.set(requester, ctx)
    }
    this.lastRequester = requester
    this.forgetRecent()
    this.lastDomain = ctx.domain
    this.lastTable = ctx.table
    this.lastType = ctx.type
    this.lastFpd = ctx.fpd
    return true
  }

  /** Root and context entries for a requester, or the fault reason. */
  private readContext(requester: number): CachedContext | number {
    const mem = this.memory
    const rootAt = this.root + ((requester >>> 8) & 0xff) * ROOT_ENTRY.span
    if (!mem.isRam(rootAt, ROOT_ENTRY.span)) return FAULT_REASON.rootTableAccess
    const r0 = mem.read32(rootAt + ROOT_ENTRY.offset.low)
    if ((r0 & ROOT_PRESENT) === 0) return FAULT_REASON.rootNotPresent
    if ((r0 & ROOT_RESERVED_LOW) !== 0 || mem.read32(rootAt + ROOT_ENTRY.offset.reservedLow) !== 0 || mem.read32(rootAt + ROOT_ENTRY.offset.reservedHigh) !== 0) {
      return FAULT_REASON.rootReserved
    }
    const contextTable = (mem.read32(rootAt + ROOT_ENTRY.offset.high) & HIGH_ADDRESS_BITS) * TWO_POW_32 + ((r0 & ~PAGE_MASK) >>> 0)
    const at = contextTable + (requester & 0xff) * CONTEXT_ENTRY.span
    if (!mem.isRam(at, CONTEXT_ENTRY.span)) return FAULT_REASON.contextTableAccess
    const c0 = mem.read32(at + CONTEXT_ENTRY.offset.low)
    if ((c0 & CONTEXT_PRESENT) === 0) return FAULT_REASON.contextNotPresent
    const c2 = mem.read32(at + CONTEXT_ENTRY.offset.widthAndDomain)
    if ((c0 & CONTEXT_RESERVED_LOW) !== 0 || (c2 & CONTEXT_RESERVED_WIDTH_WORD) !== 0 || mem.read32(at + CONTEXT_ENTRY.offset.reserved) !== 0) {
      return FAULT_REASON.contextReserved
    }
    const type = (c0 & CONTEXT_TT_MASK) >>> CONTEXT_TT_SHIFT
    if (type !== TT_TRANSLATE && type !== TT_DEVICE_TLB && type !== TT_PASS_THROUGH) return FAULT_REASON.contextInvalid
    if (type !== TT_PASS_THROUGH && (c2 & CONTEXT_AW_MASK) !== AW_48_BIT_4_LEVEL) return FAULT_REASON.contextInvalid
    return {
      domain: (c2 >>> CONTEXT_DID_SHIFT) & CONTEXT_DID_MASK,
      table: (mem.read32(at + CONTEXT_ENTRY.offset.high) & HIGH_ADDRESS_BITS) * TWO_POW_32 + ((c0 & ~PAGE_MASK) >>> 0),
      type,
      fpd: (c0 & CONTEXT_FPD) !== 0,
    }
  }

  /** Levels 4..2: the leaf table's address (R/W of the path in `walkedBits`), or -reason on a fault. */
  private walkUpper(requester: number, address: number, page: number, write: boolean): number {
    const mem = this.memory
    const fpd = this.lastFpd
    let table = this.lastTable
    let allowed = SL_READ | SL_WRITE
    for (let level = 4; level >= 2; level--) {
      const at = table + levelIndex(page, level) * SL_ENTRY.span
      if (!mem.isRam(at, SL_ENTRY.span)) return -this.fault(requester, address, write, level === 4 ? FAULT_REASON.contextInvalid : FAULT_REASON.pagingEntryAccess, fpd)
      const lo = mem.read32(at)
      const rw = lo & (SL_READ | SL_WRITE)
      // A non-present entry (R = W = 0) faults as a missing permission (VT-d 3.7.1).
      if (rw === 0) return -this.fault(requester, address, write, write ? FAULT_REASON.writeNotPermitted : FAULT_REASON.readNotPermitted, fpd)
      if ((lo & SL_PAGE_SIZE) !== 0) return -this.fault(requester, address, write, FAULT_REASON.pagingEntryReserved, fpd)
      allowed &= rw
      table = (mem.read32(at + SL_ENTRY.offset.high) & HIGH_ADDRESS_BITS) * TWO_POW_32 + ((lo & ~PAGE_MASK) >>> 0)
    }
    this.walkedBits = allowed
    return table
  }

  private fault(requester: number, address: number, write: boolean, reason: number, suppressed: boolean): number {
    this.stats.faults++
    if (suppressed) return reason
    const record: IommuFault = {
      requester: formatBdf(requester),
      address,
      access: write ? 'write' : 'read',
      reason,
      reasonText: faultReasonText(reason),
    }
    if (this.faults.length < FAULT_LOG_LIMIT) this.faults.push(record)
    else this.faultsDropped++
    this.sink.report({
      kind: 'iommu-fault',
      message: `IOMMU fault: ${record.requester} ${record.access} at device address ${hex(address)}: ${record.reasonText} (VT-d reason ${reason})`,
      details: { requester: record.requester, address, access: record.access, reason, reasonText: record.reasonText },
    })
    return reason
  }
}
