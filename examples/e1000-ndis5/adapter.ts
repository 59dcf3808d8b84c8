// The adapter: NDIS 5 passes the miniport its MiniportAdapterContext in every handler, and this
// driver's context is what seed document 000 describes — a context area allocated with
// NdisAllocateMemory and handed to NdisMSetAttributesEx. The area holds the adapter's runtime
// state (ring indices, link, filter, statistics) at the offsets below; the objects NDIS hands
// out (packets, buffers, handles) live in a JavaScript record found by the context's address.
import type { NdisApi } from '../../src/ndis/api.js'
import type { NDIS_BUFFER, NDIS_MINIPORT_INTERRUPT, NDIS_MINIPORT_TIMER, NDIS_PACKET } from '../../src/ndis/v5/types.js'
import type { NDIS_SPIN_LOCK, NdisHandle } from '../../src/ndis/types.js'
import type { RxBlock } from '../e1000/rx-blocks.js'

/** Offsets in the context area (ULONGs, then ULONG64 statistics). */
export const CTX = {
  txNext: 0,
  txClean: 4,
  txFree: 8,
  rxNext: 12,
  rxTail: 16,
  linkUp: 20,
  packetFilter: 24,
  lookahead: 28,
  pendingIcr: 32,
  halting: 36,
  /** Receive packets the protocol holds. */
  rxHeld: 40,
  /** MiniportCheckForHang: the transmit clean index at the last check, and checks without progress. */
  lastTxClean: 44,
  stalledChecks: 48,
  multicastCount: 52,
  /** MiniportPnPEventNotify said the NIC was surprise-removed: its registers are gone. */
  removed: 56,
  txOk: 64,
  rxOk: 72,
  txErrors: 80,
  rxErrors: 88,
  rxNoBuffer: 96,
  txDropped: 104,
} as const
export const CONTEXT_BYTES = 128

/** Ring sizes the driver tries, largest first (S07: fall back to smaller rings). */
export const RING_SIZES = [256, 128, 64] as const
/** Map registers for transmit: one per buffer in flight (NdisMAllocateMapRegisters). */
export const MAP_REGISTERS = 64
/** The most one map register maps: a whole frame (NdisMAllocateMapRegisters MaximumPhysicalMapping). */
export const MAXIMUM_PHYSICAL_MAPPING = 2048
/** Packets with more buffers than this, or shorter than COPY_BELOW, are copied into a staging slot. */
export const MAX_DIRECT_BUFFERS = 4
export const COPY_BELOW = 128
/** Staging slots: one frame each, in NdisAllocateMemory(CONTIGUOUS | NONCACHED) memory below 4 GiB. */
export const STAGING_SLOTS = 32
export const STAGING_SLOT_BYTES = 2048
/** Receive descriptors still posted below which frames are indicated with NDIS_STATUS_RESOURCES. */
export const RX_LOW_WATER = 8
/** The watchdog's period (NdisMSetPeriodicTimer), in milliseconds. */
export const WATCHDOG_MS = 500

/** One mapping of a buffer for the NIC: the register it holds and the buffer it maps. */
export interface TxMapping {
  readonly register: number
  readonly buffer: NDIS_BUFFER
}

/** A packet on the transmit ring. */
export interface TxPacket {
  readonly packet: NDIS_PACKET
  readonly mappings: TxMapping[]
  /** The staging slot it was copied into, or -1. */
  readonly slot: number
  readonly lastDescriptor: number
  readonly descriptors: number
}

/** A staging slot: its memory and the buffer descriptor that maps it. */
export interface StagingSlot {
  readonly va: number
  readonly buffer: NDIS_BUFFER
}

export interface Adapter {
  readonly ndis: NdisApi
  readonly driver: Driver
  readonly handle: NdisHandle
  /** The context area (NdisAllocateMemory), as NdisMSetAttributesEx was given it. */
  readonly ctx: number
  regs: number
  regsLength: number
  /** The I/O BAR's first port from NdisMRegisterIoPortRange (0: not registered), and how many. */
  ioPort: number
  ioPorts: number
  mac: Uint8Array
  /** OID_802_3_MULTICAST_LIST: the groups joined, 6 bytes an address (their count is CTX.multicastCount). */
  multicast: Uint8Array
  lock: NDIS_SPIN_LOCK | null
  interrupt: NDIS_MINIPORT_INTERRUPT | null
  watchdog: NDIS_MINIPORT_TIMER | null
  mapRegisters: boolean
  freeRegisters: number[]
  txRing: number
  txRingLogical: number
  rxRing: number
  rxRingLogical: number
  ringCount: number
  rxBlocks: RxBlock[]
  rxPackets: Array<NDIS_PACKET | null>
  /** Receive descriptors the driver has finished with and not yet handed back to the NIC. */
  rxReady: boolean[]
  rxBuffers: Array<NDIS_BUFFER | null>
  packetPool: NdisHandle | null
  bufferPool: NdisHandle | null
  /** The staging area: blocks of contiguous noncached memory and the slots carved from them. */
  stagingBlocks: Array<{ va: number; length: number; flags: number }>
  staging: StagingSlot[]
  freeSlots: number[]
  /** Packets waiting for descriptors or map registers, in the order they came. */
  txQueue: NDIS_PACKET[]
  /** Packets that could not be sent at all, to complete with NDIS_STATUS_RESOURCES once the lock is dropped. */
  txFailed: NDIS_PACKET[]
  /** Packets on the ring, by their last descriptor. */
  txPackets: Array<TxPacket | null>
}

/**
 * The driver: what DriverEntry set up, and every adapter by its context area (NDIS hands each
 * handler the context; the driver finds the rest). One per DriverEntry call, so machines that
 * load this module side by side share nothing.
 */
export interface Driver {
  readonly ndis: NdisApi
  readonly hooks: Hooks
  readonly adapters: Map<number, Adapter>
  wrapper: NdisHandle | null
}

/**
 * The few places where the buggy NDIS 5 examples differ from this driver (examples/buggy/ndis5-*):
 * each replaces one hook. The defaults are this driver's correct behaviour.
 */
export interface Hooks {
  /** The context area: allocated here, handed to NdisMSetAttributesEx by init.ts. */
  allocateContext(ndis: NdisApi): number
  /** The staging area, in MiniportInitialize (memory.ts). Returns false when there is none. */
  allocateStaging(a: Adapter): boolean
  /**
   * A staged frame's device addresses: through a map register (memory.ts), with the mapping to
   * complete when the NIC is done (null when it needs none). Null when it cannot be mapped now.
   */
  mapStaged(a: Adapter, slot: number, length: number): { units: Array<{ PhysicalAddress: number; Length: number }>; mapping: TxMapping | null } | null
  /** Gives back one transmit mapping once the NIC is done with it. */
  completeMapping(a: Adapter, m: TxMapping): void
  /** Whether a packet is copied into a staging slot rather than mapped buffer by buffer. */
  stage(a: Adapter, bufferCount: number, totalLength: number): boolean
  /**
   * NdisMRegisterInterrupt's RequestIsr: TRUE, MiniportISR on every interrupt (the driver's
   * choice, and needed on a shared line); FALSE, NDIS dismisses it through MiniportDisableInterrupt.
   */
  readonly requestIsr: boolean
  /**
   * The send handler this driver registers: MiniportSendPackets (its choice), or MiniportSend,
   * one packet a call ("MiniportSend is required for drivers that do not have a
   * MiniportSendPackets ... function").
   */
  readonly sendEntry: 'MiniportSendPackets' | 'MiniportSend'
  /** Runs at the start of every send (MiniportSendPackets or MiniportSend), before anything is queued. */
  beforeSend(a: Adapter): void
}

export function adapterOf(driver: Driver, context: unknown): Adapter {
  const a = driver.adapters.get(context as number)
  if (a === undefined) throw new Error(`no adapter for MiniportAdapterContext ${String(context)}`)
  return a
}

export function get(a: Adapter, field: number): number {
  return a.ndis.memory.read32(a.ctx + field)
}

export function set(a: Adapter, field: number, value: number): void {
  a.ndis.memory.write32(a.ctx + field, value >>> 0)
}

export function bump(a: Adapter, stat: number, by = 1): void {
  const m = a.ndis.memory
  m.write64(a.ctx + stat, m.read64(a.ctx + stat) + by)
}

export { readReg, writeReg } from '../e1000/device.js'
