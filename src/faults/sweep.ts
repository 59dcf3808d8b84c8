// Systematic fault injection: plan one run per allocation call (or per unique driver call
// stack, as Driver Verifier's systematic low-resources simulation does), and classify each
// run. Running the scenarios is the caller's business (the machine layer, possibly on worker
// threads); this file knows only calls, specs and outcomes.
import type { StackFrame } from '../hw/finding.js'
import type { EnumeratedCall } from './injector.js'

export type SweepMode = 'call' | 'stack'

/** What a sweep keeps of a finding: kind, message, the driver line and its call stack. */
export interface SweepFinding {
  readonly kind: string
  readonly message: string
  readonly site?: string
  readonly stack?: readonly StackFrame[]
}
export type SweepClass = 'handled' | 'leak' | 'finding' | 'bugcheck' | 'hang'

/** One planned run: fail exactly `replay` (the Nth call of a routine). */
export interface PlannedRun {
  readonly call: number
  readonly routine: string
  readonly routineCall: number
  readonly site: string | null
  readonly phase: string
  readonly replay: string
  /** The driver call stack this run stands for (stack mode). */
  readonly stack?: readonly string[]
}

/** What a sweep needs to know of one scenario run. */
export interface ScenarioSummary {
  readonly outcome: 'clean' | 'findings' | 'bugcheck' | 'init-failed'
  readonly findings: ReadonlyArray<SweepFinding>
  readonly bugcheck: { readonly code: number; readonly name: string } | null
}

export interface SweepRun extends PlannedRun {
  readonly outcome: SweepClass
  /** The findings that decided the class (kind, message, site), at most a few. */
  readonly findings: ReadonlyArray<SweepFinding>
}

export interface SweepSummary {
  handled: number
  leak: number
  finding: number
  bugcheck: number
  hang: number
}

export function planSweep(calls: readonly EnumeratedCall[], mode: SweepMode): PlannedRun[] {
  const plan = (c: EnumeratedCall, stack?: readonly string[]): PlannedRun => ({
    call: c.call,
    routine: c.routine,
    routineCall: c.routineCall,
    site: c.site,
    phase: c.phase,
    replay: `routine=${c.routine},nth=${c.routineCall}`,
    ...(stack === undefined ? {} : { stack }),
  })
  if (mode === 'call') return calls.map((c) => plan(c))
  // Stack mode: the first call from each unique driver call stack (routine included: two
  // routines called from the same line are two allocations).
  const seen = new Set<string>()
  const runs: PlannedRun[] = []
  for (const c of calls) {
    const stack = c.stack ?? (c.site === null ? [] : [c.site])
    const key = `${c.routine}|${stack.join('<')}`
    if (seen.has(key)) continue
    seen.add(key)
    runs.push(plan(c, stack))
  }
  return runs
}

/**
 * handled: initialization failed cleanly or the driver coped — nothing leaked, no findings.
 * Worse outcomes win: bugcheck > hang > leak > finding. Which kinds are leaks is the kinds
 * table's business (a column there); this layer knows kinds only as strings.
 */
export function classify(result: ScenarioSummary, isLeak: (kind: string) => boolean): { outcome: SweepClass; decisive: ScenarioSummary['findings'] } {
  const f = result.findings
  if (result.outcome === 'bugcheck') {
    // A run stopped by a watchdog (DPC_WATCHDOG_VIOLATION) is a hang, whatever it bug-checked with.
    const decisive = f.filter((x) => x.kind !== 'pool-leak').slice(-1)
    return { outcome: decisive[0]?.kind === 'hang' ? 'hang' : 'bugcheck', decisive }
  }
  const hangs = f.filter((x) => x.kind === 'hang')
  if (hangs.length > 0) return { outcome: 'hang', decisive: hangs.slice(0, 3) }
  const leaks = f.filter((x) => isLeak(x.kind))
  if (leaks.length > 0) return { outcome: 'leak', decisive: leaks.slice(0, 5) }
  if (f.length > 0) return { outcome: 'finding', decisive: f.slice(0, 5) }
  return { outcome: 'handled', decisive: [] }
}

export function summarize(runs: ReadonlyArray<{ readonly outcome: SweepClass }>): SweepSummary {
  const s: SweepSummary = { handled: 0, leak: 0, finding: 0, bugcheck: 0, hang: 0 }
  for (const r of runs) s[r.outcome]++
  return s
}

/**
 * Runs `count` tasks with at most `jobs` in flight; results come back in task order whatever
 * order they finish in. `onProgress` is told after each completion.
 */
export async function runOrdered<T>(count: number, jobs: number, task: (index: number) => Promise<T>, onProgress?: (done: number) => void): Promise<T[]> {
  const results = new Array<T>(count)
  let next = 0
  let done = 0
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      results[i] = await task(i)
      done++
      onProgress?.(done)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, count)) }, lane))
  return results
}
