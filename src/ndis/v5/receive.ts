// The NDIS side of NDIS 5 receives, both ways an Ethernet miniport indicates:
//  - NdisMEthIndicateReceive(+Complete): header and lookahead from the miniport's own buffer;
//    a protocol that wants more calls NdisTransferData, which calls MiniportTransferData (which
//    may pend and finish with NdisMTransferDataComplete). The data is the miniport's until the
//    indication returns.
//  - NdisMIndicateReceivePacket: packet descriptors; a packet indicated with status
//    NDIS_STATUS_SUCCESS may be kept by the protocol (NDIS then sets it to NDIS_STATUS_PENDING
//    and returns it later through MiniportReturnPacket); with NDIS_STATUS_RESOURCES the
//    protocol copies it and it is the miniport's again when the call returns.
// NDIS 5.1 reference: NdisMEthIndicateReceive, MiniportTransferData, NdisMTransferDataComplete,
// NdisMIndicateReceivePacket, MiniportReturnPacket, NDIS_GET_PACKET_STATUS.
//
// NDIS checks what it can: a packet indicated while the protocol still holds it is
// BUGCODE_NDIS_DRIVER 0x7C/0x06; frames indicated before the protocol set its packet filter
// are what the NDIS Verifier warns about (reported as packet-filter-ignored).
import type { Timer } from '../../hw/clock.js'
import { BUGCHECK } from '../../kernel/bugcheck.js'
import { DRIVER_FAILED } from '../../kernel/driver-call.js'
import { DISPATCH_LEVEL } from '../../kernel/irql.js'
import { NDIS_STATUS } from '../constants.js'
import type { Packets } from './packets.js'
import { NDIS5_BUGCHECK, type Ndis5State } from './state.js'
import type { NDIS_PACKET } from './types.js'

/** What the protocol does with indications (protocol.ts implements it). */
export interface ReceiveSink {
  /** ProtocolReceive: header and lookahead (driver VAs); may call `transfer` for the rest. */
  receive(receiveContext: unknown, headerVa: number, headerSize: number, lookaheadVa: number, lookaheadSize: number, packetSize: number): void
  receiveComplete(): void
  /** ProtocolReceivePacket: returns true when it keeps the packet (to be returned later). */
  receivePacket(packet: NDIS_PACKET, mayKeep: boolean): boolean
  /** NdisMTransferDataComplete for a transfer that pended. */
  transferComplete(packet: NDIS_PACKET, status: number, bytesTransferred: number): void
  /** The packet filter the protocol set (0 until it binds, and again after it unbinds). */
  readonly packetFilter: number
}

export const ETHERNET_HEADER_BYTES = 14

export class ReceivePath {
  private readonly s: Ndis5State
  private readonly packets: Packets
  sink: ReceiveSink | null = null
  /** Packets the protocol keeps, to return through MiniportReturnPacket. */
  private readonly held = new Set<NDIS_PACKET>()
  private readonly toReturn: NDIS_PACKET[] = []
  private readonly returner: Timer
  /** Transfers that pended: the protocol's packet → waiting. */
  private readonly pendingTransfers = new Set<NDIS_PACKET>()
  private filterWarned = false
  indications = 0
  filteredOut = 0

  constructor(state: Ndis5State, packets: Packets) {
    this.s = state
    this.packets = packets
    this.returner = state.ctx.kernel.clock.timer('MiniportReturnPacket', () => this.returnHeld(), { needsCpu: true })
  }

  /** Packets the protocol still holds. */
  get outstanding(): number {
    return this.held.size + this.toReturn.length
  }

  /** NdisMEthIndicateReceive(MiniportAdapterHandle, MiniportReceiveContext, HeaderBuffer, HeaderBufferSize, LookaheadBuffer, LookaheadBufferSize, PacketSize). */
  NdisMEthIndicateReceive(MiniportAdapterHandle: unknown, MiniportReceiveContext: unknown, HeaderBuffer: number, HeaderBufferSize: number, LookaheadBuffer: number, LookaheadBufferSize: number, PacketSize: number): void {
    const s = this.s
    if (!s.enterAdapter('NdisMEthIndicateReceive', MiniportAdapterHandle)) return
    s.dispatchOrBelow('NdisMEthIndicateReceive')
    if (HeaderBufferSize !== ETHERNET_HEADER_BYTES || !isCount(LookaheadBufferSize) || !isCount(PacketSize) || LookaheadBufferSize > PacketSize) {
      s.ctx.violation('ndis-bad-argument', `NdisMEthIndicateReceive: HeaderBufferSize ${String(HeaderBufferSize)} must be the 14-byte Ethernet header, and LookaheadBufferSize ${String(LookaheadBufferSize)} at most PacketSize ${String(PacketSize)} (the bytes after the header)`)
      return
    }
    if (!this.passesFilter('NdisMEthIndicateReceive')) return
    this.indications++
    this.sink?.receive(MiniportReceiveContext, HeaderBuffer, HeaderBufferSize, LookaheadBuffer, LookaheadBufferSize, PacketSize)
  }

  NdisMEthIndicateReceiveComplete(MiniportAdapterHandle: unknown): void {
    const s = this.s
    if (!s.enterAdapter('NdisMEthIndicateReceiveComplete', MiniportAdapterHandle)) return
    s.dispatchOrBelow('NdisMEthIndicateReceiveComplete')
    this.sink?.receiveComplete()
  }

  /** NdisTransferData on the protocol's behalf: MiniportTransferData at DISPATCH_LEVEL. */
  transfer(packet: NDIS_PACKET, receiveContext: unknown, byteOffset: number, bytesToTransfer: number): { status: number; bytesTransferred: number } {
    const s = this.s
    const handler = s.characteristics?.TransferDataHandler
    if (typeof handler !== 'function') {
      s.callOrder('NdisMEthIndicateReceive with less lookahead than the frame, but the miniport registered no TransferDataHandler: the protocol cannot get the rest')
      return { status: NDIS_STATUS.NDIS_STATUS_NOT_SUPPORTED, bytesTransferred: 0 }
    }
    const r = s.ctx.caller.call('MiniportTransferData', DISPATCH_LEVEL, () => handler(packet, s.adapterContext, receiveContext, byteOffset, bytesToTransfer))
    if (r === DRIVER_FAILED) return { status: NDIS_STATUS.NDIS_STATUS_FAILURE, bytesTransferred: 0 }
    if (typeof r !== 'object' || r === null || typeof r.status !== 'number') {
      s.ctx.kernel.log.report({ kind: 'bad-return-value', message: 'MiniportTransferData returned something other than { status, bytesTransferred }: NDIS takes it as NDIS_STATUS_FAILURE' })
      return { status: NDIS_STATUS.NDIS_STATUS_FAILURE, bytesTransferred: 0 }
    }
    if (r.status === NDIS_STATUS.NDIS_STATUS_PENDING) this.pendingTransfers.add(packet)
    return { status: r.status >>> 0, bytesTransferred: Number.isSafeInteger(r.bytesTransferred) ? r.bytesTransferred : 0 }
  }

  /** NdisMTransferDataComplete(MiniportAdapterHandle, Packet, Status, BytesTransferred). */
  NdisMTransferDataComplete(MiniportAdapterHandle: unknown, Packet: NDIS_PACKET, Status: number, BytesTransferred: number): void {
    const s = this.s
    if (!s.enterAdapter('NdisMTransferDataComplete', MiniportAdapterHandle)) return
    s.dispatchOrBelow('NdisMTransferDataComplete')
    if (!this.pendingTransfers.delete(Packet)) {
      s.callOrder('NdisMTransferDataComplete for a packet whose MiniportTransferData did not return NDIS_STATUS_PENDING (or completed twice)')
      return
    }
    this.sink?.transferComplete(Packet, Status >>> 0, BytesTransferred)
  }

  /** NdisMIndicateReceivePacket(MiniportAdapterHandle, ReceivePackets, NumberOfPackets). */
  NdisMIndicateReceivePacket(MiniportAdapterHandle: unknown, ReceivePackets: NDIS_PACKET[], NumberOfPackets: number): void {
    const s = this.s
    if (!s.enterAdapter('NdisMIndicateReceivePacket', MiniportAdapterHandle)) return
    s.dispatchOrBelow('NdisMIndicateReceivePacket')
    if (!Array.isArray(ReceivePackets) || !Number.isSafeInteger(NumberOfPackets) || NumberOfPackets < 0 || NumberOfPackets > ReceivePackets.length) {
      s.ctx.violation('ndis-bad-argument', `NdisMIndicateReceivePacket: ReceivePackets must be an array holding NumberOfPackets (${String(NumberOfPackets)}) packet descriptors`)
      return
    }
    const returns = typeof s.characteristics?.ReturnPacketHandler === 'function'
    for (let i = 0; i < NumberOfPackets; i++) {
      const p = ReceivePackets[i]!
      if (!this.packets.isPacket(p)) {
        s.ctx.violation('ndis-bad-argument', `NdisMIndicateReceivePacket: ReceivePackets[${i}] is not a packet descriptor from NdisAllocatePacket`)
        continue
      }
      if (this.held.has(p) || this.toReturn.includes(p)) {
        s.ctx.violation('packet-misuse', `NdisMIndicateReceivePacket: ReceivePackets[${i}] is still held by the protocol (not yet returned through MiniportReturnPacket): NDIS bug checks (0x7C/0x06)`, BUGCHECK.BUGCODE_NDIS_DRIVER, [NDIS5_BUGCHECK.receivedPacketInUse, 0, 0, 0])
        continue
      }
      if (p.OobData.HeaderSize !== ETHERNET_HEADER_BYTES) {
        s.ctx.violation('ndis-bad-argument', `NdisMIndicateReceivePacket: ReceivePackets[${i}] has HeaderSize ${p.OobData.HeaderSize}; set it with NDIS_SET_PACKET_HEADER_SIZE (14 for Ethernet) before indicating`)
      }
      const status = p.OobData.Status
      if (status !== NDIS_STATUS.NDIS_STATUS_SUCCESS && status !== NDIS_STATUS.NDIS_STATUS_RESOURCES) {
        s.ctx.violation('ndis-bad-argument', `NdisMIndicateReceivePacket: ReceivePackets[${i}] has status ${status >>> 0}; a miniport indicates with NDIS_STATUS_SUCCESS, or NDIS_STATUS_RESOURCES when it needs the packet back at once`)
      }
      if (!this.passesFilter('NdisMIndicateReceivePacket')) continue
      this.indications++
      const mayKeep = status === NDIS_STATUS.NDIS_STATUS_SUCCESS && returns
      const kept = this.sink?.receivePacket(p, mayKeep) === true && mayKeep
      if (kept) {
        p.OobData.Status = NDIS_STATUS.NDIS_STATUS_PENDING
        this.held.add(p)
      } else if (status === NDIS_STATUS.NDIS_STATUS_SUCCESS) {
        p.OobData.Status = NDIS_STATUS.NDIS_STATUS_SUCCESS
      }
    }
    if (this.held.size > 0 && !this.returner.armed) s.ctx.kernel.clock.armAfter(this.returner, 0)
  }

  /** The protocol is done with the packets it kept: MiniportReturnPacket for each, at DISPATCH_LEVEL. */
  private returnHeld(): void {
    const s = this.s
    const handler = s.characteristics?.ReturnPacketHandler
    for (const p of this.held) this.toReturn.push(p)
    this.held.clear()
    while (this.toReturn.length > 0) {
      const p = this.toReturn.shift()!
      if (typeof handler !== 'function' || s.ctx.kernel.log.stopped) continue
      const r = s.ctx.caller.call4('MiniportReturnPacket', DISPATCH_LEVEL, handler, s.adapterContext, p, undefined, undefined)
      if (r === DRIVER_FAILED) return
    }
  }

  /**
   * Indications before the protocol set its packet filter (or after it cleared it on unbind)
   * reach nobody: the NDIS Verifier warns about a miniport that indicates before the filter is
   * set. Reported once per run, counted every time.
   */
  private passesFilter(routine: string): boolean {
    if (this.sink === null || this.sink.packetFilter !== 0) return true
    this.filteredOut++
    if (!this.filterWarned) {
      this.filterWarned = true
      this.s.ctx.kernel.log.report({
        kind: 'packet-filter-ignored',
        message: `${routine} while the packet filter is 0 (the protocol has not set OID_GEN_CURRENT_PACKET_FILTER, or cleared it): no binding receives these frames; a miniport indicates nothing until the filter is set (the NDIS Verifier warns about it)`,
      })
    }
    return false
  }

  /** Before halt, NDIS makes sure the protocol has returned every packet it kept. */
  returnAll(): void {
    if (this.held.size > 0 || this.toReturn.length > 0) this.returnHeld()
  }
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0
}
