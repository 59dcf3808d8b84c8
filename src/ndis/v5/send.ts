// The NDIS side of NDIS 5 sends: what NDIS does between a protocol's NdisSendPackets and the
// miniport's MiniportSendPackets / MiniportSend, and back through NdisMSendComplete.
//
// NDIS 5.1 reference, "Packet Ownership" and "Multipacket Sends from Deserialized Miniport
// Drivers": a serialized miniport relinquishes every packet whose status it sets to anything
// but NDIS_STATUS_PENDING; NDIS_STATUS_RESOURCES on one packet means the rest of the array too,
// and NDIS resubmits them after NdisMSendComplete or NdisMSendResourcesAvailable. NDIS ignores
// the status a deserialized miniport sets: it owns every packet until NdisMSendComplete, and
// queues what it cannot send itself. Sends run at DISPATCH_LEVEL.
//
// With NdisMInitializeScatterGatherDma, NDIS maps each packet before the miniport sees it and
// puts the list in the packet's ScatterGatherListPacketInfo; it frees the list when the send
// completes.
import { DRIVER_FAILED } from '../../kernel/driver-call.js'
import { DISPATCH_LEVEL } from '../../kernel/irql.js'
import type { Timer } from '../../hw/clock.js'
import { buildScatterGather, putScatterGather } from '../../dma/scatter-gather.js'
import { NDIS_STATUS } from '../constants.js'
import { NDIS5_STATUS, NDIS_PER_PACKET_INFO } from './constants.js'
import type { Dma5 } from './dma.js'
import { bufferVa, type Packets } from './packets.js'
import type { Ndis5State } from './state.js'
import type { NDIS_PACKET, SCATTER_GATHER_LIST } from './types.js'

/**
 * Where a packet the protocol sent is now: NDIS, or the miniport (a number: the wake-up tick that
 * first saw it there, 0 until one has; a serialized miniport's send still there a tick later has
 * timed out).
 */
type Owner = 'ndis' | number
const HANDED = 0

/** Who hears of a completed send: the protocol. */
export type SendCompleteSink = (packet: NDIS_PACKET, status: number) => void

const SG_INFO = NDIS_PER_PACKET_INFO.ScatterGatherListPacketInfo
const CANCEL_INFO = NDIS_PER_PACKET_INFO.PacketCancelId
const noCallback = (): void => {}

export class SendPath {
  private readonly s: Ndis5State
  private readonly packets: Packets
  private readonly dma: Dma5
  /** Packets NDIS holds, in order, not yet handed to the miniport. */
  private readonly queue: NDIS_PACKET[] = []
  private readonly owner = new Map<NDIS_PACKET, Owner>()
  /** A serialized miniport said NDIS_STATUS_RESOURCES: hold the queue until it has resources. */
  private blocked = false
  /** NDIS is resetting the adapter: no sends reach the miniport. */
  hold = false
  /** Packets NDIS completed itself at a reset of a serialized miniport: the miniport gave them up. */
  private relinquished = new WeakSet<NDIS_PACKET>()
  private readonly drainer: Timer
  /** OID_GEN_MAXIMUM_SEND_PACKETS, as the miniport answered it (NDIS queries it at initialization). */
  maxSendPackets = 1
  onComplete: SendCompleteSink = () => {}
  /** Sends completed by the miniport, and resubmissions after NDIS_STATUS_RESOURCES. */
  completed = 0
  resubmitted = 0
  /** Calls of MiniportCancelSendPackets. */
  cancelCalls = 0

  constructor(state: Ndis5State, packets: Packets, dma: Dma5) {
    this.s = state
    this.packets = packets
    this.dma = dma
    this.drainer = state.ctx.kernel.clock.timer('NDIS send queue', () => this.drain(), { needsCpu: true })
  }

  /** Packets the protocol handed down that have not come back. */
  get outstanding(): number {
    return this.owner.size
  }

  /** The protocol's NdisSendPackets: NDIS queues them and sends as the miniport takes them. */
  submit(packets: readonly NDIS_PACKET[]): void {
    for (const p of packets) {
      this.owner.set(p, 'ndis')
      this.queue.push(p)
    }
    this.drain()
  }

  /** Hands queued packets to the miniport, at DISPATCH_LEVEL, until it pushes back. */
  drain(): void {
    const s = this.s
    const chars = s.characteristics
    const k = s.ctx.kernel
    if (chars === null || k.log.stopped) return
    let rounds = 0
    while (this.queue.length > 0 && !this.blocked && !this.hold && rounds++ < 1024) {
      const batch = this.nextBatch()
      if (batch.length === 0) return
      if (typeof chars.SendPacketsHandler === 'function') {
        const r = s.ctx.caller.call4('MiniportSendPackets', DISPATCH_LEVEL, chars.SendPacketsHandler, s.adapterContext, batch, batch.length, undefined)
        if (r === DRIVER_FAILED) return
        this.afterSendPackets(batch)
      } else {
        const packet = batch[0]!
        const status = s.ctx.caller.call4('MiniportSend', DISPATCH_LEVEL, chars.SendHandler!, s.adapterContext, packet, 0, undefined)
        if (status === DRIVER_FAILED) return
        this.afterSend(packet, status)
      }
    }
  }

  /** The next packets for the miniport, each mapped first when NDIS does the S/G mapping. */
  private nextBatch(): NDIS_PACKET[] {
    const limit = typeof this.s.characteristics?.SendPacketsHandler === 'function' ? Math.max(1, this.maxSendPackets) : 1
    const batch: NDIS_PACKET[] = []
    while (batch.length < limit && this.queue.length > 0) {
      const p = this.queue[0]!
      if (this.dma.sgDma !== null && p.Extension.NdisPacketInfo[SG_INFO] === null) {
        const mapped = this.mapPacket(p)
        if (mapped === 'wait') break
        if (mapped === 'failed') {
          this.queue.shift()
          this.finish(p, NDIS_STATUS.NDIS_STATUS_RESOURCES)
          continue
        }
      }
      this.queue.shift()
      this.owner.set(p, HANDED)
      batch.push(p)
    }
    return batch
  }

  private mapPacket(packet: NDIS_PACKET): 'ok' | 'wait' | 'failed' {
    const adapter = this.dma.sgDma!.adapter
    this.packets.recount(packet)
    const head = packet.Private.Head
    if (head === null) return 'failed'
    const out = buildScatterGather(adapter, {
      mdl: head,
      currentVa: bufferVa(head),
      length: packet.Private.TotalLength,
      writeToDevice: true,
      routine: 'NDIS (ScatterGatherListPacketInfo)',
      site: undefined,
      callback: noCallback,
      callbackName: 'MiniportSendPackets',
      deviceObject: this.s.ctx.pdo,
      context: null,
    }, adapter.waiting.length > 0)
    if (out === 'wait') {
      // Map registers are busy: NDIS holds the packet until a completed send frees some.
      adapter.waiting.push(() => {
        if (!this.drainer.armed) this.s.ctx.kernel.clock.armAfter(this.drainer, 0)
        return true
      })
      return 'wait'
    }
    if ('fail' in out) return 'failed'
    packet.Extension.NdisPacketInfo[SG_INFO] = out.sgl
    return 'ok'
  }

  private afterSendPackets(batch: NDIS_PACKET[]): void {
    if (this.s.deserialized) return // NDIS ignores the status; every packet comes back through NdisMSendComplete.
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!
      if (!this.held(p)) continue // completed from inside MiniportSendPackets
      const status = p.OobData.Status
      if (status === NDIS_STATUS.NDIS_STATUS_PENDING) continue
      if (status === NDIS_STATUS.NDIS_STATUS_RESOURCES) {
        // This packet and every later one in the array go back to NDIS's queue, in order.
        const back = batch.slice(i).filter((q) => this.held(q))
        for (const q of back) this.owner.set(q, 'ndis')
        this.queue.unshift(...back)
        this.resubmitted += back.length
        this.blocked = true
        return
      }
      this.finish(p, this.validStatus('MiniportSendPackets (packet status)', status))
    }
  }

  private afterSend(packet: NDIS_PACKET, status: unknown): void {
    if (!this.held(packet)) return
    if (status === NDIS_STATUS.NDIS_STATUS_PENDING) return
    if (status === NDIS_STATUS.NDIS_STATUS_RESOURCES) {
      if (this.s.deserialized) {
        this.s.ctx.kernel.log.report({ kind: 'bad-return-value', message: 'MiniportSend of a deserialized miniport returned NDIS_STATUS_RESOURCES: a deserialized miniport queues what it cannot send and completes it later; NDIS does not resubmit' })
        this.finish(packet, NDIS_STATUS.NDIS_STATUS_FAILURE)
        return
      }
      this.owner.set(packet, 'ndis')
      this.queue.unshift(packet)
      this.resubmitted++
      this.blocked = true
      return
    }
    this.finish(packet, this.validStatus('MiniportSend', status))
  }

  /** NdisMSendComplete(MiniportAdapterHandle, Packet, Status). */
  NdisMSendComplete(MiniportAdapterHandle: unknown, Packet: NDIS_PACKET, Status: number): void {
    const s = this.s
    if (!s.enterAdapter('NdisMSendComplete', MiniportAdapterHandle)) return
    s.dispatchOrBelow('NdisMSendComplete')
    if (!this.held(Packet)) {
      const why = this.owner.has(Packet)
        ? 'NDIS still holds it (it was never sent, or the miniport gave it back with a status)'
        : this.relinquished.has(Packet)
          ? 'NDIS completed it to the protocol itself when it reset the adapter (a serialized miniport gives up every pended send at a reset)'
          : 'it is not a packet NDIS sent, or it was completed already'
      s.ctx.violation('packet-misuse', `NdisMSendComplete of a packet the miniport does not own: ${why}`)
      return
    }
    this.finish(Packet, this.validStatus('NdisMSendComplete', Status))
    this.completed++
    this.wake()
  }

  /** NdisMSendResourcesAvailable(MiniportAdapterHandle): a serialized miniport can take sends again. */
  NdisMSendResourcesAvailable(MiniportAdapterHandle: unknown): void {
    const s = this.s
    if (!s.enterAdapter('NdisMSendResourcesAvailable', MiniportAdapterHandle)) return
    s.dispatchOrBelow('NdisMSendResourcesAvailable')
    this.wake()
  }

  /** True while the miniport holds the packet. */
  private held(packet: NDIS_PACKET): boolean {
    return typeof this.owner.get(packet) === 'number'
  }

  /**
   * The wake-up timer's look at the sends a serialized miniport pended: marks the ones it sees
   * for the first time, and counts those it saw at an earlier tick (timed out).
   */
  timedOut(tick: number): number {
    let late = 0
    for (const [p, o] of this.owner) {
      if (o === 'ndis') continue
      if (o === HANDED) this.owner.set(p, tick)
      else if (tick > o) late++
    }
    return late
  }

  /** At a reset of a serialized miniport NDIS completes every send it holds, as aborted. */
  abortOwned(): void {
    const held = [...this.owner].filter(([, o]) => o !== 'ndis').map(([p]) => p)
    for (const p of held) {
      this.relinquished.add(p)
      this.finish(p, NDIS5_STATUS.NDIS_STATUS_REQUEST_ABORTED)
    }
  }

  wake(): void {
    this.blocked = false
    if (this.queue.length > 0 && !this.drainer.armed) this.s.ctx.kernel.clock.armAfter(this.drainer, 0)
  }

  /** The send is over: NDIS frees its S/G list and gives the packet back to the protocol. */
  private finish(packet: NDIS_PACKET, status: number): void {
    this.owner.delete(packet)
    const info = packet.Extension.NdisPacketInfo
    const sgl = info[SG_INFO] as SCATTER_GATHER_LIST | null
    if (sgl !== null && this.dma.sgDma !== null) putScatterGather(this.dma.sgDma.adapter, sgl, true, 'NDIS (send complete)')
    info[SG_INFO] = null
    this.onComplete(packet, status)
  }

  /**
   * NdisCancelSendPackets(NdisBindingHandle, CancelId): NDIS completes the packets with that ID it
   * still queues itself, as aborted, then asks the miniport to cancel those it holds
   * (MiniportCancelSendPackets, at DISPATCH_LEVEL, if it has one): the miniport completes them
   * with NDIS_STATUS_REQUEST_ABORTED through NdisMSendComplete.
   */
  cancel(cancelId: unknown): void {
    const s = this.s
    const k = s.ctx.kernel
    if (k.log.stopped) return
    const keep: NDIS_PACKET[] = []
    const aborted: NDIS_PACKET[] = []
    for (const p of this.queue) (p.Extension.NdisPacketInfo[CANCEL_INFO] === cancelId ? aborted : keep).push(p)
    this.queue.length = 0
    this.queue.push(...keep)
    for (const p of aborted) this.finish(p, NDIS5_STATUS.NDIS_STATUS_REQUEST_ABORTED)
    const handler = s.characteristics?.CancelSendPacketsHandler
    if (typeof handler !== 'function') return
    this.cancelCalls++
    s.ctx.caller.call4('MiniportCancelSendPackets', DISPATCH_LEVEL, handler, s.adapterContext, cancelId, undefined, undefined)
  }

  /** Packets NDIS still queues when the protocol unbinds: completed back to it as aborted. */
  abortQueued(status: number): void {
    while (this.queue.length > 0) this.finish(this.queue.shift()!, status)
  }

  private validStatus(where: string, status: unknown): number {
    if (typeof status === 'number' && Number.isInteger(status)) return status >>> 0
    this.s.ctx.kernel.log.report({ kind: 'bad-return-value', message: `${where} gave ${String(status)}, which is not an NDIS_STATUS: NDIS takes it as NDIS_STATUS_FAILURE` })
    return NDIS_STATUS.NDIS_STATUS_FAILURE
  }
}
