// NDIS_PACKET and NDIS_BUFFER: packet pools and descriptors, buffer pools and buffer
// descriptors (MDLs on Windows NT: `typedef MDL NDIS_BUFFER`), the chaining and query routines,
// and the OOB / per-packet-info macros. NDIS 5.1 reference: NdisAllocatePacketPool[Ex],
// NdisAllocatePacket, NdisFreePacket, NdisAllocateBufferPool, NdisAllocateBuffer,
// NdisChainBufferAtFront/Back, NdisQueryPacket, NdisQueryBufferSafe,
// NdisGetFirstBufferFromPacketSafe, NDIS_SET_PACKET_STATUS / NDIS_GET_PACKET_STATUS.
//
// A pool's descriptors are real memory: NdisAllocatePacketPool charges a nonpaged pool block
// for them to the driver (so a pool never freed is a pool leak with its line), and a packet
// pool never hands out more than NumberOfDescriptors (+ overflow) descriptors at once.
import { PAGE_SIZE, pagesSpanned } from '../../hw/address.js'
import { DISPATCH_LEVEL } from '../../kernel/irql.js'
import { requireIrqlExactly } from '../../kernel/irql-checks.js'
import { CHAIN_LIMIT } from '../../kernel/mdl.js'
import { tagValue } from '../../kernel/tags.js'
import { POOL_TYPE } from '../../kernel/wdm.js'
import { NDIS_STATUS } from '../constants.js'
import { NDIS_PER_PACKET_INFO } from './constants.js'
import type { Ndis5State } from './state.js'
import type { NDIS_BUFFER, NDIS_PACKET, NDIS_PACKET_EXTENSION, NDIS_PACKET_OOB_DATA } from './types.js'
import type { AllocationRoutine } from '../../faults/routines.js'

/** Pool tag of packet-pool memory (dmalab's choice; reads "NDpp" in a pool dump). */
export const PACKET_POOL_TAG = tagValue('ppDN')
/** sizeof(NDIS_PACKET) + OOB block + packet extension on x64 (ndis.h), before ProtocolReserved. */
export const PACKET_DESCRIPTOR_BYTES = 0xa8

export interface PacketPoolHandle { readonly kind: 'ndis5-packet-pool'; readonly id: number }
export interface BufferPoolHandle { readonly kind: 'ndis5-buffer-pool'; readonly id: number }

interface PacketPool {
  readonly handle: PacketPoolHandle
  readonly descriptors: number
  readonly overflow: number
  readonly protocolReserved: number
  /** VA of the pool's memory block. */
  readonly block: number
  readonly live: Set<NDIS_PACKET>
  /** Which descriptor of the block each live packet occupies (null: free), for the packet's address. */
  readonly slots: Array<NDIS_PACKET | null>
  /** False for the pools NDIS and the emulated protocol own. */
  readonly driver: boolean
}

interface BufferPool {
  readonly handle: BufferPoolHandle
  readonly descriptors: number
  readonly live: Set<NDIS_BUFFER>
}

function newPacket(pool: PacketPoolHandle | null, protocolReserved: number): NDIS_PACKET {
  const oob: NDIS_PACKET_OOB_DATA = { TimeToSend: 0, TimeReceived: 0, HeaderSize: 0, SizeMediaSpecificInfo: 0, MediaSpecificInformation: null, Status: 0 }
  const extension: NDIS_PACKET_EXTENSION = { NdisPacketInfo: new Array<unknown>(NDIS_PER_PACKET_INFO.MaxPerPacketInfo).fill(null) }
  return {
    Private: { PhysicalCount: 0, TotalLength: 0, Head: null, Tail: null, Pool: pool, Count: 0, Flags: 0, ValidCounts: false, NdisPacketFlags: 0, NdisPacketOobOffset: 0 },
    MiniportReserved: [null, null],
    MiniportReservedEx: [null, null, null],
    ProtocolReserved: new Array<unknown>(Math.ceil(protocolReserved / 8)).fill(null),
    OobData: oob,
    Extension: extension,
  }
}

export class Packets {
  private readonly s: Ndis5State
  private readonly packetPools = new Map<PacketPoolHandle, PacketPool>()
  private readonly bufferPools = new Map<BufferPoolHandle, BufferPool>()
  /** Which pool each live packet came from. */
  private readonly owner = new WeakMap<NDIS_PACKET, PacketPool>()
  /** Buffers NdisAllocateBuffer made, by pool. */
  private readonly bufferOwner = new WeakMap<NDIS_BUFFER, BufferPool>()
  /** Each live packet's descriptor slot in its pool's block. */
  private readonly slot = new WeakMap<NDIS_PACKET, number>()
  /** The last NdisGeneratePartialCancelId value. */
  private partialCancelId = 0

  constructor(state: Ndis5State) {
    this.s = state
  }

  // ---- packet pools ---------------------------------------------------------------------------

  NdisAllocatePacketPool(NumberOfDescriptors: number, ProtocolReservedLength: number): { status: number; poolHandle: PacketPoolHandle | null } {
    return this.allocatePacketPool('NdisAllocatePacketPool', NumberOfDescriptors, 0, ProtocolReservedLength, true)
  }

  NdisAllocatePacketPoolEx(NumberOfDescriptors: number, NumberOfOverflowDescriptors: number, ProtocolReservedLength: number): { status: number; poolHandle: PacketPoolHandle | null } {
    return this.allocatePacketPool('NdisAllocatePacketPoolEx', NumberOfDescriptors, NumberOfOverflowDescriptors, ProtocolReservedLength, true)
  }

  /** The pool behind NdisAllocatePacketPool[Ex]; NDIS and the emulated protocol use it with driver = false. */
  allocatePacketPool(routine: AllocationRoutine, descriptors: number, overflow: number, protocolReserved: number, driver: boolean): { status: number; poolHandle: PacketPoolHandle | null } {
    const s = this.s
    const k = s.ctx.kernel
    const fail = { status: NDIS_STATUS.NDIS_STATUS_RESOURCES, poolHandle: null }
    if (driver) {
      if (!s.enter(routine)) return fail
      s.dispatchOrBelow(routine)
    }
    if (!isCount(descriptors) || descriptors === 0 || !isCount(overflow) || !isCount(protocolReserved)) {
      s.ctx.violation('ndis-bad-argument', `${routine}: NumberOfDescriptors ${descriptors}, overflow ${overflow} and ProtocolReservedLength ${protocolReserved} must be counts (and at least one descriptor)`)
      return fail
    }
    const bytes = Math.min(descriptors + overflow, 0x10000) * (PACKET_DESCRIPTOR_BYTES + protocolReserved)
    let site
    if (driver) {
      const call = k.calls.allocation(routine, bytes, 'NDpp')
      if (call.fail) return fail
      site = call.site
    }
    const block = k.pool.allocate(POOL_TYPE.NonPagedPool, bytes, PACKET_POOL_TAG, { ...(site === undefined ? {} : { site }), driver })
    if (block === 0) return fail
    const handle: PacketPoolHandle = { kind: 'ndis5-packet-pool', id: s.ctx.handleId() }
    this.packetPools.set(handle, { handle, descriptors, overflow, protocolReserved, block, live: new Set(), slots: new Array<NDIS_PACKET | null>(Math.min(descriptors + overflow, 0x10000)).fill(null), driver })
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, poolHandle: handle }
  }

  NdisFreePacketPool(PoolHandle: unknown): void {
    const s = this.s
    if (!s.enter('NdisFreePacketPool')) return
    s.dispatchOrBelow('NdisFreePacketPool')
    const pool = this.packetPools.get(PoolHandle as PacketPoolHandle)
    if (pool === undefined) {
      s.ctx.violation('ndis-bad-handle', 'NdisFreePacketPool: not a pool NdisAllocatePacketPool returned, or already freed')
      return
    }
    if (pool.live.size > 0) {
      s.ctx.violation('ndis-resource-leak', `NdisFreePacketPool with ${pool.live.size} packet descriptor${pool.live.size === 1 ? '' : 's'} still allocated from it: free every packet (NdisFreePacket) before its pool`)
    }
    this.freePool(pool)
  }

  /** NdisPacketPoolUsage(PoolHandle): descriptors allocated from the pool. */
  NdisPacketPoolUsage(PoolHandle: unknown): number {
    return this.packetPools.get(PoolHandle as PacketPoolHandle)?.live.size ?? 0
  }

  private freePool(pool: PacketPool): void {
    for (const p of pool.live) this.owner.delete(p)
    pool.live.clear()
    pool.slots.fill(null)
    this.packetPools.delete(pool.handle)
    this.s.ctx.kernel.pool.free(pool.block, { routine: 'NdisFreePacketPool' })
  }

  // ---- packets ---------------------------------------------------------------------------------

  NdisAllocatePacket(PoolHandle: unknown): { status: number; packet: NDIS_PACKET | null } {
    return this.allocatePacket('NdisAllocatePacket', PoolHandle, true)
  }

  /** NdisDprAllocatePacket: as NdisAllocatePacket, for callers already at DISPATCH_LEVEL. */
  NdisDprAllocatePacket(PoolHandle: unknown): { status: number; packet: NDIS_PACKET | null } {
    const k = this.s.ctx.kernel
    // Below DISPATCH_LEVEL the caller wants NdisAllocatePacket.
    if (k.irql !== DISPATCH_LEVEL && this.s.enter('NdisDprAllocatePacket')) requireIrqlExactly(k, 'NdisDprAllocatePacket', DISPATCH_LEVEL)
    return this.allocatePacket('NdisDprAllocatePacket', PoolHandle, true)
  }

  allocatePacket(routine: AllocationRoutine, poolHandle: unknown, driver: boolean): { status: number; packet: NDIS_PACKET | null } {
    const s = this.s
    const fail = { status: NDIS_STATUS.NDIS_STATUS_RESOURCES, packet: null }
    if (driver) {
      if (!s.enter(routine)) return fail
      s.dispatchOrBelow(routine)
    }
    const pool = this.packetPools.get(poolHandle as PacketPoolHandle)
    if (pool === undefined) {
      s.ctx.violation('ndis-bad-handle', `${routine}: PoolHandle is not a live packet pool (NdisAllocatePacketPool)`)
      return fail
    }
    if (driver && s.ctx.kernel.calls.allocation(routine, PACKET_DESCRIPTOR_BYTES + pool.protocolReserved).fail) return fail
    if (pool.live.size >= pool.descriptors + pool.overflow) return fail
    const packet = newPacket(pool.handle, pool.protocolReserved)
    pool.live.add(packet)
    this.owner.set(packet, pool)
    const slot = pool.slots.indexOf(null)
    if (slot >= 0) {
      pool.slots[slot] = packet
      this.slot.set(packet, slot)
    }
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, packet }
  }

  NdisFreePacket(Packet: NDIS_PACKET): void {
    this.freePacket('NdisFreePacket', Packet)
  }

  NdisDprFreePacket(Packet: NDIS_PACKET): void {
    this.freePacket('NdisDprFreePacket', Packet)
  }

  private freePacket(routine: string, packet: NDIS_PACKET): void {
    const s = this.s
    if (!s.enter(routine)) return
    s.dispatchOrBelow(routine)
    const pool = this.owner.get(packet)
    if (pool === undefined || !pool.live.has(packet)) {
      s.ctx.violation('ndis-bad-argument', `${routine}: not a packet descriptor NdisAllocatePacket returned, or freed twice`)
      return
    }
    pool.live.delete(packet)
    this.owner.delete(packet)
    const slot = this.slot.get(packet)
    if (slot !== undefined && pool.slots[slot] === packet) pool.slots[slot] = null
  }

  /**
   * Where a live packet's descriptor lives: its slot in the pool's block (each slot holds the
   * descriptor, ProtocolReserved, the OOB block and the packet extension), for drivers that see
   * packets in memory (C miniports). Undefined for a packet that is not live.
   */
  descriptorOf(packet: NDIS_PACKET): { va: number; protocolReserved: number; pool: PacketPoolHandle } | undefined {
    const pool = this.owner.get(packet)
    const slot = this.slot.get(packet)
    if (pool === undefined || slot === undefined || pool.slots[slot] !== packet) return undefined
    return { va: pool.block + slot * (PACKET_DESCRIPTOR_BYTES + pool.protocolReserved), protocolReserved: pool.protocolReserved, pool: pool.handle }
  }

  /** True for a live packet descriptor from any pool (the protocol's, NDIS's or the driver's). */
  isPacket(packet: unknown): packet is NDIS_PACKET {
    return typeof packet === 'object' && packet !== null && this.owner.has(packet as NDIS_PACKET)
  }

  /** NdisReinitializePacket: empties the buffer chain and the counts, for reuse. */
  NdisReinitializePacket(Packet: NDIS_PACKET): void {
    if (!this.checkPacket('NdisReinitializePacket', Packet)) return
    const p = Packet.Private
    p.Head = p.Tail = null
    p.ValidCounts = false
    p.Count = p.PhysicalCount = p.TotalLength = 0
  }

  // ---- chaining and queries --------------------------------------------------------------------

  NdisChainBufferAtFront(Packet: NDIS_PACKET, Buffer: NDIS_BUFFER): void {
    if (!this.checkPacket('NdisChainBufferAtFront', Packet) || !this.checkBuffer('NdisChainBufferAtFront', Buffer)) return
    const p = Packet.Private
    // The buffer may head a chain of its own (Next links); all of it goes in front.
    let last = Buffer
    for (let n = 0; last.Next !== null && last.Next !== undefined && n < CHAIN_LIMIT; n++) last = last.Next
    last.Next = p.Head
    if (p.Head === null) p.Tail = last
    p.Head = Buffer
    p.ValidCounts = false
  }

  NdisChainBufferAtBack(Packet: NDIS_PACKET, Buffer: NDIS_BUFFER): void {
    if (!this.checkPacket('NdisChainBufferAtBack', Packet) || !this.checkBuffer('NdisChainBufferAtBack', Buffer)) return
    const p = Packet.Private
    let last = Buffer
    for (let n = 0; last.Next !== null && last.Next !== undefined && n < CHAIN_LIMIT; n++) last = last.Next
    if (p.Head === null) p.Head = Buffer
    else if (p.Tail !== null) p.Tail.Next = Buffer
    p.Tail = last
    p.ValidCounts = false
  }

  NdisUnchainBufferAtFront(Packet: NDIS_PACKET): { buffer: NDIS_BUFFER | null } {
    if (!this.checkPacket('NdisUnchainBufferAtFront', Packet)) return { buffer: null }
    const p = Packet.Private
    const b = p.Head
    if (b === null) return { buffer: null }
    p.Head = b.Next ?? null
    if (p.Head === null) p.Tail = null
    b.Next = null
    p.ValidCounts = false
    return { buffer: b }
  }

  NdisUnchainBufferAtBack(Packet: NDIS_PACKET): { buffer: NDIS_BUFFER | null } {
    if (!this.checkPacket('NdisUnchainBufferAtBack', Packet)) return { buffer: null }
    const p = Packet.Private
    const tail = p.Tail
    if (tail === null || p.Head === null) return { buffer: null }
    if (p.Head === tail) {
      p.Head = p.Tail = null
    } else {
      let b: NDIS_BUFFER = p.Head
      for (let n = 0; b.Next !== tail && b.Next !== null && n < CHAIN_LIMIT; n++) b = b.Next
      b.Next = null
      p.Tail = b
    }
    p.ValidCounts = false
    return { buffer: tail }
  }

  /** NdisQueryPacket(Packet, &PhysicalBufferCount, &BufferCount, &FirstBuffer, &TotalPacketLength). */
  NdisQueryPacket(Packet: NDIS_PACKET): { physicalBufferCount: number; bufferCount: number; firstBuffer: NDIS_BUFFER | null; totalPacketLength: number } {
    if (!this.checkPacket('NdisQueryPacket', Packet)) return { physicalBufferCount: 0, bufferCount: 0, firstBuffer: null, totalPacketLength: 0 }
    this.recount(Packet)
    const p = Packet.Private
    return { physicalBufferCount: p.PhysicalCount, bufferCount: p.Count, firstBuffer: p.Head, totalPacketLength: p.TotalLength }
  }

  NdisQueryPacketLength(Packet: NDIS_PACKET): { totalPacketLength: number } {
    if (!this.checkPacket('NdisQueryPacketLength', Packet)) return { totalPacketLength: 0 }
    this.recount(Packet)
    return { totalPacketLength: Packet.Private.TotalLength }
  }

  NdisRecalculatePacketCounts(Packet: NDIS_PACKET): void {
    if (!this.checkPacket('NdisRecalculatePacketCounts', Packet)) return
    Packet.Private.ValidCounts = false
    this.recount(Packet)
  }

  /** NdisGetFirstBufferFromPacketSafe(Packet, &FirstBuffer, &FirstBufferVA, &FirstBufferLength, &TotalBufferLength, Priority). */
  NdisGetFirstBufferFromPacketSafe(Packet: NDIS_PACKET, _Priority: number): { firstBuffer: NDIS_BUFFER | null; firstBufferVA: number; firstBufferLength: number; totalBufferLength: number } {
    if (!this.checkPacket('NdisGetFirstBufferFromPacketSafe', Packet)) return { firstBuffer: null, firstBufferVA: 0, firstBufferLength: 0, totalBufferLength: 0 }
    this.recount(Packet)
    const first = Packet.Private.Head
    if (first === null) return { firstBuffer: null, firstBufferVA: 0, firstBufferLength: 0, totalBufferLength: 0 }
    return { firstBuffer: first, firstBufferVA: bufferVa(first), firstBufferLength: first.ByteCount, totalBufferLength: Packet.Private.TotalLength }
  }

  /** Counts of the buffer chain: buffers, physical pages, bytes (as NdisQueryPacket computes them). */
  recount(packet: NDIS_PACKET): void {
    const p = packet.Private
    if (p.ValidCounts) return
    let count = 0
    let pages = 0
    let bytes = 0
    for (let b = p.Head; b !== null && b !== undefined && count < CHAIN_LIMIT; b = b.Next) {
      count++
      pages += b.ByteCount === 0 ? 0 : pagesSpanned(bufferVa(b), b.ByteCount)
      bytes += Number.isSafeInteger(b.ByteCount) && b.ByteCount > 0 ? b.ByteCount : 0
    }
    p.Count = count
    p.PhysicalCount = pages
    p.TotalLength = bytes
    p.ValidCounts = true
  }

  // ---- buffer pools and buffers ------------------------------------------------------------------

  NdisAllocateBufferPool(NumberOfDescriptors: number): { status: number; poolHandle: BufferPoolHandle | null } {
    const s = this.s
    const fail = { status: NDIS_STATUS.NDIS_STATUS_RESOURCES, poolHandle: null }
    if (!s.enter('NdisAllocateBufferPool')) return fail
    s.dispatchOrBelow('NdisAllocateBufferPool')
    if (!isCount(NumberOfDescriptors)) {
      s.ctx.violation('ndis-bad-argument', `NdisAllocateBufferPool: NumberOfDescriptors ${NumberOfDescriptors} is not a count`)
      return fail
    }
    // On Windows NT buffer descriptors are MDLs from the I/O manager: the pool itself holds no memory.
    if (s.ctx.kernel.calls.allocation('NdisAllocateBufferPool', 0).fail) return fail
    const handle: BufferPoolHandle = { kind: 'ndis5-buffer-pool', id: s.ctx.handleId() }
    this.bufferPools.set(handle, { handle, descriptors: NumberOfDescriptors, live: new Set() })
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, poolHandle: handle }
  }

  NdisFreeBufferPool(PoolHandle: unknown): void {
    const s = this.s
    if (!s.enter('NdisFreeBufferPool')) return
    s.dispatchOrBelow('NdisFreeBufferPool')
    const pool = this.bufferPools.get(PoolHandle as BufferPoolHandle)
    if (pool === undefined) {
      s.ctx.violation('ndis-bad-handle', 'NdisFreeBufferPool: not a pool NdisAllocateBufferPool returned, or already freed')
      return
    }
    if (pool.live.size > 0) {
      s.ctx.violation('ndis-resource-leak', `NdisFreeBufferPool with ${pool.live.size} buffer descriptor${pool.live.size === 1 ? '' : 's'} still allocated from it: free every buffer (NdisFreeBuffer) before its pool`)
    }
    this.bufferPools.delete(pool.handle)
  }

  /** NdisAllocateBuffer(&Status, &Buffer, PoolHandle, VirtualAddress, Length): an MDL for nonpaged memory. */
  NdisAllocateBuffer(PoolHandle: unknown, VirtualAddress: number, Length: number): { status: number; buffer: NDIS_BUFFER | null } {
    const s = this.s
    const k = s.ctx.kernel
    const fail = { status: NDIS_STATUS.NDIS_STATUS_FAILURE, buffer: null }
    if (!s.enter('NdisAllocateBuffer')) return fail
    s.dispatchOrBelow('NdisAllocateBuffer')
    const pool = this.bufferPools.get(PoolHandle as BufferPoolHandle)
    if (pool === undefined) {
      s.ctx.violation('ndis-bad-handle', 'NdisAllocateBuffer: PoolHandle is not a live buffer pool (NdisAllocateBufferPool)')
      return fail
    }
    const call = k.calls.allocation('NdisAllocateBuffer', Length)
    if (call.fail) return fail
    const mdl = k.mdl.create(VirtualAddress, Length, call.site === undefined ? {} : { site: call.site })
    if (mdl === null) return fail
    // NdisAllocateBuffer maps nonpaged memory: the MDL is built at once (MmBuildMdlForNonPagedPool).
    k.mdl.buildForNonPagedPool(mdl, 'NdisAllocateBuffer')
    pool.live.add(mdl)
    this.bufferOwner.set(mdl, pool)
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, buffer: mdl }
  }

  NdisFreeBuffer(Buffer: NDIS_BUFFER): void {
    const s = this.s
    if (!s.enter('NdisFreeBuffer')) return
    s.dispatchOrBelow('NdisFreeBuffer')
    const pool = this.bufferOwner.get(Buffer)
    if (pool === undefined || !pool.live.has(Buffer)) {
      s.ctx.violation('ndis-bad-argument', 'NdisFreeBuffer: not a buffer descriptor NdisAllocateBuffer returned, or freed twice')
      return
    }
    pool.live.delete(Buffer)
    this.bufferOwner.delete(Buffer)
    s.ctx.kernel.mdl.free(Buffer, 'NdisFreeBuffer')
  }

  NdisQueryBuffer(Buffer: NDIS_BUFFER): { virtualAddress: number; length: number } {
    if (!this.checkBuffer('NdisQueryBuffer', Buffer)) return { virtualAddress: 0, length: 0 }
    return { virtualAddress: bufferVa(Buffer), length: Buffer.ByteCount }
  }

  /** NdisQueryBufferSafe(Buffer, &VirtualAddress, &Length, Priority): the VA is 0 only when mapping fails. */
  NdisQueryBufferSafe(Buffer: NDIS_BUFFER, _Priority: number): { virtualAddress: number; length: number } {
    if (!this.checkBuffer('NdisQueryBufferSafe', Buffer)) return { virtualAddress: 0, length: 0 }
    return { virtualAddress: bufferVa(Buffer), length: Buffer.ByteCount }
  }

  NdisQueryBufferOffset(Buffer: NDIS_BUFFER): { offset: number; length: number } {
    if (!this.checkBuffer('NdisQueryBufferOffset', Buffer)) return { offset: 0, length: 0 }
    return { offset: Buffer.ByteOffset, length: Buffer.ByteCount }
  }

  NdisGetNextBuffer(CurrentBuffer: NDIS_BUFFER): { nextBuffer: NDIS_BUFFER | null } {
    if (!this.checkBuffer('NdisGetNextBuffer', CurrentBuffer)) return { nextBuffer: null }
    return { nextBuffer: CurrentBuffer.Next ?? null }
  }

  NdisBufferLength(Buffer: NDIS_BUFFER): number {
    return this.checkBuffer('NdisBufferLength', Buffer) ? Buffer.ByteCount : 0
  }

  NdisBufferVirtualAddressSafe(Buffer: NDIS_BUFFER, _Priority: number): number {
    return this.checkBuffer('NdisBufferVirtualAddressSafe', Buffer) ? bufferVa(Buffer) : 0
  }

  /** NdisAdjustBufferLength: a buffer can be shortened (never beyond the memory it maps). */
  NdisAdjustBufferLength(Buffer: NDIS_BUFFER, Length: number): void {
    if (!this.checkBuffer('NdisAdjustBufferLength', Buffer)) return
    const state = this.s.ctx.kernel.mdl.stateOf(Buffer)
    const pages = Buffer.PfnArray.length
    if (!isCount(Length) || Buffer.ByteOffset + Length > pages * PAGE_SIZE || state === undefined) {
      this.s.ctx.violation('ndis-bad-argument', `NdisAdjustBufferLength: Length ${Length} is beyond the memory the buffer descriptor maps`)
      return
    }
    Buffer.ByteCount = Length
  }

  /** NdisGetBufferPhysicalArraySize: physical pages the buffer spans (at most this many NDIS_PHYSICAL_ADDRESS_UNITs). */
  NdisGetBufferPhysicalArraySize(Buffer: NDIS_BUFFER): { arraySize: number } {
    if (!this.checkBuffer('NdisGetBufferPhysicalArraySize', Buffer)) return { arraySize: 0 }
    return { arraySize: Buffer.ByteCount === 0 ? 1 : pagesSpanned(bufferVa(Buffer), Buffer.ByteCount) }
  }

  // ---- out-of-band data macros ----------------------------------------------------------------

  NDIS_OOB_DATA_FROM_PACKET(Packet: NDIS_PACKET): NDIS_PACKET_OOB_DATA {
    return Packet.OobData
  }

  NDIS_GET_PACKET_STATUS(Packet: NDIS_PACKET): number {
    return Packet.OobData.Status
  }

  NDIS_SET_PACKET_STATUS(Packet: NDIS_PACKET, Status: number): void {
    Packet.OobData.Status = Status
  }

  NDIS_GET_PACKET_HEADER_SIZE(Packet: NDIS_PACKET): number {
    return Packet.OobData.HeaderSize
  }

  NDIS_SET_PACKET_HEADER_SIZE(Packet: NDIS_PACKET, HeaderSize: number): void {
    Packet.OobData.HeaderSize = HeaderSize
  }

  NDIS_PACKET_EXTENSION_FROM_PACKET(Packet: NDIS_PACKET): NDIS_PACKET_EXTENSION {
    return Packet.Extension
  }

  NDIS_PER_PACKET_INFO_FROM_PACKET(Packet: NDIS_PACKET, InfoType: number): unknown {
    return Packet.Extension.NdisPacketInfo[InfoType] ?? null
  }

  /** NDIS_SET_PACKET_CANCEL_ID: the ID a protocol marks a send with, for NdisCancelSendPackets. */
  NDIS_SET_PACKET_CANCEL_ID(Packet: NDIS_PACKET, CancelId: unknown): void {
    Packet.Extension.NdisPacketInfo[NDIS_PER_PACKET_INFO.PacketCancelId] = CancelId
  }

  /** NDIS_GET_PACKET_CANCEL_ID: what MiniportCancelSendPackets compares with its CancelId. */
  NDIS_GET_PACKET_CANCEL_ID(Packet: NDIS_PACKET): unknown {
    return Packet.Extension.NdisPacketInfo[NDIS_PER_PACKET_INFO.PacketCancelId] ?? null
  }

  /**
   * NdisGeneratePartialCancelId: the high byte a driver puts in its cancel IDs so they differ from
   * every other driver's; one value a call, 1 to 255 and round again.
   */
  NdisGeneratePartialCancelId(): number {
    this.partialCancelId = (this.partialCancelId % 255) + 1
    return this.partialCancelId
  }

  // ---- what halt and unload check ------------------------------------------------------------------

  /** The driver's packet pools and buffer pools still allocated (for the unload report). */
  leftovers(): Array<{ what: string; live: number }> {
    const out: Array<{ what: string; live: number }> = []
    for (const p of this.packetPools.values()) if (p.driver) out.push({ what: 'packet pool (NdisAllocatePacketPool)', live: p.live.size })
    for (const b of this.bufferPools.values()) out.push({ what: 'buffer pool (NdisAllocateBufferPool)', live: b.live.size })
    return out
  }

  private checkPacket(routine: string, packet: unknown): packet is NDIS_PACKET {
    if (this.isPacket(packet)) return true
    this.s.ctx.violation('ndis-bad-argument', `${routine}: not a live packet descriptor (NdisAllocatePacket)`)
    return false
  }

  private checkBuffer(routine: string, buffer: unknown): buffer is NDIS_BUFFER {
    if (typeof buffer === 'object' && buffer !== null && this.s.ctx.kernel.mdl.stateOf(buffer as NDIS_BUFFER) !== undefined) return true
    this.s.ctx.violation('ndis-bad-argument', `${routine}: not a live buffer descriptor (NdisAllocateBuffer)`)
    return false
  }
}

/** The VA of a buffer's first byte (MmGetMdlVirtualAddress). */
export function bufferVa(b: NDIS_BUFFER): number {
  return b.StartVa + b.ByteOffset
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0
}
