// NDIS 6 task offload, as a miniport and the TCP/IP transport see it (WDK: "Offloading checksum
// tasks", "Offloading the Segmentation of Large TCP Packets", NDIS_OFFLOAD,
// NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES, NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO,
// NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO, OID_TCP_OFFLOAD_PARAMETERS).
//
// A miniport advertises what its NIC can do with NdisMSetMiniportAttributes and offload
// attributes during MiniportInitializeEx; NDIS hands the default configuration to protocols
// when they bind. The transport then asks for a task per send in the NET_BUFFER_LIST
// information slots, each a PVOID-sized value with the documented bit layout:
//  - TcpIpChecksumNetBufferListInfo (slot 0), Transmit: IsIPv4 bit 0, IsIPv6 bit 1, TcpChecksum
//    bit 2, UdpChecksum bit 3, IpHeaderChecksum bit 4, TcpHeaderOffset bits 25:16. Receive:
//    TcpChecksumFailed 0, UdpChecksumFailed 1, IpChecksumFailed 2, TcpChecksumSucceeded 3,
//    UdpChecksumSucceeded 4, IpChecksumSucceeded 5, Loopback 6.
//  - TcpLargeSendNetBufferListInfo (slot 2), LsoV1Transmit: MSS bits 19:0, TcpHeaderOffset
//    29:20, Type bit 30 (0 for LSOV1); LsoV1TransmitComplete: TcpPayload bits 29:0, which the
//    miniport writes before it completes the send.
import type { NdisContext } from './context.js'
import type { NDIS_OBJECT_HEADER } from './types.js'

/** Constants a driver uses, under their WDK names (spread into the `ndis` object). */
export const NDIS_OFFLOAD_CONSTANTS = {
  NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES: 0xa0,
  NDIS_OBJECT_TYPE_OFFLOAD: 0xa7,
  NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1: 1,
  NDIS_OFFLOAD_REVISION_1: 1,
  NDIS_OFFLOAD_PARAMETERS_REVISION_1: 1,
  // NDIS_NET_BUFFER_LIST_INFO
  TcpIpChecksumNetBufferListInfo: 0,
  TcpLargeSendNetBufferListInfo: 2,
  NDIS_ENCAPSULATION_NOT_SUPPORTED: 0,
  NDIS_ENCAPSULATION_IEEE_802_3: 2,
  NDIS_OFFLOAD_NOT_SUPPORTED: 0,
  NDIS_OFFLOAD_SUPPORTED: 1,
  NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE: 0,
  NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE: 1,
  OID_TCP_OFFLOAD_CURRENT_CONFIG: 0xfc01_020b,
  OID_TCP_OFFLOAD_PARAMETERS: 0xfc01_020c,
  OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES: 0xfc01_020d,
  // NDIS_OFFLOAD_PARAMETERS: checksum members
  NDIS_OFFLOAD_PARAMETERS_NO_CHANGE: 0,
  NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED: 1,
  NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED: 2,
  NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED: 3,
  NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED: 4,
  // NDIS_OFFLOAD_PARAMETERS: LsoV1
  NDIS_OFFLOAD_PARAMETERS_LSOV1_DISABLED: 1,
  NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED: 2,
  NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG: 0x4002_000b,
} as const

/** NDIS_OFFLOAD_PARAMETERS (revision 1) as it lies in an OID's InformationBuffer: the byte offset of each member. */
export const NDIS_OFFLOAD_PARAMETERS_LAYOUT = {
  Header: 0,
  IPv4Checksum: 4,
  TCPIPv4Checksum: 5,
  UDPIPv4Checksum: 6,
  TCPIPv6Checksum: 7,
  UDPIPv6Checksum: 8,
  LsoV1: 9,
  IPsecV1: 10,
  LsoV2IPv4: 11,
  LsoV2IPv6: 12,
  TcpConnectionIPv4: 13,
  TcpConnectionIPv6: 14,
  Flags: 16,
  Size: 20,
} as const

/** Per-protocol support in NDIS_TCP_IP_CHECKSUM_OFFLOAD (IPv4Transmit and friends). */
export interface NDIS_CHECKSUM_OFFLOAD_IPV4 {
  Encapsulation: number
  IpOptionsSupported: number
  TcpOptionsSupported: number
  TcpChecksum: number
  UdpChecksum: number
  IpChecksum: number
}

export interface NDIS_CHECKSUM_OFFLOAD_IPV6 {
  Encapsulation: number
  IpExtensionHeadersSupported: number
  TcpOptionsSupported: number
  TcpChecksum: number
  UdpChecksum: number
}

export interface NDIS_TCP_IP_CHECKSUM_OFFLOAD {
  IPv4Transmit: NDIS_CHECKSUM_OFFLOAD_IPV4
  IPv4Receive: NDIS_CHECKSUM_OFFLOAD_IPV4
  IPv6Transmit: NDIS_CHECKSUM_OFFLOAD_IPV6
  IPv6Receive: NDIS_CHECKSUM_OFFLOAD_IPV6
}

export interface NDIS_TCP_LARGE_SEND_OFFLOAD_V1 {
  IPv4: { Encapsulation: number; MaxOffLoadSize: number; MinSegmentCount: number; TcpOptions: number; IpOptions: number }
}

export interface NDIS_OFFLOAD {
  Header: NDIS_OBJECT_HEADER
  Checksum: NDIS_TCP_IP_CHECKSUM_OFFLOAD
  LsoV1: NDIS_TCP_LARGE_SEND_OFFLOAD_V1
  /** IPsecV1, LsoV2 and Flags: not modelled here (a miniport may leave them out). */
  Flags?: number
}

export interface NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES {
  Header: NDIS_OBJECT_HEADER
  DefaultOffloadConfiguration: NDIS_OFFLOAD
  HardwareOffloadCapabilities: NDIS_OFFLOAD
  DefaultTcpConnectionOffloadConfiguration?: null
  TcpConnectionOffloadHardwareCapabilities?: null
}

/** What the transport may ask of the miniport, read once from its default configuration. */
export interface OffloadConfig {
  readonly ipv4: { readonly tcpChecksum: boolean; readonly udpChecksum: boolean; readonly ipChecksum: boolean }
  /** LSOV1 for IPv4, or null when not offered. */
  readonly lsoV1: { readonly maxOffLoadSize: number; readonly minSegmentCount: number } | null
}

const supported = (v: unknown): boolean => v === NDIS_OFFLOAD_CONSTANTS.NDIS_OFFLOAD_SUPPORTED
const ethernet = (v: unknown): boolean => (Number(v) & NDIS_OFFLOAD_CONSTANTS.NDIS_ENCAPSULATION_IEEE_802_3) !== 0

/**
 * Reads a miniport's offload attributes: the configuration the transport will use, or a reason
 * the attributes cannot be used (what NdisMSetMiniportAttributes reports).
 */
export function readOffloadAttributes(attributes: unknown): { config: OffloadConfig } | { problem: string } {
  const a = attributes as Partial<NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES> | null
  const h = a?.HardwareOffloadCapabilities
  if (h === null || h === undefined || typeof h !== 'object') return { problem: 'HardwareOffloadCapabilities is NULL' }
  if (h.Header?.Type !== NDIS_OFFLOAD_CONSTANTS.NDIS_OBJECT_TYPE_OFFLOAD) return { problem: 'HardwareOffloadCapabilities.Header.Type is not NDIS_OBJECT_TYPE_OFFLOAD' }
  return readOffload('DefaultOffloadConfiguration', a?.DefaultOffloadConfiguration)
}

/**
 * Reads an NDIS_OFFLOAD (a default or current configuration): what the transport may ask for,
 * or what is wrong with it (`name` says where it came from).
 */
export function readOffload(name: string, o: unknown): { config: OffloadConfig } | { problem: string } {
  const d = o as Partial<NDIS_OFFLOAD> | null | undefined
  if (d === null || d === undefined || typeof d !== 'object') return { problem: `${name} is NULL` }
  if (d.Header?.Type !== NDIS_OFFLOAD_CONSTANTS.NDIS_OBJECT_TYPE_OFFLOAD) return { problem: `${name}.Header.Type is not NDIS_OBJECT_TYPE_OFFLOAD` }
  const tx = d.Checksum?.IPv4Transmit
  const ipv4 = tx !== undefined && ethernet(tx.Encapsulation)
    ? { tcpChecksum: supported(tx.TcpChecksum), udpChecksum: supported(tx.UdpChecksum), ipChecksum: supported(tx.IpChecksum) }
    : { tcpChecksum: false, udpChecksum: false, ipChecksum: false }
  const lso = d.LsoV1?.IPv4
  const lsoV1 = lso !== undefined && ethernet(lso.Encapsulation) && Number(lso.MaxOffLoadSize) > 0
    ? { maxOffLoadSize: Number(lso.MaxOffLoadSize) >>> 0, minSegmentCount: Math.max(1, Number(lso.MinSegmentCount) >>> 0) }
    : null
  return { config: { ipv4, lsoV1 } }
}

/**
 * NdisMIndicateStatusEx with NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG: the miniport's new current
 * configuration (an NDIS_OFFLOAD in StatusBuffer, as it must report after
 * OID_TCP_OFFLOAD_PARAMETERS) is what the transport uses from now on.
 */
export function indicateCurrentConfig(ctx: NdisContext, buffer: unknown): void {
  const read = readOffload('StatusBuffer', buffer)
  if ('problem' in read) ctx.violation('ndis-bad-argument', `NdisMIndicateStatusEx: NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG: ${read.problem} (it is the NDIS_OFFLOAD of the current configuration)`)
  else ctx.offload = read.config
}

/** TcpIpChecksumNetBufferListInfo, Transmit: the bits the transport sets. */
export const CHECKSUM_TX = { IsIPv4: 0x1, IsIPv6: 0x2, TcpChecksum: 0x4, UdpChecksum: 0x8, IpHeaderChecksum: 0x10, TcpHeaderOffsetShift: 16 } as const
/** TcpIpChecksumNetBufferListInfo, Receive: the bits the miniport sets. */
export const CHECKSUM_RX = {
  TcpChecksumFailed: 0x1, UdpChecksumFailed: 0x2, IpChecksumFailed: 0x4,
  TcpChecksumSucceeded: 0x8, UdpChecksumSucceeded: 0x10, IpChecksumSucceeded: 0x20, Loopback: 0x40,
} as const
/** TcpLargeSendNetBufferListInfo, LsoV1Transmit and LsoV1TransmitComplete. */
export const LSO_V1 = { MssMask: 0xf_ffff, TcpHeaderOffsetShift: 20, TcpHeaderOffsetMask: 0x3ff, Type: 0x4000_0000, TcpPayloadMask: 0x3fff_ffff } as const

export function lsoV1Transmit(mss: number, tcpHeaderOffset: number): number {
  return ((mss & LSO_V1.MssMask) | ((tcpHeaderOffset & LSO_V1.TcpHeaderOffsetMask) << LSO_V1.TcpHeaderOffsetShift)) >>> 0
}
