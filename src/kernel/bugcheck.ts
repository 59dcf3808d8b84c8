// Windows bug checks: the codes dmalab reproduces, their names, and `BugCheck`, the exception
// that unwinds driver code when the machine stops. Codes and parameters follow Microsoft's
// bug check reference (REFERENCE §4).
import type { BugCheckParams } from '../hw/finding.js'
import { hexPlain } from '../hw/address.js'

export const BUGCHECK = {
  IRQL_NOT_GREATER_OR_EQUAL: 0x09,
  IRQL_NOT_LESS_OR_EQUAL: 0x0a,
  BAD_POOL_HEADER: 0x19,
  PAGE_FAULT_IN_NONPAGED_AREA: 0x50,
  SYSTEM_THREAD_EXCEPTION_NOT_HANDLED: 0x7e,
  BUGCODE_NDIS_DRIVER: 0x7c,
  SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION: 0xc1,
  BAD_POOL_CALLER: 0xc2,
  DRIVER_VERIFIER_DETECTED_VIOLATION: 0xc4,
  DRIVER_IRQL_NOT_LESS_OR_EQUAL: 0xd1,
  DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION: 0xd6,
  DRIVER_VERIFIER_DMA_VIOLATION: 0xe6,
} as const

const NAMES = new Map<number, string>(Object.entries(BUGCHECK).map(([name, code]) => [code, name]))

export function bugCheckName(code: number): string {
  return NAMES.get(code) ?? `BUGCHECK_${hexPlain(code)}`
}

export interface BugCheckInfo {
  readonly code: number
  readonly name: string
  readonly params: BugCheckParams
}

/** Thrown through driver code when the machine stops; reaches the host only in `crash` mode. */
export class BugCheck extends Error {
  readonly code: number
  override readonly name: string
  readonly params: BugCheckParams
  /** The finding kind that caused it (`page-fault`, `pool-double-free`, …). */
  readonly kind: string

  constructor(info: BugCheckInfo, kind: string, message: string) {
    super(`${info.name} (${hexPlain(info.code)}: ${info.params.map(hexPlain).join(', ')}): ${message}`)
    this.code = info.code
    this.name = info.name
    this.params = info.params
    this.kind = kind
  }

  get info(): BugCheckInfo {
    return { code: this.code, name: this.name, params: this.params }
  }
}

/**
 * The bug check a finding kind turns into when no call site supplied a more exact one.
 * Kinds without a Windows bug check of their own (dmalab sees more than Windows does) map to
 * DRIVER_VERIFIER_DETECTED_VIOLATION with parameter 1 in a dmalab range (0x1000+) so a
 * crash-mode run still stops with a verifier bug check that names the rule.
 */
const DEFAULTS: Record<string, readonly [number, number]> = {
  'pool-leak': [BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, 0x62],
  'pool-double-free': [BUGCHECK.BAD_POOL_CALLER, 0x07],
  'pool-bad-free': [BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, 0x10],
  'pool-overrun': [BUGCHECK.DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION, 0],
  'must-succeed-pool': [BUGCHECK.BAD_POOL_CALLER, 0x9a],
  'irql-violation': [BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, 0x01],
  'page-fault': [BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA, 0],
  'lookaside-misuse': [BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, 0xca],
  'iommu-fault': [BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, 0x26],
  'dma-outside-buffer': [BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, 0x0f],
  'dma-to-freed-memory': [BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, 0x0f],
  'dma-not-dma-memory': [BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, 0x0f],
  'driver-exception': [BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, 0],
  'common-buffer-leak': [BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, 0x07],
  'map-register-leak': [BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, 0x09],
  'sg-list-leak': [BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, 0x0a],
  'common-buffer-double-free': [BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, 0x03],
  'pool-free-mismatch': [BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1001],
  'init-only-call': [BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1002],
  'dma-address-truncated': [BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, 0x1003],
  'bus-master-disabled': [BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, 0x1004],
  'device-error': [BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, 0x1005],
  hang: [BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1006],
  'memory-leak': [BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1007],
}

/** The Windows bug check a kind corresponds to, or undefined for dmalab-only kinds. */
export function windowsBugCheck(kind: string): BugCheckInfo | undefined {
  const entry = DEFAULTS[kind]
  if (entry === undefined || entry[1] >= 0x1000) return undefined
  return { code: entry[0], name: bugCheckName(entry[0]), params: [entry[1], 0, 0, 0] }
}

export function defaultBugCheck(kind: string): BugCheckInfo {
  const [code, p1] = DEFAULTS[kind] ?? [BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1000]
  return { code, name: bugCheckName(code), params: [p1, 0, 0, 0] }
}
