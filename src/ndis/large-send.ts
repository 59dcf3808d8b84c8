// The TCP/IP transport's bulk sends, as the upper edge makes them: an IPv4 TCP stream to the
// peer, MSS-sized segments, with whatever task offload the miniport advertised (offload.ts)
// and the protocol has left on. Per the WDK:
//  - Large send offload v1 ("Offloading the Segmentation of Large TCP Packets"): one NET_BUFFER
//    holding the whole large packet, the IP Total Length of all of it, the IP checksum 0, the
//    TCP checksum field holding the one's complement sum of the pseudo-header without the TCP
//    length, the MSS and TCP header offset in TcpLargeSendNetBufferListInfo. Offered only when
//    the payload is at most MaxOffLoadSize and makes at least MinSegmentCount segments; on
//    completion the miniport reports the payload it sent in LsoV1TransmitComplete.TcpPayload.
//  - Checksum offload ("Offloading checksum tasks"): each segment its own NET_BUFFER_LIST, the
//    IP checksum 0, the TCP checksum field holding the pseudo-header sum with the TCP length,
//    IsIPv4 | TcpChecksum | IpHeaderChecksum and the TCP header offset in
//    TcpIpChecksumNetBufferListInfo.
//  - Neither: the transport segments and computes both checksums itself (what it does for a
//    miniport that advertises nothing, so every miniport is driven as before).
// Each send's frames live in pages of their own (freed when the last NBL completes), so a send
// is as large as LSO allows without touching the protocol's other send slots.
import { PAGE_SIZE } from '../hw/address.js'
import { internetChecksum, onesSum } from '../hw/checksum.js'
import { DISPATCH_LEVEL } from '../kernel/irql.js'
import { DRIVER_FAILED } from '../kernel/driver-call.js'
import type { MappedMemory } from '../kernel/mm.js'
import type { MDL } from '../kernel/mdl.js'
import { pageNote } from '../kernel/page-notes.js'
import { POOL_TYPE } from '../kernel/wdm.js'
import { tagValue } from '../kernel/tags.js'
import { NDIS_FLAGS, NDIS_OBJECT_TYPE, NDIS_REQUEST_TYPE, NDIS_STATUS } from './constants.js'
import type { NblPoolHandle, NdisContext } from './context.js'
import type { Miniport } from './miniport.js'
import type { NblPools } from './nbl.js'
import { CHECKSUM_TX, LSO_V1, NDIS_OFFLOAD_CONSTANTS as K, NDIS_OFFLOAD_PARAMETERS_LAYOUT as P, lsoV1Transmit } from './offload.js'
import type { NET_BUFFER_LIST, NDIS_OID_REQUEST } from './types.js'

const ETH = 14
const IP = 20
const TCP = 20
const HEADERS = ETH + IP + TCP
const PROTO_TCP = 6
/** This host and its peer (the router) on the LAN. */
const SRC_IP = [10, 0, 0, 2] as const
const DST_IP = [10, 0, 0, 1] as const
const SRC_PORT = 49_152
const DST_PORT = 445
/** TCP flags: ACK, PSH (the last segment of a send), FIN. */
const ACK = 0x10
const PSH = 0x08

export interface LargeSendCounters {
  /** Sends asked for, and how: one large send offloaded, segments with checksum offload, segments in software. */
  sends: number
  lsoSends: number
  checksumSegments: number
  softwareSegments: number
  /** NBLs completed, those that failed, and TCP payload bytes the miniport reported sent by LSO. */
  completed: number
  failed: number
  lsoPayloadReported: number
  /** LSO sends whose completion reported a different payload than was sent (or none). */
  lsoPayloadMismatch: number
}

/** One NET_BUFFER_LIST of a send: its TCP payload, and whether it is a large packet. */
interface Frame {
  readonly size: number
  readonly large: boolean
}

interface Send {
  /** The frames' pages, and how many bytes of them the frames fill. */
  readonly memory: MappedMemory
  readonly bytes: number
  readonly mdls: MDL[]
  readonly nbls: NET_BUFFER_LIST[]
  /** Per NBL: the TCP payload of a large send (its completion reports it), else 0. */
  readonly lsoPayloads: number[]
  outstanding: number
}

export class LargeSender {
  readonly counters: LargeSendCounters = { sends: 0, lsoSends: 0, checksumSegments: 0, softwareSegments: 0, completed: 0, failed: 0, lsoPayloadReported: 0, lsoPayloadMismatch: 0 }
  /** What the protocol has left on (OID_TCP_OFFLOAD_PARAMETERS); the miniport's advertisement bounds it. */
  readonly enabled = { checksum: true, lso: true }
  private readonly ctx: NdisContext
  private readonly miniport: Miniport
  private readonly nbls: NblPools
  private readonly mac: () => Uint8Array
  private readonly peer: Uint8Array
  private pool: NblPoolHandle | null = null
  private readonly byNbl = new Map<NET_BUFFER_LIST, Send>()
  private seq = 0x1000_0000
  private ipId = 0x100

  constructor(ctx: NdisContext, miniport: Miniport, nbls: NblPools, mac: () => Uint8Array, peer: Uint8Array) {
    this.ctx = ctx
    this.miniport = miniport
    this.nbls = nbls
    this.mac = mac
    this.peer = peer
  }

  /** The MSS: the miniport's MTU less the IP and TCP headers (1460 on Ethernet). */
  get mss(): number {
    return Math.max(1, (this.ctx.generalAttributes?.MtuSize ?? 1500) - IP - TCP)
  }

  /**
   * Sends `payload` bytes of TCP data; returns false when nothing could be sent (no memory,
   * the miniport not running). As the transport does, a send larger than one large packet can
   * carry (MaxOffLoadSize, and 65,535 bytes of IPv4 Total Length) goes as several, each a whole
   * number of MSS; a tail too short for MinSegmentCount goes as ordinary segments.
   */
  send(payload: number): boolean {
    if (this.miniport.state !== 'running' || !Number.isSafeInteger(payload) || payload < 0) return false
    const mss = this.mss
    const offload = this.ctx.offload
    const ipv4 = offload?.ipv4
    const checksum = this.enabled.checksum && ipv4 !== undefined && ipv4.tcpChecksum && ipv4.ipChecksum
    const plan = this.plan(payload, mss)
    const send = this.allocate(plan)
    if (send === null) return false
    // The whole send is built in one image, then copied into its pages.
    const image = new Uint8Array(send.bytes)
    const view = new DataView(image.buffer)
    let at = 0
    let sent = 0
    plan.forEach(({ size, large }, f) => {
      const ip = at + ETH
      const tcp = ip + IP
      const length = HEADERS + size
      this.writeHeaders(view, at, size, sent + size === payload, this.seq + sent, large ? Math.ceil(size / mss) : 1)
      for (let i = 0; i < size; i++) image[tcp + TCP + i] = streamByte(sent + i)
      const nbl = send.nbls[f]!
      const info = nbl.NetBufferListInfo
      info[K.TcpIpChecksumNetBufferListInfo] = 0
      info[K.TcpLargeSendNetBufferListInfo] = 0
      if (large) {
        // The pseudo-header sum without the TCP length; the IP checksum left 0.
        view.setUint16(tcp + 16, onesSum(image, ip + 12, ip + 20, PROTO_TCP))
        info[K.TcpLargeSendNetBufferListInfo] = lsoV1Transmit(mss, ETH + IP)
        this.counters.lsoSends++
      } else if (checksum) {
        view.setUint16(tcp + 16, onesSum(image, ip + 12, ip + 20, PROTO_TCP + TCP + size))
        info[K.TcpIpChecksumNetBufferListInfo] = (CHECKSUM_TX.IsIPv4 | CHECKSUM_TX.TcpChecksum | CHECKSUM_TX.IpHeaderChecksum | ((ETH + IP) << CHECKSUM_TX.TcpHeaderOffsetShift)) >>> 0
        this.counters.checksumSegments++
      } else {
        view.setUint16(ip + 10, internetChecksum(image, ip, tcp))
        view.setUint16(tcp + 16, internetChecksum(image, tcp, at + length, onesSum(image, ip + 12, ip + 20, PROTO_TCP + TCP + size)))
        this.counters.softwareSegments++
      }
      const nb = nbl.FirstNetBuffer!
      nb.DataOffset = 0
      nb.CurrentMdlOffset = 0
      nb.DataLength = length
      nbl.Next = f + 1 < plan.length ? send.nbls[f + 1]! : null
      at += length
      sent += size
    })
    this.writeMapped(send.memory, image)
    this.seq = (this.seq + payload) % 4294967296
    this.counters.sends++
    const chars = this.miniport.chars
    const chain = send.nbls[0]!
    const r = this.ctx.caller.call('MiniportSendNetBufferLists', DISPATCH_LEVEL, () =>
      chars.SendNetBufferListsHandler(this.ctx.adapterContext, chain, NDIS_FLAGS.NDIS_DEFAULT_PORT_NUMBER, NDIS_FLAGS.NDIS_SEND_FLAGS_DISPATCH_LEVEL),
    )
    return r !== DRIVER_FAILED
  }

  /** How `payload` bytes go out: large packets while LSO is usable, then MSS-sized segments. */
  private plan(payload: number, mss: number): Frame[] {
    const lso = this.enabled.lso ? this.ctx.offload?.lsoV1 ?? null : null
    // The most one large packet carries: MaxOffLoadSize and the IPv4 Total Length, in whole MSS.
    const largest = lso === null ? 0 : Math.floor(Math.min(lso.maxOffLoadSize, 0xffff - IP - TCP) / mss) * mss
    const plan: Frame[] = []
    let left = payload
    do {
      const size = Math.min(left, largest)
      if (lso !== null && size > mss && Math.ceil(size / mss) >= lso.minSegmentCount) plan.push({ size, large: true })
      else plan.push({ size: Math.min(left, mss), large: false })
      left -= plan[plan.length - 1]!.size
    } while (left > 0)
    return plan
  }

  /**
   * An NBL the miniport completed: when it is one of ours, accounts for it and returns the NBL
   * that followed it in the chain (read before the NBL may be freed); otherwise undefined.
   */
  complete(nbl: NET_BUFFER_LIST): NET_BUFFER_LIST | null | undefined {
    const send = this.byNbl.get(nbl)
    if (send === undefined) return undefined
    const next = nbl.Next ?? null
    this.byNbl.delete(nbl)
    this.counters.completed++
    if (nbl.Status !== NDIS_STATUS.NDIS_STATUS_SUCCESS) this.counters.failed++
    else {
      const lsoPayload = send.lsoPayloads[send.nbls.indexOf(nbl)] ?? 0
      if (lsoPayload > 0) {
        const reported = Number(nbl.NetBufferListInfo[K.TcpLargeSendNetBufferListInfo] ?? 0) & LSO_V1.TcpPayloadMask
        this.counters.lsoPayloadReported += reported
        if (reported !== lsoPayload) this.counters.lsoPayloadMismatch++
      }
    }
    if (--send.outstanding === 0) this.release(send)
    return next
  }

  /** NBLs not yet completed. */
  get inFlight(): number {
    return this.byNbl.size
  }

  /**
   * OID_TCP_OFFLOAD_PARAMETERS: turns the IPv4 checksum services and LSOV1 on or off at the
   * miniport, as an administrator's change reaches it. On success the protocol uses the new
   * setting. Returns the status.
   */
  setOffload(options: { checksum: boolean; lso: boolean }): number {
    const k = this.ctx.kernel
    const buffer = k.pool.allocate(POOL_TYPE.NonPagedPoolNx, P.Size, tagValue('diOP'), { driver: false })
    if (buffer === 0) return NDIS_STATUS.NDIS_STATUS_RESOURCES
    const bytes = new Uint8Array(P.Size)
    bytes[P.Header] = 0x80 // NDIS_OBJECT_TYPE_DEFAULT
    bytes[P.Header + 1] = K.NDIS_OFFLOAD_PARAMETERS_REVISION_1
    bytes[P.Header + 2] = P.Size
    const csum = options.checksum ? K.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED : K.NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED
    bytes[P.IPv4Checksum] = csum
    bytes[P.TCPIPv4Checksum] = csum
    bytes[P.UDPIPv4Checksum] = csum
    bytes[P.LsoV1] = options.lso ? K.NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED : K.NDIS_OFFLOAD_PARAMETERS_LSOV1_DISABLED
    k.ram.writeBytes(k.space.translate(buffer), bytes)
    const request: NDIS_OID_REQUEST = {
      Header: { Type: NDIS_OBJECT_TYPE.NDIS_OBJECT_TYPE_OID_REQUEST, Revision: 1, Size: 0 },
      RequestType: NDIS_REQUEST_TYPE.NdisRequestSetInformation,
      PortNumber: 0,
      Timeout: 0,
      RequestId: null,
      DATA: { Oid: K.OID_TCP_OFFLOAD_PARAMETERS, InformationBuffer: buffer, InformationBufferLength: P.Size, BytesWritten: 0, BytesRead: 0, BytesNeeded: 0 },
    }
    const status = this.miniport.oid(request)
    if (status === NDIS_STATUS.NDIS_STATUS_SUCCESS) {
      this.enabled.checksum = options.checksum
      this.enabled.lso = options.lso
    }
    if (!k.log.stopped) k.pool.free(buffer, { routine: 'NDIS' })
    return status
  }

  // ---- building ------------------------------------------------------------------------------

  /** Pages for the frames of `plan`, an MDL and an NBL per frame laid out back to back in them. */
  private allocate(plan: readonly Frame[]): Send | null {
    const k = this.ctx.kernel
    this.pool ??= this.nbls.allocatePool({ ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: 'SLCT', DataSize: 0 }, undefined, false)
    if (this.pool === null) return null
    const bytes = plan.reduce((n, f) => n + HEADERS + f.size, 0)
    const memory = k.mm.allocateMapped(Math.ceil(bytes / PAGE_SIZE), { kind: 'pool', label: 'protocol large send', driver: false }, {}, 'zero')
    if (memory === null) return null
    const send: Send = { memory, bytes, mdls: [], nbls: [], lsoPayloads: [], outstanding: plan.length }
    let at = 0
    for (const frame of plan) {
      const length = HEADERS + frame.size
      const mdl = k.mdl.create(memory.va + at, length, { driver: false })
      const nbl = mdl === null ? null : this.nbls.allocate(this.pool, mdl, 0, 0, true, undefined)
      if (mdl !== null) {
        k.mdl.buildForNonPagedPool(mdl)
        send.mdls.push(mdl)
      }
      if (nbl === null) {
        send.outstanding = 0
        this.release(send)
        return null
      }
      send.nbls.push(nbl)
      send.lsoPayloads.push(frame.large ? frame.size : 0)
      this.byNbl.set(nbl, send)
      at += length
    }
    return send
  }

  private release(send: Send): void {
    const k = this.ctx.kernel
    for (const nbl of send.nbls) {
      this.byNbl.delete(nbl)
      this.nbls.free(nbl)
    }
    for (const mdl of send.mdls) k.mdl.free(mdl)
    k.mm.freeMapped(send.memory, pageNote('the protocol\'s large send (freed when it completed)', undefined))
  }

  /**
   * Ethernet, IPv4 and TCP headers at `at` of a frame carrying `chunk` payload bytes from
   * sequence number `seq`, to become `segments` packets on the wire: the NIC gives each segment
   * of a large packet the next IP Identification (manual 3.5.9.2), so the transport skips that
   * many. Checksum fields are left 0.
   */
  private writeHeaders(v: DataView, at: number, chunk: number, last: boolean, seq: number, segments: number): void {
    const f = new Uint8Array(v.buffer, at, HEADERS)
    f.set(this.peer, 0)
    f.set(this.mac(), 6)
    v.setUint16(at + 12, 0x0800)
    const ip = at + ETH
    v.setUint8(ip, 0x45)
    v.setUint16(ip + 2, IP + TCP + chunk)
    v.setUint16(ip + 4, this.ipId)
    this.ipId = (this.ipId + segments) & 0xffff
    v.setUint16(ip + 6, 0x4000) // DF
    v.setUint8(ip + 8, 128)
    v.setUint8(ip + 9, PROTO_TCP)
    f.set(SRC_IP, ETH + 12)
    f.set(DST_IP, ETH + 16)
    const t = ip + IP
    v.setUint16(t, SRC_PORT)
    v.setUint16(t + 2, DST_PORT)
    v.setUint32(t + 4, seq >>> 0)
    v.setUint32(t + 8, 1)
    v.setUint8(t + 12, (TCP / 4) << 4)
    v.setUint8(t + 13, ACK | (last ? PSH : 0))
    v.setUint16(t + 14, 0xffff)
  }

  /** Copies `image` into the send's pages. */
  private writeMapped(memory: MappedMemory, image: Uint8Array): void {
    const ram = this.ctx.kernel.ram
    for (let done = 0; done < image.length; ) {
      const page = Math.floor(done / PAGE_SIZE)
      const n = Math.min(PAGE_SIZE, image.length - done)
      ram.writeFrom(memory.pfns[page]! * PAGE_SIZE, image, done, n)
      done += n
    }
  }
}

/** The byte at offset `i` of the protocol's TCP stream. */
export function streamByte(i: number): number {
  return (i * 31 + (i >>> 9)) & 0xff
}
