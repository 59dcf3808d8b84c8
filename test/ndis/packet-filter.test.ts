// What a correct miniport indicates under a packet filter (src/ndis/packet-filter.ts).
// WDK, OID_GEN_CURRENT_PACKET_FILTER: "When the packet filter is zero, receive indications are
// disabled"; DIRECTED takes frames to the NIC's address, MULTICAST those to the multicast list,
// ALL_MULTICAST every group, BROADCAST broadcasts, PROMISCUOUS everything. 8254x manual
// 13.4.62: multicast filtering is by hash, so an unlisted group may get through.
import { describe, expect, it } from 'vitest'
import { NDIS_PACKET_TYPE as T } from '../../src/ndis/constants.js'
import { PacketFilter, filterName, type DestinationClass } from '../../src/ndis/packet-filter.js'

const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56)
const GROUP = Uint8Array.of(0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb)

function filter(value: number): PacketFilter {
  const f = new PacketFilter()
  f.mac.set(MAC)
  f.setMulticastList(GROUP)
  f.filter = value
  return f
}

describe('the packet filter', () => {
  it('classifies destinations: this host, broadcast, a listed group, another group, another host', () => {
    const f = filter(0)
    expect(f.classify(MAC, 0)).toBe('directed')
    expect(f.classify(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0)).toBe('broadcast')
    expect(f.classify(GROUP, 0)).toBe('multicast-listed')
    expect(f.classify(Uint8Array.of(0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa), 0)).toBe('multicast-other')
    expect(f.classify(Uint8Array.of(0x02, 0, 0, 0, 0, 7), 0)).toBe('other-unicast')
  })

  const classes: DestinationClass[] = ['directed', 'broadcast', 'multicast-listed', 'multicast-other', 'other-unicast']
  const table: Array<[number, string[]]> = [
    [0, ['exclude', 'exclude', 'exclude', 'exclude', 'exclude']],
    [T.NDIS_PACKET_TYPE_DIRECTED | T.NDIS_PACKET_TYPE_MULTICAST | T.NDIS_PACKET_TYPE_BROADCAST, ['indicate', 'indicate', 'indicate', 'either', 'exclude']],
    [T.NDIS_PACKET_TYPE_DIRECTED, ['indicate', 'exclude', 'exclude', 'exclude', 'exclude']],
    [T.NDIS_PACKET_TYPE_BROADCAST | T.NDIS_PACKET_TYPE_ALL_MULTICAST, ['exclude', 'indicate', 'indicate', 'indicate', 'exclude']],
    [T.NDIS_PACKET_TYPE_PROMISCUOUS, ['indicate', 'indicate', 'indicate', 'indicate', 'indicate']],
  ]
  for (const [value, expected] of table) {
    it(`${filterName(value)}: ${classes.map((c, i) => `${c} ${expected[i]}`).join(', ')}`, () => {
      const f = filter(value)
      expect(classes.map((c) => f.verdict(c))).toEqual(expected)
    })
  }
})
