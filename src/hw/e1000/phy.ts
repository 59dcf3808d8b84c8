// The PHY behind MDIC (manual 13.4.7 and 8.2): just enough of the 82540EM's integrated
// copper PHY (M88E1011-compatible register set, PHY address 1) for a driver that reads its
// identity and link state. Accesses complete at once (READY set in the same write).
import { MDIC } from './registers.js'

export const PHY_ADDRESS = 1
const PHY_CONTROL = 0
const PHY_STATUS = 1
const PHY_ID1 = 2
const PHY_ID2 = 3
/** PHY status: link up (bit 2) and autonegotiation complete (bit 5) on top of the abilities. */
const STATUS_BASE = 0x7949
const STATUS_LINK = 0x0004 | 0x0020

export class Phy {
  private readonly regs = new Uint16Array(32)

  constructor() {
    this.reset()
  }

  reset(): void {
    this.regs.fill(0)
    this.regs[PHY_CONTROL] = 0x1140 // autonegotiation enabled, full duplex, 1000 Mbit/s
    this.regs[PHY_ID1] = 0x0141
    this.regs[PHY_ID2] = 0x0c20
  }

  /** An MDIC write: performs the access and returns the register's new value (READY set). */
  access(mdic: number, linkUp: boolean): number {
    const reg = (mdic >>> MDIC.REG_SHIFT) & 0x1f
    const phy = (mdic >>> MDIC.PHY_SHIFT) & 0x1f
    const base = mdic & ~(MDIC.READY | MDIC.ERROR | MDIC.DATA_MASK)
    if (phy !== PHY_ADDRESS) return (base | MDIC.READY | MDIC.ERROR) >>> 0
    if ((mdic & MDIC.OP_READ) !== 0) {
      const value = reg === PHY_STATUS ? STATUS_BASE | (linkUp ? STATUS_LINK : 0) : this.regs[reg]!
      return (base | MDIC.READY | value) >>> 0
    }
    if ((mdic & MDIC.OP_WRITE) !== 0 && reg !== PHY_STATUS && reg !== PHY_ID1 && reg !== PHY_ID2) {
      // Control bit 15 is a self-clearing PHY reset.
      this.regs[reg] = reg === PHY_CONTROL ? mdic & 0x7fff : mdic & MDIC.DATA_MASK
    }
    return ((mdic & ~(MDIC.ERROR)) | MDIC.READY) >>> 0
  }
}
