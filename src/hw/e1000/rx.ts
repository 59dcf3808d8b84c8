// The receive engine (manual 3.2): a frame that passes the filters needs free descriptors
// (RDH != RDT) with buffers of the RCTL.BSIZE size. For each descriptor the device writes the
// data, then the length, then the status with DD last (EOP on the frame's last descriptor).
// No free descriptor: count RNBC and MPC, raise RXO, drop. A null buffer address moves no data
// but still consumes the descriptor. Receive is blocked unless the link is up, RCTL.EN is set
// and PCI COMMAND.BME is set.
//
// Buffer sizes (RCTL.BSIZE, 13.4.22): 00 = 2048, 01 = 1024, 10 = 512, 11 = 256; with BSEX
// 01 = 16384, 10 = 8192, 11 = 4096, and BSEX with 00 is reserved. Decision: the device uses
// 2048 bytes for it (what QEMU's e1000 does) and the RCTL write is reported as a
// `device-error`, so a driver relying on a reserved encoding hears about it.
//
// Frames on the wire carry no FCS: with RCTL.SECRC clear the device appends the FCS it
// computes, as a real MAC passes the received one up. Short frames are padded to the 60-byte
// minimum. Frames longer than 1518 bytes with FCS (1522 VLAN-tagged) need RCTL.LPE, else they
// are counted in ROC and dropped. A frame larger than one buffer spans descriptors.
//
// Guards (REFERENCE §6): the geometry is checked before every frame, a frame never uses more
// descriptors than the ring holds, every descriptor is consumed, and a failed descriptor
// fetch or write-back stops the queue until reset (`device-error`). A buffer write the IOMMU
// or the bus refused leaves the frame incomplete, so its last descriptor carries RXE.
import { deviceAddress } from '../address.js'
import { DMA_STATUS, dmaStatusText, type DmaEngine, type DmaStatus } from '../dma-engine.js'
import type { FindingSink } from '../finding.js'
import type { NicRxCounters } from '../nic.js'
import type { Clock } from '../clock.js'
import { appendFcs } from './crc32.js'
import { accepts, classify } from './filter.js'
import { DelayedCause, type InterruptCauses } from './interrupts.js'
import { DESCRIPTOR_SIZE, RXD_ERRORS, RXD_STATUS, RX_DESCRIPTOR } from './layouts.js'
import { ICR, RCTL } from './registers.js'
import { DescriptorRing } from './ring.js'
import { STAT, type Statistics } from './stats.js'
import type { LinkState } from './tx.js'

const D = RX_DESCRIPTOR.offset
const MIN_FRAME = 60
const MAX_FRAME_WITH_FCS = 1518
const MAX_VLAN_FRAME_WITH_FCS = 1522
const MAX_LONG_FRAME = 16384
const BUFFER_SIZES = [2048, 1024, 512, 256] as const
const EXTENDED_BUFFER_SIZES = [2048, 16384, 8192, 4096] as const


export class RxEngine {
  readonly ring: DescriptorRing
  /** RDTR / RADV hold RXT0 back. */
  readonly delay: DelayedCause
  control = 0
  bufferSize = 2048
  stopped = false
  readonly counters: NicRxCounters = { frames: 0, bytes: 0, filtered: 0, ignored: 0, noBuffers: 0, oversize: 0, refused: 0, dmaErrors: 0 }
  private readonly dma: DmaEngine
  private readonly causes: InterruptCauses
  private readonly stats: Statistics
  private readonly sink: FindingSink
  private readonly link: LinkState
  private readonly regs: Uint32Array
  private readonly desc = new Uint8Array(DESCRIPTOR_SIZE)
  private readonly descView = new DataView(this.desc.buffer)
  private busMasterReported = false

  constructor(clock: Clock, dma: DmaEngine, causes: InterruptCauses, stats: Statistics, sink: FindingSink, link: LinkState, regs: Uint32Array) {
    this.dma = dma
    this.causes = causes
    this.stats = stats
    this.sink = sink
    this.link = link
    this.regs = regs
    this.ring = new DescriptorRing('receive', sink, dma.requester, dma.addressBits)
    this.delay = new DelayedCause(clock, causes, ICR.RXT0, 'e1000 RDTR')
  }

  writeControl(value: number): void {
    const wasEnabled = (this.control & RCTL.EN) !== 0
    this.control = value >>> 0
    const code = (value & RCTL.BSIZE_MASK) >>> RCTL.BSIZE_SHIFT
    const extended = (value & RCTL.BSEX) !== 0
    this.bufferSize = (extended ? EXTENDED_BUFFER_SIZES : BUFFER_SIZES)[code]!
    if (extended && code === 0) {
      this.sink.report({
        kind: 'device-error',
        message: `${this.dma.requester} RCTL written with BSEX set and BSIZE 00, a reserved buffer size: the device uses 2048-byte buffers`,
        details: { requester: this.dma.requester, queue: 'receive', reason: 'reserved-buffer-size', value: value >>> 0 },
      })
    }
    if (!wasEnabled && (value & RCTL.EN) !== 0 && this.ring.tail !== this.ring.head) this.ring.check()
  }

  /** RDT: software handed buffers to the device. */
  writeTail(value: number): void {
    this.ring.writeTail(value)
    if ((this.control & RCTL.EN) !== 0) this.ring.check()
  }

  /** The device's bus mastering changed: a later refusal is worth a new report. */
  busMasterChanged(): void {
    this.busMasterReported = false
  }

  reset(): void {
    this.ring.reset()
    this.control = 0
    this.bufferSize = 2048
    this.stopped = false
    this.busMasterReported = false
    this.delay.cancel()
    this.delay.delay = 0
    this.delay.absolute = 0
  }

  /** A frame arrived from the wire: `buf[off, off + len)` plus spare bytes for padding and FCS. */
  receive(buf: Uint8Array, off: number, len: number): void {
    if (!this.link.linkUp || (this.control & RCTL.EN) === 0) {
      this.counters.ignored++
      return
    }
    const control = this.control
    if (!accepts(this.regs, control, buf, off)) {
      this.counters.filtered++
      return
    }
    const stats = this.stats
    let length = len
    if (length < MIN_FRAME) {
      buf.fill(0, off + length, off + MIN_FRAME)
      length = MIN_FRAME
    }
    const tagged = buf[off + 12] === 0x81 && buf[off + 13] === 0x00
    const limit = (control & RCTL.LPE) !== 0 ? MAX_LONG_FRAME : tagged ? MAX_VLAN_FRAME_WITH_FCS : MAX_FRAME_WITH_FCS
    if (length + 4 > limit) {
      stats.increment(STAT.ROC)
      this.counters.oversize++
      return
    }
    if (this.stopped || !this.ring.check()) {
      stats.increment(STAT.MPC)
      this.counters.refused++
      return
    }
    if (!this.dma.busMasterEnabled) {
      stats.increment(STAT.MPC)
      this.counters.refused++
      if (!this.busMasterReported) {
        this.busMasterReported = true
        this.dma.refuseWithoutBusMaster('receive: a frame arrived and could not be written to memory')
      }
      return
    }
    const total = (control & RCTL.SECRC) !== 0 ? length : length + 4
    if (total !== length) appendFcs(buf, off, length)
    const ring = this.ring
    const size = this.bufferSize
    const needed = total <= size ? 1 : Math.ceil(total / size)
    if (ring.owned < needed) {
      this.noBuffers()
      return
    }
    if (!this.store(buf, off, total)) return
    this.counters.frames++
    this.counters.bytes += length
    stats.increment(STAT.GPRC)
    stats.increment(STAT.TPR)
    stats.addOctets(STAT.GORCL, length + 4)
    stats.addOctets(STAT.TORL, length + 4)
    stats.bucket(STAT.PRC64, length + 4)
    if ((buf[off]! & 1) !== 0) stats.increment(classify(buf, off) === 'broadcast' ? STAT.BPRC : STAT.MPRC)
    // RXDMT0 (13.4.22 RDMTS): free descriptors down to 1/2, 1/4 or 1/8 of the ring.
    const shift = ((control & RCTL.RDMTS_MASK) >>> RCTL.RDMTS_SHIFT) + 1
    if (ring.owned * DESCRIPTOR_SIZE <= ring.length >>> shift) this.causes.raise(ICR.RXDMT0)
    this.delay.trigger()
  }

  /** Writes the frame into as many descriptors as it takes; false when it was not (fully) delivered. */
  private store(buf: Uint8Array, off: number, total: number): boolean {
    const ring = this.ring
    const count = ring.count
    const size = this.bufferSize
    const v = this.descView
    let written = 0
    let failed = false
    while (written < total) {
      if (ring.head === ring.tail) {
        // Null-address descriptors used up what the frame needed: the rest is lost.
        ring.reportBadDescriptor(ring.head, 'frame-truncated', `the ring ran out in the middle of a frame after ${written} of ${total} bytes`)
        this.noBuffers()
        return false
      }
      const index = ring.head
      const at = ring.descriptorAddress(index)
      const fetched = this.dma.read(at, this.desc, 0, DESCRIPTOR_SIZE)
      if (fetched !== DMA_STATUS.ok) return this.stop('fetch', index, at, fetched)
      const low = v.getUint32(D.bufferAddressLow, true)
      const high = v.getUint32(D.bufferAddressHigh, true)
      let chunk = 0
      let last = false
      if (low === 0 && high === 0) {
        ring.reportBadDescriptor(index, 'null-buffer', 'buffer address 0: no data written; the descriptor was consumed')
      } else {
        chunk = total - written < size ? total - written : size
        if (this.dma.write(deviceAddress(high, low, this.dma.addressBits), buf, off + written, chunk) !== DMA_STATUS.ok) failed = true
        written += chunk
        last = written >= total
      }
      // Length (and checksum, not computed: 0), then status with DD last.
      v.setUint16(D.length, chunk, true)
      v.setUint16(D.checksum, 0, true)
      const lengthWritten = this.dma.write(at + D.length, this.desc, D.length, 4)
      if (lengthWritten !== DMA_STATUS.ok) return this.stop('write-back', index, at + D.length, lengthWritten)
      this.desc[D.status] = RXD_STATUS.DD | (last ? RXD_STATUS.EOP : 0)
      this.desc[D.errors] = last && failed ? RXD_ERRORS.RXE : 0
      v.setUint16(D.special, 0, true)
      const statusWritten = this.dma.write(at + D.status, this.desc, D.status, 4)
      if (statusWritten !== DMA_STATUS.ok) return this.stop('write-back', index, at + D.status, statusWritten)
      ring.head = index + 1 === count ? 0 : index + 1
    }
    if (failed) this.counters.dmaErrors++
    return true
  }

  private noBuffers(): void {
    this.stats.increment(STAT.RNBC)
    this.stats.increment(STAT.MPC)
    this.counters.noBuffers++
    this.causes.raise(ICR.RXO)
  }

  private stop(what: 'fetch' | 'write-back', index: number, at: number, status: DmaStatus): false {
    this.stopped = true
    this.stats.increment(STAT.MPC)
    this.counters.refused++
    this.ring.reportDmaFailure(what, index, at, dmaStatusText(status))
    return false
  }
}
