// Time passes like a machine's while driver code runs (kernel/cpu-time.ts): a register access
// costs a PCI transaction, the stall routines take as long as they ask, and the device makes
// progress meanwhile, so a polling loop ends when the device is done, as on hardware.
import { describe, expect, it } from 'vitest'
import { DISPATCH_LEVEL, PASSIVE_LEVEL } from '../../src/kernel/irql.js'
import { MMIO_READ_NS, MMIO_WRITE_NS } from '../../src/kernel/cpu-time.js'
import { loadTestMiniport } from '../support/driver-fixture.js'
import { e1000 } from '../support/e1000-driver.js'
import { REG, readReg, transmitRaw } from '../support/test-miniport.js'

/** Frames queued at once: well past the transmit FIFO, within the 64-descriptor ring. */
const FRAMES = 40

describe('virtual time while a driver polls', () => {
  it('a loop polling TDH until the device has sent what it was given ends when the wire has carried the frames', () => {
    const { m, a, ndis } = loadTestMiniport({ nic: { linkMbps: 100 } })
    m.runUntilIdle()
    const isrBefore = m.ndis!.interrupts.isrCalls
    const start = m.clock.now
    let polls = 0
    let isrDuring = -1
    m.caller.call('TestPoll', DISPATCH_LEVEL, () => {
      // More full frames than the transmit FIFO holds, at 100 Mbit/s (~123 µs each on the
      // wire): the engine fetches the rest as the FIFO drains, so TDH moves with the wire.
      for (let i = 0; i < FRAMES; i++) transmitRaw(a, a.rxBlockLogical, 1514)
      while (readReg(a, REG.TDH) !== readReg(a, REG.TDT)) {
        ndis.NdisStallExecution(10)
        polls++
      }
      isrDuring = m.ndis!.interrupts.isrCalls
    })
    const elapsed = m.clock.now - start
    // The loop waited while the wire carried what the FIFO could not hold, not zero, not forever.
    const frame = m.wire.frameTimeNs(1514)
    const fifoFrames = Math.ceil(e1000(m).tx.fifoBytes / 1538)
    expect(polls).toBeGreaterThan(10)
    expect(elapsed).toBeGreaterThan((FRAMES - fifoFrames - 1) * frame)
    expect(elapsed).toBeLessThan(FRAMES * frame)
    // Software waited: the ISR did not run inside the DPC-level loop; it runs once it returned.
    expect(isrDuring).toBe(isrBefore)
    m.runUntilIdle()
    expect(m.ndis!.interrupts.isrCalls).toBeGreaterThan(isrBefore)
    expect(m.findings).toEqual([])
  })

  it('a register read costs a non-posted PCI transaction and a write a posted one; a stall its microseconds', () => {
    const { m, a, ndis } = loadTestMiniport()
    m.runUntilIdle()
    const t0 = m.clock.now
    m.caller.call('TestTiming', PASSIVE_LEVEL, () => {
      ndis.NdisReadRegisterUlong(a.regs + REG.STATUS)
      ndis.NdisWriteRegisterUlong(a.regs + REG.ITR, 100)
      ndis.KeStallExecutionProcessor(7)
      ndis.NdisMSleep(1000)
    })
    expect(m.clock.now - t0).toBe(MMIO_READ_NS + MMIO_WRITE_NS + 7_000 + 1_000_000)
  })

  it('a stall routine given something that is not a ULONG of microseconds is the driver\'s programming error', () => {
    const { m, ndis } = loadTestMiniport()
    m.caller.call('TestStall', PASSIVE_LEVEL, () => ndis.NdisStallExecution(Number.NaN))
    expect(m.findings.map((f) => f.kind)).toEqual(['driver-exception'])
    expect(m.findings[0]!.message).toBe('TestStall threw TypeError: NdisStallExecution: NaN is not a number of microseconds (a ULONG)')
  })
})
