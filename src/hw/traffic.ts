// A traffic generator on the far end of the wire: `count` Ethernet frames of `size` bytes
// (no FCS) at a configurable rate, injected toward the NIC. Each frame carries a big-endian
// sequence number right after the Ethernet header so a test can check order and loss. The
// frame is built once and patched per frame; the generator re-arms one timer, so generating
// a million frames allocates nothing per frame.
import type { Clock, Timer } from './clock.js'

/** Where generated frames go (the wire's far end). */
export interface FrameInjector {
  injectFrom(frame: Uint8Array, offset: number, length: number): void
}

export interface TrafficOptions {
  readonly count: number
  /** Frame length without FCS, 14..16384 (default 60, the Ethernet minimum without FCS). */
  readonly size?: number
  /** Frames per second; default: back to back at the link's line rate. */
  readonly ratePps?: number
  /** Destination MAC (default broadcast). */
  readonly destination?: string
  readonly source?: string
  /** Default 0x88B5, IEEE 802 local experimental. */
  readonly etherType?: number
}

export const GENERATOR_MAC = '02:00:00:00:00:02'
export const EXPERIMENTAL_ETHERTYPE = 0x88b5
const ETHERNET_HEADER = 14

export function parseMac(mac: string): Uint8Array {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(mac)
  if (!m) throw new RangeError(`"${mac}" is not a MAC address like 52:54:00:12:34:56`)
  return Uint8Array.from(m.slice(1, 7), (h) => parseInt(h, 16))
}

export class TrafficGenerator {
  readonly count: number
  readonly size: number
  /** Frames injected so far. */
  sent = 0
  private readonly frame: Uint8Array
  private readonly intervalNs: number
  private readonly clock: Clock
  private readonly sink: FrameInjector
  private readonly timer: Timer

  constructor(clock: Clock, sink: FrameInjector, options: TrafficOptions, lineRateIntervalNs: (size: number) => number) {
    const size = options.size ?? 60
    if (!Number.isInteger(options.count) || options.count < 0) throw new RangeError(`traffic count ${options.count} must be a whole number >= 0`)
    if (!Number.isInteger(size) || size < ETHERNET_HEADER + 4 || size > 16384) throw new RangeError(`traffic size ${size} must be a whole number in 18..16384`)
    if (options.ratePps !== undefined && !(options.ratePps > 0)) throw new RangeError(`traffic rate ${options.ratePps} must be > 0 frames/s`)
    this.clock = clock
    this.sink = sink
    this.count = options.count
    this.size = size
    this.intervalNs = options.ratePps === undefined ? lineRateIntervalNs(size) : 1e9 / options.ratePps
    const frame = new Uint8Array(size)
    frame.set(parseMac(options.destination ?? 'ff:ff:ff:ff:ff:ff'), 0)
    frame.set(parseMac(options.source ?? GENERATOR_MAC), 6)
    const type = options.etherType ?? EXPERIMENTAL_ETHERTYPE
    frame[12] = (type >>> 8) & 0xff
    frame[13] = type & 0xff
    for (let i = ETHERNET_HEADER + 4; i < size; i++) frame[i] = i & 0xff
    this.frame = frame
    this.timer = clock.timer('traffic generator', () => this.tick())
    if (this.count > 0) clock.armAfter(this.timer, 0)
  }

  get done(): boolean {
    return this.sent >= this.count
  }

  stop(): void {
    this.clock.cancel(this.timer)
  }

  private tick(): void {
    const f = this.frame
    const seq = this.sent
    f[ETHERNET_HEADER] = (seq >>> 24) & 0xff
    f[ETHERNET_HEADER + 1] = (seq >>> 16) & 0xff
    f[ETHERNET_HEADER + 2] = (seq >>> 8) & 0xff
    f[ETHERNET_HEADER + 3] = seq & 0xff
    this.sink.injectFrom(f, 0, this.size)
    this.sent++
    if (this.sent < this.count) this.clock.armAfter(this.timer, this.intervalNs)
  }
}
