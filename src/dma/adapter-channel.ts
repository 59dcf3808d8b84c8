// The adapter channel of packet-based DMA: AllocateAdapterChannel, the AdapterControl routine's
// IO_ALLOCATION_ACTION, FreeAdapterChannel and FreeMapRegisters (WDK pages of each, and
// DRIVER_CONTROL). "Only one DMA request can be queued for a device object at any one time"
// (AllocateAdapterChannel): a second request while the channel is allocated or requested is
// 0xE6/0x0B. When the channel or the map registers are busy, the request waits in the adapter's
// queue, in order with scatter/gather requests, and the routine runs when they come back.
import { NTSTATUS } from '../kernel/wdm.js'
import { DISPATCH_LEVEL } from '../kernel/irql.js'
import { DRIVER_FAILED } from '../kernel/driver-call.js'
import { IO_ALLOCATION_ACTION, type DriverControl } from '../kernel/hal.js'
import type { AdapterState } from './adapter.js'
import { MapRegisterFile } from './packet.js'
import { DMALAB_P1 } from '../kernel/kinds.js'
import { DMA_VIOLATION, dmaViolation } from './violations.js'

/** The MapRegisterBase values handed out: the driver passes them back as opaque objects. */
const files = new WeakMap<object, MapRegisterFile>()

/** The map registers `base` names on `adapter`, or null after reporting why it names none. */
export function registerFile(adapter: AdapterState, base: unknown, routine: string): MapRegisterFile | null {
  const file = typeof base === 'object' && base !== null ? files.get(base) : undefined
  if (file === undefined || file.adapter !== adapter) {
    dmaViolation(adapter.platform.kernel, 'map-register-misuse', [DMALAB_P1.mapRegisterMisuse, 0, 0, 0], `${routine}: MapRegisterBase is not one AllocateAdapterChannel passed to this adapter's AdapterControl routine`)
    return null
  }
  if (file.freed) {
    dmaViolation(adapter.platform.kernel, 'map-register-misuse', [DMA_VIOLATION.mapRegistersDoubleFree, file.count, 0, 0], `${routine}: the map registers were already freed (0xE6/0x05)`)
    return null
  }
  return file
}

/** AllocateAdapterChannel after the argument checks: STATUS_SUCCESS (the routine ran or will run) or why not. */
export function allocateAdapterChannel(adapter: AdapterState, deviceObject: unknown, count: number, routine: DriverControl, context: unknown): number {
  const k = adapter.platform.kernel
  if (count > adapter.mapRegisters) {
    // "STATUS_INSUFFICIENT_RESOURCES: The NumberOfMapRegisters is larger than the value returned by IoGetDmaAdapter."
    dmaViolation(k, 'dma-too-many-map-registers', [DMA_VIOLATION.tooManyMapRegisters, count, adapter.mapRegisters, 0], `AllocateAdapterChannel of ${count} map registers: IoGetDmaAdapter gave the adapter ${adapter.mapRegisters} (0xE6/0x0C); the AdapterControl routine is not called`)
    return NTSTATUS.STATUS_INSUFFICIENT_RESOURCES
  }
  if (adapter.channelHeld || adapter.channelRequests > 0) {
    dmaViolation(k, 'dma-bad-argument', [DMA_VIOLATION.tooManyAdapterChannels, 1 + adapter.channelRequests, 0, 0], `AllocateAdapterChannel while this adapter's channel is ${adapter.channelHeld ? 'allocated' : 'already requested'}: one request at a time per adapter, and never from inside the AdapterControl routine (0xE6/0x0B)`)
  }
  const grant = (): boolean => {
    if (adapter.channelHeld || !adapter.reserveRegisters(count)) return false
    adapter.channelRequests--
    run(adapter, deviceObject, count, routine, context)
    return true
  }
  adapter.channelRequests++
  if (adapter.waiting.length > 0 || !grant()) adapter.waiting.push(grant)
  return NTSTATUS.STATUS_SUCCESS
}

/** Runs the AdapterControl routine with the registers and does what its IO_ALLOCATION_ACTION says. */
function run(adapter: AdapterState, deviceObject: unknown, count: number, routine: DriverControl, context: unknown): void {
  const p = adapter.platform
  const file = new MapRegisterFile(adapter, count)
  const base = {}
  files.set(base, file)
  adapter.registerFiles.add(file)
  adapter.channelHeld = true
  // DRIVER_CONTROL: called at DISPATCH_LEVEL; Irp is the device object's CurrentIrp (none here).
  const action = p.caller.call4('AdapterControl (AllocateAdapterChannel)', DISPATCH_LEVEL, routine, deviceObject, null, base, context)
  if (action === DRIVER_FAILED) return
  switch (action) {
    case IO_ALLOCATION_ACTION.KeepObject:
      return // channel and registers held until FreeAdapterChannel
    case IO_ALLOCATION_ACTION.DeallocateObject:
      adapter.channelHeld = false
      freeRegisters(file, 'AdapterControl returning DeallocateObject')
      return
    case IO_ALLOCATION_ACTION.DeallocateObjectKeepRegisters:
      adapter.channelHeld = false
      adapter.runWaiting()
      return
    default:
      p.kernel.log.report({
        kind: 'bad-return-value',
        message: `AdapterControl (AllocateAdapterChannel) returned ${String(action)}, not an IO_ALLOCATION_ACTION (KeepObject 1, DeallocateObject 2, DeallocateObjectKeepRegisters 3): taken as DeallocateObjectKeepRegisters`,
        details: { handler: 'AdapterControl', returned: String(action) },
      })
      adapter.channelHeld = false
      adapter.runWaiting()
  }
}

/** Gives a file's registers back; registers still mapped are 0xE6/0x10 and are unmapped first. */
export function freeRegisters(file: MapRegisterFile, routine: string): void {
  if (file.used > 0) {
    dmaViolation(file.adapter.platform.kernel, 'map-register-leak', [DMA_VIOLATION.freedWhileMapped, file.used, 0, 0], `${routine} with ${file.used} map registers still mapped: call FlushAdapterBuffers for every MapTransfer first (0xE6/0x10)`)
  }
  file.release()
}

/** FreeAdapterChannel: the channel an AdapterControl routine kept (KeepObject) goes, with its map registers. */
export function freeAdapterChannel(adapter: AdapterState): void {
  if (!adapter.channelHeld) {
    dmaViolation(adapter.platform.kernel, 'dma-bad-argument', [DMA_VIOLATION.adapterChannelDoubleFree, 1, 0, 0], 'FreeAdapterChannel with no adapter channel allocated (0xE6/0x04)')
    return
  }
  adapter.channelHeld = false
  // "Any allocated map registers are also automatically deallocated."
  const kept = [...adapter.registerFiles].filter((f) => !f.freed)
  if (kept.length > 0) for (const f of kept) freeRegisters(f, 'FreeAdapterChannel')
  else adapter.runWaiting()
}

/** FreeMapRegisters: NumberOfMapRegisters "must match the number specified in an earlier call to AllocateAdapterChannel". */
export function freeMapRegisters(file: MapRegisterFile, count: number): void {
  if (count !== file.count) {
    dmaViolation(file.adapter.platform.kernel, 'map-register-misuse', [DMALAB_P1.mapRegisterMisuse, Number.isSafeInteger(count) ? count : 0, file.count, 0], `FreeMapRegisters of ${String(count)} map registers: AllocateAdapterChannel allocated ${file.count} with this MapRegisterBase (the numbers must match)`)
  }
  freeRegisters(file, 'FreeMapRegisters')
}
