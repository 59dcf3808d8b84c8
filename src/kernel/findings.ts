// The verifier's findings log.
//
// Two severities (DESIGN "Findings and bug checks"): a violation is recorded and the machine
// goes on (in `crash` mode the first one becomes a bug check instead, as Driver Verifier
// does); a fatal finding stops the machine in either mode. Stopping is a state, not only an
// exception: driver code that swallows the `BugCheck` it was thrown still finds every later
// call refused, and the host API reports (or, in crash mode, throws) once control is back.
// A third severity, `info`, comes from the kinds table (kinds.ts): such a finding is a note,
// kept apart from the findings so it never makes a clean run unclean and never stops one.
import type { Clock } from '../hw/clock.js'
import type { FindingSink, Severity } from '../hw/finding.js'
import { BugCheck, bugCheckName, type BugCheckInfo } from './bugcheck.js'
import { FINDING_KINDS, INTERNAL_STOP, declaresBugCheck, defaultBugCheck, type Finding, type FindingInput, type FindingKind, type ReportedKind, type StoppingKind } from './kinds.js'
import type { StackFrame } from '../hw/finding.js'
import { stackForSite, stackHere } from './sites.js'

export type VerifierMode = 'log' | 'crash'

/** Findings kept per kind; beyond it they are counted, so a per-frame fault cannot eat memory. */
export const DEFAULT_FINDINGS_PER_KIND = 200

/**
 * Told of every finding whose bug check the kinds table does not list for its kind (the test
 * suite sets it, so a call site that invents a code fails its test). Null in normal runs.
 */
let undeclaredBugCheck: ((finding: Finding) => void) | null = null

export function onUndeclaredBugCheck(listener: ((finding: Finding) => void) | null): void {
  undeclaredBugCheck = listener
}

export class FindingsLog implements FindingSink {
  readonly findings: Finding[] = []
  /** Findings of severity `info` (a deprecated routine, ...): reported, never a fault. */
  readonly notes: Finding[] = []
  /** Findings of each kind not kept because the per-kind limit was reached. */
  readonly suppressed = new Map<FindingKind, number>()
  readonly counts = new Map<FindingKind, number>()
  mode: VerifierMode
  /** Set once the machine has stopped; the bug check it stopped with. */
  bugcheck: BugCheckInfo | null = null
  /** The finding that stopped the machine. */
  stoppedBy: Finding | null = null
  /** Reports that came after the machine stopped (not listed). */
  afterStop = 0
  private batching = false
  private readonly clock: Clock
  private readonly perKind: number
  private readonly stopListeners: Array<() => void> = []

  constructor(clock: Clock, mode: VerifierMode, perKind = DEFAULT_FINDINGS_PER_KIND) {
    this.clock = clock
    this.mode = mode
    this.perKind = perKind
  }

  get stopped(): boolean {
    return this.bugcheck !== null
  }

  onStop(listener: () => void): void {
    this.stopListeners.push(listener)
  }

  /**
   * Hardware and host-side reports: record, and stop the machine if the severity (or crash
   * mode) says so, but never throw. The host API throws once the current step is over.
   */
  report(input: FindingInput<ReportedKind>): void {
    this.record(input, FINDING_KINDS[input.kind].severity)
  }

  /** A driver's call was wrong. In crash mode this stops the machine and unwinds the driver. */
  violation(input: FindingInput<ReportedKind>): void {
    this.record(input, FINDING_KINDS[input.kind].severity)
    this.throwIfStopped()
  }

  /** The machine cannot go on: record, stop, and unwind the driver code that caused it. */
  fatal(input: FindingInput<StoppingKind>): never {
    this.record(input, 'fatal')
    throw this.bugCheckError()
  }

  /**
   * Findings that are one event (the unload's list of leaks behind 0xC4/0x62): all are kept,
   * and in crash mode the machine stops with the first, as the bug check lists them all.
   */
  batch<T>(fn: () => T): T {
    const outer = this.batching
    this.batching = true
    try {
      return fn()
    } finally {
      this.batching = outer
    }
  }

  /** Refuses any further driver activity once the machine has stopped. */
  throwIfStopped(): void {
    if (this.bugcheck !== null) throw this.bugCheckError()
  }

  bugCheckError(): BugCheck {
    const info = this.bugcheck ?? { ...INTERNAL_STOP, name: bugCheckName(INTERNAL_STOP.code) }
    const by = this.stoppedBy
    return new BugCheck(info, by?.kind ?? 'unknown', by?.message ?? 'machine stopped')
  }

  ofKind(kind: FindingKind): Finding[] {
    return this.findings.filter((f) => f.kind === kind)
  }

  private record(input: FindingInput, severity: Severity): void {
    // After the bug check nothing runs on a real machine: what a device step or an unwinding
    // call reports afterwards is counted, not listed, so the stop is the last word.
    if (this.bugcheck !== null && !this.batching) {
      this.afterStop++
      return
    }
    const fallback = input.code === undefined ? defaultBugCheck(input.kind) : undefined
    const count = (this.counts.get(input.kind) ?? 0) + 1
    this.counts.set(input.kind, count)
    const stops = this.bugcheck === null && severity !== 'info' && (severity === 'fatal' || this.mode === 'crash')
    const kept = count <= this.perKind || stops
    // The driver's call stack: only for what is kept (a capture is a stack walk).
    const stack = input.stack ?? (kept ? stackOfFinding(input.site) : undefined)
    const finding: Finding = {
      ...input,
      ...(stack === undefined || stack.length === 0 ? {} : { stack }),
      severity,
      timeNs: this.clock.now,
      ...(fallback === undefined ? {} : { code: fallback.code, params: fallback.params }),
    }
    if (undeclaredBugCheck !== null && finding.code !== undefined && !declaresBugCheck(finding.kind, finding.code, finding.params?.[0] ?? 0)) undeclaredBugCheck(finding)
    if (severity === 'info') {
      if (kept) this.notes.push(finding)
      else this.suppressed.set(input.kind, (this.suppressed.get(input.kind) ?? 0) + 1)
      return
    }
    if (kept) this.findings.push(finding)
    else this.suppressed.set(input.kind, (this.suppressed.get(input.kind) ?? 0) + 1)
    if (stops) {
      const code = finding.code ?? INTERNAL_STOP.code
      this.bugcheck = { code, name: bugCheckName(code), params: finding.params ?? INTERNAL_STOP.params }
      this.stoppedBy = finding
      for (const listener of this.stopListeners) listener()
    }
  }
}

/**
 * The driver's call stack behind a finding: the driver frames on the stack now when they lead
 * to the finding's site (or it names none), else the stack last seen for its site (a leak's
 * allocation, the call that handed a device the address it used).
 */
function stackOfFinding(site: string | undefined): readonly StackFrame[] | undefined {
  const live = stackHere()
  const top = live[0]
  if (site === undefined) return live
  const bare = site.replace(/ \(sampled\)$/, '')
  if (top !== undefined && `${top.file}:${top.line}` === bare) return live
  return stackForSite(site)
}
