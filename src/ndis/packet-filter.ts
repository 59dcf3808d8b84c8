// The receive filter NDIS has set on the miniport, as the protocol above it sees it: the packet
// filter (OID_GEN_CURRENT_PACKET_FILTER) and the multicast address list (OID_802_3_MULTICAST_LIST).
// It answers, for a destination address, whether a correct miniport must indicate the frame,
// must not, or may do either.
//
// WDK, OID_GEN_CURRENT_PACKET_FILTER: "When a miniport driver's MiniportInitializeEx function is
// called, the miniport driver's packet filter should be set to zero. When the packet filter is
// zero, receive indications are disabled." NDIS_PACKET_TYPE_DIRECTED takes frames whose
// destination is the NIC's address, _MULTICAST those to an address in the multicast list,
// _ALL_MULTICAST every group address, _BROADCAST broadcasts, _PROMISCUOUS everything.
// Multicast filtering in hardware is by hash (8254x manual 13.4.62, the Multicast Table Array),
// so a group not in the list whose hash collides with one that is may reach a correct driver:
// such frames may be indicated or not.
import { NDIS_PACKET_TYPE } from './constants.js'

/** What the filter says of one frame. */
export type FilterVerdict = 'indicate' | 'exclude' | 'either'

/** Why a destination is what it is, for counts and messages. */
export type DestinationClass = 'directed' | 'broadcast' | 'multicast-listed' | 'multicast-other' | 'other-unicast'

export const PACKET_TYPE_NAMES: ReadonlyArray<readonly [number, string]> = [
  [NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_DIRECTED, 'DIRECTED'],
  [NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_MULTICAST, 'MULTICAST'],
  [NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_ALL_MULTICAST, 'ALL_MULTICAST'],
  [NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_BROADCAST, 'BROADCAST'],
  [NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_PROMISCUOUS, 'PROMISCUOUS'],
]

/** `DIRECTED|MULTICAST|BROADCAST`, or `0 (receive off)`. */
export function filterName(filter: number): string {
  if (filter === 0) return '0 (receive indications off)'
  const names = PACKET_TYPE_NAMES.filter(([bit]) => (filter & bit) !== 0).map(([, n]) => n)
  const rest = filter & ~PACKET_TYPE_NAMES.reduce((a, [bit]) => a | bit, 0)
  if (rest !== 0) names.push(`0x${rest.toString(16)}`)
  return names.join('|')
}

export class PacketFilter {
  /** The packet filter the miniport accepted; 0 until NDIS sets one (and again after unbind). */
  filter = 0
  /** The multicast list the miniport accepted, 6 bytes an address. */
  private multicast: Uint8Array = new Uint8Array(0)
  readonly mac = new Uint8Array(6)

  setMulticastList(list: Uint8Array): void {
    this.multicast = list.slice()
  }

  get multicastList(): Uint8Array {
    return this.multicast
  }

  /** The class of the destination address at `buf[off..off+6)`. Allocates nothing. */
  classify(buf: Uint8Array, off: number): DestinationClass {
    if ((buf[off]! & 1) === 0) {
      for (let i = 0; i < 6; i++) if (buf[off + i] !== this.mac[i]) return 'other-unicast'
      return 'directed'
    }
    let broadcast = true
    for (let i = 0; i < 6 && broadcast; i++) if (buf[off + i] !== 0xff) broadcast = false
    if (broadcast) return 'broadcast'
    const list = this.multicast
    for (let a = 0; a + 6 <= list.length; a += 6) {
      let same = true
      for (let i = 0; i < 6 && same; i++) if (list[a + i] !== buf[off + i]) same = false
      if (same) return 'multicast-listed'
    }
    return 'multicast-other'
  }

  /** Whether a correct miniport indicates a frame of this destination class under the current filter. */
  verdict(c: DestinationClass): FilterVerdict {
    const f = this.filter
    if (f === 0) return 'exclude'
    if ((f & NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_PROMISCUOUS) !== 0) return 'indicate'
    switch (c) {
      case 'directed':
        return (f & NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_DIRECTED) !== 0 ? 'indicate' : 'exclude'
      case 'broadcast':
        return (f & NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_BROADCAST) !== 0 ? 'indicate' : 'exclude'
      case 'multicast-listed':
        return (f & (NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_MULTICAST | NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_ALL_MULTICAST)) !== 0 ? 'indicate' : 'exclude'
      case 'multicast-other':
        if ((f & NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_ALL_MULTICAST) !== 0) return 'indicate'
        // The hardware's hash filter is imperfect: a correct driver may let a colliding group through.
        return (f & NDIS_PACKET_TYPE.NDIS_PACKET_TYPE_MULTICAST) !== 0 ? 'either' : 'exclude'
      case 'other-unicast':
        return 'exclude'
    }
  }
}

/** A MAC address as text: `01:00:5e:00:00:01`. */
export function macText(buf: Uint8Array, off = 0): string {
  const parts: string[] = []
  for (let i = 0; i < 6; i++) parts.push((buf[off + i] ?? 0).toString(16).padStart(2, '0'))
  return parts.join(':')
}
