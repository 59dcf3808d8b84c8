// `m.oid()` and `dmalab run --oid` for an NDIS 5.1 miniport. NDIS 5 has no NDIS_OID_REQUEST and
// no MiniportOidRequest: NDIS hands a query to MiniportQueryInformation and a set to
// MiniportSetInformation (NDIS 5.1 reference: "MiniportQueryInformation",
// "MiniportSetInformation"), one request at a time at DISPATCH_LEVEL, and a request the
// miniport pends completes with NdisMQueryInformationComplete / NdisMSetInformationComplete
// (requests.ts issues it and waits). What the user asked and what came back have the same
// shape as for an NDIS 6 miniport (../binding.ts), so the report's `oids` read alike.
import { NDIS_STATUS, OID } from '../constants.js'
import { oidResult, requestInput, ulongOf, type OidRequestOptions, type OidResult } from '../binding.js'
import type { MiniportState } from '../miniport.js'
import type { Protocol5 } from './protocol.js'
import type { Requests5 } from './requests.js'
import type { Ndis5State } from './state.js'

export class UserRequests5 {
  /** Requests the user issued (m.oid, --oid), for the report. */
  readonly done: OidResult[] = []
  private readonly s: Ndis5State
  private readonly requests: Requests5
  private readonly protocol: Protocol5
  private readonly miniportState: () => MiniportState

  constructor(state: Ndis5State, requests: Requests5, protocol: Protocol5, miniportState: () => MiniportState) {
    this.s = state
    this.requests = requests
    this.protocol = protocol
    this.miniportState = miniportState
  }

  /**
   * One query or set, issued as NDIS would and kept for the report. A set of the packet filter
   * the miniport accepts is the protocol's filter from then on (a filter of 0 means no more
   * indications, as after the unbind).
   */
  issue(options: OidRequestOptions): OidResult {
    const { oid, bytes, length } = requestInput(options)
    const r = this.send(options.request, oid, bytes, length)
    this.done.push(r)
    const filter = ulongOf(bytes)
    if (r.request === 'set' && r.status === NDIS_STATUS.NDIS_STATUS_SUCCESS && oid === OID.OID_GEN_CURRENT_PACKET_FILTER && filter !== null) this.protocol.packetFilter = filter
    return r
  }

  private send(request: 'query' | 'set', oid: number, bytes: Uint8Array, length: number): OidResult {
    // An adapter that is not running (initialization failed, or halted) takes no requests; NDIS 6's
    // MiniportOidRequest path answers the same (../miniport.ts).
    if (this.miniportState() !== 'running') return oidResult(request, oid, NDIS_STATUS.NDIS_STATUS_FAILURE, 0, 0, 0)
    const r = request === 'query' ? this.requests.query(oid, length) : this.requests.set(oid, bytes)
    const data = request === 'query' && !this.s.ctx.kernel.log.stopped ? r.data : undefined
    return oidResult(request, oid, r.status, request === 'query' ? r.bytesDone : 0, request === 'set' ? r.bytesDone : 0, r.bytesNeeded, data)
  }
}
