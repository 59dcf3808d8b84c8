// The IRQL precondition of every driver-facing routine (kernel, HAL DMA, NDIS), in one place:
// one message format and one parameter layout per bug check. A call at the wrong IRQL is a
// violation, not a crash: Driver Verifier bug checks, but the emulated system can go on, so
// log mode records it and the call proceeds.
//
// Layouts, as the bug check reference pages give them:
//  - 0xC4 DRIVER_VERIFIER_DETECTED_VIOLATION: [p1, current IRQL, p3, p4]; every IRQL code on
//    the page (0x01, 0x02, 0x11, 0x12, 0x40, 0x42, 0x70, 0x73, 0x76, 0x78, 0x79, 0x7B, 0x7E,
//    0xE5) has the current IRQL in parameter 2, and 0xE5 ("a call was made to a Kernel API at
//    the incorrect IRQL") is the one for a routine without a code of its own.
//  - 0xE6 DRIVER_VERIFIER_DMA_VIOLATION / 0x13: [0x13, 0x01 (not the expected IRQL) or 0x02
//    (above the maximum), expected IRQL, current IRQL].
//  - 0x7C BUGCODE_NDIS_DRIVER / 0x01: [0x01, adapter block, length, current IRQL]
//    (NdisMAllocateSharedMemory only; NDIS itself checks it).
import type { BugCheckParams } from '../hw/finding.js'
import { BUGCHECK } from './bugcheck.js'
import { PASSIVE_LEVEL, irqlName, type Irql } from './irql.js'
import type { Kernel } from './kernel.js'
import { siteHere } from './sites.js'

/** 0xC4 parameter 1 for a kernel API called at the incorrect IRQL (p2: the current IRQL). */
export const IRQL_API = 0xe5
/** 0xE6 parameter 1 for a DMA routine at an improper IRQL, and its parameter 2 values. */
export const DMA_WRONG_IRQL = 0x13
export const DMA_IRQL_NOT_EXPECTED = 0x01
export const DMA_IRQL_TOO_HIGH = 0x02

/** `GetScatterGatherList at DIRQL(5): it must be called at DISPATCH_LEVEL or below` */
export function irqlMessage(routine: string, irql: Irql, level: Irql, exactly: boolean): string {
  const or = exactly || level === PASSIVE_LEVEL ? '' : ' or below'
  return `${routine} at ${irqlName(irql)}: it must be called at ${irqlName(level)}${or}`
}

/**
 * Reports `routine` called at the wrong IRQL with the bug check its page gives. The one place
 * an IRQL violation is recorded, so every layer words and lays it out alike.
 */
export function reportIrql(kernel: Kernel, routine: string, level: Irql, exactly: boolean, code: number, params: BugCheckParams): void {
  const irql = kernel.irql
  const site = siteHere()
  kernel.log.violation({
    kind: 'irql-violation',
    code,
    params,
    message: irqlMessage(routine, irql, level, exactly),
    ...(site === undefined ? {} : { site }),
    details: { routine, irql, [exactly ? 'required' : 'maximum']: level },
  })
}

/**
 * The routine may be called at `max` or below; above it is 0xC4 [p1, current IRQL, p3, p4]
 * (p1 0xE5 unless the page names a code for the routine). Returns true when the IRQL was bad.
 */
export function requireIrql(kernel: Kernel, routine: string, max: Irql, p1: number = IRQL_API, p3 = 0, p4 = 0): boolean {
  const irql = kernel.irql
  if (irql <= max) return false
  reportIrql(kernel, routine, max, false, BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, [p1, irql, p3, p4])
  return true
}

/** The routine must be called at exactly `level` (NdisDprAcquireSpinLock: DISPATCH_LEVEL). */
export function requireIrqlExactly(kernel: Kernel, routine: string, level: Irql, p1: number = IRQL_API, p3 = 0, p4 = 0): boolean {
  const irql = kernel.irql
  if (irql === level) return false
  reportIrql(kernel, routine, level, true, BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, [p1, irql, p3, p4])
  return true
}

/**
 * A HAL DMA routine: Driver Verifier's DMA check, 0xE6/0x13 with 0x02 above the maximum, or
 * 0x01 when the routine is documented for exactly `level`.
 */
export function requireDmaIrql(kernel: Kernel, routine: string, level: Irql, exactly = false): boolean {
  const irql = kernel.irql
  if (exactly ? irql === level : irql <= level) return false
  reportIrql(kernel, routine, level, exactly, BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, [DMA_WRONG_IRQL, exactly ? DMA_IRQL_NOT_EXPECTED : DMA_IRQL_TOO_HIGH, level, irql])
  return true
}
