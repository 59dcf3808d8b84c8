// The NDIS side of NDIS 5 sends and receives, through a miniport that loops every packet back
// (test/support/miniports/ndis5-loop.ts). Rules from the NDIS 5.1 reference: "Packet Ownership"
// and "Completion Options" (serialized miniports: NDIS_STATUS_RESOURCES hands this and every
// later packet back to NDIS, which resubmits after NdisMSendComplete or
// NdisMSendResourcesAvailable), "Multipacket Sends from Deserialized Miniport Drivers" (NDIS
// ignores the packet status; every packet completes through NdisMSendComplete),
// NdisMEthIndicateReceive / MiniportTransferData, NdisMIndicateReceivePacket and
// NDIS_GET_PACKET_STATUS (PENDING after the call means the protocol kept the packet).
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import type { NdisApi } from '../../../src/ndis/api.js'
import type { NdisHandle } from '../../../src/ndis/types.js'
import type { NDIS_PACKET } from '../../../src/ndis/v5/types.js'
import { ndis5Loop, type LoopOptions } from '../../support/miniports/ndis5-loop.js'

function run(options: LoopOptions, frames = 40, size = 1500) {
  const driver = ndis5Loop(options)
  const m = createMachine({})
  const loaded = m.load({ default: driver.DriverEntry as never }, 'loop')
  m.traffic.send({ count: frames, size })
  m.halt()
  return { m, loaded, log: driver.log, report: m.report(), kinds: new Set(m.findings.map((f) => f.kind)) }
}

describe('NDIS 5 sends', () => {
  it('a serialized MiniportSend that returns NDIS_STATUS_RESOURCES gets the packet again after NdisMSendResourcesAvailable, in order, and nothing is lost', () => {
    const r = run({ serialized: true, send: 'send', resourcesEvery: 5, loopback: 'lookahead', lookahead: 256 })
    expect(r.loaded.state).toBe('running')
    expect(r.log.resourcesReturned).toBeGreaterThan(0)
    expect(r.log.packetsSeen).toBe(40 + r.log.resourcesReturned)
    expect(r.report.traffic.txFrames).toBe(40)
    expect(r.report.traffic.rxFrames).toBe(40)
    expect(r.m.findings).toEqual([])
  })

  it('a serialized MiniportSendPackets that marks one packet NDIS_STATUS_RESOURCES hands that one and every later one back for resubmission', () => {
    const r = run({ serialized: true, send: 'send-packets', resourcesEvery: 3, loopback: 'packets' })
    expect(r.log.resourcesReturned).toBeGreaterThan(0)
    expect(r.report.traffic.txFrames).toBe(40)
    expect(r.report.traffic.rxFrames).toBe(40)
    expect(r.m.findings).toEqual([])
  })

  it('a deserialized miniport: NDIS ignores the packet status and waits for NdisMSendComplete for every packet', () => {
    const r = run({ send: 'send-packets', complete: 'pending', loopback: 'none' })
    expect(r.report.traffic.txFrames).toBe(40)
    expect(r.log.sendCalls).toBeLessThan(40) // arrays of up to OID_GEN_MAXIMUM_SEND_PACKETS
    expect(r.m.findings).toEqual([])
  })

  it('NdisMSendComplete of a packet the miniport does not own is packet-misuse', () => {
    const driver = ndis5Loop({ loopback: 'none', hooks: { query: (ndis, handle, oid) => {
      if (oid === ndis.OID_GEN_LINK_SPEED) {
        const pool = ndis.NdisAllocatePacketPool(1, 0)
        const { packet } = ndis.NdisAllocatePacket(pool.poolHandle)
        ndis.NdisMSendComplete(handle, packet!, ndis.NDIS_STATUS_SUCCESS)
        ndis.NdisFreePacket(packet!)
        ndis.NdisFreePacketPool(pool.poolHandle)
      }
    } } })
    const m = createMachine({})
    m.load({ default: driver.DriverEntry as never }, 'loop')
    expect(m.findings.map((f) => f.kind)).toEqual(['packet-misuse'])
    expect(m.findings[0]!.message).toMatch(/NdisMSendComplete of a packet the miniport does not own/)
  })

  it('sends a miniport never completes are reported when the protocol unbinds', () => {
    const driver = ndis5Loop({ loopback: 'none', hooks: { characteristics: (c) => ({ ...c, SendPacketsHandler: () => {} }) } })
    const m = createMachine({})
    m.load({ default: driver.DriverEntry as never }, 'loop')
    m.traffic.send({ count: 10, size: 200 })
    m.halt()
    const f = m.findings.find((x) => x.kind === 'send-not-completed')!
    expect(f.message).toMatch(/10 sent packets never completed/)
    expect(f.code).toBe(0x7c)
  })

  it('the protocol cancels what it still has outstanding when it unbinds: NDIS calls MiniportCancelSendPackets with the ID every send carries, and the miniport completes them aborted', () => {
    const held: NDIS_PACKET[] = []
    const ids = new Set<unknown>()
    const driver = ndis5Loop({ loopback: 'none', hooks: { characteristics: (c) => ({
      ...c,
      SendPacketsHandler: (_ctx, packets, n) => {
        for (let i = 0; i < n; i++) held.push(packets[i]!)
      },
      CancelSendPacketsHandler: (_ctx, cancelId) => {
        ids.add(cancelId)
        for (const p of held.splice(0)) {
          if (api!.NDIS_GET_PACKET_CANCEL_ID(p) === cancelId) api!.NdisMSendComplete(handle!, p, api!.NDIS_STATUS_REQUEST_ABORTED)
        }
      },
    }), initialize: (ndis, h) => {
      api = ndis
      handle = h
    } } })
    let api: NdisApi | null = null
    let handle: NdisHandle | null = null
    const m = createMachine({})
    m.load({ default: driver.DriverEntry as never }, 'loop')
    m.traffic.send({ count: 10, size: 200 })
    expect(held).toHaveLength(10)
    m.halt()
    expect(m.ndis!.v5.send.cancelCalls).toBe(1)
    expect(ids.size).toBe(1)
    expect(m.ndis!.v5.protocol.counters.txFailures).toEqual({ NDIS_STATUS_REQUEST_ABORTED: 10 })
    expect(m.findings).toEqual([])
  })
})

describe('NDIS 5 receives', () => {
  it('NdisMEthIndicateReceive with a 128-byte lookahead: the protocol transfers the rest through MiniportTransferData and every byte arrives', () => {
    const r = run({ loopback: 'lookahead', lookahead: 256 })
    expect(r.log.transfers).toBe(40)
    expect(r.report.traffic.rxFrames).toBe(40)
    expect(r.m.findings).toEqual([])
  })

  it('a MiniportTransferData that pends completes with NdisMTransferDataComplete, and the frame is checked then', () => {
    const r = run({ loopback: 'lookahead', lookahead: 256, transferPending: true })
    expect(r.log.transfers).toBe(40)
    expect(r.report.traffic.rxFrames).toBe(40)
    expect(r.m.findings).toEqual([])
  })

  it('a frame that fits in the lookahead needs no transfer', () => {
    const r = run({ loopback: 'lookahead', lookahead: 256 }, 20, 200)
    expect(r.log.transfers).toBe(0)
    expect(r.report.traffic.rxFrames).toBe(20)
  })

  it('less lookahead than the protocol set (OID_GEN_CURRENT_LOOKAHEAD) is a finding', () => {
    const r = run({ loopback: 'lookahead', lookahead: 64 }, 5)
    expect(r.report.traffic.rxFrames).toBe(5)
    expect(r.m.findings.filter((f) => f.kind === 'ndis-bad-argument').map((f) => f.message)[0]).toMatch(/64 bytes of lookahead .* OID_GEN_CURRENT_LOOKAHEAD to 256/)
  })

  it('packets indicated with NDIS_STATUS_SUCCESS are kept by the protocol and come back through MiniportReturnPacket', () => {
    const r = run({ loopback: 'packets' })
    expect(r.report.traffic.rxFrames).toBe(40)
    expect(r.log.returned).toBe(40)
    expect(r.m.findings).toEqual([])
  })

  it('packets indicated with NDIS_STATUS_RESOURCES are copied at once: MiniportReturnPacket is never called for them', () => {
    const r = run({ loopback: 'packets', receiveStatus: 'resources' })
    expect(r.report.traffic.rxFrames).toBe(40)
    expect(r.log.returned).toBe(0)
    expect(r.m.findings).toEqual([])
  })

  it('indicating before the protocol set its packet filter reaches nobody: packet-filter-ignored (the NDIS Verifier warns)', () => {
    const driver = ndis5Loop({ loopback: 'none', hooks: { initialize: (ndis, handle) => {
      ndis.NdisMEthIndicateReceive(handle, 0, 0, 14, 0, 0, 0)
    } } })
    const m = createMachine({})
    m.load({ default: driver.DriverEntry as never }, 'loop')
    expect(m.findings.map((f) => f.kind)).toEqual(['packet-filter-ignored'])
  })
})
