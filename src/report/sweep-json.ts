// A sweep's `--json` report (DESIGN "Command line": `{ miniport, calls, runs, summary }`, plus
// mode, baseline, config and scenario), a shard's (the same, for its slice of the runs, with a
// `shard` field), and the merge of a sweep's shards back into the report the whole sweep gives.
import type { ResolvedConfig } from '../config.js'
import type { ScenarioOptions } from '../scenario.js'
import type { ShardInfo, SweepResult } from '../sweep.js'
import { summarize, type SweepClass, type SweepFinding, type SweepMode, type SweepSummary } from '../faults/sweep.js'

export interface SweepRunJson {
  readonly call: number
  readonly routine: string
  readonly site: string | null
  readonly phase: string
  readonly outcome: SweepClass
  readonly replay: string
  /** Each finding's kind, message, driver line and driver call stack. */
  readonly findings: ReadonlyArray<SweepFinding>
  readonly stack?: readonly string[]
}

export interface SweepJson {
  readonly miniport: string
  readonly mode: SweepMode
  readonly calls: number
  readonly runs: readonly SweepRunJson[]
  readonly summary: SweepSummary
  /** The clean run's outcome (a sweep of a driver that is not clean to begin with says so). */
  readonly baseline: SweepResult['baseline']
  readonly config: ResolvedConfig
  readonly scenario: ScenarioOptions
}

export interface ShardJson extends SweepJson {
  readonly shard: ShardInfo
}

export function sweepJson(r: SweepResult): SweepJson {
  return {
    miniport: r.miniport,
    mode: r.mode,
    calls: r.calls,
    runs: r.runs.map((x) => ({ call: x.call, routine: x.routine, site: x.site, phase: x.phase, outcome: x.outcome, replay: x.replay, findings: x.findings, ...(x.stack === undefined ? {} : { stack: x.stack }) })),
    summary: r.summary,
    baseline: r.baseline,
    config: r.config,
    scenario: r.scenario,
  }
}

/** A shard's report: its runs and summary, and what a merge needs to put the sweep together. */
export function shardJson(r: SweepResult & { shard: ShardInfo }): ShardJson {
  return { ...sweepJson(r), shard: r.shard }
}

/** A merge that cannot be done, and the one line that says why (exit 2 on the command line). */
export class MergeError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MergeError'
  }
}

/** One shard as read from a file: the file's name (for messages) and its parsed JSON. */
export interface ShardPart {
  readonly file: string
  readonly json: unknown
}

/** Fields that must be equal in every shard of one sweep, with what a difference means. */
const SAME_SWEEP = ['miniport', 'mode', 'config', 'scenario'] as const
const SAME_PLAN = ['calls', 'baseline'] as const

/**
 * The report of the whole sweep from all its shards: the same runs in the same order and the
 * same summary as the unsharded sweep. Missing, duplicated or foreign shards are a MergeError
 * naming the problem.
 */
export function mergeShards(parts: readonly ShardPart[]): SweepJson {
  if (parts.length === 0) throw new MergeError('merge needs the shard reports to merge (the --json output of each `dmalab sweep --shard I/N`)')
  const shards = parts.map((p) => ({ file: p.file, json: asShard(p) }))
  const first = shards[0]!
  for (const s of shards.slice(1)) {
    for (const key of SAME_SWEEP) {
      const where = difference(first.json[key], s.json[key], key)
      if (where !== undefined) throw new MergeError(`${s.file} and ${first.file} come from different sweep configurations (${where})`)
    }
    if (s.json.shard.count !== first.json.shard.count) throw new MergeError(`${s.file} is shard ${s.json.shard.index}/${s.json.shard.count} but ${first.file} is shard ${first.json.shard.index}/${first.json.shard.count}: the shards of one sweep share N`)
    const samePlan = s.json.shard.digest === first.json.shard.digest && s.json.shard.planned === first.json.shard.planned && SAME_PLAN.every((k) => s.json[k] === first.json[k])
    if (!samePlan) throw new MergeError(`${s.file} and ${first.file} planned different runs from the same configuration (${s.json.shard.planned} vs ${first.json.shard.planned} runs): the driver or dmalab differs between the machines that ran them`)
  }
  const count = first.json.shard.count
  const byIndex = new Map<number, string>()
  for (const s of shards) {
    const other = byIndex.get(s.json.shard.index)
    if (other !== undefined) throw new MergeError(`shard ${s.json.shard.index}/${count} is given twice (${other} and ${s.file})`)
    byIndex.set(s.json.shard.index, s.file)
  }
  const missing: number[] = []
  for (let i = 1; i <= count; i++) if (!byIndex.has(i)) missing.push(i)
  if (missing.length > 0) throw new MergeError(`${missing.length === 1 ? 'shard' : 'shards'} ${missing.map((i) => `${i}/${count}`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing (given: ${[...byIndex.keys()].sort((a, b) => a - b).join(', ')})`)

  const planned = first.json.shard.planned
  const runs = new Array<SweepRunJson | undefined>(planned)
  for (const s of shards) {
    const { positions, index } = s.json.shard
    if (positions.length !== s.json.runs.length) throw new MergeError(`${s.file} is damaged: ${s.json.runs.length} runs but ${positions.length} positions`)
    positions.forEach((k, i) => {
      // Shard i of n runs positions i-1, i-1+n, ... (faults/shard.ts); anything else was edited.
      if (!Number.isInteger(k) || k < 0 || k >= planned || k % count !== index - 1) throw new MergeError(`${s.file} is damaged: position ${k} is not in shard ${index}/${count} of ${planned} runs`)
      runs[k] = s.json.runs[i]
    })
  }
  const lost = runs.findIndex((r) => r === undefined)
  if (lost >= 0) throw new MergeError(`run ${lost + 1} of ${planned} is in no shard (a shard report was cut short?)`)
  const all = runs as SweepRunJson[]
  const { shard: _shard, ...rest } = first.json
  return { ...rest, runs: all, summary: summarize(all) }
}

/** The JSON of one shard, or a MergeError saying what the file is instead. */
function asShard(part: ShardPart): ShardJson {
  const j = part.json
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new MergeError(`${part.file} is not a sweep report (expected the --json output of dmalab sweep --shard I/N)`)
  const o = j as Record<string, unknown>
  if (!Array.isArray(o['runs']) || typeof o['miniport'] !== 'string') throw new MergeError(`${part.file} is not a sweep report (expected the --json output of dmalab sweep --shard I/N)`)
  const s = o['shard'] as Record<string, unknown> | undefined
  if (typeof s !== 'object' || s === null) throw new MergeError(`${part.file} is a whole sweep, not a shard (run the sweep with --shard I/N to merge its parts)`)
  const ints = ['index', 'count', 'planned'].every((k) => Number.isInteger(s[k]))
  if (!ints || !Array.isArray(s['positions']) || typeof s['digest'] !== 'string') throw new MergeError(`${part.file} is damaged: its shard field lacks index, count, planned, positions or digest`)
  return j as ShardJson
}

/** The first path at which two JSON values differ (`config.seed: 1 vs 2`), or undefined. */
function difference(a: unknown, b: unknown, path: string): string | undefined {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])]
    for (const k of keys) {
      const d = difference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`)
      if (d !== undefined) return d
    }
    return undefined
  }
  return a === b ? undefined : `${path}: ${JSON.stringify(b)} vs ${JSON.stringify(a)}`
}
