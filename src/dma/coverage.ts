// Which physical bytes the live DMA mappings cover, and for what: the index the DMA verifier
// checks every device access against, and the double-mapping check of the HAL's DMA
// verification (bug check 0xE6/0x1D: "The driver tried to map an address range that was
// already mapped").
//
// A mapping registers its ranges page by page, so the per-access check is a Map lookup and a
// compare. Each range says what the device may do there: a to-device transfer is read-only for
// the device, a from-device transfer write-only, a common buffer both (the IOMMU maps them the
// same way; with it off, a device access the other way is the verifier's to report). A
// transfer also registers the driver's buffer behind it — the same bytes, or, when pieces were
// bounced, the original pages the device never sees — so that mapping the same bytes again
// while the first transfer is live is found.
import { PAGE_SIZE } from '../hw/address.js'
import type { PhysicalAddress } from '../hw/address.js'
import type { CallSite } from '../kernel/calls.js'

export type MappingKind = 'common-buffer' | 'sg-list' | 'map-register'

/** What the device may do in a range: bits of ALLOW_READ and ALLOW_WRITE. */
export const ALLOW_READ = 1
export const ALLOW_WRITE = 2
export const ALLOW_BOTH = ALLOW_READ | ALLOW_WRITE

/** The ALLOW_* bit of a device access. */
export const accessBit = (access: 'read' | 'write'): number => (access === 'write' ? ALLOW_WRITE : ALLOW_READ)

/** Physical byte ranges: [start, length] pairs. */
export type PhysicalRanges = ReadonlyArray<readonly [number, number]>

export interface LiveMapping {
  readonly id: number
  readonly kind: MappingKind
  /** What a report calls it: `common buffer of 16 KiB`, `S/G list for 1514 bytes`. */
  readonly label: string
  /** The driver line that made it: text, or a captured call resolved only for a finding. */
  readonly site: string | CallSite | undefined
  /** The address width of the adapter it was made for. */
  readonly addressBits: number
  /** Physical byte ranges the device may touch. */
  readonly ranges: PhysicalRanges
  /** ALLOW_* bits: what the device may do in `ranges` (the transfer's direction). */
  readonly allow: number
  /** A transfer's driver buffer where it is not `ranges` (bounced pieces); undefined: `ranges` are the buffer. */
  readonly buffer?: PhysicalRanges | undefined
}

interface Range {
  readonly start: number
  readonly end: number
  readonly mapping: LiveMapping
  /** ALLOW_* bits; 0 for a buffer range the device never sees (a bounced original). */
  readonly allow: number
  /** Part of a transfer's driver buffer (the double-mapping check looks at these). */
  readonly buffer: boolean
}

/** A live transfer that already maps bytes a new one maps too, and the first such byte. */
export interface Overlap {
  readonly mapping: LiveMapping
  readonly at: PhysicalAddress
}

export class MappingIndex {
  private readonly byFrame = new Map<number, Range[]>()

  /**
   * Registers a mapping. For a transfer, returns the first live transfer whose driver buffer
   * overlaps this one's (a double mapping), or null; the mapping is registered either way.
   */
  add(mapping: LiveMapping): Overlap | null {
    const transfer = mapping.kind !== 'common-buffer'
    const separate = mapping.buffer !== undefined
    let overlap: Overlap | null = null
    if (transfer && separate) overlap = this.addRanges(mapping, mapping.buffer!, 0, true, null)
    return this.addRanges(mapping, mapping.ranges, mapping.allow, transfer && !separate, overlap)
  }

  private addRanges(mapping: LiveMapping, ranges: PhysicalRanges, allow: number, buffer: boolean, found: Overlap | null): Overlap | null {
    let overlap = found
    for (const [start, length] of ranges) {
      let pa = start
      const end = start + length
      while (pa < end) {
        const pfn = Math.floor(pa / PAGE_SIZE)
        const pageEnd = Math.min(end, (pfn + 1) * PAGE_SIZE)
        const r: Range = { start: pa, end: pageEnd, mapping, allow, buffer }
        const existing = this.byFrame.get(pfn)
        if (existing === undefined) this.byFrame.set(pfn, [r])
        else {
          if (buffer && overlap === null) {
            for (let i = 0; i < existing.length; i++) {
              const e = existing[i]!
              if (e.buffer && e.start < pageEnd && pa < e.end) {
                overlap = { mapping: e.mapping, at: Math.max(pa, e.start) as PhysicalAddress }
                break
              }
            }
          }
          existing.push(r)
        }
        pa = pageEnd
      }
    }
    return overlap
  }

  /**
   * Takes a mapping's ranges off their frames, in place. A frame's entry stays (empty) when its
   * last range goes: per-packet lists come and go on the same pages, and deleting the entry
   * each time would churn the Map.
   */
  remove(mapping: LiveMapping): void {
    this.removeRanges(mapping, mapping.ranges)
    if (mapping.buffer !== undefined) this.removeRanges(mapping, mapping.buffer)
  }

  private removeRanges(mapping: LiveMapping, ranges: PhysicalRanges): void {
    for (const [start, length] of ranges) {
      const first = Math.floor(start / PAGE_SIZE)
      const last = Math.floor((start + length - 1) / PAGE_SIZE)
      for (let pfn = first; pfn <= last; pfn++) {
        const list = this.byFrame.get(pfn)
        if (list === undefined) continue
        let w = 0
        for (let i = 0; i < list.length; i++) if (list[i]!.mapping !== mapping) list[w++] = list[i]!
        list.length = w
      }
    }
  }

  /** The fast path of the device-access check: one range on one frame allowing the access covers it. */
  coversInPage(pa: number, length: number, bit: number): boolean {
    const ranges = this.byFrame.get(Math.floor(pa / PAGE_SIZE))
    if (ranges === undefined) return false
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i]!
      if ((r.allow & bit) !== 0 && pa >= r.start && pa + length <= r.end) return true
    }
    return false
  }

  /** The first byte of [pa, pa + length) no range allowing `bit` covers, or -1 when all are covered. */
  firstUncovered(pa: number, length: number, bit: number): number {
    let at = pa
    const end = pa + length
    while (at < end) {
      const pfn = Math.floor(at / PAGE_SIZE)
      const pageEnd = Math.min(end, (pfn + 1) * PAGE_SIZE)
      const entry = this.byFrame.get(pfn)
      if (entry === undefined || entry.length === 0) return at
      // Extend `at` through any range that covers it until none does. Ranges per page are few
      // (two buffers sharing a page at most, in practice), so no sorting and no allocation.
      for (let moved = true; moved && at < pageEnd; ) {
        moved = false
        for (let i = 0; i < entry.length; i++) {
          const r = entry[i]!
          if ((r.allow & bit) !== 0 && r.start <= at && r.end > at) {
            at = Math.min(r.end, pageEnd)
            moved = true
          }
        }
      }
      if (at < pageEnd) return at
    }
    return -1
  }

  /** The live mapping the device may touch at physical address `pa` (in either direction), if any. */
  mappingAt(pa: number): LiveMapping | undefined {
    const entry = this.byFrame.get(Math.floor(pa / PAGE_SIZE))
    if (entry === undefined) return undefined
    for (const r of entry) if (r.allow !== 0 && pa >= r.start && pa < r.end) return r.mapping
    return undefined
  }
}
