// The narrow view of a network controller that the machine, NDIS and the report depend on:
// its PCI function (configuration space and BARs), the interrupt line it drives, its DMA
// engine, its permanent MAC address, its end of the wire, and typed counters. A model lives in
// its own folder (hw/e1000/ for the 82540EM) and implements this; nothing above hw/ names a
// model's class, so a second model (an RTL8139, say) plugs in without touching NDIS.
import type { DmaEngine } from './dma-engine.js'
import type { InterruptLine } from './interrupt.js'
import type { PciFunction } from './pci.js'
import type { WirePort } from './wire.js'

/** What the transmit side did, as the device's own bookkeeping (not its statistics registers). */
export interface NicTxCounters {
  /** Frames put on the wire (a TSO send counts each segment). */
  frames: number
  bytes: number
  /** Descriptors the device consumed, of any type. */
  descriptors: number
  /** Frames not sent: malformed descriptors or failed buffer fetches. */
  dropped: number
  /** Buffer fetches that failed (the frame was dropped). */
  dmaErrors: number
}

export interface NicRxCounters {
  /** Frames written to host memory. */
  frames: number
  bytes: number
  /** Dropped by the address or VLAN filters (not counted by the hardware). */
  filtered: number
  /** Arrived while receive was off (link down or receiver disabled). */
  ignored: number
  /**
   * Lost for want of buffers: the receive FIFO was full (MPC on the 8254x), or the frame was
   * still waiting in it when the receiver was disabled or reset.
   */
  noBuffers: number
  /** Not a count but a level: frames waiting in the receive FIFO for a free descriptor now. */
  waiting: number
  /** Dropped for being shorter than 64 bytes with FCS (RUC on the 8254x). */
  undersize: number
  /** Dropped for being too long for the receiver's setting (ROC on the 8254x). */
  oversize: number
  /** Dropped because the ring was misprogrammed, the queue stopped or bus mastering was off. */
  refused: number
  /** Frames with a buffer or descriptor write that failed. Device writes are posted: the device never learns of it. */
  dmaErrors: number
}

export interface NicCounters {
  readonly tx: Readonly<NicTxCounters>
  readonly rx: Readonly<NicRxCounters>
}

/** What a device's state says about a stalled queue, in its register terms. */
export interface NicHint {
  readonly queue: 'transmit' | 'receive'
  readonly message: string
  /** Descriptors filled (transmit) or frames received since the last refill (receive). */
  readonly count: number
}

/** Reads `length` bytes at a device (logical) address as the device would see them, with no side effect; null where nothing is mapped. */
export type DeviceMemoryReader = (logical: number, length: number) => Uint8Array | null

/** Software handed descriptors to the device: a tail register was written (`tail`), the head then being `head`. */
export type DoorbellObserver = (queue: 'transmit' | 'receive', tail: number, head: number) => void

/** One network controller on the machine. */
export interface Nic extends WirePort {
  /** Which model this is (a stable id, e.g. `e1000`). */
  readonly model: string
  /** The name a user reads (`Intel 82540EM`). */
  readonly description: string
  readonly bdf: string
  /** Configuration space; its BAR declarations say which windows are memory and which I/O. */
  readonly pci: PciFunction
  /** Physical address of the register window BAR0 decodes (DESIGN "Public API": `m.nic.bar0`). */
  readonly bar0: number
  /** INTA#, level-triggered. */
  readonly interrupt: InterruptLine
  readonly interruptAsserted: boolean
  readonly dma: DmaEngine
  /** The permanent address (from the device's EEPROM or PROM). */
  readonly mac: Uint8Array
  readonly linkUp: boolean
  readonly counters: NicCounters
  /** Told of every tail write (set by whoever watches the driver; null by default). */
  onDoorbell?: DoorbellObserver | null
  /** Why a queue may have stalled, read from the device's registers and descriptors. */
  stallHints?(read: DeviceMemoryReader): NicHint[]
}
