// Driver Verifier's special pool (Microsoft, "Special Pool"): each allocation on its own page,
// the pages before and after it inaccessible, the rest of its page filled with a pattern.
//
// "Verify End" (the default) puts the block at the end of its page, so the first byte past the
// end lands on the guard page and faults at once: `pool-overrun`, bug check 0xD6
// (DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION; the accessor raises it from the guard's note).
// The block keeps the pool's alignment (16 bytes on x64, 8 on x86), so a size that is not a
// multiple of it leaves
// slack between the block's end and the page's end; writes there, and underruns into the
// pattern before the block, are found when the block is freed: bug check 0xC1
// (SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION) with parameter 4 = 0x24 (bytes after the end
// overwritten) or 0x23 (nearby bytes within the page). "Verify Start"
// (ExAllocatePoolWithTagPriority's XxxSpecialPoolUnderrun) puts the block at the page start
// instead: underruns fault at once and overruns are found at free.
//
// Special pool serves requests that fit in a page beside its header; larger ones come from
// the normal pool, as on Windows.
import { PAGE_SIZE, hex } from '../hw/address.js'
import { BUGCHECK } from './bugcheck.js'
import type { CallSite } from './calls.js'
import { FILL_GUARD, FILL_UNINITIALIZED } from './fill-patterns.js'
import type { Kernel } from './kernel.js'
import type { MappedMemory } from './mm.js'
import { pageNote } from './page-notes.js'
import type { PageNote } from './address-space.js'
import { HEADER_FLAG_CACHE_ALIGNED, HEADER_FLAG_SPECIAL, patternBreak, type PoolHeader, type PoolHeaderFormat } from './pool-header.js'
import { siteHere } from './sites.js'
import { tagName } from './tags.js'
import { CACHE_LINE, decodePoolType, type PoolTypeInfo } from './wdm.js'

/** Where things are in a special-pool page (offsets from the page start). */
export interface SpecialLayout {
  readonly underrun: boolean
  readonly headerOffset: number
  readonly dataOffset: number
}

/** 0xC1 parameter 4: nearby bytes in the page corrupted / bytes after the end overwritten. */
export const SPECIAL_NEARBY_CORRUPTED = 0x23
export const SPECIAL_AFTER_END_CORRUPTED = 0x24

/** What the verifier needs from a special-pool block. */
interface SpecialBlock {
  readonly va: number
  readonly bytes: number
  readonly tag: number
  readonly paged: boolean
  readonly poolType: number
  readonly memory: MappedMemory | null
  readonly special: SpecialLayout | null
}

export class SpecialPool {
  private readonly kernel: Kernel
  private readonly format: PoolHeaderFormat

  constructor(kernel: Kernel, format: PoolHeaderFormat) {
    this.kernel = kernel
    this.format = format
  }

  /** Whether a request of `bytes` can be served from special pool. */
  fits(bytes: number, cacheAligned: boolean): boolean {
    return bytes > 0 && roundUp(bytes, cacheAligned ? CACHE_LINE : this.format.bytes) <= PAGE_SIZE - this.format.bytes
  }

  allocate(bytes: number, tag: number, info: PoolTypeInfo, underrun: boolean, zero: boolean, site: CallSite | undefined): { va: number; memory: MappedMemory; layout: SpecialLayout } | null {
    const what = `special pool block '${tagName(tag)}' (${bytes} bytes)`
    const guardNote = pageNote(what, site, undefined, 'special-pool')
    const memory = this.kernel.mm.allocateMapped(
      1,
      { kind: 'special-pool', label: what },
      { paged: info.paged, guardBefore: 1, guardAfter: 1, guardNote },
      'keep',
    )
    if (memory === null) return null
    const rounded = roundUp(bytes, info.cacheAligned ? CACHE_LINE : this.format.bytes)
    const layout: SpecialLayout = underrun
      ? { underrun, dataOffset: 0, headerOffset: PAGE_SIZE - this.format.bytes }
      : { underrun, dataOffset: PAGE_SIZE - rounded, headerOffset: 0 }
    const pa = memory.pfns[0]! * PAGE_SIZE
    const ram = this.kernel.ram
    ram.fill(pa, PAGE_SIZE, FILL_GUARD)
    ram.fill(pa + layout.dataOffset, bytes, zero ? 0 : FILL_UNINITIALIZED)
    this.format.write(ram, pa + layout.headerOffset, header(bytes, tag, info.paged, info.cacheAligned))
    return { va: memory.va + layout.dataOffset, memory, layout }
  }

  /** The free-time check: the pattern around the block and the page header must be intact. */
  verify(block: SpecialBlock, routine: string): void {
    const ram = this.kernel.ram
    const layout = block.special!
    const pa = block.memory!.pfns[0]! * PAGE_SIZE
    const end = layout.dataOffset + block.bytes
    const pageBase = block.va - layout.dataOffset
    const cacheAligned = decodePoolType(block.poolType).cacheAligned
    const expected = header(block.bytes, block.tag, block.paged, cacheAligned)
    if (layout.underrun) {
      const after = patternBreak(ram, pa + end, layout.headerOffset - end, FILL_GUARD)
      const inHeader = this.format.difference(ram, pa + layout.headerOffset, expected)
      const at = after >= 0 ? end + after : inHeader >= 0 ? layout.headerOffset + inHeader : -1
      if (at >= 0) this.corrupted(block, pageBase + at, SPECIAL_AFTER_END_CORRUPTED, routine)
      return
    }
    const after = patternBreak(ram, pa + end, PAGE_SIZE - end, FILL_GUARD)
    if (after >= 0) this.corrupted(block, pageBase + end + after, SPECIAL_AFTER_END_CORRUPTED, routine)
    const inHeader = this.format.difference(ram, pa, expected)
    const hb = this.format.bytes
    const before = patternBreak(ram, pa + hb, layout.dataOffset - hb, FILL_GUARD)
    const at = inHeader >= 0 ? inHeader : before >= 0 ? hb + before : -1
    if (at >= 0) this.corrupted(block, pageBase + at, SPECIAL_NEARBY_CORRUPTED, routine)
  }

  /** Unmaps the page (FREED, so a late access faults) and frees its frame and guard pages. */
  release(block: SpecialBlock, note: PageNote): void {
    this.kernel.mm.freeMapped(block.memory!, note)
  }

  private corrupted(block: SpecialBlock, at: number, p4: number, routine: string): never {
    const site = siteHere()
    const where = p4 === SPECIAL_AFTER_END_CORRUPTED
      ? `${at - block.va - block.bytes} bytes after its end`
      : at < block.va ? `${block.va - at} bytes before its start` : 'inside its page'
    this.kernel.log.fatal({
      kind: 'pool-overrun',
      code: BUGCHECK.SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION,
      params: [block.va, at, 0, p4],
      message: `${routine} of special pool block '${tagName(block.tag)}' (${block.bytes} bytes) at ${hex(block.va)}: the pattern ${where} was overwritten at ${hex(at)}`,
      ...(site === undefined ? {} : { site }),
      details: { address: block.va, corruptAt: at, bytes: block.bytes, tag: tagName(block.tag) },
    })
  }
}

function header(bytes: number, tag: number, paged: boolean, cacheAligned: boolean): PoolHeader {
  return {
    previousSize: 0,
    blockSize: PAGE_SIZE / 16,
    tag,
    bytes,
    type: paged ? 2 : 1,
    flags: HEADER_FLAG_SPECIAL | (cacheAligned ? HEADER_FLAG_CACHE_ALIGNED : 0),
  }
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to
}
