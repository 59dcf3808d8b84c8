// Time series over virtual time in bounded memory: a fixed number of buckets whose width
// doubles whenever the run outlasts them (adjacent buckets merge pairwise), so a run of a
// microsecond and one of an hour both end with at most MAX_BUCKETS samples per channel.
// Every channel is sampled at the end of each bucket: cumulative counters (frames sent) keep
// their meaning when buckets merge (the later sample is the pair's end), and gauges (pool
// bytes outstanding) read as the value at that moment.

/** Samples kept per channel; even, so a full set halves exactly. */
export const MAX_BUCKETS = 200
/** The first bucket width: fine enough for initialization, which takes microseconds. */
export const FIRST_BUCKET_NS = 1000

/** A recorded series set, as the report's `timeline` carries it. */
export interface TimeSeries {
  /** End of each sample's bucket in virtual ns; the last one is the end of the run. */
  readonly timesNs: number[]
  /** Channel name → one value per entry of `timesNs`. */
  readonly values: Record<string, number[]>
}

export class Sampler {
  private width = FIRST_BUCKET_NS
  private readonly times: number[] = []
  private readonly channels = new Map<string, number[]>()
  private readonly read: () => ReadonlyMap<string, number> | Record<string, number>

  /** `read` returns every channel's current value; a channel first seen later reads 0 before. */
  constructor(read: () => ReadonlyMap<string, number> | Record<string, number>) {
    this.read = read
  }

  /** The next bucket end: the time from which `advance` must be called. */
  get nextAt(): number {
    return (this.times.length + 1) * this.width
  }

  /** Time reached `now` (before anything at `now` happens): close every bucket that ended. */
  advance(now: number): void {
    while (now >= this.nextAt) {
      this.take(this.nextAt)
      if (this.times.length === MAX_BUCKETS) this.halve()
    }
  }

  /** The series up to `endNs` (a last, partial bucket when the run ended inside one). */
  finish(endNs: number): TimeSeries {
    this.advance(endNs)
    const last = this.times.at(-1)
    if (last === undefined || last < endNs) this.take(endNs)
    const values: Record<string, number[]> = {}
    for (const name of [...this.channels.keys()].sort()) values[name] = [...this.channels.get(name)!]
    return { timesNs: [...this.times], values }
  }

  private take(at: number): void {
    const now = this.read()
    const entries = now instanceof Map ? [...now] : Object.entries(now)
    for (const [name, value] of entries) {
      let series = this.channels.get(name)
      if (series === undefined) this.channels.set(name, (series = new Array<number>(this.times.length).fill(0)))
      series.push(value)
    }
    this.times.push(at)
    // A channel that did not report this time keeps its last value.
    for (const series of this.channels.values()) if (series.length < this.times.length) series.push(series.at(-1) ?? 0)
  }

  /** Twice as wide: keep the samples at the end of each pair. */
  private halve(): void {
    const keep = <T>(a: T[]): T[] => a.filter((_, i) => i % 2 === 1)
    const times = keep(this.times)
    this.times.length = 0
    this.times.push(...times)
    for (const [name, series] of this.channels) this.channels.set(name, keep(series))
    this.width *= 2
  }
}
