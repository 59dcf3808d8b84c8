// The DMA version 3 scatter/gather routines (an adapter from a DEVICE_DESCRIPTION_VERSION3
// description): InitializeDmaTransferContext, GetScatterGatherListEx, BuildScatterGatherListEx
// and FreeAdapterObject, as their WDK pages say:
//  - the DMA transfer context was "initialized by a previous call to InitializeDmaTransferContext"
//    and "must be unique across all adapter allocation requests";
//  - Offset is "a byte offset from the start of the buffer in the first MDL in the MDL chain",
//    valid up to the chain's N - 1, and Length 1 .. N - Offset;
//  - DMA_SYNCHRONOUS_CALLBACK: "If the requested resources are not immediately available ... fails
//    and returns STATUS_INSUFFICIENT_RESOURCES"; with it the routine may be NULL, and then "the
//    driver must call the FreeAdapterObject routine"; without it the routine must not be NULL.
import { NTSTATUS } from '../kernel/wdm.js'
import { DMA_FLAGS, type DmaTransferContext, type DriverListControl, type SCATTER_GATHER_LIST } from '../kernel/hal.js'
import { CHAIN_LIMIT, type MDL } from '../kernel/mdl.js'
import type { AdapterState } from './adapter.js'
import type { HalDma } from './api.js'
import { mapRegistersFor, pagesTouched, sgListSize, type SgCallback } from './scatter-gather.js'
import { DMA_VIOLATION, dmaBadArgument, dmaViolation } from './violations.js'

/** Transfer contexts InitializeDmaTransferContext prepared, by the adapter they belong to. */
const contexts = new WeakMap<object, AdapterState>()
/** Contexts of requests still waiting for map registers. */
const pending = new WeakSet<object>()

export function initializeDmaTransferContext(adapter: AdapterState, context: DmaTransferContext): number {
  if (typeof context !== 'object' || context === null) {
    dmaBadArgument(adapter.platform.kernel, 'InitializeDmaTransferContext', 'DmaTransferContext is not driver storage of DMA_TRANSFER_CONTEXT_SIZE_V1 bytes')
    return NTSTATUS.STATUS_INVALID_PARAMETER
  }
  contexts.set(context, adapter)
  return NTSTATUS.STATUS_SUCCESS
}

export interface SgExCall {
  readonly routine: 'GetScatterGatherListEx' | 'BuildScatterGatherListEx'
  readonly deviceObject: unknown
  readonly transferContext: DmaTransferContext
  readonly mdl: MDL
  readonly offset: number
  readonly length: number
  readonly flags: number
  readonly executionRoutine: DriverListControl | null
  readonly context: unknown
  readonly writeToDevice: boolean
  /** BuildScatterGatherListEx: the caller's buffer and its size. */
  readonly buffer?: { readonly list: SCATTER_GATHER_LIST | null; readonly bytes: number }
}

export function scatterGatherEx(hal: HalDma, adapter: AdapterState, call: SgExCall): { status: number; scatterGatherList: SCATTER_GATHER_LIST | null } {
  const k = adapter.platform.kernel
  const none = (status: number): { status: number; scatterGatherList: null } => ({ status, scatterGatherList: null })
  const { routine } = call
  if (contexts.get(call.transferContext) !== adapter) {
    dmaBadArgument(k, routine, 'DmaTransferContext was not initialized for this adapter by InitializeDmaTransferContext')
    return none(NTSTATUS.STATUS_INVALID_PARAMETER)
  }
  if (pending.has(call.transferContext)) {
    dmaBadArgument(k, routine, 'DmaTransferContext belongs to a request still waiting for map registers: each request needs its own')
    return none(NTSTATUS.STATUS_INVALID_PARAMETER)
  }
  const sync = (call.flags & DMA_FLAGS.DMA_SYNCHRONOUS_CALLBACK) !== 0
  if (call.executionRoutine === null && !sync) {
    dmaBadArgument(k, routine, 'ExecutionRoutine is NULL without DMA_SYNCHRONOUS_CALLBACK: the list would have nowhere to go')
    return none(NTSTATUS.STATUS_INVALID_PARAMETER)
  }
  if (k.mdl.stateOf(call.mdl) === undefined) return none(hal.scatterGather(adapter, request(call, call.mdl, 0, null, undefined), false).status)
  // Offset counts from the first MDL's first byte through the chain.
  let mdl = call.mdl
  let offset = call.offset
  for (let links = 0; Number.isSafeInteger(offset) && offset >= mdl.ByteCount && mdl.Next !== null && mdl.Next !== undefined && links < CHAIN_LIMIT; links++) {
    offset -= mdl.ByteCount
    mdl = mdl.Next
  }
  const currentVa = mdl.StartVa + mdl.ByteOffset + offset
  if (call.buffer !== undefined) {
    const registers = mapRegistersFor(mdl, currentVa, call.length)
    if (call.buffer.list === null || call.buffer.bytes < sgListSize(registers < 0 ? pagesTouched(currentVa, call.length) : registers)) return none(NTSTATUS.STATUS_BUFFER_TOO_SMALL)
  }
  const ctx = k.calls.allocation(routine, call.length)
  if (ctx.fail) return none(NTSTATUS.STATUS_INSUFFICIENT_RESOURCES)
  const transferContext = call.transferContext
  const executionRoutine = call.executionRoutine
  const callback: SgCallback | null = executionRoutine === null ? null : (d, _r, sgl, c) => {
    pending.delete(transferContext)
    executionRoutine(d, null, sgl, c)
  }
  const { status, sgl } = hal.scatterGather(adapter, request(call, mdl, currentVa, callback, ctx.site), !sync)
  k.log.throwIfStopped()
  if (status !== NTSTATUS.STATUS_SUCCESS) return none(status)
  if (sgl === null) pending.add(transferContext)
  // Synchronous without a routine: the driver uses the list now and frees the adapter object itself.
  if (sync && executionRoutine === null) adapter.adapterObjectsHeld++
  return { status, scatterGatherList: sgl }
}

function request(call: SgExCall, mdl: MDL, currentVa: number, callback: SgCallback | null, site: Parameters<HalDma['scatterGather']>[1]['site']): Parameters<HalDma['scatterGather']>[1] {
  return {
    mdl,
    currentVa,
    length: call.length,
    writeToDevice: call.writeToDevice === true,
    routine: call.routine,
    site,
    ...(call.buffer === undefined ? {} : { into: call.buffer.list }),
    callback,
    callbackName: `ExecutionRoutine (${call.routine})`,
    deviceObject: call.deviceObject,
    context: call.context,
  }
}

/** FreeAdapterObject: the adapter object a synchronous Ex call without a routine left to the driver. */
export function freeAdapterObject(adapter: AdapterState, _allocationAction: number): void {
  if (adapter.adapterObjectsHeld === 0) {
    dmaViolation(adapter.platform.kernel, 'dma-bad-argument', [DMA_VIOLATION.adapterChannelDoubleFree, 1, 0, 0], 'FreeAdapterObject with no adapter object held: only a GetScatterGatherListEx / BuildScatterGatherListEx with DMA_SYNCHRONOUS_CALLBACK and no ExecutionRoutine leaves one to the driver (0xE6/0x04)')
    return
  }
  adapter.adapterObjectsHeld--
}
