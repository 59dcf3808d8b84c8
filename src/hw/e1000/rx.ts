// The receive engine (manual 3.2). A frame that arrives while the link is up and RCTL.EN is
// set goes through the address and VLAN filters (filter.ts) and the length checks, has its
// 802.1Q tag stripped into the descriptor's special field when CTRL.VME is set (VP status,
// table 9-3), gets its FCS when RCTL.SECRC is clear, its packet checksum and, with RXCSUM,
// its IP and TCP/UDP checks (rx-checksum.ts). Then it needs free descriptors (RDH != RDT)
// with buffers of the RCTL.BSIZE size: for each descriptor the device writes the data, then
// the length and checksum, then the status with DD last (EOP on the frame's last one). With
// too few free descriptors the frame waits in the receive FIFO (rx-fifo.ts), RNBC counts it,
// and it is written once RDT moves; only a frame that finds the FIFO full is lost, counted in
// MPC with RXO raised (13.7.33 RNBC, 13.7.5 MPC). A null buffer address moves no data but
// still consumes the descriptor. Receive is blocked unless the link is up, RCTL.EN is set and
// PCI COMMAND.BME is set; clearing RCTL.EN or a reset empties the FIFO (the manual does not
// say what happens to frames waiting there; a disabled receiver delivering them later
// would be a surprise to its driver).
//
// The packet checksum (3.2.3: "by default computed over the entire packet from the first byte
// of the DA through the last byte of the CRC", from RXCSUM.PCSS after stripping) is the one
// place the model trades the manual for speed: it is a pass over every byte received, a fifth
// of the receive path's cost for full-size frames, so dmalab computes it only once software
// has written RXCSUM since reset (as drivers that use it do — Linux's e1000 writes RXCSUM when
// it configures receive), and writes 0 in the descriptor before that.
//
// Buffer sizes (RCTL.BSIZE, 13.4.22): 00 = 2048, 01 = 1024, 10 = 512, 11 = 256; with BSEX
// 01 = 16384, 10 = 8192, 11 = 4096, and BSEX with 00 is reserved. Decision: the device uses
// 2048 bytes for it (what QEMU's e1000 does) and the RCTL write is reported as a
// `device-error`, so a driver relying on a reserved encoding hears about it.
//
// Lengths, with FCS (13.7.34 RUC, 13.7.36 ROC, 13.7.15 RLEC): a frame under 64 bytes is
// undersized; one over 1522 bytes (16384 with RCTL.LPE) is oversized, tagged or not. Both are
// length errors, counted, and discarded — unless RCTL.SBP (store bad packets) is set, when they
// are stored as received. Frames on this wire carry no FCS: a frame injected with fewer than
// 60 bytes is a runt a real PHY would have delivered.
//
// Guards (REFERENCE §6): the geometry is checked before every frame, a frame never uses more
// descriptors than the ring holds, every descriptor is consumed, and a failed descriptor
// fetch stops the queue until reset (`device-error`). Writes are posted (REFERENCE §1): a
// buffer or descriptor write the IOMMU blocks is lost without the device learning of it, so
// it sets no error bit (RXE means a PHY error) and carries on; the IOMMU records the fault.
import { deviceAddress } from '../address.js'
import { DMA_STATUS, dmaStatusText, type DmaEngine, type DmaStatus } from '../dma-engine.js'
import type { FindingSink } from '../finding.js'
import type { NicRxCounters } from '../nic.js'
import type { Clock } from '../clock.js'
import { onesSum } from '../checksum.js'
import { appendFcs } from './crc32.js'
import { accepts, classify, vlanAccepts } from './filter.js'
import { DelayedCause, type InterruptCauses } from './interrupts.js'
import { DESCRIPTOR_SIZE, RXD_STATUS, RX_DESCRIPTOR } from './layouts.js'
import { ICR, PBA_RXA_MASK, RCTL, REG, RXCSUM } from './registers.js'
import { RxFifo } from './rx-fifo.js'
import { checksumStatus } from './rx-checksum.js'
import { DescriptorRing } from './ring.js'
import { STAT, type Statistics } from './stats.js'
import type { LinkState } from './tx.js'

const D = RX_DESCRIPTOR.offset
const MIN_FRAME_WITH_FCS = 64
const MAX_FRAME_WITH_FCS = 1522
const MAX_LONG_FRAME = 16384
const BUFFER_SIZES = [2048, 1024, 512, 256] as const
const EXTENDED_BUFFER_SIZES = [2048, 16384, 8192, 4096] as const
const VET = REG.VET >>> 2
const RXCSUM_INDEX = REG.RXCSUM >>> 2
const PBA = REG.PBA >>> 2

export class RxEngine {
  readonly ring: DescriptorRing
  /** RDTR / RADV hold RXT0 back. */
  readonly delay: DelayedCause
  readonly fifo = new RxFifo()
  control = 0
  bufferSize = 2048
  stopped = false
  /**
   * Software has written RXCSUM since reset: only then is the packet checksum computed (see
   * the header comment).
   */
  packetChecksum = false
  readonly counters: NicRxCounters = { frames: 0, bytes: 0, filtered: 0, ignored: 0, noBuffers: 0, waiting: 0, undersize: 0, oversize: 0, refused: 0, dmaErrors: 0 }
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
    if ((value & RCTL.EN) === 0) this.flushFifo()
    else if (!wasEnabled && this.ring.tail !== this.ring.head) this.ring.check()
  }

  /** RDT: software handed buffers to the device; frames waiting in the FIFO can go. */
  writeTail(value: number): void {
    this.ring.writeTail(value)
    if ((this.control & RCTL.EN) !== 0 && this.ring.check()) this.drain()
  }

  /** The device's bus mastering changed: a later refusal is worth a new report, and the FIFO may drain. */
  busMasterChanged(): void {
    this.busMasterReported = false
    if (this.fifo.size > 0 && this.dma.busMasterEnabled && (this.control & RCTL.EN) !== 0 && this.ring.check()) this.drain()
  }

  /** The receive FIFO's size: RXA of PBA, in KiB. */
  get fifoBytes(): number {
    return (this.regs[PBA]! & PBA_RXA_MASK) * 1024
  }

  reset(): void {
    this.ring.reset()
    this.control = 0
    this.bufferSize = 2048
    this.stopped = false
    this.packetChecksum = false
    this.busMasterReported = false
    this.flushFifo()
    this.delay.cancel()
    this.delay.delay = 0
    this.delay.absolute = 0
  }

  /** A frame arrived from the wire: `buf[off, off + len)` plus spare bytes for an FCS. */
  receive(buf: Uint8Array, off: number, len: number): void {
    if (!this.link.linkUp || (this.control & RCTL.EN) === 0) {
      this.counters.ignored++
      return
    }
    const control = this.control
    const regs = this.regs
    if (!accepts(regs, control, buf, off)) {
      this.counters.filtered++
      return
    }
    const vet = regs[VET]! & 0xffff
    const tagged = len >= 16 && ((buf[off + 12]! << 8) | buf[off + 13]!) === vet
    if (tagged && !vlanAccepts(regs, control, buf, off)) {
      this.counters.filtered++
      return
    }
    const withFcs = len + 4
    if ((withFcs < MIN_FRAME_WITH_FCS || withFcs > MAX_FRAME_WITH_FCS) && !this.lengthAccepted(control, len)) return
    const stats = this.stats
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
    // Table 9-3: with CTRL.VME the tag leaves the frame for the descriptor, and VP says so.
    let start = off
    let length = len
    let meta = 0
    if (tagged && this.link.vlanMode) {
      meta = RXD_STATUS.VP | (((buf[off + 14]! << 8) | buf[off + 15]!) << 16)
      buf.copyWithin(off + 4, off, off + 12)
      start = off + 4
      length = len - 4
    }
    const rxcsum = regs[RXCSUM_INDEX]!
    meta |= (rxcsum & (RXCSUM.IPOFLD | RXCSUM.TUOFLD)) === 0 ? RXD_STATUS.IXSM : checksumStatus(rxcsum, vet, buf, start, length)
    const total = (control & RCTL.SECRC) !== 0 ? length : length + 4
    if (total !== length) appendFcs(buf, start, length)
    // RXCSUM.PCSS: the packet checksum starts there, after stripping, and covers the FCS
    // when the FCS is kept.
    const checksum = this.packetChecksum ? onesSum(buf, start + (rxcsum & RXCSUM.PCSS_MASK), start + total) : 0
    const fifo = this.fifo
    if (fifo.size === 0 && this.ring.owned >= this.needed(total)) {
      this.store(buf, start, total, meta, checksum, length)
      return
    }
    // 13.7.33: no buffer for it, so it waits in the FIFO if there is room.
    stats.increment(STAT.RNBC)
    if (fifo.push(buf, start, total, meta, checksum, length, this.fifoBytes)) {
      this.counters.waiting++
    } else {
      stats.increment(STAT.MPC)
      this.counters.noBuffers++
      this.causes.raise(ICR.RXO)
    }
  }

  /** Frames still waiting when the receiver stops are lost for want of buffers. */
  private flushFifo(): void {
    this.counters.noBuffers += this.fifo.size
    this.counters.waiting = 0
    this.fifo.clear()
  }

  /** 13.7.34 / 13.7.36: under- and oversized frames are counted, and stored only with SBP. */
  private lengthAccepted(control: number, len: number): boolean {
    const withFcs = len + 4
    const limit = (control & RCTL.LPE) !== 0 ? MAX_LONG_FRAME : MAX_FRAME_WITH_FCS
    if (withFcs >= MIN_FRAME_WITH_FCS && withFcs <= limit) return true
    const stats = this.stats
    stats.increment(STAT.RLEC)
    if (withFcs < MIN_FRAME_WITH_FCS) {
      stats.increment(STAT.RUC)
      if ((control & RCTL.SBP) !== 0) return true
      this.counters.undersize++
    } else {
      stats.increment(STAT.ROC)
      if ((control & RCTL.SBP) !== 0) return true
      this.counters.oversize++
    }
    return false
  }

  /** Descriptors a stored frame of `total` bytes takes. */
  private needed(total: number): number {
    const size = this.bufferSize
    return total <= size ? 1 : Math.ceil(total / size)
  }

  /** Writes waiting frames out while the ring has room for the oldest. */
  private drain(): void {
    const fifo = this.fifo
    while (fifo.size > 0 && !this.stopped && this.ring.owned >= this.needed(fifo.frontLength)) {
      const ok = this.store(fifo.buffer, fifo.frontOffset, fifo.frontLength, fifo.frontMeta, fifo.frontChecksum, fifo.frontWireLength)
      fifo.shift()
      this.counters.waiting--
      if (!ok && this.stopped) break
    }
  }

  /**
   * Writes the frame into as many descriptors as it takes; false when it was not written
   * (the ring ran out inside it, or a descriptor fetch failed). `meta` is what the last
   * descriptor's status, errors and special fields say; `wireLength` the frame's length on
   * the wire without FCS, for the statistics.
   */
  private store(buf: Uint8Array, off: number, total: number, meta: number, checksum: number, wireLength: number): boolean {
    const ring = this.ring
    const count = ring.count
    const size = this.bufferSize
    const v = this.descView
    let written = 0
    let failed = false
    const firstIndex = ring.head
    while (written < total) {
      if (ring.head === ring.tail) {
        // Null-address descriptors used up what the frame needed: the rest is lost.
        ring.reportBadDescriptor(ring.head, 'frame-truncated', `the ring ran out in the middle of a frame after ${written} of ${total} bytes`)
        this.stats.increment(STAT.MPC)
        this.counters.noBuffers++
        this.causes.raise(ICR.RXO)
        return false
      }
      const index = ring.head
      const at = ring.descriptorAddress(index)
      const fetched = this.dma.read(at, this.desc, 0, DESCRIPTOR_SIZE)
      if (fetched !== DMA_STATUS.ok) return this.stop(index, at, fetched)
      const low = v.getUint32(D.bufferAddressLow, true)
      const high = v.getUint32(D.bufferAddressHigh, true)
      let chunk = 0
      let last = false
      if (low === 0 && high === 0) {
        ring.reportBadDescriptor(index, 'null-buffer', 'buffer address 0: no data written; the descriptor was consumed')
      } else {
        chunk = total - written < size ? total - written : size
        // Posted writes: a lost one is the IOMMU's record, not the device's.
        if (this.dma.write(deviceAddress(high, low, this.dma.addressBits), buf, off + written, chunk) !== DMA_STATUS.ok) failed = true
        written += chunk
        last = written >= total
      }
      // Length and packet checksum (3.2.3: "always reported in the first descriptor, even in
      // the case of multi-descriptor packets"), then status with DD last.
      v.setUint16(D.length, chunk, true)
      v.setUint16(D.checksum, index === firstIndex ? checksum : 0, true)
      if (this.dma.write(at + D.length, this.desc, D.length, 4) !== DMA_STATUS.ok) failed = true
      this.desc[D.status] = RXD_STATUS.DD | (last ? RXD_STATUS.EOP | (meta & 0xfc) : 0)
      this.desc[D.errors] = last ? (meta >>> 8) & 0xff : 0
      v.setUint16(D.special, last ? meta >>> 16 : 0, true)
      if (this.dma.write(at + D.status, this.desc, D.status, 4) !== DMA_STATUS.ok) failed = true
      ring.head = index + 1 === count ? 0 : index + 1
    }
    if (failed) this.counters.dmaErrors++
    this.delivered(buf, off, wireLength)
    return true
  }

  private delivered(buf: Uint8Array, off: number, length: number): void {
    const stats = this.stats
    const ring = this.ring
    this.counters.frames++
    this.counters.bytes += length
    stats.increment(STAT.GPRC)
    stats.increment(STAT.TPR)
    stats.addOctets(STAT.GORCL, length + 4)
    stats.addOctets(STAT.TORL, length + 4)
    stats.bucket(STAT.PRC64, length + 4)
    if ((buf[off]! & 1) !== 0) stats.increment(classify(buf, off) === 'broadcast' ? STAT.BPRC : STAT.MPRC)
    // RXDMT0 (13.4.22 RDMTS): free descriptors down to 1/2, 1/4 or 1/8 of the ring.
    const shift = ((this.control & RCTL.RDMTS_MASK) >>> RCTL.RDMTS_SHIFT) + 1
    if (ring.owned * DESCRIPTOR_SIZE <= ring.length >>> shift) this.causes.raise(ICR.RXDMT0)
    this.delay.trigger()
  }

  private stop(index: number, at: number, status: DmaStatus): false {
    this.stopped = true
    this.stats.increment(STAT.MPC)
    this.counters.refused++
    this.ring.reportDmaFailure('fetch', index, at, dmaStatusText(status))
    return false
  }
}
