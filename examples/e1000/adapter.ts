// The adapter context: everything the miniport keeps per NIC. In C this is a structure the
// driver allocates; here the object graph (NBLs, SG lists, handles) lives in a JavaScript
// object, while the numeric state the device and the driver share, and the driver's own
// descriptor-tracking tables, live in emulated memory allocated through NDIS (see init.ts).
import type { NdisApi } from '../../src/ndis/api.js'
import type { MDL, NdisHandle, NDIS_SPIN_LOCK, NET_BUFFER, NET_BUFFER_LIST, SCATTER_GATHER_LIST } from '../../src/ndis/types.js'
import { DESC_SIZE } from './hw.js'
import type { AdapterMemory } from './memory.js'
import type { OffloadState } from './offload.js'
import type { RxBlock } from './rx-blocks.js'

/**
 * Pool tags, written as C multi-character literals (reversed), so a pool dump reads them
 * forwards: 'Tk1E' shows as "E1kT" (S19).
 */
export const TAG = {
  tables: 'Tk1E', // E1kT: descriptor-tracking tables
  stats: 'Sk1E', // E1kS: statistics block
  nbl: 'Nk1E', // E1kN: receive NBL pool
} as const

/** Ring sizes the driver tries, largest first (S07: fall back to smaller rings). */
export const RING_SIZES = [256, 128, 64] as const

/** One packet in flight on the transmit ring. */
export interface TxPacket {
  nbl: NET_BUFFER_LIST
  nb: NET_BUFFER
  sgl: SCATTER_GATHER_LIST | null
  /** Index of the packet's last descriptor: its DD bit says the packet is done. */
  lastDescriptor: number
  /** TCP payload bytes of a large send (0 for any other), reported when it completes. */
  lsoPayload: number
}


export interface Adapter {
  ndis: NdisApi
  handle: NdisHandle
  /** Where this adapter's memory comes from (memory.ts): NDIS's routines for the e1000. */
  memory: AdapterMemory
  /** Register window from NdisMMapIoSpace. */
  regs: number
  regsLength: number
  regsPhysical: number
  mac: Uint8Array
  /** From NdisMRegisterScatterGatherDma (memory.ts); a driver on the HAL's DMA interface keeps its DMA_ADAPTER instead. */
  dmaHandle: NdisHandle | null
  interruptHandle: NdisHandle | null
  nblPool: NdisHandle | null
  lock: NDIS_SPIN_LOCK | null

  /** Driver statistics (ULONG64 counters) in a block from NdisAllocateMemoryWithTagPriority. */
  stats: number

  // Transmit ring (shared memory) and its tracking table (NdisAllocateMemoryWithTagPriority).
  txRing: number
  txRingLogical: number
  txCount: number
  txTable: number
  txNext: number
  txClean: number
  txFree: number
  txPackets: Array<TxPacket | null>
  /** NBLs waiting for descriptors, in order. */
  txQueue: NET_BUFFER_LIST[]

  // Receive ring, its buffers and the NBL pre-built for each descriptor.
  rxRing: number
  rxRingLogical: number
  rxCount: number
  rxTable: number
  rxBlocks: RxBlock[]
  rxNbls: Array<NET_BUFFER_LIST | null>
  rxMdls: Array<MDL | null>
  rxNext: number
  /** Descriptors whose buffers the protocol still holds. */
  rxIndicated: number
  rxTail: number

  /** Interrupt causes the ISR read (ICR is read-to-clear), for the DPC. */
  pendingIcr: number
  paused: boolean
  pausing: boolean
  halting: boolean
  linkUp: boolean
  packetFilter: number
  /** Task offload services on now (offload.ts). */
  offload: OffloadState
}

/**
 * Per-NBL state the miniport keeps while it owns a send, in the NBL's MiniportReserved slots
 * (as a C miniport does): the next NET_BUFFER still to be mapped, and how many NBs are not yet
 * complete.
 */
export const NBL_NEXT_NB = 0
export const NBL_NBS_LEFT = 1

export function ring(count: number): number {
  return count * DESC_SIZE
}

/** Statistics slots in the stats block (ULONG64 each). */
export const STAT = {
  txOk: 0,
  rxOk: 8,
  txErrors: 16,
  rxErrors: 24,
  rxNoBuffer: 32,
  txDropped: 40,
} as const
export const STATS_SIZE = 48

/** Tracking-table entry size: tx {packet index + 1 (u32), flags (u32), length (u32)}; rx {buffer VA (u64), logical (u64)}. */
export const TX_TABLE_ENTRY = 16
export const RX_TABLE_ENTRY = 16

export function readReg(a: Adapter, offset: number): number {
  return a.ndis.NdisReadRegisterUlong(a.regs + offset)
}

export function writeReg(a: Adapter, offset: number, value: number): void {
  a.ndis.NdisWriteRegisterUlong(a.regs + offset, value >>> 0)
}

export function bumpStat(a: Adapter, slot: number, by = 1): void {
  const m = a.ndis.memory
  m.write64(a.stats + slot, m.read64(a.stats + slot) + by)
}
