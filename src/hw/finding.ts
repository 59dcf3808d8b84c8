// What every layer reports when something is wrong. Hardware reports through `FindingSink`
// and never throws for guest input; the kernel's findings log implements the sink, adds the
// Windows bug check a kind corresponds to, and decides what stops the machine.
//
// Hardware knows nothing of Windows, so it has its own list of what it can report: the kinds
// below. The kernel's table of finding kinds (kernel/kinds.ts) must cover every one of them
// (checked when it compiles), and gives each its severity and bug check.

/** What the hardware itself can report (a device's or the IOMMU's view, no Windows in it). */
export type DeviceFindingKind = 'iommu-fault' | 'bus-master-disabled' | 'dma-address-truncated' | 'device-error'

export type FindingValue = string | number | boolean | null
export type FindingDetails = Record<string, FindingValue>
export type BugCheckParams = readonly [number, number, number, number]

/**
 * `violation`: the call was wrong but the system can go on; `fatal`: the machine stops;
 * `info`: worth knowing (a deprecated routine), but no fault: it never makes a run unclean.
 */
export type Severity = 'violation' | 'fatal' | 'info'

/** One frame of the call stack of the code that caused a finding: file, line and function. */
export interface StackFrame {
  readonly file: string
  readonly line: number
  readonly function: string
}

/** A recorded finding of one of the kinds `K`. */
export interface FindingRecord<K extends string = string> {
  /** Stable kebab-case identifier (DESIGN "Findings and bug checks"). */
  readonly kind: K
  readonly severity: Severity
  /** The bug check this corresponds to, when there is one. */
  readonly code?: number
  readonly params?: BugCheckParams
  readonly message: string
  /** The driver source line that caused it (`examples/e1000/init.ts:42`). */
  readonly site?: string
  /** The driver's call stack, innermost first, driver frames only (dmalab's own are left out). */
  readonly stack?: readonly StackFrame[]
  readonly timeNs: number
  /** Structured facts (addresses, tags, sizes) for reports and tests. */
  readonly details?: FindingDetails
}

/** What a layer hands the findings log: a finding of one of the kinds `K`, before it is recorded. */
export interface FindingReport<K extends string = string> {
  readonly kind: K
  readonly message: string
  readonly code?: number
  readonly params?: BugCheckParams
  readonly site?: string
  /** When the reporter knows it (else the log takes the driver frames on the stack, or the site's). */
  readonly stack?: readonly StackFrame[]
  readonly details?: FindingDetails
}

export type DeviceFinding = FindingReport<DeviceFindingKind>

/** Hardware's narrow view of the findings log: report, never throw, never stop by itself. */
export interface FindingSink {
  report(finding: DeviceFinding): void
}
