// Bus-master DMA for NDIS 5 miniports, both ways NDIS 5 drivers do it, plus shared memory.
//
// Map registers (NDIS 5.1 reference: NdisMAllocateMapRegisters, NdisMStartBufferPhysicalMapping,
// NdisMCompleteBufferPhysicalMapping, NdisMFreeMapRegisters): MiniportInitialize reserves
// BaseMapRegistersNeeded map registers, each able to map MaximumPhysicalMapping bytes; a send
// maps each NDIS_BUFFER on one of them and gets the logical ranges the NIC is given; the mapping
// holds until NdisMCompleteBufferPhysicalMapping (which copies bounced data back for transfers
// from the device). The HAL does the mapping: through the IOMMU when it translates, a direct
// physical address when the buffer is within the device's reach, otherwise a bounce buffer
// below the limit (REFERENCE §3). The registers and their bounce pages are allocated up front,
// so starting a mapping cannot fail for lack of them.
//
// Scatter/gather (NdisMInitializeScatterGatherDma): NDIS builds the S/G list of every packet
// before MiniportSend(Packets) and puts it in its ScatterGatherListPacketInfo; it frees it when
// the send completes (send.ts).
//
// Shared memory (NdisMAllocateSharedMemory, ...Async, NdisMFreeSharedMemory) is the adapter's
// common buffers; either DMA initialization creates the adapter it comes from.
import { PAGE_SIZE, formatBytes, hex } from '../../hw/address.js'
import { BUGCHECK } from '../../kernel/bugcheck.js'
import { siteText } from '../../kernel/calls.js'
import { DISPATCH_LEVEL, PASSIVE_LEVEL } from '../../kernel/irql.js'
import type { AdapterState } from '../../dma/adapter.js'
import { reportMapFailure } from '../../dma/map-failures.js'
import { DMA_DMALAB_BAD_ARGUMENT, DMA_VIOLATION } from '../../dma/violations.js'
import { DMALAB_P1 } from '../../kernel/kinds.js'
import { reportIrql } from '../../kernel/irql-checks.js'
import { allocateCommonBuffer } from '../../dma/common-buffer.js'
import { buildScatterGather, putScatterGather, type SgRequest } from '../../dma/scatter-gather.js'
import { freeSharedMemory } from '../dma.js'
import { DEVICE_DESCRIPTION_VERSION, NDIS_STATUS } from '../constants.js'
import { NDIS_BUGCHECK } from '../context.js'
import type { SCATTER_GATHER_LIST } from '../types.js'
import { NDIS_DMA_SIZE } from './constants.js'
import type { Ndis5State } from './state.js'
import type { NDIS_BUFFER, NDIS_PHYSICAL_ADDRESS_UNIT } from './types.js'
import { bufferVa } from './packets.js'

/** The most map registers one adapter gets from the HAL in dmalab. */
export const MAX_ADAPTER_MAP_REGISTERS = 256

interface Mapping {
  readonly buffer: NDIS_BUFFER
  readonly sgl: SCATTER_GATHER_LIST
  readonly writeToDevice: boolean
}

interface MapRegisterSet {
  readonly adapter: AdapterState
  readonly base: number
  readonly maximumPhysicalMapping: number
  readonly slots: Array<Mapping | null>
  freed: boolean
}

const noCallback = (): void => {}

export class Dma5 {
  private readonly s: Ndis5State
  mapRegisters: MapRegisterSet | null = null
  sgDma: { readonly adapter: AdapterState; readonly maximumPhysicalMapping: number } | null = null

  constructor(state: Ndis5State) {
    this.s = state
  }

  /** The DMA adapter shared memory comes from (map registers or S/G DMA), if either was set up. */
  get adapter(): AdapterState | null {
    return this.mapRegisters?.adapter ?? this.sgDma?.adapter ?? null
  }

  // ---- map registers ---------------------------------------------------------------------------

  /** NdisMAllocateMapRegisters(MiniportAdapterHandle, DmaChannel, DmaSize, BaseMapRegistersNeeded, MaximumPhysicalMapping). */
  NdisMAllocateMapRegisters(MiniportAdapterHandle: unknown, _DmaChannel: number, DmaSize: number, BaseMapRegistersNeeded: number, MaximumPhysicalMapping: number): number {
    const s = this.s
    const ctx = s.ctx
    const k = ctx.kernel
    if (!s.enterAdapter('NdisMAllocateMapRegisters', MiniportAdapterHandle)) return NDIS_STATUS.NDIS_STATUS_FAILURE
    s.irqlAtMost('NdisMAllocateMapRegisters', PASSIVE_LEVEL)
    s.initOnly('NdisMAllocateMapRegisters')
    if (!this.requireBusMaster('NdisMAllocateMapRegisters')) return NDIS_STATUS.NDIS_STATUS_NOT_SUPPORTED
    if (this.mapRegisters !== null || this.sgDma !== null) {
      s.callOrder('NdisMAllocateMapRegisters: this adapter already set up its DMA (map registers are allocated once, and not beside NdisMInitializeScatterGatherDma)')
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    const width = DmaSize === NDIS_DMA_SIZE.NDIS_DMA_24BITS ? 24 : DmaSize === NDIS_DMA_SIZE.NDIS_DMA_32BITS ? 32 : DmaSize === NDIS_DMA_SIZE.NDIS_DMA_64BITS ? 64 : 0
    if (width === 0 || !isPositive(BaseMapRegistersNeeded) || !isPositive(MaximumPhysicalMapping)) {
      ctx.violation('ndis-bad-argument', `NdisMAllocateMapRegisters: DmaSize ${String(DmaSize)} must be NDIS_DMA_24BITS, NDIS_DMA_32BITS or NDIS_DMA_64BITS, and BaseMapRegistersNeeded ${String(BaseMapRegistersNeeded)} and MaximumPhysicalMapping ${String(MaximumPhysicalMapping)} positive counts`)
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    // Each NDIS map register maps MaximumPhysicalMapping bytes: that many pages plus one for a
    // buffer that does not start on a page boundary, in HAL map registers.
    const perRegister = Math.ceil(MaximumPhysicalMapping / PAGE_SIZE) + 1
    const total = BaseMapRegistersNeeded * perRegister
    if (total > MAX_ADAPTER_MAP_REGISTERS) {
      ctx.violation('dma-too-many-map-registers', `NdisMAllocateMapRegisters: ${BaseMapRegistersNeeded} map registers of ${formatBytes(MaximumPhysicalMapping)} need ${total} HAL map registers; an adapter gets at most ${MAX_ADAPTER_MAP_REGISTERS}`, BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, [DMA_VIOLATION.tooManyMapRegisters, total, MAX_ADAPTER_MAP_REGISTERS, 0])
      return NDIS_STATUS.NDIS_STATUS_RESOURCES
    }
    const call = k.calls.allocation('NdisMAllocateMapRegisters', total * PAGE_SIZE)
    if (call.fail) return NDIS_STATUS.NDIS_STATUS_RESOURCES
    const adapter = ctx.hal.createAdapter(ctx.pdo, {
      Version: DEVICE_DESCRIPTION_VERSION.DEVICE_DESCRIPTION_VERSION2,
      Master: true,
      ScatterGather: false,
      Dma32BitAddresses: width >= 32,
      Dma64BitAddresses: width === 64,
      InterfaceType: DEVICE_DESCRIPTION_VERSION.PCIBus,
      MaximumLength: (total - 1) * PAGE_SIZE,
    }, width)
    if (adapter === null) return NDIS_STATUS.NDIS_STATUS_RESOURCES
    // Reserve every register's bounce page now: NdisMStartBufferPhysicalMapping cannot fail.
    const taken: number[] = []
    for (let i = 0; i < total; i++) {
      const pfn = adapter.takeFrame()
      if (pfn < 0) break
      taken.push(pfn)
    }
    adapter.releaseRegisters(0, taken)
    if (taken.length < total) {
      adapter.release()
      return NDIS_STATUS.NDIS_STATUS_RESOURCES
    }
    this.mapRegisters = { adapter, base: BaseMapRegistersNeeded, maximumPhysicalMapping: MaximumPhysicalMapping, slots: new Array<Mapping | null>(BaseMapRegistersNeeded).fill(null), freed: false }
    return NDIS_STATUS.NDIS_STATUS_SUCCESS
  }

  /**
   * NdisMStartBufferPhysicalMapping(MiniportAdapterHandle, Buffer, PhysicalMapRegister,
   * WriteToDevice, PhysicalAddressArray, &ArraySize): fills the caller's array with the
   * buffer's logical ranges and returns how many.
   */
  NdisMStartBufferPhysicalMapping(MiniportAdapterHandle: unknown, Buffer: NDIS_BUFFER, PhysicalMapRegister: number, WriteToDevice: boolean, PhysicalAddressArray: NDIS_PHYSICAL_ADDRESS_UNIT[]): { arraySize: number } {
    const none = { arraySize: 0 }
    const s = this.s
    const ctx = s.ctx
    if (!s.enterAdapter('NdisMStartBufferPhysicalMapping', MiniportAdapterHandle)) return none
    s.dispatchOrBelow('NdisMStartBufferPhysicalMapping')
    const set = this.registerSet('NdisMStartBufferPhysicalMapping', PhysicalMapRegister)
    if (set === null) return none
    if (ctx.kernel.mdl.stateOf(Buffer) === undefined) {
      ctx.violation('dma-bad-argument', 'NdisMStartBufferPhysicalMapping: Buffer is not a buffer descriptor (NdisAllocateBuffer, or one chained to a packet NDIS passed in)', BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, [DMA_DMALAB_BAD_ARGUMENT, 0, 0, 0])
      return none
    }
    if (!Array.isArray(PhysicalAddressArray)) {
      ctx.violation('ndis-bad-argument', 'NdisMStartBufferPhysicalMapping: PhysicalAddressArray must be an array of NDIS_PHYSICAL_ADDRESS_UNIT for the mapped ranges')
      return none
    }
    const busy = set.slots[PhysicalMapRegister]
    if (busy !== null && busy !== undefined) {
      // Driver Verifier's DMA check: "double-mapping of map registers" (0xE6/0x1D).
      ctx.violation('map-register-misuse', `NdisMStartBufferPhysicalMapping on map register ${PhysicalMapRegister}, which still maps a ${busy.buffer.ByteCount}-byte buffer: complete that mapping (NdisMCompleteBufferPhysicalMapping) before reusing the register`, BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, [DMA_VIOLATION.doubleMap, bufferVa(Buffer), bufferVa(Buffer) + Buffer.ByteCount, bufferVa(busy.buffer)])
      return none
    }
    const length = Buffer.ByteCount
    if (!(length > 0)) {
      ctx.violation('dma-bad-argument', 'NdisMStartBufferPhysicalMapping of a zero-length buffer: there is nothing to map', BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, [DMA_VIOLATION.zeroLength, 0, 0, 0])
      return none
    }
    if (length > set.maximumPhysicalMapping) {
      ctx.violation('dma-too-many-map-registers', `NdisMStartBufferPhysicalMapping of ${length} bytes on one map register: NdisMAllocateMapRegisters reserved ${set.maximumPhysicalMapping} bytes (MaximumPhysicalMapping) per register`, BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, [DMA_VIOLATION.tooManyMapRegisters, Math.ceil(length / PAGE_SIZE) + 1, Math.ceil(set.maximumPhysicalMapping / PAGE_SIZE) + 1, 0])
      return none
    }
    const req: SgRequest = {
      mdl: Buffer,
      currentVa: bufferVa(Buffer),
      length,
      writeToDevice: WriteToDevice === true,
      routine: 'NdisMStartBufferPhysicalMapping',
      site: undefined,
      callback: noCallback,
      callbackName: 'NdisMStartBufferPhysicalMapping',
      deviceObject: ctx.pdo,
      context: null,
    }
    const out = buildScatterGather(set.adapter, req)
    if (out === 'wait') {
      ctx.violation('dma-bad-argument', 'NdisMStartBufferPhysicalMapping: the buffer could not be mapped: the adapter has no free map register pages', BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, [DMA_DMALAB_BAD_ARGUMENT, 0, 0, 0])
      return none
    }
    if ('fail' in out) {
      reportMapFailure(ctx.kernel, 'NdisMStartBufferPhysicalMapping', out.fail)
      return none
    }
    set.slots[PhysicalMapRegister] = { buffer: Buffer, sgl: out.sgl, writeToDevice: req.writeToDevice }
    set.adapter.platform.stats.mapRegisterTransfers++
    const elements = out.sgl.Elements
    PhysicalAddressArray.length = elements.length
    for (let i = 0; i < elements.length; i++) {
      const e = elements[i]!
      const unit = PhysicalAddressArray[i]
      if (unit !== undefined && typeof unit === 'object') {
        unit.PhysicalAddress = e.Address
        unit.Length = e.Length
      } else PhysicalAddressArray[i] = { PhysicalAddress: e.Address, Length: e.Length }
    }
    return { arraySize: elements.length }
  }

  /** NdisMCompleteBufferPhysicalMapping(MiniportAdapterHandle, Buffer, PhysicalMapRegister). */
  NdisMCompleteBufferPhysicalMapping(MiniportAdapterHandle: unknown, Buffer: NDIS_BUFFER, PhysicalMapRegister: number): void {
    const s = this.s
    const ctx = s.ctx
    if (!s.enterAdapter('NdisMCompleteBufferPhysicalMapping', MiniportAdapterHandle)) return
    s.dispatchOrBelow('NdisMCompleteBufferPhysicalMapping')
    const set = this.registerSet('NdisMCompleteBufferPhysicalMapping', PhysicalMapRegister)
    if (set === null) return
    const m = set.slots[PhysicalMapRegister]
    if (m === null || m === undefined || m.buffer !== Buffer) {
      // Driver Verifier: "attempting to flush a map register that hasn't been mapped" (0xE6/0x20).
      ctx.violation('map-register-misuse', `NdisMCompleteBufferPhysicalMapping on map register ${PhysicalMapRegister}: ${m === null || m === undefined ? 'nothing is mapped on it' : 'it maps a different buffer'}`, BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, [DMA_VIOLATION.flushNotMapped, PhysicalMapRegister, ctx.kernel.mdl.stateOf(Buffer) === undefined ? 0 : bufferVa(Buffer), 0])
      return
    }
    set.slots[PhysicalMapRegister] = null
    putScatterGather(set.adapter, m.sgl, m.writeToDevice, 'NdisMCompleteBufferPhysicalMapping')
  }

  /** NdisMFreeMapRegisters(MiniportAdapterHandle): from MiniportHalt (or a failing MiniportInitialize). */
  NdisMFreeMapRegisters(MiniportAdapterHandle: unknown): void {
    const s = this.s
    if (!s.enterAdapter('NdisMFreeMapRegisters', MiniportAdapterHandle)) return
    s.irqlAtMost('NdisMFreeMapRegisters', PASSIVE_LEVEL)
    const set = this.mapRegisters
    if (set === null || set.freed) {
      s.callOrder(`NdisMFreeMapRegisters ${set === null ? 'without NdisMAllocateMapRegisters' : 'called twice'}`)
      return
    }
    this.freeMapRegisters(set, 'free')
  }

  /** Frees the registers; mappings still started are a map-register leak (Driver Verifier 0xE6/0x10, or 0x09 at halt). */
  private freeMapRegisters(set: MapRegisterSet, when: 'free' | 'halt'): void {
    const ctx = this.s.ctx
    const mapped = set.slots.filter((m) => m !== null).length
    if (mapped > 0 || when === 'halt') {
      const p1 = when === 'free' ? 0x10 : DMA_VIOLATION.mapRegistersOutstanding
      ctx.kernel.log.report({
        kind: 'map-register-leak',
        code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION,
        params: when === 'free' ? [p1, mapped, 0, 0] : [p1, set.adapter.id, set.base, 0],
        message: when === 'free'
          ? `NdisMFreeMapRegisters with ${mapped} map register${mapped === 1 ? '' : 's'} still mapping a buffer: every NdisMStartBufferPhysicalMapping needs its NdisMCompleteBufferPhysicalMapping before the registers are freed (Driver Verifier: 0xE6/0x10)`
          : `MiniportHalt returned without NdisMFreeMapRegisters: ${set.base} map registers${mapped > 0 ? `, ${mapped} still mapping a buffer,` : ''} are still held by the adapter (Driver Verifier: 0xE6/0x09)`,
        details: { mapped, registers: set.base },
      })
    }
    for (let i = 0; i < set.slots.length; i++) {
      const m = set.slots[i]
      if (m === null || m === undefined) continue
      set.slots[i] = null
      putScatterGather(set.adapter, m.sgl, m.writeToDevice, 'NdisMFreeMapRegisters')
    }
    set.freed = true
  }

  private registerSet(routine: string, index: number): MapRegisterSet | null {
    const set = this.mapRegisters
    if (set === null || set.freed) {
      this.s.callOrder(`${routine} ${set === null ? 'without NdisMAllocateMapRegisters' : 'after NdisMFreeMapRegisters'}`)
      return null
    }
    if (!Number.isSafeInteger(index) || index < 0 || index >= set.base) {
      this.s.ctx.violation('map-register-misuse', `${routine}: PhysicalMapRegister ${String(index)} is not one of the ${set.base} map registers NdisMAllocateMapRegisters reserved (0..${set.base - 1})`, BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, [DMALAB_P1.mapRegisterMisuse, Number.isSafeInteger(index) ? index : 0, 0, 0])
      return null
    }
    return set
  }

  // ---- scatter/gather DMA ------------------------------------------------------------------------

  /** NdisMInitializeScatterGatherDma(MiniportAdapterHandle, Dma64BitAddresses, MaximumPhysicalMapping). */
  NdisMInitializeScatterGatherDma(MiniportAdapterHandle: unknown, Dma64BitAddresses: boolean, MaximumPhysicalMapping: number): number {
    const s = this.s
    const ctx = s.ctx
    if (!s.enterAdapter('NdisMInitializeScatterGatherDma', MiniportAdapterHandle)) return NDIS_STATUS.NDIS_STATUS_FAILURE
    s.irqlAtMost('NdisMInitializeScatterGatherDma', PASSIVE_LEVEL)
    s.initOnly('NdisMInitializeScatterGatherDma')
    if (!this.requireBusMaster('NdisMInitializeScatterGatherDma')) return NDIS_STATUS.NDIS_STATUS_NOT_SUPPORTED
    if (this.mapRegisters !== null || this.sgDma !== null) {
      s.callOrder('NdisMInitializeScatterGatherDma: this adapter already set up its DMA')
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    if (!isPositive(MaximumPhysicalMapping)) {
      ctx.violation('ndis-bad-argument', `NdisMInitializeScatterGatherDma: MaximumPhysicalMapping ${String(MaximumPhysicalMapping)} is not a positive byte count`)
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    const call = ctx.kernel.calls.allocation('NdisMInitializeScatterGatherDma', MaximumPhysicalMapping)
    if (call.fail) return NDIS_STATUS.NDIS_STATUS_RESOURCES
    // "NdisMInitializeScatterGatherDma supports only 32-bit and 64-bit DMA addresses."
    const width = Dma64BitAddresses === true ? 64 : 32
    const adapter = ctx.hal.createAdapter(ctx.pdo, {
      Version: DEVICE_DESCRIPTION_VERSION.DEVICE_DESCRIPTION_VERSION2,
      Master: true,
      ScatterGather: true,
      Dma32BitAddresses: true,
      Dma64BitAddresses: width === 64,
      InterfaceType: DEVICE_DESCRIPTION_VERSION.PCIBus,
      MaximumLength: MaximumPhysicalMapping,
    }, width)
    if (adapter === null) return NDIS_STATUS.NDIS_STATUS_RESOURCES
    this.sgDma = { adapter, maximumPhysicalMapping: MaximumPhysicalMapping }
    return NDIS_STATUS.NDIS_STATUS_SUCCESS
  }

  private requireBusMaster(routine: string): boolean {
    const s = this.s
    if (s.attributes === null) {
      s.callOrder(`${routine} before NdisMSetAttributes[Ex]: MiniportInitialize sets its attributes (NDIS_ATTRIBUTE_BUS_MASTER) before it sets up DMA`)
      return false
    }
    if (!s.busMaster) {
      s.callOrder(`${routine} for an adapter that did not set NDIS_ATTRIBUTE_BUS_MASTER in NdisMSetAttributes[Ex]: NDIS reserves no DMA resources for it`)
      return false
    }
    return true
  }

  // ---- shared memory -----------------------------------------------------------------------------

  /** NdisMAllocateSharedMemory(MiniportAdapterHandle, Length, Cached, &VirtualAddress, &PhysicalAddress). */
  NdisMAllocateSharedMemory(MiniportAdapterHandle: unknown, Length: number, Cached: boolean): { virtualAddress: number; physicalAddress: number } {
    const s = this.s
    const ctx = s.ctx
    const k = ctx.kernel
    const none = { virtualAddress: 0, physicalAddress: 0 }
    if (!s.enterAdapter('NdisMAllocateSharedMemory', MiniportAdapterHandle)) return none
    const call = k.calls.allocation('NdisMAllocateSharedMemory', Length)
    // NDIS checks this one itself (bug check 0x7C/0x01: adapter block, length, IRQL).
    if (k.irql !== PASSIVE_LEVEL) reportIrql(k, 'NdisMAllocateSharedMemory', PASSIVE_LEVEL, false, BUGCHECK.BUGCODE_NDIS_DRIVER, [NDIS_BUGCHECK.allocateSharedMemoryHighIrql, 0, Length, k.irql])
    // NDIS 5.1: "NdisMAllocateSharedMemory can be called only from MiniportInitialize" (later: ...Async).
    if (!ctx.inInitialize) {
      ctx.violation('init-only-call', `NdisMAllocateSharedMemory (${formatBytes(Length)}) outside MiniportInitialize: shared memory is allocated while the miniport initializes; later, NdisMAllocateSharedMemoryAsync`, undefined, undefined, { routine: 'NdisMAllocateSharedMemory', length: Length, phase: k.phase })
    }
    const adapter = this.adapter
    if (adapter === null) {
      s.callOrder('NdisMAllocateSharedMemory before NdisMAllocateMapRegisters or NdisMInitializeScatterGatherDma: a bus-master miniport sets up its DMA first')
      return none
    }
    if (call.fail || !(Length > 0)) return none
    const cb = allocateCommonBuffer(adapter, Length, Cached, 'NdisMAllocateSharedMemory', siteText(call.site))
    return cb === null ? none : { virtualAddress: cb.va, physicalAddress: cb.logical }
  }

  /** NdisMAllocateSharedMemoryAsync(MiniportAdapterHandle, Length, Cached, Context): completes through MiniportAllocateComplete. */
  NdisMAllocateSharedMemoryAsync(MiniportAdapterHandle: unknown, Length: number, Cached: boolean, Context: unknown): number {
    const s = this.s
    const ctx = s.ctx
    const k = ctx.kernel
    if (!s.enterAdapter('NdisMAllocateSharedMemoryAsync', MiniportAdapterHandle)) return NDIS_STATUS.NDIS_STATUS_FAILURE
    s.dispatchOrBelow('NdisMAllocateSharedMemoryAsync')
    const handler = s.characteristics?.AllocateCompleteHandler
    if (typeof handler !== 'function') {
      s.callOrder('NdisMAllocateSharedMemoryAsync without an AllocateCompleteHandler in the miniport characteristics')
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    const adapter = this.adapter
    if (adapter === null) {
      s.callOrder('NdisMAllocateSharedMemoryAsync before NdisMAllocateMapRegisters or NdisMInitializeScatterGatherDma')
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    if (!(Length > 0)) {
      ctx.violation('ndis-bad-argument', `NdisMAllocateSharedMemoryAsync: Length ${String(Length)} is not a byte count`)
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    const call = k.calls.allocation('NdisMAllocateSharedMemoryAsync', Length)
    if (call.fail) return NDIS_STATUS.NDIS_STATUS_FAILURE
    const site = siteText(call.site)
    k.clock.schedule(0, 'MiniportAllocateComplete', () => {
      if (this.adapter !== adapter || adapter.released || k.log.stopped) return
      const cb = allocateCommonBuffer(adapter, Length, Cached, 'NdisMAllocateSharedMemoryAsync', site)
      // MiniportAllocateComplete runs at IRQL = DISPATCH_LEVEL. "NdisMAllocateSharedMemoryAsync calls
      // MiniportAllocateComplete whether its allocation attempt succeeds or fails": on failure the
      // addresses are NULL and the Length zero (MiniportAllocateComplete, NDIS 5 DDK reference).
      ctx.caller.call('MiniportAllocateComplete', DISPATCH_LEVEL, () => handler(s.adapterContext, cb?.va ?? 0, cb?.logical ?? 0, cb === null ? 0 : Length, Context))
    }, { needsCpu: true })
    return NDIS_STATUS.NDIS_STATUS_PENDING
  }

  /** NdisMFreeSharedMemory(MiniportAdapterHandle, Length, Cached, VirtualAddress, PhysicalAddress). */
  NdisMFreeSharedMemory(MiniportAdapterHandle: unknown, Length: number, Cached: boolean, VirtualAddress: number, PhysicalAddress: number): void {
    const s = this.s
    if (!s.enterAdapter('NdisMFreeSharedMemory', MiniportAdapterHandle)) return
    s.dispatchOrBelow('NdisMFreeSharedMemory')
    const adapter = this.adapter
    if (adapter === null || adapter.released) {
      s.callOrder(`NdisMFreeSharedMemory of ${hex(VirtualAddress)}: the adapter has no DMA set up (or it was already released)`)
      return
    }
    freeSharedMemory(s.ctx, adapter, Length, Cached, VirtualAddress, PhysicalAddress)
  }

  // ---- halt ----------------------------------------------------------------------------------------

  /** After MiniportHalt: registers never freed are a leak; NDIS then releases the DMA adapter (which reports what is left on it). */
  releaseAfterHalt(): void {
    const set = this.mapRegisters
    if (set !== null && !set.freed) this.freeMapRegisters(set, 'halt')
    const adapter = this.adapter
    if (adapter !== null && !adapter.released) adapter.release()
  }
}

function isPositive(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0
}
