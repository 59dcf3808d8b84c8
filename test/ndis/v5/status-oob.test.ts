// Packet out-of-band data, the send entry NDIS picks, status indications, PCI configuration
// writes and asynchronous shared memory, against their NDIS 5.1 reference pages:
//  - NDIS_OOB_DATA_FROM_PACKET, NDIS_SET_PACKET_STATUS / NDIS_GET_PACKET_STATUS,
//    NDIS_SET_PACKET_HEADER_SIZE ("Packet Out-of-Band Data"): one OOB block per descriptor;
//  - MiniportSend "is required for drivers that do not have a MiniportSendPackets ... function":
//    a driver with both gets MiniportSendPackets;
//  - NdisMIndicateStatus: serialized callers at exactly DISPATCH_LEVEL, deserialized at or below
//    it; only a deserialized miniport from MiniportInitialize; never from MiniportHalt;
//    NdisMIndicateStatusComplete: "A miniport driver eventually must call NdisMIndicateStatusComplete
//    after it calls NdisMIndicateStatus", one for several allowed;
//  - NdisWritePciSlotInformation: writes the adapter's own configuration space, returns the bytes
//    written; SlotNumber is reserved (the NDIS Verifier warns about anything but 0);
//  - NdisMAllocateSharedMemoryAsync: NDIS_STATUS_FAILURE when "the requested memory could not be
//    allocated at this time" (no MiniportAllocateComplete then).
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import type { NdisApi } from '../../../src/ndis/api.js'
import type { NdisHandle } from '../../../src/ndis/types.js'
import { ndis5Loop, type LoopOptions } from '../../support/miniports/ndis5-loop.js'

const loadLoop = (options: LoopOptions, config = {}) => {
  const m = createMachine(config)
  const loaded = m.load({ default: ndis5Loop(options).DriverEntry as never }, 'ndis5-status')
  return { m, loaded }
}

describe('packet out-of-band data', () => {
  it('NDIS_OOB_DATA_FROM_PACKET is the block the status and header-size macros read and write; a new descriptor starts zeroed', () => {
    const seen: unknown[] = []
    loadLoop({ hooks: { initialize: (ndis) => {
      const pool = ndis.NdisAllocatePacketPool(2, 16)
      const { packet } = ndis.NdisAllocatePacket(pool.poolHandle)
      const oob = ndis.NDIS_OOB_DATA_FROM_PACKET(packet!)
      seen.push(oob.Status, oob.HeaderSize)
      ndis.NDIS_SET_PACKET_STATUS(packet!, ndis.NDIS_STATUS_RESOURCES)
      ndis.NDIS_SET_PACKET_HEADER_SIZE(packet!, 14)
      seen.push(oob.Status, oob.HeaderSize, ndis.NDIS_GET_PACKET_STATUS(packet!), ndis.NDIS_GET_PACKET_HEADER_SIZE(packet!))
      oob.Status = ndis.NDIS_STATUS_PENDING
      seen.push(ndis.NDIS_GET_PACKET_STATUS(packet!))
      ndis.NdisFreePacket(packet!)
      ndis.NdisFreePacketPool(pool.poolHandle)
    } } })
    expect(seen).toEqual([0, 0, 0xc000_009a, 14, 0xc000_009a, 14, 0x103])
  })

  it('a serialized MiniportSendPackets that leaves NDIS_STATUS_PENDING in a packet\'s OOB status keeps it until NdisMSendComplete; every frame arrives', () => {
    const { m } = loadLoop({ serialized: true, complete: 'pending', loopback: 'packets' })
    m.traffic.send({ count: 20, size: 300 })
    m.halt()
    expect(m.report().traffic.rxFrames).toBe(20)
    expect(m.findings).toEqual([])
  })
})

describe('MiniportSend or MiniportSendPackets', () => {
  it('a miniport that registers both gets every send through MiniportSendPackets', () => {
    let sendCalls = 0
    const driver = ndis5Loop({ hooks: { characteristics: (c) => ({ ...c, SendHandler: () => {
      sendCalls++
      return 0
    } }) } })
    const m = createMachine({})
    m.load({ default: driver.DriverEntry as never }, 'both')
    m.traffic.send({ count: 10, size: 200 })
    m.halt()
    expect(sendCalls).toBe(0)
    expect(driver.log.sendCalls).toBeGreaterThan(0)
    expect(m.report().traffic.rxFrames).toBe(10)
  })

  it('a miniport with only MiniportSend gets one packet a call', () => {
    const driver = ndis5Loop({ send: 'send', serialized: true })
    const m = createMachine({})
    m.load({ default: driver.DriverEntry as never }, 'send-only')
    m.traffic.send({ count: 10, size: 200 })
    m.halt()
    expect(driver.log.sendCalls).toBe(10)
    expect(m.findings).toEqual([])
  })
})

describe('NdisMIndicateStatus and NdisMIndicateStatusComplete', () => {
  /** Calls `indicate` from MiniportQueryInformation of OID_GEN_LINK_SPEED (DISPATCH_LEVEL, at bind). */
  const fromQuery = (indicate: (ndis: NdisApi, h: NdisHandle) => void, extra: LoopOptions = {}) => loadLoop({ ...extra, hooks: { ...extra.hooks, query: (ndis, h, oid) => {
    if (oid === ndis.OID_GEN_LINK_SPEED) indicate(ndis, h)
  } } })

  it('media disconnect and connect reach the protocol; one NdisMIndicateStatusComplete covers both', () => {
    const states: boolean[] = []
    const m = createMachine({})
    m.load({ default: ndis5Loop({ hooks: { query: (ndis, h, oid) => {
      if (oid !== ndis.OID_GEN_LINK_SPEED) return
      ndis.NdisMIndicateStatus(h, ndis.NDIS_STATUS_MEDIA_DISCONNECT, 0, 0)
      states.push(m.ndis!.v5.protocol.mediaConnected)
      ndis.NdisMIndicateStatus(h, ndis.NDIS_STATUS_MEDIA_CONNECT, 0, 0)
      states.push(m.ndis!.v5.protocol.mediaConnected)
      ndis.NdisMIndicateStatusComplete(h)
    } } }).DriverEntry as never }, 'status')
    m.halt()
    expect(states).toEqual([false, true])
    expect(m.findings).toEqual([])
  })

  it('a status indicated and never completed is reported when MiniportHalt returns', () => {
    const { m } = fromQuery((ndis, h) => ndis.NdisMIndicateStatus(h, ndis.NDIS_STATUS_MEDIA_CONNECT, 0, 0))
    m.halt()
    expect(m.findings.map((f) => [f.kind, f.message])).toEqual([['ndis-call-order', expect.stringMatching(/1 NdisMIndicateStatus indication never followed by NdisMIndicateStatusComplete/)]])
  })

  it('a serialized miniport indicates status only at DISPATCH_LEVEL: from MiniportPnPEventNotify (PASSIVE_LEVEL) it is 0xC4', () => {
    let api: NdisApi | null = null
    let handle: NdisHandle | null = null
    const { m } = loadLoop({ serialized: true, hooks: {
      initialize: (ndis, h) => {
        api = ndis
        handle = h
      },
      characteristics: (c) => ({ ...c, PnPEventNotifyHandler: () => {
        api!.NdisMIndicateStatus(handle!, api!.NDIS_STATUS_MEDIA_CONNECT, 0, 0)
        api!.NdisMIndicateStatusComplete(handle!)
      } }),
    } })
    const f = m.findings.find((x) => x.kind === 'irql-violation')!
    expect([f.code, f.message]).toEqual([0xc4, expect.stringMatching(/NdisMIndicateStatus \(serialized miniport\)/)])
  })

  it('a deserialized miniport may indicate status from MiniportInitialize; a serialized one may not', () => {
    const init = (serialized: boolean) => loadLoop({ serialized, hooks: { initialize: (ndis, h) => {
      ndis.NdisMIndicateStatus(h, ndis.NDIS_STATUS_MEDIA_CONNECT, 0, 0)
      ndis.NdisMIndicateStatusComplete(h)
    } } }).m
    expect(init(false).findings).toEqual([])
    expect(init(true).findings.map((f) => [f.kind, f.message])).toEqual([['ndis-call-order', expect.stringMatching(/MiniportInitialize of a serialized miniport/)]])
  })

  it('NdisMIndicateStatus from MiniportHalt is a call-order finding', () => {
    const { m } = loadLoop({ hooks: { halt: (ndis, h) => {
      ndis.NdisMIndicateStatus(h, ndis.NDIS_STATUS_MEDIA_DISCONNECT, 0, 0)
      ndis.NdisMIndicateStatusComplete(h)
    } } })
    m.halt()
    expect(m.findings.map((f) => f.message)).toEqual([expect.stringMatching(/NdisMIndicateStatus from MiniportHalt/)])
  })
})

describe('NdisWritePciSlotInformation', () => {
  it('writes the adapter\'s configuration space and returns the bytes written (the cache line size register reads back)', () => {
    const out: number[] = []
    const { m } = loadLoop({ hooks: { initialize: (ndis, h) => {
      out.push(ndis.NdisWritePciSlotInformation(h, 0, 0x0c, Uint8Array.of(0x10), 1))
      out.push(ndis.NdisReadPciSlotInformation(h, 0, 0x0c, 1).buffer[0]!)
      // Past the 256-byte space nothing is written.
      out.push(ndis.NdisWritePciSlotInformation(h, 0, 0xfe, Uint8Array.of(0, 0, 0, 0), 4))
    } } })
    expect(out).toEqual([1, 0x10, 2])
    expect(m.findings).toEqual([])
  })

  it('a SlotNumber other than 0 gets the NDIS Verifier warning; a Buffer that is not bytes is a bad argument', () => {
    const { m } = loadLoop({ hooks: { initialize: (ndis, h) => {
      ndis.NdisWritePciSlotInformation(h, 3, 0x0c, Uint8Array.of(0x10), 1)
      ndis.NdisWritePciSlotInformation(h, 0, 0x0c, 'x' as never, 1)
    } } })
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-verifier-warning', 'ndis-bad-argument'])
  })
})

describe('NdisMAllocateSharedMemoryAsync under low resources', () => {
  it('fails with NDIS_STATUS_FAILURE and MiniportAllocateComplete is not called', () => {
    let completes = 0
    let status = 0
    const { m } = loadLoop({ attributes: 0x08, hooks: {
      initialize: (ndis, h) => ndis.NdisMAllocateMapRegisters(h, 0, ndis.NDIS_DMA_32BITS, 2, 2048),
      query: (ndis, h, oid) => {
        if (oid === ndis.OID_GEN_LINK_SPEED) status = ndis.NdisMAllocateSharedMemoryAsync(h, 8192, true, null)
      },
      halt: (ndis, h) => ndis.NdisMFreeMapRegisters(h),
      characteristics: (c) => ({ ...c, AllocateCompleteHandler: () => completes++ }),
    } }, { faults: 'routine=NdisMAllocateSharedMemoryAsync' })
    m.runUntilIdle()
    m.halt()
    expect([status, completes]).toEqual([0xc000_0001, 0])
    expect(m.findings).toEqual([])
  })
})
