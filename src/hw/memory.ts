// Sparse physical RAM.
//
// The memory map follows a PC with more than 3 GiB: RAM from 0 up to the PCI MMIO hole at
// 0xC000_0000–0xFFFF_FFFF, and the rest from 4 GiB up. A frame costs host memory only once it
// is written; never-written RAM reads as zero. Written frames live in 1 MiB slabs (256 frames
// each, in the order they were first written) so a 1 TiB machine touching 10,000 scattered
// pages costs ~40 MiB of slabs, and a frame is a slot number, not an object: the frame table
// (frame-table.ts) finds it with a few typed-array reads, so the per-access path is that and
// a DataView access, with no hashing and no allocation.
//
// This class assumes the caller already knows the address is RAM; the system bus routes
// addresses and refuses everything else.
import { FOUR_GIB, GiB, PAGE_MASK as ADDRESS_PAGE_MASK, PAGE_SIZE as ADDRESS_PAGE_SIZE, TWO_POW_32 } from './address.js'
import { FrameTable } from './frame-table.js'

// Module-local copies of constants used on every access: V8 folds a module's own `const` into
// optimized code, while an imported binding costs a cell load and a hole check at each use.
const PAGE_SIZE = ADDRESS_PAGE_SIZE
const PAGE_MASK = ADDRESS_PAGE_MASK

export const MMIO_HOLE_BASE = 0xc000_0000
export const MMIO_HOLE_END = FOUR_GIB // exclusive
export const LOW_RAM_LIMIT = MMIO_HOLE_BASE

export interface RamRange {
  readonly base: number
  readonly size: number
}

/** The default PC layout for `size` bytes of RAM: up to 3 GiB low, the rest above 4 GiB. */
export function pcMemoryMap(size: number): RamRange[] {
  if (size <= LOW_RAM_LIMIT) return [{ base: 0, size }]
  return [
    { base: 0, size: LOW_RAM_LIMIT },
    { base: FOUR_GIB, size: size - LOW_RAM_LIMIT },
  ]
}

const SLAB_SHIFT = 8 // 256 frames per slab
const SLAB_FRAMES = 1 << SLAB_SHIFT
const SLAB_BYTES = SLAB_FRAMES * PAGE_SIZE
export class PhysicalMemory {
  readonly size: number
  readonly ranges: readonly RamRange[]
  /** End (exclusive) of the RAM below the hole. */
  readonly lowEnd: number
  /** Start and end (exclusive) of the RAM above 4 GiB; equal when there is none. */
  readonly highBase: number
  readonly highEnd: number
  /** One past the highest RAM address. */
  readonly top: number
  // The RAM ranges in page frames, for the per-access check (RAM ranges are whole pages).
  private readonly lowEndFrame: number
  private readonly highBaseFrame: number
  private readonly highEndFrame: number

  private readonly slabBytes: Uint8Array[] = []
  private readonly slabViews: DataView[] = []
  /** Frame → slot for every frame written. */
  private readonly frames: FrameTable

  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
      throw new RangeError(`memory size ${size} must be a positive multiple of ${PAGE_SIZE}`)
    }
    this.size = size
    this.ranges = pcMemoryMap(size)
    this.lowEnd = this.ranges[0]!.size
    const high = this.ranges[1]
    this.highBase = high ? high.base : FOUR_GIB
    this.highEnd = high ? high.base + high.size : FOUR_GIB
    this.top = high ? this.highEnd : this.lowEnd
    this.lowEndFrame = this.lowEnd / PAGE_SIZE
    this.highBaseFrame = this.highBase / PAGE_SIZE
    this.highEndFrame = this.highEnd / PAGE_SIZE
    this.frames = new FrameTable(this.top / PAGE_SIZE)
  }

  /** True when every byte of [pa, pa + length) is RAM. */
  isRam(pa: number, length = 1): boolean {
    const last = pa + length - 1
    if (pa < 0 || length <= 0) return length === 0 && pa >= 0
    if (last < this.lowEnd) return true
    return pa >= this.highBase && last < this.highEnd
  }

  /** True when page frame `frame` is RAM (a whole frame is, or none of it). */
  isRamFrame(frame: number): boolean {
    return frame < this.lowEndFrame ? frame >= 0 : frame >= this.highBaseFrame && frame < this.highEndFrame
  }

  /**
   * Where frame `frame` lives in host memory (a slot for `slotWord`), or -1 while it has never
   * been written. A slot never moves, so a cache of translation tables may keep it.
   */
  frameSlot(frame: number): number {
    return this.frames.slotOf(frame)
  }

  /** The little-endian 32-bit word at `offset` (at most PAGE_SIZE - 4) of the frame in `slot`. */
  slotWord(slot: number, offset: number): number {
    return this.slabViews[slot >>> SLAB_SHIFT]!.getUint32(((slot & (SLAB_FRAMES - 1)) << 12) | offset, true)
  }

  /** Frames that have been written and so cost host memory. */
  get materializedFrames(): number {
    return this.frames.size
  }

  /** True when the frame has ever been written (diagnostics and tests). */
  isMaterialized(pfn: number): boolean {
    return this.slotOf(pfn) >= 0
  }

  // ---- frame slots ---------------------------------------------------------------------------

  /** The slot holding frame `pfn`, or -1 when it was never written. */
  private slotOf(pfn: number): number {
    return this.frames.slotOf(pfn)
  }

  /** The slot holding frame `pfn`, materializing the frame when it was never written. */
  private slotForWrite(pfn: number): number {
    const slot = this.frames.slotOf(pfn)
    return slot >= 0 ? slot : this.materialize(pfn)
  }

  private materialize(pfn: number): number {
    const slot = this.frames.add(pfn)
    if ((slot & (SLAB_FRAMES - 1)) === 0) {
      const buffer = new ArrayBuffer(SLAB_BYTES)
      this.slabBytes.push(new Uint8Array(buffer))
      this.slabViews.push(new DataView(buffer))
    }
    return slot
  }

  // ---- scalar access (little-endian, any alignment, any page crossing) -----------------------

  read8(pa: number): number {
    const slot = this.slotOf((pa - (pa & PAGE_MASK)) / PAGE_SIZE)
    if (slot < 0) return 0
    return this.slabBytes[slot >>> SLAB_SHIFT]![((slot & (SLAB_FRAMES - 1)) << 12) | (pa & PAGE_MASK)]!
  }

  read16(pa: number): number {
    const off = pa & PAGE_MASK
    if (off > PAGE_SIZE - 2) return this.read8(pa) | (this.read8(pa + 1) << 8)
    const slot = this.slotOf((pa - off) / PAGE_SIZE)
    if (slot < 0) return 0
    return this.slabViews[slot >>> SLAB_SHIFT]!.getUint16(((slot & (SLAB_FRAMES - 1)) << 12) | off, true)
  }

  read32(pa: number): number {
    const off = pa & PAGE_MASK
    if (off > PAGE_SIZE - 4) return (this.read16(pa) | (this.read16(pa + 2) << 16)) >>> 0
    const slot = this.slotOf((pa - off) / PAGE_SIZE)
    if (slot < 0) return 0
    return this.slabViews[slot >>> SLAB_SHIFT]!.getUint32(((slot & (SLAB_FRAMES - 1)) << 12) | off, true)
  }

  /** 64-bit read as two 32-bit halves; exact while the value stays below 2^53. */
  read64(pa: number): number {
    return this.read32(pa + 4) * TWO_POW_32 + this.read32(pa)
  }

  write8(pa: number, value: number): void {
    const slot = this.slotForWrite((pa - (pa & PAGE_MASK)) / PAGE_SIZE)
    this.slabBytes[slot >>> SLAB_SHIFT]![((slot & (SLAB_FRAMES - 1)) << 12) | (pa & PAGE_MASK)] = value
  }

  write16(pa: number, value: number): void {
    const off = pa & PAGE_MASK
    if (off > PAGE_SIZE - 2) {
      this.write8(pa, value & 0xff)
      this.write8(pa + 1, (value >>> 8) & 0xff)
      return
    }
    const slot = this.slotForWrite((pa - off) / PAGE_SIZE)
    this.slabViews[slot >>> SLAB_SHIFT]!.setUint16(((slot & (SLAB_FRAMES - 1)) << 12) | off, value, true)
  }

  write32(pa: number, value: number): void {
    const off = pa & PAGE_MASK
    if (off > PAGE_SIZE - 4) {
      this.write16(pa, value & 0xffff)
      this.write16(pa + 2, (value >>> 16) & 0xffff)
      return
    }
    const slot = this.slotForWrite((pa - off) / PAGE_SIZE)
    this.slabViews[slot >>> SLAB_SHIFT]!.setUint32(((slot & (SLAB_FRAMES - 1)) << 12) | off, value, true)
  }

  write64(pa: number, value: number): void {
    this.write32(pa, value >>> 0)
    this.write32(pa + 4, Math.floor(value / TWO_POW_32) >>> 0)
  }

  // ---- bulk access ---------------------------------------------------------------------------

  /** Copies `length` bytes at `pa` into `dst[dstOffset…]`, page by page. */
  readInto(pa: number, dst: Uint8Array, dstOffset: number, length: number): void {
    let done = 0
    while (done < length) {
      const at = pa + done
      const chunk = Math.min(PAGE_SIZE - (at & PAGE_MASK), length - done)
      this.readPage(at, dst, dstOffset + done, chunk)
      done += chunk
    }
  }

  /**
   * `readInto` for a piece that stays within one page (`(pa & PAGE_MASK) + length <=
   * PAGE_SIZE`).
   */
  readPage(pa: number, dst: Uint8Array, dstOffset: number, length: number): void {
    const offset = pa & PAGE_MASK
    this.readFrame((pa - offset) / PAGE_SIZE, offset, dst, dstOffset, length)
  }

  /**
   * `readPage` by page frame and offset (`offset + length <= PAGE_SIZE`): the DMA engine's
   * form, whose arguments stay small integers (an address above 2^31 would be a boxed double
   * on every call that is not inlined). No loop, small enough to inline.
   */
  readFrame(frame: number, offset: number, dst: Uint8Array, dstOffset: number, length: number): void {
    const slot = this.slotOf(frame)
    if (slot < 0) {
      dst.fill(0, dstOffset, dstOffset + length)
      return
    }
    const base = ((slot & (SLAB_FRAMES - 1)) << 12) | offset
    if (length <= 32) {
      // Small copies (descriptors, status words): a word load and four byte stores beat
      // both a byte loop and a subarray view.
      const view = this.slabViews[slot >>> SLAB_SHIFT]!
      let i = 0
      for (; i + 4 <= length; i += 4) {
        const w = view.getUint32(base + i, true)
        dst[dstOffset + i] = w
        dst[dstOffset + i + 1] = w >>> 8
        dst[dstOffset + i + 2] = w >>> 16
        dst[dstOffset + i + 3] = w >>> 24
      }
      if (i < length) {
        const slab = this.slabBytes[slot >>> SLAB_SHIFT]!
        for (; i < length; i++) dst[dstOffset + i] = slab[base + i]!
      }
    } else {
      dst.set(this.slabBytes[slot >>> SLAB_SHIFT]!.subarray(base, base + length), dstOffset)
    }
  }

  readBytes(pa: number, length: number): Uint8Array {
    const out = new Uint8Array(length)
    this.readInto(pa, out, 0, length)
    return out
  }

  /** Copies `src[srcOffset…srcOffset+length)` to `pa`, page by page. */
  writeFrom(pa: number, src: Uint8Array, srcOffset: number, length: number): void {
    let done = 0
    while (done < length) {
      const at = pa + done
      const chunk = Math.min(PAGE_SIZE - (at & PAGE_MASK), length - done)
      this.writePage(at, src, srcOffset + done, chunk)
      done += chunk
    }
  }

  /** `writeFrom` for a piece that stays within one page (see `readPage`). */
  writePage(pa: number, src: Uint8Array, srcOffset: number, length: number): void {
    const offset = pa & PAGE_MASK
    this.writeFrame((pa - offset) / PAGE_SIZE, offset, src, srcOffset, length)
  }

  /** `writePage` by page frame and offset (see `readFrame`). */
  writeFrame(frame: number, offset: number, src: Uint8Array, srcOffset: number, length: number): void {
    const slot = this.slotForWrite(frame)
    const base = ((slot & (SLAB_FRAMES - 1)) << 12) | offset
    if (length <= 32) {
      const view = this.slabViews[slot >>> SLAB_SHIFT]!
      let i = 0
      for (; i + 4 <= length; i += 4) {
        const s = srcOffset + i
        view.setUint32(base + i, src[s]! | (src[s + 1]! << 8) | (src[s + 2]! << 16) | (src[s + 3]! << 24), true)
      }
      if (i < length) {
        const slab = this.slabBytes[slot >>> SLAB_SHIFT]!
        for (; i < length; i++) slab[base + i] = src[srcOffset + i]!
      }
    } else {
      this.slabBytes[slot >>> SLAB_SHIFT]!.set(src.subarray(srcOffset, srcOffset + length), base)
    }
  }

  writeBytes(pa: number, bytes: Uint8Array): void {
    this.writeFrom(pa, bytes, 0, bytes.length)
  }

  /** Sets `length` bytes at `pa` to `value`. Filling never-written frames with 0 costs nothing. */
  fill(pa: number, length: number, value: number): void {
    let done = 0
    while (done < length) {
      const at = pa + done
      const off = at & PAGE_MASK
      const chunk = Math.min(PAGE_SIZE - off, length - done)
      const frame = (at - off) / PAGE_SIZE
      if (value !== 0 || this.slotOf(frame) >= 0) {
        const slot = this.slotForWrite(frame)
        const base = ((slot & (SLAB_FRAMES - 1)) << 12) | off
        this.slabBytes[slot >>> SLAB_SHIFT]!.fill(value, base, base + chunk)
      }
      done += chunk
    }
  }

  /** RAM-to-RAM copy (bounce buffers, CPU copies). Overlap is handled like memmove. */
  copy(dstPa: number, srcPa: number, length: number): void {
    if (length <= 0) return
    const tmp = this.readBytes(srcPa, length)
    this.writeFrom(dstPa, tmp, 0, length)
  }
}

/** Human name for a physical address's region in the default map. */
export function regionOf(memory: PhysicalMemory, pa: number): 'low RAM' | 'high RAM' | 'MMIO hole' | 'beyond RAM' {
  if (pa < memory.lowEnd) return 'low RAM'
  if (pa >= MMIO_HOLE_BASE && pa < MMIO_HOLE_END) return 'MMIO hole'
  if (pa >= memory.highBase && pa < memory.highEnd) return 'high RAM'
  return 'beyond RAM'
}

export const DEFAULT_MEMORY_SIZE = 8 * GiB
