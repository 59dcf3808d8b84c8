// The kernel pools (paged and nonpaged), laid out as seed 002 documents (S09, S10, S21, S22),
// for x64 and, on the x86 machine, for 32-bit Windows (8 where x64 has 16):
//
// - A request of at most PAGE_SIZE - sizeof(POOL_HEADER) bytes is a small block: a 16-byte
//   (x86: 8-byte) pool header (real bytes, pool-header.ts) followed by the caller's bytes,
//   carved from a pool page in units of the header's size. It gets exactly the bytes asked for,
//   16-byte (x86: 8-byte) aligned (64 for the cache-aligned types), and never crosses a page. Blocks sit back to back, so running off the end of one
//   overwrites the next one's header; the free of either block finds it (pool-small.ts).
// - A larger request gets whole pages, page-aligned, virtually contiguous but physically
//   scattered, with no header (Windows' big-page pool keeps its tags in a side table); the
//   unused tail of the last page is wasted, and filled with a pattern the free checks.
// - With the verifier's special pool on, a driver's small requests each get their own page
//   between guard pages (special-pool.ts).
//
// The blocks map is the truth (size, tag, site); the bytes in memory are what a driver can
// corrupt, and the free compares the two. This is the internal allocator: no IRQL rules, no
// fault decisions (the driver-facing routines in ex-api.ts add those).
import { PAGE_SIZE, hex, pageNumber, type VirtualAddress, asVirtual } from '../hw/address.js'
import { BUGCHECK } from './bugcheck.js'
import type { FindingsLog } from './findings.js'
import type { CallSite } from './calls.js'
import { FILL_GUARD, FILL_UNINITIALIZED } from './fill-patterns.js'
import type { Kernel } from './kernel.js'
import { UNINITIALIZED_FILL_LIMIT, type MappedMemory } from './mm.js'
import { freeSite, pageNote } from './page-notes.js'
import { POOL_HEADER_BYTES, patternBreak, poolHeaderFormat, type PoolHeaderFormat } from './pool-header.js'
import { SmallPool, type PoolPage, type SmallDamage } from './pool-small.js'
import { PoolTracker } from './pool-tracker.js'
import { SpecialPool, type SpecialLayout } from './special-pool.js'
import { siteHere } from './sites.js'
import { tagName } from './tags.js'
import { decodePoolType } from './wdm.js'

/** The largest request that is a small block on x64: PAGE_SIZE - sizeof(POOL_HEADER) (S09, S22); `Pool.smallMax` for the machine's. */
export const SMALL_POOL_MAX = PAGE_SIZE - POOL_HEADER_BYTES
/** Cache-aligned data starts on a 64-byte line, so at most PAGE_SIZE - 64 bytes of a page remain. */
const CACHE_ALIGNED_SMALL_MAX = PAGE_SIZE - 64

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

export type { PoolPage }

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
  /**
   * Highest acceptable physical address, inclusive (NdisAllocateMemory's HighestAcceptableAddress,
   * S02). A bounded request is served as whole pages, every one of them at or below it.
   */
  readonly highest?: number
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
  /** The machine's POOL_HEADER (16 bytes on x64, 8 on x86), also the small-block unit. */
  readonly format: PoolHeaderFormat
  /** The largest request that is a small block: PAGE_SIZE - sizeof(POOL_HEADER) (S09, S22). */
  readonly smallMax: number
  private readonly kernel: Kernel
  private readonly small: SmallPool
  private readonly blocks = new Map<number, PoolBlock>()
  /** Page index → the large or special-pool block covering it. */
  private readonly bigPages = new Map<number, PoolBlock>()
  private readonly freed = new Map<number, FreedBlock>()
  /** The last FREED_MEMORY frees in order, to evict the oldest (a ring). */
  private readonly freedOrder: Array<{ readonly va: number; readonly record: FreedBlock } | undefined> = []
  private freedNext = 0
  private readonly freeListeners: Array<(block: PoolBlock) => void> = []
  private serial = 0

  constructor(kernel: Kernel) {
    this.kernel = kernel
    this.format = poolHeaderFormat(kernel.space.arch)
    this.smallMax = PAGE_SIZE - this.format.bytes
    this.special = new SpecialPool(kernel, this.format)
    this.small = new SmallPool(kernel, this.format, (va) => {
      const b = this.blocks.get(va)!
      return { tag: b.tag, bytes: b.bytes, paged: b.paged, cacheAligned: decodePoolType(b.poolType).cacheAligned }
    })
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
    const big = this.bigPages.get(pageNumber(va))
    if (big !== undefined) return big
    const start = this.small.containing(va)
    return start === undefined ? undefined : this.blocks.get(start)
  }

  /** The allocator: a block for `bytes` of `poolType` tagged `tag`, or 0 when memory ran out. */
  allocate(poolType: number, bytes: number, tag: number, options: PoolAllocateOptions = {}): VirtualAddress {
    const info = decodePoolType(poolType)
    const driver = options.driver ?? true
    const site = options.site
    let va = 0
    if ((options.specialPool === true || (driver && this.kernel.options.specialPool)) && this.special.fits(bytes, info.cacheAligned)) {
      const s = this.special.allocate(bytes, tag, info, options.specialUnderrun === true, options.zero === true, site)
      if (s !== null) va = this.record(bytes, tag, poolType, info.paged, 'special', PAGE_SIZE, driver, site, null, 0, s.memory, s.layout, s.va).va
    } else if (bytes <= this.smallMax && !(info.cacheAligned && bytes > CACHE_ALIGNED_SMALL_MAX) && options.highest === undefined) {
      this.small.allocate(bytes, info.paged, info.cacheAligned, options.zero === true, (at, page, unit, charged) => {
        va = this.record(bytes, tag, poolType, info.paged, 'small', charged, driver, site, page, unit, null, null, at).va
      })
    } else {
      va = this.allocateLarge(bytes, tag, poolType, info.paged, driver, options)?.va ?? 0
    }
    // Pool tracking (poolmon, the report's pool.byTag) is the driver's usage, not the system's.
    if (va !== 0 && driver) this.tracker.allocated(tag, info.paged, bytes)
    return asVirtual(va)
  }

  /**
   * Frees the block at `va` after checking it: a double free (0xC2/0x07), an address that is
   * not a block (0xC4/0x10), a corrupted header or slack (0x19, 0xC4/0x51; special pool 0xC1)
   * are fatal, and so is a wrong tag (0xC2/0x0A).
   */
  free(va: number, options: PoolFreeOptions = {}): void {
    const log = this.kernel.log
    log.throwIfStopped()
    const routine = options.routine ?? 'ExFreePool'
    const block = this.blocks.get(va)
    if (block === undefined) this.badFree(va, routine)
    // Bug check 0xC2 reference, 0x0A: freeing pool with the wrong tag. Windows bug checks on it
    // whether or not Driver Verifier runs (the memory may be another component's): fatal.
    if (options.tag !== undefined && options.tag >>> 0 !== block.tag) {
      log.fatal({
        kind: 'pool-free-mismatch',
        code: BUGCHECK.BAD_POOL_CALLER,
        params: [0x0a, va, block.tag, options.tag >>> 0],
        message: `${routine} of ${describeBlock(block)} at ${hex(va)} with tag '${tagName(options.tag)}': it was allocated with tag '${tagName(block.tag)}'`,
        ...siteField(),
        details: { address: va, allocatedTag: tagName(block.tag), freedTag: tagName(options.tag) },
      })
    }
    for (const listener of this.freeListeners) listener(block)
    if (block.kind === 'small') {
      const page = block.page!
      const damage = this.small.check(page, block.unit, block.bytes)
      if (damage !== null) this.damaged(block, damage, routine)
      const header = this.small.headerContents(page, block.unit)
      this.forget(block, header)
      this.small.release(page, block.unit, () =>
        pageNote(`${page.paged ? 'paged' : 'nonpaged'} pool page, freed with its last block, ${describeBlock(block)}`, block.site, freeSite(this.kernel)),
      )
    } else if (block.kind === 'large') {
      this.freeLarge(block, routine)
    } else {
      this.special.verify(block, routine)
      this.special.release(block, pageNote(`freed ${describeBlock(block)} (special pool)`, block.site, freeSite(this.kernel), 'freed-special-pool'))
      this.forget(block, 0)
    }
    if (block.driver) this.tracker.freed(block.tag, block.paged, block.bytes)
  }

  /** A lookaside list handed the block out again: leaks name that call. */
  setSite(va: number, site: CallSite | undefined): void {
    const block = this.blocks.get(va)
    if (block !== undefined) block.site = site
  }

  // ---- large blocks -----------------------------------------------------------------------------

  private allocateLarge(bytes: number, tag: number, poolType: number, paged: boolean, driver: boolean, options: PoolAllocateOptions): PoolBlock | null {
    const pages = Math.max(1, Math.ceil(bytes / PAGE_SIZE))
    const label = `pool '${tagName(tag)}' ${bytes} bytes`
    const request = { kind: paged ? 'paged-pool' : 'pool', label, driver, ...(options.highest === undefined ? {} : { highest: options.highest }) } as const
    const memory = this.kernel.mm.allocateMapped(pages, request, { paged }, 'keep')
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
    this.kernel.mm.freeMapped(memory, pageNote(`freed ${describeBlock(block)}`, block.site, freeSite(this.kernel)))
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
    if (memory !== null) for (let i = 0; i < memory.pages; i++) this.bigPages.set(pageNumber(memory.va) + i, block)
    return block
  }

  private forget(block: PoolBlock, headerContents: number): void {
    this.blocks.delete(block.va)
    if (block.memory !== null) for (let i = 0; i < block.memory.pages; i++) this.bigPages.delete(pageNumber(block.memory.va) + i)
    // Forget the oldest freed address through a ring of the order they were freed in: taking a
    // Map's first key instead scans past every entry deleted before it, which made each free
    // slower than the last (tens of microseconds after a few hundred thousand frees).
    const record: FreedBlock = { tag: block.tag, bytes: block.bytes, paged: block.paged, header: headerContents }
    const slot = this.freedNext
    this.freedNext = (slot + 1) % FREED_MEMORY
    const evict = this.freedOrder[slot]
    if (evict !== undefined && this.freed.get(evict.va) === evict.record) this.freed.delete(evict.va)
    this.freedOrder[slot] = { va: block.va, record }
    this.freed.set(block.va, record)
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

  /** The free-time check found the block's surroundings overwritten: fatal. */
  private damaged(block: PoolBlock, damage: SmallDamage, routine: string): never {
    if (damage.where === 'slack') this.overrun(block, damage.at, routine, 'the slack after it')
    if (damage.where === 'next-header') this.overrun(block, damage.at, routine, 'the pool header of the next block')
    // Its own header: BAD_POOL_HEADER. The block before it ran off its end, or this one was underrun.
    const page = block.page!
    const headerVa = block.va - this.format.bytes
    const beforeVa = this.small.previous(page, block.unit)
    const before = beforeVa === undefined ? undefined : this.blocks.get(beforeVa)
    const culprit = before === undefined
      ? 'the block itself was underrun'
      : `the ${describeBlock(before)} before it at ${hex(before.va)} ran past its end, or this block was underrun`
    this.kernel.log.fatal({
      kind: 'pool-overrun',
      code: BUGCHECK.BAD_POOL_HEADER,
      params: [0x20, headerVa, headerVa + block.charged, 0],
      message: `${routine} of ${describeBlock(block)} at ${hex(block.va)}: its pool header at ${hex(headerVa)} was overwritten (${culprit})`,
      ...siteField(),
      details: { address: block.va, header: headerVa, corruptAt: damage.at, tag: tagName(block.tag) },
    })
  }
}

function siteField(): { site?: string } {
  const s = siteHere()
  return s === undefined ? {} : { site: s }
}
