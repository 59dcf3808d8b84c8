// The protocol's binding to the miniport, as TCP/IP's bind looks from below: once the miniport
// has restarted, NDIS and TCP/IP query what they need, then set the packet filter, the
// multicast list and the lookahead; when the protocol unbinds (before the pause and halt) the
// packet filter goes back to zero. Every request is an NDIS_OID_REQUEST to MiniportOidRequest at
// PASSIVE_LEVEL, with its information buffer in nonpaged pool, pended or not as the miniport
// chooses. `m.oid()` and `dmalab run --oid` issue one request the same way (to an NDIS 5.1
// miniport: v5/user-requests.ts, with the input and result shapes below).
//
// WDK facts behind the sequence:
//  - OID_GEN_CURRENT_PACKET_FILTER: for NDIS 6 miniports "the query is not requested and the set
//    is mandatory"; the filter is zero at MiniportInitializeEx and indications are off until a
//    protocol sets it.
//  - OID_802_3_MULTICAST_LIST: NDIS answers queries itself; miniports that support multicast
//    lists must support the set, and a miniport may refuse more addresses than
//    OID_802_3_MAXIMUM_LIST_SIZE (NDIS_STATUS_MULTICAST_FULL).
//  - OID_GEN_CURRENT_LOOKAHEAD: NDIS handles queries and sends valid sets to the miniport; a
//    suggestion the miniport is never required to follow.
// The addresses are what an IPv4 and IPv6 host joins: all-hosts 224.0.0.1, mDNS 224.0.0.251,
// IPv6 all-nodes ff02::1 and the solicited-node group of its link-local address.
import { PAGE_SIZE } from '../hw/address.js'
import { POOL_TYPE } from '../kernel/wdm.js'
import { tagValue } from '../kernel/tags.js'
import { NDIS_OBJECT_TYPE, NDIS_PACKET_TYPE, NDIS_REQUEST_TYPE, NDIS_STATUS, OID, oidName, statusName } from './constants.js'
import type { NdisContext } from './context.js'
import type { Miniport } from './miniport.js'
import { filterName, type PacketFilter } from './packet-filter.js'
import type { NDIS_OID_REQUEST } from './types.js'

/** An OID request as the host API takes it (`m.oid`). */
export interface OidRequestOptions {
  readonly request: 'query' | 'set'
  /** The OID's value or its ntddndis.h name (`OID_GEN_LINK_SPEED`). */
  readonly oid: number | string
  /** Set: a ULONG (4 bytes, little-endian) or the bytes themselves. */
  readonly value?: number | Uint8Array | readonly number[]
  /** Query: the information buffer's size in bytes (default 256). */
  readonly length?: number
}

/** What came back. */
export interface OidResult {
  readonly request: 'query' | 'set'
  readonly oid: number
  readonly name: string
  readonly status: number
  readonly statusName: string
  readonly bytesWritten: number
  readonly bytesRead: number
  readonly bytesNeeded: number
  /** Query: the bytes the miniport wrote, as hex (`00 1b 21 3a 4f 5e`). */
  readonly data?: string
  /** Query: the bytes as a little-endian number, when the miniport wrote 1, 2, 4 or 8 of them. */
  readonly value?: number
}

/** The packet filter TCP/IP sets: its own address, the groups it joined, broadcasts (ARP). */
export const BIND_FILTER = NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_MULTICAST | NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_BROADCAST
/** The lookahead the protocol asks for (headers through TCP with options). */
export const BIND_LOOKAHEAD = 256
/** Queries at bind, in order: the addresses, then how many multicast addresses fit. */
const BIND_QUERIES = [OID.OID_802_3_PERMANENT_ADDRESS, OID.OID_802_3_CURRENT_ADDRESS, OID.OID_802_3_MAXIMUM_LIST_SIZE] as const
const BUFFER_TAG = tagValue('diOP')

export type BindState = 'unbound' | 'bound' | 'refused'

export class Binding {
  state: BindState = 'unbound'
  /** Requests the user issued (m.oid, --oid), for the report. */
  readonly userRequests: OidResult[] = []
  private readonly ctx: NdisContext
  private readonly miniport: Miniport
  private readonly filter: PacketFilter

  constructor(ctx: NdisContext, miniport: Miniport, filter: PacketFilter) {
    this.ctx = ctx
    this.miniport = miniport
    this.filter = filter
  }

  /** TCP/IP binds: queries, then the packet filter, the multicast list and the lookahead. */
  bind(): void {
    const k = this.ctx.kernel
    let maxList = 32
    for (const oid of BIND_QUERIES) {
      const r = this.issue({ request: 'query', oid })
      if (k.log.stopped) return
      if (r.status !== NDIS_STATUS.NDIS_STATUS_SUCCESS || r.data === undefined) continue
      if (oid === OID.OID_802_3_CURRENT_ADDRESS && r.bytesWritten >= 6) this.filter.mac.set(hexBytes(r.data).subarray(0, 6))
      if (oid === OID.OID_802_3_MAXIMUM_LIST_SIZE && r.value !== undefined) maxList = r.value
    }
    const supported = this.ctx.generalAttributes?.SupportedPacketFilters
    const wanted = typeof supported === 'number' && supported !== 0 ? BIND_FILTER & supported : BIND_FILTER
    const set = this.issue({ request: 'set', oid: OID.OID_GEN_CURRENT_PACKET_FILTER, value: wanted })
    if (k.log.stopped) return
    if (set.status !== NDIS_STATUS.NDIS_STATUS_SUCCESS) {
      this.state = 'refused'
      k.log.report({
        kind: 'oid-failed',
        message: `MiniportOidRequest failed the set of OID_GEN_CURRENT_PACKET_FILTER to ${filterName(wanted)} with ${set.statusName}: an NDIS 6 miniport must support this set (WDK: OID_GEN_CURRENT_PACKET_FILTER), so TCP/IP does not bind and no traffic runs`,
        details: { oid: set.name, status: set.statusName },
      })
      return
    }
    this.filter.filter = wanted
    this.state = 'bound'
    if ((wanted & NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_MULTICAST) !== 0) {
      const groups = joinedGroups(this.filter.mac).subarray(0, Math.max(0, Math.min(4, maxList)) * 6)
      const r = this.issue({ request: 'set', oid: OID.OID_802_3_MULTICAST_LIST, value: groups })
      if (k.log.stopped) return
      if (r.status === NDIS_STATUS.NDIS_STATUS_SUCCESS) this.filter.setMulticastList(groups)
    }
    this.issue({ request: 'set', oid: OID.OID_GEN_CURRENT_LOOKAHEAD, value: BIND_LOOKAHEAD })
  }

  /** The protocol unbinds: NDIS sets the packet filter to zero before the pause. */
  unbind(): void {
    if (this.state !== 'bound') return
    this.state = 'unbound'
    const r = this.issue({ request: 'set', oid: OID.OID_GEN_CURRENT_PACKET_FILTER, value: 0 })
    // Whatever the miniport answered, NDIS indicates nothing to an unbound protocol.
    void r
    this.filter.filter = 0
  }

  /** A request the user asked for (`m.oid`): issued as NDIS would, and kept for the report. */
  user(options: OidRequestOptions): OidResult {
    const r = this.issue(options)
    this.userRequests.push(r)
    if (r.request === 'set' && r.status === NDIS_STATUS.NDIS_STATUS_SUCCESS) {
      const bytes = valueBytes(options.value)
      const filter = ulongOf(bytes)
      if (r.oid === OID.OID_GEN_CURRENT_PACKET_FILTER && filter !== null) this.filter.filter = filter
      if (r.oid === OID.OID_802_3_MULTICAST_LIST) this.filter.setMulticastList(bytes.subarray(0, bytes.length - (bytes.length % 6)))
    }
    return r
  }

  /** One NDIS_OID_REQUEST to MiniportOidRequest; its information buffer lives in nonpaged pool. */
  issue(options: OidRequestOptions): OidResult {
    const k = this.ctx.kernel
    const { oid, bytes, length } = requestInput(options)
    const buffer = length === 0 ? 0 : k.pool.allocate(POOL_TYPE.NonPagedPoolNx, length, BUFFER_TAG, { driver: false, zero: true })
    if (length !== 0 && buffer === 0) return oidResult(options.request, oid, NDIS_STATUS.NDIS_STATUS_RESOURCES, 0, 0, 0)
    if (bytes.length > 0) k.ram.writeFrom(k.space.translate(buffer), bytes, 0, bytes.length)
    const request: NDIS_OID_REQUEST = {
      Header: { Type: NDIS_OBJECT_TYPE.NDIS_OBJECT_TYPE_OID_REQUEST, Revision: 1, Size: 0 },
      RequestType: options.request === 'set' ? NDIS_REQUEST_TYPE.NdisRequestSetInformation : NDIS_REQUEST_TYPE.NdisRequestQueryInformation,
      PortNumber: 0,
      Timeout: 0,
      RequestId: null,
      DATA: { Oid: oid, InformationBuffer: buffer, InformationBufferLength: length, BytesWritten: 0, BytesRead: 0, BytesNeeded: 0 },
    }
    const status = this.miniport.oid(request) >>> 0
    const d = request.DATA
    const written = options.request === 'query' && status === NDIS_STATUS.NDIS_STATUS_SUCCESS ? Math.max(0, Math.min(numberOr0(d.BytesWritten), length)) : 0
    let data: Uint8Array | undefined
    if (options.request === 'query' && !k.log.stopped) data = Uint8Array.from(k.ram.readBytes(k.space.translate(buffer), written))
    if (buffer !== 0 && !k.log.stopped) k.pool.free(buffer, { routine: 'NDIS' })
    return oidResult(options.request, oid, status, numberOr0(d.BytesWritten), numberOr0(d.BytesRead), numberOr0(d.BytesNeeded), data)
  }
}

/**
 * What a request asks for, whichever driver model answers it: the OID, the bytes of a set, and
 * the information buffer's length (a query's at most a page). Bad input is the caller's mistake
 * (RangeError), with the same words for NDIS 6 and NDIS 5 miniports.
 */
export function requestInput(options: OidRequestOptions): { oid: number; bytes: Uint8Array; length: number } {
  const oid = resolveOid(options.oid)
  const bytes = options.request === 'set' ? valueBytes(options.value) : new Uint8Array(0)
  const length = options.request === 'set' ? bytes.length : Math.max(0, Math.min(options.length ?? 256, PAGE_SIZE))
  return { oid, bytes, length }
}

/** The result of one request, as `m.oid` and the report's `oids` show it for either driver model. */
export function oidResult(request: 'query' | 'set', oid: number, status: number, bytesWritten: number, bytesRead: number, bytesNeeded: number, data?: Uint8Array): OidResult {
  return {
    request,
    oid,
    name: oidName(oid),
    status,
    statusName: statusName(status),
    bytesWritten,
    bytesRead,
    bytesNeeded,
    ...(data === undefined ? {} : { data: [...data].map((b) => b.toString(16).padStart(2, '0')).join(' ') }),
    ...(data !== undefined && [1, 2, 4, 8].includes(data.length) ? { value: littleEndian(data) } : {}),
  }
}

/** A ULONG's four bytes, little-endian, as a set of it carries them (the packet filter), or null if fewer. */
export function ulongOf(bytes: Uint8Array): number | null {
  return bytes.length >= 4 ? (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0 : null
}

function numberOr0(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) ? n : 0
}

/** An OID given by value or by name; an unknown name is the caller's mistake. */
export function resolveOid(oid: number | string): number {
  if (typeof oid === 'number') {
    if (!Number.isInteger(oid) || oid < 0 || oid > 0xffff_ffff) throw new RangeError(`oid: ${oid} is not a 32-bit OID value`)
    return oid
  }
  const known = (OID as Record<string, number>)[oid]
  if (known !== undefined) return known
  if (/^0x[0-9a-f]{1,8}$/i.test(oid)) return Number.parseInt(oid, 16)
  throw new RangeError(`oid: unknown OID "${oid}" (a name such as OID_GEN_LINK_SPEED, or a value such as 0x00010107)`)
}

function valueBytes(value: OidRequestOptions['value']): Uint8Array {
  if (value === undefined) return new Uint8Array(0)
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new RangeError(`oid: value ${value} is not a ULONG`)
    return Uint8Array.of(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff)
  }
  return Uint8Array.from(value)
}

function littleEndian(b: Uint8Array): number {
  let v = 0
  for (let i = b.length - 1; i >= 0; i--) v = v * 256 + b[i]!
  return v
}

function hexBytes(text: string): Uint8Array {
  return Uint8Array.from(text.split(' ').filter((s) => s !== '').map((h) => Number.parseInt(h, 16)))
}

/** The groups an IPv4 + IPv6 host joins, for an interface with address `mac`. */
export function joinedGroups(mac: Uint8Array): Uint8Array {
  return Uint8Array.from([
    0x01, 0x00, 0x5e, 0x00, 0x00, 0x01, // 224.0.0.1 all hosts
    0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb, // 224.0.0.251 mDNS
    0x33, 0x33, 0x00, 0x00, 0x00, 0x01, // ff02::1 all nodes
    0x33, 0x33, 0xff, mac[3] ?? 0, mac[4] ?? 0, mac[5] ?? 0, // solicited-node group of fe80::(EUI-64)
  ])
}
