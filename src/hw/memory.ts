// Sparse physical RAM.
//
// The memory map follows a PC with more than 3 GiB: RAM from 0 up to the PCI MMIO hole at
// 0xC000_0000–0xFFFF_FFFF, and the rest from 4 GiB up. A frame costs host memory only once it
// is written; never-written RAM reads as zero. Written frames live in 1 MiB slabs (256 frames
// each, in the order they were first written) so a 1 TiB machine touching 10,000 scattered
// pages costs ~40 MiB of slabs, and a frame is a slot number, not an object. Frame → slot is
// a table in typed arrays with one directory entry per 256 frames (1 MiB), so the per-access
// path is a few array reads and a DataView access, with no hashing and no allocation. Most
// memory is first written in address order (buffers filled, pages zeroed), which gives a
// run of frames consecutive slots: such a 1 MiB span is stored as a run (first slot, first
// and last frame) and a lookup never leaves the directory, however cold the working set.
// Frames written out of order get a 256-entry leaf.
//
// This class assumes the caller already knows the address is RAM; the system bus routes
// addresses and refuses everything else.
import { FOUR_GIB, GiB, PAGE_MASK as ADDRESS_PAGE_MASK, PAGE_SIZE as ADDRESS_PAGE_SIZE, TWO_POW_32 } from './address.js'

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
/** Frames per directory entry (and per leaf): 1 MiB of the address space. For a 1 TiB
 * machine the directory is 2 × 4 MiB of lazily zeroed memory; a leaf costs 1 KiB. */
const LEAF_SHIFT = 8
const LEAF_FRAMES = 1 << LEAF_SHIFT
const FRAME_IN_LEAF = LEAF_FRAMES - 1
/** A run's frames within its 1 MiB: first in bits 15:0, one past the last in bits 31:16. */
const RUN_END_SHIFT = 16
/** Leaves the pool holds at first; it doubles when full. */
const FIRST_LEAVES = 16

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
  private nextSlot = 0
  /**
   * Frame table, level 1, per 256 frames below `frameLimit`: 0, nothing written; > 0, the
   * index + 1 of the leaf holding each frame's slot; < 0, a run: frames `first..end-1` (in
   * `runs`) live in slots `-entry - 1 + (frame & 255)`.
   */
  private readonly directory: Int32Array
  /** For a run: its first frame and one past its last, within the 1 MiB (RUN_END_SHIFT). */
  private readonly runs: Int32Array
  /** Frames the directory covers: every RAM frame (a multiple of 256). */
  private readonly frameLimit: number
  /** Frame table, level 2: leaves of 256 entries, each a frame's slot + 1 (0: never written). */
  private leaves = new Int32Array(0)
  private leafCount = 0
  /** Frames beyond RAM that were written anyway (the class trusts its caller; never on a hot path). */
  private readonly outside = new Map<number, number>()

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
    const leavesNeeded = Math.ceil(this.top / PAGE_SIZE / LEAF_FRAMES)
    this.directory = new Int32Array(leavesNeeded)
    this.runs = new Int32Array(leavesNeeded)
    this.frameLimit = leavesNeeded * LEAF_FRAMES
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
    return this.slotOf(frame)
  }

  /** The little-endian 32-bit word at `offset` (at most PAGE_SIZE - 4) of the frame in `slot`. */
  slotWord(slot: number, offset: number): number {
    return this.slabViews[slot >>> SLAB_SHIFT]!.getUint32(((slot & (SLAB_FRAMES - 1)) << 12) | offset, true)
  }

  /** Frames that have been written and so cost host memory. */
  get materializedFrames(): number {
    return this.nextSlot
  }

  /** True when the frame has ever been written (diagnostics and tests). */
  isMaterialized(pfn: number): boolean {
    return this.slotOf(pfn) >= 0
  }

  // ---- frame slots ---------------------------------------------------------------------------

  /** The slot holding frame `pfn`, or -1 when it was never written. */
  private slotOf(pfn: number): number {
    if (pfn < this.frameLimit) {
      const d = pfn >>> LEAF_SHIFT
      const entry = this.directory[d]!
      const i = pfn & FRAME_IN_LEAF
      if (entry < 0) {
        const run = this.runs[d]!
        return i >= (run & 0xffff) && i < run >>> RUN_END_SHIFT ? i - entry - 1 : -1
      }
      return entry === 0 ? -1 : this.leaves[((entry - 1) << LEAF_SHIFT) | i]! - 1
    }
    return this.outside.get(pfn) ?? -1
  }

  /** The slot holding frame `pfn`, materializing the frame when it was never written. */
  private slotForWrite(pfn: number): number {
    if (pfn < this.frameLimit) {
      const d = pfn >>> LEAF_SHIFT
      const entry = this.directory[d]!
      const i = pfn & FRAME_IN_LEAF
      if (entry < 0) {
        const run = this.runs[d]!
        if (i >= (run & 0xffff) && i < run >>> RUN_END_SHIFT) return i - entry - 1
      } else if (entry > 0) {
        const slot = this.leaves[((entry - 1) << LEAF_SHIFT) | i]!
        if (slot !== 0) return slot - 1
      }
      return this.materialize(d, i)
    }
    let slot = this.outside.get(pfn)
    if (slot === undefined) {
      slot = this.newSlot()
      this.outside.set(pfn, slot)
    }
    return slot
  }

  /** Gives frame `i` of directory entry `d` the next slot: extending a run when it can. */
  private materialize(d: number, i: number): number {
    const entry = this.directory[d]!
    const next = this.nextSlot
    if (entry === 0 && next >= i) {
      // The first frame written here starts a run.
      this.directory[d] = -(next - i) - 1
      this.runs[d] = i | ((i + 1) << RUN_END_SHIFT)
      return this.newSlot()
    }
    if (entry < 0) {
      const run = this.runs[d]!
      const end = run >>> RUN_END_SHIFT
      if (i === end && -entry - 1 + i === next) {
        this.runs[d] = (run & 0xffff) | ((end + 1) << RUN_END_SHIFT)
        return this.newSlot()
      }
    }
    const leaf = entry > 0 ? entry : this.newLeaf(d)
    const slot = this.newSlot()
    this.leaves[((leaf - 1) << LEAF_SHIFT) | i] = slot + 1
    return slot
  }

  /** A leaf for directory entry `d`, holding the run there was (if any); returns its index + 1. */
  private newLeaf(d: number): number {
    if ((this.leafCount + 1) * LEAF_FRAMES > this.leaves.length) {
      const grown = new Int32Array(Math.max(FIRST_LEAVES, this.leafCount * 2) * LEAF_FRAMES)
      grown.set(this.leaves)
      this.leaves = grown
    }
    const leaf = ++this.leafCount
    const entry = this.directory[d]!
    if (entry < 0) {
      const run = this.runs[d]!
      const at = (leaf - 1) << LEAF_SHIFT
      for (let i = run & 0xffff; i < run >>> RUN_END_SHIFT; i++) this.leaves[at | i] = i - entry
      this.runs[d] = 0
    }
    this.directory[d] = leaf
    return leaf
  }

  private newSlot(): number {
    const slot = this.nextSlot++
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
   * PAGE_SIZE`), as a device's DMA engine splits its accesses.
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
