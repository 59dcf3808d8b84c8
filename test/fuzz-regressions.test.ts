// Bugs the fuzzers (test/fuzz, issue 9) found in the machine's own accounting, one named test
// each, reduced to the smallest input that showed them.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../src/index.js'
import { NIC_MAC, ethernetFrame } from './support/e1000-driver.js'
import { testMiniport } from './support/test-miniport.js'

describe('fuzz regressions: the report accounts for every frame', () => {
  it('a frame that arrives while the receiver is off is counted in traffic.dropped.nicReceiverOff', () => {
    const m = createMachine({ memory: { size: '64MiB' } })
    m.wire.inject(ethernetFrame(60, NIC_MAC))
    m.runUntilIdle()
    expect(m.nic.rx.counters.ignored).toBe(1)
    expect(m.report().traffic.dropped.nicReceiverOff).toBe(1)
  })

  it('the frames a LAN delivers after the driver halted and stopped its receiver are in the report', () => {
    const m = createMachine({ memory: { size: '64MiB' } })
    m.load(testMiniport(), 'test-miniport')
    m.halt()
    const { dropped } = m.report().traffic
    const nic = Object.entries(dropped).filter(([k]) => k.startsWith('nic') && k !== 'nicDmaErrors' && k !== 'nicTxDropped').reduce((n, [, v]) => n + v, 0)
    expect(m.nic.rx.counters.frames + nic).toBe(m.wire.counters.rxFrames)
    expect(dropped.nicReceiverOff).toBeGreaterThan(0)
  })
})
