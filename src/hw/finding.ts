// What every layer reports when something is wrong. Hardware reports through `FindingSink`
// and never throws for guest input; the kernel's findings log implements the sink, adds the
// Windows bug check a kind corresponds to, and decides what stops the machine.

export type FindingValue = string | number | boolean | null
export type FindingDetails = Record<string, FindingValue>
export type BugCheckParams = readonly [number, number, number, number]

export type Severity = 'violation' | 'fatal'

export interface Finding {
  /** Stable kebab-case identifier (DESIGN "Findings and bug checks"). */
  readonly kind: string
  /** `violation`: the call was wrong but the system can go on; `fatal`: the machine stops. */
  readonly severity: Severity
  /** The Windows bug check this corresponds to, when there is one. */
  readonly code?: number
  readonly params?: BugCheckParams
  readonly message: string
  /** The driver source line that caused it (`examples/e1000/init.ts:42`). */
  readonly site?: string
  readonly timeNs: number
  /** Structured facts (addresses, tags, sizes) for reports and tests. */
  readonly details?: FindingDetails
}

export interface FindingInput {
  readonly kind: string
  readonly message: string
  readonly code?: number
  readonly params?: BugCheckParams
  readonly site?: string
  readonly details?: FindingDetails
}

/** Hardware's narrow view of the findings log: report, never throw, never stop by itself. */
export interface FindingSink {
  report(finding: FindingInput): void
}
