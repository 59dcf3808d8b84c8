// Physical-memory fragmentation as the system runs (seed rules S06, S18): after the driver
// has initialized, other "kernel components" take and give back frames as virtual time
// passes, so the longest free run shrinks step by step. At the end of the ramp no free run is
// longer than `fragmentBound(level)` frames: at level 0.5 that is 2 MiB, so a 4 MiB contiguous
// request fails while 64 KiB ones still succeed (S07's fallback has somewhere to land).
import type { Clock, Timer } from '../hw/clock.js'
import type { Random } from '../hw/random.js'
import type { FrameDatabase, FrameOwner } from './frames.js'

/** Steps of the ramp and the virtual time between them. */
export const FRAGMENTATION_STEPS = 10
export const FRAGMENTATION_STEP_NS = 1_000_000

/** The longest free run, in frames, once fragmentation at `level` (0..1] has fully set in. */
export function fragmentBound(level: number): number {
  if (level <= 0) return Infinity
  return Math.round(2 ** (4 + 10 * (1 - Math.min(1, level))))
}

/** Where the ramp starts: runs longer than 1 GiB are split at the first step. */
const INITIAL_BOUND = 1 << 18

export class Fragmenter {
  readonly level: number
  /** The bound the ramp has reached so far (Infinity before it starts). */
  currentBound = Infinity
  stepsDone = 0
  private readonly frames: FrameDatabase
  private readonly clock: Clock
  private readonly rng: Random
  private readonly filler: FrameOwner
  private readonly churn: number[] = []
  private timer: Timer | null = null

  constructor(frames: FrameDatabase, clock: Clock, rng: Random, level: number) {
    this.frames = frames
    this.clock = clock
    this.rng = rng
    this.level = level
    this.filler = frames.newOwner('filler', 'other kernel components', false)
  }

  get finished(): boolean {
    return this.stepsDone >= FRAGMENTATION_STEPS
  }

  /** Begins the ramp (the machine calls this when the driver's initialization is over). */
  start(): void {
    if (this.level <= 0 || this.timer !== null) return
    this.timer = this.clock.timer('fragmentation', () => this.step())
    this.clock.armAfter(this.timer, FRAGMENTATION_STEP_NS)
  }

  /** Runs the whole ramp at once (for tests and for `--fragmentation` at boot). */
  completeNow(): void {
    if (this.level <= 0) return
    if (this.timer !== null) this.clock.cancel(this.timer)
    while (!this.finished) this.step(false)
  }

  private step(rearm = true): void {
    this.stepsDone++
    const target = fragmentBound(this.level)
    const ratio = (INITIAL_BOUND / target) ** ((FRAGMENTATION_STEPS - this.stepsDone) / (FRAGMENTATION_STEPS - 1))
    this.currentBound = Math.max(target, Math.round(target * ratio))
    // Churn first: giving a frame back can join two runs, and the split must see the result.
    this.stirChurn()
    this.splitRunsLongerThan(this.currentBound)
    if (rearm && !this.finished && this.timer !== null) this.clock.armAfter(this.timer, FRAGMENTATION_STEP_NS)
  }

  /** Places filler frames so that no free run is longer than `bound`, at seeded positions. */
  private splitRunsLongerThan(bound: number): void {
    const long: Array<[number, number]> = []
    this.frames.forEachFreeRun(0, this.frames.topFrame - 1, (s, e) => {
      if (e - s > bound) long.push([s, e])
      return false
    })
    for (const [start, end] of long) {
      let s = start
      while (end - s > bound) {
        const jitter = this.rng.int(0, Math.max(0, bound >> 2))
        const at = s + bound - jitter
        this.frames.claim(at, this.filler)
        s = at + 1
      }
    }
  }

  /** Other components come and go: take a few random frames, give back about half the older ones. */
  private stirChurn(): void {
    const take = Math.ceil(64 * this.level)
    const top = this.frames.topFrame - 1
    for (let i = 0; i < take; i++) {
      const pfn = this.rng.int(0, top)
      if (this.frames.claim(pfn, this.filler)) this.churn.push(pfn)
    }
    for (let i = this.churn.length - 1; i >= 0; i--) {
      if (this.rng.chance(1, 2)) {
        this.frames.free(this.churn[i]!)
        this.churn.splice(i, 1)
      }
    }
  }
}
