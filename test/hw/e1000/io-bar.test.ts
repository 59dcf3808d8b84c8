// The I/O register window (manual 13.2.2: IOADDR at offset 0, IODATA at 4; 4.1: an 8-byte I/O
// BAR) reaching every register BAR0 maps, side effects included, and the PCI configuration
// that advertises it (BAR2 with bit 0 set, COMMAND.IO).
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import { PCI_CONFIG_HEADER } from '../../../src/hw/pci.js'
import { BareMetalE1000, CTRL_RST, CTRL_SLU, ICR_LSC, NIC_MAC, R, STATUS_LU } from '../../support/e1000-driver.js'

const H = PCI_CONFIG_HEADER.offset
const IOADDR = 0
const IODATA = 4

function setup(): { m: ReturnType<typeof createMachine>; d: BareMetalE1000; port: number; io: { read(reg: number): number; write(reg: number, value: number): void } } {
  const m = createMachine()
  const d = new BareMetalE1000(m)
  const port = m.pci.configRead32(m.nic.bdf, H.bar2) & ~0x3
  const io = {
    read(reg: number): number {
      m.bus.io.out32(port + IOADDR, reg)
      return m.bus.io.in32(port + IODATA)
    },
    write(reg: number, value: number): void {
      m.bus.io.out32(port + IOADDR, reg)
      m.bus.io.out32(port + IODATA, value)
    },
  }
  return { m, d, port, io }
}

describe('the I/O BAR', () => {
  it('reads every register through IOADDR/IODATA as BAR0 reads it', () => {
    const { d, io } = setup()
    d.write(R.CTRL, CTRL_SLU)
    for (const reg of [R.CTRL, R.STATUS, R.RAL0, R.RAH0, R.RCTL, R.TCTL, R.EECD, R.VET, R.PBA]) expect(io.read(reg)).toBe(d.read(reg))
    expect(io.read(R.RAL0)).toBe((NIC_MAC[0] | (NIC_MAC[1] << 8) | (NIC_MAC[2] << 16) | (NIC_MAC[3] << 24)) >>> 0)
  })

  it('carries side effects: a reset through IODATA resets the chip, an ICR read through it clears ICR', () => {
    const { d, io } = setup()
    io.write(R.CTRL, CTRL_SLU)
    expect(d.read(R.STATUS) & STATUS_LU).toBe(STATUS_LU)
    expect(io.read(R.ICR) & ICR_LSC).toBe(ICR_LSC)
    expect(d.read(R.ICR)).toBe(0)
    d.write(R.RDLEN, 1024)
    io.write(R.CTRL, CTRL_RST)
    expect(d.read(R.RDLEN)).toBe(0)
    expect(d.read(R.STATUS) & STATUS_LU).toBe(0)
  })

  it('IOADDR keeps bits 19:0 only, and ignores writes narrower than 32 bits (13.2.2.1)', () => {
    const { m, port } = setup()
    m.bus.io.out32(port + IOADDR, 0xfff0_0008)
    expect(m.bus.io.in32(port + IOADDR)).toBe(0x8)
    m.bus.io.out16(port + IOADDR, 0x5400)
    expect(m.bus.io.in32(port + IOADDR)).toBe(0x8)
    m.bus.io.out8(port + IODATA, 0xff) // ignored: STATUS is read-only anyway, and the write is narrow
    expect(m.bus.io.in16(port + IODATA)).toBe(m.cpu.read32(m.nic.bar0 + 0x8) & 0xffff)
  })

  it('reads 0 and ignores writes for an IOADDR beyond the register space', () => {
    const { m, port } = setup()
    m.bus.io.out32(port + IOADDR, 0x2_0000)
    expect(m.bus.io.in32(port + IODATA)).toBe(0)
  })

  it('decodes only while COMMAND.IO is set; a port nobody claims reads all-ones', () => {
    const { m, port, io } = setup()
    expect(io.read(R.VET)).toBe(0x8100)
    const command = m.pci.configRead32(m.nic.bdf, H.command) & 0xffff
    m.pci.configWrite32(m.nic.bdf, H.command, command & ~0x1)
    expect(m.bus.io.in32(port + IODATA)).toBe(0xffff_ffff)
    m.pci.configWrite32(m.nic.bdf, H.command, command)
    expect(io.read(R.VET)).toBe(0x8100)
  })

  it('follows the BAR when software moves it', () => {
    const { m, io } = setup()
    m.pci.configWrite32(m.nic.bdf, H.bar2, 0xd000)
    m.bus.io.out32(0xd000, 0x38)
    expect(m.bus.io.in32(0xd004)).toBe(0x8100)
    expect(io.read(R.VET)).toBe(0xffff_ffff) // the old ports answer nothing
  })
})
