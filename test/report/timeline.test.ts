// Time series for the HTML report in bounded memory: however long the run, at most MAX_BUCKETS
// samples per channel, each the value at the end of its bucket (report/timeline.ts).
import { describe, expect, it } from 'vitest'
import { FIRST_BUCKET_NS, MAX_BUCKETS, Sampler } from '../../src/report/timeline.js'

describe('Sampler', () => {
  it('samples each channel at the end of every bucket, and once more at the end of the run', () => {
    let sent = 0
    const s = new Sampler(() => ({ sent }))
    sent = 3
    s.advance(FIRST_BUCKET_NS) // the first bucket ended before anything at this time happens
    sent = 5
    const t = s.finish(FIRST_BUCKET_NS + 10)
    expect(t.timesNs).toEqual([FIRST_BUCKET_NS, FIRST_BUCKET_NS + 10])
    expect(t.values).toEqual({ sent: [3, 5] })
  })

  it('keeps at most MAX_BUCKETS samples over an hour of virtual time, cumulative counts exact at each kept time', () => {
    let now = 0
    const s = new Sampler(() => ({ events: Math.floor(now / 1000) }))
    const hour = 3600e9
    // As the clock calls it: before the event at `next` runs, the counters still read as of `now`.
    for (let next = 0; next < hour; next += 7_777_777) {
      s.advance(next)
      now = next
    }
    const t = s.finish(hour)
    expect(t.timesNs.length).toBeLessThanOrEqual(MAX_BUCKETS + 1)
    expect(t.timesNs.length).toBeGreaterThan(MAX_BUCKETS / 2)
    expect(t.timesNs.at(-1)).toBe(hour)
    // Times ascend, and each kept value is what the channel read when its bucket closed (before
    // time moved past it), never an average of merged buckets.
    for (let i = 1; i < t.timesNs.length; i++) expect(t.timesNs[i]!).toBeGreaterThan(t.timesNs[i - 1]!)
    t.values['events']!.forEach((v, i) => expect(v).toBeLessThanOrEqual(Math.floor(t.timesNs[i]! / 1000)))
  })

  it('a channel first seen later reads 0 before it appeared; one that stops reporting keeps its last value', () => {
    let read: Record<string, number> = { a: 1 }
    const s = new Sampler(() => read)
    s.advance(FIRST_BUCKET_NS)
    read = { b: 7 }
    const t = s.finish(2 * FIRST_BUCKET_NS)
    expect(t.values).toEqual({ a: [1, 1], b: [0, 7] })
  })
})
