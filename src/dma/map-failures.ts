// Why a buffer could not be mapped for DMA (S/G lists, map-register transfers), as codes: a
// failure is a value of `MapFailure`, the status the driver gets back is looked up from its
// reason, and the finding (when the driver's arguments were wrong) carries the 0xE6 sub-code
// the bug check 0xE6 reference page documents for it. Running out of a resource is not the
// driver's fault: it only fails the call.
import { hex } from '../hw/address.js'
import type { Kernel } from '../kernel/kernel.js'
import type { ReportedKind } from '../kernel/kinds.js'
import { NTSTATUS } from '../kernel/wdm.js'
import { DMA_BAD_MDL, DMA_DMALAB_BAD_ARGUMENT, DMA_VIOLATION, dmaViolation, type DmaParams } from './violations.js'

export type MapFailure =
  /** The Mdl argument is not an MDL this system allocated. */
  | { readonly reason: 'not-an-mdl' }
  /** Length is not a byte count, or CurrentVa / Offset not an address. */
  | { readonly reason: 'not-a-range'; readonly currentVa: number; readonly length: number }
  | { readonly reason: 'zero-length' }
  /** CurrentVa before / after the first MDL's bytes; `mdl` is the MDL's address. */
  | { readonly reason: 'va-before-mdl' | 'va-after-mdl'; readonly va: number; readonly mdl: number }
  /** The MDL's pages were never built or locked (MmBuildMdlForNonPagedPool, MmProbeAndLockPages). */
  | { readonly reason: 'mdl-not-locked'; readonly mdl: number }
  /** The chain describes `described` bytes from CurrentVa, fewer than `length`. */
  | { readonly reason: 'chain-too-short'; readonly described: number; readonly length: number }
  | { readonly reason: 'chain-loops'; readonly limit: number }
  /** The transfer needs more map registers than IoGetDmaAdapter gave the adapter. */
  | { readonly reason: 'too-many-map-registers'; readonly needed: number; readonly maximum: number }
  | { readonly reason: 'no-iova-space' }
  | { readonly reason: 'no-table-memory' }

export type MapFailureReason = MapFailure['reason']

/** The NTSTATUS each reason returns (GetScatterGatherList / BuildScatterGatherList pages). */
const STATUS: Record<MapFailureReason, number> = {
  'not-an-mdl': NTSTATUS.STATUS_INVALID_PARAMETER,
  'not-a-range': NTSTATUS.STATUS_INVALID_PARAMETER,
  'zero-length': NTSTATUS.STATUS_INVALID_PARAMETER,
  'va-before-mdl': NTSTATUS.STATUS_INVALID_PARAMETER,
  'va-after-mdl': NTSTATUS.STATUS_INVALID_PARAMETER,
  'mdl-not-locked': NTSTATUS.STATUS_INVALID_PARAMETER,
  'chain-too-short': NTSTATUS.STATUS_BUFFER_TOO_SMALL,
  'chain-loops': NTSTATUS.STATUS_INVALID_PARAMETER,
  // "the number of map registers required for the transfer is larger than the value returned by
  // IoGetDmaAdapter" (GetScatterGatherList, Return value).
  'too-many-map-registers': NTSTATUS.STATUS_INSUFFICIENT_RESOURCES,
  'no-iova-space': NTSTATUS.STATUS_INSUFFICIENT_RESOURCES,
  'no-table-memory': NTSTATUS.STATUS_INSUFFICIENT_RESOURCES,
}

export function mapFailureStatus(f: MapFailure): number {
  return STATUS[f.reason]
}

/** The finding a failure makes: its kind, 0xE6 parameters and what it says; null when it is no one's fault. */
export function mapFailureFinding(f: MapFailure): { kind: ReportedKind; params: DmaParams; message: string } | null {
  switch (f.reason) {
    case 'not-an-mdl':
      return bad([DMA_DMALAB_BAD_ARGUMENT, 0, 0, 0], 'Mdl is not an MDL this system allocated (IoAllocateMdl, NdisAllocateMdl, MmAllocatePagesForMdl)')
    case 'not-a-range':
      return bad([DMA_DMALAB_BAD_ARGUMENT, 0, 0, 0], `Length ${f.length} and CurrentVa ${f.currentVa} must be a byte count and an address`)
    case 'zero-length':
      return bad([DMA_VIOLATION.zeroLength, 0, 0, 0], 'Length is zero: there is nothing to map (0xE6/0x21)')
    case 'va-before-mdl':
    case 'va-after-mdl':
      return bad(
        [DMA_VIOLATION.badMdl, f.reason === 'va-before-mdl' ? DMA_BAD_MDL.beforeFirstMdl : DMA_BAD_MDL.afterFirstMdl, f.va, f.mdl],
        `CurrentVa ${hex(f.va)} is ${f.reason === 'va-before-mdl' ? 'before' : 'after'} the bytes the first MDL describes (0xE6/0x1F)`,
      )
    case 'mdl-not-locked':
      return {
        kind: 'dma-unlocked-buffer',
        params: [DMA_VIOLATION.bufferNotLocked, f.mdl, 0, 0],
        message: 'the MDL describes pages that are not built or locked (MmBuildMdlForNonPagedPool / MmProbeAndLockPages): DMA to a buffer that is not locked down (0xE6/0x0E)',
      }
    case 'chain-too-short':
      return bad(
        [DMA_VIOLATION.bufferTooShort, f.length - f.described, 0, 0],
        `the MDL chain describes ${f.described} bytes from CurrentVa, fewer than Length (${f.length}) (0xE6/0x24)`,
      )
    case 'chain-loops':
      return bad([DMA_DMALAB_BAD_ARGUMENT, 0, 0, 0], `the MDL chain loops back on itself (more than ${f.limit} MDLs from CurrentVa)`)
    case 'too-many-map-registers':
      return {
        kind: 'dma-too-many-map-registers',
        params: [DMA_VIOLATION.tooManyMapRegisters, f.needed, f.maximum, 0],
        message: `the transfer needs ${f.needed} map registers and IoGetDmaAdapter gave the adapter ${f.maximum}; the call fails with STATUS_INSUFFICIENT_RESOURCES every time (0xE6/0x0C)`,
      }
    case 'no-iova-space':
    case 'no-table-memory':
      return null
  }
}

function bad(params: DmaParams, message: string): { kind: ReportedKind; params: DmaParams; message: string } {
  return { kind: 'dma-bad-argument', params, message }
}

/** Reports what `f` says about the driver's call (nothing when it is only a shortage); returns its status. */
export function reportMapFailure(kernel: Kernel, routine: string, f: MapFailure): number {
  const finding = mapFailureFinding(f)
  if (finding !== null) dmaViolation(kernel, finding.kind, finding.params, `${routine}: ${finding.message}`, { reason: f.reason })
  return mapFailureStatus(f)
}
