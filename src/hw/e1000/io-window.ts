// The I/O register window (manual 13.2.2 "I/O-Mapped Internal Register, Internal Memory, and
// Flash"): for pre-boot code and drivers that use port I/O, every register BAR0 maps is also
// reachable through two ports, IOADDR at offset 0 and IODATA at offset 4. IOADDR holds a
// register offset; an IODATA read or write is that register's MMIO read or write, side
// effects included.
//  - IOADDR: written with 32-bit accesses only ("writes that are less than 32 bits are
//    ignored"); bits 31:20 are hard-wired to 0; reads of any size return it.
//  - IODATA: 32-bit writes only, likewise; a read returns the register (the CPU takes the
//    bytes it asked for). An IOADDR beyond the 128 KiB register space reaches flash or
//    internal memory on the real part; this model has neither, so it reads 0 and ignores writes.
// The BAR is 8 bytes (4.1: "The size of the IO register space is 8 bytes", bits 31:3
// read/write); 13.2.2 speaks of a 32-byte window, the configuration space as 4.1 states it
// is what the device advertises here.
import type { IoHandler, IoSize } from '../io-ports.js'
import { MMIO_SIZE } from './registers.js'

/** BAR2 with a 32-bit memory BAR in BAR0 and no flash (4.1, "BAR2 or BAR4"). */
export const IO_BAR = 2
export const IO_SIZE = 8
const IOADDR = 0
const IODATA = 4
const IOADDR_MASK = 0x000f_ffff

/** The register file the window reaches. */
export interface RegisterFile {
  mmioRead32(offset: number): number
  mmioWrite32(offset: number, value: number): void
}

export class IoWindow implements IoHandler {
  private address = 0
  private readonly registers: RegisterFile

  constructor(registers: RegisterFile) {
    this.registers = registers
  }

  ioRead(offset: number, size: IoSize): number {
    const dword = offset < IODATA ? this.address : this.data()
    // A narrower read takes the addressed bytes of the dword.
    return size === 4 ? dword : (dword >>> ((offset & 3) * 8)) & (size === 2 ? 0xffff : 0xff)
  }

  ioWrite(offset: number, size: IoSize, value: number): void {
    if (size !== 4) return
    if (offset === IOADDR) this.address = (value & IOADDR_MASK) >>> 0
    else if (offset === IODATA && this.address < MMIO_SIZE) this.registers.mmioWrite32(this.address & ~3, value >>> 0)
  }

  private data(): number {
    return this.address < MMIO_SIZE ? this.registers.mmioRead32(this.address & ~3) >>> 0 : 0
  }
}
