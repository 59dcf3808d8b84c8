// The PHY behind MDIC (manual 13.4.7 and 8.2): the 82540EM's integrated copper PHY, an
// M88E1011-compatible register set at PHY address 1 (its identifier 0141h/0C20h is what
// Linux's e1000 matches for the 82540), with a link partner that advertises everything we do.
// MDIC accesses complete at once (READY set in the same write).
//
// Registers (IEEE 802.3 clause 22 and 40, and the M88 vendor page):
//  0 control — reset (15, self-clearing), autonegotiation enable (12), restart (9, self-clearing)
//  1 status — abilities, link (2), autonegotiation complete (5)
//  2/3 identifier; 4 ANAR (our advertisement); 5 ANLPAR (the partner's, once negotiated,
//  acknowledge bit 14); 6 ANER (partner autonegotiation-able); 9 1000BASE-T control;
//  10 1000BASE-T status (local and remote receiver OK 13:12, partner 1000 full/half 11:10);
//  15 extended status (1000BASE-T full and half capable); 16 PHY specific control;
//  17 PHY specific status — speed 15:14 (10b = 1000, 01b = 100, 00b = 10), duplex 13, speed and
//  duplex resolved 11, real-time link 10.
//
// Autonegotiation takes virtual time: a PHY reset (control bit 15, or CTRL.PHY_RST) or a
// restart (bit 9) drops the link, and it comes back after AUTONEG_NS. The machine powers up
// with negotiation long finished (DESIGN: link comes up at once when CTRL.SLU is set), so
// only a driver that restarts it waits.
import type { Clock, Timer } from '../clock.js'
import { MDIC } from './registers.js'

export const PHY_ADDRESS = 1
export const PHY = {
  CONTROL: 0,
  STATUS: 1,
  ID1: 2,
  ID2: 3,
  ANAR: 4,
  ANLPAR: 5,
  ANER: 6,
  GBCR: 9,
  GBSR: 10,
  EXTENDED_STATUS: 15,
  PSCR: 16,
  PSSR: 17,
} as const

export const PHY_CONTROL = { RESET: 0x8000, AUTONEG_ENABLE: 0x1000, RESTART_AUTONEG: 0x0200, FULL_DUPLEX: 0x0100, SPEED_1000: 0x0040, SPEED_100: 0x2000 } as const
export const PHY_STATUS = { LINK: 0x0004, AUTONEG_COMPLETE: 0x0020 } as const
export const PSSR = { LINK: 0x0400, RESOLVED: 0x0800, DUPLEX: 0x2000, SPEED_100: 0x4000, SPEED_1000: 0x8000 } as const

/**
 * How long autonegotiation takes: 802.3 clause 28's break_link_timer (60–75 ms) and, for
 * 1000BASE-T, its link_fail_inhibit_timer (750–1000 ms), both at their minimum.
 */
export const AUTONEG_NS = 810_000_000

/** Abilities in the status register: 100 and 10 full/half, extended status, preamble suppression, autonegotiation, extended registers. */
const STATUS_ABILITIES = 0x7949
const RESET_VALUES: ReadonlyArray<readonly [number, number]> = [
  [PHY.CONTROL, PHY_CONTROL.AUTONEG_ENABLE | PHY_CONTROL.FULL_DUPLEX | PHY_CONTROL.SPEED_1000],
  [PHY.ID1, 0x0141],
  [PHY.ID2, 0x0c20],
  // 802.3 selector, 10/100 half and full, symmetric and asymmetric pause.
  [PHY.ANAR, 0x0de1],
  // Advertise 1000BASE-T full and half duplex.
  [PHY.GBCR, 0x0300],
  [PHY.EXTENDED_STATUS, 0x3000],
  // Automatic MDI/MDI-X crossover.
  [PHY.PSCR, 0x0060],
]
const READ_ONLY = new Set<number>([PHY.STATUS, PHY.ID1, PHY.ID2, PHY.ANLPAR, PHY.ANER, PHY.GBSR, PHY.EXTENDED_STATUS, PHY.PSSR])

export class Phy {
  /** The PHY's link (autonegotiation complete with the partner, or forced). */
  linkUp = true
  private readonly regs = new Uint16Array(32)
  private readonly clock: Clock
  private readonly mbps: number
  private readonly timer: Timer
  private readonly onLink: (up: boolean) => void

  constructor(clock: Clock, mbps: number, onLink: (up: boolean) => void) {
    this.clock = clock
    this.mbps = mbps
    this.onLink = onLink
    this.timer = clock.timer('e1000 PHY autonegotiation', () => this.setLink(true))
    this.powerOn()
  }

  /** Power-on state: registers at their defaults, negotiation long complete. */
  powerOn(): void {
    this.regs.fill(0)
    for (const [reg, value] of RESET_VALUES) this.regs[reg] = value
    this.clock.cancel(this.timer)
    this.linkUp = true
  }

  /** A PHY reset (control bit 15 or CTRL.PHY_RST): defaults, and negotiation starts over. */
  reset(): void {
    const was = this.linkUp
    this.powerOn()
    this.linkUp = was
    this.restart()
  }

  /** An MDIC write: performs the access and returns MDIC's new value (READY set). */
  access(mdic: number): number {
    const reg = (mdic >>> MDIC.REG_SHIFT) & 0x1f
    const phy = (mdic >>> MDIC.PHY_SHIFT) & 0x1f
    const base = mdic & ~(MDIC.READY | MDIC.ERROR | MDIC.DATA_MASK)
    if (phy !== PHY_ADDRESS) return (base | MDIC.READY | MDIC.ERROR) >>> 0
    if ((mdic & MDIC.OP_READ) !== 0) return (base | MDIC.READY | this.read(reg)) >>> 0
    if ((mdic & MDIC.OP_WRITE) !== 0) this.write(reg, mdic & MDIC.DATA_MASK)
    return ((mdic & ~MDIC.ERROR) | MDIC.READY) >>> 0
  }

  read(reg: number): number {
    const up = this.linkUp
    const negotiated = up && (this.regs[PHY.CONTROL]! & PHY_CONTROL.AUTONEG_ENABLE) !== 0
    switch (reg) {
      case PHY.STATUS:
        return STATUS_ABILITIES | (up ? PHY_STATUS.LINK : 0) | (negotiated ? PHY_STATUS.AUTONEG_COMPLETE : 0)
      case PHY.ANLPAR:
        // The partner advertises what we do, and acknowledges our page.
        return negotiated ? 0x4000 | (this.regs[PHY.ANAR]! & 0x0fff) : 0
      case PHY.ANER:
        return negotiated ? 0x0001 : 0
      case PHY.GBSR:
        return negotiated && this.mbps >= 1000 ? 0x3c00 : 0
      case PHY.PSSR: {
        if (!up) return 0
        const speed = this.mbps >= 1000 ? PSSR.SPEED_1000 : this.mbps >= 100 ? PSSR.SPEED_100 : 0
        return speed | PSSR.DUPLEX | PSSR.RESOLVED | PSSR.LINK
      }
      default:
        return this.regs[reg]!
    }
  }

  private write(reg: number, value: number): void {
    if (READ_ONLY.has(reg)) return
    if (reg !== PHY.CONTROL) {
      this.regs[reg] = value
      return
    }
    if ((value & PHY_CONTROL.RESET) !== 0) {
      this.reset()
      // The other bits of the write take effect after the reset.
      this.regs[PHY.CONTROL] = value & ~(PHY_CONTROL.RESET | PHY_CONTROL.RESTART_AUTONEG)
      return
    }
    this.regs[PHY.CONTROL] = value & ~PHY_CONTROL.RESTART_AUTONEG
    if ((value & PHY_CONTROL.AUTONEG_ENABLE) === 0) {
      // Forced speed and duplex: no negotiation to wait for.
      this.clock.cancel(this.timer)
      this.setLink(true)
    } else if ((value & PHY_CONTROL.RESTART_AUTONEG) !== 0) {
      this.restart()
    }
  }

  private restart(): void {
    this.setLink(false)
    this.clock.armAfter(this.timer, AUTONEG_NS)
  }

  private setLink(up: boolean): void {
    if (up === this.linkUp) return
    this.linkUp = up
    this.onLink(up)
  }
}
