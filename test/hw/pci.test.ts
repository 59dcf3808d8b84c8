import { describe, expect, it } from 'vitest'
import { createMachine } from '../../src/index.js'
import { PCI_CONFIG_HEADER, formatBdf, parseBdf } from '../../src/hw/pci.js'

const H = PCI_CONFIG_HEADER.offset
const NIC = '00:03.0'

describe('PCI configuration space', () => {
  it('presents the 82540EM type 0 header: ids, class, pin, firmware-assigned BAR0 and BAR2 and line', () => {
    const m = createMachine()
    const read = (offset: number): number => m.pci.configRead32(NIC, offset)
    expect(read(H.vendorId)).toBe(0x100e_8086)
    expect(read(H.revisionId) >>> 8).toBe(0x02_0000) // class 02 (network), subclass 00 (Ethernet), prog-if 00
    expect((read(H.cacheLineSize) >>> 16) & 0xff).toBe(0) // header type 0, single function
    expect(read(H.subsystemVendorId)).toBe(0x001e_8086)
    const bar0 = read(H.bar0)
    expect(bar0 & 0xf).toBe(0) // 32-bit, non-prefetchable memory
    expect(bar0).toBe(m.nic.bar0)
    expect(bar0).toBeGreaterThanOrEqual(0xc000_0000)
    expect(bar0 % 0x2_0000).toBe(0)
    expect(read(H.bar1)).toBe(0) // no flash
    // 8254x manual 4.1: the I/O register BAR (BAR2 after a 32-bit memory BAR), 8 bytes.
    const bar2 = read(H.bar2)
    expect(bar2 & 0x3).toBe(0x1) // I/O space
    expect(bar2 & ~0x3).toBeGreaterThanOrEqual(0xc000)
    expect((bar2 & ~0x3) % 8).toBe(0)
    const interrupt = read(H.interruptLine)
    expect(interrupt & 0xff).toBe(11)
    expect((interrupt >>> 8) & 0xff).toBe(1) // INTA#
    // Firmware enabled memory and I/O decoding; bus mastering is the driver's job.
    expect(read(H.command) & 0x7).toBe(0x3)
  })

  it('sizes BAR0 by the all-ones write: 128 KiB reads back as 0xFFFE0000', () => {
    const m = createMachine()
    const original = m.pci.configRead32(NIC, H.bar0)
    m.pci.configWrite32(NIC, H.bar0, 0xffff_ffff)
    expect(m.pci.configRead32(NIC, H.bar0)).toBe(0xfffe_0000)
    m.pci.configWrite32(NIC, H.bar0, original)
    expect(m.pci.configRead32(NIC, H.bar0)).toBe(original)
    // Unimplemented BARs stay zero whatever is written.
    m.pci.configWrite32(NIC, H.bar1, 0xffff_ffff)
    expect(m.pci.configRead32(NIC, H.bar1)).toBe(0)
    // The I/O BAR: bits 31:3 writable, bit 2 hard-wired 0, bit 0 set (4.1).
    m.pci.configWrite32(NIC, H.bar2, 0xffff_ffff)
    expect(m.pci.configRead32(NIC, H.bar2)).toBe(0xffff_fff9)
  })

  it('moves the register window with BAR0', () => {
    const m = createMachine()
    const old = m.nic.bar0
    m.pci.configWrite32(NIC, H.bar0, 0xe000_0000)
    expect(m.nic.bar0).toBe(0xe000_0000)
    expect(m.cpu.read32(0xe000_0000 + 0x5404)).toBe(0x8000_5634) // RAH0
    expect(m.cpu.read32(old + 0x5404)).toBe(0xffff_ffff)
  })

  it('keeps only the writable COMMAND bits and clears STATUS error bits written with 1', () => {
    const m = createMachine()
    m.pci.configWrite32(NIC, H.command, 0xffff)
    // I/O space (bit 0) is writable because the function has an I/O BAR.
    expect(m.pci.configRead32(NIC, H.command) & 0xffff).toBe(0x0547)
    expect(m.nic.pci.busMasterEnabled).toBe(true)
    m.nic.pci.signalStatus(0x2000)
    m.pci.configWrite32(NIC, H.command, 0x0006 | (0x2000 << 16))
    expect(m.pci.configRead32(NIC, H.command) >>> 16).toBe(0x0200)
  })

  it('answers all-ones for a slot with no device and ignores writes to it', () => {
    const m = createMachine()
    expect(m.pci.configRead32('00:04.0', 0)).toBe(0xffff_ffff)
    m.pci.configWrite32('00:04.0', 4, 7)
    expect(m.pci.configRead32('00:04.0', 4)).toBe(0xffff_ffff)
  })

  it('refuses malformed host calls: a bad bus:device.function or a non-dword offset', () => {
    const m = createMachine()
    expect(() => m.pci.configRead32('0:3.0', 0)).toThrow(RangeError)
    expect(() => m.pci.configRead32(NIC, 2)).toThrow(/dword/)
    expect(() => m.pci.configRead32(NIC, 256)).toThrow(/dword/)
  })

  it('parses and formats bus:device.function as a VT-d requester id', () => {
    expect(parseBdf('00:03.0')).toBe(0x18)
    expect(parseBdf('05:1f.7')).toBe(0x05ff)
    expect(formatBdf(0x05ff)).toBe('05:1f.7')
    expect(() => parseBdf('00:20.0')).toThrow(RangeError)
  })
})
