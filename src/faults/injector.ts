// Fault decisions, taken once per driver call at the driver-facing routine.
//
// Each spec keeps its own count of matching calls and its own seeded random stream, so a spec
// and a seed fail the same calls in every run, and adding a spec never changes what another
// one does. Every injected failure is recorded with a replay spec (`routine=X,nth=N`: the Nth
// call of that routine) that fails exactly that call again, because the machine is
// deterministic up to it.
import { Random } from '../hw/random.js'
import { globToRegExp } from './glob.js'
import { isPartialRoutine } from './routines.js'
import type { FaultPhase, FaultSpec } from './spec.js'

export type CallPhase = FaultPhase | 'boot'

/** One allocation call as the fault policy sees it. */
export interface AllocationCall {
  readonly routine: string
  /** The pool tag in reading order ('Test'), when the routine takes one. */
  readonly tag: string | undefined
  readonly size: number
  readonly phase: CallPhase
  /** `file:line` of the driver's call, when it was captured. */
  readonly site: string | undefined
  readonly timeNs: number
}

export type FaultDecision = 'pass' | 'fail' | 'partial'

export interface InjectedFault {
  readonly routine: string
  readonly tag: string | null
  readonly size: number
  readonly site: string | null
  readonly phase: CallPhase
  /** The running number of this allocation call among all allocation calls (1-based). */
  readonly call: number
  /** The number of this call among calls to the same routine (1-based): `nth` in the replay. */
  readonly routineCall: number
  readonly timeNs: number
  /** The spec that failed it. */
  readonly spec: string
  /** A spec that fails exactly this call again. */
  readonly replay: string
  readonly partial: boolean
}

/** One call as a sweep enumerates it. */
export interface EnumeratedCall {
  readonly call: number
  readonly routine: string
  readonly routineCall: number
  readonly tag: string | null
  readonly size: number
  readonly site: string | null
  readonly phase: CallPhase
  /** The driver's frames, innermost first (only when stacks were asked for). */
  stack?: string[]
}

interface SpecState {
  readonly spec: FaultSpec
  readonly routine: RegExp | null
  readonly tag: RegExp | null
  readonly site: RegExp | null
  readonly rng: Random | null
  matches: number
  failures: number
}

export class FaultInjector {
  readonly specs: readonly FaultSpec[]
  readonly injected: InjectedFault[] = []
  /** Every allocation call, in order, when enumerating for a sweep (else null). */
  readonly enumerated: EnumeratedCall[] | null
  /** Allocation calls seen so far. */
  calls = 0
  private readonly states: SpecState[]
  private readonly perRoutine = new Map<string, number>()

  constructor(specs: readonly FaultSpec[], machineSeed: number, options: { enumerate?: boolean } = {}) {
    this.specs = specs
    this.enumerated = options.enumerate ? [] : null
    this.states = specs.map((spec) => ({
      spec,
      routine: spec.routine === undefined ? null : globToRegExp(spec.routine),
      tag: spec.tag === undefined ? null : globToRegExp(spec.tag),
      site: spec.site === undefined ? null : globToRegExp(spec.site),
      rng: spec.p === undefined ? null : new Random(spec.seed ?? machineSeed, `fault-spec:${spec.text}`),
      matches: 0,
      failures: 0,
    }))
  }

  /** True when a decision depends on the call site, so the caller must capture it. */
  get needsSites(): boolean {
    return this.enumerated !== null || this.states.some((s) => s.site !== null)
  }

  /** True when no spec can ever fail anything (the common, cheap case). */
  get inert(): boolean {
    return this.states.length === 0 && this.enumerated === null
  }

  /** Counts the call and decides it. Called exactly once per driver-facing allocation call. */
  decide(call: AllocationCall): FaultDecision {
    const number = ++this.calls
    const routineCall = (this.perRoutine.get(call.routine) ?? 0) + 1
    this.perRoutine.set(call.routine, routineCall)
    this.enumerated?.push({
      call: number,
      routine: call.routine,
      routineCall,
      tag: call.tag ?? null,
      size: call.size,
      site: call.site ?? null,
      phase: call.phase,
    })

    let decision: FaultDecision = 'pass'
    let by: SpecState | null = null
    // Every spec sees every call (its counters and random stream must not depend on the others).
    for (const s of this.states) {
      if (!this.matches(s, call)) continue
      s.matches++
      if (this.selects(s) && decision === 'pass') {
        s.failures++
        decision = s.spec.partial && isPartialRoutine(call.routine) ? 'partial' : 'fail'
        by = s
      }
    }
    if (by !== null) {
      this.injected.push({
        routine: call.routine,
        tag: call.tag ?? null,
        size: call.size,
        site: call.site ?? null,
        phase: call.phase,
        call: number,
        routineCall,
        timeNs: call.timeNs,
        spec: by.spec.text,
        replay: `routine=${call.routine},nth=${routineCall}${decision === 'partial' ? ',partial' : ''}`,
        partial: decision === 'partial',
      })
    }
    return decision
  }

  private matches(s: SpecState, call: AllocationCall): boolean {
    if (s.routine !== null && !s.routine.test(call.routine)) return false
    if (s.tag !== null && (call.tag === undefined || !s.tag.test(call.tag))) return false
    if (s.site !== null && (call.site === undefined || !s.site.test(call.site))) return false
    if (s.spec.phase !== undefined && s.spec.phase !== call.phase) return false
    return true
  }

  /** Whether this (already counted) match fails. Random draws happen only on eligible matches. */
  private selects(s: SpecState): boolean {
    const spec = s.spec
    const m = s.matches - spec.after
    if (m <= 0) return false
    if (spec.times !== undefined && s.failures >= spec.times) return false
    if (spec.nth !== undefined) return m === spec.nth
    if (spec.every !== undefined) return m % spec.every === 0
    if (s.rng !== null) return s.rng.chance(spec.p!, 10_000)
    return true
  }
}
