// What NDIS keeps for one NDIS 5.1 miniport and its adapter (the "miniport block"): the
// wrapper handle, the registered characteristics, the attributes MiniportInitialize set, and
// the checks every NDIS 5 routine shares (handle, IRQL, version, initialization-only).
import { BUGCHECK } from '../../kernel/bugcheck.js'
import { DISPATCH_LEVEL } from '../../kernel/irql.js'
import { requireIrql } from '../../kernel/irql-checks.js'
import type { NdisContext } from '../context.js'
import { NDIS_BUGCHECK } from '../context.js'
import { NDIS_ATTRIBUTE } from './constants.js'
import type { NDIS_MINIPORT_CHARACTERISTICS } from './types.js'

/** The handle NdisMInitializeWrapper returns. */
export interface WrapperHandle { readonly kind: 'ndis5-wrapper'; readonly id: number }
/** The WrapperConfigurationContext MiniportInitialize receives (for NdisOpenConfiguration). */
export interface WrapperConfigurationContext { readonly kind: 'ndis5-configuration-context'; readonly id: number }

/** What NdisMSetAttributes[Ex] recorded. */
export interface AdapterAttributes {
  readonly context: unknown
  readonly checkForHangSeconds: number
  readonly flags: number
  readonly interfaceType: number
}

/**
 * Parameter 1 of BUGCODE_NDIS_DRIVER (0x7C) for the NDIS 5 checks, as the bug check reference
 * documents them (debugger/bug-check-0x7c--bugcode-ndis-driver).
 */
export const NDIS5_BUGCHECK = {
  haltWithoutCancelTimer: 0x09,
  initFailedWithoutCancelTimer: 0x0c,
  resetCompleteUnexpected: 0x0f,
  /** NDIS_BUGCHECK_RECVD_PACKET_IN_USE_BAD_REF_COUNT: a packet indicated while the protocol still holds it. */
  receivedPacketInUse: 0x06,
  /** NDIS_BUGCHECK_INVALID_NDIS5_CALL: an NDIS 6 driver called a routine reserved for NDIS 5 drivers. */
  invalidNdis5Call: 0x15,
} as const

export class Ndis5State {
  readonly ctx: NdisContext
  wrapper: WrapperHandle | null = null
  wrapperTerminated = false
  characteristics: NDIS_MINIPORT_CHARACTERISTICS | null = null
  readonly configurationContext: WrapperConfigurationContext
  attributes: AdapterAttributes | null = null
  /** The MiniportShutdown handler and its context, and how it was registered (5.1 characteristics or NdisMRegisterAdapterShutdownHandler). */
  shutdown: { readonly handler: (context: unknown) => void; readonly context: unknown; readonly registered: 'characteristics' | 'routine' } | null = null
  /** NdisMRegisterUnloadHandler. */
  unloadHandler: ((driverObject: unknown) => void) | null = null
  /** The medium MiniportInitialize selected. */
  medium = -1
  /** True while MiniportShutdown runs (it may only stop the NIC). */
  inShutdown = false

  constructor(ctx: NdisContext) {
    this.ctx = ctx
    this.configurationContext = { kind: 'ndis5-configuration-context', id: ctx.handleId() }
  }

  get registered(): boolean {
    return this.characteristics !== null
  }

  /** NDIS_ATTRIBUTE_DESERIALIZE: the miniport queues its own sends and completes every one. */
  get deserialized(): boolean {
    return ((this.attributes?.flags ?? 0) & NDIS_ATTRIBUTE.NDIS_ATTRIBUTE_DESERIALIZE) !== 0
  }

  get busMaster(): boolean {
    return ((this.attributes?.flags ?? 0) & NDIS_ATTRIBUTE.NDIS_ATTRIBUTE_BUS_MASTER) !== 0
  }

  get adapterContext(): unknown {
    return this.attributes?.context
  }

  /**
   * The shared entry check of an NDIS 5 routine: the machine is running, and a driver that
   * registered as NDIS 6 is not calling a routine reserved for NDIS 5 drivers (0x7C/0x15,
   * NDIS_BUGCHECK_INVALID_NDIS5_CALL). Returns false when the call must not go on.
   */
  enter(routine: string): boolean {
    const ctx = this.ctx
    ctx.kernel.log.throwIfStopped()
    if (ctx.characteristics !== null) {
      ctx.violation('ndis-version-mismatch', `${routine} is an NDIS 5 routine, but this driver registered as an NDIS 6 miniport (NdisMRegisterMiniportDriver): an NDIS 6 driver calls only NDIS 6 routines`, BUGCHECK.BUGCODE_NDIS_DRIVER, [NDIS5_BUGCHECK.invalidNdis5Call, 0, 0, 0], { routine })
      return false
    }
    // "Shutdown Handler (NDIS 5.1)": MiniportShutdown "can be running at any IRQL" (after a bug
    // check too) and "should call no NdisXxx functions": it only stops the NIC, through its registers.
    if (this.inShutdown) this.callOrder(`${routine} from MiniportShutdown: MiniportShutdown should call no NdisXxx functions (it may run at any IRQL, after a system error too); it only stops the NIC through its registers`)
    return true
  }

  /** `enter`, then the handle must be the MiniportAdapterHandle MiniportInitialize received. */
  enterAdapter(routine: string, handle: unknown): boolean {
    if (!this.enter(routine)) return false
    if (handle === this.ctx.adapterHandle) return true
    this.ctx.violation('ndis-bad-handle', `${routine}: the handle is not the MiniportAdapterHandle NDIS passed to MiniportInitialize`, undefined, undefined, { routine })
    return false
  }

  /** The routine's documented IRQL ceiling (Driver Verifier: 0xC4/0xE5, a call at the wrong IRQL). */
  irqlAtMost(routine: string, maximum: number): void {
    requireIrql(this.ctx.kernel, routine, maximum)
  }

  /** A routine the NDIS 5.1 reference says MiniportInitialize calls (and nothing else). */
  initOnly(routine: string, what = ''): boolean {
    if (this.ctx.inInitialize) return true
    this.ctx.violation('init-only-call', `${routine}${what} outside MiniportInitialize: NDIS allows it only while the miniport initializes its adapter`, undefined, undefined, { routine, phase: this.ctx.kernel.phase })
    return false
  }

  /** A call made before the one NDIS documents must come first. */
  callOrder(message: string): void {
    this.ctx.violation('ndis-call-order', message, BUGCHECK.BUGCODE_NDIS_DRIVER, [NDIS_BUGCHECK.callOrder, 0, 0, 0])
  }

  dispatchOrBelow(routine: string): void {
    this.irqlAtMost(routine, DISPATCH_LEVEL)
  }
}
