// IoGetDmaAdapter and the DMA_OPERATIONS a driver calls through the adapter, adapter first, as
// in C. Each driver-facing routine checks its IRQL (0xE6/0x13), takes its fault decision once
// through the kernel's hook, and then uses the internal services that the NDIS layer also uses.
import { PAGE_SIZE } from '../hw/address.js'
import { NTSTATUS, POOL_TYPE } from '../kernel/wdm.js'
import { siteText } from '../kernel/calls.js'
import {
  DEVICE_DESCRIPTION_MAX_VERSION, DEVICE_DESCRIPTION_VERSION, type DEVICE_DESCRIPTION, type DMA_ADAPTER, type DMA_OPERATIONS,
  type SCATTER_GATHER_LIST,
} from '../kernel/hal.js'
import { DISPATCH_LEVEL, PASSIVE_LEVEL } from '../kernel/irql.js'
import type { MDL } from '../kernel/mdl.js'
import { tagValue } from '../kernel/tags.js'
import type { Kernel } from '../kernel/kernel.js'
import { AdapterState, type DmaPlatform } from './adapter.js'
import type { DmaVerifier } from './verifier.js'
import { allocateCommonBuffer, freeCommonBuffer } from './common-buffer.js'
import { reportMapFailure } from './map-failures.js'
import { buildScatterGather, mapRegistersFor, pagesTouched, putScatterGather, sgListSize, type SgCallback, type SgRequest } from './scatter-gather.js'
import { DMA_VIOLATION, checkDmaIrql, dmaBadArgument } from './violations.js'
import { allocateAdapterChannel, freeAdapterChannel, freeMapRegisters, registerFile } from './adapter-channel.js'
import { flushAdapterBuffers, mapTransfer } from './packet.js'
import { freeAdapterObject, initializeDmaTransferContext, scatterGatherEx } from './sg-ex.js'

/** The PDO of a PCI function, as NdisMGetDeviceProperty hands it out. */
export interface PhysicalDeviceObject {
  readonly DeviceName: string
  readonly bdf: string
  readonly requesterId: number
  /**
   * Where its DEVICE_OBJECT lives (nonpaged pool): what a bug check names as "device object".
   * 0 until a driver is loaded for the device (createDeviceObject): a bare machine allocates nothing.
   */
  address: number
}

/** sizeof(DEVICE_OBJECT) on x64, and the I/O manager's pool tag for device objects ("Devi"). */
const DEVICE_OBJECT_BYTES = 0x150
const DEVICE_OBJECT_TAG = tagValue('iveD')

/**
 * The PCI bus driver's DEVICE_OBJECT for a function, made when a driver is loaded for it: a
 * block of the system's nonpaged pool (not the driver's), registered with the DMA verifier so an
 * IOMMU fault names it (0xE6/0x26 parameter 2).
 */
export function createDeviceObject(kernel: Kernel, verifier: DmaVerifier, pdo: PhysicalDeviceObject): void {
  if (pdo.address !== 0) return
  pdo.address = kernel.pool.allocate(POOL_TYPE.NonPagedPoolNx, DEVICE_OBJECT_BYTES, DEVICE_OBJECT_TAG, { driver: false })
  if (pdo.address !== 0) verifier.addDevice(pdo.bdf, pdo.address)
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

/**
 * What GetDmaAlignment (and NdisMGetDmaAlignment) report: 1 byte. ntddk.h defines
 * HalGetDmaAlignmentRequirement() as 1L for _M_IX86 and _M_AMD64 — x86 and x64 DMA is cache
 * coherent and places no alignment requirement on DMA buffers — and IoCreateDevice sets a
 * device object's AlignmentRequirement (that value minus one) to FILE_BYTE_ALIGNMENT on them.
 */
export const DMA_ALIGNMENT_X64 = 1

/** The adapter object's storage: the DMA_ADAPTER header (Version, Size, DmaOperations) on x64. */
const ADAPTER_OBJECT_BYTES = 16
/** Its pool tag ("Dma " in a dump). */
const ADAPTER_TAG = tagValue(' amD')

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

  /**
   * The internal IoGetDmaAdapter for a description `addressWidth` accepts: no fault decision,
   * no IRQL check. Null when there is no pool for the adapter object.
   */
  createAdapter(pdo: PhysicalDeviceObject, description: DEVICE_DESCRIPTION, width: number): AdapterState | null {
    const address = this.platform.kernel.pool.allocate(POOL_TYPE.NonPagedPoolNx, ADAPTER_OBJECT_BYTES, ADAPTER_TAG, { driver: false })
    if (address === 0) return null
    const ops = this.operations(description.Version >= DEVICE_DESCRIPTION_VERSION.DEVICE_DESCRIPTION_VERSION3)
    const object: DMA_ADAPTER = { Version: 1, Size: ADAPTER_OBJECT_BYTES, DmaOperations: ops }
    const state = new AdapterState(this.platform, object, address, pdo.bdf, pdo.requesterId, width, Math.max(1, description.MaximumLength))
    state.scatterGather = description.ScatterGather === true
    this.states.set(object, state)
    this.adapters.push(state)
    return state
  }

  /** IoGetDmaAdapter (PASSIVE_LEVEL). */
  IoGetDmaAdapter(PhysicalDeviceObject: object, DeviceDescription: DEVICE_DESCRIPTION): { dmaAdapter: DMA_ADAPTER | null; numberOfMapRegisters: number } {
    const k = this.platform.kernel
    k.log.throwIfStopped()
    checkDmaIrql(k, 'IoGetDmaAdapter', PASSIVE_LEVEL)
    const none = { dmaAdapter: null, numberOfMapRegisters: 0 }
    if (!isPdo(PhysicalDeviceObject)) {
      this.misuse('IoGetDmaAdapter', 'PhysicalDeviceObject is not a PDO (get it from NdisMGetDeviceProperty)')
      return none
    }
    if (typeof DeviceDescription !== 'object' || DeviceDescription === null || !DeviceDescription.Master) {
      this.misuse('IoGetDmaAdapter', 'DEVICE_DESCRIPTION must describe a bus-master device (Master = TRUE)')
      return none
    }
    // Bug check 0xE6/0x25 "Unknown device description version": the HAL knows versions 0 to 3.
    const version = DeviceDescription.Version
    if (!(Number.isInteger(version) && version >= 0 && version <= DEVICE_DESCRIPTION_MAX_VERSION)) {
      this.misuse('IoGetDmaAdapter', `DEVICE_DESCRIPTION Version ${String(version)} is not a version the HAL knows (DEVICE_DESCRIPTION_VERSION .. DEVICE_DESCRIPTION_VERSION3): no adapter (0xE6/0x25)`, [DMA_VIOLATION.unknownDescriptionVersion, 0, 0, 0])
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
    if (state === null) return none
    return { dmaAdapter: state.object, numberOfMapRegisters: state.mapRegisters }
  }

  /** KeFlushIoBuffers (<= DISPATCH_LEVEL): x64 DMA is cache coherent, so there is nothing to flush; the MDL must be one. */
  KeFlushIoBuffers(Mdl: MDL, _ReadOperation: boolean, _DmaOperation: boolean): void {
    const k = this.platform.kernel
    k.log.throwIfStopped()
    checkDmaIrql(k, 'KeFlushIoBuffers', DISPATCH_LEVEL)
    if (k.mdl.stateOf(Mdl) === undefined) this.misuse('KeFlushIoBuffers', 'Mdl is not an MDL this system allocated')
  }

  /** Hands a finished list to the driver routine the request names, at DISPATCH_LEVEL. */
  deliver(req: SgRequest, sgl: SCATTER_GATHER_LIST): void {
    if (req.callback === null) return
    this.platform.caller.call4(req.callbackName, DISPATCH_LEVEL, req.callback, req.deviceObject, null, sgl, req.context)
  }

  /**
   * Builds a list and hands it to the request's callback now, or when map registers free up
   * (`wait` false: never later — the request fails instead). Returns the NTSTATUS for the
   * caller: success (delivered or queued) or the status the failure's reason gives.
   */
  scatterGather(state: AdapterState, req: SgRequest, wait = true): { status: number; sgl: SCATTER_GATHER_LIST | null } {
    const k = this.platform.kernel
    // An Mdl the kernel never made (NULL, an object of the driver's) describes no pages.
    if (k.mdl.stateOf(req.mdl) === undefined) return { status: reportMapFailure(k, req.routine, { reason: 'not-an-mdl' }), sgl: null }
    if (!Number.isSafeInteger(req.length) || req.length < 0 || !Number.isSafeInteger(req.currentVa)) {
      return { status: reportMapFailure(k, req.routine, { reason: 'not-a-range', currentVa: req.currentVa, length: req.length }), sgl: null }
    }
    // Requests are served in order, as the HAL's adapter queue does: while earlier ones wait
    // for map registers, a new one that needs registers waits behind them.
    const out = buildScatterGather(state, req, state.waiting.length > 0)
    if (out === 'wait') {
      if (!wait) return { status: NTSTATUS.STATUS_INSUFFICIENT_RESOURCES, sgl: null }
      state.waiting.push(() => {
        const later = buildScatterGather(state, req)
        if (later === 'wait') return false
        if ('fail' in later) reportMapFailure(k, req.routine, later.fail)
        else this.deliver(req, later.sgl)
        return true
      })
      return { status: NTSTATUS.STATUS_SUCCESS, sgl: null }
    }
    if ('fail' in out) return { status: reportMapFailure(k, req.routine, out.fail), sgl: null }
    this.deliver(req, out.sgl)
    return { status: NTSTATUS.STATUS_SUCCESS, sgl: out.sgl }
  }

  /**
   * The adapter a DMA routine was called through, or null after reporting why it cannot be
   * used: not an adapter at all (0xE6/0x19, as for a NULL one) or already released (0xE6/0x18).
   */
  adapterFor(routine: string, adapter: DMA_ADAPTER): AdapterState | null {
    this.platform.kernel.log.throwIfStopped()
    const s = this.states.get(adapter)
    if (s === undefined) {
      this.misuse(routine, 'DmaAdapter is not an adapter from IoGetDmaAdapter (0xE6/0x19)', [DMA_VIOLATION.nullAdapter, 0, 0, 0])
      return null
    }
    if (s.released) {
      this.misuse(routine, 'the adapter was already released with PutDmaAdapter (0xE6/0x18)', [DMA_VIOLATION.adapterReleased, s.address, 0, 0])
      return null
    }
    return s
  }

  private operations(version3: boolean): DMA_OPERATIONS {
    const k = this.platform.kernel
    const noBuffer = { virtualAddress: 0, logicalAddress: 0 }
    const ops: DMA_OPERATIONS = {
      PutDmaAdapter: (adapter) => {
        const s = this.adapterFor('PutDmaAdapter', adapter)
        if (s === null) return
        checkDmaIrql(k, 'PutDmaAdapter', PASSIVE_LEVEL)
        s.release()
      },
      AllocateCommonBuffer: (adapter, length, cacheEnabled) => {
        const s = this.adapterFor('AllocateCommonBuffer', adapter)
        if (s === null) return noBuffer
        checkDmaIrql(k, 'AllocateCommonBuffer', PASSIVE_LEVEL)
        const ctx = k.calls.allocation('AllocateCommonBuffer', length)
        if (ctx.fail) return noBuffer
        const cb = allocateCommonBuffer(s, length, cacheEnabled, 'AllocateCommonBuffer', siteText(ctx.site))
        return cb === null ? noBuffer : { virtualAddress: cb.va, logicalAddress: cb.logical }
      },
      AllocateCommonBufferEx: (adapter, maximumAddress, length, cacheEnabled) => {
        const s = this.adapterFor('AllocateCommonBufferEx', adapter)
        if (s === null) return noBuffer
        checkDmaIrql(k, 'AllocateCommonBufferEx', PASSIVE_LEVEL)
        const ctx = k.calls.allocation('AllocateCommonBufferEx', length)
        if (ctx.fail) return noBuffer
        const cb = allocateCommonBuffer(s, length, cacheEnabled, 'AllocateCommonBufferEx', siteText(ctx.site), maximumAddress ?? undefined)
        return cb === null ? noBuffer : { virtualAddress: cb.va, logicalAddress: cb.logical }
      },
      FreeCommonBuffer: (adapter, length, logical, va, cacheEnabled) => {
        const s = this.adapterFor('FreeCommonBuffer', adapter)
        if (s === null) return
        checkDmaIrql(k, 'FreeCommonBuffer', PASSIVE_LEVEL)
        freeCommonBuffer(s, length, logical, va, cacheEnabled, 'FreeCommonBuffer')
      },
      GetScatterGatherList: (adapter, deviceObject, mdl, currentVa, length, executionRoutine, context, writeToDevice) => {
        const s = this.adapterFor('GetScatterGatherList', adapter)
        if (s === null) return NTSTATUS.STATUS_INVALID_PARAMETER
        checkDmaIrql(k, 'GetScatterGatherList', DISPATCH_LEVEL)
        const ctx = k.calls.allocation('GetScatterGatherList', length)
        if (ctx.fail) return NTSTATUS.STATUS_INSUFFICIENT_RESOURCES
        const req: SgRequest = { mdl, currentVa, length, writeToDevice: writeToDevice === true, routine: 'GetScatterGatherList', site: ctx.site, callback: executionRoutine as SgCallback, callbackName: 'ExecutionRoutine (GetScatterGatherList)', deviceObject, context }
        const { status } = this.scatterGather(s, req)
        k.log.throwIfStopped()
        return status
      },
      BuildScatterGatherList: (adapter, deviceObject, mdl, currentVa, length, executionRoutine, context, writeToDevice, buffer, bufferLength) => {
        const s = this.adapterFor('BuildScatterGatherList', adapter)
        if (s === null) return NTSTATUS.STATUS_INVALID_PARAMETER
        checkDmaIrql(k, 'BuildScatterGatherList', DISPATCH_LEVEL)
        if (bufferLength < this.listSize(mdl, currentVa, length)) return NTSTATUS.STATUS_BUFFER_TOO_SMALL
        const ctx = k.calls.allocation('BuildScatterGatherList', length)
        if (ctx.fail) return NTSTATUS.STATUS_INSUFFICIENT_RESOURCES
        const req: SgRequest = { mdl, currentVa, length, writeToDevice: writeToDevice === true, routine: 'BuildScatterGatherList', site: ctx.site, into: buffer, callback: executionRoutine as SgCallback, callbackName: 'ExecutionRoutine (BuildScatterGatherList)', deviceObject, context }
        const { status } = this.scatterGather(s, req)
        k.log.throwIfStopped()
        return status
      },
      PutScatterGatherList: (adapter, sgl, writeToDevice) => {
        const s = this.adapterFor('PutScatterGatherList', adapter)
        if (s === null) return
        checkDmaIrql(k, 'PutScatterGatherList', DISPATCH_LEVEL)
        putScatterGather(s, sgl, writeToDevice === true, 'PutScatterGatherList')
        k.log.throwIfStopped()
      },
      CalculateScatterGatherList: (adapter, mdl, currentVa, length) => {
        const s = this.adapterFor('CalculateScatterGatherList', adapter)
        if (s === null) return { status: NTSTATUS.STATUS_INVALID_PARAMETER, scatterGatherListSize: 0, numberOfMapRegisters: 0 }
        const registers = this.registersFor(mdl, currentVa, length)
        if (registers < 0) return { status: NTSTATUS.STATUS_INVALID_PARAMETER, scatterGatherListSize: 0, numberOfMapRegisters: 0 }
        return { status: NTSTATUS.STATUS_SUCCESS, scatterGatherListSize: sgListSize(registers), numberOfMapRegisters: registers }
      },
      GetDmaAlignment: (adapter) => {
        this.adapterFor('GetDmaAlignment', adapter)
        return DMA_ALIGNMENT_X64
      },

      // Packet-based DMA (packet.ts, adapter-channel.ts).
      AllocateAdapterChannel: (adapter, deviceObject, numberOfMapRegisters, executionRoutine, context) => {
        const s = this.adapterFor('AllocateAdapterChannel', adapter)
        if (s === null) return NTSTATUS.STATUS_INVALID_PARAMETER
        // "DISPATCH_LEVEL" (AllocateAdapterChannel, Requirements): exactly, as callers raise first.
        checkDmaIrql(k, 'AllocateAdapterChannel', DISPATCH_LEVEL, true)
        if (!(Number.isSafeInteger(numberOfMapRegisters) && numberOfMapRegisters > 0) || typeof executionRoutine !== 'function') {
          this.misuse('AllocateAdapterChannel', `NumberOfMapRegisters ${String(numberOfMapRegisters)} must be a positive count and ExecutionRoutine an AdapterControl routine`)
          return NTSTATUS.STATUS_INVALID_PARAMETER
        }
        const ctx = k.calls.allocation('AllocateAdapterChannel', numberOfMapRegisters * PAGE_SIZE)
        if (ctx.fail) return NTSTATUS.STATUS_INSUFFICIENT_RESOURCES
        const status = allocateAdapterChannel(s, deviceObject, numberOfMapRegisters, executionRoutine, context)
        k.log.throwIfStopped()
        return status
      },
      FreeAdapterChannel: (adapter) => {
        const s = this.adapterFor('FreeAdapterChannel', adapter)
        if (s === null) return
        checkDmaIrql(k, 'FreeAdapterChannel', DISPATCH_LEVEL, true)
        freeAdapterChannel(s)
      },
      FreeMapRegisters: (adapter, mapRegisterBase, numberOfMapRegisters) => {
        const s = this.adapterFor('FreeMapRegisters', adapter)
        if (s === null) return
        checkDmaIrql(k, 'FreeMapRegisters', DISPATCH_LEVEL, true)
        const file = registerFile(s, mapRegisterBase, 'FreeMapRegisters')
        if (file !== null) freeMapRegisters(file, numberOfMapRegisters)
      },
      MapTransfer: (adapter, mdl, mapRegisterBase, currentVa, length, writeToDevice) => {
        const s = this.adapterFor('MapTransfer', adapter)
        if (s === null) return { logicalAddress: 0, length: 0 }
        checkDmaIrql(k, 'MapTransfer', DISPATCH_LEVEL)
        const file = registerFile(s, mapRegisterBase, 'MapTransfer')
        if (file === null) return { logicalAddress: 0, length: 0 }
        return mapTransfer(file, mdl, currentVa, length, writeToDevice === true, 'MapTransfer')
      },
      FlushAdapterBuffers: (adapter, mdl, mapRegisterBase, currentVa, length, writeToDevice) => {
        const s = this.adapterFor('FlushAdapterBuffers', adapter)
        if (s === null) return false
        checkDmaIrql(k, 'FlushAdapterBuffers', DISPATCH_LEVEL)
        const file = registerFile(s, mapRegisterBase, 'FlushAdapterBuffers')
        return file !== null && flushAdapterBuffers(file, mdl, currentVa, length, writeToDevice === true, 'FlushAdapterBuffers')
      },
    }
    if (!version3) return ops
    // DMA version 3: "Drivers obtain the address of this routine by calling IoGetDmaAdapter with
    // the Version member of the DeviceDescription parameter set to DEVICE_DESCRIPTION_VERSION3".
    return {
      ...ops,
      InitializeDmaTransferContext: (adapter, transferContext) => {
        const s = this.adapterFor('InitializeDmaTransferContext', adapter)
        return s === null ? NTSTATUS.STATUS_INVALID_PARAMETER : initializeDmaTransferContext(s, transferContext)
      },
      GetScatterGatherListEx: (adapter, deviceObject, transferContext, mdl, offset, length, flags, executionRoutine, context, writeToDevice) => {
        const s = this.adapterFor('GetScatterGatherListEx', adapter)
        if (s === null) return { status: NTSTATUS.STATUS_INVALID_PARAMETER, scatterGatherList: null }
        checkDmaIrql(k, 'GetScatterGatherListEx', DISPATCH_LEVEL)
        return scatterGatherEx(this, s, { routine: 'GetScatterGatherListEx', deviceObject, transferContext, mdl, offset, length, flags, executionRoutine, context, writeToDevice })
      },
      BuildScatterGatherListEx: (adapter, deviceObject, transferContext, mdl, offset, length, flags, executionRoutine, context, writeToDevice, buffer, bufferLength) => {
        const s = this.adapterFor('BuildScatterGatherListEx', adapter)
        if (s === null) return { status: NTSTATUS.STATUS_INVALID_PARAMETER, scatterGatherList: null }
        checkDmaIrql(k, 'BuildScatterGatherListEx', DISPATCH_LEVEL)
        return scatterGatherEx(this, s, { routine: 'BuildScatterGatherListEx', deviceObject, transferContext, mdl, offset, length, flags, executionRoutine, context, writeToDevice, buffer: { list: buffer, bytes: bufferLength } })
      },
      FreeAdapterObject: (adapter, allocationAction) => {
        const s = this.adapterFor('FreeAdapterObject', adapter)
        if (s === null) return
        checkDmaIrql(k, 'FreeAdapterObject', DISPATCH_LEVEL)
        freeAdapterObject(s, allocationAction)
      },
    }
  }

  /**
   * The map registers (and so the most list elements) a transfer needs: one per page each MDL
   * of the chain touches from CurrentVa for Length (CalculateScatterGatherList walks the chain);
   * without an MDL, the pages of [CurrentVa, CurrentVa + Length). -1 when the MDL chain cannot
   * describe the transfer.
   */
  registersFor(mdl: MDL | null, currentVa: number, length: number): number {
    if (!Number.isSafeInteger(length) || length < 0 || !Number.isSafeInteger(currentVa)) return -1
    if (mdl === null || mdl === undefined) return pagesTouched(currentVa, length)
    if (this.platform.kernel.mdl.stateOf(mdl) === undefined) return -1
    return mapRegistersFor(mdl, currentVa, length)
  }

  /** The S/G list buffer a transfer needs (BuildScatterGatherList's STATUS_BUFFER_TOO_SMALL check). */
  private listSize(mdl: MDL, currentVa: number, length: number): number {
    const registers = this.registersFor(mdl, currentVa, length)
    return sgListSize(registers < 0 ? pagesTouched(currentVa, length) : registers)
  }

  private misuse(routine: string, message: string, params?: readonly [number, number, number, number]): void {
    dmaBadArgument(this.platform.kernel, routine, message, params)
  }
}
