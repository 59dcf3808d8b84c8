// Interrupt moderation on the virtual clock (manual 13.4.17–13.4.21 and 3.2.7 for the
// causes): ITR's minimum interval between assertions in 256 ns units, the receive delay timers
// (RDTR, 13.4.30, and RADV), and the transmit ones: TIDV for descriptors with IDE and TADV
// capping it (3.3.3.1 IDE: RS without IDE interrupts at once and clears the delay timer).
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import { BareMetalE1000, e1000, ICR_RXT0, ICR_TXDW, NIC_MAC, R, TXD_IDE, TXD_IFCS, TXD_RS, ethernetFrame } from '../../support/e1000-driver.js'

const ARRIVAL_64 = 672 // ns for a 64-byte frame (60 + FCS) at 1 Gbit/s

/** Virtual time (ns) at which `predicate` first holds, stepping 100 ns at a time. */
function timeUntil(m: ReturnType<typeof createMachine>, predicate: () => boolean, limitNs = 10_000_000): number {
  while (!predicate()) {
    if (m.clock.now > limitNs) throw new Error('condition never held')
    m.run({ ns: 100 })
  }
  return m.clock.now
}

describe('interrupt moderation on the virtual clock', () => {
  it('ITR holds the next assertion until ITR × 256 ns after the previous one', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    d.read(R.ICR)
    d.write(R.ITR, 1000) // 256 µs
    d.write(R.IMS, ICR_RXT0)
    m.wire.inject(ethernetFrame(60, NIC_MAC))
    const first = timeUntil(m, () => m.nic.interruptAsserted)
    expect(first).toBeGreaterThanOrEqual(ARRIVAL_64)
    expect(first).toBeLessThan(ARRIVAL_64 + 100)
    d.read(R.ICR)
    expect(m.nic.interruptAsserted).toBe(false)
    m.wire.inject(ethernetFrame(60, NIC_MAC))
    m.run({ ns: 10_000 })
    expect(m.nic.interrupt.asserted).toBe(false)
    expect(e1000(m).causes.icr & ICR_RXT0).toBe(ICR_RXT0) // the cause is there, the line is held
    const second = timeUntil(m, () => m.nic.interruptAsserted)
    expect(second).toBe(m.clock.now)
    expect(second - first).toBeGreaterThanOrEqual(256_000)
    expect(second - first).toBeLessThan(256_000 + 200)
  })

  it('without ITR every cause asserts the line at once', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    d.write(R.IMS, ICR_RXT0)
    d.read(R.ICR)
    m.wire.inject(ethernetFrame(60, NIC_MAC))
    m.run({ ns: ARRIVAL_64 })
    expect(m.nic.interruptAsserted).toBe(true)
    d.read(R.ICR)
    m.wire.inject(ethernetFrame(60, NIC_MAC))
    m.run({ ns: ARRIVAL_64 })
    expect(m.nic.interruptAsserted).toBe(true)
    expect(m.nic.interrupt.assertions).toBe(2)
  })

  it('TIDV delays TXDW for descriptors with IDE by TIDV × 1.024 µs; without IDE it is immediate', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    d.read(R.ICR)
    d.write(R.TIDV, 100)
    d.write(R.IMS, ICR_TXDW)
    d.send(ethernetFrame(60), TXD_RS | TXD_IFCS | TXD_IDE)
    const at = timeUntil(m, () => m.nic.interruptAsserted)
    expect(at).toBeGreaterThanOrEqual(102_400)
    expect(at).toBeLessThan(102_400 + 200)
    d.read(R.ICR)
    const start = m.clock.now
    d.send(ethernetFrame(60), TXD_RS | TXD_IFCS)
    expect(timeUntil(m, () => m.nic.interruptAsserted) - start).toBeLessThanOrEqual(100)
  })

  // 3.3.3.1 IDE: "If hardware encounters a descriptor that has RS set, but not IDE, it
  // generates an interrupt immediately after writing back the descriptor. The interrupt delay
  // timer is cleared." So the countdown an earlier IDE descriptor started raises nothing more.
  it('RS without IDE raises TXDW at once and clears a running TIDV countdown: no second TXDW', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    d.read(R.ICR)
    d.write(R.TIDV, 100)
    d.send(ethernetFrame(60), TXD_RS | TXD_IFCS | TXD_IDE)
    m.run({ ns: 10_000 })
    expect(d.read(R.ICR) & ICR_TXDW).toBe(0) // still counting down
    d.send(ethernetFrame(60), TXD_RS | TXD_IFCS)
    m.run({ ns: 5_000 })
    expect(d.read(R.ICR) & ICR_TXDW).toBe(ICR_TXDW)
    m.run({ ns: 200_000 })
    expect(d.read(R.ICR) & ICR_TXDW).toBe(0)
  })

  it('TADV caps a TIDV delay that keeps being restarted', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m, { txCount: 64 }).init()
    d.read(R.ICR)
    d.write(R.TIDV, 50) // 51.2 µs, restarted by every write-back
    d.write(R.TADV, 200) // 204.8 µs from the first
    d.write(R.IMS, ICR_TXDW)
    // A descriptor every 40 µs keeps restarting the TIDV timer.
    for (let k = 0; k < 8; k++) {
      d.send(ethernetFrame(60), TXD_RS | TXD_IFCS | TXD_IDE)
      m.run({ ns: 40_000 })
      if (m.nic.interruptAsserted) break
    }
    expect(m.nic.interruptAsserted).toBe(true)
    expect(m.nic.interrupt.assertions).toBe(1)
    expect(m.clock.now).toBeGreaterThanOrEqual(204_800)
    expect(m.clock.now).toBeLessThan(204_800 + 40_000)
  })

  it('RDTR delays RXT0 until RDTR × 1.024 µs after the last frame, RADV caps it, and FPD flushes it', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    d.read(R.ICR)
    d.write(R.RDTR, 20) // 20.48 µs
    d.write(R.IMS, ICR_RXT0)
    m.wire.inject(ethernetFrame(60, NIC_MAC))
    const at = timeUntil(m, () => m.nic.interruptAsserted)
    expect(at).toBeGreaterThanOrEqual(ARRIVAL_64 + 20_480)
    expect(at).toBeLessThan(ARRIVAL_64 + 20_480 + 200)
    d.read(R.ICR)

    // Frames 10 µs apart keep restarting RDTR; RADV fires after 50 × 1.024 µs.
    d.write(R.RADV, 50)
    const start = m.clock.now
    for (let k = 0; k < 10 && !m.nic.interruptAsserted; k++) {
      m.wire.inject(ethernetFrame(60, NIC_MAC, k))
      m.run({ ns: 10_000 })
    }
    expect(m.nic.interruptAsserted).toBe(true)
    expect(m.clock.now - start).toBeGreaterThanOrEqual(51_200)
    expect(m.clock.now - start).toBeLessThanOrEqual(51_200 + 10_000 + ARRIVAL_64)
    d.read(R.ICR)
    d.receive()

    // FPD: writing RDTR with bit 31 raises the pending RXT0 at once.
    d.write(R.RADV, 0)
    d.write(R.RDTR, 1000)
    m.wire.inject(ethernetFrame(60, NIC_MAC))
    m.run({ ns: 5_000 })
    expect(m.nic.interruptAsserted).toBe(false)
    d.write(R.RDTR, 0x8000_0000 | 1000)
    expect(m.nic.interruptAsserted).toBe(true)
  })
})
