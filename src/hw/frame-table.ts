// Where sparse physical memory keeps each frame that has been written: frame number → slot,
// slots handed out in the order frames are first written (memory.ts keeps the slots' bytes).
//
// One directory entry per 256 frames (1 MiB), in typed arrays, so a lookup is a few array
// reads with no hashing and no allocation, however cold the working set. Most memory is first
// written in address order (buffers filled, pages zeroed), which gives a run of frames
// consecutive slots: such a 1 MiB span is stored as a run (first slot, first and last frame)
// and its lookups never leave the directory. Frames written out of order get a 256-entry leaf.
// For a 1 TiB machine the directory is 2 × 4 MiB of lazily zeroed memory and a leaf 1 KiB;
// 10,000 scattered pages make 10,000 one-frame runs and no leaf.

/** Frames per directory entry (and per leaf): 1 MiB of the address space. */
const LEAF_SHIFT = 8
const LEAF_FRAMES = 1 << LEAF_SHIFT
const FRAME_IN_LEAF = LEAF_FRAMES - 1
/** A run's frames within its 1 MiB: first in bits 15:0, one past the last in bits 31:16. */
const RUN_END_SHIFT = 16
/** Leaves the pool holds at first; it doubles when full. */
const FIRST_LEAVES = 16

export class FrameTable {
  /** Frames with a slot; slots are 0..size-1. */
  size = 0
  /**
   * Per 256 frames below `frameLimit`: 0, nothing written; > 0, the index + 1 of the leaf
   * holding each frame's slot; < 0, a run: frames `first..end-1` (in `runs`) are in slots
   * `-entry - 1 + (frame & 255)`.
   */
  private readonly directory: Int32Array
  /** For a run: its first frame and one past its last, within the 1 MiB (RUN_END_SHIFT). */
  private readonly runs: Int32Array
  /** Frames the directory covers (a multiple of 256). */
  private readonly frameLimit: number
  /** Leaves of 256 entries, each a frame's slot + 1 (0: never written). */
  private leaves = new Int32Array(0)
  private leafCount = 0
  /** Frames outside the directory that were written anyway (never on a hot path). */
  private readonly outside = new Map<number, number>()

  /** A table for frames 0..frames-1 (others still work, through a Map). */
  constructor(frames: number) {
    const entries = Math.ceil(frames / LEAF_FRAMES)
    this.directory = new Int32Array(entries)
    this.runs = new Int32Array(entries)
    this.frameLimit = entries * LEAF_FRAMES
  }

  /** The slot of `frame`, or -1 when it has none. */
  slotOf(frame: number): number {
    if (frame < this.frameLimit && frame >= 0) {
      const d = frame >>> LEAF_SHIFT
      const entry = this.directory[d]!
      const i = frame & FRAME_IN_LEAF
      if (entry < 0) {
        const run = this.runs[d]!
        return i >= (run & 0xffff) && i < run >>> RUN_END_SHIFT ? i - entry - 1 : -1
      }
      return entry === 0 ? -1 : this.leaves[((entry - 1) << LEAF_SHIFT) | i]! - 1
    }
    return this.outside.get(frame) ?? -1
  }

  /** Gives `frame`, which has no slot, the next one (`size`) and returns it. */
  add(frame: number): number {
    const slot = this.size++
    if (frame >= this.frameLimit || frame < 0) {
      this.outside.set(frame, slot)
      return slot
    }
    const d = frame >>> LEAF_SHIFT
    const i = frame & FRAME_IN_LEAF
    const entry = this.directory[d]!
    if (entry === 0 && slot >= i) {
      // The first frame written here starts a run.
      this.directory[d] = -(slot - i) - 1
      this.runs[d] = i | ((i + 1) << RUN_END_SHIFT)
      return slot
    }
    if (entry < 0) {
      const run = this.runs[d]!
      const end = run >>> RUN_END_SHIFT
      if (i === end && -entry - 1 + i === slot) {
        this.runs[d] = (run & 0xffff) | ((end + 1) << RUN_END_SHIFT)
        return slot
      }
    }
    const leaf = entry > 0 ? entry : this.newLeaf(d)
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
}
