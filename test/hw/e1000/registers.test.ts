// The register file, driven bare-metal as a driver would (manual chapter 13): CTRL.SLU and
// CTRL.RST (13.4.1), STATUS link and speed (13.4.2), EERD and the EEPROM image checksum BABAh
// (13.4.4, 5.6), the interrupt causes and mask (ICR/ICS/IMS/IMC, 13.4.17–13.4.21) behind a
// level-triggered INTA#, statistics that clear on read (13.7), MDIC (13.4.7), RAL/RAH
// (13.4.62–63), and the PCI configuration that gates BAR0 decoding and INTx (4.1).
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import {
  BareMetalE1000, CTRL_RST, CTRL_SLU, ICR_LSC, ICR_RXT0, ICR_TXDW, ICR_TXQE, NIC_MAC, PCI_BUS_MASTER, PCI_MEMORY, R, RCTL_BAM, RCTL_EN,
  STATUS_LU, ethernetFrame,
} from '../../support/e1000-driver.js'

const PCI_INTERRUPT_DISABLE = 0x400
const PCI_STATUS_INTERRUPT = 0x8 << 16

describe('82540EM register file', () => {
  it('comes out of reset with the link down and brings it up as soon as CTRL.SLU is set, raising LSC', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m)
    d.write(R.CTRL, CTRL_RST)
    expect(d.read(R.CTRL) & CTRL_RST).toBe(0)
    expect(d.read(R.STATUS) & STATUS_LU).toBe(0)
    d.write(R.CTRL, CTRL_SLU)
    // Full duplex, link up, 1000 Mbit/s.
    expect(d.read(R.STATUS)).toBe(0x1 | STATUS_LU | 0x80)
    expect(d.read(R.ICR) & ICR_LSC).toBe(ICR_LSC)
    d.write(R.CTRL, 0)
    expect(d.read(R.STATUS) & STATUS_LU).toBe(0)
    expect(d.read(R.ICR) & ICR_LSC).toBe(ICR_LSC)
  })

  it('reports the configured link speed in STATUS', () => {
    const d = new BareMetalE1000(createMachine({ nic: { linkMbps: 100 } }))
    d.write(R.CTRL, CTRL_SLU)
    expect(d.read(R.STATUS) & 0xc0).toBe(0x40)
  })

  it('CTRL.RST returns every register to its reset value and drops the link', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    d.write(R.IMS, ICR_TXDW)
    d.write(R.ITR, 100)
    d.write(R.MTA + 8, 0xdead_beef)
    d.write(R.RAL0 + 8, 0x1234_5678)
    d.write(R.CTRL, CTRL_RST)
    for (const reg of [R.RCTL, R.TCTL, R.IMS, R.ITR, R.RDLEN, R.TDLEN, R.RDT, R.TDT, R.TDBAL, R.MTA + 8, R.RAL0 + 8]) {
      expect([reg, d.read(reg)]).toEqual([reg, 0])
    }
    expect(d.read(R.STATUS) & STATUS_LU).toBe(0)
    expect(m.nic.interruptAsserted).toBe(false)
  })

  it('holds the MAC in RAL0/RAH0 (address valid) and in EEPROM words 0–2 read through EERD', () => {
    const m = createMachine({ nic: { mac: '02:11:22:33:44:55' } })
    const d = new BareMetalE1000(m)
    expect(d.read(R.RAL0)).toBe(0x3322_1102)
    expect(d.read(R.RAH0)).toBe(0x8000_5544)
    expect([...d.readMac()]).toEqual([0x02, 0x11, 0x22, 0x33, 0x44, 0x55])
  })

  it('EERD completes at once with DONE, the address and the data, and the image checksums to 0xBABA', () => {
    const d = new BareMetalE1000(createMachine())
    let sum = 0
    for (let word = 0; word < 64; word++) {
      d.write(R.EERD, (word << 8) | 1)
      const v = d.read(R.EERD)
      expect(v & 0xff10).toBe((word << 8) | 0x10)
      sum = (sum + (v >>> 16)) & 0xffff
    }
    expect(sum).toBe(0xbaba)
    d.write(R.EERD, (0x0d << 8) | 1)
    expect(d.read(R.EERD) >>> 16).toBe(0x100e)
  })

  it('reads unknown registers as 0 and ignores writes to them and to STATUS', () => {
    const d = new BareMetalE1000(createMachine())
    d.write(0x1_0000, 0xffff_ffff)
    expect(d.read(0x1_0000)).toBe(0)
    d.write(R.STATUS, 0xffff_ffff)
    expect(d.read(R.STATUS) & STATUS_LU).toBe(0)
    // RAH keeps only its writable bits (AV, ASEL, address bytes 4–5).
    d.write(R.RAH0 + 8, 0xffff_ffff)
    expect(d.read(R.RAH0 + 8)).toBe(0x8003_ffff)
  })

  it('ICR clears on read, and IMS/IMC set and clear mask bits by writing ones', () => {
    const d = new BareMetalE1000(createMachine())
    d.write(R.ICS, ICR_TXDW | ICR_RXT0)
    expect(d.read(R.ICR)).toBe(ICR_TXDW | ICR_RXT0)
    expect(d.read(R.ICR)).toBe(0)
    d.write(R.IMS, ICR_TXDW)
    d.write(R.IMS, ICR_RXT0)
    expect(d.read(R.IMS)).toBe(ICR_TXDW | ICR_RXT0)
    d.write(R.IMC, ICR_TXDW)
    expect(d.read(R.IMS)).toBe(ICR_RXT0)
    // Writing 1s to ICR clears those causes.
    d.write(R.ICS, ICR_TXDW | ICR_TXQE)
    d.write(R.ICR, ICR_TXDW)
    expect(d.read(R.ICR)).toBe(ICR_TXQE)
  })

  it('asserts the interrupt line exactly when ICR & IMS is non-zero, recomputed on every change', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m)
    const levels: boolean[] = []
    m.nic.interrupt.onChange((asserted) => levels.push(asserted))
    d.write(R.ICS, ICR_TXDW)
    expect(m.nic.interruptAsserted).toBe(false) // masked
    d.write(R.IMS, ICR_TXDW)
    expect(m.nic.interruptAsserted).toBe(true)
    d.write(R.IMC, ICR_TXDW)
    expect(m.nic.interruptAsserted).toBe(false)
    d.write(R.IMS, ICR_TXDW | ICR_RXT0)
    expect(m.nic.interruptAsserted).toBe(true)
    d.read(R.ICR)
    expect(m.nic.interruptAsserted).toBe(false)
    expect(levels).toEqual([true, false, true, false])
  })

  it('PCI interrupt disable gates the line while STATUS.IS still shows the pending cause', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m)
    d.write(R.IMS, ICR_TXDW)
    d.pciCommand(PCI_MEMORY | PCI_INTERRUPT_DISABLE)
    d.write(R.ICS, ICR_TXDW)
    expect(m.nic.interruptAsserted).toBe(false)
    expect(m.pci.configRead32('00:03.0', 4) & PCI_STATUS_INTERRUPT).toBe(PCI_STATUS_INTERRUPT)
    d.pciCommand(PCI_MEMORY)
    expect(m.nic.interruptAsserted).toBe(true)
  })

  it('statistics count frames and clear when read; the 64-bit octet counter clears on its high half', () => {
    const m = createMachine({ wire: 'loopback' })
    const d = new BareMetalE1000(m).init()
    for (let i = 0; i < 3; i++) d.send(ethernetFrame(100, NIC_MAC))
    m.runUntilIdle()
    expect(d.read(R.GPTC)).toBe(3)
    expect(d.read(R.GPTC)).toBe(0)
    expect(d.read(R.TPT)).toBe(3)
    expect(d.read(R.GPRC)).toBe(3)
    expect(d.read(R.TPR)).toBe(3)
    expect(d.read(R.GORCL)).toBe(3 * 104)
    expect(d.read(R.GORCL)).toBe(3 * 104) // the low half does not clear
    expect(d.read(R.GORCH)).toBe(0)
    expect(d.read(R.GORCL)).toBe(0)
    d.write(R.GPTC, 77)
    expect(d.read(R.GPTC)).toBe(0)
  })

  it('MDIC reads the PHY identity and link state and completes at once; STATUS.LU follows CTRL.SLU', () => {
    const d = new BareMetalE1000(createMachine())
    const phyRead = (reg: number): number => {
      d.write(R.MDIC, (2 << 26) | (1 << 21) | (reg << 16))
      const v = d.read(R.MDIC)
      expect(v & 0x1000_0000).not.toBe(0)
      return v & 0xffff
    }
    expect(phyRead(2)).toBe(0x0141)
    // The PHY has link with its partner whatever the MAC does; STATUS.LU needs CTRL.SLU too.
    expect(phyRead(1) & 0x4).toBe(0x4)
    expect(d.read(R.STATUS) & 0x2).toBe(0)
    d.write(R.CTRL, CTRL_SLU)
    expect(d.read(R.STATUS) & 0x2).toBe(0x2)
  })

  it('BAR0 decodes only while PCI memory space is enabled', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m)
    expect(d.read(R.RAH0)).toBe(0x8000_5634)
    d.pciCommand(0)
    expect(d.read(R.RAH0)).toBe(0xffff_ffff)
    d.pciCommand(PCI_MEMORY | PCI_BUS_MASTER)
    expect(d.read(R.RAH0)).toBe(0x8000_5634)
  })

  it('RCTL keeps its value for the driver to read back', () => {
    const d = new BareMetalE1000(createMachine())
    d.write(R.RCTL, RCTL_EN | RCTL_BAM)
    expect(d.read(R.RCTL)).toBe(RCTL_EN | RCTL_BAM)
  })
})
