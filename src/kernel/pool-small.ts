// Small pool blocks (S09, S21, S22): pages carved into units of sizeof(POOL_HEADER) (16 bytes
// on x64, 8 on x86), each block a header and the caller's bytes rounded up to the unit, blocks back to back so that running
// off the end of one lands in the next one's header. Free blocks are kept in lists by size
// and merged with free neighbours when a block is freed, as the Windows pool does; a page
// whose last block is freed is unmapped and its frame given back.
//
// Per page, `size[u]` is +units for a block allocated at unit u, -units for a free one, 0 inside
// a block; `prev[u]` is the PreviousSize of the block at u. These arrays are the truth; the
// headers in memory are what a driver can corrupt, and `check` compares the two at free.
import { PAGE_SIZE, pageNumber, pageOffset, type VirtualAddress } from '../hw/address.js'
import type { PageNote } from './address-space.js'
import { FILL_FREED, FILL_GUARD, FILL_UNINITIALIZED } from './fill-patterns.js'
import type { Kernel } from './kernel.js'
import type { MappedMemory } from './mm.js'
import { HEADER_FLAG_CACHE_ALIGNED, patternBreak, type PoolHeader, type PoolHeaderFormat } from './pool-header.js'

export interface PoolPage {
  readonly va: VirtualAddress
  readonly pa: number
  readonly paged: boolean
  readonly memory: MappedMemory
  readonly size: Int16Array
  readonly prev: Uint16Array
  freeUnits: number
}

/** What the header of an allocated block says; the pool's block records supply it. */
export interface SmallBlockFacts {
  readonly tag: number
  readonly bytes: number
  readonly paged: boolean
  readonly cacheAligned: boolean
}

/** Where a block's surroundings were found overwritten. */
export type SmallDamage =
  | { readonly where: 'own-header'; readonly at: number }
  | { readonly where: 'slack' | 'next-header'; readonly at: number }

/** Cache-aligned data (NonPagedPoolCacheAligned, S21) starts on a 64-byte line. */
const CACHE_LINE = 64

export class SmallPool {
  private readonly kernel: Kernel
  private readonly format: PoolHeaderFormat
  /** The unit blocks are carved in (the header's size) and how many fill a page. */
  private readonly unit: number
  private readonly units: number
  private readonly facts: (va: number) => SmallBlockFacts
  private readonly pages = new Map<number, PoolPage>()
  /** Free blocks by size in units, per pool (0 nonpaged, 1 paged): header VAs, oldest first. */
  private readonly freeLists: [Array<Set<number> | undefined>, Array<Set<number> | undefined>] = [[], []]

  /** `facts(va)` describes the allocated block whose data starts at `va`. */
  constructor(kernel: Kernel, format: PoolHeaderFormat, facts: (va: number) => SmallBlockFacts) {
    this.kernel = kernel
    this.format = format
    this.unit = format.bytes
    this.units = format.unitsPerPage
    this.facts = facts
  }

  pageAt(va: number): PoolPage | undefined {
    return this.pages.get(pageNumber(va))
  }

  /** The data VA of the allocated block whose header, data or slack holds `va`. */
  containing(va: number): number | undefined {
    const page = this.pageAt(va)
    if (page === undefined) return undefined
    let u = Math.floor(pageOffset(va) / this.unit)
    while (u > 0 && page.size[u] === 0) u--
    return page.size[u]! > 0 ? page.va + (u + 1) * this.unit : undefined
  }

  /** The data VA of the allocated block just before the one at `unit`, if there is one. */
  previous(page: PoolPage, unit: number): number | undefined {
    if (unit === 0) return undefined
    const before = unit - page.prev[unit]!
    return page.size[before]! > 0 ? page.va + (before + 1) * this.unit : undefined
  }

  /**
   * Carves a block for `bytes` (data 64-byte aligned when `cacheAligned`), calls `record` with
   * its data VA before its header is written (the header reads the pool's record), then fills
   * it: zeros or FILL_UNINITIALIZED, and FILL_GUARD in the slack. False when memory ran out.
   */
  allocate(bytes: number, paged: boolean, cacheAligned: boolean, zero: boolean, record: (va: number, page: PoolPage, unit: number, charged: number) => void): boolean {
    const dataUnits = Math.max(1, Math.ceil(bytes / this.unit))
    const need = 1 + dataUnits
    const lists = this.freeLists[paged ? 1 : 0]
    const perLine = CACHE_LINE / this.unit
    let at = -1
    let pad = 0
    search: for (let s = need; s <= this.units; s++) {
      const list = lists[s]
      if (list === undefined || list.size === 0) continue
      for (const headerVa of list) {
        // Cache-aligned data must start on a 64-byte line: the header is the unit just before one.
        const p = cacheAligned ? (perLine - 1 - (this.unitOf(headerVa) % perLine) + perLine) % perLine : 0
        if (p + need <= s) {
          at = headerVa
          pad = p
          break search
        }
      }
    }
    if (at < 0) {
      const fresh = this.newPage(paged)
      if (fresh === null) return false
      at = fresh.va
      pad = cacheAligned ? perLine - 1 : 0
    }
    const page = this.pageAt(at)!
    const u = this.unitOf(at)
    const s = -page.size[u]!
    this.unlist(page, u)
    const start = u + pad
    if (pad > 0) {
      page.size[u] = -pad
      page.prev[start] = pad
      this.list(page, u)
    }
    page.size[start] = need
    const rest = s - pad - need
    if (rest > 0) {
      page.size[start + need] = -rest
      page.prev[start + need] = need
      this.list(page, start + need)
    }
    if (u + s < this.units) page.prev[u + s] = rest > 0 ? rest : need
    page.freeUnits -= need
    record(page.va + (start + 1) * this.unit, page, start, need * this.unit)
    const ram = this.kernel.ram
    const dataPa = page.pa + (start + 1) * this.unit
    ram.fill(dataPa, bytes, zero ? 0 : FILL_UNINITIALIZED)
    ram.fill(dataPa + bytes, dataUnits * this.unit - bytes, FILL_GUARD)
    // Headers whose block or PreviousSize changed: the pad, the block, the rest, the block after.
    if (pad > 0) this.writeHeaderAt(page, u)
    this.writeHeaderAt(page, start)
    if (start + need < this.units) this.writeHeaderAt(page, start + need)
    if (rest > 0 && u + s < this.units) this.writeHeaderAt(page, u + s)
    return true
  }

  /** The free-time check of the block at `unit` holding `bytes`: its header, slack, next header. */
  check(page: PoolPage, unit: number, bytes: number): SmallDamage | null {
    const ram = this.kernel.ram
    const units = page.size[unit]!
    const headerPa = page.pa + unit * this.unit
    const own = this.format.difference(ram, headerPa, this.expectedHeader(page, unit))
    if (own >= 0) return { where: 'own-header', at: page.va + unit * this.unit + own }
    const dataVa = page.va + (unit + 1) * this.unit
    const slack = patternBreak(ram, headerPa + this.unit + bytes, (units - 1) * this.unit - bytes, FILL_GUARD)
    if (slack >= 0) return { where: 'slack', at: dataVa + bytes + slack }
    const next = unit + units
    if (next < this.units) {
      const d = this.format.difference(ram, page.pa + next * this.unit, this.expectedHeader(page, next))
      if (d >= 0) return { where: 'next-header', at: page.va + next * this.unit + d }
    }
    return null
  }

  /** The first 32 bits of the header at `unit` (bug check parameters: "pool header contents"). */
  headerContents(page: PoolPage, unit: number): number {
    return this.format.word(this.kernel.ram, page.pa + unit * this.unit)
  }

  /**
   * Frees the block at `unit`: poisons its bytes, merges it with free neighbours, and gives the
   * page back (FREED, with `emptiedNote()`) when nothing is left in it.
   */
  release(page: PoolPage, unit: number, emptiedNote: () => PageNote): void {
    const ram = this.kernel.ram
    const units = page.size[unit]!
    const headerPa = page.pa + unit * this.unit
    ram.fill(headerPa + this.unit, (units - 1) * this.unit, FILL_FREED)
    page.freeUnits += units
    let start = unit
    let total = units
    const next = unit + units
    if (next < this.units && page.size[next]! < 0) {
      total += -page.size[next]!
      this.unlist(page, next)
      page.size[next] = 0
      ram.fill(page.pa + next * this.unit, this.unit, FILL_FREED)
    }
    const before = unit - page.prev[unit]!
    if (unit > 0 && page.size[before]! < 0) {
      total += -page.size[before]!
      this.unlist(page, before)
      page.size[unit] = 0
      ram.fill(headerPa, this.unit, FILL_FREED)
      start = before
    }
    page.size[start] = -total
    const following = start + total
    if (following < this.units) {
      page.prev[following] = total
      this.writeHeaderAt(page, following)
    }
    if (total === this.units) {
      // The page is empty: give it back, so a late access to any block that was in it faults.
      this.pages.delete(pageNumber(page.va))
      this.kernel.mm.freeMapped(page.memory, emptiedNote())
      return
    }
    this.list(page, start)
    this.writeHeaderAt(page, start)
  }

  private newPage(paged: boolean): PoolPage | null {
    const label = paged ? 'paged pool page' : 'nonpaged pool page'
    const memory = this.kernel.mm.allocateMapped(1, { kind: paged ? 'paged-pool' : 'pool', label }, { paged }, 'keep')
    if (memory === null) return null
    const page: PoolPage = {
      va: memory.va,
      pa: memory.pfns[0]! * PAGE_SIZE,
      paged,
      memory,
      size: new Int16Array(this.units),
      prev: new Uint16Array(this.units),
      freeUnits: this.units,
    }
    this.kernel.ram.fill(page.pa, PAGE_SIZE, FILL_FREED)
    page.size[0] = -this.units
    this.pages.set(pageNumber(page.va), page)
    this.list(page, 0)
    this.writeHeaderAt(page, 0)
    return page
  }

  private expectedHeader(page: PoolPage, unit: number): PoolHeader {
    const size = page.size[unit]!
    const previousSize = page.prev[unit]!
    if (size < 0) return { previousSize, blockSize: -size, tag: 0, bytes: 0, type: 0, flags: 0 }
    const b = this.facts(page.va + (unit + 1) * this.unit)
    return { previousSize, blockSize: size, tag: b.tag, bytes: b.bytes, type: b.paged ? 2 : 1, flags: b.cacheAligned ? HEADER_FLAG_CACHE_ALIGNED : 0 }
  }

  private writeHeaderAt(page: PoolPage, unit: number): void {
    this.format.write(this.kernel.ram, page.pa + unit * this.unit, this.expectedHeader(page, unit))
  }

  private list(page: PoolPage, unit: number): void {
    const lists = this.freeLists[page.paged ? 1 : 0]
    const size = -page.size[unit]!
    ;(lists[size] ??= new Set()).add(page.va + unit * this.unit)
  }

  private unlist(page: PoolPage, unit: number): void {
    this.freeLists[page.paged ? 1 : 0][-page.size[unit]!]?.delete(page.va + unit * this.unit)
  }

  private unitOf(va: number): number {
    return pageOffset(va) / this.unit
  }
}
