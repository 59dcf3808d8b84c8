// The kernel pools (paged and nonpaged), laid out as seed 002 documents for x64 (S09, S10, S21,
// S22):
//
// - A request of at most PAGE_SIZE - 16 bytes is a small block: a 16-byte pool header (real
//   bytes, pool-header.ts) followed by the caller's bytes, carved from a pool page in 16-byte
//   units. It gets exactly the bytes asked for, 16-byte aligned (64 for the cache-aligned
//   types), and never crosses a page. Blocks sit back to back, so running off the end of one
//   overwrites the next one's header; the free of either block finds it.
// - A larger request gets whole pages, page-aligned, virtually contiguous but physically
//   scattered, with no header (Windows' big-page pool keeps its tags in a side table); the
//   unused tail of the last page is wasted, and filled with a pattern the free checks.
// - With the verifier's special pool on, a driver's small requests each get their own page
//   between guard pages (special-pool.ts).
//
// The blocks map is the truth (size, tag, site); the bytes in memory are what a driver can
// corrupt, and the free compares the two. This is the internal allocator: no IRQL rules, no
// fault decisions (the driver-facing routines in ex-pool-api.ts add those).
import { PAGE_SIZE, hex, pageNumber, pageOffset, type VirtualAddress, asVirtual } from '../hw/address.js'
import { BUGCHECK } from './bugcheck.js'
import type { FindingsLog } from './findings.js'
import type { CallSite } from './calls.js'
import { FILL_FREED, FILL_GUARD, FILL_UNINITIALIZED } from './fill-patterns.js'
import type { Kernel } from './kernel.js'
import { UNINITIALIZED_FILL_LIMIT, type MappedMemory } from './mm.js'
import { freeSite, pageNote } from './page-notes.js'
import {
  HEADER_FLAG_CACHE_ALIGNED, POOL_HEADER_BYTES, POOL_UNIT, UNITS_PER_PAGE,
  headerDifference, headerWord, patternBreak, writeHeader, type PoolHeader,
} from './pool-header.js'
import { PoolTracker } from './pool-tracker.js'
import { SpecialPool, type SpecialLayout } from './special-pool.js'
import { siteHere } from './sites.js'
import { tagName } from './tags.js'
import { decodePoolType } from './wdm.js'

/** The largest request that is a small block: PAGE_SIZE - sizeof(POOL_HEADER) (S09, S22). */
export const SMALL_POOL_MAX = PAGE_SIZE - POOL_HEADER_BYTES

/** 0xC4 parameter 1: "the driver attempted to free memory after having written past the end". */
export const VERIFIER_OVERRUN_AT_FREE = 0x51

export type PoolBlockKind = 'small' | 'large' | 'special'

/** One live pool allocation. */
export interface PoolBlock {
  readonly va: VirtualAddress
  /** NumberOfBytes as asked. */
  readonly bytes: number
  /** The tag ULONG ('tseT' = 0x74736554). */
  readonly tag: number
  readonly poolType: number
  readonly paged: boolean
  readonly kind: PoolBlockKind
  /** What the pool charged: units with the header, or whole pages. */
  readonly charged: number
  /** False for allocations the system makes for itself (not the driver's, not leak-checked). */
  readonly driver: boolean
  /** Allocation order, for stable listings. */
  readonly serial: number
  /** The driver call that allocated it (or last took it from a lookaside list). */
  site: CallSite | undefined
  /** Small blocks: the page and the unit of the header within it. */
  readonly page: PoolPage | null
  readonly unit: number
  /** Large and special blocks: the mapping behind them. */
  readonly memory: MappedMemory | null
  readonly special: SpecialLayout | null
}

/** A page of small blocks. `size[u]` is +units for a block allocated at u, -units for a free one. */
export interface PoolPage {
  readonly va: VirtualAddress
  readonly pa: number
  readonly paged: boolean
  readonly memory: MappedMemory
  readonly size: Int16Array
  /** PreviousSize of the block starting at each unit. */
  readonly prev: Uint16Array
  freeUnits: number
}

export interface PoolAllocateOptions {
  readonly site?: CallSite
  /** Default true: the driver's, so leak-checked and special-pool eligible. */
  readonly driver?: boolean
  /** Zero the block (ExAllocatePool2); otherwise it holds FILL_UNINITIALIZED. */
  readonly zero?: boolean
  /** POOL_FLAG_SPECIAL_POOL: special pool for this block even when the verifier option is off. */
  readonly specialPool?: boolean
  /** ExAllocatePoolWithTagPriority's XxxSpecialPoolUnderrun: the block at the page start. */
  readonly specialUnderrun?: boolean
}

export interface PoolFreeOptions {
  /** ExFreePoolWithTag's Tag: a different allocation tag is 0xC2/0x0A. */
  readonly tag?: number
  /** The freeing routine, for messages. */
  readonly routine?: string
}

interface FreedBlock {
  readonly tag: number
  readonly bytes: number
  readonly paged: boolean
  /** The first 32 bits of its pool header when it was freed (0 for blocks without one). */
  readonly header: number
}

/** Freed block addresses remembered to tell a double free from a wild one. */
const FREED_MEMORY = 1 << 16

export function describeBlock(b: { tag: number; bytes: number; paged: boolean }): string {
  return `${b.paged ? 'paged' : 'nonpaged'} pool block '${tagName(b.tag)}' (${b.bytes} bytes)`
}

export class Pool {
  readonly tracker = new PoolTracker()
  readonly special: SpecialPool
  private readonly kernel: Kernel
  private readonly blocks = new Map<number, PoolBlock>()
  /** Page index → the small-block page there, or the large/special block covering it. */
  private readonly pages = new Map<number, PoolPage | PoolBlock>()
  /** Free small blocks by size in units, per pool (0 nonpaged, 1 paged): header VAs. */
  private readonly freeLists: [Array<Set<number>>, Array<Set<number>>]
  private readonly freed = new Map<number, FreedBlock>()
  private readonly freeListeners: Array<(block: PoolBlock) => void> = []
  private serial = 0

  constructor(kernel: Kernel) {
    this.kernel = kernel
    this.special = new SpecialPool(kernel)
    const lists = (): Array<Set<number>> => Array.from({ length: UNITS_PER_PAGE + 1 }, () => new Set<number>())
    this.freeLists = [lists(), lists()]
  }

  /** Called before a block is released (lookaside lists check for a live list head inside it). */
  onFree(listener: (block: PoolBlock) => void): void {
    this.freeListeners.push(listener)
  }

  get liveBlocks(): IterableIterator<PoolBlock> {
    return this.blocks.values()
  }

  /** The block that starts at `va`. */
  blockAt(va: number): PoolBlock | undefined {
    return this.blocks.get(va)
  }

  /** The block whose header, data or slack holds `va`. */
  blockContaining(va: number): PoolBlock | undefined {
    const owner = this.pages.get(pageNumber(va))
    if (owner === undefined) return undefined
    if (!('freeUnits' in owner)) return owner
    let u = Math.floor(pageOffset(va) / POOL_UNIT)
    while (u > 0 && owner.size[u] === 0) u--
    if (owner.size[u]! <= 0) return undefined
    return this.blocks.get(owner.va + (u + 1) * POOL_UNIT)
  }

  /** The allocator: a block for `bytes` of `poolType` tagged `tag`, or 0 when memory ran out. */
  allocate(poolType: number, bytes: number, tag: number, options: PoolAllocateOptions = {}): VirtualAddress {
    const info = decodePoolType(poolType)
    const driver = options.driver ?? true
    let block: PoolBlock | null
    if ((options.specialPool === true || (driver && this.kernel.options.specialPool)) && this.special.fits(bytes, info.cacheAligned)) {
      const s = this.special.allocate(bytes, tag, info, options.specialUnderrun === true, options.zero === true, options.site)
      block = s === null ? null : this.record(bytes, tag, poolType, info.paged, 'special', PAGE_SIZE, driver, options.site, null, 0, s.memory, s.layout, s.va)
    } else if (bytes <= SMALL_POOL_MAX && !(info.cacheAligned && bytes > SMALL_POOL_MAX - 48)) {
      block = this.allocateSmall(bytes, tag, poolType, info.paged, info.cacheAligned, driver, options)
    } else {
      block = this.allocateLarge(bytes, tag, poolType, info.paged, driver, options)
    }
    if (block === null) return asVirtual(0)
    this.tracker.allocated(tag, info.paged, bytes)
    return block.va
  }

  /**
   * Frees the block at `va` after checking it: a double free (0xC2/0x07), an address that is
   * not a block (0xC4/0x10), a corrupted header or slack (0x19, 0xC4/0x51; special pool 0xC1)
   * are fatal; a wrong tag (0xC2/0x0A) is a violation and the block is freed.
   */
  free(va: number, options: PoolFreeOptions = {}): void {
    const log = this.kernel.log
    log.throwIfStopped()
    const routine = options.routine ?? 'ExFreePool'
    const block = this.blocks.get(va)
    if (block === undefined) this.badFree(va, routine)
    if (options.tag !== undefined && options.tag >>> 0 !== block.tag) {
      log.violation({
        kind: 'pool-free-mismatch',
        code: BUGCHECK.BAD_POOL_CALLER,
        params: [0x0a, va, block.tag, options.tag >>> 0],
        message: `${routine} of ${describeBlock(block)} at ${hex(va)} with tag '${tagName(options.tag)}': it was allocated with tag '${tagName(block.tag)}'`,
        ...siteField(),
        details: { address: va, allocatedTag: tagName(block.tag), freedTag: tagName(options.tag) },
      })
    }
    for (const listener of this.freeListeners) listener(block)
    if (block.kind === 'small') this.freeSmall(block, block.page!, routine)
    else if (block.kind === 'large') this.freeLarge(block, routine)
    else {
      this.special.verify(block, routine)
      this.special.release(block, pageNote(`freed ${describeBlock(block)} (special pool)`, block.site, freeSite()))
      this.forget(block, 0)
    }
    this.tracker.freed(block.tag, block.paged, block.bytes)
  }

  /** A lookaside list handed the block out again: leaks name that call. */
  setSite(va: number, site: CallSite | undefined): void {
    const block = this.blocks.get(va)
    if (block !== undefined) block.site = site
  }

  // ---- small blocks -----------------------------------------------------------------------------

  private allocateSmall(bytes: number, tag: number, poolType: number, paged: boolean, cacheAligned: boolean, driver: boolean, options: PoolAllocateOptions): PoolBlock | null {
    const dataUnits = Math.max(1, Math.ceil(bytes / POOL_UNIT))
    const need = 1 + dataUnits
    const lists = this.freeLists[paged ? 1 : 0]
    let at = -1
    let pad = 0
    search: for (let s = need; s <= UNITS_PER_PAGE; s++) {
      const list = lists[s]!
      if (list.size === 0) continue
      for (const headerVa of list) {
        // Cache-aligned data must start on a 64-byte line: the header unit is 3 mod 4.
        const p = cacheAligned ? (3 - (unitOf(headerVa) % 4) + 4) % 4 : 0
        if (p + need <= s) {
          at = headerVa
          pad = p
          break search
        }
      }
    }
    if (at < 0) {
      const fresh = this.newPage(paged)
      if (fresh === null) return null
      at = fresh.va
      pad = cacheAligned ? 3 : 0
    }
    const page = this.pages.get(pageNumber(at)) as PoolPage
    const u = unitOf(at)
    const s = -page.size[u]!
    this.unlistFree(page, u)
    const start = u + pad
    if (pad > 0) {
      page.size[u] = -pad
      page.prev[start] = pad
      this.listFree(page, u)
    }
    page.size[start] = need
    const rest = s - pad - need
    if (rest > 0) {
      page.size[start + need] = -rest
      page.prev[start + need] = need
      this.listFree(page, start + need)
    }
    if (u + s < UNITS_PER_PAGE) page.prev[u + s] = rest > 0 ? rest : need
    page.freeUnits -= need
    const va = page.va + (start + 1) * POOL_UNIT
    const block = this.record(bytes, tag, poolType, paged, 'small', need * POOL_UNIT, driver, options.site, page, start, null, null, va)
    const ram = this.kernel.ram
    const dataPa = page.pa + (start + 1) * POOL_UNIT
    ram.fill(dataPa, bytes, options.zero === true ? 0 : FILL_UNINITIALIZED)
    ram.fill(dataPa + bytes, dataUnits * POOL_UNIT - bytes, FILL_GUARD)
    // Headers whose block or PreviousSize changed: the pad, the block, the rest, the block after.
    if (pad > 0) this.writeSmallHeader(page, u)
    this.writeSmallHeader(page, start)
    if (start + need < UNITS_PER_PAGE) this.writeSmallHeader(page, start + need)
    if (rest > 0 && u + s < UNITS_PER_PAGE) this.writeSmallHeader(page, u + s)
    return block
  }

  private freeSmall(block: PoolBlock, page: PoolPage, routine: string): void {
    const ram = this.kernel.ram
    const u = block.unit
    const units = page.size[u]!
    const headerPa = page.pa + u * POOL_UNIT
    const headerContents = headerWord(ram, headerPa)
    const own = headerDifference(ram, headerPa, this.expectedHeader(page, u))
    if (own >= 0) this.corruptHeader(block, page, u, routine)
    const dataPa = headerPa + POOL_UNIT
    const slack = patternBreak(ram, dataPa + block.bytes, (units - 1) * POOL_UNIT - block.bytes, FILL_GUARD)
    if (slack >= 0) this.overrun(block, block.va + block.bytes + slack, routine, 'the slack after it')
    const next = u + units
    if (next < UNITS_PER_PAGE) {
      const d = headerDifference(ram, page.pa + next * POOL_UNIT, this.expectedHeader(page, next))
      if (d >= 0) this.overrun(block, page.va + next * POOL_UNIT + d, routine, 'the pool header of the next block')
    }

    // Release, coalescing with free neighbours (the pool's own bookkeeping, as Windows does).
    ram.fill(dataPa, (units - 1) * POOL_UNIT, FILL_FREED)
    page.freeUnits += units
    let start = u
    let total = units
    if (next < UNITS_PER_PAGE && page.size[next]! < 0) {
      total += -page.size[next]!
      this.unlistFree(page, next)
      page.size[next] = 0
      ram.fill(page.pa + next * POOL_UNIT, POOL_UNIT, FILL_FREED)
    }
    const before = u - page.prev[u]!
    if (u > 0 && page.size[before]! < 0) {
      total += -page.size[before]!
      this.unlistFree(page, before)
      page.size[u] = 0
      ram.fill(headerPa, POOL_UNIT, FILL_FREED)
      start = before
    }
    page.size[start] = -total
    const following = start + total
    if (following < UNITS_PER_PAGE) {
      page.prev[following] = total
      this.writeSmallHeader(page, following)
    }
    this.forget(block, headerContents)
    if (total === UNITS_PER_PAGE) {
      // The page is empty: give it back, so a late access to any block that was in it faults.
      this.pages.delete(pageNumber(page.va))
      this.kernel.mm.freeMapped(page.memory, pageNote(`${page.paged ? 'paged' : 'nonpaged'} pool page, freed with its last block, ${describeBlock(block)}`, block.site, freeSite()))
      return
    }
    this.listFree(page, start)
    this.writeSmallHeader(page, start)
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
      size: new Int16Array(UNITS_PER_PAGE),
      prev: new Uint16Array(UNITS_PER_PAGE),
      freeUnits: UNITS_PER_PAGE,
    }
    this.kernel.ram.fill(page.pa, PAGE_SIZE, FILL_FREED)
    page.size[0] = -UNITS_PER_PAGE
    this.pages.set(pageNumber(page.va), page)
    this.listFree(page, 0)
    this.writeSmallHeader(page, 0)
    return page
  }

  private expectedHeader(page: PoolPage, unit: number): PoolHeader {
    const size = page.size[unit]!
    const previousSize = page.prev[unit]!
    if (size < 0) return { previousSize, blockSize: -size, tag: 0, bytes: 0, type: 0, flags: 0 }
    const b = this.blocks.get(page.va + (unit + 1) * POOL_UNIT)!
    const flags = decodePoolType(b.poolType).cacheAligned ? HEADER_FLAG_CACHE_ALIGNED : 0
    return { previousSize, blockSize: size, tag: b.tag, bytes: b.bytes, type: b.paged ? 2 : 1, flags }
  }

  private writeSmallHeader(page: PoolPage, unit: number): void {
    writeHeader(this.kernel.ram, page.pa + unit * POOL_UNIT, this.expectedHeader(page, unit))
  }

  private listFree(page: PoolPage, unit: number): void {
    this.freeLists[page.paged ? 1 : 0][-page.size[unit]!]!.add(page.va + unit * POOL_UNIT)
  }

  private unlistFree(page: PoolPage, unit: number): void {
    this.freeLists[page.paged ? 1 : 0][-page.size[unit]!]!.delete(page.va + unit * POOL_UNIT)
  }

  // ---- large blocks -----------------------------------------------------------------------------

  private allocateLarge(bytes: number, tag: number, poolType: number, paged: boolean, driver: boolean, options: PoolAllocateOptions): PoolBlock | null {
    const pages = Math.ceil(bytes / PAGE_SIZE)
    const label = `pool '${tagName(tag)}' ${bytes} bytes`
    const memory = this.kernel.mm.allocateMapped(pages, { kind: paged ? 'paged-pool' : 'pool', label, driver }, { paged }, 'keep')
    if (memory === null) return null
    const ram = this.kernel.ram
    // Zeroing never-written frames is free; the pattern costs host memory (mm.fillFrames).
    const fill = options.zero === true ? 0 : pages > UNINITIALIZED_FILL_LIMIT ? -1 : FILL_UNINITIALIZED
    memory.pfns.forEach((pfn, i) => {
      const inBlock = Math.min(PAGE_SIZE, bytes - i * PAGE_SIZE)
      if (fill >= 0) ram.fill(pfn * PAGE_SIZE, inBlock, fill)
      ram.fill(pfn * PAGE_SIZE + inBlock, PAGE_SIZE - inBlock, FILL_GUARD)
    })
    return this.record(bytes, tag, poolType, paged, 'large', pages * PAGE_SIZE, driver, options.site, null, 0, memory, null, memory.va)
  }

  private freeLarge(block: PoolBlock, routine: string): void {
    const memory = block.memory!
    const tail = block.bytes % PAGE_SIZE
    if (tail !== 0) {
      const lastPa = memory.pfns[memory.pages - 1]! * PAGE_SIZE
      const broken = patternBreak(this.kernel.ram, lastPa + tail, PAGE_SIZE - tail, FILL_GUARD)
      if (broken >= 0) this.overrun(block, block.va + block.bytes + broken, routine, 'the unused tail of its last page')
    }
    this.kernel.mm.freeMapped(memory, pageNote(`freed ${describeBlock(block)}`, block.site, freeSite()))
    this.forget(block, 0)
  }

  // ---- bookkeeping and findings -------------------------------------------------------------------

  private record(
    bytes: number, tag: number, poolType: number, paged: boolean, kind: PoolBlockKind, charged: number, driver: boolean,
    site: CallSite | undefined, page: PoolPage | null, unit: number, memory: MappedMemory | null, special: SpecialLayout | null, va: number,
  ): PoolBlock {
    const block: PoolBlock = {
      va: asVirtual(va), bytes, tag: tag >>> 0, poolType, paged, kind, charged, driver, serial: ++this.serial, site, page, unit, memory, special,
    }
    this.blocks.set(va, block)
    this.freed.delete(va)
    if (memory !== null) for (let i = 0; i < memory.pages; i++) this.pages.set(pageNumber(memory.va) + i, block)
    return block
  }

  private forget(block: PoolBlock, headerContents: number): void {
    this.blocks.delete(block.va)
    if (block.memory !== null) for (let i = 0; i < block.memory.pages; i++) this.pages.delete(pageNumber(block.memory.va) + i)
    this.freed.set(block.va, { tag: block.tag, bytes: block.bytes, paged: block.paged, header: headerContents })
    if (this.freed.size > FREED_MEMORY) this.freed.delete(this.freed.keys().next().value!)
  }

  private badFree(va: number, routine: string): never {
    const log: FindingsLog = this.kernel.log
    const was = this.freed.get(va)
    if (was !== undefined) {
      log.fatal({
        kind: 'pool-double-free',
        code: BUGCHECK.BAD_POOL_CALLER,
        params: [0x07, 0, was.header, va],
        message: `${routine} of ${hex(va)}, which was already freed (it was a ${describeBlock(was)})`,
        ...siteField(),
        details: { address: va, tag: tagName(was.tag), bytes: was.bytes },
      })
    }
    const inside = this.blockContaining(va)
    log.fatal({
      kind: 'pool-bad-free',
      code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
      params: [0x10, va, 0, 0],
      message: inside === undefined
        ? `${routine} of ${hex(va)}, an address no pool allocation returned`
        : `${routine} of ${hex(va)}, ${va - inside.va} bytes into ${describeBlock(inside)} at ${hex(inside.va)}: free the address the allocation returned`,
      ...siteField(),
      details: { address: va },
    })
  }

  /** The driver wrote past the end of `block` (found at free): 0xC4/0x51, fatal. */
  private overrun(block: PoolBlock, corrupt: number, routine: string, where: string): never {
    this.kernel.log.fatal({
      kind: 'pool-overrun',
      code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
      params: [VERIFIER_OVERRUN_AT_FREE, block.va, corrupt, block.charged],
      message: `${routine} of ${describeBlock(block)} at ${hex(block.va)}: the driver wrote past its end (${where} was overwritten at ${hex(corrupt)}, ${corrupt - block.va - block.bytes} bytes beyond the ${block.bytes} asked for)`,
      ...siteField(),
      details: { address: block.va, corruptAt: corrupt, bytes: block.bytes, tag: tagName(block.tag), where },
    })
  }

  /** A block's own header is not what the pool wrote: BAD_POOL_HEADER, fatal. */
  private corruptHeader(block: PoolBlock, page: PoolPage, unit: number, routine: string): never {
    const headerVa = page.va + unit * POOL_UNIT
    const before = unit > 0 ? this.blocks.get(page.va + (unit - page.prev[unit]! + 1) * POOL_UNIT) : undefined
    const culprit = before === undefined
      ? 'the block itself was underrun'
      : `the ${describeBlock(before)} before it at ${hex(before.va)} ran past its end, or this block was underrun`
    this.kernel.log.fatal({
      kind: 'pool-overrun',
      code: BUGCHECK.BAD_POOL_HEADER,
      params: [0x20, headerVa, page.va + (unit + page.size[unit]!) * POOL_UNIT, 0],
      message: `${routine} of ${describeBlock(block)} at ${hex(block.va)}: its pool header at ${hex(headerVa)} was overwritten (${culprit})`,
      ...siteField(),
      details: { address: block.va, header: headerVa, tag: tagName(block.tag) },
    })
  }
}

function unitOf(va: number): number {
  return pageOffset(va) / POOL_UNIT
}

function siteField(): { site?: string } {
  const s = siteHere()
  return s === undefined ? {} : { site: s }
}
