// What every NDIS routine shares: the kernel, the HAL, the device the miniport drives, and the
// state of the one miniport adapter NDIS has started on it.
import type { HalDma, PhysicalDeviceObject } from '../dma/api.js'
import type { AdapterState } from '../dma/adapter.js'
import type { Kernel } from '../kernel/kernel.js'
import type { DriverCaller } from '../kernel/driver-call.js'
import { BUGCHECK } from '../kernel/bugcheck.js'
import { siteHere } from '../kernel/sites.js'
import type { Nic } from '../hw/nic.js'
import { DMALAB_P1, type ReportedKind } from '../kernel/kinds.js'
import type { NDIS_MINIPORT_DRIVER_CHARACTERISTICS, NDIS_SG_DMA_DESCRIPTION, NdisHandle, NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES } from './types.js'
import type { SpinLocks } from './spinlock.js'
import type { OffloadConfig } from './offload.js'

/** NDIS's handle objects: opaque to the driver, identifiable to NDIS. */
export interface MiniportHandle { readonly kind: 'miniport-adapter'; readonly id: number }
export interface DriverHandle { readonly kind: 'miniport-driver'; readonly id: number }
export interface DmaHandle { readonly kind: 'sg-dma'; readonly id: number }
export interface InterruptHandle { readonly kind: 'interrupt'; readonly id: number }
export interface NblPoolHandle { readonly kind: 'nbl-pool'; readonly id: number }

export interface SgDmaRegistration {
  readonly handle: DmaHandle
  readonly adapter: AdapterState
  readonly description: NDIS_SG_DMA_DESCRIPTION
}

/**
 * Parameter 1 values of BUGCODE_NDIS_DRIVER (0x7C) used by the shims: the documented ones
 * (bug check 0x7C reference) and dmalab's own (kinds.ts DMALAB_P1) where NDIS has none.
 */
export const NDIS_BUGCHECK = {
  allocateSharedMemoryHighIrql: 0x01,
  freeInvalidSharedMemory: 0x03,
  /** NDIS_BUGCHECK_HALT_WITHOUT_INTERRUPT_DEREGISTER */
  haltWithoutInterruptDeregister: 0x08,
  /** NDIS_BUGCHECK_INIT_FAILED_WITHOUT_INTERRUPT_DEREGISTER */
  initFailedWithoutInterruptDeregister: 0x0b,
  /** NDIS_BUGCHECK_WATCHDOG: parameter 2 says what took too long. */
  watchdog: 0x25,
  /** A call out of the documented order (e.g. shared memory before SG DMA registration). */
  callOrder: DMALAB_P1.ndisCallOrder,
  /** A resource still held at halt or unload. */
  resourceLeak: DMALAB_P1.ndisResourceLeak,
  /** An NBL or NBL pool used wrongly (double free, foreign pool). */
  nblMisuse: DMALAB_P1.nblMisuse,
  /** The pause completed with sends not yet completed (p2: how many). */
  sendsNotCompleted: DMALAB_P1.sendsNotCompleted,
} as const

/** Parameter 2 of NDIS_BUGCHECK_WATCHDOG (0x7C/0x25): the operation that took too long. */
export const NDIS_WATCHDOG = {
  miniportPause: 0x21,
  miniportHalt: 0x22,
  miniportOid: 0x23,
} as const

export class NdisContext {
  readonly kernel: Kernel
  readonly hal: HalDma
  readonly caller: DriverCaller
  readonly nic: Nic
  readonly pdo: PhysicalDeviceObject
  readonly spinLocks: SpinLocks
  driverName = 'miniport'
  /** The driver model the miniport registered with: NdisMRegisterMiniportDriver (6) or NdisMRegisterMiniport (5). */
  model: 'ndis6' | 'ndis5' | null = null
  characteristics: NDIS_MINIPORT_DRIVER_CHARACTERISTICS | null = null
  driverHandle: DriverHandle | null = null
  readonly adapterHandle: MiniportHandle = { kind: 'miniport-adapter', id: 1 }
  /** MiniportAdapterContext from the registration attributes. */
  adapterContext: unknown = undefined
  registrationAttributesSet = false
  /** AttributeFlags of the registration attributes (NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER and friends). */
  attributeFlags = 0
  generalAttributes: NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES | null = null
  /** The task offload the miniport advertised (its default configuration), for the protocol. */
  offload: OffloadConfig | null = null
  /** The handler that initializes the adapter in the registered model, for messages. */
  get initializeHandler(): string {
    return this.model === 'ndis5' ? 'MiniportInitialize' : 'MiniportInitializeEx'
  }

  /** True while MiniportInitialize[Ex] runs: the only time init-only calls are legal (S04). */
  inInitialize = false
  sgDma: SgDmaRegistration | null = null
  /** Register windows mapped with NdisMMapIoSpace: VA → length. */
  readonly ioMappings = new Map<number, number>()
  /** I/O port ranges registered with NdisMRegisterIoPortRange: first port → count. */
  readonly ioPortRanges = new Map<number, number>()
  /** What each kind of NDIS object the driver still holds at unload says (NdisHost registers them). */
  readonly heldAtUnload: Array<() => string[]> = []
  private nextHandle = 2

  constructor(kernel: Kernel, hal: HalDma, caller: DriverCaller, nic: Nic, pdo: PhysicalDeviceObject, spinLocks: SpinLocks) {
    this.kernel = kernel
    this.hal = hal
    this.caller = caller
    this.nic = nic
    this.pdo = pdo
    this.spinLocks = spinLocks
  }

  /** The NDIS major version the driver registered with; 6 before it registers. */
  get ndisMajorVersion(): number {
    return this.model === 'ndis5' ? 5 : 6
  }

  handleId(): number {
    return this.nextHandle++
  }

  /** A violation in an NDIS call, with the driver line that made it. */
  violation(kind: ReportedKind, message: string, code?: number, params?: readonly [number, number, number, number], details?: Record<string, string | number | boolean | null>): void {
    const site = siteHere()
    this.kernel.log.violation({
      kind,
      message,
      ...(code === undefined ? {} : { code }),
      ...(params === undefined ? {} : { params }),
      ...(site === undefined ? {} : { site }),
      ...(details === undefined ? {} : { details }),
    })
  }

  /** A call made out of the order NDIS documents. */
  callOrder(message: string): void {
    this.violation('ndis-call-order', message, BUGCHECK.BUGCODE_NDIS_DRIVER, [NDIS_BUGCHECK.callOrder, 0, 0, 0])
  }

  isMiniportHandle(h: unknown): h is MiniportHandle {
    return h === this.adapterHandle
  }

  /** The MiniportAdapterHandle or the NdisMiniportDriverHandle: what "an NDIS handle obtained during initialization" is for a miniport. */
  isAdapterOrDriverHandle(h: unknown): boolean {
    return this.isMiniportHandle(h) || (this.driverHandle !== null && h === this.driverHandle)
  }

  checkHandle(routine: string, h: unknown): boolean {
    if (this.isMiniportHandle(h)) return true
    this.violation('ndis-bad-handle', `${routine}: the handle is not the MiniportAdapterHandle NDIS passed to ${this.initializeHandler}`)
    return false
  }
}

export type { NdisHandle }
