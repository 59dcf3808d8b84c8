// The protocol bound above an NDIS 5 miniport: what `m.traffic` drives for NDIS 5 drivers, as
// protocol.ts does for NDIS 6 ones, with the same test frames (frames.ts).
//
// Sends: a window of send slots, each a 2 KiB buffer in the protocol's own memory (pages the
// kernel hands out by its policy: above 4 GiB with high-first, so a 32-bit device needs map
// registers with bounce buffers, or the IOMMU), one NDIS_BUFFER and one NDIS_PACKET from the
// protocol's packet pool. Packets go down in arrays (NdisSendPackets) at DISPATCH_LEVEL and
// must all come back, through NdisMSendComplete or a status the serialized miniport returned.
// Receives: header and lookahead from NdisMEthIndicateReceive (the rest through
// NdisTransferData), or whole packets from NdisMIndicateReceivePacket; every frame is checked
// byte for byte. Packets indicated with NDIS_STATUS_SUCCESS are kept until the receive
// completes, and then returned (MiniportReturnPacket); with NDIS_STATUS_RESOURCES they are
// copied at once.
import { PAGE_SIZE } from '../../hw/address.js'
import type { Timer } from '../../hw/clock.js'
import { DISPATCH_LEVEL } from '../../kernel/irql.js'
import { CHAIN_LIMIT, type MDL } from '../../kernel/mdl.js'
import { NDIS_PACKET_TYPE, NDIS_STATUS, statusName } from '../constants.js'
import { HEADER, PEER_SLOT, SEQUENCE_OFFSET, SLOT_BYTES, checkTestFrame, patternFor, writeTestFrame } from '../test-frames.js'
import type { TrafficCounters } from '../protocol.js'
import { NDIS5_STATUS, NDIS_PER_PACKET_INFO } from './constants.js'
import type { Packets, PacketPoolHandle } from './packets.js'
import type { ReceivePath, ReceiveSink } from './receive.js'
import type { StatusSink } from './requests.js'
import type { SendPath } from './send.js'
import type { Ndis5State } from './state.js'
import type { NDIS_PACKET } from './types.js'

const CANCEL_INFO = NDIS_PER_PACKET_INFO.PacketCancelId

/** Send slots (so at most this many frames are in flight), and packets per NdisSendPackets. */
export const SEND_WINDOW = 256
export const SEND_BATCH = 32
/** Transfer slots for NdisTransferData (indications whose lookahead is short of the frame). */
const TRANSFER_SLOTS = 64
/** The lookahead the protocol asks for (OID_GEN_CURRENT_LOOKAHEAD): short of a full frame, so
 * a miniport that indicates with NdisMEthIndicateReceive must be able to transfer the rest. */
export const PROTOCOL_LOOKAHEAD = 256
/** The packet filter the protocol sets at bind (as TCP/IP does). */
export const PROTOCOL_FILTER = NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_MULTICAST | NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_BROADCAST

interface Slot {
  readonly index: number
  readonly pa: number
  readonly packet: NDIS_PACKET
  readonly buffer: MDL
  size: number
  busy: boolean
}

interface TransferSlot {
  readonly packet: NDIS_PACKET
  readonly buffer: MDL
  readonly va: number
  /** The frame's first bytes (header and lookahead) while the transfer pends. */
  readonly head: Uint8Array
  headLength: number
  packetSize: number
  busy: boolean
}

export class Protocol5 implements ReceiveSink, StatusSink {
  readonly counters: TrafficCounters = { txRequested: 0, txFrames: 0, txFailed: 0, rxInjected: 0, rxFrames: 0, rxCorrupt: 0, rxForeign: 0, rxFiltered: 0, txFailures: {} }
  private readonly s: Ndis5State
  private readonly packets: Packets
  private readonly send: SendPath
  private readonly receivePath: ReceivePath
  private readonly pattern: Uint8Array
  private pool: PacketPoolHandle | null = null
  private slots: Slot[] = []
  private free: number[] = []
  private readonly bySlotPacket = new Map<NDIS_PACKET, Slot>()
  private transfers: TransferSlot[] = []
  private readonly byTransferPacket = new Map<NDIS_PACKET, TransferSlot>()
  private toSend = 0
  private sendSize = 1500
  private seq = 0
  private readonly frame = new Uint8Array(16384 + HEADER)
  private readonly scratch = new Uint8Array(65536)
  private readonly scratchBuffer = Buffer.from(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength)
  private readonly view = new DataView(this.scratch.buffer)
  private readonly sender: Timer
  private corruptReported = 0
  /** The cancel ID on every send: NdisGeneratePartialCancelId's byte in the high bits, as a protocol builds one. */
  private cancelId = 0
  mac: Uint8Array = new Uint8Array(6)
  readonly peerMac = Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, 0x02)
  /** OID_GEN_CURRENT_PACKET_FILTER as the protocol set it (0 before it binds and after it unbinds). */
  packetFilter = 0
  mediaConnected = true
  stopped = false
  /** Set when the binding is open: NDIS may hand down sends. */
  bound = false

  constructor(state: Ndis5State, packets: Packets, send: SendPath, receive: ReceivePath, seed: number) {
    this.s = state
    this.packets = packets
    this.send = send
    this.receivePath = receive
    this.pattern = patternFor(seed)
    this.sender = state.ctx.kernel.clock.timer('protocol send (NDIS 5)', () => this.sendBatch(), { needsCpu: true })
    send.onComplete = (packet, status) => this.sendComplete(packet, status)
    this.cancelId = packets.NdisGeneratePartialCancelId() * 0x100_0000 + 1
    receive.sink = this
  }

  get inFlight(): number {
    return this.slots.length - this.free.length
  }

  /** Queues `count` frames of `size` bytes; they go down as fast as the miniport takes them. */
  queueSend(count: number, sizeOrDefault: number | undefined): void {
    const size = sizeOrDefault ?? 1500
    if (this.stopped || !this.bound || count <= 0) return
    if (this.slots.length === 0 && !this.allocateSlots()) return
    this.sendSize = size
    this.toSend += count
    this.counters.txRequested += count
    if (!this.sender.armed) this.s.ctx.kernel.clock.armAfter(this.sender, 0)
  }

  /** Frames from another host on the wire, addressed to the NIC. */
  injectFromWire(count: number, sizeOrDefault: number | undefined, _mix: unknown, inject: (frame: Uint8Array, length: number) => void): void {
    const size = sizeOrDefault ?? 1500
    for (let i = 0; i < count; i++) {
      const frame = new Uint8Array(size)
      writeTestFrame(frame, this.pattern, this.mac, this.peerMac, this.seq++, PEER_SLOT, size)
      inject(frame, size)
      this.counters.rxInjected++
    }
  }

  /** Stops sending (unbind, halt): frames not yet handed down are dropped. */
  stop(): void {
    this.stopped = true
    this.toSend = 0
    this.s.ctx.kernel.clock.cancel(this.sender)
  }

  /** NdisCancelSendPackets with the ID every send carries: what is still out, cancelled. */
  cancelSends(): void {
    if (this.inFlight > 0) this.send.cancel(this.cancelId)
  }

  // ---- send side --------------------------------------------------------------------------------

  private allocateSlots(): boolean {
    const k = this.s.ctx.kernel
    const pages = Math.ceil(((SEND_WINDOW + TRANSFER_SLOTS) * SLOT_BYTES) / PAGE_SIZE)
    const memory = k.mm.allocateMapped(pages, { kind: 'pool', label: 'protocol send and transfer buffers', driver: false }, {}, 'zero')
    if (memory === null) return false
    const pool = this.packets.allocatePacketPool('NdisAllocatePacketPool', SEND_WINDOW + TRANSFER_SLOTS, 0, 16, false)
    if (pool.poolHandle === null) return false
    this.pool = pool.poolHandle
    const perPage = PAGE_SIZE / SLOT_BYTES
    for (let i = 0; i < SEND_WINDOW + TRANSFER_SLOTS; i++) {
      const va = memory.va + i * SLOT_BYTES
      const buffer = k.mdl.create(va, SLOT_BYTES, { driver: false })
      if (buffer === null) return false
      k.mdl.buildForNonPagedPool(buffer)
      const { packet } = this.packets.allocatePacket('NdisAllocatePacket', this.pool, false)
      if (packet === null) return false
      if (i < SEND_WINDOW) {
        const pa = memory.pfns[Math.floor(i / perPage)]! * PAGE_SIZE + (i % perPage) * SLOT_BYTES
        const slot: Slot = { index: i, pa, packet, buffer, size: 0, busy: false }
        this.slots.push(slot)
        this.bySlotPacket.set(packet, slot)
        this.free.push(SEND_WINDOW - 1 - i)
      } else {
        const t: TransferSlot = { packet, buffer, va, head: new Uint8Array(HEADER + PROTOCOL_LOOKAHEAD + 64), headLength: 0, packetSize: 0, busy: false }
        this.transfers.push(t)
        this.byTransferPacket.set(packet, t)
      }
    }
    return true
  }

  private sendBatch(): void {
    if (this.stopped || !this.bound) return
    const batch: NDIS_PACKET[] = []
    while (this.toSend > 0 && this.free.length > 0 && batch.length < SEND_BATCH) {
      const slot = this.slots[this.free.pop()!]!
      this.prepare(slot)
      slot.busy = true
      batch.push(slot.packet)
      this.toSend--
    }
    if (batch.length === 0) return
    const k = this.s.ctx.kernel
    // NdisSendPackets is called at or below DISPATCH_LEVEL; NDIS hands them on at DISPATCH_LEVEL.
    const saved = k.irql
    k.irql = DISPATCH_LEVEL
    try {
      this.send.submit(batch)
    } finally {
      k.irql = saved
    }
    if (this.toSend > 0 && this.free.length > 0 && !this.sender.armed && !this.stopped) k.clock.armAfter(this.sender, 0)
  }

  /** Writes the slot's frame (the whole frame when the size changed, else only the sequence). */
  private prepare(slot: Slot): void {
    const ram = this.s.ctx.kernel.ram
    const size = this.sendSize
    const seq = this.seq++
    if (slot.size !== size) {
      writeTestFrame(this.frame, this.pattern, this.mac, this.mac, seq, slot.index, size)
      ram.writeFrom(slot.pa, this.frame, 0, size)
      slot.size = size
    } else {
      ram.write32(slot.pa + SEQUENCE_OFFSET, seq)
    }
    // The packet: one buffer of the frame's length; the OOB block and per-packet info cleared.
    const packet = slot.packet
    const p = packet.Private
    slot.buffer.ByteCount = size
    slot.buffer.Next = null
    p.Head = p.Tail = slot.buffer
    p.ValidCounts = false
    packet.OobData.Status = NDIS_STATUS.NDIS_STATUS_SUCCESS
    packet.OobData.HeaderSize = HEADER
    packet.Extension.NdisPacketInfo.fill(null)
    packet.Extension.NdisPacketInfo[CANCEL_INFO] = this.cancelId
  }

  /** A send came back (ProtocolSendComplete). */
  private sendComplete(packet: NDIS_PACKET, status: number): void {
    const slot = this.bySlotPacket.get(packet)
    if (slot === undefined || !slot.busy) return
    slot.busy = false
    this.free.push(slot.index)
    if (status === NDIS_STATUS.NDIS_STATUS_SUCCESS) this.counters.txFrames++
    else {
      this.counters.txFailed++
      const name = statusName(status)
      this.counters.txFailures[name] = (this.counters.txFailures[name] ?? 0) + 1
    }
    if (this.toSend > 0 && !this.stopped && !this.sender.armed) this.s.ctx.kernel.clock.armAfter(this.sender, 0)
  }

  // ---- receive side -----------------------------------------------------------------------------

  /** ProtocolReceive: check the header and lookahead; transfer the rest when the frame is longer. */
  receive(receiveContext: unknown, headerVa: number, headerSize: number, lookaheadVa: number, lookaheadSize: number, packetSize: number): void {
    const k = this.s.ctx.kernel
    const total = headerSize + packetSize
    if (total > this.scratch.length) {
      this.counters.rxForeign++
      return
    }
    // The miniport must indicate the lookahead the protocol asked for (or the whole frame).
    if (lookaheadSize < Math.min(PROTOCOL_LOOKAHEAD, packetSize)) {
      this.s.ctx.violation('ndis-bad-argument', `NdisMEthIndicateReceive with ${lookaheadSize} bytes of lookahead for a ${packetSize}-byte frame: the protocol set OID_GEN_CURRENT_LOOKAHEAD to ${PROTOCOL_LOOKAHEAD}, and a miniport indicates at least that much (or the whole frame)`)
    }
    k.memory.readInto(headerVa, this.scratch, 0, headerSize)
    k.memory.readInto(lookaheadVa, this.scratch, headerSize, lookaheadSize)
    if (lookaheadSize >= packetSize) {
      this.verify(total)
      return
    }
    const t = this.transfers.find((x) => !x.busy)
    if (t === undefined) {
      this.corrupt('more NdisTransferData requests pended at once than the protocol has transfer packets')
      return
    }
    const rest = packetSize - lookaheadSize
    t.busy = true
    t.headLength = headerSize + lookaheadSize
    t.packetSize = total
    t.head.set(this.scratch.subarray(0, t.headLength))
    t.buffer.ByteCount = rest
    t.buffer.Next = null
    const p = t.packet.Private
    p.Head = p.Tail = t.buffer
    p.ValidCounts = false
    const r = this.receivePath.transfer(t.packet, receiveContext, lookaheadSize, rest)
    if (r.status === NDIS_STATUS.NDIS_STATUS_PENDING) return
    this.transferComplete(t.packet, r.status, r.bytesTransferred)
  }

  receiveComplete(): void {}

  /** NdisTransferData finished: the frame is the head kept from the indication plus the transferred bytes. */
  transferComplete(packet: NDIS_PACKET, status: number, bytesTransferred: number): void {
    const t = this.byTransferPacket.get(packet)
    if (t === undefined || !t.busy) return
    t.busy = false
    const rest = t.packetSize - t.headLength
    if (status !== NDIS_STATUS.NDIS_STATUS_SUCCESS || bytesTransferred !== rest) {
      this.corrupt(`NdisTransferData of the ${rest} bytes after the lookahead gave ${statusName(status)} with ${bytesTransferred} bytes`)
      return
    }
    this.scratch.set(t.head.subarray(0, t.headLength), 0)
    this.s.ctx.kernel.memory.readInto(t.va, this.scratch, t.headLength, rest)
    this.verify(t.packetSize)
  }

  /** ProtocolReceivePacket: check the frame; keep it (to be returned) when allowed. */
  receivePacket(packet: NDIS_PACKET, mayKeep: boolean): boolean {
    this.packets.recount(packet)
    const length = packet.Private.TotalLength
    if (length > this.scratch.length) {
      this.counters.rxForeign++
      return false
    }
    if (!this.read(packet.Private.Head, length)) {
      this.corrupt(`a received packet's buffer chain does not describe its ${length} bytes`)
      return false
    }
    this.verify(length)
    return mayKeep
  }

  private verify(length: number): void {
    const verdict = checkTestFrame(this.scratch, this.scratchBuffer, this.view, length, this.pattern)
    if (verdict.kind === 'intact') this.counters.rxFrames++
    else if (verdict.kind === 'foreign') this.counters.rxForeign++
    else this.corrupt(verdict.message)
  }

  /** Reads `length` bytes through a buffer chain into the scratch buffer. */
  private read(first: MDL | null, length: number): boolean {
    const ram = this.s.ctx.kernel.ram
    let done = 0
    let links = 0
    for (let m = first; done < length; m = m.Next) {
      if (m === null || m === undefined || ++links > CHAIN_LIMIT) return false
      let take = Math.min(m.ByteCount, length - done)
      if (!(take > 0)) continue
      let pos = m.ByteOffset
      while (take > 0) {
        const pfn = m.PfnArray[Math.floor(pos / PAGE_SIZE)]
        if (pfn === undefined || pfn < 0) return false
        const chunk = Math.min(PAGE_SIZE - (pos % PAGE_SIZE), take)
        ram.readInto(pfn * PAGE_SIZE + (pos % PAGE_SIZE), this.scratch, done, chunk)
        done += chunk
        pos += chunk
        take -= chunk
      }
    }
    return true
  }

  private corrupt(message: string): void {
    this.counters.rxCorrupt++
    if (this.corruptReported++ < 20) this.s.ctx.kernel.log.report({ kind: 'frame-corrupted', message })
  }

  // ---- status -------------------------------------------------------------------------------------

  /** ProtocolStatus: the protocol follows the media state. */
  status(generalStatus: number, _buffer: Uint8Array): void {
    if (generalStatus === NDIS_STATUS.NDIS_STATUS_MEDIA_CONNECT) this.mediaConnected = true
    else if (generalStatus === NDIS_STATUS.NDIS_STATUS_MEDIA_DISCONNECT) this.mediaConnected = false
    else if (generalStatus === NDIS5_STATUS.NDIS_STATUS_RESET_START || generalStatus === NDIS5_STATUS.NDIS_STATUS_RESET_END) return
  }

  statusComplete(): void {}
}
