// Driver code that throws ends the run the way DESIGN says: a fatal `driver-exception` finding
// with bug check 0x7E and the driver line that threw, outcome `bugcheck`; in log mode the host
// API returns normally, in crash mode it throws the BugCheck to the host caller. Never a crash
// of the host itself, whichever handler threw and however deep in NDIS it was.
import { describe, expect, it } from 'vitest'
import { BugCheck, BUGCHECK, createMachine } from '../../src/index.js'
import { JS_EXCEPTION_CODE } from '../../src/kernel/driver-call.js'
import { kinds, lineHere, loadTestMiniport, theFinding } from '../support/driver-fixture.js'
import { testMiniport } from '../support/test-miniport.js'
import type { NDIS_OID_REQUEST } from '../../src/ndis/types.js'

function expectDriverException(m: ReturnType<typeof createMachine>, handler: string, message: string, site: string): void {
  const f = theFinding(m, 'driver-exception')
  expect(f.severity).toBe('fatal')
  expect(f.code).toBe(BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED)
  expect(f.params).toEqual([JS_EXCEPTION_CODE, 0, 0, 0])
  expect(f.message).toBe(`${handler} threw ${message}`)
  expect(f.site).toBe(site)
  expect(f.details).toMatchObject({ handler })
  const r = m.report()
  expect(r.outcome).toBe('bugcheck')
  expect(r.bugcheck).toEqual({ code: 0x7e, name: 'SYSTEM_THREAD_EXCEPTION_NOT_HANDLED', params: [JS_EXCEPTION_CODE, 0, 0, 0] })
  expect(r.findings.at(-1)).toEqual(f)
}

describe('an exception thrown by driver code', () => {
  it('in MiniportInitializeEx stops the machine with 0x7E at the throwing line; log mode returns from m.load', () => {
    const m = createMachine()
    let site = ''
    const mp = testMiniport({
      hooks: {
        initialize: () => {
          site = lineHere(1)
          throw new RangeError('ring size out of range')
        },
      },
    })
    const loaded = m.load(mp, 'thrower')
    expect(loaded.state).toBe('crashed')
    expectDriverException(m, 'MiniportInitializeEx', 'RangeError: ring size out of range', site)
    // The machine has stopped: halting does nothing more and throws nothing in log mode.
    m.halt()
    expect(kinds(m)).toEqual(['driver-exception'])
  })

  it('in crash mode reaches the host caller of m.load as the BugCheck', () => {
    const m = createMachine({ verifier: { mode: 'crash' } })
    const mp = testMiniport({
      hooks: {
        initialize: () => {
          throw new Error('boom')
        },
      },
    })
    let caught: unknown
    try {
      m.load(mp, 'thrower')
    } catch (e) {
      caught = e
    }
    expect(caught).toBeInstanceOf(BugCheck)
    const bc = caught as BugCheck
    expect(bc.code).toBe(0x7e)
    expect(bc.kind).toBe('driver-exception')
    expect(bc.params).toEqual([JS_EXCEPTION_CODE, 0, 0, 0])
    expect(bc.message).toContain('MiniportInitializeEx threw Error: boom')
    expect(m.report().outcome).toBe('bugcheck')
  })

  it('in the DPC during traffic ends the run with the DPC named; log-mode traffic and halt return normally', () => {
    let site = ''
    let dpcs = 0
    const { m } = loadTestMiniport({}, {
      hooks: {
        dpc: () => {
          if (++dpcs === 3) {
            site = lineHere(1)
            throw new TypeError('cannot read the descriptor')
          }
        },
      },
    })
    m.traffic.send({ count: 100, size: 600 })
    expectDriverException(m, 'MiniportInterruptDPC', 'TypeError: cannot read the descriptor', site)
    const tx = m.report().traffic.txFrames
    expect(tx).toBeLessThan(100)
    m.traffic.send({ count: 10, size: 600 })
    m.halt()
    // Nothing ran after the bug check: no more frames, no halt, no leak check.
    expect(m.report().traffic.txFrames).toBe(tx)
    expect(kinds(m)).toEqual(['driver-exception'])
  })

  it('in ProcessSGList, called inside NdisMAllocateNetBufferSGList inside the send handler, names ProcessSGList', () => {
    let site = ''
    const { m } = loadTestMiniport({}, {
      hooks: {
        processSGList: () => {
          site = lineHere(1)
          throw new Error('no descriptor')
        },
      },
    })
    m.traffic.send({ count: 5, size: 100 })
    expectDriverException(m, 'MiniportProcessSGList', 'Error: no descriptor', site)
  })

  it('in crash mode reaches the host caller of m.traffic.send', () => {
    const { m } = loadTestMiniport({ verifier: { mode: 'crash' } }, {
      hooks: {
        send: () => {
          throw new Error('send failed')
        },
      },
    })
    expect(() => m.traffic.send({ count: 1, size: 100 })).toThrow(BugCheck)
    expect(m.report().bugcheck?.code).toBe(0x7e)
  })

  it('that is not an Error is reported with its value and still ends the run', () => {
    const { m } = loadTestMiniport({}, { hooks: { oid: (_a, request) => throwStringOn(request) } })
    expect(m.ndis!.miniport.oid(linkSpeedQuery())).toBe(0xc000_0001)
    const f = theFinding(m, 'driver-exception')
    expect(f.severity).toBe('fatal')
    expect(f.message).toBe('MiniportOidRequest threw a value that is not an Error: the string "a string"')
    expect(m.report().outcome).toBe('bugcheck')
  })

  // A thrown value has no stack: the honest site is none (not the host caller's line, which a
  // wrapper Error's stack would name).
  it('that is not an Error has no driver site to name, so it names none (not the host caller)', () => {
    const { m } = loadTestMiniport({}, { hooks: { oid: (_a, request) => throwStringOn(request) } })
    m.ndis!.miniport.oid(linkSpeedQuery())
    expect(theFinding(m, 'driver-exception').site).toBeUndefined()
  })

  it('cannot keep the machine going by catching the BugCheck thrown at it', () => {
    let after = 0
    const { m } = loadTestMiniport({}, {
      hooks: {
        oid: (a, request) => {
          if (request.DATA.Oid !== LINK_SPEED) return undefined
          const ndis = a.ndis
          const va = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 64, 'tseT')
          ndis.ExFreePoolWithTag(va, 'tseT')
          try {
            ndis.ExFreePoolWithTag(va, 'tseT') // double free: fatal
          } catch {
            // swallowed: the machine has stopped all the same
          }
          try {
            ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 64, 'tseT')
            after++
          } catch {
            // every later call is refused
          }
          return ndis.NDIS_STATUS_SUCCESS
        },
      },
    })
    expect(m.ndis!.miniport.oid(linkSpeedQuery())).toBe(0xc000_0001)
    expect(after).toBe(0)
    expect(kinds(m)).toEqual(['pool-double-free'])
    expect(m.report().outcome).toBe('bugcheck')
    expect(m.report().bugcheck?.code).toBe(BUGCHECK.BAD_POOL_CALLER)
  })
})

const LINK_SPEED = 0x0001_0107

function throwStringOn(request: NDIS_OID_REQUEST): number | undefined {
  if (request.DATA.Oid !== LINK_SPEED) return undefined
  throw 'a string'
}

function linkSpeedQuery(): NDIS_OID_REQUEST {
  return {
    Header: { Type: 0x96, Revision: 1, Size: 0 },
    RequestType: 0,
    PortNumber: 0,
    Timeout: 0,
    RequestId: null,
    DATA: { Oid: LINK_SPEED, InformationBuffer: 0, InformationBufferLength: 0, BytesWritten: 0, BytesRead: 0, BytesNeeded: 0 },
  }
}
