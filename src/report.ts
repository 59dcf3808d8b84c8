// The run report (DESIGN "Command line": the `--json` schema), built from the machine's state
// alone so the same configuration, seed and miniport give the same report, byte for byte.
import type { ResolvedConfig } from './config.js'
import type { BugCheckParams } from './hw/finding.js'
import type { Finding } from './kernel/kinds.js'
import type { DmaBufferRecord } from './dma/adapter.js'
import type { TagUsage } from './kernel/pool-tracker.js'
import type { IommuFault } from './hw/iommu/iommu.js'
import type { OidResult } from './ndis/binding.js'

export type Outcome = 'clean' | 'findings' | 'bugcheck' | 'init-failed'

export interface InjectedFaultReport {
  routine: string
  tag: string | null
  size: number
  site: string | null
  phase: string
  call: number
  timeNs: number
  replay: string
}

/** Frames that did not make it, by where they were lost: the protocol's and the NIC's own counts. */
export interface DroppedFrames {
  /** Sends the miniport completed with a failure status. */
  txFailed: number
  /** Frames indicated whose bytes were not what was sent. */
  rxCorrupt: number
  /** Frames indicated that were no frame of dmalab's LAN. */
  rxForeign: number
  /** The NIC had no buffer for them: its receive FIFO overflowed, or they were still waiting there when the receiver stopped. */
  /** Frames indicated although the packet filter excluded them (a `packet-filter-ignored` finding). */
  rxFiltered: number
  nicNoBuffer: number
  /** Not dropped yet: waiting in the NIC's receive FIFO for a free descriptor when the report was made. */
  nicWaiting: number
  /** The NIC's address or VLAN filters rejected them. */
  nicFiltered: number
  /** Shorter than the 64-byte minimum (a runt), discarded by the NIC. */
  nicUndersize: number
  /** Too long for the NIC's receive setting. */
  nicOversize: number
  /** The NIC's receive ring was misprogrammed, its queue stopped, or bus mastering was off. */
  nicRefused: number
  /** Arrived with the link down or the receiver disabled (the frames a LAN sends after the halt). */
  nicReceiverOff: number
  /** Frames whose buffer DMA failed, either direction. */
  nicDmaErrors: number
  /** Frames the NIC consumed from the transmit ring without sending (malformed descriptors, failed fetches). */
  nicTxDropped: number
}

export interface Report {
  miniport: string
  config: ResolvedConfig
  outcome: Outcome
  init: { status: string; code: number }
  bugcheck: null | { code: number; name: string; params: BugCheckParams }
  findings: Finding[]
  /**
   * Findings of severity `info` (a routine the WDK documents as replaced, ...): worth knowing,
   * never a fault, so they never make a run unclean.
   */
  notes: Finding[]
  /** Findings of a kind beyond the log's per-kind limit: counted, not kept. */
  findingsSuppressed: Record<string, number>
  traffic: {
    txFrames: number
    rxFrames: number
    txRequested: number
    /** Frames the LAN offered (`--rx`, and the broadcasts after the unbind and the halt). */
    rxOffered: number
    dropped: DroppedFrames
    /**
     * Frames the LAN sent after MiniportHaltEx (a peer's broadcasts) and how many found the
     * receiver off, as a halted NIC should; also counted in `dropped.nicReceiverOff`.
     */
    afterHalt: { frames: number; receiverOff: number }
  }
  pool: { byTag: Record<string, TagUsage> }
  dma: {
    commonBuffers: DmaBufferRecord[]
    bounceBytes: number
    scatterGatherLists: number
    /** Of scatterGatherLists, the NDIS 5 map-register transfers (NdisMStartBufferPhysicalMapping). */
    mapRegisterTransfers: number
    bouncedLists: number
    iommuFaults: IommuFault[]
  }
  faults: { injected: InjectedFaultReport[] }
  /** OID requests the user issued (`m.oid`, `--oid`), with what came back. */
  oids: OidResult[]
}
