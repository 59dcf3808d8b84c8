// The Ethernet link between the NIC and the rest of the world, full duplex at the configured
// speed. Frames on the wire carry no FCS (as pcap shows them).
//
//  - capture (default): every frame the NIC transmits is kept in `transmitted`;
//  - loopback: every transmitted frame arrives back at the NIC's receive side.
//  - `inject(frame)` and the traffic generator send frames toward the NIC in either mode.
//
// Timing: a frame occupies its direction of the link for preamble + frame + FCS + inter-frame
// gap (IEEE 802.3: 8 + max(len + 4, 64) + 12 bytes) at the link speed, and arrives when its
// last bit has (store and forward). Frames toward the NIC wait in an in-flight ring: one byte
// buffer with per-frame offset, length and arrival time in typed arrays, so a frame in flight
// costs no allocation. The NIC's transmit engine gathers a frame straight into a slot of that
// ring (reserve, then send), so in loopback a frame is copied once from guest memory to the
// wire and once from the wire to guest memory — the two copies a real loopback makes.
import type { Clock, Timer } from './clock.js'
import { PcapWriter } from './pcap.js'
import { TrafficGenerator, type FrameInjector, type TrafficOptions } from './traffic.js'

export type WireMode = 'capture' | 'loopback'

/** The NIC's receive side, as the wire sees it. */
export interface WirePort {
  /** A frame has arrived: bytes `buffer[offset, offset + length)`; the slot has SLOT_SPARE spare bytes after it. */
  receiveFrame(buffer: Uint8Array, offset: number, length: number): void
}

export interface WireOptions {
  readonly mode: WireMode
  readonly linkMbps: number
}

export interface WireCounters {
  txFrames: number
  txBytes: number
  rxFrames: number
  rxBytes: number
  injected: number
}

/** Largest frame either side may put on the wire (the 8254x's 16 KiB jumbo limit). */
export const MAX_WIRE_FRAME = 16384
/**
 * Bytes every slot keeps after its frame, so the receiver can pad a short frame to the
 * 60-byte minimum and append an FCS in place.
 */
export const SLOT_SPARE = 64
const MIN_FRAME = 60
const PREAMBLE_AND_GAP = 8 + 12

export class Wire implements FrameInjector {
  readonly mode: WireMode
  readonly linkMbps: number
  /** Capture mode: every frame the NIC transmitted, in order, as its own copy. */
  readonly transmitted: Uint8Array[] = []
  readonly counters: WireCounters = { txFrames: 0, txBytes: 0, rxFrames: 0, rxBytes: 0, injected: 0 }
  /** When the NIC → wire direction is idle again. */
  txFreeAt = 0
  /** When the wire → NIC direction is idle again. */
  rxFreeAt = 0
  /** Set by `capturePcap()`: every frame crossing the wire in either direction. */
  pcap: PcapWriter | null = null
  private readonly clock: Clock
  private readonly timer: Timer
  private port: WirePort | null = null
  // The in-flight ring toward the NIC.
  private ring: Uint8Array = new Uint8Array(0)
  private head = 0
  private qOffset = new Int32Array(64)
  private qLength = new Int32Array(64)
  private qArrival = new Float64Array(64)
  private qFirst = 0
  private qCount = 0
  private delivering = false

  constructor(clock: Clock, options: WireOptions) {
    this.clock = clock
    this.mode = options.mode
    this.linkMbps = options.linkMbps
    this.timer = clock.timer('wire delivery', () => this.deliver())
  }

  attach(port: WirePort): void {
    this.port = port
  }

  /** Nanoseconds a frame of `length` bytes (no FCS) occupies the link. */
  frameTimeNs(length: number): number {
    return ((PREAMBLE_AND_GAP + Math.max(length + 4, MIN_FRAME + 4)) * 8 * 1000) / this.linkMbps
  }

  /** Starts recording every frame crossing the wire into a pcap file (returns the writer). */
  capturePcap(snapLength?: number, sink?: (bytes: Uint8Array) => void): PcapWriter {
    this.pcap = new PcapWriter(snapLength, sink)
    return this.pcap
  }

  /** Frames waiting to arrive at the NIC. */
  get inFlight(): number {
    return this.qCount
  }

  // ---- NIC → wire ------------------------------------------------------------------------------

  /** The buffer `reserve()` offsets point into (valid until the next reserve). */
  get buffer(): Uint8Array {
    return this.ring
  }

  /** Room for one frame of up to MAX_WIRE_FRAME bytes: an offset into `buffer`. */
  reserve(): number {
    return this.place(MAX_WIRE_FRAME + SLOT_SPARE)
  }

  /**
   * The NIC puts the frame it gathered at `buffer[offset, offset + length)` on the wire.
   * Returns the virtual time its last bit leaves.
   */
  send(offset: number, length: number): number {
    const start = this.txFreeAt > this.clock.now ? this.txFreeAt : this.clock.now
    const end = start + this.frameTimeNs(length)
    this.txFreeAt = end
    this.counters.txFrames++
    this.counters.txBytes += length
    if (this.pcap !== null) this.pcap.record(start, this.ring, offset, length)
    if (this.mode === 'loopback') this.enqueue(offset, length, start)
    else this.transmitted.push(this.ring.slice(offset, offset + length))
    return end
  }

  // ---- world → NIC -------------------------------------------------------------------------------

  /** A frame arrives from the far end (no FCS), after any frame already on its way. */
  inject(frame: Uint8Array): void {
    this.injectFrom(frame, 0, frame.length)
  }

  injectFrom(frame: Uint8Array, offset: number, length: number): void {
    if (!Number.isInteger(length) || length < 1 || length > MAX_WIRE_FRAME) {
      throw new RangeError(`a frame on the wire is 1..${MAX_WIRE_FRAME} bytes, got ${length}`)
    }
    const at = this.place(length + SLOT_SPARE)
    this.ring.set(frame.subarray(offset, offset + length), at)
    const start = this.rxFreeAt > this.clock.now ? this.rxFreeAt : this.clock.now
    if (this.pcap !== null) this.pcap.record(start, this.ring, at, length)
    this.counters.injected++
    this.enqueue(at, length, start)
  }

  /** Sends `count` frames toward the NIC at `ratePps` (default: line rate). */
  generate(options: TrafficOptions): TrafficGenerator {
    return new TrafficGenerator(this.clock, this, options, (size) => this.frameTimeNs(size))
  }

  // ---- the in-flight ring ------------------------------------------------------------------------

  private enqueue(offset: number, length: number, earliestStart: number): void {
    const start = earliestStart > this.rxFreeAt ? earliestStart : this.rxFreeAt
    const arrival = start + this.frameTimeNs(length)
    this.rxFreeAt = arrival
    if (this.qCount === this.qOffset.length) this.growQueue()
    // The queue's length is a power of two: a mask, not an integer division.
    const i = (this.qFirst + this.qCount) & (this.qOffset.length - 1)
    this.qOffset[i] = offset
    this.qLength[i] = length
    this.qArrival[i] = arrival
    this.qCount++
    this.head = offset + ((length + SLOT_SPARE + 7) & ~7)
    if (!this.timer.armed) this.clock.arm(this.timer, this.qArrival[this.qFirst]!)
  }

  private deliver(): void {
    if (this.delivering) return
    this.delivering = true
    const now = this.clock.now
    while (this.qCount > 0 && this.qArrival[this.qFirst]! <= now) {
      const i = this.qFirst
      const offset = this.qOffset[i]!
      const length = this.qLength[i]!
      this.counters.rxFrames++
      this.counters.rxBytes += length
      this.port?.receiveFrame(this.ring, offset, length)
      this.qFirst = (i + 1) & (this.qOffset.length - 1)
      this.qCount--
    }
    this.delivering = false
    if (this.qCount > 0) this.clock.arm(this.timer, this.qArrival[this.qFirst]!)
  }

  /**
   * An offset with `bytes` of contiguous room that overlaps no frame still in flight. Frames
   * leave in order, so the occupied bytes run from the oldest frame's offset to `head`,
   * possibly wrapping; the room is after `head`, or at 0 when the oldest frame is far enough
   * in. When neither fits, the ring doubles (rare: only a burst larger than the ring).
   */
  private place(bytes: number): number {
    if (this.qCount === 0) this.head = 0
    const tail = this.qCount === 0 ? 0 : this.qOffset[this.qFirst]!
    const size = this.ring.length
    if (this.qCount === 0 || this.head > tail) {
      if (size - this.head >= bytes) return this.head
      if (tail > bytes) return 0
    } else if (tail - this.head > bytes) {
      return this.head
    }
    this.growRing(bytes)
    return this.head
  }

  private growRing(bytes: number): void {
    let size = Math.max(256 * 1024, this.ring.length * 2)
    while (size < this.ring.length + bytes * 2) size *= 2
    const grown = new Uint8Array(size)
    // Compact the frames in flight, oldest first, and re-point them.
    let at = 0
    const n = this.qOffset.length
    for (let k = 0; k < this.qCount; k++) {
      const i = (this.qFirst + k) % n
      const off = this.qOffset[i]!
      const len = this.qLength[i]!
      grown.set(this.ring.subarray(off, off + len), at)
      this.qOffset[i] = at
      at += (len + SLOT_SPARE + 7) & ~7
    }
    this.ring = grown
    this.head = at
  }

  private growQueue(): void {
    const n = this.qOffset.length
    const offset = new Int32Array(n * 2)
    const length = new Int32Array(n * 2)
    const arrival = new Float64Array(n * 2)
    for (let k = 0; k < this.qCount; k++) {
      const i = (this.qFirst + k) % n
      offset[k] = this.qOffset[i]!
      length[k] = this.qLength[i]!
      arrival[k] = this.qArrival[i]!
    }
    this.qOffset = offset
    this.qLength = length
    this.qArrival = arrival
    this.qFirst = 0
  }
}
