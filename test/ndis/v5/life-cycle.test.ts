// An NDIS 5.1 miniport's life: registration (NdisMInitializeWrapper, NdisMRegisterMiniport,
// NdisTerminateWrapper), MiniportInitialize with its medium array, NdisMSetAttributesEx, the
// bind, MiniportCheckForHang and MiniportReset, halt and unload, and the checks NDIS and the
// NDIS Verifier make on the way. NDIS 5.1 reference pages of those names; bug check 0x7C
// (debugger/bug-check-0x7c--bugcode-ndis-driver) for the codes; "Displaying Warning Messages"
// (NDIS Verifier) for the warnings.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import type { NdisApi } from '../../../src/ndis/api.js'
import type { NDIS_MINIPORT_TIMER } from '../../../src/ndis/v5/types.js'
import { ndis5Loop } from '../../support/miniports/ndis5-loop.js'

const load = (entry: (ndis: NdisApi) => number, config = {}) => {
  const m = createMachine(config)
  const loaded = m.load({ default: entry as never }, 'ndis5-test')
  return { m, loaded, kinds: () => m.findings.map((f) => f.kind) }
}

describe('NDIS 5.1 registration', () => {
  it('e1000-ndis5 registers with NdisMRegisterMiniport: NDIS runs it as an NDIS 5.1 miniport, whose context is the area NdisMSetAttributesEx got', async () => {
    const m = createMachine({})
    const loaded = await m.load('e1000-ndis5')
    expect(loaded.state).toBe('running')
    expect(m.ndis!.ctx.model).toBe('ndis5')
    expect(m.ndis!.v5.state.deserialized).toBe(true)
    expect(m.ndis!.v5.state.busMaster).toBe(true)
    // Seed 000: the context area is nonpaged memory from NdisAllocateMemory, handed to NdisMSetAttributesEx.
    expect(typeof loaded.context).toBe('number')
    expect(m.kernel.pool.tracker.byTag()['Ndis']?.bytesOutstanding).toBe(128)
    expect(m.ndis!.v5.miniport.bindRequests.every((r) => r.status === 0)).toBe(true)
    m.halt()
    expect(m.findings).toEqual([])
  })

  it('a version other than 5.0 or 5.1 is NDIS_STATUS_BAD_VERSION and the driver does not start', () => {
    const { loaded, kinds } = load((ndis) => {
      const { ndisWrapperHandle } = ndis.NdisMInitializeWrapper(ndis.DriverObject, '', null)
      const status = ndis.NdisMRegisterMiniport(ndisWrapperHandle, { ...ndis5Chars(ndis), MajorNdisVersion: 4 }, 0x60)
      ndis.NdisTerminateWrapper(ndisWrapperHandle, null)
      return status
    })
    expect(loaded.state).toBe('init-failed')
    expect(loaded.initStatusName).toBe('NDIS_STATUS_BAD_VERSION') // 0xC0010004
    expect(kinds()).toEqual(['ndis-bad-argument'])
  })

  it('characteristics without the required handlers are NDIS_STATUS_BAD_CHARACTERISTICS', () => {
    const { loaded, m } = load((ndis) => {
      const { ndisWrapperHandle } = ndis.NdisMInitializeWrapper(ndis.DriverObject, '', null)
      const { ResetHandler: _r, ...chars } = ndis5Chars(ndis)
      const status = ndis.NdisMRegisterMiniport(ndisWrapperHandle, chars as never, 0xf0)
      ndis.NdisTerminateWrapper(ndisWrapperHandle, null)
      return status
    })
    expect(loaded.initStatus).toBe(0xc001_0005)
    expect(m.findings[0]!.message).toMatch(/lacks ResetHandler/)
  })

  it('a DriverEntry that fails after NdisMInitializeWrapper without NdisTerminateWrapper leaks the wrapper', () => {
    const { loaded, m } = load((ndis) => {
      ndis.NdisMInitializeWrapper(ndis.DriverObject, '', null)
      return ndis.NDIS_STATUS_FAILURE
    })
    expect(loaded.state).toBe('init-failed')
    expect(m.findings.map((f) => [f.kind, f.message])).toEqual([['ndis-resource-leak', expect.stringMatching(/without calling NdisTerminateWrapper/)]])
  })

  it('an NDIS 6 driver calling an NDIS 5 routine is 0x7C/0x15 NDIS_BUGCHECK_INVALID_NDIS5_CALL', async () => {
    const m = createMachine({})
    await m.load('e1000')
    const ndis = m.loaded().ndis
    ndis.NdisMSetAttributesEx({}, 0, 0, 0, 5)
    const f = m.findings.find((x) => x.kind === 'ndis-version-mismatch')!
    expect(f.code).toBe(0x7c)
    expect(f.params?.[0]).toBe(0x15)
  })

  it('MiniportInitialize must pick NdisMedium802_3 from the medium array; another medium is a finding (no protocol binds)', () => {
    const loop = ndis5Loop({ hooks: { characteristics: (c) => ({ ...c, InitializeHandler: (media, n, h, cfg) => ({ ...c.InitializeHandler(media, n, h, cfg), selectedMediumIndex: 1 }) }) } })
    const { m } = load(loop.DriverEntry)
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-bad-argument'])
    expect(m.findings[0]!.message).toMatch(/selected medium index 1 .*NdisMedium802_3/)
    expect(m.ndis!.v5.protocol.bound).toBe(false)
  })

  it('a miniport without MiniportShutdown gets the NDIS Verifier warning', () => {
    const { kinds } = load(ndis5Loop({ shutdownHandler: false }).DriverEntry)
    expect(kinds()).toEqual(['ndis-verifier-warning'])
  })

  it('a hardware miniport that asks NDIS to ignore send and request timeouts gets the NDIS Verifier warning', () => {
    const { m } = load(ndis5Loop({ attributes: 0x1 | 0x2 }).DriverEntry)
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-verifier-warning'])
    expect(m.findings[0]!.message).toMatch(/NDIS_ATTRIBUTE_IGNORE_PACKET_TIMEOUT/)
  })

  it('NdisMSetAttributesEx outside MiniportInitialize is an init-only call (and, from a DISPATCH_LEVEL handler, an IRQL violation)', () => {
    const { m } = load(ndis5Loop({ hooks: { query: (ndis, handle, oid) => {
      if (oid === ndis.OID_GEN_LINK_SPEED) ndis.NdisMSetAttributesEx(handle, 'late', 0, 0, ndis.NdisInterfacePci)
    } } }).DriverEntry)
    expect(m.findings.map((f) => f.kind)).toEqual(['irql-violation', 'init-only-call'])
  })

  it('the bind: NDIS and the protocol query the mandatory OIDs and set lookahead, multicast list and packet filter', () => {
    const { m } = load(ndis5Loop({}).DriverEntry)
    const names = m.ndis!.v5.miniport.bindRequests.map((r) => r.name)
    expect(names).toEqual([
      'OID_GEN_MAXIMUM_SEND_PACKETS', 'OID_GEN_MAC_OPTIONS', 'OID_GEN_MAXIMUM_LOOKAHEAD', 'OID_802_3_CURRENT_ADDRESS', 'OID_GEN_MEDIA_CONNECT_STATUS',
      'OID_GEN_MAXIMUM_FRAME_SIZE', 'OID_GEN_LINK_SPEED', 'OID_GEN_MAXIMUM_TOTAL_SIZE',
      'OID_GEN_CURRENT_LOOKAHEAD', 'OID_802_3_MULTICAST_LIST', 'OID_GEN_CURRENT_PACKET_FILTER',
    ])
    expect(m.ndis!.v5.protocol.packetFilter).toBe(0x1 | 0x2 | 0x8)
    expect([...m.ndis!.v5.protocol.mac]).toEqual([0x52, 0x54, 0, 0x12, 0x34, 0x56])
  })

  it('a mandatory OID that fails at bind is oid-failed', () => {
    const loop = ndis5Loop({ hooks: { characteristics: (c) => ({ ...c, QueryInformationHandler: (ctx, oid, b, l) => (oid === 0x0001_0107 ? { status: 0xc000_00bb, bytesWritten: 0, bytesNeeded: 0 } : c.QueryInformationHandler(ctx, oid, b, l)) }) } })
    const { m } = load(loop.DriverEntry)
    expect(m.findings.map((f) => f.kind)).toEqual(['oid-failed'])
    expect(m.findings[0]!.message).toMatch(/OID_GEN_LINK_SPEED \(query: NDIS_STATUS_NOT_SUPPORTED\)/)
  })
})

describe('NDIS 5.1 PnP events', () => {
  it('after MiniportInitialize NDIS tells a 5.1 miniport the power source: NdisDevicePnPEventPowerProfileChanged with NdisPowerProfileAcOnLine, at PASSIVE_LEVEL', () => {
    const events: Array<[number, number, number, number]> = []
    let api: NdisApi | null = null
    const loop = ndis5Loop({ hooks: {
      initialize: (ndis) => {
        api = ndis
      },
      characteristics: (c) => ({ ...c, PnPEventNotifyHandler: (_ctx, event, buffer, length) => {
        events.push([event, api!.memory.read32(buffer), length, api!.KeGetCurrentIrql()])
      } }),
    } })
    const { m } = load(loop.DriverEntry)
    expect(events).toEqual([[5, 1, 4, 0]])
    m.halt()
    expect(m.findings).toEqual([])
  })

  it('an NDIS 5.0 miniport has no MiniportPnPEventNotify: NDIS calls nothing', () => {
    let called = false
    const loop = ndis5Loop({ hooks: { characteristics: (c) => {
      const { AdapterShutdownHandler: _s, ...rest } = c
      return { ...rest, MinorNdisVersion: 0, PnPEventNotifyHandler: () => {
        called = true
      } }
    }, initialize: (ndis, h) => ndis.NdisMRegisterAdapterShutdownHandler(h, null, () => {}) } })
    const { m, loaded } = load(loop.DriverEntry)
    expect(loaded.state).toBe('running')
    expect(called).toBe(false)
    m.halt()
  })
})

describe('NDIS 5.1 check-for-hang, reset and halt', () => {
  it('MiniportCheckForHang runs every two seconds of virtual time; TRUE makes NDIS call MiniportReset', () => {
    let checks = 0
    const loop = ndis5Loop({ hooks: { checkForHang: () => ++checks === 2 } })
    const { m } = load(loop.DriverEntry)
    m.run({ ns: 5e9 })
    expect(checks).toBe(2)
    expect(loop.log.resets).toBe(1)
    m.halt()
    expect(m.findings).toEqual([])
  })

  it('NdisMResetComplete with no reset pending is 0x7C/0x0F NDIS_BUGCHECK_RESET_COMPLETE_UNEXPECTED', () => {
    const { m } = load(ndis5Loop({ hooks: { query: (ndis, handle, oid) => {
      if (oid === ndis.OID_GEN_LINK_SPEED) ndis.NdisMResetComplete(handle, ndis.NDIS_STATUS_SUCCESS, false)
    } } }).DriverEntry)
    const f = m.findings[0]!
    expect([f.kind, f.code, f.params?.[0]]).toEqual(['ndis-call-order', 0x7c, 0x0f])
  })

  it('a reset that pends completes through NdisMResetComplete', () => {
    let pending = false
    let t: NDIS_MINIPORT_TIMER | null = null
    const loop = ndis5Loop({ hooks: {
      // Timers are initialized at PASSIVE_LEVEL; MiniportReset runs at DISPATCH_LEVEL.
      initialize: (ndis, handle) => { t = ndis.NdisMInitializeTimer(handle, () => ndis.NdisMResetComplete(handle, ndis.NDIS_STATUS_SUCCESS, true), null).timer },
      checkForHang: () => !pending,
      reset: (ndis) => {
        pending = true
        ndis.NdisMSetTimer(t!, 10)
        return { status: ndis.NDIS_STATUS_PENDING, addressingReset: false }
      },
    } })
    const { m } = load(loop.DriverEntry)
    m.run({ ns: 3e9 })
    expect(loop.log.resets).toBe(1)
    m.halt()
    expect(m.findings).toEqual([])
  })

  it('a send a serialized miniport pends and never completes times out: at the second wake-up tick NDIS resets the adapter and completes it to the protocol as aborted', () => {
    const loop = ndis5Loop({ serialized: true, send: 'send', complete: 'never', loopback: 'none' })
    const { m } = load(loop.DriverEntry)
    m.traffic.send({ count: 1, size: 100 })
    expect(loop.log.resets).toBe(0)
    m.run({ ns: 5e9 })
    expect(loop.log.resets).toBe(1)
    expect(m.ndis!.v5.miniport.resetReasons).toEqual(['1 pended send timed out'])
    expect(m.ndis!.v5.send.outstanding).toBe(0)
    expect(m.ndis!.v5.protocol.counters.txFailed).toBe(1)
    const f = m.findings.find((x) => x.kind === 'send-not-completed')!
    expect([f.code, f.params?.[1]]).toEqual([0x7c, 1])
    m.halt()
    expect(m.findings.map((x) => x.kind)).toEqual(['send-not-completed'])
  })

  it('a serialized miniport that completes a send after NDIS aborted it at a reset is packet-misuse', () => {
    let held: unknown = null
    const loop = ndis5Loop({ serialized: true, send: 'send', complete: 'never', loopback: 'none', hooks: {
      characteristics: (c) => ({ ...c, SendHandler: (ctx, packet, flags) => {
        held = packet
        return c.SendHandler!(ctx, packet, flags)
      } }),
      reset: (ndis, handle) => {
        const t = ndis.NdisMInitializeTimer(handle, () => ndis.NdisMSendComplete(handle, held as never, ndis.NDIS_STATUS_SUCCESS), null).timer!
        ndis.NdisMSetTimer(t, 10)
        return { status: ndis.NDIS_STATUS_SUCCESS, addressingReset: false }
      },
    } })
    const { m } = load(loop.DriverEntry)
    m.traffic.send({ count: 1, size: 100 })
    m.run({ ns: 5e9 })
    const f = m.findings.find((x) => x.kind === 'packet-misuse')!
    expect(f.message).toMatch(/NDIS completed it to the protocol itself when it reset the adapter/)
  })

  it('a request a serialized miniport pends and never completes times out: NDIS resets the adapter and completes it as aborted; a late Complete is out of order', () => {
    let t: NDIS_MINIPORT_TIMER | null = null
    const loop = ndis5Loop({ serialized: true, hooks: {
      initialize: (ndis, handle) => { t = ndis.NdisMInitializeTimer(handle, () => ndis.NdisMSetInformationComplete(handle, ndis.NDIS_STATUS_SUCCESS), null).timer },
      set: (ndis, _h, oid) => (oid === ndis.OID_GEN_CURRENT_PACKET_FILTER ? { status: ndis.NDIS_STATUS_PENDING, bytesRead: 0, bytesNeeded: 0 } : undefined),
      reset: (ndis) => {
        ndis.NdisMSetTimer(t!, 10)
        return { status: ndis.NDIS_STATUS_SUCCESS, addressingReset: false }
      },
    } })
    const { m, loaded } = load(loop.DriverEntry)
    m.run({ ns: 1e9 })
    expect(loaded.state).toBe('running')
    expect(loop.log.resets).toBe(1)
    expect(m.ndis!.v5.miniport.resetReasons).toEqual(['a request (OID 0x1_010e) timed out'])
    expect(m.ndis!.v5.miniport.bindRequests.find((r) => r.name === 'OID_GEN_CURRENT_PACKET_FILTER')?.status).toBe(0xc001_000c) // NDIS_STATUS_REQUEST_ABORTED
    expect(m.findings.map((x) => x.kind)).toEqual(['hang', 'oid-failed', 'ndis-call-order'])
    expect(m.findings[2]!.message).toMatch(/NDIS completed OID 0x1_010e itself, as aborted, when it reset the adapter/)
  })

  it('a deserialized miniport keeps its request through the reset and may complete it from MiniportReset', () => {
    let sets = 0
    const loop = ndis5Loop({ hooks: {
      set: (ndis, _h, oid) => (oid === ndis.OID_GEN_CURRENT_PACKET_FILTER && sets++ === 0 ? { status: ndis.NDIS_STATUS_PENDING, bytesRead: 0, bytesNeeded: 0 } : undefined),
      reset: (ndis, handle) => {
        ndis.NdisMSetInformationComplete(handle, ndis.NDIS_STATUS_SUCCESS)
        return { status: ndis.NDIS_STATUS_SUCCESS, addressingReset: true }
      },
    } })
    const { m } = load(loop.DriverEntry)
    expect(loop.log.resets).toBe(1)
    expect(m.ndis!.v5.miniport.bindRequests.every((r) => r.status === 0)).toBe(true)
    m.run({ ns: 1e6 })
    expect(sets).toBe(2) // the addressing reset set the packet filter again
    // The timed-out request is the finding; the addressing reset's OIDs went down after it completed.
    expect(m.findings.map((x) => x.kind)).toEqual(['hang'])
    m.halt()
    expect(m.findings.map((x) => x.kind)).toEqual(['hang'])
  })

  it('with NDIS_ATTRIBUTE_IGNORE_REQUEST_TIMEOUT NDIS never resets for a request: one that never completes is a hang', () => {
    const loop = ndis5Loop({ serialized: true, attributes: 0x2, hooks: {
      set: (ndis, _h, oid) => (oid === ndis.OID_GEN_CURRENT_PACKET_FILTER ? { status: ndis.NDIS_STATUS_PENDING, bytesRead: 0, bytesNeeded: 0 } : undefined),
    } })
    const { m } = load(loop.DriverEntry)
    expect(loop.log.resets).toBe(0)
    expect(m.findings.map((x) => x.kind)).toEqual(['ndis-verifier-warning', 'hang', 'oid-failed'])
    expect(m.findings[1]!.message).toMatch(/never called NdisMSetInformationComplete/)
  })

  it('halting with the interrupt still registered is NDIS\'s bug check 0x7C/0x08: the machine stops', async () => {
    const m = createMachine({})
    await m.load('e1000-ndis5')
    // A MiniportHalt that returns at once: the interrupt (and the periodic watchdog) are still there.
    m.ndis!.v5.state.characteristics!.HaltHandler = () => {}
    m.halt()
    const r = m.report()
    expect(r.outcome).toBe('bugcheck')
    expect([r.bugcheck?.code, r.bugcheck?.params[0]]).toEqual([0x7c, 0x08])
    expect(m.findings.map((f) => f.kind)).toEqual(['interrupt-not-deregistered'])
  })

  it('halting with a timer still set is NDIS\'s bug check 0x7C/0x09', () => {
    const { m } = load(ndis5Loop({ hooks: { halt: (ndis, handle) => {
      const { timer } = ndis.NdisMInitializeTimer(handle, () => {}, null)
      ndis.NdisMSetTimer(timer!, 1000)
    } } }).DriverEntry)
    m.halt()
    const r = m.report()
    expect([r.bugcheck?.code, r.bugcheck?.params[0]]).toEqual([0x7c, 0x09])
    expect(m.findings.map((f) => f.kind)).toEqual(['timer-not-cancelled'])
  })

  it('a MiniportInitialize that fails with a timer still set is 0x7C/0x0C', () => {
    const { m, loaded } = load(ndis5Loop({ hooks: { initialize: (ndis, handle) => {
      const { timer } = ndis.NdisMInitializeTimer(handle, () => {}, null)
      ndis.NdisMSetTimer(timer!, 1000)
      return ndis.NDIS_STATUS_RESOURCES
    } } }).DriverEntry)
    expect(loaded.state).toBe('init-failed')
    expect([m.report().bugcheck?.code, m.report().bugcheck?.params[0]]).toEqual([0x7c, 0x0c])
  })

  it('MiniportShutdown runs at PASSIVE_LEVEL', () => {
    const loop = ndis5Loop({})
    const { m } = load(loop.DriverEntry)
    let irql = -1
    m.ndis!.v5.state.shutdown = { handler: () => (irql = m.kernel.irql), context: undefined, registered: 'characteristics' }
    m.ndis!.v5.miniport.shutdown()
    expect(irql).toBe(0)
  })
})

/** Characteristics that satisfy NdisMRegisterMiniport's required handlers (never run). */
function ndis5Chars(ndis: NdisApi) {
  const status = { status: ndis.NDIS_STATUS_FAILURE, selectedMediumIndex: 0 }
  return {
    MajorNdisVersion: 5,
    MinorNdisVersion: 1,
    InitializeHandler: () => status,
    HaltHandler: () => {},
    QueryInformationHandler: () => ({ status: 0, bytesWritten: 0, bytesNeeded: 0 }),
    SetInformationHandler: () => ({ status: 0, bytesRead: 0, bytesNeeded: 0 }),
    ResetHandler: () => ({ status: 0, addressingReset: false }),
    SendPacketsHandler: () => {},
  }
}
