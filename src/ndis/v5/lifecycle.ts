// An NDIS 5.1 miniport's life as NDIS drives it: after DriverEntry registered it
// (NdisMRegisterMiniport), MiniportInitialize with the medium array and the adapter's
// configuration context; NDIS's own queries; a protocol binds (queries, lookahead, multicast
// list, packet filter); NDIS's wake-up timer every CheckForHangTimeInSeconds (two by default):
// MiniportCheckForHang, and MiniportReset when it says so or when a request, or a send a
// serialized miniport pended, is still in the miniport at two ticks in a row ("Resetting a
// Network Interface Card (NDIS 5.1)"); at the end the protocol unbinds (its sends complete, its packets are returned, the
// filter is cleared), MiniportHalt, the driver's unload, and the checks NDIS makes on the way.
// Handlers run at the IRQL NDIS 5.1 runs them at: MiniportInitialize and MiniportHalt at
// PASSIVE_LEVEL, MiniportCheckForHang, MiniportReset and requests at DISPATCH_LEVEL.
import { hex } from '../../hw/address.js'
import type { Timer } from '../../hw/clock.js'
import { BUGCHECK } from '../../kernel/bugcheck.js'
import { DRIVER_FAILED } from '../../kernel/driver-call.js'
import { DISPATCH_LEVEL, PASSIVE_LEVEL } from '../../kernel/irql.js'
import { tagValue } from '../../kernel/tags.js'
import { POOL_TYPE } from '../../kernel/wdm.js'
import { NDIS_STATUS, isSuccess, statusName } from '../constants.js'
import { asStatus, returnedField } from '../../kernel/driver-values.js'
import { NDIS_BUGCHECK } from '../context.js'
import type { DriverModel } from '../driver-model.js'
import { PENDING_TIMEOUT_NS, type MiniportState } from '../miniport.js'
import type { DRIVER_OBJECT } from '../types.js'
import type { Configuration } from './config.js'
import { NDIS5_MEDIUM, NDIS5_STATUS, NDIS_ATTRIBUTE, NDIS_DEVICE_PNP_EVENT, NDIS_POWER_PROFILE, OID5 } from './constants.js'
import type { Dma5 } from './dma.js'
import type { Interrupts5 } from './interrupt.js'
import type { Packets } from './packets.js'
import { PROTOCOL_FILTER, PROTOCOL_LOOKAHEAD, type Protocol5 } from './protocol.js'
import type { ReceivePath } from './receive.js'
import type { Requests5 } from './requests.js'
import type { SendPath } from './send.js'
import type { Ndis5State } from './state.js'
import type { Timers5 } from './timers.js'

/** Pool tag of the buffer NDIS passes with a PnP event (dmalab's choice; reads "NDpn"). */
const PNP_TAG = tagValue('npDN')

/** The media NDIS offers MiniportInitialize: every NDIS_MEDIUM NDIS 5.1 knows, in enum order. */
export const MEDIUM_ARRAY: readonly number[] = Array.from({ length: 14 }, (_, i) => i)

export interface Ndis5Parts {
  readonly state: Ndis5State
  readonly config: Configuration
  readonly packets: Packets
  readonly dma: Dma5
  readonly interrupts: Interrupts5
  readonly timers: Timers5
  readonly requests: Requests5
  readonly send: SendPath
  readonly receive: ReceivePath
  readonly protocol: Protocol5
  readonly driverObject: DRIVER_OBJECT
}

interface OidAnswer { readonly name: string; readonly status: number }

export class Miniport5 implements DriverModel {
  private readonly p: Ndis5Parts
  state: MiniportState = 'unloaded'
  initStatus: number = NDIS_STATUS.NDIS_STATUS_SUCCESS
  crashedIn: string | null = null
  private readonly wakeUpTimer: Timer
  private resetting = false
  /** Ticks of the wake-up timer so far: sends and requests are stamped with it to time them out. */
  private ticks = 0
  /** OIDs NDIS and the protocol sent at bind, with the status each got (for tests and reports). */
  readonly bindRequests: OidAnswer[] = []
  /** Why NDIS reset the adapter, one entry a reset. */
  readonly resetReasons: string[] = []

  constructor(parts: Ndis5Parts) {
    this.p = parts
    this.wakeUpTimer = parts.state.ctx.kernel.clock.timer('NDIS wake-up timer (MiniportCheckForHang, send and request time-outs)', () => this.wakeUp(), { background: true, needsCpu: true })
  }

  /** DriverEntry has returned: initialize the adapter if it registered, or clean up after it. */
  afterDriverEntry(entry: unknown): void {
    const { state: s } = this.p
    const ctx = s.ctx
    this.state = 'initializing'
    // DriverEntry returns an NTSTATUS; anything else (NaN, 1e308, a BigInt) is no success.
    const status = ctx.caller.status('DriverEntry', entry, false)
    const succeeded = status !== undefined && isSuccess(status)
    if (!succeeded || !s.registered) {
      this.initStatus = status !== undefined && !succeeded ? status : NDIS_STATUS.NDIS_STATUS_FAILURE
      if (s.registered || succeeded) {
        if (!s.registered) s.callOrder('DriverEntry returned success without registering the miniport (NdisMRegisterMiniport)')
      }
      // NdisTerminateWrapper: "if DriverEntry fails after NdisMInitializeWrapper, it must call NdisTerminateWrapper".
      if (s.wrapper !== null && !s.wrapperTerminated && !succeeded) {
        ctx.kernel.log.report({ kind: 'ndis-resource-leak', code: BUGCHECK.BUGCODE_NDIS_DRIVER, params: [NDIS_BUGCHECK.resourceLeak, 0, 0, 0], message: 'DriverEntry failed after NdisMInitializeWrapper without calling NdisTerminateWrapper: the wrapper NDIS allocated for the driver is never released' })
      }
      this.state = 'init-failed'
      this.unload()
      return
    }
    this.initialize()
  }

  /** MiniportInitialize, then NDIS's queries and the protocol's bind. */
  private initialize(): void {
    const { state: s, config } = this.p
    const ctx = s.ctx
    const k = ctx.kernel
    const chars = s.characteristics!
    ctx.inInitialize = true
    const r = ctx.caller.call('MiniportInitialize', PASSIVE_LEVEL, () => chars.InitializeHandler(MEDIUM_ARRAY, MEDIUM_ARRAY.length, ctx.adapterHandle, s.configurationContext))
    ctx.inInitialize = false
    if (r === DRIVER_FAILED) return this.crashed('MiniportInitialize')
    // Read without running driver code (a getter or Proxy trap would run outside any handler).
    const returned = asStatus(returnedField(r, 'status'))
    let status: number
    if (returned === undefined) {
      ctx.caller.badReturn('MiniportInitialize', r, '{ status, selectedMediumIndex } with an NDIS_STATUS')
      status = NDIS_STATUS.NDIS_STATUS_FAILURE
    } else status = returned
    if (config.openHandles > 0) {
      k.log.report({ kind: 'ndis-resource-leak', code: BUGCHECK.BUGCODE_NDIS_DRIVER, params: [NDIS_BUGCHECK.resourceLeak, 0, 0, 0], message: `MiniportInitialize returned with ${config.openHandles} configuration handle${config.openHandles === 1 ? '' : 's'} open: NdisCloseConfiguration frees what NdisOpenConfiguration and NdisReadConfiguration allocated` })
      config.closeAll()
    }
    if (!isSuccess(status)) {
      this.initStatus = status
      this.state = 'init-failed'
      this.afterHaltChecks('init-failed')
      this.unload()
      return
    }
    const index = (r as { selectedMediumIndex?: unknown }).selectedMediumIndex
    if (typeof index !== 'number' || MEDIUM_ARRAY[index] !== NDIS5_MEDIUM.NdisMedium802_3) {
      ctx.violation('ndis-bad-argument', `MiniportInitialize selected medium index ${String(index)}${typeof index === 'number' && MEDIUM_ARRAY[index] !== undefined ? ` (NDIS_MEDIUM ${MEDIUM_ARRAY[index]})` : ''}: the NIC is Ethernet, NdisMedium802_3 (index ${MEDIUM_ARRAY.indexOf(NDIS5_MEDIUM.NdisMedium802_3)} of MediumArray); no protocol binds to it otherwise`)
    } else s.medium = NDIS5_MEDIUM.NdisMedium802_3
    if (s.attributes === null) s.callOrder('MiniportInitialize succeeded without NdisMSetAttributes[Ex]: NDIS has no adapter context to pass the miniport\'s handlers')
    if (s.shutdown === null) {
      ctx.violation('ndis-verifier-warning', 'the miniport registered no MiniportShutdown (AdapterShutdownHandler in its NDIS 5.1 characteristics, or NdisMRegisterAdapterShutdownHandler): at system shutdown its NIC keeps DMA running (the NDIS Verifier warns about it)')
    }
    this.state = 'running'
    k.enterRuntime()
    k.clock.armAfter(this.wakeUpTimer, this.interval())
    this.notifyPowerProfile()
    if (k.log.stopped) return
    this.bind()
  }

  /**
   * "After initializing a miniport driver ... NDIS calls a miniport driver's MiniportPnPEventNotify
   * function to notify the miniport driver of the system's power source" (NDIS 5.1, Handling a
   * Change in the System's Power Source): NdisDevicePnPEventPowerProfileChanged with a ULONG,
   * NdisPowerProfileAcOnLine, at PASSIVE_LEVEL. NDIS 5.0 characteristics have no such handler.
   */
  private notifyPowerProfile(): void {
    const { state: s } = this.p
    const chars = s.characteristics
    const handler = chars?.MinorNdisVersion === 1 ? chars.PnPEventNotifyHandler : undefined
    if (typeof handler !== 'function') return
    const k = s.ctx.kernel
    const buffer = k.pool.allocate(POOL_TYPE.NonPagedPool, 4, PNP_TAG, { driver: false })
    if (buffer === 0) return
    k.memory.write32(buffer, NDIS_POWER_PROFILE.NdisPowerProfileAcOnLine)
    s.ctx.caller.call4('MiniportPnPEventNotify', PASSIVE_LEVEL, handler, s.adapterContext, NDIS_DEVICE_PNP_EVENT.NdisDevicePnPEventPowerProfileChanged, buffer, 4)
    if (!k.log.stopped) k.pool.free(buffer, { routine: 'NDIS' })
  }

  /** The wake-up timer's period: CheckForHangTimeInSeconds from NdisMSetAttributesEx, two seconds by default. */
  private interval(): number {
    return (this.p.state.attributes?.checkForHangSeconds ?? 2) * 1e9
  }

  /** NDIS's initialization queries, then the protocol's bind (NDIS 5.1: "Binding to an Underlying Miniport"). */
  private bind(): void {
    const { state: s, requests, protocol, send } = this.p
    if (s.ctx.kernel.log.stopped || s.medium !== NDIS5_MEDIUM.NdisMedium802_3) return
    const failed: string[] = []
    const ask = (name: keyof typeof OID5, length: number, mandatory: boolean): Uint8Array | null => {
      const r = requests.query(OID5[name], length)
      this.bindRequests.push({ name, status: r.status })
      if (s.ctx.kernel.log.stopped) return null
      if (r.status === NDIS_STATUS.NDIS_STATUS_SUCCESS) return r.data
      if (mandatory) failed.push(`${name} (query: ${statusName(r.status)})`)
      return null
    }
    const set = (name: keyof typeof OID5, data: Uint8Array): boolean => {
      const r = requests.set(OID5[name], data)
      this.bindRequests.push({ name, status: r.status })
      if (r.status === NDIS_STATUS.NDIS_STATUS_SUCCESS) return true
      if (!s.ctx.kernel.log.stopped) failed.push(`${name} (set: ${statusName(r.status)})`)
      return false
    }
    const u32 = (bytes: Uint8Array | null): number | null => (bytes !== null && bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) : null)
    // NDIS's own queries when the adapter comes up.
    if (typeof s.characteristics?.SendPacketsHandler === 'function') {
      const n = u32(ask('OID_GEN_MAXIMUM_SEND_PACKETS', 4, true))
      if (n !== null && n > 0) send.maxSendPackets = Math.min(n, 256)
    }
    ask('OID_GEN_MAC_OPTIONS', 4, true)
    ask('OID_GEN_MAXIMUM_LOOKAHEAD', 4, true)
    const mac = ask('OID_802_3_CURRENT_ADDRESS', 6, true)
    if (mac !== null && mac.length >= 6) protocol.mac = mac.slice(0, 6)
    const media = u32(ask('OID_GEN_MEDIA_CONNECT_STATUS', 4, true))
    if (media !== null) protocol.mediaConnected = media === 0
    // The protocol binds (as TCP/IP does).
    ask('OID_GEN_MAXIMUM_FRAME_SIZE', 4, true)
    ask('OID_GEN_LINK_SPEED', 4, true)
    ask('OID_GEN_MAXIMUM_TOTAL_SIZE', 4, true)
    if (!s.ctx.kernel.log.stopped) set('OID_GEN_CURRENT_LOOKAHEAD', le32(PROTOCOL_LOOKAHEAD))
    if (!s.ctx.kernel.log.stopped) set('OID_802_3_MULTICAST_LIST', new Uint8Array(0))
    if (!s.ctx.kernel.log.stopped && set('OID_GEN_CURRENT_PACKET_FILTER', le32(PROTOCOL_FILTER))) protocol.packetFilter = PROTOCOL_FILTER
    if (failed.length > 0 && !s.ctx.kernel.log.stopped) {
      s.ctx.kernel.log.report({ kind: 'oid-failed', message: `OIDs every NDIS 5 Ethernet miniport supports failed when NDIS and the protocol bound: ${failed.join(', ')}`, details: { oids: failed.join(', ') } })
    }
    protocol.bound = !s.ctx.kernel.log.stopped
  }

  /**
   * NDIS's wake-up timer: MiniportCheckForHang if the miniport has one; then a reset if it said
   * TRUE, or a request has been in the miniport since before the last tick (unless
   * NDIS_ATTRIBUTE_IGNORE_REQUEST_TIMEOUT), or a serialized miniport has held a pended send as
   * long (unless NDIS_ATTRIBUTE_IGNORE_PACKET_TIMEOUT): between one and two periods.
   */
  private wakeUp(): void {
    const { state: s, requests, send } = this.p
    const k = s.ctx.kernel
    const chars = s.characteristics
    if (this.state !== 'running' || chars === null || k.log.stopped) return
    k.clock.armAfter(this.wakeUpTimer, this.interval())
    if (this.resetting) return
    const tick = ++this.ticks
    let why: string | null = null
    if (typeof chars.CheckForHangHandler === 'function') {
      const hung = s.ctx.caller.call4('MiniportCheckForHang', DISPATCH_LEVEL, chars.CheckForHangHandler, s.adapterContext, undefined, undefined, undefined)
      if (hung === DRIVER_FAILED) return
      if (hung === true) why = 'MiniportCheckForHang returned TRUE'
    }
    const flags = s.attributes?.flags ?? 0
    const seconds = this.interval() / 1e9
    if (why === null && (flags & NDIS_ATTRIBUTE.NDIS_ATTRIBUTE_IGNORE_REQUEST_TIMEOUT) === 0) {
      const oid = requests.timedOut(tick)
      if (oid !== null) {
        why = `a request (OID ${hex(oid)}) timed out`
        k.log.report({ kind: 'hang', message: `OID ${hex(oid)} stayed pending in the miniport through two ticks of NDIS's ${seconds}-second wake-up timer: NDIS timed the request out and reset the adapter (MiniportReset)`, details: { oid: hex(oid) } })
      }
    }
    if (why === null && !s.deserialized && (flags & NDIS_ATTRIBUTE.NDIS_ATTRIBUTE_IGNORE_PACKET_TIMEOUT) === 0) {
      const held = send.timedOut(tick)
      if (held > 0) {
        why = `${held} pended send${held === 1 ? '' : 's'} timed out`
        k.log.report({
          kind: 'send-not-completed',
          code: BUGCHECK.BUGCODE_NDIS_DRIVER,
          params: [NDIS_BUGCHECK.sendsNotCompleted, held, 0, 0],
          message: `${held} send${held === 1 ? '' : 's'} the serialized miniport pended stayed uncompleted through two ticks of NDIS's ${seconds}-second wake-up timer: NDIS timed them out, reset the adapter (MiniportReset) and completed them to the protocol as aborted`,
          details: { outstanding: held },
        })
      }
    }
    if (why !== null && !k.log.stopped) this.reset(why)
  }

  /**
   * NDIS resets the adapter: RESET_START to the protocol, MiniportReset, RESET_END, and the filter
   * again after an addressing reset. No sends or requests reach the miniport meanwhile. For a
   * serialized miniport NDIS completes the request and the sends it holds itself, as aborted (a
   * deserialized one completes them: they stay its own).
   */
  reset(why: string): void {
    const { state: s, requests, protocol, send } = this.p
    if (this.state !== 'running' || this.resetting) return
    this.resetting = true
    this.resetReasons.push(why)
    send.hold = true
    try {
      protocol.status(NDIS5_STATUS.NDIS_STATUS_RESET_START, new Uint8Array(0))
      const r = requests.reset()
      if (!s.deserialized) {
        requests.abortPending()
        send.abortOwned()
      }
      protocol.status(NDIS5_STATUS.NDIS_STATUS_RESET_END, new Uint8Array(0))
      if (r.addressingReset && isSuccess(r.status) && !s.ctx.kernel.log.stopped) {
        // An addressing reset loses the addresses and filter: NDIS sets them again, once no
        // request is in the miniport (one at a time).
        requests.whenIdle(() => {
          requests.set(OID5.OID_GEN_CURRENT_LOOKAHEAD, le32(PROTOCOL_LOOKAHEAD))
          requests.set(OID5.OID_802_3_MULTICAST_LIST, new Uint8Array(0))
          requests.set(OID5.OID_GEN_CURRENT_PACKET_FILTER, le32(protocol.packetFilter))
        })
      }
    } finally {
      this.resetting = false
      send.hold = false
      send.wake()
    }
  }

  /** The protocol unbinds, then MiniportHalt. */
  pauseAndHalt(): boolean {
    const { state: s, send, receive, protocol, requests } = this.p
    const ctx = s.ctx
    const k = ctx.kernel
    if (this.state !== 'running') return true
    protocol.stop()
    // Unbinding waits for every send to come back and returns every packet the protocol kept;
    // sends still out after a while the protocol cancels (NdisCancelSendPackets), and waits again.
    requests.runUntil(() => send.outstanding === 0 || k.log.stopped, PENDING_TIMEOUT_NS)
    if (k.log.stopped) return this.stopped()
    if (send.outstanding > 0) {
      protocol.cancelSends()
      requests.runUntil(() => send.outstanding === 0 || k.log.stopped, PENDING_TIMEOUT_NS)
      if (k.log.stopped) return this.stopped()
    }
    const outstanding = send.outstanding
    if (outstanding > 0) {
      k.log.report({
        kind: 'send-not-completed',
        code: BUGCHECK.BUGCODE_NDIS_DRIVER,
        params: [NDIS_BUGCHECK.sendsNotCompleted, outstanding, 0, 0],
        message: `the protocol unbound with ${outstanding} sent packet${outstanding === 1 ? '' : 's'} never completed (NdisMSendComplete, or a status from a serialized MiniportSend[Packets])${typeof s.characteristics?.CancelSendPacketsHandler === 'function' ? ', not even after it cancelled them (MiniportCancelSendPackets)' : ''}: NDIS cannot halt the miniport while it owns sends`,
        details: { outstanding },
      })
      send.abortQueued(NDIS_STATUS.NDIS_STATUS_FAILURE)
    }
    receive.returnAll()
    if (k.log.stopped) return this.stopped()
    if (protocol.packetFilter !== 0) {
      requests.set(OID5.OID_GEN_CURRENT_PACKET_FILTER, le32(0))
      protocol.packetFilter = 0
    }
    protocol.bound = false
    k.clock.cancel(this.wakeUpTimer)
    if (k.log.stopped) return this.stopped()
    k.phase = 'halt'
    const chars = s.characteristics!
    const halted = ctx.caller.call('MiniportHalt', PASSIVE_LEVEL, () => chars.HaltHandler(s.adapterContext))
    if (halted === DRIVER_FAILED) return this.stopped()
    this.state = 'halted'
    this.afterHaltChecks('halt')
    return true
  }

  /** What NDIS finds still held when MiniportHalt returns (or a failed MiniportInitialize does). */
  private afterHaltChecks(after: 'halt' | 'init-failed'): void {
    const { state: s, interrupts, timers, dma, packets } = this.p
    const ctx = s.ctx
    const k = ctx.kernel
    if (k.log.stopped) return
    interrupts.checkDeregistered(after)
    timers.checkCancelled(after)
    if (after === 'halt' && !k.log.stopped) this.p.requests.checkStatusCompleted()
    dma.releaseAfterHalt()
    const who = after === 'halt' ? 'MiniportHalt returned' : 'MiniportInitialize failed'
    const leak = (what: string): void => k.log.report({ kind: 'ndis-resource-leak', code: BUGCHECK.BUGCODE_NDIS_DRIVER, params: [NDIS_BUGCHECK.resourceLeak, 0, 0, 0], message: `${who} with ${what}` })
    for (const [va, length] of ctx.ioMappings) leak(`the register window at ${hex(va)} (${length} bytes) mapped (NdisMUnmapIoSpace not called)`)
    for (const [port, count] of ctx.ioPortRanges) leak(`the I/O ports ${hex(port)} (+${count}) registered (NdisMDeregisterIoPortRange not called)`)
    for (const p of packets.leftovers()) leak(`a ${p.what} still allocated${p.live > 0 ? `, ${p.live} descriptors in use` : ''}`)
    // NdisMRegisterAdapterShutdownHandler (NDIS 5.0's way): "The driver's MiniportHalt function must
    // make a reciprocal call to NdisMDeregisterAdapterShutdownHandler"; left registered, NDIS would
    // call into a driver that is gone at the next system shutdown.
    if (s.shutdown?.registered === 'routine') {
      leak('its MiniportShutdown still registered (NdisMDeregisterAdapterShutdownHandler not called)')
      s.shutdown = null
    }
  }

  /** The driver's unload (NdisMRegisterUnloadHandler), then the kernel's leak check (S23). */
  unload(): void {
    const { state: s, driverObject } = this.p
    const k = s.ctx.kernel
    if (k.log.stopped) return
    const handler = s.unloadHandler ?? driverObject.DriverUnload
    if (typeof handler === 'function') {
      const r = s.ctx.caller.call('MiniportUnload', PASSIVE_LEVEL, () => handler(driverObject))
      if (r === DRIVER_FAILED) return this.crashed()
    }
    if (!k.log.stopped) k.checkLeaks(s.ctx.driverName)
    if (this.state !== 'init-failed') this.state = 'unloaded'
  }

  /** MiniportShutdown (5.1 AdapterShutdownHandler, or NdisMRegisterAdapterShutdownHandler): the system is going down. */
  shutdown(): void {
    const { state: s } = this.p
    const sd = s.shutdown
    if (sd === null || this.state !== 'running') return
    s.inShutdown = true
    try {
      const context = sd.context === undefined ? s.adapterContext : sd.context
      s.ctx.caller.call('MiniportShutdown', PASSIVE_LEVEL, () => sd.handler(context))
    } finally {
      s.inShutdown = false
    }
  }

  private crashed(handler?: string): void {
    this.crashedIn ??= handler ?? null
    this.state = 'crashed'
  }

  private stopped(): boolean {
    this.crashed()
    return false
  }
}

function le32(n: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n >>> 0, true)
  return b
}
