// The protocol bound above the miniport, as TCP/IP is on Windows: what `m.traffic` and
// `m.oid` drive.
//
// Binding (binding.ts): once the miniport runs, the OID queries and the sets of the packet
// filter, the multicast list and the lookahead; before the pause, the filter back to zero.
// Sends: NBL chains at DISPATCH_LEVEL through MiniportSendNetBufferLists, shaped as a stack's
// (send-buffers.ts), carrying the LAN's kinds of frames (frames.ts). Every NBL must come back
// through NdisMSendNetBufferListsComplete, as it went down. Receives: every indicated frame is
// read through its MDL chain, rebuilt from its stamp and compared byte for byte, checked against
// the packet filter (packet-filter.ts), and the NBLs go back through MiniportReturnNetBufferLists
// — at once, without keeping them, when the miniport sets NDIS_RECEIVE_FLAGS_RESOURCES. The
// ledger (frame-ledger.ts) says at the end which frames never came back.
import { PAGE_SIZE } from '../hw/address.js'
import { CHAIN_LIMIT, type MDL } from '../kernel/mdl.js'
import { DISPATCH_LEVEL } from '../kernel/irql.js'
import { DRIVER_FAILED } from '../kernel/driver-call.js'
import type { Timer } from '../hw/clock.js'
import { siteHere } from '../kernel/sites.js'
import type { StackFrame } from '../hw/finding.js'
import { Binding } from './binding.js'
import { NDIS_FLAGS, NDIS_STATUS, statusName } from './constants.js'
import type { NdisContext } from './context.js'
import { ETH_HEADER, FRAME_FLAG, FrameBuilder, MAX_FRAME, PATTERN_OFFSETS, PEER_MAC, STAMP_BYTES, STAMP_SEQUENCE, findStamp, newSpec, readStamp } from './frames.js'
import { FrameLedger } from './frame-ledger.js'
import type { Miniport } from './miniport.js'
import type { NblPools } from './nbl.js'
import { PacketFilter, filterName, macText, type DestinationClass, type FilterVerdict } from './packet-filter.js'
import { SendBufferPool, prepareBuffer, writeFrame, type SendBuffer, type SendSlot } from './send-buffers.js'
import type { NET_BUFFER, NET_BUFFER_LIST } from './types.js'
import { LargeSender } from './large-send.js'

/** `uniform`: one frame kind and size, one buffer per NBL. `mixed`: a LAN's mix of kinds, sizes and buffer shapes. */
export type TrafficMix = 'uniform' | 'mixed'

type WindowKey = TrafficMix | 'jumbo'

/** NBLs per MiniportSendNetBufferLists call. */
export const SEND_BATCH = 32
/** Findings of one kind the protocol lists before it only counts. */
const REPORTED = 20

export interface TrafficCounters {
  /** Frames the protocol asked to send / that completed with success / that completed with an error. */
  txRequested: number
  txFrames: number
  txFailed: number
  /** Frames injected from the wire. */
  rxInjected: number
  /** Frames indicated and verified intact. */
  rxFrames: number
  /** Frames indicated whose bytes were not what was sent. */
  rxCorrupt: number
  /** Frames indicated that were no frame of dmalab's LAN. */
  rxForeign: number
  /** Frames indicated although the packet filter excluded them. */
  rxFiltered: number
  /** Send completion statuses other than success, by name. */
  txFailures: Record<string, number>
}

export class Protocol {
  readonly counters: TrafficCounters = { txRequested: 0, txFrames: 0, txFailed: 0, rxInjected: 0, rxFrames: 0, rxCorrupt: 0, rxForeign: 0, rxFiltered: 0, txFailures: {} }
  readonly filter = new PacketFilter()
  readonly binding: Binding
  readonly ledger = new FrameLedger()
  readonly builder: FrameBuilder
  private readonly ctx: NdisContext
  private readonly miniport: Miniport
  private readonly nbls: NblPools
  private readonly buffers: SendBufferPool
  private readonly windows = new Map<WindowKey, SendSlot[] | null>()
  private windowKey: WindowKey | null = null
  private slots: SendSlot[] = []
  private free: number[] = []
  private readonly bySlotNbl = new Map<NET_BUFFER_LIST, SendSlot>()
  /** NBLs indicated and not yet returned to the miniport. */
  private readonly held = new Set<NET_BUFFER_LIST>()
  private toSend = 0
  private busy = 0
  private sendSize: number | undefined = 1500
  private sendMix: TrafficMix = 'uniform'
  private seq = 0
  private readonly spec = newSpec()
  private readonly rxSpec = newSpec()
  private readonly frame = new Uint8Array(16384)
  private readonly expect = new Uint8Array(128)
  private readonly scratch = new Uint8Array(65536)
  private readonly scratchBuffer = Buffer.from(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength)
  private readonly expectBuffer = Buffer.from(this.expect.buffer, this.expect.byteOffset, this.expect.byteLength)
  private readonly sender: Timer
  private readonly returner: Timer
  /**
   * The NBLs held for return, in the order they go back. Kept here, not only as a chain through
   * their Next links: a driver that writes Next of an NBL it indicated (it must not, until the
   * NBL comes back) could otherwise make the protocol's own walk loop forever.
   */
  private returning: NET_BUFFER_LIST[] = []
  private spareReturning: NET_BUFFER_LIST[] = []
  private readonly reported = new Map<string, number>()
  stopped = false
  /**
   * The driver's call stack for a sent frame that came back damaged: where its send path handed
   * frames to the device (set by the host; the receive path on the stack when it is indicated
   * is not where a send went wrong).
   */
  sendStack: () => readonly StackFrame[] = () => []
  /**
   * Whether the wire brings sent frames back (`wire: 'loopback'`, what the command line runs).
   * On a capturing wire a sent frame leaves for good: only its completion is owed.
   */
  loopback = true
  /** The transport's TCP bulk sends, with the task offload the miniport advertised (large-send.ts). */
  readonly tcp: LargeSender

  constructor(ctx: NdisContext, miniport: Miniport, nbls: NblPools, seed: number) {
    this.ctx = ctx
    this.miniport = miniport
    this.nbls = nbls
    this.builder = new FrameBuilder(seed)
    this.buffers = new SendBufferPool(ctx.kernel, nbls, seed)
    this.binding = new Binding(ctx, miniport, this.filter)
    this.tcp = new LargeSender(ctx, miniport, nbls, () => this.mac, PEER_MAC)
    const clock = ctx.kernel.clock
    this.sender = clock.timer('protocol send', () => this.sendBatch(), { needsCpu: true })
    this.returner = clock.timer('protocol return', () => this.returnIndicated(), { needsCpu: true })
  }

  /** This host's MAC address (the NIC's, until the miniport answers OID_802_3_CURRENT_ADDRESS). */
  get mac(): Uint8Array {
    return this.filter.mac
  }

  set mac(mac: Uint8Array) {
    this.filter.mac.set(mac.subarray(0, 6))
  }

  /** Send NBLs the miniport has not completed yet. */
  get inFlight(): number {
    return this.busy + this.tcp.inFlight
  }

  /** Sends not completed yet: NBLs, the frames they carry, and how many of those the ledger still owes. */
  framesInFlight(): { nbls: number; frames: number; owed: number } {
    let nbls = 0
    let frames = 0
    let owed = 0
    for (const w of this.windows.values()) {
      if (w === null) continue
      for (const slot of w) {
        if (!slot.busy) continue
        nbls++
        frames += slot.sent
        for (let i = 0; i < slot.sent; i++) if (this.ledger.owes(slot.buffers[i]!.seq)) owed++
      }
    }
    return { nbls, frames, owed }
  }

  get pending(): number {
    return this.toSend
  }

  /** TCP/IP binds to the running miniport. */
  bind(): void {
    this.binding.bind()
    this.syncBuilder()
  }

  /** The protocol unbinds: the packet filter goes to zero (before the pause). */
  unbind(): void {
    this.binding.unbind()
  }

  /** After a set of the multicast list: the frames addressed to joined groups use the new list. */
  syncBuilder(): void {
    this.builder.mac.set(this.filter.mac)
    this.builder.groups = this.filter.multicastList
  }

  /** Queues `count` frames; they go down as fast as the miniport takes them. `size` fixes their size. */
  queueSend(count: number, size: number | undefined, mix: TrafficMix = 'uniform'): void {
    if (this.stopped || this.miniport.state !== 'running' || this.binding.state !== 'bound' || count <= 0) return
    const sendSize = mix === 'uniform' ? (size ?? 1500) : size
    if (!this.window(mix, (sendSize ?? 0) > MAX_FRAME)) return
    this.sendSize = sendSize
    this.toSend += count
    this.counters.txRequested += count
    if (!this.sender.armed) this.ctx.kernel.clock.armAfter(this.sender, 0)
  }

  /** Frames from other hosts on the LAN, toward this host's NIC. */
  injectFromWire(count: number, size: number | undefined, mix: TrafficMix, inject: (frame: Uint8Array, length: number) => void): void {
    this.syncBuilder()
    const flags = FRAME_FLAG.lan | (mix === 'uniform' ? FRAME_FLAG.uniform : 0) | (size !== undefined ? FRAME_FLAG.fixedSize : 0)
    for (let i = 0; i < count; i++) {
      const seq = this.seq++
      const spec = this.builder.spec(this.spec, seq, flags, size ?? 1500, (seq * 37) % PATTERN_OFFSETS)
      this.builder.build(spec, this.frame)
      this.ledger.record(seq, this.expectation(spec.size), true)
      inject(this.frame, spec.size)
      this.counters.rxInjected++
    }
  }

  /**
   * ARP from the router, as a LAN keeps sending whatever the host's state: requests to everyone
   * and replies to this host's address (by the parity of the sequence number).
   */
  injectArp(count: number, inject: (frame: Uint8Array, length: number) => void): void {
    this.syncBuilder()
    for (let i = 0; i < count; i++) {
      const seq = this.seq++
      const spec = this.builder.spec(this.spec, seq, FRAME_FLAG.lan | FRAME_FLAG.arp, 60, (seq * 37) % PATTERN_OFFSETS)
      this.builder.build(spec, this.frame)
      this.ledger.record(seq, this.filter.verdict(this.filter.classify(this.frame, 0)), true)
      inject(this.frame, spec.size)
      this.counters.rxInjected++
    }
  }

  /**
   * What a correct miniport does with the frame in `this.frame`: its packet filter decides, and a
   * frame longer than the miniport's MTU (NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES.MtuSize, plus
   * the Ethernet header) it may drop.
   */
  private expectation(size: number, destination: DestinationClass = this.filter.classify(this.frame, 0)): FilterVerdict {
    const verdict = this.filter.verdict(destination)
    const mtu = this.ctx.generalAttributes?.MtuSize
    return verdict === 'indicate' && size > (typeof mtu === 'number' && mtu > 0 ? mtu : 1500) + 14 ? 'either' : verdict
  }

  /** Stops sending (pause, halt): frames not yet handed to the miniport are dropped. */
  stop(): void {
    this.stopped = true
    this.toSend = 0
    this.ctx.kernel.clock.cancel(this.sender)
  }

  // ---- send side --------------------------------------------------------------------------------

  /** Makes `mix`'s window of send NBLs current (allocated on first use; jumbo frames get their own). */
  private window(mix: TrafficMix, jumbo: boolean): boolean {
    const key: WindowKey = mix === 'uniform' && jumbo ? 'jumbo' : mix
    if (this.windowKey === key && this.slots.length > 0) return true
    let w = this.windows.get(key)
    if (w === undefined) {
      w = key === 'mixed' ? this.buffers.mixed() : this.buffers.uniform(key === 'jumbo')
      this.windows.set(key, w)
      if (w !== null) for (const s of w) this.bySlotNbl.set(s.nbl, s)
    }
    if (w === null) return false
    this.sendMix = mix
    this.windowKey = key
    this.slots = w
    this.free = w.filter((s) => !s.busy).map((s) => s.index).reverse()
    return true
  }

  private sendBatch(): void {
    if (this.stopped || this.miniport.state !== 'running') return
    const k = this.ctx.kernel
    let head: NET_BUFFER_LIST | null = null
    let tail: NET_BUFFER_LIST | null = null
    let n = 0
    while (this.toSend > 0 && this.free.length > 0 && n < SEND_BATCH) {
      const slot = this.slots[this.free.pop()!]!
      this.prepare(slot)
      const nbl = slot.nbl
      nbl.Next = null
      nbl.Status = NDIS_STATUS.NDIS_STATUS_SUCCESS
      if (tail === null) head = nbl
      else tail.Next = nbl
      tail = nbl
      n++
    }
    if (head === null) return
    const chars = this.miniport.chars
    const chain = head
    const r = this.ctx.caller.call('MiniportSendNetBufferLists', DISPATCH_LEVEL, () =>
      chars.SendNetBufferListsHandler(this.ctx.adapterContext, chain, NDIS_FLAGS.NDIS_DEFAULT_PORT_NUMBER, NDIS_FLAGS.NDIS_SEND_FLAGS_DISPATCH_LEVEL),
    )
    if (r === DRIVER_FAILED) return
    if (this.toSend > 0 && this.free.length > 0 && !this.sender.armed) k.clock.armAfter(this.sender, 0)
  }

  /** Fills the slot's NET_BUFFERs with the next frames (the last NBL may carry fewer). */
  private prepare(slot: SendSlot): void {
    const uniform = this.sendMix === 'uniform'
    const flags = (uniform ? FRAME_FLAG.uniform : 0) | (this.sendSize !== undefined ? FRAME_FLAG.fixedSize : 0)
    const count = Math.min(slot.buffers.length, this.toSend)
    for (let i = 0; i < count; i++) {
      const b = slot.buffers[i]!
      const seq = this.seq++
      const pattern = uniform ? (slot.index * 31) % PATTERN_OFFSETS : (seq * 37) % PATTERN_OFFSETS
      const spec = this.builder.spec(this.spec, seq, flags, this.sendSize ?? MAX_FRAME, pattern)
      const size = Math.min(spec.size, b.capacity)
      let destination: DestinationClass
      if (uniform && b.heldSize === size && b.heldFlags === flags && b.heldPattern === pattern) {
        // The same test frame to this host is already there: only the stamp's sequence number
        // changes (in the first piece, which holds at least the header and the stamp).
        this.ctx.kernel.ram.write32(b.pieceAddress[0]! + ETH_HEADER + STAMP_SEQUENCE, seq)
        destination = 'directed'
      } else {
        this.builder.build(spec, this.frame)
        writeFrame(this.ctx.kernel, b, this.frame, size)
        b.heldSize = size
        b.heldFlags = flags
        b.heldPattern = pattern
        destination = this.filter.classify(this.frame, 0)
      }
      b.seq = seq
      prepareBuffer(b, size)
      b.nb.Next = i + 1 < count ? slot.buffers[i + 1]!.nb : null
      this.ledger.record(seq, this.loopback ? this.expectation(size, destination) : 'either', false)
    }
    slot.sent = count
    slot.busy = true
    this.busy++
    this.toSend -= count
  }

  /** NdisMSendNetBufferListsComplete: each NBL must be one the protocol sent, come back as it went. */
  sendComplete(chain: NET_BUFFER_LIST | null): void {
    for (let nbl = chain; nbl !== null; ) {
      const ours = this.tcp.complete(nbl)
      if (ours !== undefined) {
        nbl = ours
        continue
      }
      // Whatever the driver passed (undefined, not an NBL) is only looked up until it proves to be one of ours.
      const slot = this.bySlotNbl.get(nbl)
      if (slot === undefined || !slot.busy) {
        this.ctx.violation('nbl-misuse', 'NdisMSendNetBufferListsComplete of a NET_BUFFER_LIST the protocol did not send (or completed twice)')
        break
      }
      const next: NET_BUFFER_LIST | null = nbl.Next
      slot.busy = false
      this.busy--
      nbl.Next = null
      this.checkReturned(slot)
      if (slot.index < this.slots.length && this.slots[slot.index] === slot) this.free.push(slot.index)
      const status = nbl.Status
      const frames = slot.sent
      if (status === NDIS_STATUS.NDIS_STATUS_SUCCESS) this.counters.txFrames += frames
      else {
        this.counters.txFailed += frames
        const name = typeof status === 'number' ? statusName(status) : String(status)
        this.counters.txFailures[name] = (this.counters.txFailures[name] ?? 0) + frames
        // An error completion means the frames did not go out: nothing of them is owed back.
        for (let i = 0; i < frames; i++) this.ledger.withdraw(slot.buffers[i]!.seq)
      }
      nbl = next
    }
    if (this.toSend > 0 && !this.stopped && !this.sender.armed) this.ctx.kernel.clock.armAfter(this.sender, 0)
  }

  /**
   * The NBL must come back with the NET_BUFFERs it went down with, in order, each describing the
   * data it described, and a completion status (NDIS_STATUS_PENDING is none).
   */
  private checkReturned(slot: SendSlot): void {
    const nbl = slot.nbl
    const status = nbl.Status as unknown
    if (typeof status !== 'number' || status >>> 0 === NDIS_STATUS.NDIS_STATUS_PENDING) {
      this.ctx.violation('nbl-misuse', `NdisMSendNetBufferListsComplete of a NET_BUFFER_LIST whose Status is ${typeof status === 'number' ? statusName(status) : String(status)}: a completed send carries NDIS_STATUS_SUCCESS or the error it failed with`)
    }
    let nb: NET_BUFFER | null | undefined = nbl.FirstNetBuffer
    for (let i = 0; i < slot.sent; i++) {
      const b = slot.buffers[i]!
      if (nb !== b.nb || nb.MdlChain !== b.mdlChain || nb.DataOffset !== b.dataOffset || nb.CurrentMdl !== b.currentMdl || nb.CurrentMdlOffset !== b.currentMdlOffset) {
        this.ctx.violation('nbl-misuse', `NdisMSendNetBufferListsComplete of a NET_BUFFER_LIST whose NET_BUFFER ${i + 1} of ${slot.sent} is not as the protocol sent it (another NET_BUFFER, or its MDL chain or data offset moved and not restored): NDIS hands the protocol back exactly what it sent`)
        break
      }
      nb = nb.Next
    }
    nbl.FirstNetBuffer = slot.buffers[0]!.nb
  }

  // ---- receive side -----------------------------------------------------------------------------

  /** NdisMIndicateReceiveNetBufferLists: verify every frame, then give the NBLs back. */
  indicate(chain: NET_BUFFER_LIST | null, count: number, flags: number): void {
    const resources = (flags & NDIS_FLAGS.NDIS_RECEIVE_FLAGS_RESOURCES) !== 0
    const first = this.returning.length
    const seen = this.take(chain)
    if (seen < 0) {
      this.returning.length = first
      return
    }
    if (seen !== count) {
      this.ctx.violation('nbl-misuse', `NdisMIndicateReceiveNetBufferLists: NumberOfNetBufferLists is ${count} but the chain holds ${seen}`)
    }
    // With NDIS_RECEIVE_FLAGS_RESOURCES the miniport reclaims the NBLs as soon as the call
    // returns: the protocol has copied what it needs (above) and keeps nothing.
    if (resources || seen === 0) {
      this.returning.length = first
      return
    }
    // The protocol owns them now: they go back as one chain, this one after those before it.
    if (first > 0) this.returning[first - 1]!.Next = chain
    for (let i = first; i < this.returning.length; i++) this.held.add(this.returning[i]!)
    if (!this.returner.armed) this.ctx.kernel.clock.armAfter(this.returner, 0)
  }

  /**
   * Verifies every frame of an indicated chain and queues its NBLs for return; the number of
   * NBLs, or -1 when the chain may not be taken at all (reported; the caller drops the queued).
   */
  private take(chain: NET_BUFFER_LIST | null): number {
    let seen = 0
    for (let nbl = chain; nbl !== null; nbl = nbl.Next) {
      if (seen === CHAIN_LIMIT) return this.loops('NET_BUFFER_LIST chain')
      if (!this.nbls.isLive(nbl)) {
        this.ctx.violation('nbl-misuse', 'NdisMIndicateReceiveNetBufferLists: the chain holds something that is not a NET_BUFFER_LIST from NdisAllocateNetBufferAndNetBufferList (or one already freed): nothing was indicated')
        return -1
      }
      if (this.held.has(nbl)) {
        this.ctx.violation('nbl-misuse', 'NdisMIndicateReceiveNetBufferLists of a NET_BUFFER_LIST the protocol still holds from an earlier indication (MiniportReturnNetBufferLists has not given it back yet)')
        return -1
      }
      let buffers = 0
      // A Next the driver set to undefined ends a chain as NULL does.
      for (let nb = nbl.FirstNetBuffer; nb !== null && nb !== undefined; nb = nb.Next) {
        if (++buffers > CHAIN_LIMIT) return this.loops('NET_BUFFER chain of a NET_BUFFER_LIST')
        this.check(nb.CurrentMdl, nb.CurrentMdlOffset, nb.DataLength)
      }
      seen++
      this.returning.push(nbl)
    }
    return seen
  }

  /** An indicated chain that loops back: reported, and nothing of it is taken (or given back). */
  private loops(what: string): -1 {
    this.ctx.violation('nbl-misuse', `NdisMIndicateReceiveNetBufferLists: the ${what} loops back on itself (more than ${CHAIN_LIMIT} links)`)
    return -1
  }

  private returnIndicated(): void {
    const q = this.returning
    if (q.length === 0) return
    this.returning = this.spareReturning
    let changed = false
    for (let i = 0; i < q.length; i++) {
      const nbl = q[i]!
      const next = q[i + 1] ?? null
      // Next is the protocol's while it holds the NBL; the chain goes back as the protocol made it.
      if (nbl.Next !== next) {
        changed = true
        nbl.Next = next
      }
      this.held.delete(nbl)
    }
    const chain = q[0]!
    q.length = 0
    this.spareReturning = q
    if (changed) this.ctx.violation('nbl-misuse', 'a NET_BUFFER_LIST the miniport indicated had its Next changed before MiniportReturnNetBufferLists gave it back: an indicated NBL belongs to NDIS and the protocols until it is returned (NdisMIndicateReceiveNetBufferLists)')
    if (this.miniport.state === 'halted' || this.miniport.state === 'crashed') return
    const chars = this.miniport.chars
    this.ctx.caller.call('MiniportReturnNetBufferLists', DISPATCH_LEVEL, () => chars.ReturnNetBufferListsHandler(this.ctx.adapterContext, chain, NDIS_FLAGS.NDIS_RETURN_FLAGS_DISPATCH_LEVEL))
  }

  /** Reads one frame through its MDL chain, rebuilds the frame its stamp names and compares. */
  private check(mdl: MDL | null, offset: number, length: number): void {
    if (!(length >= 14 && length <= this.scratch.length)) {
      this.corrupt(`a frame was indicated with DataLength ${length}`, -1)
      return
    }
    if (!this.read(mdl, offset, length)) {
      this.corrupt(`a received frame's MDL chain does not describe its ${length} bytes`, -1)
      return
    }
    const s = this.scratch
    const at = findStamp(s, length)
    if (at < 0) {
      // Every frame on dmalab's LAN is one of its own: one that does not parse was damaged
      // beyond recognition (or injected by the caller: m.wire.inject).
      this.counters.rxForeign++
      return
    }
    const got = this.rxSpec
    readStamp(s, at, got)
    const expected = this.builder.spec(this.spec, got.seq, got.flags, got.size, got.pattern)
    const sent = (got.flags & FRAME_FLAG.lan) === 0
    if (expected.size !== length) {
      this.corrupt(`a ${expected.size}-byte ${expected.kind === 'test' ? 'test' : expected.kind.toUpperCase()} frame the protocol ${sent ? 'sent' : 'was offered'} (sequence ${got.seq}) arrived as ${length} bytes`, got.seq, sent)
      return
    }
    const h = this.builder.buildHeaders(expected, this.expect)
    if (h !== at + STAMP_BYTES || this.scratchBuffer.compare(this.expectBuffer, 0, h, 0, h) !== 0 || this.scratchBuffer.compare(this.builder.pattern, got.pattern, got.pattern + length - h, h, length) !== 0) {
      this.corrupt(`a ${length}-byte ${expected.kind === 'test' ? 'test' : expected.kind.toUpperCase()} frame (sequence ${got.seq}) arrived with different bytes than were sent`, got.seq, sent)
      return
    }
    const verdict = this.filter.verdict(this.filter.classify(s, 0))
    const outcome = this.ledger.received(got.seq)
    if (outcome === 'duplicate') {
      this.corrupt(`the frame with sequence ${got.seq} was indicated a second time`, -1)
      return
    }
    if (verdict === 'exclude' || outcome === 'excluded') {
      this.counters.rxFiltered++
      this.once('packet-filter-ignored', () => ({
        kind: 'packet-filter-ignored',
        message: `a frame to ${macText(s, 0)} was indicated while the packet filter is ${filterName(this.filter.filter)}: a miniport indicates only the frames its packet filter selects, and none while it is zero (WDK: OID_GEN_CURRENT_PACKET_FILTER)`,
        details: { destination: macText(s, 0), filter: this.filter.filter },
      }))
      return
    }
    this.counters.rxFrames++
  }

  private read(mdl: MDL | null, offset: number, length: number): boolean {
    const ram = this.ctx.kernel.ram
    let done = 0
    let m = mdl
    let within = offset
    let links = 0
    while (done < length) {
      if (m === null || m === undefined || links > CHAIN_LIMIT) return false
      const avail = m.ByteCount - within
      // Also a ByteCount that is not a number (the driver wrote it): nothing to take here.
      if (!(avail > 0)) {
        links++
        m = m.Next
        within = 0
        continue
      }
      let take = Math.min(avail, length - done)
      let pos = m.ByteOffset + within
      while (take > 0) {
        const pfn = m.PfnArray[Math.floor(pos / PAGE_SIZE)]
        if (pfn === undefined || pfn < 0) return false
        const inPage = pos % PAGE_SIZE
        const chunk = Math.min(PAGE_SIZE - inPage, take)
        ram.readInto(pfn * PAGE_SIZE + inPage, this.scratch, done, chunk)
        done += chunk
        pos += chunk
        take -= chunk
        within += chunk
      }
    }
    return true
  }

  private corrupt(message: string, seq: number, sent = false): void {
    this.counters.rxCorrupt++
    if (seq >= 0) this.ledger.corrupted(seq)
    this.once('frame-corrupted', () => ({ kind: 'frame-corrupted', message }), sent)
  }

  /**
   * Reports a per-frame finding for the first REPORTED frames of its kind: at the driver line
   * that indicated it, or for a frame the protocol sent, with the stack of its send path.
   */
  private once(key: string, finding: () => { kind: 'frame-corrupted' | 'packet-filter-ignored'; message: string; details?: Record<string, string | number> }, sent = false): void {
    const n = this.reported.get(key) ?? 0
    this.reported.set(key, n + 1)
    if (n >= REPORTED) return
    const stack = sent ? this.sendStack() : undefined
    const site = stack === undefined ? siteHere() : stack[0] === undefined ? undefined : `${stack[0].file}:${stack[0].line}`
    this.ctx.kernel.log.report({ ...finding(), ...(site === undefined ? {} : { site }), ...(stack === undefined || stack.length === 0 ? {} : { stack }) })
  }
}
