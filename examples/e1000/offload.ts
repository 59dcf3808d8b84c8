// Task offload on the 82540EM: what the driver tells NDIS the NIC can do, and how it turns the
// transport's requests into descriptors.
//  - Advertised (NdisMSetMiniportAttributes, offload attributes; WDK "Reporting a NIC's
//    checksum offload / LSOV1 capabilities"): IPv4 IP, TCP and UDP checksums both ways, and
//    large send offload version 1 for IPv4 up to 64 KiB of TCP payload. IPv6 is not offered:
//    the 82540EM cannot check IPv6 checksums on receive, and its IPv6 segmentation arithmetic
//    (8254x manual 3.5.9) does not match what LSOV2 asks.
//  - Transmit: a send whose NET_BUFFER_LIST carries TcpIpChecksumNetBufferListInfo or
//    TcpLargeSendNetBufferListInfo gets a TCP/IP context descriptor (manual 3.3.6) and its data in
//    TCP/IP data descriptors (3.3.7) with POPTS asking for the checksums; an LSO send sets TSE,
//    MSS, HDRLEN and PAYLEN so the NIC cuts the segments (3.5). Before completing an LSO send
//    the driver writes LsoV1TransmitComplete.TcpPayload, as the WDK requires.
//  - Receive: RXCSUM.IPOFLD and TUOFLD (3.2.9); each indicated frame's IPCS/TCPCS and IPE/TCPE
//    become the Receive bits of TcpIpChecksumNetBufferListInfo.
//  - OID_TCP_OFFLOAD_PARAMETERS turns the services on and off; the driver reports the new
//    configuration with NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG.
// The bit layouts are the driver's own copy of the WDK's structures, as a C driver's bitfields.
import type { NdisApi } from '../../src/ndis/api.js'
import type { NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES, NDIS_OFFLOAD, NET_BUFFER, NET_BUFFER_LIST } from '../../src/ndis/types.js'
import type { Adapter } from './adapter.js'
import {
  DESC_SIZE, POPTS_IXSM, POPTS_TXSM, RXD_ERR_IPE, RXD_ERR_TCPE, RXD_STA_IPCS, RXD_STA_IXSM, RXD_STA_TCPCS, TUCMD_IP, TUCMD_TCP, TUCMD_TSE, TXD_CMD_DEXT,
} from './hw.js'

/** TcpIpChecksumNetBufferListInfo, Transmit and Receive (ndis/nblchecksum.h). */
const CSUM_TX_IPV4 = 0x1
const CSUM_TX_TCP = 0x4
const CSUM_TX_UDP = 0x8
const CSUM_TX_IP = 0x10
const CSUM_RX_TCP_FAILED = 0x1
const CSUM_RX_UDP_FAILED = 0x2
const CSUM_RX_IP_FAILED = 0x4
const CSUM_RX_TCP_OK = 0x8
const CSUM_RX_UDP_OK = 0x10
const CSUM_RX_IP_OK = 0x20
const ETH_HEADER = 14
const ETHERTYPE_IPV4 = 0x0800
const IP_PROTO_TCP = 6
const IP_PROTO_UDP = 17
/** TcpLargeSendNetBufferListInfo, LsoV1Transmit (ndis/nbllso.h). */
const LSO_MSS_MASK = 0xf_ffff
const LSO_TYPE_V2 = 0x4000_0000
const LSO_PAYLOAD_MASK = 0x3fff_ffff
/** The largest TCP payload an LSO send may carry: PAYLEN is 20 bits (3.3.6), 64 KiB is what we offer. */
export const LSO_MAX_OFFLOAD_SIZE = 65536
const LSO_MIN_SEGMENT_COUNT = 2
/** The 82540EM keeps the prototype header in a 240-byte buffer (3.5.9). */
export const LSO_MAX_HEADER = 240

export interface OffloadState {
  /** IPv4 checksums on transmit / receive, large sends: what is on now. */
  txChecksum: boolean
  rxChecksum: boolean
  lso: boolean
}

/** What one send asks the NIC for. */
export type SendTask =
  | { readonly kind: 'none' }
  | { readonly kind: 'checksum'; readonly ip: boolean; readonly l4: 'tcp' | 'udp' | null; readonly ipOffset: number; readonly l4Offset: number }
  | { readonly kind: 'lso'; readonly mss: number; readonly ipOffset: number; readonly l4Offset: number; readonly hdrlen: number; readonly payload: number }

export const NO_TASK: SendTask = { kind: 'none' }

/** What the NIC can do: everything on. */
export const ALL_OFFLOAD: Readonly<OffloadState> = { txChecksum: true, rxChecksum: true, lso: true }

/**
 * NDIS_OFFLOAD for `state`: IPv4 checksums in each direction that is on, LSOV1 when on; IPv6
 * and the rest not supported.
 */
export function ndisOffload(ndis: NdisApi, state: Readonly<OffloadState>): NDIS_OFFLOAD {
  const on = (yes: boolean): number => (yes ? ndis.NDIS_OFFLOAD_SUPPORTED : ndis.NDIS_OFFLOAD_NOT_SUPPORTED)
  const ipv4 = (yes: boolean) => ({
    Encapsulation: yes ? ndis.NDIS_ENCAPSULATION_IEEE_802_3 : ndis.NDIS_ENCAPSULATION_NOT_SUPPORTED,
    IpOptionsSupported: on(yes),
    TcpOptionsSupported: on(yes),
    TcpChecksum: on(yes),
    UdpChecksum: on(yes),
    IpChecksum: on(yes),
  })
  const ipv6 = { Encapsulation: ndis.NDIS_ENCAPSULATION_NOT_SUPPORTED, IpExtensionHeadersSupported: 0, TcpOptionsSupported: 0, TcpChecksum: 0, UdpChecksum: 0 }
  return {
    Header: { Type: ndis.NDIS_OBJECT_TYPE_OFFLOAD, Revision: ndis.NDIS_OFFLOAD_REVISION_1, Size: 0 },
    Checksum: { IPv4Transmit: ipv4(state.txChecksum), IPv4Receive: ipv4(state.rxChecksum), IPv6Transmit: ipv6, IPv6Receive: ipv6 },
    LsoV1: {
      IPv4: {
        Encapsulation: state.lso ? ndis.NDIS_ENCAPSULATION_IEEE_802_3 : ndis.NDIS_ENCAPSULATION_NOT_SUPPORTED,
        MaxOffLoadSize: state.lso ? LSO_MAX_OFFLOAD_SIZE : 0,
        MinSegmentCount: state.lso ? LSO_MIN_SEGMENT_COUNT : 0,
        TcpOptions: on(state.lso),
        IpOptions: on(state.lso),
      },
    },
  }
}

/** NdisMSetMiniportAttributes' offload attributes: by default everything the NIC can do is on. */
export function offloadAttributes(ndis: NdisApi): NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES {
  return {
    Header: { Type: ndis.NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES, Revision: ndis.NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1, Size: 0 },
    DefaultOffloadConfiguration: ndisOffload(ndis, ALL_OFFLOAD),
    HardwareOffloadCapabilities: ndisOffload(ndis, ALL_OFFLOAD),
  }
}

/** The send's task, from its NET_BUFFER_LIST information (and, for LSO, its TCP header). */
export function sendTask(a: Adapter, nbl: NET_BUFFER_LIST, nb: NET_BUFFER): SendTask {
  const ndis = a.ndis
  const lso = Number(nbl.NetBufferListInfo[ndis.TcpLargeSendNetBufferListInfo] ?? 0) >>> 0
  const csum = Number(nbl.NetBufferListInfo[ndis.TcpIpChecksumNetBufferListInfo] ?? 0) >>> 0
  if (lso !== 0 && a.offload.lso && (lso & LSO_TYPE_V2) === 0) {
    const mss = lso & LSO_MSS_MASK
    const l4Offset = (lso >>> 20) & 0x3ff
    // The headers are in the first MDL when LSO is on (WDK, "Offloading the Segmentation of
    // Large TCP Packets"): the TCP header's data offset gives their length.
    const base = ndis.MmGetSystemAddressForMdlSafe(nb.CurrentMdl!, ndis.NormalPagePriority)
    if (base === 0) return NO_TASK
    const hdrlen = l4Offset + (ndis.memory.read8(base + nb.CurrentMdlOffset + l4Offset + 12) >>> 4) * 4
    if (mss === 0 || hdrlen > LSO_MAX_HEADER || hdrlen >= nb.DataLength) return NO_TASK
    return { kind: 'lso', mss, ipOffset: 14, l4Offset, hdrlen, payload: nb.DataLength - hdrlen }
  }
  if ((csum & CSUM_TX_IPV4) === 0 || !a.offload.txChecksum) return NO_TASK
  const l4 = (csum & CSUM_TX_TCP) !== 0 ? 'tcp' : (csum & CSUM_TX_UDP) !== 0 ? 'udp' : null
  const ip = (csum & CSUM_TX_IP) !== 0
  if (!ip && l4 === null) return NO_TASK
  return { kind: 'checksum', ip, l4, ipOffset: 14, l4Offset: (csum >>> 16) & 0x3ff }
}

/**
 * Writes the TCP/IP context descriptor for `task` at ring index `index` (3.3.6): the IP
 * checksum over the IP header, the TCP or UDP one from its header to the end of the packet, and
 * for LSO the segmentation parameters. Returns the POPTS the data descriptors carry.
 */
export function writeContext(a: Adapter, index: number, task: SendTask): number {
  const m = a.ndis.memory
  const d = a.txRing + index * DESC_SIZE
  if (task.kind === 'none') return 0
  const udp = task.kind === 'checksum' && task.l4 === 'udp'
  const l4 = task.kind === 'lso' || task.l4 !== null
  const ipcse = task.l4Offset > task.ipOffset ? task.l4Offset - 1 : 0
  const tucso = task.l4Offset + (udp ? 6 : 16)
  m.write32(d, (task.ipOffset | ((task.ipOffset + 10) << 8) | (ipcse << 16)) >>> 0)
  m.write32(d + 4, (task.l4Offset | (tucso << 8)) >>> 0) // TUCSE 0: to the end
  const tucmd = (udp ? 0 : TUCMD_TCP) | TUCMD_IP | (task.kind === 'lso' ? TUCMD_TSE : 0)
  const payload = task.kind === 'lso' ? task.payload : 0
  m.write32(d + 8, ((payload & 0xf_ffff) | ((tucmd | TXD_CMD_DEXT) << 24)) >>> 0) // DTYP 0000b: context
  m.write32(d + 12, task.kind === 'lso' ? ((task.hdrlen << 8) | (task.mss << 16)) >>> 0 : 0)
  if (task.kind === 'lso') return POPTS_IXSM | POPTS_TXSM
  return (task.ip ? POPTS_IXSM : 0) | (l4 ? POPTS_TXSM : 0)
}

/** LsoV1TransmitComplete.TcpPayload: what the driver reports before completing an LSO send. */
export function completeLargeSend(a: Adapter, nbl: NET_BUFFER_LIST, payload: number): void {
  nbl.NetBufferListInfo[a.ndis.TcpLargeSendNetBufferListInfo] = (payload & LSO_PAYLOAD_MASK) >>> 0
}

/**
 * TcpIpChecksumNetBufferListInfo, Receive, from a descriptor's status and errors (3.2.3.1,
 * 3.2.3.2) and the frame at `va`: the 82540EM's TCPCS and TCPE cover TCP and UDP alike, so the
 * driver reads the IPv4 protocol field to say which it was.
 */
export function receiveChecksumInfo(a: Adapter, status: number, errors: number, va: number, length: number): number {
  if (!a.offload.rxChecksum || (status & RXD_STA_IXSM) !== 0) return 0
  let info = 0
  if ((status & RXD_STA_IPCS) !== 0) info |= (errors & RXD_ERR_IPE) !== 0 ? CSUM_RX_IP_FAILED : CSUM_RX_IP_OK
  if ((status & RXD_STA_TCPCS) !== 0 && length >= ETH_HEADER + 20) {
    const m = a.ndis.memory
    const ethertype = (m.read8(va + 12) << 8) | m.read8(va + 13)
    const protocol = ethertype === ETHERTYPE_IPV4 ? m.read8(va + ETH_HEADER + 9) : -1
    if ((errors & RXD_ERR_TCPE) !== 0) info |= protocol === IP_PROTO_UDP ? CSUM_RX_UDP_FAILED : CSUM_RX_TCP_FAILED
    else if (protocol === IP_PROTO_TCP) info |= CSUM_RX_TCP_OK
    else if (protocol === IP_PROTO_UDP) info |= CSUM_RX_UDP_OK
  }
  return info
}

/**
 * OID_TCP_OFFLOAD_PARAMETERS (set): NDIS_OFFLOAD_PARAMETERS' IPv4Checksum, TCPIPv4Checksum,
 * UDPIPv4Checksum (no change, both off, tx only, rx only, both on) and LsoV1 (no change, off,
 * on). Returns the status; on success the driver reports its new configuration.
 */
export function setOffloadParameters(a: Adapter, va: number, length: number): number {
  const ndis = a.ndis
  const m = ndis.memory
  if (length < 10) return ndis.NDIS_STATUS_INVALID_LENGTH
  // IPv4Checksum @4, TCPIPv4Checksum @5, UDPIPv4Checksum @6: the checksum services go together.
  for (const at of [4, 5, 6]) {
    const v = m.read8(va + at)
    if (v === ndis.NDIS_OFFLOAD_PARAMETERS_NO_CHANGE) continue
    if (v > ndis.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED) return ndis.NDIS_STATUS_INVALID_PARAMETER
    a.offload.txChecksum = v === ndis.NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED || v === ndis.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED
    a.offload.rxChecksum = v === ndis.NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED || v === ndis.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED
  }
  const lso = m.read8(va + 9)
  if (lso === ndis.NDIS_OFFLOAD_PARAMETERS_LSOV1_DISABLED) a.offload.lso = false
  else if (lso === ndis.NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED) a.offload.lso = true
  else if (lso !== ndis.NDIS_OFFLOAD_PARAMETERS_NO_CHANGE) return ndis.NDIS_STATUS_INVALID_PARAMETER
  ndis.NdisMIndicateStatusEx(a.handle, { StatusCode: ndis.NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG, StatusBuffer: ndisOffload(ndis, a.offload) })
  return ndis.NDIS_STATUS_SUCCESS
}
