// The protocol above the miniport, as Windows' TCP/IP behaves toward it (src/ndis/binding.ts,
// protocol.ts, verdict.ts): the OIDs of the bind and the unbind, m.oid (NDIS 6 and 5.1), the NBLs the protocol
// checks when they come back, NDIS_RECEIVE_FLAGS_RESOURCES, and the run's verdict on its frames.
import { describe, expect, it } from 'vitest'
import { createMachine, type Machine } from '../../src/index.js'
import type { NdisApi } from '../../src/ndis/api.js'
import type { MiniportModule } from '../../src/ndis/miniport.js'
import type { NDIS_MINIPORT_DRIVER_CHARACTERISTICS, NET_BUFFER_LIST } from '../../src/ndis/types.js'
import { OID, oidName } from '../../src/ndis/constants.js'
import { miniportCharacteristics, registerMiniport } from '../../examples/e1000/index.js'
import { ndisAdapterMemory } from '../../examples/e1000/memory.js'
import type { Adapter } from '../../examples/e1000/adapter.js'
import { returnNetBufferLists } from '../../examples/e1000/receive.js'
import { bareMiniport } from '../support/driver-fixture.js'
import { ndis5Loop } from '../support/miniports/ndis5-loop.js'
import type { NDIS_MINIPORT_TIMER } from '../../src/ndis/v5/types.js'

/** The e1000 example with some handlers replaced (`change` gets the e1000's own). */
function e1000With(change: (ndis: NdisApi, base: NDIS_MINIPORT_DRIVER_CHARACTERISTICS) => Partial<NDIS_MINIPORT_DRIVER_CHARACTERISTICS>): MiniportModule {
  return {
    default: ((ndis: NdisApi) => {
      const base = miniportCharacteristics(ndis, () => ndisAdapterMemory)
      return registerMiniport(ndis, '', { ...base, ...change(ndis, base) })
    }) as MiniportModule['default'],
  }
}

function machine(module: MiniportModule, iommu = true): Machine {
  const m = createMachine({ wire: 'loopback', iommu, memory: { size: '8GiB' } })
  expect(m.load(module, 'e1000-variant').state).toBe('running')
  return m
}

describe('TCP/IP binds and unbinds as on Windows', () => {
  // WDK OID_GEN_CURRENT_PACKET_FILTER (the set is mandatory for NDIS 6, zero until a protocol
  // sets it), OID_802_3_MULTICAST_LIST, OID_GEN_CURRENT_LOOKAHEAD.
  it('queries the addresses and the multicast list size, then sets the filter, the multicast list and the lookahead; zero filter before the pause', () => {
    const seen: string[] = []
    const m = machine(
      e1000With((ndis, base) => ({
        OidRequestHandler: (c, r) => {
          const set = r.RequestType === ndis.NdisRequestSetInformation
          seen.push(`${set ? 'set' : 'query'} ${oidName(r.DATA.Oid)}${set && r.DATA.Oid === OID.OID_GEN_CURRENT_PACKET_FILTER ? `=${ndis.memory.read32(r.DATA.InformationBuffer)}` : ''}${set && r.DATA.Oid === OID.OID_802_3_MULTICAST_LIST ? ` (${r.DATA.InformationBufferLength / 6} addresses)` : ''}`)
          return base.OidRequestHandler(c, r)
        },
        PauseHandler: (c, p) => {
          seen.push('MiniportPause')
          return base.PauseHandler(c, p)
        },
      })),
    )
    m.traffic.send({ count: 10 })
    m.halt()
    expect(seen).toEqual([
      'query OID_802_3_PERMANENT_ADDRESS',
      'query OID_802_3_CURRENT_ADDRESS',
      'query OID_802_3_MAXIMUM_LIST_SIZE',
      'set OID_GEN_CURRENT_PACKET_FILTER=11', // DIRECTED | MULTICAST | BROADCAST
      'set OID_802_3_MULTICAST_LIST (4 addresses)',
      'set OID_GEN_CURRENT_LOOKAHEAD',
      'set OID_GEN_CURRENT_PACKET_FILTER=0',
      'MiniportPause',
    ])
    expect(m.report().outcome).toBe('clean')
  })

  it('a miniport that fails the mandatory packet filter set is oid-failed, and no traffic runs', () => {
    const m = createMachine({ wire: 'loopback' })
    const mp = bareMiniport(() => undefined)
    const refuse: MiniportModule = {
      default: ((ndis: NdisApi) => {
        const register = ndis.NdisMRegisterMiniportDriver
        ndis.NdisMRegisterMiniportDriver = (d, r, c, chars) => register(d, r, c, { ...chars, OidRequestHandler: () => ndis.NDIS_STATUS_NOT_SUPPORTED })
        return mp.default(ndis as never)
      }) as MiniportModule['default'],
    }
    m.load(refuse, 'refuses-filter')
    m.traffic.send({ count: 5 })
    m.halt()
    const f = m.report().findings.find((x) => x.kind === 'oid-failed')
    expect(f?.message).toMatch(/OID_GEN_CURRENT_PACKET_FILTER .* NDIS_STATUS_NOT_SUPPORTED: an NDIS 6 miniport must support this set/)
    expect(m.report().traffic.txRequested).toBe(0)
  })
})

describe('m.oid', () => {
  it('queries as NDIS does and returns the value; a set of the packet filter is what the protocol expects from then on', () => {
    const m = machine(e1000With(() => ({})))
    const speed = m.oid({ request: 'query', oid: 'OID_GEN_LINK_SPEED' })
    expect(speed).toMatchObject({ name: 'OID_GEN_LINK_SPEED', statusName: 'NDIS_STATUS_SUCCESS', bytesWritten: 4, value: 10_000_000 })
    expect(m.oid({ request: 'query', oid: OID.OID_GEN_VENDOR_DESCRIPTION }).statusName).toBe('NDIS_STATUS_NOT_SUPPORTED')
    // Promiscuous: the LAN's frames to other hosts are now indicated, and that is right.
    expect(m.oid({ request: 'set', oid: 'OID_GEN_CURRENT_PACKET_FILTER', value: 0x20 }).statusName).toBe('NDIS_STATUS_SUCCESS')
    m.traffic.receive({ count: 300, traffic: 'mixed' })
    m.halt()
    const r = m.report()
    expect(r.outcome).toBe('clean')
    expect(r.traffic.rxFrames).toBe(300)
    expect(r.oids.map((o) => o.name)).toEqual(['OID_GEN_LINK_SPEED', 'OID_GEN_VENDOR_DESCRIPTION', 'OID_GEN_CURRENT_PACKET_FILTER'])
    expect(() => m.oid({ request: 'query', oid: 'OID_NO_SUCH' })).toThrow(/unknown OID "OID_NO_SUCH"/)
  })

  // WDK OID_GEN_CURRENT_PACKET_FILTER: NDIS_PACKET_TYPE_ALL_MULTICAST takes every group address,
  // and without NDIS_PACKET_TYPE_BROADCAST no broadcast is indicated. The 82540EM's RCTL.MPE
  // (8254x manual 13.4.22) passes every group address, broadcast included, so the e1000 drops
  // broadcasts itself.
  it('DIRECTED|ALL_MULTICAST: the e1000 indicates every group\'s frames and no broadcast, though the NIC passes them', () => {
    const m = machine(e1000With(() => ({})))
    expect(m.oid({ request: 'set', oid: 'OID_GEN_CURRENT_PACKET_FILTER', value: 0x1 | 0x4 }).statusName).toBe('NDIS_STATUS_SUCCESS')
    m.traffic.receive({ count: 300, traffic: 'mixed' })
    m.halt()
    const r = m.report()
    expect(r.findings).toEqual([])
    expect(r.outcome).toBe('clean')
    expect(r.traffic.rxFrames).toBeGreaterThan(0)
  })
})

// An NDIS 5.1 miniport has no MiniportOidRequest: NDIS sends a query to MiniportQueryInformation
// and a set to MiniportSetInformation (NDIS 5.1 reference pages of those names), and a request the
// miniport pends completes with NdisMQueryInformationComplete / NdisMSetInformationComplete.
describe('m.oid on an NDIS 5.1 miniport', () => {
  it.each(['e1000-ndis5', 'c/e1000-ndis5'])('%s: queries through MiniportQueryInformation, sets through MiniportSetInformation, with the NDIS 6 result shape', async (name) => {
    const m = createMachine({ wire: 'loopback', memory: { size: '8GiB' }, ...(name.startsWith('c/') ? { arch: 'x86' as const } : {}) })
    expect((await m.load(name)).state).toBe('running')
    expect(m.ndis!.ctx.model).toBe('ndis5')
    const mac = m.oid({ request: 'query', oid: 'OID_802_3_CURRENT_ADDRESS' })
    expect(mac).toEqual({ request: 'query', oid: OID.OID_802_3_CURRENT_ADDRESS, name: 'OID_802_3_CURRENT_ADDRESS', status: 0, statusName: 'NDIS_STATUS_SUCCESS', bytesWritten: 6, bytesRead: 0, bytesNeeded: 0, data: [...m.nic.mac].map((b) => b.toString(16).padStart(2, '0')).join(' ') })
    expect(m.oid({ request: 'query', oid: OID.OID_GEN_MAXIMUM_FRAME_SIZE })).toMatchObject({ statusName: 'NDIS_STATUS_SUCCESS', bytesWritten: 4, value: 1500 })
    // Too small a buffer: the miniport says how many bytes it needs.
    expect(m.oid({ request: 'query', oid: 'OID_802_3_CURRENT_ADDRESS', length: 2 })).toMatchObject({ statusName: 'NDIS_STATUS_INVALID_LENGTH', bytesWritten: 0, bytesNeeded: 6, data: '' })
    expect(m.oid({ request: 'set', oid: 'OID_GEN_CURRENT_PACKET_FILTER', value: 0x1 | 0x8 })).toMatchObject({ statusName: 'NDIS_STATUS_SUCCESS', bytesRead: 4, bytesWritten: 0 })
    expect(m.ndis!.v5.protocol.packetFilter).toBe(0x9)
    expect(m.oid({ request: 'query', oid: 'OID_GEN_CURRENT_PACKET_FILTER' }).value).toBe(0x9)
    // A packet type the e1000 cannot filter (NDIS_PACKET_TYPE_SOURCE_ROUTING) is refused and the filter stays.
    expect(m.oid({ request: 'set', oid: 'OID_GEN_CURRENT_PACKET_FILTER', value: 0x10 }).statusName).toBe('NDIS_STATUS_NOT_SUPPORTED')
    expect(m.ndis!.v5.protocol.packetFilter).toBe(0x9)
    // The same words for the caller's mistakes as for an NDIS 6 miniport.
    expect(() => m.oid({ request: 'query', oid: 'OID_NO_SUCH' })).toThrow('oid: unknown OID "OID_NO_SUCH" (a name such as OID_GEN_LINK_SPEED, or a value such as 0x00010107)')
    expect(() => m.oid({ request: 'set', oid: 'OID_GEN_CURRENT_PACKET_FILTER', value: -1 })).toThrow('oid: value -1 is not a ULONG')
    m.traffic.send({ count: 20 })
    m.halt()
    const r = m.report()
    expect(r.outcome).toBe('clean')
    expect(r.traffic.rxFrames).toBe(20)
    expect(r.oids.map((o) => `${o.request} ${o.name} ${o.statusName}`)).toEqual([
      'query OID_802_3_CURRENT_ADDRESS NDIS_STATUS_SUCCESS',
      'query OID_GEN_MAXIMUM_FRAME_SIZE NDIS_STATUS_SUCCESS',
      'query OID_802_3_CURRENT_ADDRESS NDIS_STATUS_INVALID_LENGTH',
      'set OID_GEN_CURRENT_PACKET_FILTER NDIS_STATUS_SUCCESS',
      'query OID_GEN_CURRENT_PACKET_FILTER NDIS_STATUS_SUCCESS',
      'set OID_GEN_CURRENT_PACKET_FILTER NDIS_STATUS_NOT_SUPPORTED',
    ])
  })

  it('a request the miniport pends completes with NdisMSetInformationComplete and returns its status', () => {
    let t: NDIS_MINIPORT_TIMER | null = null
    let filterSets = 0
    const loop = ndis5Loop({ hooks: {
      initialize: (ndis, handle) => { t = ndis.NdisMInitializeTimer(handle, () => ndis.NdisMSetInformationComplete(handle, ndis.NDIS_STATUS_MULTICAST_FULL), null).timer },
      set: (ndis, _h, oid) => {
        // The bind's set goes through; the user's pends and completes 10 ms later.
        if (oid !== ndis.OID_GEN_CURRENT_PACKET_FILTER || filterSets++ === 0) return undefined
        ndis.NdisMSetTimer(t!, 10)
        return { status: ndis.NDIS_STATUS_PENDING, bytesRead: 4, bytesNeeded: 0 }
      },
    } })
    const m = createMachine({})
    expect(m.load({ default: loop.DriverEntry as never }, 'ndis5-loop').state).toBe('running')
    const r = m.oid({ request: 'set', oid: 'OID_GEN_CURRENT_PACKET_FILTER', value: 0x1 })
    expect(r).toMatchObject({ statusName: 'NDIS_STATUS_MULTICAST_FULL', bytesRead: 4 })
    expect(m.ndis!.v5.protocol.packetFilter).not.toBe(0x1)
    expect(m.findings).toEqual([])
  })
})

describe('the NBLs that come back', () => {
  it('a send completed with NDIS_STATUS_PENDING as its status is nbl-misuse', () => {
    const m = machine(
      e1000With((ndis) => ({
        SendNetBufferListsHandler: (c, nbls) => {
          for (let n: NET_BUFFER_LIST | null = nbls; n !== null; n = n.Next) n.Status = ndis.NDIS_STATUS_PENDING
          ndis.NdisMSendNetBufferListsComplete((c as Adapter).handle, nbls, ndis.NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL)
        },
      })),
    )
    m.traffic.send({ count: 3 })
    const f = m.findings.find((x) => x.kind === 'nbl-misuse')
    expect(f?.message).toMatch(/Status is NDIS_STATUS_PENDING: a completed send carries NDIS_STATUS_SUCCESS or the error it failed with/)
    expect(f?.stack?.[0]?.file).toMatch(/test\/ndis\/upper-edge\.test\.ts$/)
  })

  it('an NBL whose NET_BUFFERs come back in another order is nbl-misuse', () => {
    const m = machine(
      e1000With((ndis) => ({
        SendNetBufferListsHandler: (c, nbls) => {
          for (let n: NET_BUFFER_LIST | null = nbls; n !== null; n = n.Next) {
            const first = n.FirstNetBuffer!
            if (first.Next !== null) {
              // Reverses the first two NET_BUFFERs and "forgets" to put them back.
              const second = first.Next
              first.Next = second.Next
              second.Next = first
              n.FirstNetBuffer = second
            }
            n.Status = ndis.NDIS_STATUS_FAILURE
          }
          ndis.NdisMSendNetBufferListsComplete((c as Adapter).handle, nbls, ndis.NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL)
        },
      })),
    )
    m.traffic.send({ count: 200, traffic: 'mixed' })
    expect(m.findings.some((x) => x.kind === 'nbl-misuse' && /NET_BUFFER 1 of \d is not as the protocol sent it/.test(x.message))).toBe(true)
  })

  // WDK NdisMIndicateReceiveNetBufferLists: with NDIS_RECEIVE_FLAGS_RESOURCES the miniport
  // regains the NBLs when the call returns, and NDIS does not call MiniportReturnNetBufferLists.
  it('NDIS_RECEIVE_FLAGS_RESOURCES: the protocol copies at once and returns nothing; without it the NBLs come back', () => {
    for (const resources of [true, false]) {
      let returned = 0
      let adapter: Adapter | null = null
      const m = machine(
        e1000With((ndis, base) => {
          const indicate = ndis.NdisMIndicateReceiveNetBufferLists
          ndis.NdisMIndicateReceiveNetBufferLists = (handle, nbls, port, count, flags) => {
            if (!resources) return indicate(handle, nbls, port, count, flags)
            indicate(handle, nbls, port, count, flags | ndis.NDIS_RECEIVE_FLAGS_RESOURCES)
            // The NBLs are the miniport's again: it reposts the buffers itself.
            returnNetBufferLists(adapter!, nbls, ndis.NDIS_RETURN_FLAGS_DISPATCH_LEVEL)
          }
          return {
            ReturnNetBufferListsHandler: (c, nbls, f) => {
              returned++
              base.ReturnNetBufferListsHandler(c, nbls, f)
            },
          }
        }),
      )
      adapter = m.loaded().context as Adapter
      m.traffic.send({ count: 20 })
      m.halt()
      expect(m.report().outcome).toBe('clean')
      expect(m.report().traffic.rxFrames).toBe(20)
      if (resources) expect(returned).toBe(0)
      else expect(returned).toBeGreaterThan(0)
    }
  })
})

describe('the verdict on the frames', () => {
  it('a miniport that completes sends with success without transmitting them: frames-lost with the counts', () => {
    const m = machine(
      e1000With((ndis) => ({
        SendNetBufferListsHandler: (c, nbls) => {
          for (let n: NET_BUFFER_LIST | null = nbls; n !== null; n = n.Next) n.Status = ndis.NDIS_STATUS_SUCCESS
          ndis.NdisMSendNetBufferListsComplete((c as Adapter).handle, nbls, ndis.NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL)
        },
      })),
    )
    m.traffic.send({ count: 50 })
    m.halt()
    const r = m.report()
    expect(r.outcome).toBe('findings')
    const lost = r.findings.find((f) => f.kind === 'frames-lost')!
    expect(lost.details).toMatchObject({ sent: 50, sentExpected: 50, sentBack: 0, sentLost: 50, sendsNotCompleted: 0 })
    expect(lost.message).toMatch(/^50 of the 50 frames the protocol sent did not come back intact \(50 completed as sent but never came back\)/)
  })

  it('a receive ring never given back: frames-lost with the NIC\'s hint "receive ring never refilled: RDT not advanced after N frames"', () => {
    const m = machine(e1000With(() => ({ ReturnNetBufferListsHandler: () => {} })))
    m.traffic.send({ count: 400 })
    m.halt()
    const r = m.report()
    const lost = r.findings.find((f) => f.kind === 'frames-lost')!
    expect(lost.message).toMatch(/receive ring never refilled: RDT not advanced after \d+ frames/)
    expect(lost.details!['receiveHint']).toMatch(/^receive ring never refilled/)
    // The stack of the last RDT write the driver made (at initialization).
    expect(lost.stack?.map((s) => s.function)).toContain('startDevice')
  })
})
