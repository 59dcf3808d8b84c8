import { describe, expect, it } from 'vitest'
import { BugCheck, createMachine, DISPATCH_LEVEL, PASSIVE_LEVEL } from '../../src/index.js'
import { DEVICE_IRQL, irqlName } from '../../src/kernel/irql.js'

describe('IRQL', () => {
  it('raises and lowers, returning the old level as KeRaiseIrql does', () => {
    const k = createMachine().kernel
    expect(k.irql).toBe(PASSIVE_LEVEL)
    expect(k.raiseIrql(DISPATCH_LEVEL)).toBe(PASSIVE_LEVEL)
    expect(k.raiseIrql(DEVICE_IRQL)).toBe(DISPATCH_LEVEL)
    k.lowerIrql(DISPATCH_LEVEL)
    k.lowerIrql(PASSIVE_LEVEL)
    expect(k.irql).toBe(PASSIVE_LEVEL)
    expect(k.log.findings).toHaveLength(0)
  })

  it('a raise to a lower level is 0xC4/0x30 with the current and requested levels, and changes nothing', () => {
    const m = createMachine()
    m.kernel.raiseIrql(DISPATCH_LEVEL)
    m.kernel.raiseIrql(PASSIVE_LEVEL)
    expect(m.kernel.irql).toBe(DISPATCH_LEVEL)
    expect(m.findings[0]).toMatchObject({ kind: 'irql-violation', code: 0xc4, params: [0x30, 2, 0, 0] })
    expect(m.findings[0]!.site).toMatch(/^test\/kernel\/irql\.test\.ts:\d+$/)
  })

  it('a lower to a higher level is 0xC4/0x31; in crash mode it stops the machine', () => {
    const m = createMachine({ verifier: { mode: 'crash' } })
    expect(() => m.kernel.lowerIrql(DISPATCH_LEVEL)).toThrow(BugCheck)
    expect(m.kernel.log.bugcheck).toEqual({ code: 0xc4, name: 'DRIVER_VERIFIER_DETECTED_VIOLATION', params: [0x31, 0, 2, 0] })
  })

  it('names levels as the WDK does', () => {
    expect([0, 1, 2, 5, 15].map(irqlName)).toEqual(['PASSIVE_LEVEL', 'APC_LEVEL', 'DISPATCH_LEVEL', 'DIRQL(5)', 'HIGH_LEVEL'])
  })
})
