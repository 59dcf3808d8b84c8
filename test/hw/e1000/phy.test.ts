// The PHY behind MDIC (manual 13.4.7, 8.2; IEEE 802.3 clauses 22, 28 and 40 for the standard
// registers, the M88 PHY specific status for speed and duplex): registers a driver reads to
// learn the link, and autonegotiation that takes virtual time when a driver restarts it.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import { AUTONEG_NS } from '../../../src/hw/e1000/phy.js'
import { BareMetalE1000, CTRL_PHY_RST, CTRL_SLU, ICR_LSC, R } from '../../support/e1000-driver.js'

const MDIC_READ = 2 << 26
const MDIC_WRITE = 1 << 26
const MDIC_READY = 0x1000_0000
const PHY = 1 << 21

function phy(d: BareMetalE1000): { read(reg: number): number; write(reg: number, value: number): void } {
  return {
    read(reg) {
      d.write(R.MDIC, MDIC_READ | PHY | (reg << 16))
      const v = d.read(R.MDIC)
      expect(v & MDIC_READY).toBe(MDIC_READY)
      return v & 0xffff
    },
    write(reg, value) {
      d.write(R.MDIC, MDIC_WRITE | PHY | (reg << 16) | value)
      expect(d.read(R.MDIC) & MDIC_READY).toBe(MDIC_READY)
    },
  }
}

describe('the PHY', () => {
  it('reports a negotiated 1000 Mbit/s full-duplex link: status, ANAR/ANLPAR, 1000BASE-T status, PHY specific status', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    const p = phy(d)
    expect(p.read(1) & 0x0024).toBe(0x0024) // link, autonegotiation complete
    expect(p.read(4) & 0x01e0).toBe(0x01e0) // we advertise 10/100 half and full
    const lp = p.read(5)
    expect(lp & 0x4000).toBe(0x4000) // the partner acknowledged
    expect(lp & 0x0100).toBe(0x0100) // and can do 100 full duplex
    expect(p.read(9) & 0x0300).toBe(0x0300) // 1000BASE-T full and half advertised
    expect(p.read(10) & 0x3c00).toBe(0x3c00) // receivers OK, partner 1000 full and half
    const pssr = p.read(17)
    expect(pssr & 0xc000).toBe(0x8000) // 1000 Mbit/s
    expect(pssr & 0x2000).toBe(0x2000) // full duplex
    expect(pssr & 0x0c00).toBe(0x0c00) // resolved, link
    expect(p.read(15) & 0x3000).toBe(0x3000)
  })

  it('reports the configured speed in the PHY specific status and STATUS alike', () => {
    const m = createMachine({ nic: { linkMbps: 100 } })
    const d = new BareMetalE1000(m).init()
    expect(phy(d).read(17) & 0xc000).toBe(0x4000)
    expect(phy(d).read(10)).toBe(0) // no 1000BASE-T link
    expect(d.read(R.STATUS) & 0xc0).toBe(0x40)
  })

  it('takes virtual time to renegotiate after a restart: the link drops (LSC), then comes back (LSC)', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    const p = phy(d)
    d.read(R.ICR)
    p.write(0, p.read(0) | 0x0200) // restart autonegotiation
    expect(p.read(0) & 0x0200).toBe(0) // self-clearing
    expect(p.read(1) & 0x0024).toBe(0)
    expect(p.read(17) & 0x0400).toBe(0)
    expect(p.read(5)).toBe(0)
    expect(d.read(R.STATUS) & 0x2).toBe(0)
    expect(d.read(R.ICR) & ICR_LSC).toBe(ICR_LSC)
    m.run({ ns: AUTONEG_NS - 1 })
    expect(p.read(1) & 0x0004).toBe(0)
    m.run({ ns: 1 })
    expect(p.read(1) & 0x0024).toBe(0x0024)
    expect(d.read(R.STATUS) & 0x2).toBe(0x2)
    expect(d.read(R.ICR) & ICR_LSC).toBe(ICR_LSC)
  })

  it('renegotiates after a PHY reset, through MDIC (control bit 15, self-clearing) or CTRL.PHY_RST', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    const p = phy(d)
    p.write(4, 0x0061) // a different advertisement, lost in the reset
    p.write(0, 0x8000 | 0x1000)
    expect(p.read(0) & 0x8000).toBe(0)
    expect(p.read(4)).not.toBe(0x0061)
    expect(p.read(1) & 0x0004).toBe(0)
    m.runUntilIdle()
    expect(p.read(1) & 0x0004).toBe(0x0004)
    d.write(R.CTRL, CTRL_SLU | CTRL_PHY_RST)
    expect(d.read(R.CTRL) & CTRL_PHY_RST).toBe(0)
    expect(d.read(R.STATUS) & 0x2).toBe(0)
    m.runUntilIdle()
    expect(d.read(R.STATUS) & 0x2).toBe(0x2)
  })

  it('keeps its link and registers across CTRL.RST, which does not reset the PHY', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    const p = phy(d)
    p.write(16, 0x0068)
    d.write(R.CTRL, 1 << 26)
    expect(p.read(16)).toBe(0x0068)
    expect(p.read(1) & 0x0004).toBe(0x0004)
  })

  it('brings a forced-speed link (autonegotiation disabled) up without negotiating', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    const p = phy(d)
    p.write(0, 0x0200 | 0x1000)
    expect(p.read(1) & 0x0004).toBe(0)
    p.write(0, 0x2100) // 100 Mbit/s, full duplex, no autonegotiation
    expect(p.read(1) & 0x0024).toBe(0x0004) // link, but nothing negotiated
  })

  it('answers a PHY address other than 1 with MDIC.ERROR', () => {
    const d = new BareMetalE1000(createMachine())
    d.write(R.MDIC, MDIC_READ | (2 << 21) | (1 << 16))
    expect(d.read(R.MDIC) & 0x5000_0000).toBe(0x5000_0000)
  })
})
