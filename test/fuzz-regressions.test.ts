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
    expect(m.nic.counters.rx.ignored).toBe(1)
    expect(m.report().traffic.dropped.nicReceiverOff).toBe(1)
  })

  it('the frames a LAN delivers after the driver halted and stopped its receiver are in the report', () => {
    const m = createMachine({ memory: { size: '64MiB' } })
    m.load(testMiniport(), 'test-miniport')
    m.halt()
    const { dropped } = m.report().traffic
    const nic = Object.entries(dropped).filter(([k]) => k.startsWith('nic') && k !== 'nicDmaErrors' && k !== 'nicTxDropped').reduce((n, [, v]) => n + v, 0)
    expect(m.nic.counters.rx.frames + nic).toBe(m.wire.counters.rxFrames)
    expect(dropped.nicReceiverOff).toBeGreaterThan(0)
  })
})

describe('fuzz regressions: a bug check in NDIS\'s own code reaches the host only in crash mode', () => {
  it('a driver overrun that corrupts the pool header of NDIS\'s bind buffer stops the machine with BAD_POOL_HEADER, and m.load returns in log mode', () => {
    let block = 0
    const mp = testMiniport({
      hooks: {
        initialize: (a) => {
          block = a.ndis.ExAllocatePoolWithTag(a.ndis.NonPagedPoolNx, 256, 'tseT')
        },
        // The bind's OID: NDIS's 64-byte buffer sits right after the driver's block.
        oid: (a) => {
          a.ndis.memory.fill(block + 256, 32, 0xcc)
          return undefined
        },
      },
    })
    const m = createMachine({ memory: { size: '64MiB' } })
    expect(() => m.load(mp, 'test-miniport')).not.toThrow()
    expect(m.report().outcome).toBe('bugcheck')
    expect(m.report().bugcheck?.name).toBe('BAD_POOL_HEADER')
  })
})
