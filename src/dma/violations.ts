// What the HAL's DMA verification reports, in one place: the parameter-1 values of bug check
// 0xE6 DRIVER_VERIFIER_DMA_VIOLATION with the parameters each carries (bug check 0xE6 reference
// page, "DRIVER_VERIFIER_DMA_VIOLATION Parameters"), the one IRQL check of the DMA routines
// (0xE6/0x13), and the one way a DMA routine reports a driver's wrong argument.
import { BUGCHECK } from '../kernel/bugcheck.js'
import { DMALAB_P1, type ReportedKind } from '../kernel/kinds.js'
import type { Kernel } from '../kernel/kernel.js'
import type { Irql } from '../kernel/irql.js'
import { requireDmaIrql } from '../kernel/irql-checks.js'
import { siteHere } from '../kernel/sites.js'
import type { FindingDetails } from '../hw/finding.js'

/** Parameter 1 of 0xE6, with the meaning of parameters 2-4 as the bug check page gives them. */
export const DMA_VIOLATION = {
  /** p2: number of extra common buffers freed. */
  commonBufferDoubleFree: 0x03,
  /** p2: number of extra adapter channels freed. */
  adapterChannelDoubleFree: 0x04,
  /** p2: number of extra map registers freed. */
  mapRegistersDoubleFree: 0x05,
  /** p2: scatter/gather lists allocated, p3: lists freed. */
  sgListDoubleFree: 0x06,
  /** p2: the DMA adapter, p3: outstanding common buffers, p4: verifier data. */
  commonBuffersOutstanding: 0x07,
  /** p2: the DMA adapter, p3: outstanding adapter channels, p4: verifier data. */
  adapterChannelsOutstanding: 0x08,
  /** p2: the DMA adapter, p3: outstanding map registers, p4: verifier data. */
  mapRegistersOutstanding: 0x09,
  /** p2: the DMA adapter, p3: outstanding scatter/gather lists, p4: verifier data. */
  sgListsOutstanding: 0x0a,
  /** p2: outstanding adapter channels (one per adapter at a time). */
  tooManyAdapterChannels: 0x0b,
  /** p2: map registers required, p3: the most the adapter was given. */
  tooManyMapRegisters: 0x0c,
  /** p2: the MDL of a buffer that is not locked. */
  bufferNotLocked: 0x0e,
  /** p2: violation code (DMA_OUTSIDE below); p3, p4 by code. */
  outsideBuffer: 0x0f,
  /** p2: map registers still mapped. */
  freedWhileMapped: 0x10,
  /** p2: 0x01 IRQL not the one expected / 0x02 above the maximum, p3: expected (maximum) IRQL, p4: current IRQL. */
  wrongIrql: 0x13,
  /** p2: map registers used, p3: map registers allocated. */
  outOfMapRegisters: 0x15,
  /** p2: the DMA adapter, p3: verifier data. */
  adapterReleased: 0x18,
  /** A NULL DMA_ADAPTER (here: anything that is not an adapter IoGetDmaAdapter returned). */
  nullAdapter: 0x19,
  /** p2: start of the buffer to map, p3: its end, p4: the address in it that is already mapped. */
  doubleMap: 0x1d,
  /** p2: violation code (DMA_BAD_MDL below); p3, p4 by code. */
  badMdl: 0x1f,
  /** p2: map register base, p3: VA of the start of the buffer, p4: its MDL. */
  flushNotMapped: 0x20,
  /** p2: verifier data. */
  zeroLength: 0x21,
  /** p2: the length the buffer does not account for. */
  bufferTooShort: 0x24,
  unknownDescriptionVersion: 0x25,
  /** p2: device object of the faulting device, p3: faulting address, p4: fault type. */
  iommuViolation: 0x26,
} as const

/** 0xE6/0x13 parameter 2. */
export const DMA_IRQL = { notExpected: 0x01, aboveMaximum: 0x02 } as const

/** 0xE6/0x0F parameter 2: where outside the buffer (padding before: p3 buffer start, p4 address; after: the same). */
export const DMA_OUTSIDE = { paddingBefore: 0x04, paddingAfter: 0x05 } as const

/** 0xE6/0x1F parameter 2: 0x01/0x02 p3 VA, p4 first MDL; 0x03 p3 MDL, p4 transfer length. */
export const DMA_BAD_MDL = { beforeFirstMdl: 0x01, afterFirstMdl: 0x02, lengthCrossesPage: 0x03 } as const

/**
 * dmalab's own parameter 1 for a DMA argument Windows has no sub-code for (an adapter's common
 * buffer that is not one, a scatter/gather list put back with the other direction, an MDL chain
 * that loops): outside every value the 0xE6 page documents.
 */
export const DMA_DMALAB_BAD_ARGUMENT = DMALAB_P1.dmaBadArgument

export type DmaParams = readonly [number, number, number, number]

/** A driver's DMA call was wrong: a violation of `kind` at the driver's line (log mode goes on). */
export function dmaViolation(kernel: Kernel, kind: ReportedKind, params: DmaParams, message: string, details?: FindingDetails): void {
  const site = siteHere()
  kernel.log.violation({
    kind,
    code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION,
    params,
    message,
    ...(site === undefined ? {} : { site }),
    ...(details === undefined ? {} : { details }),
  })
}

/** `dma-bad-argument`: a DMA routine was given something it cannot use. */
export function dmaBadArgument(kernel: Kernel, routine: string, message: string, params: DmaParams = [DMA_DMALAB_BAD_ARGUMENT, 0, 0, 0]): void {
  dmaViolation(kernel, 'dma-bad-argument', params, `${routine}: ${message}`)
}

/**
 * Driver Verifier's DMA IRQL check (0xE6/0x13): a routine documented for `expected` exactly
 * (`exact`) or for at most `expected`. A violation; the call goes on.
 */
export function checkDmaIrql(kernel: Kernel, routine: string, expected: Irql, exact = false): void {
  requireDmaIrql(kernel, routine, expected, exact)
}
