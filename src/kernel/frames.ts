// The PFN database: for every physical frame, free or not, and if not, what kind of memory it
// is and which allocation owns it.
//
// It must cost nothing for a 1 TiB machine, so state is kept per 2 MiB chunk of 512 frames:
// a used-count per chunk (Uint16Array, 1 MiB for 1 TiB) and a 512-bit bitmap only for chunks
// that are partly used. Frames that do not exist (the MMIO hole, the tail past the end of RAM)
// are marked used at creation and never owned. Owners are kept in a Map keyed by frame number,
// so its size follows what was allocated, not what exists.
import { PAGE_SIZE } from '../hw/address.js'
import type { RamRange } from '../hw/memory.js'
import type { Random } from '../hw/random.js'

export type FramePolicy = 'high-first' | 'low-first' | 'random'

export type FrameKind =
  | 'pool'
  | 'paged-pool'
  | 'special-pool'
  | 'contiguous'
  | 'noncached'
  | 'mdl-pages'
  | 'common-buffer'
  | 'map-register'
  | 'page-table'
  | 'iommu-table'
  | 'kernel'
  | 'filler'

/** Who holds a frame. One owner object is shared by every frame of an allocation. */
export interface FrameOwner {
  readonly id: number
  readonly kind: FrameKind
  /** What a report calls it: `pool 'Test' 256 bytes`, `common buffer 16 KiB`, … */
  readonly label: string
  readonly site?: string
  /** True for memory that belongs to the driver (not another kernel component or the OS). */
  readonly driver: boolean
}

export interface FrameRange {
  /** Lowest acceptable frame number (inclusive). */
  readonly lowest?: number
  /** Highest acceptable frame number (inclusive). */
  readonly highest?: number
}

export interface RunConstraints extends FrameRange {
  /** A run never crosses a multiple of this many frames (0 = no boundary). */
  readonly boundary?: number
}

const CHUNK_SHIFT = 9
const CHUNK = 1 << CHUNK_SHIFT // frames per chunk
const WORDS = CHUNK / 32
const ALL = 0xffff_ffff

export class FrameDatabase {
  readonly policy: FramePolicy
  /** Frames of RAM (usable or not yet used). */
  readonly totalFrames: number
  /** One past the highest frame number that exists. */
  readonly topFrame: number
  private freeCount: number
  private readonly used: Uint16Array
  private readonly bits = new Map<number, Uint32Array>()
  private readonly owners = new Map<number, FrameOwner>()
  /** Driver memory that was freed and not yet reused: what a late DMA would hit. */
  private readonly freed = new Map<number, FrameOwner>()
  private readonly rng: Random
  /** Chunks above `hintHigh` and below `hintLow` are known to be full. */
  private hintHigh: number
  private hintLow = 0
  private nextOwnerId = 1
  /** Every allocation, in order: [first frame, count]. For determinism tests and diagnostics. */
  allocationLog: number[] | null = null

  constructor(ranges: readonly RamRange[], policy: FramePolicy, rng: Random) {
    this.policy = policy
    this.rng = rng
    const top = Math.max(...ranges.map((r) => (r.base + r.size) / PAGE_SIZE))
    this.topFrame = top
    const chunks = Math.ceil(top / CHUNK)
    this.used = new Uint16Array(chunks)
    this.hintHigh = chunks - 1
    // Everything is absent until a RAM range says otherwise.
    this.used.fill(CHUNK)
    let frames = 0
    for (const r of ranges) {
      const start = r.base / PAGE_SIZE
      const end = start + r.size / PAGE_SIZE
      this.markFree(start, end)
      frames += end - start
    }
    this.totalFrames = frames
    this.freeCount = frames
  }

  get freeFrames(): number {
    return this.freeCount
  }

  /** Frames some allocation holds now (one owner record each). */
  get ownedFrames(): number {
    return this.owners.size
  }

  newOwner(kind: FrameKind, label: string, driver: boolean, site?: string): FrameOwner {
    return site === undefined
      ? { id: this.nextOwnerId++, kind, label, driver }
      : { id: this.nextOwnerId++, kind, label, driver, site }
  }

  ownerOf(pfn: number): FrameOwner | undefined {
    return this.owners.get(pfn)
  }

  /** The driver allocation that last held this frame, if it is free now. */
  freedOwnerOf(pfn: number): FrameOwner | undefined {
    return this.freed.get(pfn)
  }

  exists(pfn: number): boolean {
    return pfn >= 0 && pfn < this.topFrame && (this.isFreeFrame(pfn) || this.owners.has(pfn))
  }

  isFreeFrame(pfn: number): boolean {
    if (pfn < 0 || pfn >= this.topFrame) return false
    const c = pfn >>> CHUNK_SHIFT
    const u = this.used[c]!
    if (u === 0) return true
    if (u === CHUNK) return false
    const w = this.bits.get(c)!
    const i = pfn & (CHUNK - 1)
    return (w[i >>> 5]! & (1 << (i & 31))) === 0
  }

  // ---- allocation -----------------------------------------------------------------------------

  /** One frame by the machine's policy within the range; -1 when none is free there. */
  allocate(owner: FrameOwner, range: FrameRange = {}): number {
    const lo = Math.max(0, range.lowest ?? 0)
    const hi = Math.min(this.topFrame - 1, range.highest ?? Infinity)
    if (lo > hi) return -1
    let pfn: number
    switch (this.policy) {
      case 'high-first':
        pfn = this.findDown(lo, hi)
        break
      case 'low-first':
        pfn = this.findUp(lo, hi)
        break
      case 'random': {
        const start = this.rng.int(lo, hi)
        pfn = this.findUp(start, hi)
        if (pfn < 0 && start > lo) pfn = this.findUp(lo, start - 1)
        break
      }
    }
    if (pfn < 0) return -1
    this.take(pfn, owner)
    this.allocationLog?.push(pfn, 1)
    return pfn
  }

  /**
   * `count` frames, not necessarily contiguous (pool pages, pages for an MDL). All or nothing
   * unless `partial`, in which case as many as could be had (possibly none).
   */
  allocateMany(count: number, owner: FrameOwner, range: FrameRange = {}, partial = false): number[] | null {
    const out: number[] = []
    for (let i = 0; i < count; i++) {
      const pfn = this.allocate(owner, range)
      if (pfn < 0) {
        if (partial) return out
        for (const f of out) this.free(f)
        return null
      }
      out.push(pfn)
    }
    return out
  }

  /** A physically contiguous run of `count` frames; the first frame, or -1. */
  allocateRun(count: number, owner: FrameOwner, constraints: RunConstraints = {}): number {
    if (count <= 0) return -1
    const lo = Math.max(0, constraints.lowest ?? 0)
    const hi = Math.min(this.topFrame - 1, constraints.highest ?? Infinity)
    const boundary = constraints.boundary ?? 0
    if (lo > hi || hi - lo + 1 < count || (boundary > 0 && count > boundary)) return -1
    let chosen = -1
    let first = -1
    const pick = this.policy === 'random' ? this.rng.int(lo, hi) : -1
    this.forEachFreeRun(lo, hi, (s, e) => {
      if (e - s < count) return false
      switch (this.policy) {
        case 'low-first':
          chosen = placeLow(s, e, count, boundary)
          return chosen >= 0
        case 'high-first': {
          const at = placeHigh(s, e, count, boundary)
          if (at >= 0) chosen = at
          return false
        }
        case 'random': {
          // The first placement at or after a random frame, wrapping round to the lowest.
          if (first < 0) first = placeLow(s, e, count, boundary)
          if (e <= pick) return false
          chosen = placeLow(Math.max(s, pick), e, count, boundary)
          return chosen >= 0
        }
      }
    })
    if (chosen < 0) chosen = first
    if (chosen < 0) return -1
    for (let i = 0; i < count; i++) this.take(chosen + i, owner)
    this.allocationLog?.push(chosen, count)
    return chosen
  }

  /** Takes a specific frame if it is free (other kernel components, fragmentation). */
  claim(pfn: number, owner: FrameOwner): boolean {
    if (!this.isFreeFrame(pfn)) return false
    this.take(pfn, owner)
    return true
  }

  free(pfn: number): void {
    const owner = this.owners.get(pfn)
    if (owner === undefined) throw new RangeError(`frame ${pfn} is not allocated`)
    this.owners.delete(pfn)
    if (owner.driver) this.freed.set(pfn, owner)
    this.clearUsed(pfn)
    this.freeCount++
  }

  freeRun(start: number, count: number): void {
    for (let i = 0; i < count; i++) this.free(start + i)
  }

  /** Length in frames of the longest free run within the range (diagnostics and tests). */
  largestFreeRun(range: FrameRange = {}): number {
    let best = 0
    const lo = Math.max(0, range.lowest ?? 0)
    const hi = Math.min(this.topFrame - 1, range.highest ?? Infinity)
    this.forEachFreeRun(lo, hi, (s, e) => {
      if (e - s > best) best = e - s
      return false
    })
    return best
  }

  /**
   * Calls `visit(start, endExclusive)` for each maximal free run within [lo, hi], ascending;
   * stops when `visit` returns true. Empty and full chunks are skipped whole, and bitmaps a
   * word at a time.
   */
  forEachFreeRun(lo: number, hi: number, visit: (start: number, end: number) => boolean): void {
    let runStart = -1
    const flush = (end: number): boolean => {
      if (runStart < 0) return false
      const s = runStart
      runStart = -1
      return visit(s, end)
    }
    const lastChunk = hi >>> CHUNK_SHIFT
    for (let c = lo >>> CHUNK_SHIFT; c <= lastChunk; c++) {
      const base = c << CHUNK_SHIFT
      const a = Math.max(lo, base)
      const b = Math.min(hi, base + CHUNK - 1)
      const u = this.used[c]!
      if (u === 0) {
        if (runStart < 0) runStart = a
        continue
      }
      if (u === CHUNK) {
        if (flush(a)) return
        continue
      }
      const w = this.bits.get(c)!
      let f = a
      while (f <= b) {
        const i = f - base
        const word = w[i >>> 5]!
        if ((i & 31) === 0 && f + 31 <= b && (word === 0 || word === ALL)) {
          if (word === 0) {
            if (runStart < 0) runStart = f
          } else if (flush(f)) return
          f += 32
          continue
        }
        if ((word & (1 << (i & 31))) === 0) {
          if (runStart < 0) runStart = f
        } else if (flush(f)) return
        f++
      }
    }
    flush(hi + 1)
  }

  // ---- internals --------------------------------------------------------------------------------

  private take(pfn: number, owner: FrameOwner): void {
    this.setUsed(pfn)
    this.owners.set(pfn, owner)
    this.freed.delete(pfn)
    this.freeCount--
  }

  /** Highest free frame in [lo, hi]. */
  private findDown(lo: number, hi: number): number {
    const loC = lo >>> CHUNK_SHIFT
    let c = Math.min(hi >>> CHUNK_SHIFT, this.hintHigh)
    const fromHint = c === this.hintHigh
    for (; c >= loC; c--) {
      const u = this.used[c]!
      if (u === CHUNK) continue
      if (fromHint) this.hintHigh = c
      const base = c << CHUNK_SHIFT
      const top = Math.min(hi, base + CHUNK - 1)
      const bottom = Math.max(lo, base)
      if (u === 0) return top
      const w = this.bits.get(c)!
      for (let f = top; f >= bottom; f--) {
        const i = f - base
        const word = w[i >>> 5]!
        if (word === ALL && (i & 31) === 31 && f - 31 >= bottom) {
          f -= 31
          continue
        }
        if ((word & (1 << (i & 31))) === 0) return f
      }
    }
    return -1
  }

  /** Lowest free frame in [lo, hi]. */
  private findUp(lo: number, hi: number): number {
    const hiC = hi >>> CHUNK_SHIFT
    let c = Math.max(lo >>> CHUNK_SHIFT, this.hintLow)
    const fromHint = c === this.hintLow
    for (; c <= hiC; c++) {
      const u = this.used[c]!
      if (u === CHUNK) continue
      if (fromHint) this.hintLow = c
      const base = c << CHUNK_SHIFT
      const bottom = Math.max(lo, base)
      const top = Math.min(hi, base + CHUNK - 1)
      if (u === 0) return bottom
      const w = this.bits.get(c)!
      for (let f = bottom; f <= top; f++) {
        const i = f - base
        const word = w[i >>> 5]!
        if (word === ALL && (i & 31) === 0 && f + 31 <= top) {
          f += 31
          continue
        }
        if ((word & (1 << (i & 31))) === 0) return f
      }
    }
    return -1
  }

  private setUsed(pfn: number): void {
    const c = pfn >>> CHUNK_SHIFT
    const u = this.used[c]!
    const i = pfn & (CHUNK - 1)
    let w = this.bits.get(c)
    if (w === undefined) {
      w = new Uint32Array(WORDS) // u === 0: all free
      this.bits.set(c, w)
    }
    w[i >>> 5] = w[i >>> 5]! | (1 << (i & 31))
    this.used[c] = u + 1
    if (u + 1 === CHUNK) this.bits.delete(c)
  }

  private clearUsed(pfn: number): void {
    const c = pfn >>> CHUNK_SHIFT
    const u = this.used[c]!
    const i = pfn & (CHUNK - 1)
    let w = this.bits.get(c)
    if (w === undefined) {
      w = new Uint32Array(WORDS).fill(ALL) // u === CHUNK: all used
      this.bits.set(c, w)
    }
    w[i >>> 5] = w[i >>> 5]! & ~(1 << (i & 31))
    this.used[c] = u - 1
    if (u - 1 === 0) this.bits.delete(c)
    if (c > this.hintHigh) this.hintHigh = c
    if (c < this.hintLow) this.hintLow = c
  }

  /** Marks [start, end) free at creation (the chunks start out all-absent). */
  private markFree(start: number, end: number): void {
    let f = start
    while (f < end) {
      const c = f >>> CHUNK_SHIFT
      const base = c << CHUNK_SHIFT
      if (f === base && end - f >= CHUNK) {
        this.used[c] = 0
        this.bits.delete(c)
        f += CHUNK
        continue
      }
      this.clearUsed(f)
      f++
    }
  }
}

/** Lowest start in [s, e) for `count` frames that does not cross a `boundary` multiple. */
function placeLow(s: number, e: number, count: number, boundary: number): number {
  let x = s
  if (boundary > 0 && Math.floor(x / boundary) !== Math.floor((x + count - 1) / boundary)) {
    x = Math.ceil(x / boundary) * boundary
  }
  return x + count <= e ? x : -1
}

/** Highest start in [s, e) for `count` frames that does not cross a `boundary` multiple. */
function placeHigh(s: number, e: number, count: number, boundary: number): number {
  let x = e - count
  if (boundary > 0 && Math.floor(x / boundary) !== Math.floor((x + count - 1) / boundary)) {
    x = Math.floor((x + count - 1) / boundary) * boundary - count
  }
  return x >= s ? x : -1
}
