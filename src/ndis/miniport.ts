// The miniport's life as NDIS drives it: DriverEntry → NdisMRegisterMiniportDriver; the PnP
// start → MiniportInitializeEx with the NIC's resources → MiniportRestart (running); at the
// end MiniportPause → MiniportHaltEx → the driver's unload, then the leak checks. Each handler
// runs at the IRQL NDIS runs it at (PASSIVE_LEVEL for all of these).
import { hex } from '../hw/address.js'
import { BUGCHECK } from '../kernel/bugcheck.js'
import { DRIVER_FAILED } from '../kernel/driver-call.js'
import { PASSIVE_LEVEL } from '../kernel/irql.js'
import { CM_RESOURCE_PORT_IO, CM_RESOURCE_TYPE, NDIS_HALT_ACTION, NDIS_OBJECT_TYPE, NDIS_STATUS, isSuccess, statusName } from './constants.js'
import { NDIS_BUGCHECK, NDIS_WATCHDOG, type DriverHandle, type NdisContext } from './context.js'
import { NDIS_OFFLOAD_CONSTANTS, readOffloadAttributes } from './offload.js'
import type { Interrupts } from './interrupt.js'
import type { NblPools } from './nbl.js'
import type {
  CM_PARTIAL_RESOURCE_DESCRIPTOR, CM_PARTIAL_RESOURCE_LIST, DRIVER_OBJECT, NDIS_MINIPORT_ADAPTER_ATTRIBUTES, NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
  NDIS_MINIPORT_DRIVER_CHARACTERISTICS, NDIS_MINIPORT_INIT_PARAMETERS, NDIS_OID_REQUEST,
} from './types.js'

export type MiniportState = 'unloaded' | 'initializing' | 'init-failed' | 'paused' | 'running' | 'pausing' | 'halted' | 'crashed'

/** A module whose default export is DriverEntry (DESIGN "Driver model"). */
export interface MiniportModule {
  default: (ndis: never, registryPath?: string) => number
}

/** Virtual time NDIS waits for a pending pause or OID before calling it a hang. */
export const PENDING_TIMEOUT_NS = 1_000_000_000

export class Miniport {
  readonly ctx: NdisContext
  private readonly interrupts: Interrupts
  private readonly nbls: NblPools
  state: MiniportState = 'unloaded'
  driverObject: DRIVER_OBJECT
  /** The status DriverEntry or MiniportInitializeEx returned (init-failed runs keep the failing one). */
  initStatus: number = NDIS_STATUS.NDIS_STATUS_SUCCESS
  /** The handler that was running when the machine stopped, if it stopped inside one of ours. */
  crashedIn: string | null = null
  private pauseCompleted = false
  private readonly oidCompletions = new Map<NDIS_OID_REQUEST, number>()
  /** Runs the clock for up to `ns` or until `done()` (set by the machine). */
  runUntil: (done: () => boolean, ns: number) => void = () => {}
  /** Sends the protocol handed down that have not come back yet (set by the host). */
  outstandingSends: () => number = () => 0
  /**
   * Called with what DriverEntry returned; true when another driver model took the driver over
   * (an NDIS 5.1 miniport registered with NdisMRegisterMiniport: v5/). Set by the host.
   */
  afterDriverEntry: (entry: unknown) => boolean = () => false

  constructor(ctx: NdisContext, interrupts: Interrupts, nbls: NblPools, driverName: string) {
    this.ctx = ctx
    this.interrupts = interrupts
    this.nbls = nbls
    ctx.driverName = driverName
    this.driverObject = { DriverName: `\\Driver\\${driverName}`, DriverUnload: null }
  }

  get chars(): NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    const c = this.ctx.characteristics
    if (c === null) throw new Error('no miniport driver registered')
    return c
  }

  // ---- routines the driver calls -----------------------------------------------------------------

  NdisMRegisterMiniportDriver(DriverObject: DRIVER_OBJECT, _RegistryPath: string, _Context: unknown, Characteristics: NDIS_MINIPORT_DRIVER_CHARACTERISTICS): { status: number; ndisMiniportDriverHandle: DriverHandle | null } {
    const ctx = this.ctx
    ctx.kernel.log.throwIfStopped()
    if (DriverObject !== this.driverObject) ctx.violation('ndis-bad-argument', 'NdisMRegisterMiniportDriver: DriverObject is not the one DriverEntry received (ndis.DriverObject)')
    if (ctx.model === 'ndis5') {
      ctx.violation('ndis-version-mismatch', 'NdisMRegisterMiniportDriver: this driver already registered as an NDIS 5 miniport (NdisMRegisterMiniport); a driver registers with one NDIS version')
      return { status: NDIS_STATUS.NDIS_STATUS_FAILURE, ndisMiniportDriverHandle: null }
    }
    // One registration per driver object (NdisMRegisterMiniportDriver: "called once, from
    // DriverEntry"); a second one must not silently replace the handlers NDIS already holds.
    if (ctx.driverHandle !== null) {
      ctx.callOrder('NdisMRegisterMiniportDriver called again: the miniport driver is already registered (call it once, from DriverEntry; NdisMDeregisterMiniportDriver first to register again)')
      return { status: NDIS_STATUS.NDIS_STATUS_FAILURE, ndisMiniportDriverHandle: null }
    }
    const required = ['InitializeHandlerEx', 'HaltHandlerEx', 'PauseHandler', 'RestartHandler', 'OidRequestHandler', 'SendNetBufferListsHandler', 'ReturnNetBufferListsHandler'] as const
    const missing = required.filter((h) => typeof Characteristics?.[h] !== 'function')
    if (missing.length > 0) {
      ctx.violation('ndis-bad-argument', `NdisMRegisterMiniportDriver: NDIS_MINIPORT_DRIVER_CHARACTERISTICS lacks ${missing.join(', ')}`)
      return { status: NDIS_STATUS.NDIS_STATUS_INVALID_PARAMETER, ndisMiniportDriverHandle: null }
    }
    if (Characteristics.MajorNdisVersion !== 6) {
      ctx.violation('ndis-bad-argument', `NdisMRegisterMiniportDriver: MajorNdisVersion ${Characteristics.MajorNdisVersion} (dmalab emulates NDIS 6)`)
      return { status: NDIS_STATUS.NDIS_STATUS_NOT_SUPPORTED, ndisMiniportDriverHandle: null }
    }
    ctx.characteristics = Characteristics
    ctx.model = 'ndis6'
    ctx.driverHandle = { kind: 'miniport-driver', id: ctx.handleId() }
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, ndisMiniportDriverHandle: ctx.driverHandle }
  }

  NdisMDeregisterMiniportDriver(_handle: unknown): void {
    this.ctx.driverHandle = null
  }

  NdisMSetMiniportAttributes(handle: unknown, attributes: NDIS_MINIPORT_ADAPTER_ATTRIBUTES): number {
    const ctx = this.ctx
    ctx.kernel.log.throwIfStopped()
    if (!ctx.checkHandle('NdisMSetMiniportAttributes', handle)) return NDIS_STATUS.NDIS_STATUS_INVALID_PARAMETER
    switch (attributes?.Header?.Type) {
      case NDIS_OBJECT_TYPE.NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES:
        ctx.adapterContext = (attributes as { MiniportAdapterContext: unknown }).MiniportAdapterContext
        ctx.attributeFlags = Number((attributes as { AttributeFlags?: unknown }).AttributeFlags ?? 0) >>> 0
        ctx.registrationAttributesSet = true
        return NDIS_STATUS.NDIS_STATUS_SUCCESS
      case NDIS_OBJECT_TYPE.NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES:
        if (!ctx.registrationAttributesSet) ctx.callOrder('NdisMSetMiniportAttributes: general attributes before the registration attributes')
        ctx.generalAttributes = attributes as NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES
        return NDIS_STATUS.NDIS_STATUS_SUCCESS
      case NDIS_OFFLOAD_CONSTANTS.NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES: {
        if (!ctx.registrationAttributesSet) ctx.callOrder('NdisMSetMiniportAttributes: offload attributes before the registration attributes')
        const read = readOffloadAttributes(attributes)
        if ('problem' in read) {
          ctx.violation('ndis-bad-argument', `NdisMSetMiniportAttributes: offload attributes: ${read.problem}`)
          return NDIS_STATUS.NDIS_STATUS_INVALID_PARAMETER
        }
        ctx.offload = read.config
        return NDIS_STATUS.NDIS_STATUS_SUCCESS
      }
      default:
        ctx.violation('ndis-bad-argument', `NdisMSetMiniportAttributes: unknown attribute header type ${hex(attributes?.Header?.Type ?? 0)}`)
        return NDIS_STATUS.NDIS_STATUS_INVALID_PARAMETER
    }
  }

  NdisMPauseComplete(handle: unknown): void {
    if (!this.ctx.checkHandle('NdisMPauseComplete', handle)) return
    if (this.state !== 'pausing') this.ctx.callOrder('NdisMPauseComplete with no pause pending')
    this.pauseCompleted = true
  }

  NdisMOidRequestComplete(handle: unknown, request: NDIS_OID_REQUEST, status: number): void {
    if (!this.ctx.checkHandle('NdisMOidRequestComplete', handle)) return
    this.oidCompletions.set(request, status)
  }

  /**
   * The adapter's translated resources as the PnP manager hands them to MiniportInitializeEx:
   * one descriptor per assigned BAR (memory, then I/O ports; CM_PARTIAL_RESOURCE_DESCRIPTOR,
   * CM_RESOURCE_PORT_IO for a port), then the interrupt.
   */
  resources(): CM_PARTIAL_RESOURCE_LIST {
    const pci = this.ctx.nic.pci
    const line = pci.configRead32(0x3c) & 0xff
    const descriptors: CM_PARTIAL_RESOURCE_DESCRIPTOR[] = []
    for (const space of ['memory', 'io'] as const) {
      for (const bar of pci.bars) {
        const start = pci.barAddress(bar.index)
        if (bar.space !== space || start === 0) continue
        descriptors.push(
          space === 'memory'
            ? { Type: CM_RESOURCE_TYPE.CmResourceTypeMemory, ShareDisposition: 1, Flags: 0, u: { Memory: { Start: start, Length: bar.size } } }
            : { Type: CM_RESOURCE_TYPE.CmResourceTypePort, ShareDisposition: 1, Flags: CM_RESOURCE_PORT_IO, u: { Port: { Start: start, Length: bar.size } } },
        )
      }
    }
    descriptors.push({ Type: CM_RESOURCE_TYPE.CmResourceTypeInterrupt, ShareDisposition: 3, Flags: 0, u: { Interrupt: { Level: line, Vector: line, Affinity: 1 } } })
    return { Version: 1, Revision: 1, Count: descriptors.length, PartialDescriptors: descriptors }
  }

  /** NdisMMapIoSpace: the register window must be one of the adapter's memory resources. */
  NdisMMapIoSpace(handle: unknown, PhysicalAddress: number, Length: number): { status: number; virtualAddress: number } {
    const ctx = this.ctx
    ctx.kernel.log.throwIfStopped()
    const fail = { status: NDIS_STATUS.NDIS_STATUS_RESOURCES, virtualAddress: 0 }
    // Driver Verifier's low resources simulation fails MmMapIoSpace, which this wraps.
    const call = ctx.kernel.calls.allocation('NdisMMapIoSpace', Length)
    if (!ctx.checkHandle('NdisMMapIoSpace', handle)) return fail
    const pci = ctx.nic.pci
    const window = pci.bars.find((b) => b.space === 'memory' && PhysicalAddress >= pci.barAddress(b.index) && Length > 0 && PhysicalAddress + Length <= pci.barAddress(b.index) + b.size)
    if (window === undefined) {
      const bar = ctx.nic.bar0
      const size = pci.bars.find((b) => b.index === 0)?.size ?? 0
      ctx.violation('ndis-bad-argument', `NdisMMapIoSpace of ${hex(PhysicalAddress)} (+${Length}): not within the adapter's memory resource ${hex(bar)} (+${size})`)
      return { status: NDIS_STATUS.NDIS_STATUS_FAILURE, virtualAddress: 0 }
    }
    if (call.fail) return fail
    // NDIS maps it for the miniport and tracks it (ctx.ioMappings, reported at unload).
    const mapped = ctx.kernel.ioSpace.map(PhysicalAddress, Length, 'noncached', true, 'NdisMMapIoSpace', call.site, false)
    if (mapped === 0) return fail
    ctx.ioMappings.set(mapped, Length)
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, virtualAddress: mapped }
  }

  NdisMUnmapIoSpace(handle: unknown, VirtualAddress: number, Length: number): void {
    const ctx = this.ctx
    ctx.kernel.log.throwIfStopped()
    if (!ctx.checkHandle('NdisMUnmapIoSpace', handle)) return
    const length = ctx.ioMappings.get(VirtualAddress)
    if (length === undefined) {
      ctx.violation('ndis-bad-argument', `NdisMUnmapIoSpace of ${hex(VirtualAddress)}: not a mapping NdisMMapIoSpace returned`)
      return
    }
    if (length !== Length) ctx.violation('pool-free-mismatch', `NdisMUnmapIoSpace of ${hex(VirtualAddress)} with Length ${Length} (mapped ${length})`)
    ctx.ioMappings.delete(VirtualAddress)
    ctx.kernel.ioSpace.unmap(VirtualAddress, length, 'NdisMUnmapIoSpace', 'the adapter register window (unmapped by NdisMUnmapIoSpace)')
  }

  // ---- the life cycle NDIS drives -----------------------------------------------------------------

  /** DriverEntry, then the PnP start: MiniportInitializeEx and MiniportRestart. */
  start(driverEntry: (ndis: never, registryPath?: string) => number, ndis: object): void {
    const ctx = this.ctx
    const k = ctx.kernel
    this.state = 'initializing'
    k.phase = 'init'
    // The PnP start: the PCI bus driver turns on memory decoding and bus mastering (PCI COMMAND).
    const command = ctx.nic.pci.configRead32(0x04) & 0xffff
    ctx.nic.pci.configWrite32(0x04, command | 0x6)
    const registry = `\\Registry\\Machine\\System\\CurrentControlSet\\Services\\${ctx.driverName}`
    const entry = ctx.caller.call('DriverEntry', PASSIVE_LEVEL, () => driverEntry(ndis as never, registry))
    if (entry === DRIVER_FAILED) return this.crashed('DriverEntry')
    if (this.afterDriverEntry(entry)) return
    // DriverEntry returns an NTSTATUS; anything else (NaN, 1e308, undefined) is no success.
    const entryStatus = ctx.caller.status('DriverEntry', entry, false)
    if (entryStatus === undefined || !isSuccess(entryStatus) || ctx.characteristics === null) {
      this.initStatus = entryStatus !== undefined && !isSuccess(entryStatus) ? entryStatus : NDIS_STATUS.NDIS_STATUS_FAILURE
      if (ctx.characteristics === null && entryStatus !== undefined && isSuccess(entryStatus)) {
        ctx.callOrder('DriverEntry returned success without calling NdisMRegisterMiniportDriver')
      }
      this.state = 'init-failed'
      this.unload()
      return
    }
    const params: NDIS_MINIPORT_INIT_PARAMETERS = {
      Header: { Type: NDIS_OBJECT_TYPE.NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS, Revision: 1, Size: 0 },
      Flags: 0,
      AllocatedResources: this.resources(),
      IMDeviceInstanceContext: null,
      MiniportAddDeviceContext: null,
      IfIndex: 1,
      NetLuid: 0,
      PortNumber: 0,
    }
    ctx.inInitialize = true
    const status = ctx.caller.call('MiniportInitializeEx', PASSIVE_LEVEL, () => this.chars.InitializeHandlerEx(ctx.adapterHandle, null, params))
    ctx.inInitialize = false
    if (status === DRIVER_FAILED) return this.crashed('MiniportInitializeEx')
    // MiniportInitializeEx returns NDIS_STATUS_SUCCESS or a failure status; it cannot pend.
    const initStatus = ctx.caller.status('MiniportInitializeEx', status, false)
    if (initStatus === undefined || !isSuccess(initStatus)) {
      this.initStatus = initStatus ?? NDIS_STATUS.NDIS_STATUS_FAILURE
      this.state = 'init-failed'
      this.unload()
      return
    }
    if (!ctx.registrationAttributesSet) ctx.callOrder('MiniportInitializeEx succeeded without setting the registration attributes (NdisMSetMiniportAttributes)')
    this.state = 'paused'
    k.enterRuntime()
    const restart = ctx.caller.call('MiniportRestart', PASSIVE_LEVEL, () => this.chars.RestartHandler(ctx.adapterContext, { Header: { Type: 0x80, Revision: 1, Size: 0 } }))
    if (restart === DRIVER_FAILED) return this.crashed('MiniportRestart')
    const restartStatus = ctx.caller.status('MiniportRestart', restart, true)
    if (restartStatus !== undefined && isSuccess(restartStatus)) this.state = 'running'
    else if (restartStatus !== undefined) ctx.violation('ndis-restart-failed', `MiniportRestart returned ${statusName(restartStatus)}`)
  }

  /** One OID request at PASSIVE_LEVEL, waiting for NdisMOidRequestComplete when it pends. */
  oid(request: NDIS_OID_REQUEST): number {
    const ctx = this.ctx
    if (this.state !== 'running' && this.state !== 'paused') return NDIS_STATUS.NDIS_STATUS_FAILURE
    const status = ctx.caller.call('MiniportOidRequest', PASSIVE_LEVEL, () => this.chars.OidRequestHandler(ctx.adapterContext, request))
    if (status === DRIVER_FAILED) {
      this.crashed()
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    const oidStatus = ctx.caller.status('MiniportOidRequest', status, true)
    if (oidStatus === undefined) return NDIS_STATUS.NDIS_STATUS_FAILURE
    if (oidStatus !== NDIS_STATUS.NDIS_STATUS_PENDING) return oidStatus
    this.runUntil(() => this.oidCompletions.has(request), PENDING_TIMEOUT_NS)
    const done = this.oidCompletions.get(request)
    this.oidCompletions.delete(request)
    if (done === undefined) {
      this.watchdog(NDIS_WATCHDOG.miniportOid, request.DATA.Oid, `MiniportOidRequest pended OID ${hex(request.DATA.Oid)} and never called NdisMOidRequestComplete`)
      this.crashed()
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    return done
  }

  /** MiniportPause, then MiniportHaltEx. Returns false when the machine stopped on the way. */
  pauseAndHalt(): boolean {
    const ctx = this.ctx
    const k = ctx.kernel
    if (this.state === 'running') {
      this.state = 'pausing'
      this.pauseCompleted = false
      const status = ctx.caller.call('MiniportPause', PASSIVE_LEVEL, () => this.chars.PauseHandler(ctx.adapterContext, { Header: { Type: 0x80, Revision: 1, Size: 0 } }))
      if (status === DRIVER_FAILED) {
        this.crashed()
        return false
      }
      // MiniportPause returns NDIS_STATUS_SUCCESS or NDIS_STATUS_PENDING; NDIS halts either way.
      if (ctx.caller.status('MiniportPause', status, true) === NDIS_STATUS.NDIS_STATUS_PENDING) {
        this.runUntil(() => this.pauseCompleted, PENDING_TIMEOUT_NS)
        if (k.log.stopped) {
          this.crashed()
          return false
        }
        if (!this.pauseCompleted) {
          this.watchdog(NDIS_WATCHDOG.miniportPause, 0, 'MiniportPause returned NDIS_STATUS_PENDING and never called NdisMPauseComplete (sends or receive indications never came back)')
          this.crashed()
          return false
        }
      }
      if (status !== NDIS_STATUS.NDIS_STATUS_PENDING || this.pauseCompleted) this.checkSendsCompleted()
      this.state = 'paused'
    }
    if (this.state !== 'paused') return true
    k.phase = 'halt'
    const halted = ctx.caller.call('MiniportHaltEx', PASSIVE_LEVEL, () => this.chars.HaltHandlerEx(ctx.adapterContext, NDIS_HALT_ACTION.NdisHaltDeviceDisabled))
    if (halted === DRIVER_FAILED) {
      this.crashed()
      return false
    }
    this.state = 'halted'
    return true
  }

  /**
   * The driver's unload: resources NDIS still sees are reported, the driver's unload routine
   * runs, and the kernel's leak check names every block left behind (S23).
   */
  unload(): void {
    const ctx = this.ctx
    const k = ctx.kernel
    if (k.log.stopped) return
    const leak = (what: string): void =>
      k.log.report({
        kind: 'ndis-resource-leak',
        code: BUGCHECK.BUGCODE_NDIS_DRIVER,
        params: [NDIS_BUGCHECK.resourceLeak, 0, 0, 0],
        message: `${this.state === 'init-failed' ? 'MiniportInitializeEx failed' : 'MiniportHaltEx returned'} with ${what} still held`,
      })
    this.interrupts.checkDeregistered(this.state === 'init-failed' ? 'init-failed' : 'halt')
    if (k.log.stopped) return
    if (ctx.sgDma !== null) {
      leak('scatter/gather DMA registered (NdisMDeregisterScatterGatherDma not called)')
      const adapter = ctx.sgDma.adapter
      ctx.sgDma = null
      adapter.release()
    }
    for (const [va, length] of ctx.ioMappings) leak(`the register window at ${hex(va)} (${length} bytes) mapped (NdisMUnmapIoSpace not called)`)
    for (const [port, count] of ctx.ioPortRanges) leak(`the I/O ports ${hex(port)} (+${count}) registered (NdisMDeregisterIoPortRange not called)`)
    for (const held of ctx.heldAtUnload) for (const what of held()) leak(what)
    for (const pool of this.nbls.leftovers()) leak(`NET_BUFFER_LIST pool '${pool.tag}' allocated${pool.live > 0 ? ` with ${pool.live} NBLs` : ''} (NdisFreeNetBufferListPool not called)`)
    for (const a of ctx.hal.adapters) if (!a.released) {
      leak(`DMA adapter #${a.id} from IoGetDmaAdapter (PutDmaAdapter not called)`)
      a.release()
    }
    const unloadHandler = ctx.characteristics?.UnloadHandler ?? this.driverObject.DriverUnload
    if (typeof unloadHandler === 'function') {
      const r = ctx.caller.call('MiniportDriverUnload', PASSIVE_LEVEL, () => unloadHandler(this.driverObject))
      if (r === DRIVER_FAILED) return this.crashed()
    }
    if (!k.log.stopped) k.checkLeaks(ctx.driverName)
    if (this.state !== 'init-failed') this.state = 'unloaded'
  }

  /**
   * A paused miniport has completed every send (NDIS 6 pause: the miniport completes all
   * outstanding sends before it completes the pause); an NBL that never comes back is lost.
   */
  private checkSendsCompleted(): void {
    const outstanding = this.outstandingSends()
    if (outstanding === 0) return
    this.ctx.kernel.log.report({
      kind: 'send-not-completed',
      code: BUGCHECK.BUGCODE_NDIS_DRIVER,
      params: [NDIS_BUGCHECK.sendsNotCompleted, outstanding, 0, 0],
      message: `MiniportPause completed with ${outstanding} sent NET_BUFFER_LIST${outstanding === 1 ? '' : 's'} never given back through NdisMSendNetBufferListsComplete: a miniport completes every send before its pause completes`,
      details: { outstanding },
    })
  }

  private crashed(handler?: string): void {
    this.crashedIn ??= handler ?? null
    this.state = 'crashed'
  }

  /**
   * NDIS's watchdog gave up on an operation the miniport never completed: BUGCODE_NDIS_DRIVER
   * 0x25 NDIS_BUGCHECK_WATCHDOG (bug check 0x7C reference: p2 the operation, 0x21 miniport pause,
   * 0x23 miniport OID; p3 the NDIS_WATCHDOG_TRIAGE_BLOCK; p4 the OID for 0x23, else 0). NDIS
   * waits minutes; dmalab waits PENDING_TIMEOUT_NS of virtual time, in which a working
   * miniport completes long before.
   */
  private watchdog(operation: number, p4: number, message: string): void {
    if (this.ctx.kernel.log.stopped) return
    this.ctx.kernel.log.fatal({
      kind: 'hang',
      code: BUGCHECK.BUGCODE_NDIS_DRIVER,
      params: [NDIS_BUGCHECK.watchdog, operation, 0, p4],
      message: `${message}: NDIS's watchdog bug checks (0x7C/0x25 NDIS_BUGCHECK_WATCHDOG)`,
    })
  }
}
