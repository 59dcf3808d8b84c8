import { describe, expect, it } from 'vitest'
import { createMachine } from '../../src/index.js'
import { BareMetalE1000, e1000, ICR_RXT0, NIC_MAC, R, ethernetFrame } from '../support/e1000-driver.js'

describe('the interrupt line', () => {
  it('delivers to a service routine as its own event after the device step, never inside it', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    d.write(R.IMS, ICR_RXT0)
    d.read(R.ICR)
    const calls: Array<{ at: number; icr: number; insideDevice: boolean }> = []
    let insideDevice = false
    const original = e1000(m).rx.receive.bind(e1000(m).rx)
    e1000(m).rx.receive = (buf, off, len) => {
      insideDevice = true
      original(buf, off, len)
      insideDevice = false
    }
    m.nic.interrupt.deliverTo(m.clock, () => calls.push({ at: m.clock.now, icr: d.read(R.ICR), insideDevice }))
    m.wire.inject(ethernetFrame(60, NIC_MAC))
    m.runUntilIdle()
    expect(calls).toEqual([{ at: 672, icr: ICR_RXT0, insideDevice: false }])
  })

  it('re-delivers while the line stays asserted (level-triggered) and stops once the cause is cleared', () => {
    const m = createMachine({ maxEvents: 1000 })
    const d = new BareMetalE1000(m)
    d.write(R.IMS, ICR_RXT0)
    let calls = 0
    m.nic.interrupt.deliverTo(m.clock, () => {
      calls++
      if (calls === 3) d.read(R.ICR) // the third call finally acknowledges
    })
    d.write(R.ICS, ICR_RXT0)
    m.runUntilIdle()
    expect(calls).toBe(3)
    expect(m.nic.interruptAsserted).toBe(false)
  })

  it('an ISR that never clears the cause storms, and the event bound reports a hang', () => {
    const m = createMachine({ maxEvents: 500 })
    const d = new BareMetalE1000(m)
    d.write(R.IMS, ICR_RXT0)
    m.nic.interrupt.deliverTo(m.clock, () => {})
    d.write(R.ICS, ICR_RXT0)
    expect(m.runUntilIdle().boundHit).toBe(true)
    expect(m.findings.map((f) => f.kind)).toEqual(['hang'])
  })

  it('stops delivering once detached', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m)
    d.write(R.IMS, ICR_RXT0)
    let calls = 0
    const detach = m.nic.interrupt.deliverTo(m.clock, () => void calls++)
    detach()
    d.write(R.ICS, ICR_RXT0)
    m.runUntilIdle()
    expect(calls).toBe(0)
    expect(m.nic.interruptAsserted).toBe(true)
  })
})
