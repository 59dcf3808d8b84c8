// What the DMA layer tells an observer that pictures it (the HTML report's memory map): each
// common buffer with its frames, each scatter/gather list built and put back. Nobody observes
// unless a report asked for the picture, so the per-packet paths pay one null check.
import type { AdapterState, DmaBufferRecord, SgRecord } from './adapter.js'

export interface DmaMapObserver {
  /** A common buffer (AllocateCommonBuffer, NdisMAllocateSharedMemory) and its frames, page by page. */
  commonBuffer(adapter: AdapterState, record: DmaBufferRecord, pfns: readonly number[]): void
  /** A scatter/gather list was built: its elements, the pieces they map and any bounce pages. */
  sgBuilt(adapter: AdapterState, record: SgRecord): void
  /** A scatter/gather list was put back (its mappings and bounce pages released). */
  sgPut(record: SgRecord): void
}
