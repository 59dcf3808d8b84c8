// NDIS's scatter/gather DMA: NdisMRegisterScatterGatherDma creates the HAL DMA adapter for the
// miniport (a 32-bit device unless NDIS_SG_DMA_64_BIT_ADDRESS), NdisMAllocateSharedMemory wraps
// its AllocateCommonBuffer (PASSIVE_LEVEL, MiniportInitializeEx only, after registration),
// NdisMAllocateSharedMemoryAsyncEx is the legal route to more shared memory later, and
// NdisMAllocateNetBufferSGList maps a NET_BUFFER, calling the miniport's ProcessSGList before or
// after it returns. The routines call into the HAL, so the HAL's DMA verification applies to
// them: a call at too high an IRQL is 0xE6/0x13, as for the HAL's own routines.
import { PAGE_SIZE, formatBytes, hex } from '../hw/address.js'
import { BUGCHECK } from '../kernel/bugcheck.js'
import { siteText } from '../kernel/calls.js'
import { DISPATCH_LEVEL, PASSIVE_LEVEL, irqlName } from '../kernel/irql.js'
import type { AdapterState } from '../dma/adapter.js'
import { allocateCommonBuffer, freeCommonBuffer } from '../dma/common-buffer.js'
import { DMA_ALIGNMENT_X64 } from '../dma/api.js'
import { mapRegistersFor, putScatterGather, sgListSize } from '../dma/scatter-gather.js'
import { checkDmaIrql } from '../dma/violations.js'
import { NDIS_FLAGS, NDIS_OBJECT_TYPE, NDIS_SG_DMA, NDIS_STATUS, NT_STATUS, DEVICE_DESCRIPTION_VERSION } from './constants.js'
import { NDIS_BUGCHECK, type DmaHandle, type NdisContext, type SgDmaRegistration } from './context.js'
import type { NDIS_SG_DMA_DESCRIPTION, NET_BUFFER, SCATTER_GATHER_LIST } from './types.js'
import { reportIrql, requireIrql } from '../kernel/irql-checks.js'

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
    checkDmaIrql(k, 'NdisMRegisterScatterGatherDma', PASSIVE_LEVEL)
    if (!ctx.inInitialize) ctx.callOrder('NdisMRegisterScatterGatherDma outside MiniportInitializeEx')
    if (ctx.sgDma !== null) {
      ctx.callOrder('NdisMRegisterScatterGatherDma called twice for one adapter')
      return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    }
    if (typeof DmaDescription !== 'object' || DmaDescription === null || typeof DmaDescription.ProcessSGListHandler !== 'function') {
      ctx.violation('ndis-bad-argument', 'NdisMRegisterScatterGatherDma: NDIS_SG_DMA_DESCRIPTION needs a ProcessSGListHandler')
      return fail(NDIS_STATUS.NDIS_STATUS_INVALID_PARAMETER)
    }
    const refused = this.refuseRegistration(DmaDescription)
    if (refused !== null) return fail(refused)
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
    if (adapter === null) return fail(NDIS_STATUS.NDIS_STATUS_RESOURCES)
    const handle: DmaHandle = { kind: 'sg-dma', id: ctx.handleId() }
    ctx.sgDma = { handle, adapter, description: DmaDescription }
    // In/out: the size of the S/G list buffer a maximal packet needs.
    DmaDescription.ScatterGatherListSize = sgListSize(Math.ceil(DmaDescription.MaximumPhysicalMapping / PAGE_SIZE) + 1)
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, ndisMiniportDmaHandle: handle }
  }

  /**
   * The refusals the NdisMRegisterScatterGatherDma page documents, or null: NDIS_STATUS_BAD_VERSION
   * for a Header.Revision NDIS does not know, NDIS_STATUS_NOT_SUPPORTED when the miniport did not
   * register for NDIS 6.0 or later or did not say its NIC is a bus master
   * (NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER in its registration attributes). A description without a
   * Header (a plain TypeScript object) is taken as revision 1.
   */
  private refuseRegistration(d: NDIS_SG_DMA_DESCRIPTION): number | null {
    const ctx = this.ctx
    const header = d.Header
    if (header !== undefined) {
      if (header.Type !== NDIS_OBJECT_TYPE.NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION) {
        ctx.violation('ndis-bad-argument', `NdisMRegisterScatterGatherDma: the NDIS_SG_DMA_DESCRIPTION Header.Type is ${header.Type}, not NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION (0x83)`)
        return NDIS_STATUS.NDIS_STATUS_INVALID_PARAMETER
      }
      if (header.Revision !== NDIS_SG_DMA.NDIS_SG_DMA_DESCRIPTION_REVISION_1 && header.Revision !== NDIS_SG_DMA.NDIS_SG_DMA_DESCRIPTION_REVISION_2) {
        ctx.violation('ndis-bad-argument', `NdisMRegisterScatterGatherDma: NDIS_SG_DMA_DESCRIPTION Header.Revision ${header.Revision} is not one NDIS supports (NDIS_SG_DMA_DESCRIPTION_REVISION_1 or _2): NDIS_STATUS_BAD_VERSION`)
        return NDIS_STATUS.NDIS_STATUS_BAD_VERSION
      }
    }
    const major = ctx.characteristics?.MajorNdisVersion ?? 6
    if (major < 6) {
      ctx.violation('ndis-bad-argument', `NdisMRegisterScatterGatherDma from an NDIS ${major}.x miniport: scatter/gather DMA registration needs NDIS 6.0 or later (NDIS_STATUS_NOT_SUPPORTED)`)
      return NDIS_STATUS.NDIS_STATUS_NOT_SUPPORTED
    }
    if ((ctx.attributeFlags & NDIS_FLAGS.NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER) === 0) {
      ctx.violation('ndis-bad-argument', 'NdisMRegisterScatterGatherDma: the miniport did not set NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER in the AttributeFlags of its registration attributes (NdisMSetMiniportAttributes), so its NIC is not a bus master to NDIS: NDIS_STATUS_NOT_SUPPORTED')
      return NDIS_STATUS.NDIS_STATUS_NOT_SUPPORTED
    }
    return null
  }

  NdisMDeregisterScatterGatherDma(NdisMiniportDmaHandle: unknown): void {
    const ctx = this.ctx
    ctx.kernel.log.throwIfStopped()
    const reg = this.registration('NdisMDeregisterScatterGatherDma', NdisMiniportDmaHandle, ', or already deregistered')
    if (reg === null) return
    checkDmaIrql(ctx.kernel, 'NdisMDeregisterScatterGatherDma', PASSIVE_LEVEL)
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
    // NDIS checks this one itself (bug check 0x7C/0x01: adapter block, length, IRQL).
    if (k.irql !== PASSIVE_LEVEL) reportIrql(k, 'NdisMAllocateSharedMemory', PASSIVE_LEVEL, false, BUGCHECK.BUGCODE_NDIS_DRIVER, [NDIS_BUGCHECK.allocateSharedMemoryHighIrql, 0, Length, k.irql])
    if (!ctx.inInitialize) {
      ctx.violation('init-only-call', `NdisMAllocateSharedMemory (${formatBytes(Length)}) outside MiniportInitializeEx: shared memory is allocated during initialization; later, use NdisMAllocateSharedMemoryAsyncEx`, undefined, undefined, {
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
    checkDmaIrql(ctx.kernel, 'NdisMFreeSharedMemory', DISPATCH_LEVEL)
    const reg = ctx.sgDma
    if (reg === null) {
      ctx.callOrder('NdisMFreeSharedMemory after NdisMDeregisterScatterGatherDma (free shared memory before deregistering DMA)')
      return
    }
    freeSharedMemory(ctx, reg.adapter, Length, Cached, VirtualAddress, PhysicalAddress)
  }

  /** The legal way to more shared memory after initialization: completes through the handler. */
  NdisMAllocateSharedMemoryAsyncEx(MiniportDmaHandle: unknown, Length: number, Cached: boolean, Context: unknown): number {
    const ctx = this.ctx
    const k = ctx.kernel
    k.log.throwIfStopped()
    const reg = this.registration('NdisMAllocateSharedMemoryAsyncEx', MiniportDmaHandle)
    if (reg === null) return NDIS_STATUS.NDIS_STATUS_FAILURE
    checkDmaIrql(k, 'NdisMAllocateSharedMemoryAsyncEx', DISPATCH_LEVEL)
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
    }, { needsCpu: true })
    return NDIS_STATUS.NDIS_STATUS_PENDING
  }

  /**
   * NdisMAllocateNetBufferSGList, as its page says: "the scatter/gather list is generated from
   * the network data starting at the beginning of the MDL that is specified at the CurrentMdl
   * member ... The start of the network data in the SG list is offset from the beginning of the
   * SG list by the value specified in the CurrentMdlOffset member": the list covers
   * CurrentMdlOffset + DataLength bytes from the start of CurrentMdl, and the miniport skips the
   * offset. Flags NDIS_SG_LIST_WRITE_TO_DEVICE makes it a transfer to the device (the send
   * path); clear, the device writes into the NET_BUFFER. A ScatterGatherListBuffer too small for
   * the list is not used: NDIS allocates one.
   */
  NdisMAllocateNetBufferSGList(NdisMiniportDmaHandle: unknown, NetBuffer: NET_BUFFER, Context: unknown, Flags: number, ScatterGatherListBuffer: SCATTER_GATHER_LIST | null, ScatterGatherListBufferSize: number): number {
    const ctx = this.ctx
    const k = ctx.kernel
    k.log.throwIfStopped()
    const reg = this.registration('NdisMAllocateNetBufferSGList', NdisMiniportDmaHandle)
    if (reg === null) return NDIS_STATUS.NDIS_STATUS_FAILURE
    checkDmaIrql(k, 'NdisMAllocateNetBufferSGList', DISPATCH_LEVEL)
    const mdl = NetBuffer?.CurrentMdl
    if (mdl === null || mdl === undefined || k.mdl.stateOf(mdl) === undefined) {
      ctx.violation('ndis-bad-argument', 'NdisMAllocateNetBufferSGList: the NET_BUFFER has no MDL this system allocated in CurrentMdl (NdisAllocateNetBufferAndNetBufferList with an MdlChain from NdisAllocateMdl)')
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    const call = k.calls.allocation('NdisMAllocateNetBufferSGList', NetBuffer.DataLength)
    if (call.fail) return NDIS_STATUS.NDIS_STATUS_RESOURCES
    const currentVa = mdl.StartVa + mdl.ByteOffset
    const length = NetBuffer.CurrentMdlOffset + NetBuffer.DataLength
    const fits = ScatterGatherListBuffer !== null && ScatterGatherListBuffer !== undefined && ScatterGatherListBufferSize >= sgListSize(Math.max(0, mapRegistersFor(mdl, currentVa, length)))
    const { status } = ctx.hal.scatterGather(reg.adapter, {
      mdl,
      currentVa,
      length,
      writeToDevice: (Flags & NDIS_SG_DMA.NDIS_SG_LIST_WRITE_TO_DEVICE) !== 0,
      routine: 'NdisMAllocateNetBufferSGList',
      site: call.site,
      into: fits ? ScatterGatherListBuffer : null,
      callback: reg.description.ProcessSGListHandler,
      callbackName: 'MiniportProcessSGList',
      deviceObject: ctx.pdo,
      context: Context,
    })
    k.log.throwIfStopped()
    if (status === NT_STATUS.STATUS_SUCCESS) return NDIS_STATUS.NDIS_STATUS_SUCCESS
    return status === NT_STATUS.STATUS_INSUFFICIENT_RESOURCES ? NDIS_STATUS.NDIS_STATUS_RESOURCES : NDIS_STATUS.NDIS_STATUS_FAILURE
  }

  /** NdisMFreeNetBufferSGList: NDIS puts the list back in the direction it was made for. */
  NdisMFreeNetBufferSGList(NdisMiniportDmaHandle: unknown, pSGL: SCATTER_GATHER_LIST, _NetBuffer: NET_BUFFER): void {
    const ctx = this.ctx
    ctx.kernel.log.throwIfStopped()
    const reg = this.registration('NdisMFreeNetBufferSGList', NdisMiniportDmaHandle)
    if (reg === null) return
    checkDmaIrql(ctx.kernel, 'NdisMFreeNetBufferSGList', DISPATCH_LEVEL)
    putScatterGather(reg.adapter, pSGL, null, 'NdisMFreeNetBufferSGList')
    ctx.kernel.log.throwIfStopped()
  }

  /** NdisMGetDmaAlignment (PASSIVE_LEVEL, after NdisMRegisterScatterGatherDma): the HAL's GetDmaAlignment. */
  NdisMGetDmaAlignment(MiniportAdapterHandle: unknown): number {
    const ctx = this.ctx
    ctx.kernel.log.throwIfStopped()
    ctx.checkHandle('NdisMGetDmaAlignment', MiniportAdapterHandle)
    checkDmaIrql(ctx.kernel, 'NdisMGetDmaAlignment', PASSIVE_LEVEL)
    if (ctx.sgDma === null) ctx.callOrder('NdisMGetDmaAlignment before NdisMRegisterScatterGatherDma: "A miniport driver must have already called NdisMRegisterScatterGatherDma"')
    return DMA_ALIGNMENT_X64
  }

  /** The SG DMA registration `handle` names, or null after reporting a handle that is not it. */
  private registration(routine: string, handle: unknown, also = ''): SgDmaRegistration | null {
    const reg = this.ctx.sgDma
    if (reg !== null && handle === reg.handle) return reg
    this.ctx.violation('ndis-bad-handle', `${routine}: not the handle NdisMRegisterScatterGatherDma returned${also}`)
    return null
  }
}

/**
 * NdisMFreeSharedMemory (NDIS 6 and 5.1): the adapter's common buffer is freed; shared memory
 * already freed is a bug check NDIS itself raises (bug check 0x7C reference, 0x03
 * NDIS_BUGCHECK_FREE_INVALID_SHARED_MEM: p2 the adapter block, p3 the page the shared memory was
 * allocated from, p4 its virtual address), not only Driver Verifier's 0xE6/0x03.
 */
export function freeSharedMemory(ctx: NdisContext, adapter: AdapterState, length: number, cached: boolean, va: number, pa: number): void {
  const freed = adapter.commonBuffers.has(va) ? undefined : adapter.freedCommonBuffers.get(va)
  if (freed !== undefined) {
    ctx.kernel.log.fatal({
      kind: 'common-buffer-double-free',
      code: BUGCHECK.BUGCODE_NDIS_DRIVER,
      params: [NDIS_BUGCHECK.freeInvalidSharedMemory, 0, freed.memory.pfns[0]! * PAGE_SIZE, va],
      message: `NdisMFreeSharedMemory of the ${formatBytes(freed.length)} of shared memory at VA ${hex(va)}, which was already freed: NDIS bug checks (0x7C/0x03 NDIS_BUGCHECK_FREE_INVALID_SHARED_MEM)`,
      details: { va, length: freed.length, allocatedAt: freed.site ?? null },
    })
  }
  freeCommonBuffer(adapter, length, pa, va, cached, 'NdisMFreeSharedMemory')
}
