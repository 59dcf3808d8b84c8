// IoGetDmaAdapter and the DMA_OPERATIONS a driver calls through the adapter, adapter first, as
// in C. Each driver-facing routine checks its IRQL (0xE6/0x13), takes its fault decision once
// through the kernel's hook, and then uses the internal services that the NDIS layer also uses.
import { BUGCHECK } from '../kernel/bugcheck.js'
import { siteText, type CallSite } from '../kernel/calls.js'
import { DISPATCH_LEVEL, PASSIVE_LEVEL, irqlName } from '../kernel/irql.js'
import type { MDL } from '../kernel/mdl.js'
import { siteHere } from '../kernel/sites.js'
import { DEVICE_DESCRIPTION_VERSION, NT_STATUS } from '../ndis/constants.js'
import type { DMA_ADAPTER, DMA_OPERATIONS, DriverListControl } from '../ndis/api-types.js'
import type { DEVICE_DESCRIPTION, SCATTER_GATHER_LIST } from '../ndis/types.js'
import { AdapterState, DMA_VIOLATION, dmaBadArgument, type DmaPlatform } from './adapter.js'
import { allocateCommonBuffer, freeCommonBuffer } from './common-buffer.js'
import { buildScatterGather, pagesTouched, putScatterGather, sgListSize, type SgCallback, type SgRequest } from './scatter-gather.js'

/** The PDO of a PCI function, as NdisMGetDeviceProperty hands it out. */
export interface PhysicalDeviceObject {
  readonly DeviceName: string
  readonly bdf: string
  readonly requesterId: number
}

export function isPdo(x: unknown): x is PhysicalDeviceObject {
  return typeof x === 'object' && x !== null && typeof (x as PhysicalDeviceObject).requesterId === 'number' && typeof (x as PhysicalDeviceObject).bdf === 'string'
}

/**
 * The address width a DEVICE_DESCRIPTION asks for, or null when it names none (wdm.h,
 * DEVICE_DESCRIPTION): version 3 takes DmaAddressWidth (1..64) and ignores both flags;
 * before it, Dma64BitAddresses overrides Dma32BitAddresses, and a PCI scatter/gather bus
 * master is a 32-bit device even with Dma32BitAddresses clear; otherwise 24 bits (ISA).
 */
export function addressWidth(d: DEVICE_DESCRIPTION): number | null {
  if (d.Version >= DEVICE_DESCRIPTION_VERSION.DEVICE_DESCRIPTION_VERSION3) {
    const width = d.DmaAddressWidth
    return width !== undefined && Number.isInteger(width) && width >= 1 && width <= 64 ? width : null
  }
  if (d.Dma64BitAddresses) return 64
  if (d.Dma32BitAddresses || (d.ScatterGather && d.InterfaceType === DEVICE_DESCRIPTION_VERSION.PCIBus)) return 32
  return 24
}

export class HalDma {
  readonly platform: DmaPlatform
  private readonly states = new WeakMap<DMA_ADAPTER, AdapterState>()
  readonly adapters: AdapterState[] = []

  constructor(platform: DmaPlatform) {
    this.platform = platform
  }

  stateOf(adapter: DMA_ADAPTER): AdapterState | undefined {
    return this.states.get(adapter)
  }

  /** The internal IoGetDmaAdapter for a description `addressWidth` accepts: no fault decision, no IRQL check. */
  createAdapter(pdo: PhysicalDeviceObject, description: DEVICE_DESCRIPTION, width: number): AdapterState {
    const ops = this.operations()
    const object: DMA_ADAPTER = { Version: 1, Size: 16, DmaOperations: ops }
    const state = new AdapterState(this.platform, object, pdo.bdf, pdo.requesterId, width, Math.max(1, description.MaximumLength))
    this.states.set(object, state)
    this.adapters.push(state)
    return state
  }

  /** IoGetDmaAdapter (PASSIVE_LEVEL). */
  IoGetDmaAdapter(PhysicalDeviceObject: object, DeviceDescription: DEVICE_DESCRIPTION): { dmaAdapter: DMA_ADAPTER | null; numberOfMapRegisters: number } {
    const k = this.platform.kernel
    k.log.throwIfStopped()
    this.checkIrql('IoGetDmaAdapter', PASSIVE_LEVEL)
    const none = { dmaAdapter: null, numberOfMapRegisters: 0 }
    if (!isPdo(PhysicalDeviceObject)) {
      this.misuse('IoGetDmaAdapter', 'PhysicalDeviceObject is not a PDO (get it from NdisMGetDeviceProperty)')
      return none
    }
    if (typeof DeviceDescription !== 'object' || DeviceDescription === null || !DeviceDescription.Master) {
      this.misuse('IoGetDmaAdapter', 'DEVICE_DESCRIPTION must describe a bus-master device (Master = TRUE)')
      return none
    }
    const width = addressWidth(DeviceDescription)
    if (width === null) {
      this.misuse('IoGetDmaAdapter', `DEVICE_DESCRIPTION_VERSION3 needs DmaAddressWidth in 1..64 (got ${String(DeviceDescription.DmaAddressWidth)}); Dma32BitAddresses and Dma64BitAddresses are not used by version 3`)
      return none
    }
    const ctx = k.calls.allocation('IoGetDmaAdapter', DeviceDescription.MaximumLength)
    if (ctx.fail) return none
    const state = this.createAdapter(PhysicalDeviceObject, DeviceDescription, width)
    return { dmaAdapter: state.object, numberOfMapRegisters: state.mapRegisters }
  }

  /** Hands a finished list to the driver routine the request names, at DISPATCH_LEVEL. */
  deliver(req: SgRequest, sgl: SCATTER_GATHER_LIST): void {
    this.platform.caller.call4(req.callbackName, DISPATCH_LEVEL, req.callback, req.deviceObject, null, sgl, req.context)
  }

  /**
   * Builds a list and hands it to the request's callback now, or when map registers free up.
   * Returns the NTSTATUS for the caller: success (delivered or queued), insufficient
   * resources, invalid.
   */
  scatterGather(state: AdapterState, req: SgRequest): number {
    // An Mdl the kernel never made (NULL, an object of the driver's) describes no pages.
    if (this.platform.kernel.mdl.stateOf(req.mdl) === undefined) {
      this.misuse(req.routine, 'Mdl is not an MDL this system allocated (IoAllocateMdl, NdisAllocateMdl, MmAllocatePagesForMdl)')
      return NT_STATUS.STATUS_INVALID_PARAMETER
    }
    if (!Number.isSafeInteger(req.length) || req.length < 0 || !Number.isSafeInteger(req.currentVa)) {
      this.misuse(req.routine, `Length ${req.length} and CurrentVa ${req.currentVa} must be a byte count and an address`)
      return NT_STATUS.STATUS_INVALID_PARAMETER
    }
    // Requests are served in order, as the HAL's adapter queue does: while earlier ones wait
    // for map registers, a new one that needs registers waits behind them.
    const out = buildScatterGather(state, req, state.waiting.length > 0)
    if (out === 'wait') {
      state.waiting.push(() => {
        const later = buildScatterGather(state, req)
        if (later === 'wait') return false
        if ('fail' in later) this.misuse(req.routine, `a transfer that waited for map registers could not be mapped: ${later.fail}`)
        else this.deliver(req, later.sgl)
        return true
      })
      return NT_STATUS.STATUS_SUCCESS
    }
    if ('fail' in out) {
      if (/MDL|CurrentVa|Length/.test(out.fail)) {
        this.misuse(req.routine, out.fail)
        return NT_STATUS.STATUS_INVALID_PARAMETER
      }
      return NT_STATUS.STATUS_INSUFFICIENT_RESOURCES
    }
    this.deliver(req, out.sgl)
    return NT_STATUS.STATUS_SUCCESS
  }

  private operations(): DMA_OPERATIONS {
    const k = this.platform.kernel
    const state = (routine: string, adapter: DMA_ADAPTER): AdapterState | null => {
      k.log.throwIfStopped()
      const s = this.states.get(adapter)
      if (s === undefined) {
        this.misuse(routine, 'DmaAdapter is not an adapter from IoGetDmaAdapter')
        return null
      }
      if (s.released) {
        s.badArgument(routine, 'the adapter was already released with PutDmaAdapter')
        return null
      }
      return s
    }
    const noBuffer = { virtualAddress: 0, logicalAddress: 0 }
    return {
      PutDmaAdapter: (adapter) => {
        const s = state('PutDmaAdapter', adapter)
        if (s === null) return
        this.checkIrql('PutDmaAdapter', PASSIVE_LEVEL)
        s.release()
      },
      AllocateCommonBuffer: (adapter, length, cacheEnabled) => {
        const s = state('AllocateCommonBuffer', adapter)
        if (s === null) return noBuffer
        this.checkIrql('AllocateCommonBuffer', PASSIVE_LEVEL)
        const ctx = k.calls.allocation('AllocateCommonBuffer', length)
        if (ctx.fail) return noBuffer
        const cb = allocateCommonBuffer(s, length, cacheEnabled, 'AllocateCommonBuffer', siteText(ctx.site))
        return cb === null ? noBuffer : { virtualAddress: cb.va, logicalAddress: cb.logical }
      },
      AllocateCommonBufferEx: (adapter, maximumAddress, length, cacheEnabled) => {
        const s = state('AllocateCommonBufferEx', adapter)
        if (s === null) return noBuffer
        this.checkIrql('AllocateCommonBufferEx', PASSIVE_LEVEL)
        const ctx = k.calls.allocation('AllocateCommonBufferEx', length)
        if (ctx.fail) return noBuffer
        const cb = allocateCommonBuffer(s, length, cacheEnabled, 'AllocateCommonBufferEx', siteText(ctx.site), maximumAddress ?? undefined)
        return cb === null ? noBuffer : { virtualAddress: cb.va, logicalAddress: cb.logical }
      },
      FreeCommonBuffer: (adapter, length, logical, va, cacheEnabled) => {
        const s = state('FreeCommonBuffer', adapter)
        if (s === null) return
        this.checkIrql('FreeCommonBuffer', PASSIVE_LEVEL)
        freeCommonBuffer(s, length, logical, va, cacheEnabled, 'FreeCommonBuffer')
      },
      GetScatterGatherList: (adapter, deviceObject, mdl, currentVa, length, executionRoutine, context, writeToDevice) => {
        const s = state('GetScatterGatherList', adapter)
        if (s === null) return NT_STATUS.STATUS_INVALID_PARAMETER
        this.checkIrql('GetScatterGatherList', DISPATCH_LEVEL)
        const ctx = k.calls.allocation('GetScatterGatherList', length)
        if (ctx.fail) return NT_STATUS.STATUS_INSUFFICIENT_RESOURCES
        const req: SgRequest = { mdl, currentVa, length, writeToDevice, routine: 'GetScatterGatherList', site: ctx.site, callback: executionRoutine as SgCallback, callbackName: 'ExecutionRoutine (GetScatterGatherList)', deviceObject, context }
        const status = this.scatterGather(s, req)
        k.log.throwIfStopped()
        return status
      },
      BuildScatterGatherList: (adapter, deviceObject, mdl, currentVa, length, executionRoutine, context, writeToDevice, buffer, bufferLength) => {
        const s = state('BuildScatterGatherList', adapter)
        if (s === null) return NT_STATUS.STATUS_INVALID_PARAMETER
        this.checkIrql('BuildScatterGatherList', DISPATCH_LEVEL)
        if (bufferLength < sgListSize(pagesTouched(currentVa, length))) return NT_STATUS.STATUS_BUFFER_TOO_SMALL
        const ctx = k.calls.allocation('BuildScatterGatherList', length)
        if (ctx.fail) return NT_STATUS.STATUS_INSUFFICIENT_RESOURCES
        const req: SgRequest = { mdl, currentVa, length, writeToDevice, routine: 'BuildScatterGatherList', site: ctx.site, into: buffer, callback: executionRoutine as SgCallback, callbackName: 'ExecutionRoutine (BuildScatterGatherList)', deviceObject, context }
        const status = this.scatterGather(s, req)
        k.log.throwIfStopped()
        return status
      },
      PutScatterGatherList: (adapter, sgl, writeToDevice) => {
        const s = state('PutScatterGatherList', adapter)
        if (s === null) return
        this.checkIrql('PutScatterGatherList', DISPATCH_LEVEL)
        putScatterGather(s, sgl, writeToDevice, 'PutScatterGatherList')
        k.log.throwIfStopped()
      },
      CalculateScatterGatherList: (adapter, _mdl, currentVa, length) => {
        const s = state('CalculateScatterGatherList', adapter)
        const pages = pagesTouched(currentVa, length)
        if (s === null) return { status: NT_STATUS.STATUS_INVALID_PARAMETER, scatterGatherListSize: 0, numberOfMapRegisters: 0 }
        return { status: NT_STATUS.STATUS_SUCCESS, scatterGatherListSize: sgListSize(pages), numberOfMapRegisters: pages }
      },
      GetDmaAlignment: () => 1,
    }
  }

  /** Driver Verifier's DMA IRQL check (0xE6/0x13): a violation; the call goes on. */
  checkIrql(routine: string, maximum: number): void {
    const k = this.platform.kernel
    if (k.irql <= maximum) return
    const site = siteHere()
    k.log.violation({
      kind: 'irql-violation',
      code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION,
      params: [DMA_VIOLATION.wrongIrql, k.irql, maximum, 0],
      message: `${routine} at ${irqlName(k.irql)}: it must be called at ${irqlName(maximum)}${maximum === PASSIVE_LEVEL ? '' : ' or below'}`,
      ...(site === undefined ? {} : { site }),
      details: { routine, irql: k.irql, maximum },
    })
  }

  private misuse(routine: string, message: string): void {
    dmaBadArgument(this.platform.kernel, routine, message)
  }
}
