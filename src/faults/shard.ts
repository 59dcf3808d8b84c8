// Sharding a sweep over machines (a CI job matrix): every machine enumerates the same planned
// runs from the same clean run, and shard i of n takes the runs at positions i-1, i-1+n,
// i-1+2n, ... Interleaving rather than contiguous blocks, because a sweep's plan is ordered by
// call number and the early calls (initialization) fail fast while the later ones (runtime,
// after traffic) run the whole scenario: blocks would give one shard all the cheap runs.
// A digest of the plan lets a merge tell shards of the same sweep from look-alikes.
import { createHash } from 'node:crypto'
import type { PlannedRun } from './sweep.js'

/** Shard `index` (1-based) of `count`. */
export interface Shard {
  readonly index: number
  readonly count: number
}

/** Most shards a sweep may be split into: a CI matrix has hundreds of jobs at most. */
export const MAX_SHARDS = 1000

/** Why a shard argument is not one; the caller words the message. */
export type ShardSyntaxError = { readonly reason: 'not-i-of-n' } | { readonly reason: 'out-of-range'; readonly index: number; readonly count: number }

/** Parses `I/N` (1 <= I <= N <= MAX_SHARDS). */
export function parseShard(text: string): Shard | ShardSyntaxError {
  const m = /^(\d{1,6})\/(\d{1,6})$/.exec(text.trim())
  if (m === null) return { reason: 'not-i-of-n' }
  const index = Number(m[1])
  const count = Number(m[2])
  if (count < 1 || count > MAX_SHARDS || index < 1 || index > count) return { reason: 'out-of-range', index, count }
  return { index, count }
}

/** Positions in a plan of `planned` runs that shard `shard` runs, in plan order. */
export function shardPositions(planned: number, shard: Shard): number[] {
  const out: number[] = []
  for (let k = shard.index - 1; k < planned; k += shard.count) out.push(k)
  return out
}

/**
 * A digest of the planned runs (what each run fails, and where that call came from): equal on
 * every machine that enumerated the same sweep, different when the driver or dmalab differ.
 */
export function planDigest(plan: readonly PlannedRun[]): string {
  const h = createHash('sha256')
  for (const p of plan) h.update(`${p.call}|${p.replay}|${p.site ?? ''}|${p.phase}|${(p.stack ?? []).join('<')}\n`)
  return `sha256:${h.digest('hex')}`
}
