// NDIS's scatter/gather DMA: NdisMRegisterScatterGatherDma creates the HAL DMA adapter for the
// miniport (a 32-bit device unless NDIS_SG_DMA_64_BIT_ADDRESS), NdisMAllocateSharedMemory wraps
// its AllocateCommonBuffer (PASSIVE_LEVEL, MiniportInitializeEx only, after registration),
// NdisMAllocateSharedMemoryAsyncEx is the legal route to more shared memory later, and
// NdisMAllocateNetBufferSGList maps a NET_BUFFER for transmission, calling the miniport's
// ProcessSGList before or after it returns.
import { PAGE_SIZE, formatBytes } from '../hw/address.js'
import { BUGCHECK } from '../kernel/bugcheck.js'
import { siteText } from '../kernel/calls.js'
import { DISPATCH_LEVEL, PASSIVE_LEVEL, irqlName } from '../kernel/irql.js'
import { allocateCommonBuffer, freeCommonBuffer } from '../dma/common-buffer.js'
import { putScatterGather, sgListSize } from '../dma/scatter-gather.js'
import { NDIS_SG_DMA, NDIS_STATUS, NT_STATUS, DEVICE_DESCRIPTION_VERSION } from './constants.js'
import { NDIS_BUGCHECK, type DmaHandle, type NdisContext, type SgDmaRegistration } from './context.js'
import type { NDIS_SG_DMA_DESCRIPTION, NET_BUFFER, SCATTER_GATHER_LIST } from './types.js'

export class NdisDma {
  private readonly ctx: NdisContext

  constructor(ctx: NdisContext) {
    this.ctx = ctx
  }

  NdisMRegisterScatterGatherDma(MiniportAdapterHandle: unknown, DmaDescription: NDIS_SG_DMA_DESCRIPTION): { status: number; ndisMiniportDmaHandle: DmaHandle | null } {
    const ctx = this.ctx
    const k = ctx.kernel
    k.log.throwIfStopped()
    const fail = (status: number): { status: number; ndisMiniportDmaHandle: null } => ({ status, ndisMiniportDmaHandle: null })
    if (!ctx.checkHandle('NdisMRegisterScatterGatherDma', MiniportAdapterHandle)) return fail(NDIS_STATUS.NDIS_STATUS_INVALID_PARAMETER)
    this.irql('NdisMRegisterScatterGatherDma', PASSIVE_LEVEL)
    if (!ctx.inInitialize) ctx.callOrder('NdisMRegisterScatterGatherDma outside MiniportInitializeEx')
    if (ctx.sgDma !== null) {
      ctx.callOrder('NdisMRegisterScatterGatherDma called twice for one adapter')
      return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    }
    if (typeof DmaDescription?.ProcessSGListHandler !== 'function') {
      ctx.violation('ndis-bad-argument', 'NdisMRegisterScatterGatherDma: NDIS_SG_DMA_DESCRIPTION needs a ProcessSGListHandler')
      return fail(NDIS_STATUS.NDIS_STATUS_INVALID_PARAMETER)
    }
    const call = k.calls.allocation('NdisMRegisterScatterGatherDma', DmaDescription.MaximumPhysicalMapping)
    if (call.fail) return fail(NDIS_STATUS.NDIS_STATUS_RESOURCES)
    const sixtyFour = (DmaDescription.Flags & NDIS_SG_DMA.NDIS_SG_DMA_64_BIT_ADDRESS) !== 0
    // Version 3 takes the width from DmaAddressWidth alone (wdm.h DEVICE_DESCRIPTION).
    const width = sixtyFour ? 64 : 32
    const adapter = ctx.hal.createAdapter(ctx.pdo, {
      Version: DEVICE_DESCRIPTION_VERSION.DEVICE_DESCRIPTION_VERSION3,
      Master: true,
      ScatterGather: true,
      Dma32BitAddresses: true,
      Dma64BitAddresses: sixtyFour,
      DmaAddressWidth: width,
      InterfaceType: DEVICE_DESCRIPTION_VERSION.PCIBus,
      MaximumLength: Math.max(PAGE_SIZE, DmaDescription.MaximumPhysicalMapping),
    }, width)
    const handle: DmaHandle = { kind: 'sg-dma', id: ctx.handleId() }
    ctx.sgDma = { handle, adapter, description: DmaDescription }
    // In/out: the size of the S/G list buffer a maximal packet needs.
    DmaDescription.ScatterGatherListSize = sgListSize(Math.ceil(DmaDescription.MaximumPhysicalMapping / PAGE_SIZE) + 1)
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, ndisMiniportDmaHandle: handle }
  }

  NdisMDeregisterScatterGatherDma(NdisMiniportDmaHandle: unknown): void {
    const ctx = this.ctx
    ctx.kernel.log.throwIfStopped()
    const reg = this.registration('NdisMDeregisterScatterGatherDma', NdisMiniportDmaHandle, ', or already deregistered')
    if (reg === null) return
    this.irql('NdisMDeregisterScatterGatherDma', PASSIVE_LEVEL)
    ctx.sgDma = null
    // Releasing the adapter reports shared memory and S/G lists still outstanding.
    reg.adapter.release()
  }

  NdisMAllocateSharedMemory(MiniportAdapterHandle: unknown, Length: number, Cached: boolean): { virtualAddress: number; physicalAddress: number } {
    const ctx = this.ctx
    const k = ctx.kernel
    k.log.throwIfStopped()
    const none = { virtualAddress: 0, physicalAddress: 0 }
    const call = k.calls.allocation('NdisMAllocateSharedMemory', Length)
    if (!ctx.checkHandle('NdisMAllocateSharedMemory', MiniportAdapterHandle)) return none
    if (k.irql !== PASSIVE_LEVEL) {
      ctx.violation('irql-violation', `NdisMAllocateSharedMemory at ${irqlName(k.irql)}: it must be called at PASSIVE_LEVEL`, BUGCHECK.BUGCODE_NDIS_DRIVER, [NDIS_BUGCHECK.allocateSharedMemoryHighIrql, 0, Length, k.irql])
    }
    if (!ctx.inInitialize) {
      ctx.violation('init-only-call', `NdisMAllocateSharedMemory (${formatBytes(Length)}) outside MiniportInitializeEx: shared memory is allocated during initialization (S04); later, use NdisMAllocateSharedMemoryAsyncEx`, undefined, undefined, {
        routine: 'NdisMAllocateSharedMemory',
        length: Length,
        phase: k.phase,
      })
    }
    const reg = ctx.sgDma
    if (reg === null) {
      ctx.callOrder('NdisMAllocateSharedMemory before NdisMRegisterScatterGatherDma: a bus-master miniport registers scatter/gather DMA first')
      return none
    }
    if (call.fail || !(Length > 0)) return none
    const cb = allocateCommonBuffer(reg.adapter, Length, Cached, 'NdisMAllocateSharedMemory', siteText(call.site))
    return cb === null ? none : { virtualAddress: cb.va, physicalAddress: cb.logical }
  }

  NdisMFreeSharedMemory(MiniportAdapterHandle: unknown, Length: number, Cached: boolean, VirtualAddress: number, PhysicalAddress: number): void {
    const ctx = this.ctx
    ctx.kernel.log.throwIfStopped()
    if (!ctx.checkHandle('NdisMFreeSharedMemory', MiniportAdapterHandle)) return
    this.irql('NdisMFreeSharedMemory', DISPATCH_LEVEL)
    const reg = ctx.sgDma
    if (reg === null) {
      ctx.callOrder('NdisMFreeSharedMemory after NdisMDeregisterScatterGatherDma (free shared memory before deregistering DMA)')
      return
    }
    freeCommonBuffer(reg.adapter, Length, PhysicalAddress, VirtualAddress, Cached, 'NdisMFreeSharedMemory')
  }

  /** The legal way to more shared memory after initialization: completes through the handler. */
  NdisMAllocateSharedMemoryAsyncEx(MiniportDmaHandle: unknown, Length: number, Cached: boolean, Context: unknown): number {
    const ctx = this.ctx
    const k = ctx.kernel
    k.log.throwIfStopped()
    const reg = this.registration('NdisMAllocateSharedMemoryAsyncEx', MiniportDmaHandle)
    if (reg === null) return NDIS_STATUS.NDIS_STATUS_FAILURE
    this.irql('NdisMAllocateSharedMemoryAsyncEx', DISPATCH_LEVEL)
    const handler = reg.description.SharedMemAllocateCompleteHandler
    if (typeof handler !== 'function') {
      ctx.callOrder('NdisMAllocateSharedMemoryAsyncEx without a SharedMemAllocateCompleteHandler in NDIS_SG_DMA_DESCRIPTION')
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    const call = k.calls.allocation('NdisMAllocateSharedMemoryAsyncEx', Length)
    if (call.fail) return NDIS_STATUS.NDIS_STATUS_RESOURCES
    const site = siteText(call.site)
    k.clock.schedule(0, 'MiniportSharedMemoryAllocateComplete', () => {
      if (ctx.sgDma !== reg) return
      const cb = allocateCommonBuffer(reg.adapter, Length, Cached, 'NdisMAllocateSharedMemoryAsyncEx', site)
      // ndis.h MINIPORT_ALLOCATE_SHARED_MEM_COMPLETE: NDIS calls it at PASSIVE_LEVEL.
      ctx.caller.call('MiniportSharedMemoryAllocateComplete', PASSIVE_LEVEL, () =>
        handler(ctx.adapterContext, cb?.va ?? 0, cb?.logical ?? 0, Length, Context),
      )
    })
    return NDIS_STATUS.NDIS_STATUS_PENDING
  }

  NdisMAllocateNetBufferSGList(NdisMiniportDmaHandle: unknown, NetBuffer: NET_BUFFER, Context: unknown, _Flags: number, ScatterGatherListBuffer: SCATTER_GATHER_LIST | null, _ScatterGatherListBufferSize: number): number {
    const ctx = this.ctx
    const k = ctx.kernel
    k.log.throwIfStopped()
    const reg = this.registration('NdisMAllocateNetBufferSGList', NdisMiniportDmaHandle)
    if (reg === null) return NDIS_STATUS.NDIS_STATUS_FAILURE
    this.irql('NdisMAllocateNetBufferSGList', DISPATCH_LEVEL)
    const mdl = NetBuffer?.CurrentMdl
    if (mdl === null || mdl === undefined || k.mdl.stateOf(mdl) === undefined) {
      ctx.violation('ndis-bad-argument', 'NdisMAllocateNetBufferSGList: the NET_BUFFER has no MDL this system allocated in CurrentMdl (NdisAllocateNetBufferAndNetBufferList with an MdlChain from NdisAllocateMdl)')
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    const call = k.calls.allocation('NdisMAllocateNetBufferSGList', NetBuffer.DataLength)
    if (call.fail) return NDIS_STATUS.NDIS_STATUS_RESOURCES
    const status = ctx.hal.scatterGather(reg.adapter, {
      mdl,
      currentVa: mdl.StartVa + mdl.ByteOffset + NetBuffer.CurrentMdlOffset,
      length: NetBuffer.DataLength,
      writeToDevice: true,
      routine: 'NdisMAllocateNetBufferSGList',
      site: call.site,
      into: ScatterGatherListBuffer,
      callback: reg.description.ProcessSGListHandler,
      callbackName: 'MiniportProcessSGList',
      deviceObject: ctx.pdo,
      context: Context,
    })
    k.log.throwIfStopped()
    if (status === NT_STATUS.STATUS_SUCCESS) return NDIS_STATUS.NDIS_STATUS_SUCCESS
    return status === NT_STATUS.STATUS_INSUFFICIENT_RESOURCES ? NDIS_STATUS.NDIS_STATUS_RESOURCES : NDIS_STATUS.NDIS_STATUS_FAILURE
  }

  NdisMFreeNetBufferSGList(NdisMiniportDmaHandle: unknown, pSGL: SCATTER_GATHER_LIST, _NetBuffer: NET_BUFFER): void {
    const ctx = this.ctx
    ctx.kernel.log.throwIfStopped()
    const reg = this.registration('NdisMFreeNetBufferSGList', NdisMiniportDmaHandle)
    if (reg === null) return
    this.irql('NdisMFreeNetBufferSGList', DISPATCH_LEVEL)
    putScatterGather(reg.adapter, pSGL, true, 'NdisMFreeNetBufferSGList')
    ctx.kernel.log.throwIfStopped()
  }

  /** The SG DMA registration `handle` names, or null after reporting a handle that is not it. */
  private registration(routine: string, handle: unknown, also = ''): SgDmaRegistration | null {
    const reg = this.ctx.sgDma
    if (reg !== null && handle === reg.handle) return reg
    this.ctx.violation('ndis-bad-handle', `${routine}: not the handle NdisMRegisterScatterGatherDma returned${also}`)
    return null
  }

  private irql(routine: string, maximum: number): void {
    const k = this.ctx.kernel
    if (k.irql <= maximum) return
    this.ctx.violation('irql-violation', `${routine} at ${irqlName(k.irql)}: it must be called at ${irqlName(maximum)}${maximum === PASSIVE_LEVEL ? '' : ' or below'}`, BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, [0xe5, k.irql, 0, 0], { routine, irql: k.irql })
  }
}
