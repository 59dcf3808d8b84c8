// The transmit engine (manual 3.3): while TDH != TDT, fetch the descriptor at TDH, act on it,
// write back DD — only when RS is set, and only the status dword at offset 12 — advance TDH
// modulo the ring, and put each finished frame on the wire. Three descriptor types:
//  - legacy (DEXT clear, 3.3.3): data, with optional checksum insertion (IC, CSO, CSS);
//  - TCP/IP context (DEXT, DTYP 0000b, 3.3.6): loads one of two contexts — the TCP
//    segmentation one when TUCMD.TSE is set, the normal one otherwise (3.3.7.1 TSE: "If this
//    bit is not set, the descriptor is part of the 'normal' context");
//  - TCP/IP data (DEXT, DTYP 0001b, 3.3.7): data, with IP and TCP/UDP checksum insertion
//    (POPTS, first descriptor of the packet) and TCP segmentation (DCMD.TSE, 3.5).
// A frame ends at EOP; VLE (with CTRL.VME) inserts an 802.1Q tag built from VET and the
// special field, taken from the EOP descriptor, or for segmentation from the first.
//
// Timing: descriptor and data DMA run ahead of the wire into the transmit FIFO (its size is
// the packet buffer's transmit share, PBA), and frames leave it at line rate. So one walk
// moves frames until the FIFO is full, then resumes when it has drained halfway: a doorbell
// costs a handful of events, not one per frame, and write-back happens when the data was
// fetched, as on the 8254x without RPS.
//
// Guards (REFERENCE §6): the walk is bounded by one ring's worth of descriptors per doorbell
// and by the ring geometry checked before it starts; every descriptor is consumed, whatever
// its content; a frame is bounded by 16288 bytes with sums checked, a segmentation context by
// its header buffer (240 bytes, 3.5.9) and the FIFO (HDRLEN + MSS at least 80 bytes below it,
// 3.3.6 note 2); a failed descriptor fetch stops the queue until reset (`device-error`); a
// failed buffer fetch drops the frame (counted), so nothing partial ever reaches the wire.
// Write-back is a posted write: one the IOMMU blocks is lost without the device learning of
// it (REFERENCE §1), so the queue carries on. IFCS is accepted and ignored: frames on this
// wire carry no FCS (as QEMU does).
import { deviceAddress } from '../address.js'
import type { Clock, Timer } from '../clock.js'
import { DMA_STATUS, dmaStatusText, type DmaEngine, type DmaStatus } from '../dma-engine.js'
import type { FindingSink } from '../finding.js'
import type { NicTxCounters } from '../nic.js'
import type { Wire } from '../wire.js'
import { classify } from './filter.js'
import { DelayedCause, type InterruptCauses } from './interrupts.js'
import { DATA_DESCRIPTOR, DESCRIPTOR_SIZE, DTYP, MAX_TX_LENGTH, POPTS, TUCMD, TXD_CMD, TXD_STATUS, TX_DESCRIPTOR } from './layouts.js'
import { ICR, PACKET_BUFFER_KIB, PBA_RXA_MASK, REG, TCTL } from './registers.js'
import { DescriptorRing } from './ring.js'
import { STAT, type Statistics } from './stats.js'
import { TxContext, fixSegmentHeader, insertChecksum, insertVlanTag } from './tx-offload.js'

const MIN_FRAME = 60
/** The on-chip header buffer segmentation keeps the prototype header in (3.5.9). */
const TSO_HEADER_BYTES = 240
/** 3.3.6 note 2: HDRLEN + MSS must be at least this far below the transmit FIFO's size. */
const TSO_FIFO_MARGIN = 80
const D = TX_DESCRIPTOR.offset
const X = DATA_DESCRIPTOR.offset

/** What the engines need to know about the device around them. */
export interface LinkState {
  linkUp: boolean
  /** CTRL.VME: 802.1Q tags are inserted on transmit and stripped on receive. */
  vlanMode: boolean
}

export class TxEngine {
  readonly ring: DescriptorRing
  /** TIDV / TADV hold TXDW back for descriptors with IDE. */
  readonly delay: DelayedCause
  control = 0
  /** A descriptor fetch failed: nothing more until reset. */
  stopped = false
  readonly counters: NicTxCounters = { frames: 0, bytes: 0, descriptors: 0, dropped: 0, dmaErrors: 0 }
  /** The normal checksum context and the TCP segmentation one (3.3.6). */
  readonly normal = new TxContext()
  readonly segmentation = new TxContext()
  private readonly clock: Clock
  private readonly dma: DmaEngine
  private readonly wire: Wire
  private readonly causes: InterruptCauses
  private readonly stats: Statistics
  private readonly link: LinkState
  private readonly regs: Uint32Array
  private readonly timer: Timer
  private readonly desc = new Uint8Array(DESCRIPTOR_SIZE)
  private readonly descView = new DataView(this.desc.buffer)
  /** The frame being gathered: its slot in the wire's buffer (-1: none), length, whether it is spoiled. */
  private slot = -1
  private frameLength = 0
  private frameBad = false
  /** The gathered frame has had its first descriptor: the one whose CSS/POPTS/TSE count. */
  private started = false
  private firstCss = 0
  private firstPopts = 0
  /** A frame whose EOP has not been posted yet waits here between walks (allocated when first needed). */
  private partial: Uint8Array | null = null
  private partialLength = 0
  // A TCP segmentation in progress (3.5): its context as it was when it started, the
  // prototype header, the payload still to come and the frame being filled.
  private tso = false
  private readonly tsoContext = new TxContext()
  private tsoHeader: Uint8Array | null = null
  private tsoHeaderLength = 0
  private tsoRemaining = 0
  private tsoSegmentPayload = 0
  private tsoFrames = 0
  private tsoPopts = 0
  private tsoVlan = -1
  private budget = 0
  private running = false

  constructor(clock: Clock, dma: DmaEngine, wire: Wire, causes: InterruptCauses, stats: Statistics, sink: FindingSink, link: LinkState, regs: Uint32Array) {
    this.clock = clock
    this.dma = dma
    this.wire = wire
    this.causes = causes
    this.stats = stats
    this.link = link
    this.regs = regs
    this.ring = new DescriptorRing('transmit', sink, dma.requester, dma.addressBits)
    this.delay = new DelayedCause(clock, causes, ICR.TXDW, 'e1000 TIDV')
    this.timer = clock.timer('e1000 transmit', () => this.walk())
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

  /** No frame or segmentation is half gathered (between packets). */
  get idle(): boolean {
    return !this.started && !this.tso && this.slot < 0 && this.partialLength === 0
  }

  /** The transmit FIFO: what PBA leaves of the 64 KiB packet buffer after the receive share. */
  get fifoBytes(): number {
    return (PACKET_BUFFER_KIB - (this.regs[REG.PBA >>> 2]! & PBA_RXA_MASK)) * 1024
  }

  reset(): void {
    this.ring.reset()
    this.control = 0
    this.stopped = false
    this.slot = -1
    this.frameLength = 0
    this.frameBad = false
    this.started = false
    this.partialLength = 0
    this.tso = false
    this.normal.reset()
    this.segmentation.reset()
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
    const fifoNs = (this.fifoBytes * 8 * 1000) / wire.linkMbps
    let processed = 0
    while (ring.head !== ring.tail && this.budget > 0) {
      if (wire.txFreeAt - now >= fifoNs) {
        // FIFO full: resume once it has drained halfway.
        this.clock.arm(this.timer, wire.txFreeAt - fifoNs / 2)
        break
      }
      const index = ring.head
      const at = ring.descriptorAddress(index)
      const fetched = this.dma.read(at, this.desc, 0, DESCRIPTOR_SIZE)
      if (fetched !== DMA_STATUS.ok) {
        this.stop(index, at, fetched)
        break
      }
      this.budget--
      processed++
      this.counters.descriptors++
      const cmd = this.desc[D.cmd]!
      const eop = this.process(index, cmd)
      if ((cmd & TXD_CMD.RS) !== 0) {
        // A posted write: if it is lost the device never knows (REFERENCE §1).
        this.desc[D.status] = this.desc[D.status]! | TXD_STATUS.DD
        this.dma.write(at + D.status, this.desc, D.status, 4)
        // 3.3.3.1 IDE: RS with IDE (re)loads the delay timer; RS without it interrupts
        // at once and clears the delay timer.
        if ((cmd & TXD_CMD.IDE) !== 0) this.delay.trigger()
        else this.delay.fireNow()
      }
      ring.head = index + 1 === count ? 0 : index + 1
      if (eop) this.finishPacket(cmd)
    }
    if (this.slot >= 0) this.parkPartial()
    this.running = false
    if (processed > 0 && ring.head === ring.tail) this.causes.raise(ICR.TXQE)
  }

  /** Acts on the descriptor in `desc`; true when it ends a packet (EOP on a data-carrying one). */
  private process(index: number, cmd: number): boolean {
    const v = this.descView
    if ((cmd & TXD_CMD.DEXT) === 0) {
      if (!this.started) {
        this.started = true
        this.firstCss = this.desc[D.css]!
        this.firstPopts = 0
      }
      this.gather(index, v.getUint32(D.bufferAddressLow, true), v.getUint32(D.bufferAddressHigh, true), v.getUint16(D.length, true))
      return (cmd & TXD_CMD.EOP) !== 0
    }
    const type = this.desc[X.dataLengthHighType]! >>> 4
    if (type === DTYP.CONTEXT) {
      const ctx = (this.desc[11]! & TUCMD.TSE) !== 0 ? this.segmentation : this.normal
      ctx.load(v)
      return false
    }
    if (type !== DTYP.DATA) {
      this.ring.reportBadDescriptor(index, 'reserved-descriptor-type', `DEXT with DTYP ${type.toString(2).padStart(4, '0')}b, a reserved descriptor type: the descriptor was consumed and did nothing`)
      return false
    }
    const length = v.getUint16(X.dataLengthLow, true) | ((this.desc[X.dataLengthHighType]! & 0xf) << 16)
    const low = v.getUint32(X.bufferAddressLow, true)
    const high = v.getUint32(X.bufferAddressHigh, true)
    if (!this.started) {
      this.started = true
      this.firstCss = 0
      this.firstPopts = this.desc[X.popts]!
      if ((cmd & TXD_CMD.TSE) !== 0) this.startSegmentation(index, cmd)
    }
    if (this.tso) this.segmentData(index, low, high, length)
    else this.gather(index, low, high, length)
    return (cmd & TXD_CMD.EOP) !== 0
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
    if (!this.fetch(high, low, this.slot + this.frameLength, length)) {
      this.frameBad = true
      return
    }
    this.frameLength += length
  }

  /** Reads buffer bytes into the wire's buffer; a failed read is counted and returns false. */
  private fetch(high: number, low: number, to: number, length: number): boolean {
    const status = this.dma.read(deviceAddress(high, low, this.dma.addressBits), this.wire.buffer, to, length)
    if (status === DMA_STATUS.ok) return true
    this.counters.dmaErrors++
    return false
  }

  /** EOP: checksums (3.3.3 IC; 3.6 POPTS), the 802.1Q tag, padding, the wire. */
  private finishPacket(eopCmd: number): void {
    if (this.tso) {
      this.endSegmentation()
    } else if (this.frameBad || this.frameLength === 0) {
      this.counters.dropped++
      this.partialLength = 0
    } else {
      // The frame's bytes were gathered in an earlier walk and parked, and its EOP descriptor
      // carried none (length 0): bring them back into a slot before sending.
      if (this.slot < 0) this.openSlot()
      const buf = this.wire.buffer
      const length = this.frameLength
      if ((eopCmd & TXD_CMD.DEXT) === 0) {
        // Legacy checksum insertion: CSS from the first descriptor, CSO and IC from this one.
        if ((eopCmd & TXD_CMD.IC) !== 0) insertChecksum(buf, this.slot, length, this.firstCss, this.desc[D.cso]!, 0)
      } else {
        const ctx = this.normal
        if ((this.firstPopts & POPTS.TXSM) !== 0) insertChecksum(buf, this.slot, length, ctx.tucss, ctx.tucso, ctx.tucse)
        if ((this.firstPopts & POPTS.IXSM) !== 0) insertChecksum(buf, this.slot, length, ctx.ipcss, ctx.ipcso, ctx.ipcse)
      }
      this.send(this.slot, length, (eopCmd & TXD_CMD.VLE) !== 0 ? this.descView.getUint16(D.special, true) : -1)
    }
    this.slot = -1
    this.frameLength = 0
    this.frameBad = false
    this.started = false
  }

  /** Tags (VLE with CTRL.VME), pads (TCTL.PSP) and sends the frame at `slot`; counts it. */
  private send(slot: number, length: number, vlan: number): void {
    const buf = this.wire.buffer
    if (vlan >= 0 && this.link.vlanMode) length = insertVlanTag(buf, slot, length, this.regs[REG.VET >>> 2]!, vlan)
    if ((this.control & TCTL.PSP) !== 0 && length < MIN_FRAME) {
      // TCTL.PSP: pad short frames to 64 bytes with FCS (60 without).
      buf.fill(0, slot + length, slot + MIN_FRAME)
      length = MIN_FRAME
    }
    this.wire.send(slot, length)
    this.counters.frames++
    this.counters.bytes += length
    const s = this.stats
    s.increment(STAT.GPTC)
    s.increment(STAT.TPT)
    s.addOctets(STAT.GOTCL, length + 4)
    s.addOctets(STAT.TOTL, length + 4)
    s.bucket(STAT.PTC64, length + 4)
    if ((buf[slot]! & 1) !== 0) s.increment(classify(buf, slot) === 'broadcast' ? STAT.BPTC : STAT.MPTC)
  }

  // ---- TCP segmentation (3.5) ----------------------------------------------------------------------

  /** The first data descriptor with TSE: check the segmentation context and start from it. */
  private startSegmentation(index: number, cmd: number): void {
    const ctx = this.tsoContext
    ctx.copyFrom(this.segmentation)
    this.tso = true
    this.tsoHeaderLength = 0
    this.tsoRemaining = ctx.payloadLength
    this.tsoSegmentPayload = 0
    this.tsoFrames = 0
    this.tsoPopts = this.firstPopts
    // 3.3.7.1 note: with TSE, VLE and the special field count in the first data descriptor.
    this.tsoVlan = (cmd & TXD_CMD.VLE) !== 0 ? this.descView.getUint16(X.special, true) : -1
    const limit = Math.min(this.fifoBytes - TSO_FIFO_MARGIN, MAX_TX_LENGTH)
    let why = ''
    if (ctx.mss === 0) why = 'MSS is 0'
    else if (ctx.hdrlen === 0 || ctx.hdrlen > TSO_HEADER_BYTES) why = `HDRLEN ${ctx.hdrlen} is not within the 1..${TSO_HEADER_BYTES}-byte header buffer`
    else if (ctx.hdrlen + ctx.mss > limit) why = `HDRLEN + MSS = ${ctx.hdrlen + ctx.mss} bytes does not fit the ${this.fifoBytes}-byte transmit FIFO less ${TSO_FIFO_MARGIN} bytes`
    if (why !== '') {
      this.ring.reportBadDescriptor(index, 'segmentation-context', `TCP segmentation with a context the device cannot use (${why}): the descriptors up to EOP are consumed and nothing is sent`, { mss: ctx.mss, hdrlen: ctx.hdrlen })
      this.frameBad = true
    }
    this.tsoHeader ??= new Uint8Array(TSO_HEADER_BYTES)
  }

  /** One data descriptor of a segmentation: header bytes first, then payload cut into MSS frames. */
  private segmentData(index: number, low: number, high: number, length: number): void {
    if (this.frameBad) return
    if (length === 0) {
      this.ring.reportBadDescriptor(index, 'zero-length', 'length 0: no data fetched; the descriptor was consumed')
      return
    }
    if (low === 0 && high === 0) {
      this.ring.reportBadDescriptor(index, 'null-buffer', `buffer address 0 with length ${length}: the segmentation is dropped`)
      this.frameBad = true
      return
    }
    const ctx = this.tsoContext
    const address = deviceAddress(high, low, this.dma.addressBits)
    let used = 0
    if (this.tsoHeaderLength < ctx.hdrlen) {
      const n = Math.min(ctx.hdrlen - this.tsoHeaderLength, length)
      if (this.dma.read(address, this.tsoHeader!, this.tsoHeaderLength, n) !== DMA_STATUS.ok) {
        this.counters.dmaErrors++
        this.frameBad = true
        return
      }
      this.tsoHeaderLength += n
      used = n
      // A context with no payload at all is one header-only frame.
      if (this.tsoHeaderLength === ctx.hdrlen && this.tsoRemaining === 0) this.emitSegment(true)
    }
    while (used < length && this.tsoRemaining > 0) {
      if (this.slot < 0) this.openSlot()
      const n = Math.min(length - used, ctx.mss - this.tsoSegmentPayload, this.tsoRemaining)
      if (this.dma.read(address + used, this.wire.buffer, this.slot + ctx.hdrlen + this.tsoSegmentPayload, n) !== DMA_STATUS.ok) {
        this.counters.dmaErrors++
        this.frameBad = true
        return
      }
      used += n
      this.tsoSegmentPayload += n
      this.frameLength = ctx.hdrlen + this.tsoSegmentPayload
      this.tsoRemaining -= n
      if (this.tsoSegmentPayload === ctx.mss || this.tsoRemaining === 0) this.emitSegment(this.tsoRemaining === 0)
    }
    if (used < length) {
      this.ring.reportBadDescriptor(index, 'segmentation-overrun', `the data descriptors carry more than HDRLEN + PAYLEN (${ctx.hdrlen} + ${ctx.payloadLength}) bytes: the ${length - used} bytes beyond were not sent`, { excess: length - used })
      this.stats.increment(STAT.TSCTFC)
    }
  }

  /** Puts the prototype header in front of the payload gathered, fixes it up and sends the frame. */
  private emitSegment(last: boolean): void {
    const ctx = this.tsoContext
    if (this.slot < 0) this.openSlot()
    const buf = this.wire.buffer
    buf.set(this.tsoHeader!.subarray(0, ctx.hdrlen), this.slot)
    const length = ctx.hdrlen + this.tsoSegmentPayload
    fixSegmentHeader(buf, this.slot, ctx, this.tsoFrames, length, last, (this.tsoPopts & POPTS.IXSM) !== 0, (this.tsoPopts & POPTS.TXSM) !== 0)
    this.send(this.slot, length, this.tsoVlan)
    this.tsoFrames++
    this.tsoSegmentPayload = 0
    this.slot = -1
    this.frameLength = 0
    if (last) this.stats.increment(STAT.TSCTC)
  }

  /** EOP of a segmentation: it should have carried exactly PAYLEN (3.3.7.1 EOP, TSCTFC). */
  private endSegmentation(): void {
    const ctx = this.tsoContext
    if (this.frameBad) {
      this.counters.dropped++
    } else if (this.tsoRemaining > 0 || this.tsoHeaderLength < ctx.hdrlen) {
      // Ended early: what was gathered goes out as the last frame, and the context counts as failed.
      this.ring.reportBadDescriptor(this.ring.head === 0 ? this.ring.count - 1 : this.ring.head - 1, 'segmentation-short', `EOP came with ${this.tsoRemaining} of PAYLEN ${ctx.payloadLength} bytes not yet sent: the segmentation ended there`, { remaining: this.tsoRemaining })
      this.stats.increment(STAT.TSCTFC)
      if (this.tsoSegmentPayload > 0) {
        this.tsoRemaining = 0
        this.emitSegment(true)
      } else if (this.tsoFrames === 0) {
        this.counters.dropped++
      }
    }
    this.tso = false
    this.partialLength = 0
  }

  // ---- the frame slot ----------------------------------------------------------------------------

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

  private stop(index: number, at: number, status: DmaStatus): void {
    this.stopped = true
    this.ring.reportDmaFailure('fetch', index, at, dmaStatusText(status))
  }
}
