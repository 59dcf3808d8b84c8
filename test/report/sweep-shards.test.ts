// Sharded sweeps: shard i of n runs a deterministic slice of the same planned runs, and merging
// every shard's --json gives exactly the report of the unsharded sweep (same runs, same order,
// same summary); a merge that cannot be right says why.
import { describe, expect, it } from 'vitest'
import { loadMiniport } from '../../src/scenario.js'
import { sweep } from '../../src/sweep.js'
import { MergeError, mergeShards, shardJson, sweepJson, type ShardJson } from '../../src/report/sweep-json.js'
import { parseShard, shardPositions } from '../../src/faults/shard.js'

const scenario = { packets: 2, size: 200, rx: 0 }

async function shardsOf(name: string, count: number, config = {}): Promise<ShardJson[]> {
  const mp = await loadMiniport(name)
  const out: ShardJson[] = []
  for (let index = 1; index <= count; index++) {
    const r = await sweep(mp, { config, scenario, jobs: 1, shard: { index, count } })
    out.push(JSON.parse(JSON.stringify(shardJson({ ...r, shard: r.shard! }))) as ShardJson)
  }
  return out
}

async function unsharded(name: string, config = {}): Promise<string> {
  const r = await sweep(await loadMiniport(name), { config, scenario, jobs: 1 })
  return JSON.stringify(sweepJson(r), null, 2)
}

const parts = (shards: readonly ShardJson[]): Array<{ file: string; json: unknown }> => shards.map((s, i) => ({ file: `part-${i + 1}.json`, json: s }))

describe('shards: deterministic slices of one plan', () => {
  it('every planned run is in exactly one shard, interleaved so each shard gets early and late calls', () => {
    const seen = new Array<number>(10).fill(0)
    for (let i = 1; i <= 3; i++) for (const k of shardPositions(10, { index: i, count: 3 })) seen[k]!++
    expect(seen).toEqual(new Array(10).fill(1))
    expect(shardPositions(10, { index: 2, count: 3 })).toEqual([1, 4, 7])
    expect(shardPositions(2, { index: 3, count: 3 })).toEqual([])
  })

  it('parses I/N and refuses anything else', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 })
    expect(parseShard('0/4')).toEqual({ reason: 'out-of-range', index: 0, count: 4 })
    expect(parseShard('5/4')).toEqual({ reason: 'out-of-range', index: 5, count: 4 })
    expect(parseShard('2 of 4')).toEqual({ reason: 'not-i-of-n' })
  })
})

describe('sharded then merged equals unsharded (JSON compared)', () => {
  it('e1000: three shards merged give the unsharded sweep byte for byte', async () => {
    const shards = await shardsOf('e1000', 3)
    expect(shards.map((s) => s.runs.length).reduce((a, b) => a + b, 0)).toBe(shards[0]!.shard.planned)
    expect(shards[0]!.shard.planned).toBeGreaterThan(500)
    const merged = JSON.stringify(mergeShards(parts(shards)), null, 2)
    expect(merged).toBe(await unsharded('e1000'))
  })

  it('a buggy example (leaks when an allocation fails): merged outcomes and summary equal the unsharded sweep', async () => {
    const shards = await shardsOf('buggy/leak-on-halt', 2, { iommu: true })
    const merged = mergeShards(parts(shards.reverse())) // the order of the files does not matter
    const whole = await unsharded('buggy/leak-on-halt', { iommu: true })
    expect(merged.summary.leak).toBeGreaterThan(0)
    expect(JSON.stringify(merged, null, 2)).toBe(whole)
  })
})

describe('merge refuses what cannot be one sweep', () => {
  it('names a missing shard, a duplicated one, and a whole sweep given as a shard', async () => {
    const shards = await shardsOf('test/support/miniports/tiny.ts', 3)
    const error = (list: Array<{ file: string; json: unknown }>): string => {
      try {
        mergeShards(list)
      } catch (e) {
        expect(e).toBeInstanceOf(MergeError)
        return (e as Error).message
      }
      throw new Error('merge did not fail')
    }
    const [a, b, c] = parts(shards) as [{ file: string; json: ShardJson }, { file: string; json: ShardJson }, { file: string; json: ShardJson }]
    expect(error([a, c])).toBe('shard 2/3 is missing (given: 1, 3)')
    expect(error([a, b, { ...b, file: 'copy.json' }, c])).toBe('shard 2/3 is given twice (part-2.json and copy.json)')
    const { shard: _s, ...whole } = b.json
    expect(error([a, { file: 'whole.json', json: whole }, c])).toMatch(/^whole\.json is a whole sweep, not a shard/)
    expect(error([a, { file: 'x.json', json: [1, 2] }])).toMatch(/^x\.json is not a sweep report/)
    expect(error([a, { file: 'n4.json', json: { ...b.json, shard: { ...b.json.shard, count: 4 } } }, c])).toMatch(/^n4\.json is shard 2\/4 but part-1\.json is shard 1\/3/)
  })

  it('names the first setting that differs between shards of different configurations', async () => {
    const [a] = await shardsOf('test/support/miniports/tiny.ts', 2)
    const mp = await loadMiniport('test/support/miniports/tiny.ts')
    const r = await sweep(mp, { config: { seed: 9 }, scenario, jobs: 1, shard: { index: 2, count: 2 } })
    expect(() => mergeShards([{ file: 'a.json', json: a }, { file: 'b.json', json: JSON.parse(JSON.stringify(shardJson({ ...r, shard: r.shard! }))) }])).toThrow('b.json and a.json come from different sweep configurations (config.seed: 9 vs 1)')
  })
})
