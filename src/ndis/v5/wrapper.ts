// Registering an NDIS 5.1 miniport: NdisMInitializeWrapper and NdisMRegisterMiniport in
// DriverEntry (NdisTerminateWrapper when registration fails), the unload and shutdown
// handlers, and NdisMSetAttributes[Ex], with which MiniportInitialize hands NDIS its adapter
// context. NDIS 5.1 reference (learn.microsoft.com/previous-versions/windows/hardware/network):
// NdisMInitializeWrapper, NdisMRegisterMiniport, NdisTerminateWrapper, NdisMSetAttributesEx,
// NdisMRegisterAdapterShutdownHandler, NdisMRegisterUnloadHandler.
import { hex } from '../../hw/address.js'
import { PASSIVE_LEVEL } from '../../kernel/irql.js'
import { NDIS_STATUS } from '../constants.js'
import type { DRIVER_OBJECT } from '../types.js'
import { NDIS5_STATUS, NDIS_ATTRIBUTE, NDIS_INTERFACE_TYPE } from './constants.js'
import type { Ndis5State, WrapperHandle } from './state.js'
import type { MiniportShutdown, NDIS_MINIPORT_CHARACTERISTICS } from './types.js'

/** The handlers NdisMRegisterMiniport requires of every connectionless miniport. */
const REQUIRED = ['InitializeHandler', 'HaltHandler', 'QueryInformationHandler', 'SetInformationHandler', 'ResetHandler'] as const

/**
 * The smallest CharacteristicsLength NdisMRegisterMiniport takes for each minor version: the
 * size of the structure up to its last handler, with the machine's pointer size.
 * NdisIMRegisterLayeredMiniport / NdisMRegisterMiniport (NDIS 5.1 reference): CharacteristicsLength
 * "must be either sizeof(NDIS51_MINIPORT_CHARACTERISTICS) or sizeof(NDIS50_MINIPORT_CHARACTERISTICS)",
 * and NDIS_STATUS_BAD_CHARACTERISTICS means it "is too small for the ... NdisVersion specified".
 * The structure there: UCHAR MajorNdisVersion, UCHAR MinorNdisVersion, UINT Reserved (8 bytes
 * with padding), then 13 NDIS 3.0 handlers, 3 NDIS 4.0 ones (ReturnPacket, SendPackets,
 * AllocateComplete), 6 connection-oriented NDIS 5.0 ones and 3 NDIS 5.1 ones (CancelSendPackets,
 * PnPEventNotify, AdapterShutdown). ndis.h's NDIS51 structure ends with four reserved pointers
 * after them, so sizeof(NDIS51_MINIPORT_CHARACTERISTICS) is larger than this minimum.
 */
export function minimumCharacteristicsLength(minor: 0 | 1, pointerBytes: number): number {
  return 8 + (minor === 0 ? 22 : 25) * pointerBytes
}

/** The handlers only an NDIS 5.1 structure has: NDIS reads none of them from a 5.0 one. */
const NDIS51_ONLY = ['CancelSendPacketsHandler', 'PnPEventNotifyHandler', 'AdapterShutdownHandler'] as const

/** The flags an NDIS 5.1 miniport may pass NdisMSetAttributesEx. */
const KNOWN_ATTRIBUTES = Object.values(NDIS_ATTRIBUTE).reduce((a, b) => a | b, 0)

/** NDIS's default MiniportCheckForHang interval when CheckForHangTimeInSeconds is 0 (NdisMSetAttributesEx). */
export const DEFAULT_CHECK_FOR_HANG_SECONDS = 2

export class Wrapper {
  private readonly s: Ndis5State
  private readonly driverObject: DRIVER_OBJECT

  constructor(state: Ndis5State, driverObject: DRIVER_OBJECT) {
    this.s = state
    this.driverObject = driverObject
  }

  /** NdisMInitializeWrapper(&NdisWrapperHandle, SystemSpecific1, SystemSpecific2, SystemSpecific3): PASSIVE_LEVEL, DriverEntry. */
  NdisMInitializeWrapper(SystemSpecific1: unknown, _SystemSpecific2: unknown, _SystemSpecific3: unknown): { ndisWrapperHandle: WrapperHandle | null } {
    const s = this.s
    if (!s.enter('NdisMInitializeWrapper')) return { ndisWrapperHandle: null }
    s.irqlAtMost('NdisMInitializeWrapper', PASSIVE_LEVEL)
    if (SystemSpecific1 !== this.driverObject) {
      s.ctx.violation('ndis-bad-argument', 'NdisMInitializeWrapper: SystemSpecific1 must be the DriverObject DriverEntry received (ndis.DriverObject)')
    }
    if (s.wrapper !== null && !s.wrapperTerminated) {
      s.callOrder('NdisMInitializeWrapper called twice: a miniport driver initializes the wrapper once, in DriverEntry')
      return { ndisWrapperHandle: s.wrapper }
    }
    // "If the call to NdisMInitializeWrapper fails, NDIS sets the variable at NdisWrapperHandle to NULL."
    if (s.ctx.kernel.calls.allocation('NdisMInitializeWrapper', 0).fail) return { ndisWrapperHandle: null }
    s.wrapper = { kind: 'ndis5-wrapper', id: s.ctx.handleId() }
    s.wrapperTerminated = false
    return { ndisWrapperHandle: s.wrapper }
  }

  /** NdisMRegisterMiniport(NdisWrapperHandle, MiniportCharacteristics, CharacteristicsLength). */
  NdisMRegisterMiniport(NdisWrapperHandle: unknown, MiniportCharacteristics: NDIS_MINIPORT_CHARACTERISTICS, CharacteristicsLength: number): number {
    const s = this.s
    const ctx = s.ctx
    const k = ctx.kernel
    if (!s.enter('NdisMRegisterMiniport')) return NDIS_STATUS.NDIS_STATUS_FAILURE
    s.irqlAtMost('NdisMRegisterMiniport', PASSIVE_LEVEL)
    if (s.wrapper === null || NdisWrapperHandle !== s.wrapper || s.wrapperTerminated) {
      ctx.violation('ndis-bad-handle', 'NdisMRegisterMiniport: NdisWrapperHandle is not the handle NdisMInitializeWrapper returned')
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    if (s.characteristics !== null) {
      s.callOrder('NdisMRegisterMiniport called twice for one driver')
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    const c = MiniportCharacteristics
    if (typeof c !== 'object' || c === null) {
      ctx.violation('ndis-bad-argument', 'NdisMRegisterMiniport: MiniportCharacteristics is not an NDIS_MINIPORT_CHARACTERISTICS structure')
      return NDIS5_STATUS.NDIS_STATUS_BAD_CHARACTERISTICS
    }
    // dmalab emulates NDIS 5.0 and 5.1 miniports here (NDIS 6 drivers use NdisMRegisterMiniportDriver).
    if (c.MajorNdisVersion !== 5 || (c.MinorNdisVersion !== 0 && c.MinorNdisVersion !== 1)) {
      ctx.violation('ndis-bad-argument', `NdisMRegisterMiniport: version ${String(c.MajorNdisVersion)}.${String(c.MinorNdisVersion)} (dmalab runs NDIS 5.0 and 5.1 miniports through NdisMRegisterMiniport; NDIS 6 drivers register with NdisMRegisterMiniportDriver)`)
      return NDIS5_STATUS.NDIS_STATUS_BAD_VERSION
    }
    const minimum = minimumCharacteristicsLength(c.MinorNdisVersion as 0 | 1, ctx.kernel.space.arch.pointerBytes)
    if (!(Number.isSafeInteger(CharacteristicsLength) && CharacteristicsLength >= minimum)) {
      ctx.violation('ndis-bad-argument', `NdisMRegisterMiniport: CharacteristicsLength ${String(CharacteristicsLength)} is too small for NDIS 5.${c.MinorNdisVersion} characteristics (at least ${minimum} bytes on this machine: sizeof(NDIS5${c.MinorNdisVersion}_MINIPORT_CHARACTERISTICS))`)
      return NDIS5_STATUS.NDIS_STATUS_BAD_CHARACTERISTICS
    }
    const missing: string[] = REQUIRED.filter((h) => typeof c[h] !== 'function')
    if (typeof c.SendHandler !== 'function' && typeof c.SendPacketsHandler !== 'function') missing.push('SendHandler or SendPacketsHandler')
    if (missing.length > 0) {
      ctx.violation('ndis-bad-argument', `NdisMRegisterMiniport: NDIS_MINIPORT_CHARACTERISTICS lacks ${missing.join(', ')}`)
      return NDIS5_STATUS.NDIS_STATUS_BAD_CHARACTERISTICS
    }
    // NDIS_STATUS_RESOURCES: "a shortage of resources, possibly memory, prevented the NDIS library
    // from registering the caller" (NdisMRegisterMiniport): NDIS allocates the driver's block here.
    if (k.calls.allocation('NdisMRegisterMiniport', 0).fail) return NDIS_STATUS.NDIS_STATUS_RESOURCES
    // "This structure is copied ... to the NDIS library's internal storage. Thus, once it has
    // registered, such a driver cannot change its handler functions" (NdisIMRegisterLayeredMiniport
    // remarks); of a 5.0 structure NDIS copies only the 5.0 members.
    const copy: NDIS_MINIPORT_CHARACTERISTICS = { ...c }
    if (c.MinorNdisVersion === 0) for (const h of NDIS51_ONLY) delete copy[h]
    s.characteristics = copy
    ctx.model = 'ndis5'
    if (typeof copy.AdapterShutdownHandler === 'function') {
      // NDIS 5.1: the shutdown handler comes with the characteristics; NDIS passes the adapter context.
      s.shutdown = { handler: copy.AdapterShutdownHandler, context: undefined, registered: 'characteristics' }
    }
    return NDIS_STATUS.NDIS_STATUS_SUCCESS
  }

  /** NdisTerminateWrapper(NdisWrapperHandle, SystemSpecific): releases what NdisMInitializeWrapper allocated. */
  NdisTerminateWrapper(NdisWrapperHandle: unknown, _SystemSpecific: unknown): void {
    const s = this.s
    if (!s.enter('NdisTerminateWrapper')) return
    s.irqlAtMost('NdisTerminateWrapper', PASSIVE_LEVEL)
    if (s.wrapper === null || NdisWrapperHandle !== s.wrapper) {
      s.ctx.violation('ndis-bad-handle', 'NdisTerminateWrapper: not the handle NdisMInitializeWrapper returned')
      return
    }
    if (s.wrapperTerminated) {
      s.callOrder('NdisTerminateWrapper called twice for one wrapper handle')
      return
    }
    s.wrapperTerminated = true
  }

  /** NdisMRegisterUnloadHandler(NdisWrapperHandle, UnloadHandler). */
  NdisMRegisterUnloadHandler(NdisWrapperHandle: unknown, UnloadHandler: (driverObject: unknown) => void): void {
    const s = this.s
    if (!s.enter('NdisMRegisterUnloadHandler')) return
    if (NdisWrapperHandle !== s.wrapper || s.wrapper === null) {
      s.ctx.violation('ndis-bad-handle', 'NdisMRegisterUnloadHandler: not the handle NdisMInitializeWrapper returned')
      return
    }
    if (typeof UnloadHandler !== 'function') {
      s.ctx.violation('ndis-bad-argument', 'NdisMRegisterUnloadHandler: UnloadHandler is not a function')
      return
    }
    s.unloadHandler = UnloadHandler
  }

  /** NdisMRegisterAdapterShutdownHandler(MiniportHandle, ShutdownContext, ShutdownHandler): NDIS 5.0's way to register MiniportShutdown. */
  NdisMRegisterAdapterShutdownHandler(MiniportHandle: unknown, ShutdownContext: unknown, ShutdownHandler: MiniportShutdown): void {
    const s = this.s
    if (!s.enterAdapter('NdisMRegisterAdapterShutdownHandler', MiniportHandle)) return
    s.irqlAtMost('NdisMRegisterAdapterShutdownHandler', PASSIVE_LEVEL)
    if (typeof ShutdownHandler !== 'function') {
      s.ctx.violation('ndis-bad-argument', 'NdisMRegisterAdapterShutdownHandler: ShutdownHandler is not a function')
      return
    }
    s.shutdown = { handler: ShutdownHandler, context: ShutdownContext, registered: 'routine' }
  }

  NdisMDeregisterAdapterShutdownHandler(MiniportHandle: unknown): void {
    const s = this.s
    if (!s.enterAdapter('NdisMDeregisterAdapterShutdownHandler', MiniportHandle)) return
    s.irqlAtMost('NdisMDeregisterAdapterShutdownHandler', PASSIVE_LEVEL)
    s.shutdown = null
  }

  /** NdisMSetAttributes(MiniportAdapterHandle, MiniportAdapterContext, BusMaster, AdapterType): NdisMSetAttributesEx with no check-for-hang interval. */
  NdisMSetAttributes(MiniportAdapterHandle: unknown, MiniportAdapterContext: unknown, BusMaster: boolean, AdapterType: number): void {
    this.setAttributes('NdisMSetAttributes', MiniportAdapterHandle, MiniportAdapterContext, 0, BusMaster ? NDIS_ATTRIBUTE.NDIS_ATTRIBUTE_BUS_MASTER : 0, AdapterType)
  }

  /** NdisMSetAttributesEx(MiniportAdapterHandle, MiniportAdapterContext, CheckForHangTimeInSeconds, AttributeFlags, AdapterType). */
  NdisMSetAttributesEx(MiniportAdapterHandle: unknown, MiniportAdapterContext: unknown, CheckForHangTimeInSeconds: number, AttributeFlags: number, AdapterType: number): void {
    this.setAttributes('NdisMSetAttributesEx', MiniportAdapterHandle, MiniportAdapterContext, CheckForHangTimeInSeconds, AttributeFlags, AdapterType)
  }

  private setAttributes(routine: string, handle: unknown, context: unknown, hangSeconds: number, flags: number, adapterType: number): void {
    const s = this.s
    const ctx = s.ctx
    if (!s.enterAdapter(routine, handle)) return
    s.irqlAtMost(routine, PASSIVE_LEVEL)
    // NdisMSetAttributesEx: "MiniportInitialize must call NdisMSetAttributesEx before it calls any
    // NdisXxx function that claims hardware resources" — and only MiniportInitialize calls it.
    if (!s.initOnly(routine)) return
    if (s.attributes !== null) s.callOrder(`${routine} called twice during one MiniportInitialize`)
    if (!Number.isSafeInteger(flags) || (flags & ~KNOWN_ATTRIBUTES) !== 0) {
      ctx.violation('ndis-bad-argument', `${routine}: AttributeFlags ${hex(Number(flags) >>> 0)} has bits NDIS 5.1 does not define`)
    }
    const ignoreTimeouts = NDIS_ATTRIBUTE.NDIS_ATTRIBUTE_IGNORE_PACKET_TIMEOUT | NDIS_ATTRIBUTE.NDIS_ATTRIBUTE_IGNORE_REQUEST_TIMEOUT
    if ((flags & ignoreTimeouts) !== 0 && (flags & NDIS_ATTRIBUTE.NDIS_ATTRIBUTE_INTERMEDIATE_DRIVER) === 0) {
      // The NDIS Verifier warns about hardware miniports that ask NDIS to ignore send and request timeouts.
      ctx.violation('ndis-verifier-warning', `${routine}: a hardware miniport sets NDIS_ATTRIBUTE_IGNORE_PACKET_TIMEOUT / NDIS_ATTRIBUTE_IGNORE_REQUEST_TIMEOUT; only intermediate and WAN drivers may (the NDIS Verifier warns about it)`)
    }
    if (!Object.values(NDIS_INTERFACE_TYPE).includes(adapterType as never)) {
      ctx.violation('ndis-bad-argument', `${routine}: AdapterType ${String(adapterType)} is not an NDIS_INTERFACE_TYPE`)
    }
    const seconds = Number.isSafeInteger(hangSeconds) && hangSeconds > 0 ? hangSeconds : DEFAULT_CHECK_FOR_HANG_SECONDS
    s.attributes = { context, checkForHangSeconds: seconds, flags: Number(flags) >>> 0, interfaceType: adapterType }
    ctx.adapterContext = context
    ctx.registrationAttributesSet = true
  }
}
