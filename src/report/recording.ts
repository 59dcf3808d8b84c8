// What a run's report holds beyond DESIGN's --json schema when a picture of the run was asked
// for (`--html`): where every DMA buffer lay in the physical address space and what the device
// was given for it (`memoryMap`), and counters over virtual time (`timeline`). Both are bounded:
// lists are capped with counts of what was left out, series are bucketed (report/timeline.ts).
import type { Report } from '../report.js'
import type { TimeSeries } from './timeline.js'

/** Scatter/gather pieces and bounce pages kept (each distinct placement once, with a count). */
export const MAX_SG_PLACEMENTS = 400
/** Device accesses that went wrong, kept as markers on the map. */
export const MAX_MAP_FAULTS = 200
/** Pool tags with a series of their own; the rest are summed as `other`. */
export const MAX_TAG_SERIES = 16

export type BufferKind = 'common-buffer' | 'shared-memory' | 'sg-element' | 'bounce-buffer'

/**
 * reachable: the device was given an address it can drive; truncated: beyond its address
 * lines (the bus cuts the high bits); faulted: a device access to it went wrong (IOMMU fault,
 * DMA to freed or foreign memory).
 */
export type BufferState = 'reachable' | 'truncated' | 'faulted'

export interface MapBuffer {
  readonly id: number
  readonly kind: BufferKind
  readonly routine: string
  /** The driver line that asked for it. */
  readonly site: string | null
  readonly length: number
  /** What the device was given: an IOVA with the IOMMU translating, else a physical address. */
  readonly logicalAddress: number
  readonly translatedByIommu: boolean
  /** Where the bytes are (the CPU's view), as [physical address, length] runs in buffer order. */
  readonly frames: Array<readonly [number, number]>
  /** A bounce page: the physical address of the bytes it stood in for. */
  readonly standsInFor?: number
  readonly state: BufferState
  /** Freed (common buffers) or put back (S/G lists) by the end of the run. */
  readonly freed: boolean
  /**
   * How many times this same physical placement was mapped (S/G lists are built per packet;
   * `logicalAddress` is what the device was given the first time).
   */
  readonly mapped: number
  /** When it was first made, in virtual ns. */
  readonly timeNs: number
}

export interface MapFault {
  readonly kind: string
  /** The address on the bus (an IOVA with the IOMMU translating). */
  readonly deviceAddress: number
  /** Where it landed or was meant to, in physical memory, when known. */
  readonly physicalAddress: number | null
  readonly access: string
  readonly timeNs: number
  /** The index of the finding in `findings` (or -1 for an IOMMU fault record alone). */
  readonly finding: number
}

export interface MemoryMap {
  /** RAM ranges and the MMIO hole, in address order. */
  readonly regions: ReadonlyArray<{ readonly kind: 'ram' | 'mmio-hole'; readonly base: number; readonly end: number }>
  /** Device register windows (BARs) in the hole. */
  readonly devices: ReadonlyArray<{ readonly name: string; readonly base: number; readonly length: number }>
  /** One past the highest address the device can drive (2^dmaAddressBits). */
  readonly deviceLimit: number
  readonly fourGiB: number
  readonly iommu: boolean
  readonly buffers: MapBuffer[]
  readonly faults: MapFault[]
  /** What the caps left out: `{ 'sg-element': 1200 }` placements not kept, by kind. */
  readonly omitted: Record<string, number>
}

export interface Timeline extends TimeSeries {
  /** Channels: `traffic.sent`, `traffic.received`, `traffic.dropped.<reason>`, `interrupts`, `pool.<tag>`. */
  readonly omittedTags: number
}

/** A run's report with the picture recorded (`dmalab run --html`, `--json` with it). */
export type PicturedReport = Report & { readonly memoryMap: MemoryMap; readonly timeline: Timeline }
