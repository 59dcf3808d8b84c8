// NDIS 5 interrupts as the NDIS 5.1 reference describes them, watched from inside e1000-ndis5
// (its handlers wrapped to record the IRQL each runs at):
//  - MiniportISR runs at DIRQL; when it asks for it, MiniportHandleInterrupt runs at
//    DISPATCH_LEVEL, and after it returns NDIS calls MiniportEnableInterrupt at DIRQL
//    (MiniportISR, MiniportHandleInterrupt, MiniportEnableInterrupt pages);
//  - with RequestIsr FALSE NDIS dismisses each interrupt through MiniportDisableInterrupt, at
//    DIRQL, "in particular at the DIRQL assigned when the NIC driver's MiniportInitialize function
//    called NdisMRegisterInterrupt" (MiniportDisableInterrupt), and a shared interrupt needs an ISR;
//  - NdisMSynchronizeWithInterrupt runs the SynchronizeFunction at DIRQL and returns its value
//    (NdisMSynchronizeWithInterrupt, MiniportSynchronizeInterrupt pages).
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import { DEVICE_IRQL, DISPATCH_LEVEL } from '../../../src/kernel/irql.js'
import type { NdisApi } from '../../../src/ndis/api.js'
import type { NDIS_MINIPORT_CHARACTERISTICS } from '../../../src/ndis/v5/types.js'
import { driverEntry } from '../../../examples/e1000-ndis5/index.js'
import { defaultHooks } from '../../../examples/e1000-ndis5/memory.js'
import { ndis5Loop } from '../../support/miniports/ndis5-loop.js'

type Call = readonly [string, number]

/** e1000-ndis5 with every interrupt handler, and NdisMSynchronizeWithInterrupt's function, recording (name, IRQL). */
function watched(requestIsr: boolean) {
  const calls: Call[] = []
  const m = createMachine({ wire: 'loopback' })
  const entry = (real: NdisApi): number => {
    const irql = (): number => real.KeGetCurrentIrql()
    const wrap = <A extends unknown[], R>(name: string, fn: ((...a: A) => R) | undefined) =>
      fn === undefined ? undefined : (...args: A): R => {
        calls.push([name, irql()])
        return fn(...args)
      }
    const ndis = new Proxy(real, {
      get(target, p) {
        if (p === 'NdisMRegisterMiniport') {
          return (h: never, c: NDIS_MINIPORT_CHARACTERISTICS, n: number) => target.NdisMRegisterMiniport(h, {
            ...c,
            ISRHandler: wrap('MiniportISR', c.ISRHandler)!,
            HandleInterruptHandler: wrap('MiniportHandleInterrupt', c.HandleInterruptHandler)!,
            EnableInterruptHandler: wrap('MiniportEnableInterrupt', c.EnableInterruptHandler)!,
            DisableInterruptHandler: wrap('MiniportDisableInterrupt', c.DisableInterruptHandler)!,
          }, n)
        }
        if (p === 'NdisMSynchronizeWithInterrupt') {
          return (i: never, fn: (x: unknown) => boolean, x: unknown) => target.NdisMSynchronizeWithInterrupt(i, wrap('SynchronizeFunction', fn)!, x)
        }
        return (target as never)[p]
      },
    })
    return driverEntry(ndis, undefined, { ...defaultHooks, requestIsr })
  }
  const loaded = m.load({ default: entry as never }, 'e1000-ndis5-watched')
  return { m, loaded, calls }
}

describe('NDIS 5 interrupt handlers and their IRQLs (e1000-ndis5)', () => {
  it('RequestIsr TRUE: MiniportISR at DIRQL, MiniportHandleInterrupt at DISPATCH_LEVEL, then MiniportEnableInterrupt at DIRQL; NDIS never calls MiniportDisableInterrupt', () => {
    const { m, loaded, calls } = watched(true)
    expect(loaded.state).toBe('running')
    m.traffic.send({ count: 30, size: 600 })
    m.halt()
    expect(m.findings).toEqual([])
    expect(m.report().traffic.rxFrames).toBe(30)
    const names = new Set(calls.map((c) => c[0]))
    expect(names.has('MiniportDisableInterrupt')).toBe(false)
    for (const [name, irql] of calls) {
      expect([name, irql]).toEqual([name, name === 'MiniportHandleInterrupt' ? DISPATCH_LEVEL : DEVICE_IRQL])
    }
    // Every MiniportHandleInterrupt is followed by MiniportEnableInterrupt before the next ISR.
    const order = calls.map((c) => c[0]).filter((n) => n !== 'SynchronizeFunction')
    order.forEach((n, i) => {
      if (n === 'MiniportHandleInterrupt') expect(order[i + 1]).toBe('MiniportEnableInterrupt')
    })
    expect(calls.filter((c) => c[0] === 'MiniportHandleInterrupt').length).toBeGreaterThan(0)
  })

  it('the DPC takes the causes the ISR saved through NdisMSynchronizeWithInterrupt, whose function runs at DIRQL', () => {
    const { m, calls } = watched(true)
    m.traffic.send({ count: 10, size: 200 })
    m.halt()
    const sync = calls.filter((c) => c[0] === 'SynchronizeFunction')
    expect(sync.length).toBe(calls.filter((c) => c[0] === 'MiniportHandleInterrupt').length)
    expect(sync.every((c) => c[1] === DEVICE_IRQL)).toBe(true)
  })

  it('RequestIsr FALSE: NDIS dismisses each interrupt through MiniportDisableInterrupt at DIRQL before MiniportHandleInterrupt', () => {
    const { m, calls } = watched(false)
    m.traffic.send({ count: 30, size: 600 })
    m.halt()
    expect(m.findings).toEqual([])
    const order = calls.map((c) => c[0])
    expect(order.includes('MiniportISR')).toBe(false)
    order.forEach((n, i) => {
      if (n === 'MiniportHandleInterrupt') expect(order[i - 1]).toBe('MiniportDisableInterrupt')
    })
    expect(calls.filter((c) => c[0] === 'MiniportDisableInterrupt').every((c) => c[1] === DEVICE_IRQL)).toBe(true)
  })
})

describe('NdisMRegisterInterrupt and NdisMSynchronizeWithInterrupt arguments', () => {
  const inInit = (body: (ndis: NdisApi, handle: never) => void, chars?: (c: NDIS_MINIPORT_CHARACTERISTICS) => NDIS_MINIPORT_CHARACTERISTICS) => {
    const m = createMachine({})
    m.load({ default: ndis5Loop({ hooks: { characteristics: chars ?? ((c) => c), initialize: (ndis, h) => body(ndis, h as never) } }).DriverEntry as never }, 'ndis5-irq')
    return m
  }
  const line = (ndis: NdisApi, h: never): number => ndis.NdisReadPciSlotInformation(h, 0, 0x3c, 1).buffer[0]!

  it('RequestIsr FALSE without MiniportDisableInterrupt / MiniportEnableInterrupt fails: NDIS could not dismiss the interrupt', () => {
    let status = 0
    const m = inInit((ndis, h) => {
      const r = ndis.NdisMRegisterInterrupt(h, line(ndis, h), line(ndis, h), false, false, ndis.NdisInterruptLevelSensitive)
      status = r.status
    }, (c) => ({ ...c, HandleInterruptHandler: () => {} }))
    expect(status).toBe(0xc000_0001)
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-bad-argument'])
    expect(m.findings[0]!.message).toMatch(/DisableInterruptHandler and EnableInterruptHandler/)
  })

  it('a shared interrupt with RequestIsr FALSE fails: only MiniportISR can tell whether the NIC interrupted', () => {
    const m = inInit((ndis, h) => {
      ndis.NdisMRegisterInterrupt(h, line(ndis, h), line(ndis, h), false, true, ndis.NdisInterruptLevelSensitive)
    }, (c) => ({ ...c, HandleInterruptHandler: () => {}, DisableInterruptHandler: () => {}, EnableInterruptHandler: () => {} }))
    expect(m.findings.map((f) => f.message)).toEqual([expect.stringMatching(/shared interrupt needs RequestIsr TRUE/)])
  })

  it('NdisMSynchronizeWithInterrupt returns the function\'s value, restores the caller\'s IRQL, and refuses what is not a registered interrupt or a function', () => {
    const seen: Array<number | boolean> = []
    const m = inInit((ndis, h) => {
      const { interrupt } = ndis.NdisMRegisterInterrupt(h, line(ndis, h), line(ndis, h), true, true, ndis.NdisInterruptLevelSensitive)
      seen.push(ndis.NdisMSynchronizeWithInterrupt(interrupt, (x: number) => {
        seen.push(ndis.KeGetCurrentIrql(), x)
        return true
      }, 7))
      seen.push(ndis.KeGetCurrentIrql())
      seen.push(ndis.NdisMSynchronizeWithInterrupt(interrupt, () => false, null))
      seen.push(ndis.NdisMSynchronizeWithInterrupt({ kind: 'ndis5-interrupt', id: -1 }, () => true, null))
      seen.push(ndis.NdisMSynchronizeWithInterrupt(interrupt, 'not a function' as never, null))
      ndis.NdisMDeregisterInterrupt(interrupt)
    }, (c) => ({ ...c, ISRHandler: () => ({ interruptRecognized: false, queueMiniportHandleInterrupt: false }), HandleInterruptHandler: () => {} }))
    expect(seen).toEqual([DEVICE_IRQL, 7, true, 0, false, false, false])
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-bad-handle', 'ndis-bad-argument'])
  })
})
