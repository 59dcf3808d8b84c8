// NDIS_PACKETs as a C NDIS 5.1 miniport sees them: descriptors in emulated memory with their
// 32-bit layouts, at their slots in the packet pool's block (NdisAllocatePacketPool charges one
// block for all of a pool's descriptors), each followed by its ProtocolReserved area, its
// NDIS_PACKET_OOB_DATA and its NDIS_PACKET_EXTENSION at Private.NdisPacketOobOffset, as the
// NDIS_OOB_DATA_FROM_PACKET and NDIS_PACKET_EXTENSION_FROM_PACKET macros find them. Buffer
// descriptors are MDLs (net-objects.ts writes them).
//
// As for NET_BUFFER_LISTs (net-objects.ts; docs/DESIGN-c-drivers.md section 4), NDIS keeps its
// objects and the two meet where NDIS's rules hand a packet over ("NDIS_PACKET structure":
// Private is NDIS's, changed only through NdisXxx routines; MiniportReserved[Ex] is the
// miniport's while it owns the packet):
//  - NDIS gives the driver a packet (MiniportSendPackets, MiniportSend, MiniportReturnPacket,
//    MiniportTransferData, NdisAllocatePacket) or changes one in a routine the driver calls
//    (NdisChainBufferAtFront, NdisMIndicateReceivePacket's status): Private, the OOB block, the
//    extension and the buffer chain are written (toC, writePrivate, writeStatus);
//  - the driver hands one to NDIS (any routine taking a PNDIS_PACKET): what the documented
//    macros let it set, the OOB Status and HeaderSize, is read back first (packet).
import { CHAIN_LIMIT, type MDL } from '../../kernel/mdl.js'
import type { Packets } from '../../ndis/v5/packets.js'
import type { NDIS_PACKET } from '../../ndis/v5/types.js'
import { NDIS_PER_PACKET_INFO } from '../../ndis/v5/constants.js'
import type { SCATTER_GATHER_LIST } from '../../ndis/types.js'
import type { CDriverInstance } from './instance.js'
import type { CNetObjects } from './net-objects.js'
import { MAX_PER_PACKET_INFO, NDIS_PACKET_EXTENSION, NDIS_PACKET_OOB_DATA as OOB, NDIS_PACKET_PRIVATE as PRIVATE, PROTOCOL_RESERVED_OFFSET } from './structs-ndis5.js'

const o = (field: string): number => PRIVATE.offset[field]!
const PHYSICAL_COUNT = o('PhysicalCount')
const TOTAL_LENGTH = o('TotalLength')
const HEAD = o('Head')
const TAIL = o('Tail')
const POOL = o('Pool')
const COUNT = o('Count')
const FLAGS = o('Flags')
const VALID_COUNTS = o('ValidCounts')
const PACKET_FLAGS = o('NdisPacketFlags')
const OOB_OFFSET = o('NdisPacketOobOffset')
const OOB_HEADER_SIZE = OOB.offset.HeaderSize!
const OOB_STATUS = OOB.offset.Status!
const OOB_TIME_RECEIVED = OOB.offset.TimeReceived!

/** Where the OOB block starts: after ProtocolReserved, 8-aligned (it holds ULONGLONGs). */
function oobOffset(protocolReserved: number): number {
  return Math.ceil((PROTOCOL_RESERVED_OFFSET + protocolReserved) / 8) * 8
}

export class CPackets {
  private readonly c: CDriverInstance
  private readonly objects: CNetObjects
  private readonly packets: Packets
  /** The packet each descriptor address last held. */
  private readonly at = new Map<number, NDIS_PACKET>()

  constructor(c: CDriverInstance, objects: CNetObjects, packets: Packets) {
    this.c = c
    this.objects = objects
    this.packets = packets
  }

  /** The descriptor's address (0 for NULL or a packet with no descriptor memory). */
  address(packet: NDIS_PACKET | null | undefined): number {
    if (packet === null || packet === undefined) return 0
    const d = this.packets.descriptorOf(packet)
    if (d === undefined) return 0
    if (this.at.get(d.va) !== packet) {
      // First sight of this packet in this slot: NDIS hands out a clean descriptor.
      const oob = oobOffset(d.protocolReserved)
      this.c.kernel.memory.fill(d.va, oob + OOB.size + NDIS_PACKET_EXTENSION.size, 0)
      this.c.kernel.memory.write16(d.va + OOB_OFFSET, oob)
      this.c.kernel.memory.write32(d.va + POOL, this.c.handle(d.pool))
      this.at.set(d.va, packet)
    }
    return d.va
  }

  /** Writes everything NDIS owns in a packet it hands the driver; the descriptor's address. */
  toC(packet: NDIS_PACKET | null | undefined): number {
    const va = this.address(packet)
    if (va === 0) return 0
    const p = packet!
    this.writePrivate(p)
    const m = this.c.kernel.memory
    const oob = va + m.read16(va + OOB_OFFSET)
    m.write32(oob + OOB_HEADER_SIZE, p.OobData.HeaderSize >>> 0)
    m.write32(oob + OOB_STATUS, p.OobData.Status >>> 0)
    m.write32(oob + OOB_TIME_RECEIVED, p.OobData.TimeReceived >>> 0)
    const info = p.Extension.NdisPacketInfo
    const ext = oob + OOB.size
    for (let i = 0; i < MAX_PER_PACKET_INFO; i++) m.write32(ext + 4 * i, this.infoValue(info[i], i))
    return va
  }

  /** A per-packet info value as the pointer-sized value the driver reads. */
  private infoValue(value: unknown, index: number): number {
    if (value === null || value === undefined) return 0
    if (typeof value === 'number') return value >>> 0
    if (index === NDIS_PER_PACKET_INFO.ScatterGatherListPacketInfo) return this.objects.sglToC(value as SCATTER_GATHER_LIST)
    return typeof value === 'object' ? this.c.handle(value) : 0
  }

  /** NDIS_PACKET_PRIVATE and the buffer chain, after NDIS changed them. */
  writePrivate(p: NDIS_PACKET): void {
    const va = this.address(p)
    if (va === 0) return
    const m = this.c.kernel.memory
    const q = p.Private
    m.write32(va + PHYSICAL_COUNT, q.PhysicalCount >>> 0)
    m.write32(va + TOTAL_LENGTH, q.TotalLength >>> 0)
    m.write32(va + HEAD, this.objects.mdlAddress(q.Head))
    m.write32(va + TAIL, this.objects.mdlAddress(q.Tail))
    m.write32(va + COUNT, q.Count >>> 0)
    m.write32(va + FLAGS, q.Flags >>> 0)
    m.write8(va + VALID_COUNTS, q.ValidCounts ? 1 : 0)
    m.write8(va + PACKET_FLAGS, q.NdisPacketFlags & 0xff)
    let links = 0
    for (let b: MDL | null = q.Head; b !== null && b !== undefined && links < CHAIN_LIMIT; b = b.Next, links++) this.objects.writeMdl(b)
  }

  /** The OOB Status NDIS set on a packet the driver indicated (PENDING: the protocol kept it). */
  writeStatus(p: NDIS_PACKET): void {
    const va = this.address(p)
    if (va === 0) return
    const m = this.c.kernel.memory
    m.write32(va + m.read16(va + OOB_OFFSET) + OOB_STATUS, p.OobData.Status >>> 0)
  }

  /**
   * The packet at a driver's pointer, with what the driver set through the documented macros
   * (NDIS_SET_PACKET_STATUS, NDIS_SET_PACKET_HEADER_SIZE) read back. NULL is null; a pointer that
   * is no live packet's descriptor is passed to NDIS as the number, which NDIS refuses.
   */
  packet(va: number): NDIS_PACKET | number | null {
    const a = va >>> 0
    if (a === 0) return null
    const p = this.at.get(a)
    if (p === undefined || this.packets.descriptorOf(p)?.va !== a) return a
    this.readBack(p, a)
    return p
  }

  private readBack(p: NDIS_PACKET, va: number): void {
    const m = this.c.kernel.memory
    const oob = va + m.read16(va + OOB_OFFSET)
    p.OobData.Status = m.read32(oob + OOB_STATUS)
    p.OobData.HeaderSize = m.read32(oob + OOB_HEADER_SIZE)
  }

  /** After a handler returned: the statuses it set on packets it was handed (a serialized MiniportSendPackets). */
  afterHandler(p: NDIS_PACKET): void {
    const va = this.address(p)
    if (va !== 0) this.readBack(p, va)
  }
}
