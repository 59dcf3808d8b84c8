// Receive checksum offload (manual 3.2.9, RXCSUM): the packet checksum every frame gets, and
// the IP and TCP/UDP checks RXCSUM.IPOFLD / TUOFLD turn on, reported in the descriptor's
// status (IXSM, IPCS, TCPCS) and errors (IPE, TCPE) fields (3.2.3.1, 3.2.3.2).
//
// The packet passes the filters of 3.2.9.1–3.2.9.5 before a checksum is checked: Ethernet II
// or SNAP, an 802.1Q tag skipped when it was not stripped (3.2.9.2); a valid IPv4 header,
// version 4 and at least 5 dwords (3.2.9.3); TCP (6) or UDP (17), not a fragment (table 3-5:
// "Packet is an IP fragment: IP checksum yes, TCP/UDP no"). IPv6 needs RXCSUM.IPV6OFL, which
// the 82540EM does not have (3.2.9.4 applies to later parts), so IPv6 frames are reported as
// not checked. With neither IPOFLD nor TUOFLD set, IXSM tells software to ignore the rest.
import { onesSum } from '../checksum.js'
import { RXD_ERRORS, RXD_STATUS } from './layouts.js'
import { RXCSUM } from './registers.js'

const ETHERTYPE_IPV4 = 0x0800
const ETHERTYPE_VLAN = 0x8100
const PROTO_TCP = 6
const PROTO_UDP = 17

/** Status and error bits of one frame's checksum checks: status in bits 7:0, errors in 15:8. */
export function checksumStatus(rxcsum: number, vet: number, buf: Uint8Array, off: number, length: number): number {
  if ((rxcsum & (RXCSUM.IPOFLD | RXCSUM.TUOFLD)) === 0) return RXD_STATUS.IXSM
  let at = off + 12
  const end = off + length
  let type = (buf[at]! << 8) | buf[at + 1]!
  if ((type === vet || type === ETHERTYPE_VLAN) && at + 6 <= end) {
    at += 4
    type = (buf[at]! << 8) | buf[at + 1]!
  }
  at += 2
  if (type < 0x0600) {
    // 802.3 length: SNAP is LLC AA AA 03, OUI 00 00 00, then the type (RFC 1042).
    if (at + 8 > end || buf[at] !== 0xaa || buf[at + 1] !== 0xaa || buf[at + 2] !== 0x03) return 0
    type = (buf[at + 6]! << 8) | buf[at + 7]!
    at += 8
  }
  if (type !== ETHERTYPE_IPV4 || at + 20 > end) return 0
  const ip = at
  const ihl = (buf[ip]! & 0xf) * 4
  if (buf[ip]! >>> 4 !== 4 || ihl < 20 || ip + ihl > end) return 0
  let result = 0
  if ((rxcsum & RXCSUM.IPOFLD) !== 0) {
    result |= RXD_STATUS.IPCS
    if (onesSum(buf, ip, ip + ihl) !== 0xffff) result |= RXD_ERRORS.IPE << 8
  }
  if ((rxcsum & RXCSUM.TUOFLD) === 0) return result
  const protocol = buf[ip + 9]!
  const fragment = ((buf[ip + 6]! & 0x3f) << 8) | buf[ip + 7]! // MF and the fragment offset
  const total = (buf[ip + 2]! << 8) | buf[ip + 3]!
  if ((protocol !== PROTO_TCP && protocol !== PROTO_UDP) || fragment !== 0 || total < ihl || ip + total > end) return result
  const l4 = ip + ihl
  const l4Length = total - ihl
  if (l4Length < (protocol === PROTO_TCP ? 20 : 8)) return result
  result |= RXD_STATUS.TCPCS
  // A UDP checksum of 0 means the sender computed none (RFC 768): nothing to check.
  if (protocol === PROTO_UDP && buf[l4 + 6] === 0 && buf[l4 + 7] === 0) return result
  // Pseudo-header: source and destination addresses, protocol, layer-4 length.
  const pseudo = onesSum(buf, ip + 12, ip + 20, protocol + l4Length)
  if (onesSum(buf, l4, l4 + l4Length, pseudo) !== 0xffff) result |= RXD_ERRORS.TCPE << 8
  return result
}
