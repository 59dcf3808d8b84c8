// Requests and status for NDIS 5 miniports: MiniportQueryInformation / MiniportSetInformation
// (with NdisMQueryInformationComplete / NdisMSetInformationComplete when they pend),
// NdisMIndicateStatus / NdisMIndicateStatusComplete, and the reset NDIS asks for
// (MiniportReset, NdisMResetComplete). NDIS 5.1 reference: MiniportQueryInformation and
// MiniportSetInformation run at DISPATCH_LEVEL, one request at a time; MiniportReset too.
// NdisMResetComplete with no reset pending is BUGCODE_NDIS_DRIVER 0x7C/0x0F.
import { BUGCHECK } from '../../kernel/bugcheck.js'
import { DRIVER_FAILED } from '../../kernel/driver-call.js'
import { DISPATCH_LEVEL } from '../../kernel/irql.js'
import { tagValue } from '../../kernel/tags.js'
import { POOL_TYPE } from '../../kernel/wdm.js'
import { hex } from '../../hw/address.js'
import { NDIS_STATUS, statusName } from '../constants.js'
import { PENDING_TIMEOUT_NS } from '../miniport.js'
import { NDIS_BUGCHECK, NDIS_WATCHDOG } from '../context.js'
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

export class Requests5 {
  private readonly s: Ndis5State
  /** The request the miniport pended, waiting for its Complete. */
  private pending: { readonly kind: 'query' | 'set'; status: number | null } | null = null
  private resetPending: { done: boolean; status: number; addressingReset: boolean } | null = null
  statusSink: StatusSink | null = null
  /** Runs the clock until `done()` or `ns` pass (the host sets it). */
  runUntil: (done: () => boolean, ns: number) => void = () => {}
  resets = 0

  constructor(state: Ndis5State) {
    this.s = state
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
    const length = Math.min(Math.max(data.length, 1), MAX_INFORMATION_BUFFER)
    const buffer = k.pool.allocate(POOL_TYPE.NonPagedPool, length, REQUEST_TAG, { driver: false })
    if (buffer === 0) return failed
    try {
      if (kind === 'set') k.memory.writeFrom(buffer, data, 0, Math.min(data.length, length))
      else k.memory.fill(buffer, length, 0)
      const handler = kind === 'query' ? chars.QueryInformationHandler : chars.SetInformationHandler
      const name = kind === 'query' ? 'MiniportQueryInformation' : 'MiniportSetInformation'
      this.pending = { kind, status: null }
      const r = s.ctx.caller.call(name, DISPATCH_LEVEL, () => handler(s.adapterContext, oid, buffer, data.length))
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
        this.runUntil(() => this.pending?.status !== null || k.log.stopped, PENDING_TIMEOUT_NS)
        if (k.log.stopped) return failed
        if (this.pending?.status === null || this.pending === null) {
          // NDIS's watchdog: 0x7C/0x25 with parameter 2 0x23, an OID request that never completed.
          k.log.report({ kind: 'hang', code: BUGCHECK.BUGCODE_NDIS_DRIVER, params: [NDIS_BUGCHECK.watchdog, NDIS_WATCHDOG.miniportOid, 0, oid], message: `${name} pended OID ${hex(oid)} and never called ${kind === 'query' ? 'NdisMQueryInformationComplete' : 'NdisMSetInformationComplete'}` })
          return failed
        }
        status = this.pending.status
      }
      if (kind === 'query' && status === NDIS_STATUS.NDIS_STATUS_SUCCESS && bytesDone > data.length) {
        s.ctx.violation('ndis-bad-argument', `${name} for OID ${hex(oid)} says it wrote ${bytesDone} bytes into a ${data.length}-byte InformationBuffer`)
      }
      const out = kind === 'query' && status === NDIS_STATUS.NDIS_STATUS_SUCCESS ? k.memory.readBytes(buffer, Math.min(bytesDone, data.length)) : new Uint8Array(0)
      return { status, bytesDone, bytesNeeded, data: out }
    } finally {
      this.pending = null
      if (!k.log.stopped) k.pool.free(buffer, { routine: 'NDIS' })
    }
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
      s.callOrder(`${routine} with no ${kind} request pending`)
      return
    }
    p.status = typeof status === 'number' ? status >>> 0 : NDIS_STATUS.NDIS_STATUS_FAILURE
  }

  /** NdisMIndicateStatus(MiniportAdapterHandle, GeneralStatus, StatusBuffer, StatusBufferSize). */
  NdisMIndicateStatus(MiniportAdapterHandle: unknown, GeneralStatus: number, StatusBuffer: number, StatusBufferSize: number): void {
    const s = this.s
    if (!s.enterAdapter('NdisMIndicateStatus', MiniportAdapterHandle)) return
    s.dispatchOrBelow('NdisMIndicateStatus')
    const size = Number.isSafeInteger(StatusBufferSize) && StatusBufferSize > 0 ? Math.min(StatusBufferSize, MAX_INFORMATION_BUFFER) : 0
    const bytes = size > 0 && StatusBuffer !== 0 ? s.ctx.kernel.memory.readBytes(StatusBuffer, size) : new Uint8Array(0)
    this.statusSink?.status(GeneralStatus >>> 0, bytes)
  }

  NdisMIndicateStatusComplete(MiniportAdapterHandle: unknown): void {
    const s = this.s
    if (!s.enterAdapter('NdisMIndicateStatusComplete', MiniportAdapterHandle)) return
    s.dispatchOrBelow('NdisMIndicateStatusComplete')
    this.statusSink?.statusComplete()
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
