// IRQL preconditions of the driver-facing memory routines (REFERENCE §3). A call at too high
// an IRQL is a violation, not a crash: Driver Verifier bug checks, but the emulated system can
// go on, so log mode records it and the call proceeds.
import type { BugCheckParams } from '../hw/finding.js'
import { BUGCHECK } from './bugcheck.js'
import { irqlName, type Irql } from './irql.js'
import type { Kernel } from './kernel.js'
import { siteHere } from './sites.js'

/**
 * 0xC4 parameter 1 for "a call was made to a kernel API at the incorrect IRQL" (bug check
 * 0xC4 reference, 0xE5: parameter 2 is the current IRQL), for routines whose IRQL rule has no
 * code of its own.
 */
export const IRQL_API = 0xe5

/**
 * Reports `routine` called above `max`. `params` are the 0xC4 parameters Driver Verifier uses
 * for that routine; by default 0xE5 with the current IRQL. Returns true when the IRQL was bad.
 */
export function irqlAbove(kernel: Kernel, routine: string, max: Irql, params?: BugCheckParams): boolean {
  const irql = kernel.irql
  if (irql <= max) return false
  const site = siteHere()
  kernel.log.violation({
    kind: 'irql-violation',
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    params: params ?? [IRQL_API, irql, 0, 0],
    message: `${routine} called at ${irqlName(irql)}: it must be called at or below ${irqlName(max)}`,
    ...(site === undefined ? {} : { site }),
    details: { routine, irql, maximum: max },
  })
  return true
}
