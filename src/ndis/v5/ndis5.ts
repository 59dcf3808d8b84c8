// NDIS 5.1 on one machine: the parts of the NDIS 5 driver model, wired together, and the
// routines they give the driver's `ndis` object. The host (../host.ts) hands DriverEntry one
// `ndis` object with both driver models' routines; when the driver registers with
// NdisMRegisterMiniport (or initializes an NDIS 5 wrapper), this model runs it.
import type { NdisContext } from '../context.js'
import type { CM_PARTIAL_RESOURCE_LIST, DRIVER_OBJECT } from '../types.js'
import type { Ndis5Routines } from './api.js'
import { Configuration } from './config.js'
import { Dma5 } from './dma.js'
import { Interrupts5 } from './interrupt.js'
import { Miniport5 } from './lifecycle.js'
import { Packets } from './packets.js'
import { Protocol5 } from './protocol.js'
import { ReceivePath } from './receive.js'
import { Requests5 } from './requests.js'
import { SendPath } from './send.js'
import { Ndis5State } from './state.js'
import { Timers5 } from './timers.js'
import { UserRequests5 } from './user-requests.js'
import { Wrapper } from './wrapper.js'

export class Ndis5 {
  readonly state: Ndis5State
  readonly wrapper: Wrapper
  readonly config: Configuration
  readonly packets: Packets
  readonly dma: Dma5
  readonly interrupts: Interrupts5
  readonly timers: Timers5
  readonly requests: Requests5
  readonly send: SendPath
  readonly receive: ReceivePath
  readonly protocol: Protocol5
  readonly miniport: Miniport5
  /** The user's requests (`m.oid`, `--oid`), through MiniportQueryInformation / MiniportSetInformation. */
  readonly userRequests: UserRequests5
  /** True once DriverEntry returned into this model (the driver is an NDIS 5 miniport). */
  active = false

  constructor(ctx: NdisContext, driverObject: DRIVER_OBJECT, resources: () => CM_PARTIAL_RESOURCE_LIST, seed: number) {
    const state = new Ndis5State(ctx)
    this.state = state
    this.wrapper = new Wrapper(state, driverObject)
    this.config = new Configuration(state, resources)
    this.packets = new Packets(state)
    this.dma = new Dma5(state)
    this.interrupts = new Interrupts5(state)
    this.timers = new Timers5(state)
    this.requests = new Requests5(state)
    this.send = new SendPath(state, this.packets, this.dma)
    this.receive = new ReceivePath(state, this.packets)
    this.protocol = new Protocol5(state, this.packets, this.send, this.receive, seed)
    this.protocol.mac = ctx.nic.mac.slice()
    this.requests.statusSink = this.protocol
    this.miniport = new Miniport5({
      state, config: this.config, packets: this.packets, dma: this.dma, interrupts: this.interrupts, timers: this.timers,
      requests: this.requests, send: this.send, receive: this.receive, protocol: this.protocol, driverObject,
    })
    this.userRequests = new UserRequests5(state, this.requests, this.protocol, () => this.miniport.state)
  }

  /** Whether DriverEntry set up an NDIS 5 driver (registered, or at least initialized the wrapper). */
  get claimed(): boolean {
    return this.state.ctx.model === 'ndis5' || this.state.wrapper !== null
  }

  /** DriverEntry returned: this model takes the driver from here. */
  takeOver(entry: unknown): void {
    this.active = true
    this.miniport.afterDriverEntry(entry)
  }

  routines(): Ndis5Routines {
    const w = this.wrapper
    const c = this.config
    const p = this.packets
    const d = this.dma
    const i = this.interrupts
    const t = this.timers
    const r = this.requests
    const s = this.send
    const v = this.receive
    return {
      NdisMInitializeWrapper: (a, b, x) => w.NdisMInitializeWrapper(a, b, x),
      NdisMRegisterMiniport: (h, chars, len) => w.NdisMRegisterMiniport(h, chars, len),
      NdisTerminateWrapper: (h, x) => w.NdisTerminateWrapper(h, x),
      NdisMRegisterUnloadHandler: (h, f) => w.NdisMRegisterUnloadHandler(h, f),
      NdisMRegisterAdapterShutdownHandler: (h, ctx, f) => w.NdisMRegisterAdapterShutdownHandler(h, ctx, f),
      NdisMDeregisterAdapterShutdownHandler: (h) => w.NdisMDeregisterAdapterShutdownHandler(h),
      NdisMSetAttributes: (h, ctx, bm, type) => w.NdisMSetAttributes(h, ctx, bm, type),
      NdisMSetAttributesEx: (h, ctx, secs, flags, type) => w.NdisMSetAttributesEx(h, ctx, secs, flags, type),
      NdisOpenConfiguration: (ctx) => c.NdisOpenConfiguration(ctx),
      NdisReadConfiguration: (h, k, type) => c.NdisReadConfiguration(h, k, type),
      NdisWriteConfiguration: (h, k, v) => c.NdisWriteConfiguration(h, k, v),
      NdisCloseConfiguration: (h) => c.NdisCloseConfiguration(h),
      NdisReadNetworkAddress: (h) => c.NdisReadNetworkAddress(h),
      NdisMQueryAdapterResources: (ctx, size) => c.NdisMQueryAdapterResources(ctx, size),
      NdisReadPciSlotInformation: (h, slot, off, len) => c.NdisReadPciSlotInformation(h, slot, off, len),
      NdisWritePciSlotInformation: (h, slot, off, buf, len) => c.NdisWritePciSlotInformation(h, slot, off, buf, len),

      NdisMAllocateMapRegisters: (h, ch, size, base, max) => d.NdisMAllocateMapRegisters(h, ch, size, base, max),
      NdisMStartBufferPhysicalMapping: (h, b, reg, dir, arr) => d.NdisMStartBufferPhysicalMapping(h, b, reg, dir, arr),
      NdisMCompleteBufferPhysicalMapping: (h, b, reg) => d.NdisMCompleteBufferPhysicalMapping(h, b, reg),
      NdisMFreeMapRegisters: (h) => d.NdisMFreeMapRegisters(h),
      NdisMInitializeScatterGatherDma: (h, wide, max) => d.NdisMInitializeScatterGatherDma(h, wide, max),
      NdisMAllocateSharedMemoryAsync: (h, len, cached, ctx) => d.NdisMAllocateSharedMemoryAsync(h, len, cached, ctx),

      NdisAllocatePacketPool: (n, res) => p.NdisAllocatePacketPool(n, res),
      NdisAllocatePacketPoolEx: (n, o, res) => p.NdisAllocatePacketPoolEx(n, o, res),
      NdisFreePacketPool: (h) => p.NdisFreePacketPool(h),
      NdisPacketPoolUsage: (h) => p.NdisPacketPoolUsage(h),
      NdisAllocatePacket: (h) => p.NdisAllocatePacket(h),
      NdisDprAllocatePacket: (h) => p.NdisDprAllocatePacket(h),
      NdisFreePacket: (pk) => p.NdisFreePacket(pk),
      NdisDprFreePacket: (pk) => p.NdisDprFreePacket(pk),
      NdisReinitializePacket: (pk) => p.NdisReinitializePacket(pk),
      NdisChainBufferAtFront: (pk, b) => p.NdisChainBufferAtFront(pk, b),
      NdisChainBufferAtBack: (pk, b) => p.NdisChainBufferAtBack(pk, b),
      NdisUnchainBufferAtFront: (pk) => p.NdisUnchainBufferAtFront(pk),
      NdisUnchainBufferAtBack: (pk) => p.NdisUnchainBufferAtBack(pk),
      NdisQueryPacket: (pk) => p.NdisQueryPacket(pk),
      NdisQueryPacketLength: (pk) => p.NdisQueryPacketLength(pk),
      NdisRecalculatePacketCounts: (pk) => p.NdisRecalculatePacketCounts(pk),
      NdisGetFirstBufferFromPacketSafe: (pk, prio) => p.NdisGetFirstBufferFromPacketSafe(pk, prio),
      NdisAllocateBufferPool: (n) => p.NdisAllocateBufferPool(n),
      NdisFreeBufferPool: (h) => p.NdisFreeBufferPool(h),
      NdisAllocateBuffer: (h, va, len) => p.NdisAllocateBuffer(h, va, len),
      NdisFreeBuffer: (b) => p.NdisFreeBuffer(b),
      NdisQueryBuffer: (b) => p.NdisQueryBuffer(b),
      NdisQueryBufferSafe: (b, prio) => p.NdisQueryBufferSafe(b, prio),
      NdisQueryBufferOffset: (b) => p.NdisQueryBufferOffset(b),
      NdisGetNextBuffer: (b) => p.NdisGetNextBuffer(b),
      NdisBufferLength: (b) => p.NdisBufferLength(b),
      NdisBufferVirtualAddressSafe: (b, prio) => p.NdisBufferVirtualAddressSafe(b, prio),
      NdisAdjustBufferLength: (b, len) => p.NdisAdjustBufferLength(b, len),
      NdisGetBufferPhysicalArraySize: (b) => p.NdisGetBufferPhysicalArraySize(b),
      NDIS_OOB_DATA_FROM_PACKET: (pk) => p.NDIS_OOB_DATA_FROM_PACKET(pk),
      NDIS_GET_PACKET_STATUS: (pk) => p.NDIS_GET_PACKET_STATUS(pk),
      NDIS_SET_PACKET_STATUS: (pk, st) => p.NDIS_SET_PACKET_STATUS(pk, st),
      NDIS_GET_PACKET_HEADER_SIZE: (pk) => p.NDIS_GET_PACKET_HEADER_SIZE(pk),
      NDIS_SET_PACKET_HEADER_SIZE: (pk, sz) => p.NDIS_SET_PACKET_HEADER_SIZE(pk, sz),
      NDIS_PACKET_EXTENSION_FROM_PACKET: (pk) => p.NDIS_PACKET_EXTENSION_FROM_PACKET(pk),
      NDIS_PER_PACKET_INFO_FROM_PACKET: (pk, info) => p.NDIS_PER_PACKET_INFO_FROM_PACKET(pk, info),
      NDIS_SET_PACKET_CANCEL_ID: (pk, id) => p.NDIS_SET_PACKET_CANCEL_ID(pk, id),
      NDIS_GET_PACKET_CANCEL_ID: (pk) => p.NDIS_GET_PACKET_CANCEL_ID(pk),
      NdisGeneratePartialCancelId: () => p.NdisGeneratePartialCancelId(),

      NdisMSendComplete: (h, pk, st) => s.NdisMSendComplete(h, pk, st),
      NdisMSendResourcesAvailable: (h) => s.NdisMSendResourcesAvailable(h),
      NdisMEthIndicateReceive: (h, rc, hb, hs, lb, ls, ps) => v.NdisMEthIndicateReceive(h, rc, hb, hs, lb, ls, ps),
      NdisMEthIndicateReceiveComplete: (h) => v.NdisMEthIndicateReceiveComplete(h),
      NdisMTransferDataComplete: (h, pk, st, n) => v.NdisMTransferDataComplete(h, pk, st, n),
      NdisMIndicateReceivePacket: (h, pks, n) => v.NdisMIndicateReceivePacket(h, pks, n),

      NdisMRegisterInterrupt: (h, vec, lvl, isr, shared, mode) => i.NdisMRegisterInterrupt(h, vec, lvl, isr, shared, mode),
      NdisMDeregisterInterrupt: (x) => i.NdisMDeregisterInterrupt(x!),
      NdisMSynchronizeWithInterrupt: (x, fn, ctx) => i.NdisMSynchronizeWithInterrupt(x!, fn, ctx),
      NdisMInitializeTimer: (h, fn, ctx) => t.NdisMInitializeTimer(h, fn, ctx),
      NdisMSetTimer: (x, ms) => t.NdisMSetTimer(x!, ms),
      NdisMSetPeriodicTimer: (x, ms) => t.NdisMSetPeriodicTimer(x!, ms),
      NdisMCancelTimer: (x) => t.NdisMCancelTimer(x!),
      NdisInitializeTimer: (fn, ctx) => t.NdisInitializeTimer(fn, ctx),
      NdisSetTimer: (x, ms) => t.NdisSetTimer(x!, ms),
      NdisCancelTimer: (x) => t.NdisCancelTimer(x!),

      NdisMQueryInformationComplete: (h, st) => r.NdisMQueryInformationComplete(h, st),
      NdisMSetInformationComplete: (h, st) => r.NdisMSetInformationComplete(h, st),
      NdisMIndicateStatus: (h, st, buf, len) => r.NdisMIndicateStatus(h, st, buf, len),
      NdisMIndicateStatusComplete: (h) => r.NdisMIndicateStatusComplete(h),
      NdisMResetComplete: (h, st, addr) => r.NdisMResetComplete(h, st, addr),
    }
  }
}
