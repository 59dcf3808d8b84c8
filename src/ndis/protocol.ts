// The protocol driver bound above the miniport: what `m.traffic` drives.
//
// Sends: a window of send slots, each a 2 KiB buffer in the protocol's own memory (pages the
// kernel hands out by its policy — above 4 GiB with high-first, so a 32-bit device needs
// bounce buffers or the IOMMU), described by an MDL and an NBL from the protocol's own pool.
// Frames go down in chains at DISPATCH_LEVEL; every NBL must come back through
// NdisMSendNetBufferListsComplete. Receives: every indicated frame is read from the NB's MDL
// chain and checked byte for byte, then the NBLs are returned (MiniportReturnNetBufferLists).
//
// The frames are frames.ts's test frames.
import { PAGE_SIZE } from '../hw/address.js'
import { CHAIN_LIMIT, type MDL } from '../kernel/mdl.js'
import { DISPATCH_LEVEL } from '../kernel/irql.js'
import { DRIVER_FAILED } from '../kernel/driver-call.js'
import type { Timer } from '../hw/clock.js'
import { NDIS_FLAGS, NDIS_STATUS, statusName } from './constants.js'
import type { NdisContext } from './context.js'
import type { Miniport } from './miniport.js'
import type { NblPools } from './nbl.js'
import type { NET_BUFFER_LIST } from './types.js'
import { LargeSender } from './large-send.js'

import { HEADER, PEER_SLOT, SEQUENCE_OFFSET, SLOT_BYTES, STAMP, checkTestFrame, patternFor, writeTestFrame } from './test-frames.js'

export { ETHERTYPE, MAGIC, SLOT_BYTES } from './test-frames.js'
/** Send slots, so at most this many frames are in flight. */
export const SEND_WINDOW = 256
/**
 * Backfill before a sent frame in its slot: slot i's frame starts (i % 4) × 128 bytes into the
 * slot's MDL, so NET_BUFFER CurrentMdlOffset (and DataOffset) is 0, 128, 256 or 384, as when a
 * protocol leaves room for headers in front of the data (NdisRetreatNetBufferDataStart). A
 * miniport that ignores CurrentMdlOffset sends the wrong bytes and the frame is lost.
 */
const BACKFILL_STEP = 128
const BACKFILL_SLOTS = 4
/** NBLs per MiniportSendNetBufferLists call. */
export const SEND_BATCH = 32

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
  /** Frames indicated that were no test frame of ours. */
  rxForeign: number
  /** Send completion statuses other than success, by name. */
  txFailures: Record<string, number>
}

interface Slot {
  readonly index: number
  readonly pa: number
  readonly nbl: NET_BUFFER_LIST
  readonly mdl: MDL
  size: number
  busy: boolean
}

export class Protocol {
  readonly counters: TrafficCounters = { txRequested: 0, txFrames: 0, txFailed: 0, rxInjected: 0, rxFrames: 0, rxCorrupt: 0, rxForeign: 0, txFailures: {} }
  /** The first few corrupt frames, for findings. */
  private readonly ctx: NdisContext
  private readonly miniport: Miniport
  private readonly nbls: NblPools
  private slots: Slot[] = []
  private free: number[] = []
  private readonly bySlotNbl = new Map<NET_BUFFER_LIST, Slot>()
  private toSend = 0
  private sendSize = 1500
  private seq = 0
  private readonly pattern: Uint8Array
  private readonly frame = new Uint8Array(16384 + HEADER)
  private readonly scratch = new Uint8Array(65536)
  private readonly scratchBuffer = Buffer.from(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength)
  private readonly view = new DataView(this.scratch.buffer)
  private readonly sender: Timer
  private readonly returner: Timer
  private returnHead: NET_BUFFER_LIST | null = null
  private returnTail: NET_BUFFER_LIST | null = null
  private corruptReported = 0
  mac: Uint8Array = new Uint8Array(6)
  readonly peerMac = Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, 0x02)
  stopped = false
  /** The transport's TCP bulk sends, with the task offload the miniport advertised (large-send.ts). */
  readonly tcp: LargeSender

  constructor(ctx: NdisContext, miniport: Miniport, nbls: NblPools, seed: number) {
    this.ctx = ctx
    this.miniport = miniport
    this.nbls = nbls
    this.pattern = patternFor(seed)
    this.tcp = new LargeSender(ctx, miniport, nbls, () => this.mac, this.peerMac)
    const clock = ctx.kernel.clock
    this.sender = clock.timer('protocol send', () => this.sendBatch(), { needsCpu: true })
    this.returner = clock.timer('protocol return', () => this.returnIndicated(), { needsCpu: true })
  }

  get inFlight(): number {
    return this.slots.length - this.free.length + this.tcp.inFlight
  }

  get pending(): number {
    return this.toSend
  }

  /** Queues `count` frames of `size` bytes; they go down as fast as the miniport takes them. */
  queueSend(count: number, size: number): void {
    if (this.stopped || this.miniport.state !== 'running' || count <= 0) return
    if (this.slots.length === 0 && !this.allocateSlots()) return
    this.sendSize = size
    this.toSend += count
    this.counters.txRequested += count
    if (!this.sender.armed) this.ctx.kernel.clock.armAfter(this.sender, 0)
  }

  /** Frames from another host on the wire, addressed to the NIC. */
  injectFromWire(count: number, size: number, inject: (frame: Uint8Array) => void): void {
    for (let i = 0; i < count; i++) {
      const frame = new Uint8Array(size)
      writeTestFrame(frame, this.pattern, this.mac, this.peerMac, this.seq++, PEER_SLOT, size)
      inject(frame)
      this.counters.rxInjected++
    }
  }

  /** Stops sending (pause, halt): frames not yet handed to the miniport are dropped. */
  stop(): void {
    this.stopped = true
    this.toSend = 0
    this.ctx.kernel.clock.cancel(this.sender)
  }

  // ---- send side --------------------------------------------------------------------------------

  private allocateSlots(): boolean {
    const k = this.ctx.kernel
    const pages = Math.ceil((SEND_WINDOW * SLOT_BYTES) / PAGE_SIZE)
    const memory = k.mm.allocateMapped(pages, { kind: 'pool', label: 'protocol send buffers', driver: false }, {}, 'zero')
    if (memory === null) return false
    const pool = this.nbls.allocatePool({ ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: 'LBNP', DataSize: 0 }, undefined, false)
    if (pool === null) return false
    const perPage = PAGE_SIZE / SLOT_BYTES
    for (let i = 0; i < SEND_WINDOW; i++) {
      const va = memory.va + i * SLOT_BYTES
      const mdl = k.mdl.create(va, SLOT_BYTES, { driver: false })
      if (mdl === null) return false
      k.mdl.buildForNonPagedPool(mdl)
      const nbl = this.nbls.allocate(pool, mdl, 0, 0, true, undefined)
      if (nbl === null) return false
      const pa = memory.pfns[Math.floor(i / perPage)]! * PAGE_SIZE + (i % perPage) * SLOT_BYTES
      const slot: Slot = { index: i, pa, nbl, mdl, size: 0, busy: false }
      this.slots.push(slot)
      this.bySlotNbl.set(nbl, slot)
      this.free.push(SEND_WINDOW - 1 - i)
    }
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
      slot.busy = true
      const nbl = slot.nbl
      nbl.Next = null
      nbl.Status = NDIS_STATUS.NDIS_STATUS_SUCCESS
      if (tail === null) head = nbl
      else tail.Next = nbl
      tail = nbl
      this.toSend--
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

  /** Writes the slot's frame (whole frame when the size changed, else only the sequence) after its backfill. */
  private prepare(slot: Slot): void {
    const ram = this.ctx.kernel.ram
    const size = this.sendSize
    const seq = this.seq++
    const backfill = (slot.index % BACKFILL_SLOTS) * BACKFILL_STEP
    const offset = backfill + size <= SLOT_BYTES ? backfill : 0
    if (slot.size !== size) {
      writeTestFrame(this.frame, this.pattern, this.mac, this.mac, seq, slot.index, size)
      ram.writeFrom(slot.pa + offset, this.frame, 0, size)
      slot.size = size
    } else {
      ram.write32(slot.pa + offset + SEQUENCE_OFFSET, seq)
    }
    const nb = slot.nbl.FirstNetBuffer!
    nb.DataLength = size
    nb.DataOffset = offset
    nb.CurrentMdlOffset = offset
    nb.CurrentMdl = slot.mdl
  }

  /** NdisMSendNetBufferListsComplete. */
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
      nbl.Next = null
      this.free.push(slot.index)
      if (nbl.Status === NDIS_STATUS.NDIS_STATUS_SUCCESS) this.counters.txFrames++
      else {
        this.counters.txFailed++
        const name = statusName(nbl.Status)
        this.counters.txFailures[name] = (this.counters.txFailures[name] ?? 0) + 1
      }
      nbl = next
    }
    if (this.toSend > 0 && !this.stopped && !this.sender.armed) this.ctx.kernel.clock.armAfter(this.sender, 0)
  }

  // ---- receive side -----------------------------------------------------------------------------

  /** NdisMIndicateReceiveNetBufferLists: verify every frame, then give the NBLs back. */
  indicate(chain: NET_BUFFER_LIST | null, count: number, flags: number): void {
    let seen = 0
    let last: NET_BUFFER_LIST | null = null
    for (let nbl = chain; nbl !== null; nbl = nbl.Next) {
      if (seen === CHAIN_LIMIT) return this.loops('NET_BUFFER_LIST chain')
      if (!this.nbls.isLive(nbl)) {
        this.ctx.violation('nbl-misuse', 'NdisMIndicateReceiveNetBufferLists: the chain holds something that is not a NET_BUFFER_LIST from NdisAllocateNetBufferAndNetBufferList (or one already freed): nothing was indicated')
        return
      }
      let buffers = 0
      // A Next the driver set to undefined ends a chain as NULL does.
      for (let nb = nbl.FirstNetBuffer; nb !== null && nb !== undefined; nb = nb.Next) {
        if (++buffers > CHAIN_LIMIT) return this.loops('NET_BUFFER chain of a NET_BUFFER_LIST')
        this.check(nb.CurrentMdl, nb.CurrentMdlOffset, nb.DataLength)
      }
      seen++
      last = nbl
    }
    if (seen !== count) {
      this.ctx.violation('nbl-misuse', `NdisMIndicateReceiveNetBufferLists: NumberOfNetBufferLists is ${count} but the chain holds ${seen}`)
    }
    // With NDIS_RECEIVE_FLAGS_RESOURCES the miniport reclaims the NBLs as soon as the call returns.
    if ((flags & NDIS_FLAGS.NDIS_RECEIVE_FLAGS_RESOURCES) !== 0 || chain === null || last === null) return
    if (this.returnTail === null) this.returnHead = chain
    else this.returnTail.Next = chain
    this.returnTail = last
    if (!this.returner.armed) this.ctx.kernel.clock.armAfter(this.returner, 0)
  }

  /** An indicated chain that loops back: reported, and nothing of it is taken (or given back). */
  private loops(what: string): void {
    this.ctx.violation('nbl-misuse', `NdisMIndicateReceiveNetBufferLists: the ${what} loops back on itself (more than ${CHAIN_LIMIT} links)`)
  }

  private returnIndicated(): void {
    const chain = this.returnHead
    this.returnHead = this.returnTail = null
    if (chain === null || this.miniport.state === 'halted' || this.miniport.state === 'crashed') return
    const chars = this.miniport.chars
    this.ctx.caller.call('MiniportReturnNetBufferLists', DISPATCH_LEVEL, () => chars.ReturnNetBufferListsHandler(this.ctx.adapterContext, chain, NDIS_FLAGS.NDIS_RETURN_FLAGS_DISPATCH_LEVEL))
  }

  /** Reads one frame through its MDL chain and checks it against what was sent. */
  private check(mdl: MDL | null, offset: number, length: number): void {
    if (length > this.scratch.length || length < HEADER + STAMP) {
      this.counters.rxForeign++
      return
    }
    if (!this.read(mdl, offset, length)) {
      this.corrupt(`a received frame's MDL chain does not describe its ${length} bytes`)
      return
    }
    const verdict = checkTestFrame(this.scratch, this.scratchBuffer, this.view, length, this.pattern)
    if (verdict.kind === 'foreign') {
      this.counters.rxForeign++
      return
    }
    if (verdict.kind === 'corrupt') {
      this.corrupt(verdict.message)
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

  private corrupt(message: string): void {
    this.counters.rxCorrupt++
    if (this.corruptReported++ < 20) this.ctx.kernel.log.report({ kind: 'frame-corrupted', message })
  }
}
