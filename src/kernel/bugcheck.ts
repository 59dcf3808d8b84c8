// Windows bug checks: the codes dmalab reproduces, their names, and `BugCheck`, the exception
// that unwinds driver code when the machine stops. Codes and parameters follow Microsoft's
// bug check reference (REFERENCE §4).
import type { BugCheckParams } from '../hw/finding.js'
import { hexPlain } from '../hw/address.js'

export const BUGCHECK = {
  IRQL_NOT_GREATER_OR_EQUAL: 0x09,
  IRQL_NOT_LESS_OR_EQUAL: 0x0a,
  MEMORY_MANAGEMENT: 0x1a,
  BAD_POOL_HEADER: 0x19,
  PAGE_FAULT_IN_NONPAGED_AREA: 0x50,
  SYSTEM_THREAD_EXCEPTION_NOT_HANDLED: 0x7e,
  UNEXPECTED_KERNEL_MODE_TRAP: 0x7f,
  CRITICAL_STRUCTURE_CORRUPTION: 0x109,
  BUGCODE_NDIS_DRIVER: 0x7c,
  SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION: 0xc1,
  BAD_POOL_CALLER: 0xc2,
  DRIVER_VERIFIER_DETECTED_VIOLATION: 0xc4,
  DRIVER_IRQL_NOT_LESS_OR_EQUAL: 0xd1,
  DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION: 0xd6,
  DRIVER_VERIFIER_DMA_VIOLATION: 0xe6,
  PAGE_FAULT_IN_FREED_SPECIAL_POOL: 0xcc,
  DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS: 0xce,
  DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL: 0xd5,
  SYSTEM_PTE_MISUSE: 0xda,
  HARDWARE_INTERRUPT_STORM: 0xf2,
  DPC_WATCHDOG_VIOLATION: 0x133,
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

/** Every BugCheck made, so a thrown value is recognised without `instanceof` (which a Proxy traps). */
const bugChecks = new WeakSet<object>()

/** True for a BugCheck; safe for any thrown value (no getter or Proxy trap runs). */
export function isBugCheck(value: unknown): value is BugCheck {
  return typeof value === 'object' && value !== null && bugChecks.has(value)
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
    bugChecks.add(this)
  }

  get info(): BugCheckInfo {
    return { code: this.code, name: this.name, params: this.params }
  }
}
