// The transmit engine (manual 3.3): while TDH != TDT, fetch the descriptor at TDH, gather its
// bytes (a frame ends at EOP), write back DD — only when RS is set, and only the status dword
// at offset 12 — advance TDH modulo the ring, and put each finished frame on the wire.
//
// Timing: descriptor and data DMA run ahead of the wire into the transmit FIFO (16 KiB, the
// packet buffer's transmit share at PBA's reset value), and frames leave it at line rate. So
// one walk moves frames until the FIFO is full, then resumes when it has drained halfway:
// a doorbell costs a handful of events, not one per frame, and write-back happens when the
// data was fetched, as on the 8254x without RPS.
//
// Guards (REFERENCE §6): the walk is bounded by one ring's worth of descriptors per doorbell
// and by the ring geometry checked before it starts; every descriptor is consumed, whatever
// its content; a frame is bounded by 16288 bytes with sums checked; a failed descriptor fetch
// or write-back stops the queue until reset (`device-error`); a failed buffer fetch drops the
// frame (counted), so nothing partial ever reaches the wire. IFCS is accepted and ignored:
// frames on this wire carry no FCS (as QEMU does).
import { deviceAddress } from '../address.js'
import type { Clock, Timer } from '../clock.js'
import { DMA_STATUS, dmaStatusText, type DmaEngine, type DmaStatus } from '../dma-engine.js'
import type { FindingSink } from '../finding.js'
import type { NicTxCounters } from '../nic.js'
import type { Wire } from '../wire.js'
import { classify } from './filter.js'
import { DelayedCause, type InterruptCauses } from './interrupts.js'
import { DESCRIPTOR_SIZE, MAX_TX_LENGTH, TXD_CMD, TXD_STATUS, TX_DESCRIPTOR } from './layouts.js'
import { ICR, TCTL } from './registers.js'
import { DescriptorRing } from './ring.js'
import { STAT, type Statistics } from './stats.js'

/** The transmit share of the 64 KiB packet buffer at PBA's reset value (48 KiB receive). */
export const TX_FIFO_BYTES = 16 * 1024
const MIN_FRAME = 60
const D = TX_DESCRIPTOR.offset


/** What the engines need to know about the device around them. */
export interface LinkState {
  linkUp: boolean
}

export class TxEngine {
  readonly ring: DescriptorRing
  /** TIDV / TADV hold TXDW back for descriptors with IDE. */
  readonly delay: DelayedCause
  control = 0
  /** A descriptor fetch or write-back failed: nothing more until reset. */
  stopped = false
  readonly counters: NicTxCounters = { frames: 0, bytes: 0, descriptors: 0, dropped: 0, dmaErrors: 0 }
  private readonly clock: Clock
  private readonly dma: DmaEngine
  private readonly wire: Wire
  private readonly causes: InterruptCauses
  private readonly stats: Statistics
  private readonly link: LinkState
  private readonly timer: Timer
  private readonly fifoNs: number
  private readonly desc = new Uint8Array(DESCRIPTOR_SIZE)
  private readonly descView = new DataView(this.desc.buffer)
  /** The frame being gathered: its slot in the wire's buffer (-1: none), length, whether it is spoiled. */
  private slot = -1
  private frameLength = 0
  private frameBad = false
  /** A frame whose EOP has not been posted yet waits here between walks (allocated when first needed). */
  private partial: Uint8Array | null = null
  private partialLength = 0
  private budget = 0
  private running = false

  constructor(clock: Clock, dma: DmaEngine, wire: Wire, causes: InterruptCauses, stats: Statistics, sink: FindingSink, link: LinkState) {
    this.clock = clock
    this.dma = dma
    this.wire = wire
    this.causes = causes
    this.stats = stats
    this.link = link
    this.ring = new DescriptorRing('transmit', sink, dma.requester, dma.addressBits)
    this.delay = new DelayedCause(clock, causes, ICR.TXDW, 'e1000 TIDV')
    this.timer = clock.timer('e1000 transmit', () => this.walk())
    this.fifoNs = (TX_FIFO_BYTES * 8 * 1000) / wire.linkMbps
  }

  writeControl(value: number): void {
    this.control = value >>> 0
    if ((value & TCTL.EN) !== 0) this.kick()
  }

  /** TDT: software handed descriptors to the device. */
  writeTail(value: number): void {
    this.ring.writeTail(value)
    this.budget = this.ring.count
    this.kick()
  }

  /** Something that may let transmission go on happened (doorbell, enable, link, bus master). */
  kick(): void {
    if (!this.timer.armed && !this.running) this.clock.arm(this.timer, this.clock.now)
  }

  reset(): void {
    this.ring.reset()
    this.control = 0
    this.stopped = false
    this.slot = -1
    this.frameLength = 0
    this.frameBad = false
    this.partialLength = 0
    this.budget = 0
    this.delay.cancel()
    this.delay.delay = 0
    this.delay.absolute = 0
    this.clock.cancel(this.timer)
  }

  private walk(): void {
    const ring = this.ring
    if (this.running || this.stopped || (this.control & TCTL.EN) === 0 || !this.link.linkUp) return
    if (ring.head === ring.tail || !ring.check()) return
    if (!this.dma.busMasterEnabled) {
      this.dma.refuseWithoutBusMaster('transmit descriptor fetch')
      return
    }
    this.running = true
    const count = ring.count
    const wire = this.wire
    const now = this.clock.now
    let processed = 0
    while (ring.head !== ring.tail && this.budget > 0) {
      if (wire.txFreeAt - now >= this.fifoNs) {
        // FIFO full: resume once it has drained halfway.
        this.clock.arm(this.timer, wire.txFreeAt - this.fifoNs / 2)
        break
      }
      const index = ring.head
      const at = ring.descriptorAddress(index)
      const fetched = this.dma.read(at, this.desc, 0, DESCRIPTOR_SIZE)
      if (fetched !== DMA_STATUS.ok) {
        this.stop('fetch', index, at, fetched)
        break
      }
      this.budget--
      processed++
      this.counters.descriptors++
      const v = this.descView
      const cmd = v.getUint8(D.cmd)
      if ((cmd & TXD_CMD.DEXT) !== 0) {
        ring.reportBadDescriptor(index, 'extended-descriptor', 'DEXT is set: this 82540EM model takes legacy descriptors only; the descriptor was skipped')
      } else {
        this.gather(index, v.getUint32(D.bufferAddressLow, true), v.getUint32(D.bufferAddressHigh, true), v.getUint16(D.length, true))
      }
      if ((cmd & TXD_CMD.RS) !== 0) {
        this.desc[D.status] = this.desc[D.status]! | TXD_STATUS.DD
        const written = this.dma.write(at + D.status, this.desc, D.status, 4)
        if (written !== DMA_STATUS.ok) {
          this.stop('write-back', index, at + D.status, written)
          break
        }
        if ((cmd & TXD_CMD.IDE) !== 0) this.delay.trigger()
        else this.causes.raise(ICR.TXDW)
      }
      ring.head = index + 1 === count ? 0 : index + 1
      if ((cmd & TXD_CMD.EOP) !== 0 && (cmd & TXD_CMD.DEXT) === 0) this.finishFrame()
    }
    if (this.slot >= 0) this.parkPartial()
    this.running = false
    if (processed > 0 && ring.head === ring.tail) this.causes.raise(ICR.TXQE)
  }

  /** Adds one data descriptor's bytes to the frame being gathered. */
  private gather(index: number, low: number, high: number, length: number): void {
    const ring = this.ring
    if (length === 0) {
      ring.reportBadDescriptor(index, 'zero-length', 'length 0: no data fetched; the descriptor was consumed')
      return
    }
    if (this.frameBad) return
    if (low === 0 && high === 0) {
      ring.reportBadDescriptor(index, 'null-buffer', `buffer address 0 with length ${length}: the frame is dropped`)
      this.frameBad = true
      return
    }
    if (length > MAX_TX_LENGTH || this.frameLength + length > MAX_TX_LENGTH) {
      ring.reportBadDescriptor(index, 'oversize', `the frame would be ${this.frameLength + length} bytes, beyond the ${MAX_TX_LENGTH}-byte limit: the frame is dropped`, { length })
      this.frameBad = true
      return
    }
    if (this.slot < 0) this.openSlot()
    const status = this.dma.read(deviceAddress(high, low, this.dma.addressBits), this.wire.buffer, this.slot + this.frameLength, length)
    if (status !== DMA_STATUS.ok) {
      this.counters.dmaErrors++
      this.frameBad = true
      return
    }
    this.frameLength += length
  }

  private finishFrame(): void {
    let length = this.frameLength
    if (this.frameBad || length === 0) {
      this.counters.dropped++
      this.partialLength = 0
    } else {
      // The frame's bytes were gathered in an earlier walk and parked, and its EOP descriptor
      // carried none (length 0): bring them back into a slot before sending.
      if (this.slot < 0) this.openSlot()
      if ((this.control & TCTL.PSP) !== 0 && length < MIN_FRAME) {
        // TCTL.PSP: pad short frames to 64 bytes with FCS (60 without).
        this.wire.buffer.fill(0, this.slot + length, this.slot + MIN_FRAME)
        length = MIN_FRAME
      }
      this.wire.send(this.slot, length)
      this.counters.frames++
      this.counters.bytes += length
      this.count(length)
    }
    this.slot = -1
    this.frameLength = 0
    this.frameBad = false
  }

  private count(length: number): void {
    const s = this.stats
    const buf = this.wire.buffer
    s.increment(STAT.GPTC)
    s.increment(STAT.TPT)
    s.addOctets(STAT.GOTCL, length + 4)
    s.addOctets(STAT.TOTL, length + 4)
    s.bucket(STAT.PTC64, length + 4)
    if ((buf[this.slot]! & 1) !== 0) s.increment(classify(buf, this.slot) === 'broadcast' ? STAT.BPTC : STAT.MPTC)
  }

  /** Takes a slot in the wire's buffer, bringing back bytes gathered in an earlier walk. */
  private openSlot(): void {
    this.slot = this.wire.reserve()
    if (this.partialLength > 0 && this.partial !== null) {
      this.wire.buffer.set(this.partial.subarray(0, this.partialLength), this.slot)
      this.partialLength = 0
    }
  }

  /** The walk ended mid-frame (tail before EOP): keep the bytes until the rest is posted. */
  private parkPartial(): void {
    this.partial ??= new Uint8Array(MAX_TX_LENGTH)
    this.partial.set(this.wire.buffer.subarray(this.slot, this.slot + this.frameLength), 0)
    this.partialLength = this.frameLength
    this.slot = -1
  }

  private stop(what: 'fetch' | 'write-back', index: number, at: number, status: DmaStatus): void {
    this.stopped = true
    this.ring.reportDmaFailure(what, index, at, dmaStatusText(status))
  }
}
