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

  // Bug check 0x7C reference, 0x25 NDIS_BUGCHECK_WATCHDOG: p2 0x21 NDIS_BUGCHECK_WATCHDOG_MINIPORT_PAUSE, p4 0.
  it('that pends and never calls NdisMPauseComplete is NDIS\'s watchdog bug check 0x7C/0x25 (0x21): the halt never runs', () => {
    const { m, mp } = loadTestMiniport({}, { hooks: { pause: (a) => a.ndis.NDIS_STATUS_PENDING } })
    m.halt()
    const f = theFinding(m, 'hang')
    expect(f.message).toBe('MiniportPause returned NDIS_STATUS_PENDING and never called NdisMPauseComplete (sends or receive indications never came back): NDIS\'s watchdog bug checks (0x7C/0x25 NDIS_BUGCHECK_WATCHDOG)')
    expect([f.code, f.params]).toEqual([BUGCHECK.BUGCODE_NDIS_DRIVER, [0x25, 0x21, 0, 0]])
    expect(m.report().bugcheck).toMatchObject({ code: 0x7c, params: [0x25, 0x21, 0, 0] })
    expect(mp.irqls.has('MiniportHaltEx')).toBe(false)
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

  // Bug check 0x7C reference, 0x25 NDIS_BUGCHECK_WATCHDOG: p2 0x23 NDIS_BUGCHECK_WATCHDOG_MINIPORT_OID, p4 the OID.
  it('that pend and are never completed are NDIS\'s watchdog bug check 0x7C/0x25 (0x23, the OID)', () => {
    const { m } = loadTestMiniport({}, { hooks: { oid: (a, request) => (request.DATA.Oid === OID_GEN_LINK_SPEED ? a.ndis.NDIS_STATUS_PENDING : undefined) } })
    expect(() => m.ndis!.miniport.oid(query(m, OID_GEN_LINK_SPEED, 4).request)).toThrow(/BUGCODE_NDIS_DRIVER/)
    const f = theFinding(m, 'hang')
    expect(f.message).toBe('MiniportOidRequest pended OID 0x1_0107 and never called NdisMOidRequestComplete: NDIS\'s watchdog bug checks (0x7C/0x25 NDIS_BUGCHECK_WATCHDOG)')
    expect(f.params).toEqual([0x25, 0x23, 0, OID_GEN_LINK_SPEED])
    void NDIS_STATUS_PENDING
    void NDIS_STATUS_FAILURE
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

// Bug check 0x7C reference: 0x08 NDIS_BUGCHECK_HALT_WITHOUT_INTERRUPT_DEREGISTER ("A miniport
// driver did not deregister its interrupt during the halt process"), 0x0B
// NDIS_BUGCHECK_INIT_FAILED_WITHOUT_INTERRUPT_DEREGISTER ("A miniport driver failed its
// initialization without deregistering its interrupt"), 0x03 NDIS_BUGCHECK_FREE_INVALID_SHARED_MEM.
describe('what NDIS itself bug checks', () => {
  const withInterrupt = (ndis: Parameters<Parameters<typeof bareMiniport>[0]>[0], handle: unknown): void => {
    const { status } = ndis.NdisMRegisterInterruptEx(handle as never, null, {
      Header: { Type: ndis.NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT, Revision: 1, Size: 0 },
      InterruptHandler: () => ({ claimed: false, queueDefaultInterruptDpc: false, targetProcessors: 0 }),
      InterruptDpcHandler: () => {},
    } as never)
    expect(status).toBe(ndis.NDIS_STATUS_SUCCESS)
  }

  it('MiniportHaltEx returning with the interrupt registered is 0x7C/0x08', () => {
    const m = createMachine({})
    m.load(bareMiniport((ndis, handle) => withInterrupt(ndis, handle)), 'keeps-interrupt')
    m.halt()
    const f = theFinding(m, 'interrupt-not-deregistered')
    expect([f.code, f.params?.[0]]).toEqual([0x7c, 0x08])
    expect(m.report().bugcheck).toMatchObject({ code: 0x7c, params: [0x08, 0, expect.any(Number), 0] })
  })

  it('MiniportInitializeEx failing with the interrupt registered is 0x7C/0x0B', () => {
    const m = createMachine({})
    m.load(bareMiniport((ndis, handle) => {
      withInterrupt(ndis, handle)
      return ndis.NDIS_STATUS_RESOURCES
    }), 'fails-with-interrupt')
    expect(m.report().bugcheck).toMatchObject({ code: 0x7c, params: [0x0b, 0, expect.any(Number), 0] })
    expect(kinds(m)).toEqual(['interrupt-not-deregistered'])
  })

  it('NdisMFreeSharedMemory of shared memory already freed is 0x7C/0x03, fatal (p3 the page it came from, p4 its VA)', () => {
    const { m, ndis, a } = loadTestMiniport()
    // Shared memory outside MiniportInitializeEx is init-only-call too; what matters here is the second free.
    const { virtualAddress: va, physicalAddress: pa } = ndis.NdisMAllocateSharedMemory(a.handle, 256, false)
    const page = m.kernel.space.translate(va) - (m.kernel.space.translate(va) % 4096)
    ndis.NdisMFreeSharedMemory(a.handle, 256, false, va, pa)
    expect(() => ndis.NdisMFreeSharedMemory(a.handle, 256, false, va, pa)).toThrow(/BUGCODE_NDIS_DRIVER/)
    const f = theFinding(m, 'common-buffer-double-free')
    expect(f.params).toEqual([0x03, 0, page, va])
  })
})
