// Requests and status for NDIS 5 miniports: MiniportQueryInformation / MiniportSetInformation
// (with NdisMQueryInformationComplete / NdisMSetInformationComplete when they pend),
// NdisMIndicateStatus / NdisMIndicateStatusComplete, and the reset NDIS asks for
// (MiniportReset, NdisMResetComplete). NDIS 5.1 reference: MiniportQueryInformation and
// MiniportSetInformation run at DISPATCH_LEVEL, one request at a time; MiniportReset too.
// NdisMResetComplete with no reset pending is BUGCODE_NDIS_DRIVER 0x7C/0x0F.
//
// A request still in the miniport at two ticks of NDIS's wake-up timer has timed out: NDIS
// resets the adapter (lifecycle.ts). For a serialized miniport NDIS then completes the request
// itself, as aborted, and the miniport must not complete it; a deserialized miniport still owes
// its NdisM[Query|Set]InformationComplete ("Resetting a Network Interface Card (NDIS 5.1)").
// NDIS 5 has no watchdog bug check (0x7C/0x25 came with NDIS 6): a request that never completes
// is a hang.
import { BUGCHECK } from '../../kernel/bugcheck.js'
import { DRIVER_FAILED } from '../../kernel/driver-call.js'
import { DISPATCH_LEVEL } from '../../kernel/irql.js'
import { requireIrqlExactly } from '../../kernel/irql-checks.js'
import { tagValue } from '../../kernel/tags.js'
import { POOL_TYPE } from '../../kernel/wdm.js'
import { hex } from '../../hw/address.js'
import type { Timer } from '../../hw/clock.js'
import { NDIS_STATUS, statusName } from '../constants.js'
import { PENDING_TIMEOUT_NS } from '../miniport.js'
import { NDIS5_STATUS } from './constants.js'
import { NDIS5_BUGCHECK, type Ndis5State } from './state.js'

/** Pool tag of the information buffers NDIS passes with a request (dmalab's choice; reads "NDrq"). */
const REQUEST_TAG = tagValue('qrDN')
/** The largest information buffer NDIS hands a miniport here. */
export const MAX_INFORMATION_BUFFER = 4096

export interface RequestResult {
  readonly status: number
  /** Bytes the miniport wrote (query) or read (set). */
  readonly bytesDone: number
  readonly bytesNeeded: number
  /** Query: the information the miniport wrote. */
  readonly data: Uint8Array
}

/** Who hears of status indications: the protocol. */
export interface StatusSink {
  status(generalStatus: number, buffer: Uint8Array): void
  statusComplete(): void
}

/** A request in the miniport. */
interface Pending {
  readonly kind: 'query' | 'set'
  readonly oid: number
  /** Set by the Complete, or by NDIS aborting it at a reset. */
  status: number | null
  /** The wake-up tick that first saw it pending (0: none yet). */
  seenAt: number
}

export class Requests5 {
  private readonly s: Ndis5State
  /** The request in the miniport, until it completes. */
  private pending: Pending | null = null
  /** A request NDIS aborted at a reset of a serialized miniport: a Complete for it is out of order. */
  private aborted: Pending | null = null
  /** Runs once no request is in the miniport (the addressing reset's OIDs), from the clock. */
  private idleWork: Array<() => void> = []
  private readonly idleTimer: Timer
  private resetPending: { done: boolean; status: number; addressingReset: boolean } | null = null
  statusSink: StatusSink | null = null
  /** NdisMIndicateStatus calls since the last NdisMIndicateStatusComplete. */
  private statusesSinceComplete = 0
  /** Runs the clock until `done()` or `ns` pass (the host sets it). */
  runUntil: (done: () => boolean, ns: number) => void = () => {}
  resets = 0

  constructor(state: Ndis5State) {
    this.s = state
    // The held work sends OIDs to the miniport (driver code): it waits while the CPU is busy in
    // a handler, as every timer that calls the driver does (hw/clock.ts advanceBusy).
    this.idleTimer = state.ctx.kernel.clock.timer('NDIS requests held for a pending one', () => {
      const work = this.idleWork
      this.idleWork = []
      if (!state.ctx.kernel.log.stopped) for (const w of work) w()
    }, { needsCpu: true })
  }

  /** One query (MiniportQueryInformation), waiting for NdisMQueryInformationComplete when it pends. */
  query(oid: number, length: number): RequestResult {
    return this.request('query', oid, new Uint8Array(length))
  }

  /** One set (MiniportSetInformation) with `data` as the information buffer. */
  set(oid: number, data: Uint8Array): RequestResult {
    return this.request('set', oid, data)
  }

  private request(kind: 'query' | 'set', oid: number, data: Uint8Array): RequestResult {
    const s = this.s
    const k = s.ctx.kernel
    const chars = s.characteristics
    const failed: RequestResult = { status: NDIS_STATUS.NDIS_STATUS_FAILURE, bytesDone: 0, bytesNeeded: 0, data: new Uint8Array(0) }
    if (chars === null || k.log.stopped) return failed
    // The InformationBufferLength the miniport is told is the buffer it gets: a query's at most
    // MAX_INFORMATION_BUFFER, a set's as long as its data (a user's multicast list may be longer).
    const infoLength = kind === 'query' ? Math.min(data.length, MAX_INFORMATION_BUFFER) : data.length
    const length = Math.max(infoLength, 1)
    const buffer = k.pool.allocate(POOL_TYPE.NonPagedPool, length, REQUEST_TAG, { driver: false })
    if (buffer === 0) return failed
    try {
      if (kind === 'set') k.memory.writeFrom(buffer, data, 0, data.length)
      else k.memory.fill(buffer, length, 0)
      const handler = kind === 'query' ? chars.QueryInformationHandler : chars.SetInformationHandler
      const name = kind === 'query' ? 'MiniportQueryInformation' : 'MiniportSetInformation'
      const p: Pending = { kind, oid, status: null, seenAt: 0 }
      this.pending = p
      const r = s.ctx.caller.call(name, DISPATCH_LEVEL, () => handler(s.adapterContext, oid, buffer, infoLength))
      if (r === DRIVER_FAILED) return failed
      if (typeof r !== 'object' || r === null || typeof r.status !== 'number') {
        k.log.report({ kind: 'bad-return-value', message: `${name} for OID ${hex(oid)} returned something other than { status, ${kind === 'query' ? 'bytesWritten' : 'bytesRead'}, bytesNeeded }: NDIS takes it as NDIS_STATUS_FAILURE` })
        return failed
      }
      const done = kind === 'query' ? (r as { bytesWritten?: unknown }).bytesWritten : (r as { bytesRead?: unknown }).bytesRead
      const bytesDone = typeof done === 'number' && Number.isSafeInteger(done) && done >= 0 ? done : 0
      const bytesNeeded = typeof r.bytesNeeded === 'number' && Number.isSafeInteger(r.bytesNeeded) ? r.bytesNeeded : 0
      let status = r.status >>> 0
      if (status === NDIS_STATUS.NDIS_STATUS_PENDING) {
        // Long enough for the wake-up timer to time the request out and reset the adapter, and
        // for a deserialized miniport to complete it after the reset.
        const seconds = s.attributes?.checkForHangSeconds ?? 2
        this.runUntil(() => p.status !== null || k.log.stopped, Math.max(PENDING_TIMEOUT_NS, 3 * seconds * 1e9))
        if (k.log.stopped) return failed
        if (p.status === null) {
          k.log.report({ kind: 'hang', message: `${name} pended OID ${hex(oid)} and never called ${kind === 'query' ? 'NdisMQueryInformationComplete' : 'NdisMSetInformationComplete'}${this.resets > 0 ? ', not even after NDIS reset the adapter' : ''}`, details: { oid: hex(oid) } })
          return failed
        }
        status = p.status
      } else if (p.status !== null) {
        s.callOrder(`${name} returned ${statusName(status)} for OID ${hex(oid)} after completing it (${kind === 'query' ? 'NdisMQueryInformationComplete' : 'NdisMSetInformationComplete'}): only a request that returned NDIS_STATUS_PENDING is completed`)
      }
      if (kind === 'query' && status === NDIS_STATUS.NDIS_STATUS_SUCCESS && bytesDone > infoLength) {
        s.ctx.violation('ndis-bad-argument', `${name} for OID ${hex(oid)} says it wrote ${bytesDone} bytes into a ${infoLength}-byte InformationBuffer`)
      }
      const out = kind === 'query' && status === NDIS_STATUS.NDIS_STATUS_SUCCESS ? k.memory.readBytes(buffer, Math.min(bytesDone, infoLength)) : new Uint8Array(0)
      return { status, bytesDone, bytesNeeded, data: out }
    } finally {
      if (this.pending?.oid === oid && this.pending.kind === kind) this.pending = null
      if (!k.log.stopped) k.pool.free(buffer, { routine: 'NDIS' })
      if (this.pending === null && this.idleWork.length > 0 && !k.log.stopped) k.clock.armAfter(this.idleTimer, 0)
    }
  }

  /** Runs `work` now if no request is in the miniport, else when the one there completes. */
  whenIdle(work: () => void): void {
    if (this.pending === null) work()
    else this.idleWork.push(work)
  }

  /**
   * The wake-up timer's look at the request in the miniport: the OID if an earlier tick saw it
   * pending already (it timed out), else null (and the request is marked as seen).
   */
  timedOut(tick: number): number | null {
    const p = this.pending
    if (p === null || p.status !== null) return null
    if (p.seenAt === 0) {
      p.seenAt = tick
      return null
    }
    return tick > p.seenAt ? p.oid : null
  }

  /** At a reset of a serialized miniport NDIS completes the request in it, as aborted. */
  abortPending(): void {
    const p = this.pending
    if (p === null || p.status !== null) return
    p.status = NDIS5_STATUS.NDIS_STATUS_REQUEST_ABORTED
    this.aborted = p
  }

  NdisMQueryInformationComplete(MiniportAdapterHandle: unknown, Status: number): void {
    this.complete('NdisMQueryInformationComplete', 'query', MiniportAdapterHandle, Status)
  }

  NdisMSetInformationComplete(MiniportAdapterHandle: unknown, Status: number): void {
    this.complete('NdisMSetInformationComplete', 'set', MiniportAdapterHandle, Status)
  }

  private complete(routine: string, kind: 'query' | 'set', handle: unknown, status: number): void {
    const s = this.s
    if (!s.enterAdapter(routine, handle)) return
    s.dispatchOrBelow(routine)
    const p = this.pending
    if (p === null || p.kind !== kind || p.status !== null) {
      const aborted = this.aborted !== null && this.aborted.kind === kind
      s.callOrder(`${routine} with no ${kind} request pending${aborted ? `: NDIS completed OID ${hex(this.aborted!.oid)} itself, as aborted, when it reset the adapter (a serialized miniport gives up its request at a reset)` : ''}`)
      if (aborted) this.aborted = null
      return
    }
    p.status = typeof status === 'number' ? status >>> 0 : NDIS_STATUS.NDIS_STATUS_FAILURE
  }

  /**
   * NdisMIndicateStatus(MiniportAdapterHandle, GeneralStatus, StatusBuffer, StatusBufferSize).
   * NdisMIndicateStatus (reference page): "Serialized callers ... must run at IRQL = DISPATCH_LEVEL.
   * Deserialized callers ... at IRQL <= DISPATCH_LEVEL"; not "in the context of its MiniportISR,
   * MiniportHalt, or MiniportShutdown function" (DIRQL is the IRQL check; shutdown is `enter`'s);
   * "Only a deserialized miniport driver can call NdisMIndicateStatus in the context of its
   * MiniportInitialize function".
   */
  NdisMIndicateStatus(MiniportAdapterHandle: unknown, GeneralStatus: number, StatusBuffer: number, StatusBufferSize: number): void {
    const s = this.s
    const ctx = s.ctx
    if (!s.enterAdapter('NdisMIndicateStatus', MiniportAdapterHandle)) return
    if (ctx.inInitialize && !s.deserialized) {
      s.callOrder('NdisMIndicateStatus from the MiniportInitialize of a serialized miniport: only a deserialized miniport may indicate status while it initializes')
    } else if (ctx.kernel.phase === 'halt') {
      s.callOrder('NdisMIndicateStatus from MiniportHalt (or after it): a halting miniport indicates no status')
    } else if (s.deserialized) s.dispatchOrBelow('NdisMIndicateStatus')
    else requireIrqlExactly(ctx.kernel, 'NdisMIndicateStatus (serialized miniport)', DISPATCH_LEVEL)
    const size = Number.isSafeInteger(StatusBufferSize) && StatusBufferSize > 0 ? Math.min(StatusBufferSize, MAX_INFORMATION_BUFFER) : 0
    const bytes = size > 0 && StatusBuffer !== 0 ? ctx.kernel.memory.readBytes(StatusBuffer, size) : new Uint8Array(0)
    this.statusesSinceComplete++
    this.statusSink?.status(GeneralStatus >>> 0, bytes)
  }

  /** NdisMIndicateStatusComplete(MiniportAdapterHandle): ProtocolStatusComplete for what was indicated. */
  NdisMIndicateStatusComplete(MiniportAdapterHandle: unknown): void {
    const s = this.s
    if (!s.enterAdapter('NdisMIndicateStatusComplete', MiniportAdapterHandle)) return
    s.dispatchOrBelow('NdisMIndicateStatusComplete')
    this.statusesSinceComplete = 0
    this.statusSink?.statusComplete()
  }

  /**
   * "A miniport driver eventually must call NdisMIndicateStatusComplete after it calls
   * NdisMIndicateStatus" (NdisMIndicateStatusComplete; one may cover several): checked when
   * MiniportHalt returns.
   */
  checkStatusCompleted(): void {
    if (this.statusesSinceComplete === 0) return
    const n = this.statusesSinceComplete
    this.statusesSinceComplete = 0
    this.s.callOrder(`${n} NdisMIndicateStatus indication${n === 1 ? '' : 's'} never followed by NdisMIndicateStatusComplete: the protocols' ProtocolStatusComplete never ran`)
  }

  /** NDIS resets the adapter (MiniportCheckForHang said so): MiniportReset at DISPATCH_LEVEL. Returns AddressingReset. */
  reset(): { status: number; addressingReset: boolean } {
    const s = this.s
    const k = s.ctx.kernel
    const chars = s.characteristics
    const failed = { status: NDIS_STATUS.NDIS_STATUS_FAILURE, addressingReset: false }
    if (chars === null || k.log.stopped) return failed
    this.resets++
    this.resetPending = { done: false, status: 0, addressingReset: false }
    try {
      const r = s.ctx.caller.call('MiniportReset', DISPATCH_LEVEL, () => chars.ResetHandler(s.adapterContext))
      if (r === DRIVER_FAILED) return failed
      if (typeof r !== 'object' || r === null || typeof r.status !== 'number') {
        k.log.report({ kind: 'bad-return-value', message: 'MiniportReset returned something other than { status, addressingReset }: NDIS takes it as NDIS_STATUS_FAILURE' })
        return failed
      }
      if (r.status >>> 0 !== NDIS_STATUS.NDIS_STATUS_PENDING) return { status: r.status >>> 0, addressingReset: r.addressingReset === true }
      this.runUntil(() => this.resetPending?.done === true || k.log.stopped, PENDING_TIMEOUT_NS)
      const p = this.resetPending
      if (p === null || !p.done) {
        if (!k.log.stopped) k.log.report({ kind: 'hang', message: 'MiniportReset returned NDIS_STATUS_PENDING and never called NdisMResetComplete' })
        return failed
      }
      return { status: p.status, addressingReset: p.addressingReset }
    } finally {
      this.resetPending = null
    }
  }

  /** NdisMResetComplete(MiniportAdapterHandle, Status, AddressingReset). */
  NdisMResetComplete(MiniportAdapterHandle: unknown, Status: number, AddressingReset: boolean): void {
    const s = this.s
    if (!s.enterAdapter('NdisMResetComplete', MiniportAdapterHandle)) return
    s.dispatchOrBelow('NdisMResetComplete')
    const p = this.resetPending
    if (p === null || p.done) {
      s.ctx.violation('ndis-call-order', `NdisMResetComplete (${statusName(Status >>> 0)}) with no reset pending: NDIS bug checks (0x7C/0x0F NDIS_BUGCHECK_RESET_COMPLETE_UNEXPECTED)`, BUGCHECK.BUGCODE_NDIS_DRIVER, [NDIS5_BUGCHECK.resetCompleteUnexpected, 0, Status >>> 0, AddressingReset ? 1 : 0])
      return
    }
    p.done = true
    p.status = Status >>> 0
    p.addressingReset = AddressingReset === true
  }
}
