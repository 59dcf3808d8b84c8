// What the DMA layer tells an observer that pictures it (the HTML report's memory map): each
// common buffer with its frames, and each mapping the device was given: a scatter/gather list
// (GetScatterGatherList[Ex], BuildScatterGatherList[Ex], NdisMAllocateNetBufferSGList, NDIS 5's
// map registers) or a packet-based transfer (MapTransfer), until it is put back or flushed.
// Nobody observes unless a report asked for the picture, so the per-packet paths pay one null check.
import type { CallSite } from '../kernel/calls.js'
import type { AdapterState, DmaBufferRecord } from './adapter.js'
import type { PhysicalRanges } from './coverage.js'

/** A mapping the device was given, as the observer sees it (an SgRecord, a MapTransfer's transfer). */
export interface ObservedMapping {
  readonly routine: string
  /** The driver's call, when it was resolved. */
  readonly site: CallSite | undefined
  /** The physical pieces behind the device's addresses, in order (bounce pages where bounced). */
  readonly mapping: { readonly ranges: PhysicalRanges }
  /** Bounced pieces: [bounce PA, original PA, length]. */
  readonly bounced: ReadonlyArray<readonly [number, number, number]>
}

/** A range the device was given: a scatter/gather element, or what MapTransfer returned. */
export interface DeviceRange {
  readonly Address: number
  readonly Length: number
}

export interface DmaMapObserver {
  /** A common buffer (AllocateCommonBuffer, NdisMAllocateSharedMemory) and its frames, page by page. */
  commonBuffer(adapter: AdapterState, record: DmaBufferRecord, pfns: readonly number[]): void
  /** A mapping was made: the ranges the device was given and the pieces they map, with any bounce pages. */
  mapped(adapter: AdapterState, record: ObservedMapping, given: readonly DeviceRange[]): void
  /** The mapping was undone (a list put back, a transfer flushed or its registers freed). */
  unmapped(record: ObservedMapping): void
}
