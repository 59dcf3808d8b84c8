// The miniport's life as NDIS drives it: a failed initialization, the pause (pending while
// sends are out, completed later; never completed; completed too early), OID requests
// (answered, unsupported, pended and completed, pended forever), and the unload's leak checks.
import { describe, expect, it } from 'vitest'
import { BugCheck, BUGCHECK, createMachine } from '../../src/index.js'
import { tagValue } from '../../src/kernel/tags.js'
import { POOL_TYPE } from '../../src/kernel/wdm.js'
import type { Machine } from '../../src/machine.js'
import type { NDIS_OID_REQUEST } from '../../src/ndis/types.js'
import { bareMiniport, kinds, lineHere, loadTestMiniport, theFinding } from '../support/driver-fixture.js'
import { pendOid, testMiniport } from '../support/test-miniport.js'
import { NDIS_BUGCHECK } from '../../src/ndis/context.js'

const OID_GEN_LINK_SPEED = 0x0001_0107
const OID_GEN_XMIT_OK = 0x0002_0101
const OID_GEN_MEDIA_CONNECT_STATUS = 0x0001_0114
const NDIS_STATUS_PENDING = 0x103
const NDIS_STATUS_FAILURE = 0xc000_0001
const NDIS_STATUS_RESOURCES = 0xc000_009a
const NDIS_STATUS_NOT_SUPPORTED = 0xc000_00bb

/** An OID query with an information buffer in emulated memory, as the protocol side makes one. */
function query(m: Machine, oid: number, length = 8): { request: NDIS_OID_REQUEST; buffer: number } {
  const buffer = m.kernel.pool.allocate(POOL_TYPE.NonPagedPoolNx, length, tagValue('diOT'), { driver: false })
  const request: NDIS_OID_REQUEST = {
    Header: { Type: 0x96, Revision: 1, Size: 0 },
    RequestType: 0,
    PortNumber: 0,
    Timeout: 0,
    RequestId: null,
    DATA: { Oid: oid, InformationBuffer: buffer, InformationBufferLength: length, BytesWritten: 0, BytesRead: 0, BytesNeeded: 0 },
  }
  return { request, buffer }
}

describe('initialization', () => {
  it('a MiniportInitializeEx that fails and unwinds is init-failed with its status and no finding', () => {
    const m = createMachine()
    const loaded = m.load(testMiniport({ hooks: { initialize: (a) => a.ndis.NDIS_STATUS_RESOURCES } }), 'fails')
    expect(loaded.state).toBe('init-failed')
    expect(loaded.initStatusName).toBe('NDIS_STATUS_RESOURCES')
    const r = m.report()
    expect(r.outcome).toBe('init-failed')
    expect(r.init).toEqual({ status: 'NDIS_STATUS_RESOURCES', code: NDIS_STATUS_RESOURCES })
    expect(r.findings).toEqual([])
    expect(r.dma.commonBuffers.every((b) => b.freed)).toBe(true)
  })

  it('one that fails without unwinding leaks: NDIS names what is still registered, the kernel the pool block and its line', () => {
    const m = createMachine()
    let site = ''
    m.load(bareMiniport((ndis, handle) => {
      ndis.NdisMRegisterScatterGatherDma(handle, { Flags: 0, MaximumPhysicalMapping: 4096, ProcessSGListHandler: () => {} })
      site = lineHere(1)
      ndis.NdisAllocateMemoryWithTag(100, 'kaeL')
      return ndis.NDIS_STATUS_FAILURE
    }), 'leaky')
    expect(m.report().outcome).toBe('init-failed')
    expect(kinds(m)).toEqual(['ndis-resource-leak', 'pool-leak'])
    expect(m.findings[0]).toMatchObject({ code: BUGCHECK.BUGCODE_NDIS_DRIVER, message: 'MiniportInitializeEx failed with scatter/gather DMA registered (NdisMDeregisterScatterGatherDma not called) still held' })
    const leak = theFinding(m, 'pool-leak')
    expect(leak.site).toBe(site)
    expect(leak.params).toEqual([0x62, 0, 0, 1])
    expect(leak.details).toMatchObject({ tag: 'Leak', bytes: 100 })
  })

  it('a DriverEntry that fails is init-failed with the status it returned', () => {
    const m = createMachine()
    const loaded = m.load({ default: (() => 0xc000_00bb) as never }, 'no')
    expect(loaded.state).toBe('init-failed')
    expect(m.report().init).toEqual({ status: 'NDIS_STATUS_NOT_SUPPORTED', code: NDIS_STATUS_NOT_SUPPORTED })
  })

  it('the protocol binds with OID_802_3_CURRENT_ADDRESS and sends to the MAC the miniport reported', () => {
    const { m, a } = loadTestMiniport({ nic: { mac: '02:11:22:33:44:55' } })
    expect([...a.mac]).toEqual([0x02, 0x11, 0x22, 0x33, 0x44, 0x55])
    expect([...m.ndis!.protocol.mac]).toEqual([...a.mac])
  })
})

describe('pause', () => {
  it('with sends still on the hardware pends, and completes through NdisMPauseComplete once they are done; then the halt', () => {
    let outstandingAtPause = -1
    const { m, mp } = loadTestMiniport({}, { hooks: { pause: (a) => void (outstandingAtPause = a.inFlight.length) } })
    const host = m.ndis!
    host.protocol.queueSend(40, 1500)
    m.run({ ns: 30_000 }) // a few frames on the wire, most still queued in the ring
    host.protocol.stop()
    expect(host.protocol.inFlight).toBeGreaterThan(0)
    expect(host.miniport.pauseAndHalt()).toBe(true)
    expect(outstandingAtPause).toBeGreaterThan(0)
    expect(host.miniport.state).toBe('halted')
    host.miniport.unload()
    expect(m.findings).toEqual([])
    expect(host.protocol.inFlight).toBe(0)
    // Every NBL came back: those on the hardware sent, those still queued in the driver
    // completed by the pause with NDIS_STATUS_PAUSED.
    const { txFrames, dropped } = m.report().traffic
    expect(txFrames).toBeGreaterThan(outstandingAtPause - 1)
    expect(txFrames + dropped.txFailed!).toBe(40)
    expect(Object.keys(host.protocol.counters.txFailures)).toEqual(dropped.txFailed! > 0 ? ['NDIS_STATUS_PAUSED'] : [])
    expect([...mp.irqls.get('MiniportPause')!]).toEqual([0])
  })

  it('holds its spin lock at DISPATCH_LEVEL and is back at PASSIVE_LEVEL once it releases it', () => {
    const { m, mp } = loadTestMiniport()
    m.halt()
    expect([...mp.irqls.get('MiniportPause (spin lock held)')!]).toEqual([2])
    expect([...mp.irqls.get('MiniportPause (spin lock released)')!]).toEqual([0])
  })

  it('that pends and never calls NdisMPauseComplete is a hang; the halt still runs', () => {
    const { m, mp } = loadTestMiniport({}, { hooks: { pause: (a) => a.ndis.NDIS_STATUS_PENDING } })
    m.halt()
    expect(theFinding(m, 'hang').message).toBe('MiniportPause returned NDIS_STATUS_PENDING and never called NdisMPauseComplete (sends or receive indications never came back)')
    expect(mp.irqls.has('MiniportHaltEx')).toBe(true)
    expect(kinds(m)).toEqual(['hang'])
  })

  it('that completes with sends not yet completed is send-not-completed, naming how many', () => {
    const { m, a } = loadTestMiniport({}, { hooks: { pause: (ad) => ad.ndis.NDIS_STATUS_SUCCESS } })
    a.ndis.NdisWriteRegisterUlong(a.regs + 0x400, 0) // TCTL: nothing is transmitted
    m.traffic.send({ count: 4, size: 200 })
    m.halt()
    const f = theFinding(m, 'send-not-completed')
    expect(f.code).toBe(BUGCHECK.BUGCODE_NDIS_DRIVER)
    expect(f.params).toEqual([NDIS_BUGCHECK.sendsNotCompleted, 4, 0, 0])
    expect(f.message).toBe('MiniportPause completed with 4 sent NET_BUFFER_LISTs never given back through NdisMSendNetBufferListsComplete: a miniport completes every send before its pause completes')
    // The halt then aborted them: the protocol got every NBL back, as failed sends.
    expect(m.report().traffic.dropped.txFailed).toBe(4)
  })
})

describe('OID requests', () => {
  it('are answered at PASSIVE_LEVEL into the protocol\'s information buffer', () => {
    const { m, ndis } = loadTestMiniport()
    m.traffic.send({ count: 7, size: 100 })
    const speed = query(m, OID_GEN_LINK_SPEED, 4)
    expect(m.ndis!.miniport.oid(speed.request)).toBe(0)
    expect(speed.request.DATA.BytesWritten).toBe(4)
    expect(ndis.memory.read32(speed.buffer)).toBe(10_000_000)
    const sent = query(m, OID_GEN_XMIT_OK)
    expect(m.ndis!.miniport.oid(sent.request)).toBe(0)
    expect(ndis.memory.read64(sent.buffer)).toBe(7)
    expect(m.ndis!.miniport.oid(query(m, OID_GEN_MEDIA_CONNECT_STATUS).request)).toBe(NDIS_STATUS_NOT_SUPPORTED)
    const short = query(m, OID_GEN_XMIT_OK, 4)
    expect(m.ndis!.miniport.oid(short.request)).toBe(0xc001_0016) // NDIS_STATUS_BUFFER_TOO_SHORT
    expect(short.request.DATA.BytesNeeded).toBe(8)
    expect(m.findings).toEqual([])
  })

  it('that pend complete through NdisMOidRequestComplete, which NDIS waits for', () => {
    const { m, ndis } = loadTestMiniport({}, { hooks: { oid: (a, request) => (request.DATA.Oid === OID_GEN_LINK_SPEED ? pendOid(a, request) : undefined) } })
    const speed = query(m, OID_GEN_LINK_SPEED, 4)
    expect(m.ndis!.miniport.oid(speed.request)).toBe(0)
    expect(ndis.memory.read32(speed.buffer)).toBe(10_000_000)
    expect(m.findings).toEqual([])
  })

  it('that pend and are never completed are a hang, and fail', () => {
    const { m } = loadTestMiniport({}, { hooks: { oid: (a, request) => (request.DATA.Oid === OID_GEN_LINK_SPEED ? a.ndis.NDIS_STATUS_PENDING : undefined) } })
    expect(m.ndis!.miniport.oid(query(m, OID_GEN_LINK_SPEED, 4).request)).toBe(NDIS_STATUS_FAILURE)
    expect(theFinding(m, 'hang').message).toBe('MiniportOidRequest pended OID 0x1_0107 and never called NdisMOidRequestComplete')
    void NDIS_STATUS_PENDING
  })
})

describe('unload', () => {
  it('reports every block the driver still holds, with its tag and allocating line (S23), and the outcome is findings', () => {
    let site = ''
    const { m } = loadTestMiniport({}, {
      hooks: {
        initialize: (a) => {
          site = lineHere(1)
          a.ndis.NdisAllocateMemoryWithTag(48, 'tfeL')
        },
      },
    })
    m.halt()
    const f = theFinding(m, 'pool-leak')
    expect(f.site).toBe(site)
    expect(f.details).toMatchObject({ tag: 'Left', bytes: 48 })
    expect(f.message).toContain("test-miniport unloaded without freeing it: pool leak 1 of 1: nonpaged pool block 'Left' (48 bytes)")
    expect(m.report().outcome).toBe('findings')
    expect(m.report().pool.byTag['Left']).toMatchObject({ allocs: 1, frees: 0, bytesOutstanding: 48 })
  })

  it('in crash mode the leak check reaches the caller of m.halt as 0xC4/0x62', () => {
    const { m } = loadTestMiniport({ verifier: { mode: 'crash' } }, { hooks: { initialize: (a) => void a.ndis.NdisAllocateMemoryWithTag(48, 'tfeL') } })
    m.traffic.send({ count: 3, size: 100 })
    let caught: unknown
    try {
      m.halt()
    } catch (e) {
      caught = e
    }
    expect(caught).toBeInstanceOf(BugCheck)
    expect(caught).toMatchObject({ code: 0xc4, params: [0x62, 0, 0, 1], kind: 'pool-leak' })
  })

  it('a miniport that never deregisters its DMA has NDIS report it and the adapter report the shared memory still held', () => {
    let site = ''
    const m = createMachine()
    m.load(bareMiniport((ndis, handle) => {
      ndis.NdisMRegisterScatterGatherDma(handle, { Flags: 0, MaximumPhysicalMapping: 4096, ProcessSGListHandler: () => {} })
      site = lineHere(1)
      ndis.NdisMAllocateSharedMemory(handle, 8192, false)
    }), 'forgetful')
    m.halt()
    expect(kinds(m)).toEqual(['ndis-resource-leak', 'common-buffer-leak'])
    expect(m.findings[0]!.message).toBe('MiniportHaltEx returned with scatter/gather DMA registered (NdisMDeregisterScatterGatherDma not called) still held')
    expect(theFinding(m, 'common-buffer-leak').site).toBe(site)
  })
})
