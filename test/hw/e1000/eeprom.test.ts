// The EEPROM (manual chapter 5; EECD 13.4.3; EERD 13.4.4): the image laid out as 5.6 says and
// the Microwire interface a driver bit-bangs through EECD once EE_REQ is granted (EE_GNT), as
// Linux's e1000 does for the 82540 (request, select, opcode and address out on DI, 16 bits in
// on DO).
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import { BareMetalE1000, NIC_MAC, R } from '../../support/e1000-driver.js'

const SK = 0x1
const CS = 0x2
const DI = 0x4
const DO = 0x8
const REQ = 0x40
const GNT = 0x80
const PRES = 0x100
const SIZE = 0x200

/** A Microwire driver over EECD, written from the 93C46 protocol the manual's chapter 5 uses. */
class Microwire {
  private readonly d: BareMetalE1000

  constructor(d: BareMetalE1000) {
    this.d = d
  }

  acquire(): boolean {
    this.d.write(R.EECD, REQ)
    for (let i = 0; i < 1000; i++) if ((this.d.read(R.EECD) & GNT) !== 0) return true
    return false
  }

  release(): void {
    this.d.write(R.EECD, 0)
  }

  select(): void {
    this.d.write(R.EECD, REQ)
    this.d.write(R.EECD, REQ | CS)
  }

  deselect(): void {
    this.d.write(R.EECD, REQ)
  }

  /** Clocks `count` bits of `value` out on DI, most significant first. */
  out(value: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) {
      const di = ((value >>> i) & 1) !== 0 ? DI : 0
      this.d.write(R.EECD, REQ | CS | di)
      this.d.write(R.EECD, REQ | CS | di | SK)
      this.d.write(R.EECD, REQ | CS | di)
    }
  }

  /** Clocks 16 bits in from DO: raise the clock, sample, lower it. */
  in16(): number {
    let v = 0
    for (let i = 0; i < 16; i++) {
      this.d.write(R.EECD, REQ | CS | SK)
      v = (v << 1) | ((this.d.read(R.EECD) & DO) !== 0 ? 1 : 0)
      this.d.write(R.EECD, REQ | CS)
    }
    return v
  }

  read(address: number): number {
    this.select()
    this.out(0b110, 3) // start bit, READ
    this.out(address, 6)
    const v = this.in16()
    this.deselect()
    return v
  }

  write(address: number, value: number): void {
    this.select()
    this.out(0b100_11, 5) // start, 00, EWEN (11xxxx)
    this.out(0, 4)
    this.deselect()
    this.select()
    this.out(0b101, 3) // start, WRITE
    this.out(address, 6)
    this.out(value, 16)
    this.deselect()
    this.select() // DO shows ready once CS is raised again
  }
}

function setup(): { m: ReturnType<typeof createMachine>; d: BareMetalE1000; mw: Microwire } {
  const m = createMachine()
  const d = new BareMetalE1000(m)
  return { m, d, mw: new Microwire(d) }
}

describe('the EEPROM', () => {
  it('EECD shows a 64-word Microwire part present, and grants software access on request (EE_REQ → EE_GNT)', () => {
    const { d, mw } = setup()
    const idle = d.read(R.EECD)
    expect(idle & PRES).toBe(PRES)
    expect(idle & SIZE).toBe(0)
    expect(idle & GNT).toBe(0)
    expect(mw.acquire()).toBe(true)
    mw.release()
    expect(d.read(R.EECD) & GNT).toBe(0)
  })

  it('reads every word over Microwire as EERD reads it', () => {
    const { d, mw } = setup()
    expect(mw.acquire()).toBe(true)
    const words: number[] = []
    for (let a = 0; a < 64; a++) words.push(mw.read(a))
    mw.release()
    for (let a = 0; a < 64; a++) {
      d.write(R.EERD, (a << 8) | 1)
      expect((d.read(R.EERD) >>> 16) & 0xffff).toBe(words[a])
    }
    expect(words.slice(0, 3)).toEqual([NIC_MAC[0] | (NIC_MAC[1] << 8), NIC_MAC[2] | (NIC_MAC[3] << 8), NIC_MAC[4] | (NIC_MAC[5] << 8)])
  })

  // 5.6: the address map; 5.6.35: signature 01b in word 0Ah, checksum BABAh over 00h–3Fh.
  it('holds an image laid out as the manual maps it: signature 01b, init control words, PBA, ids, checksum BABAh', () => {
    const { d } = setup()
    const word = (a: number): number => {
      d.write(R.EERD, (a << 8) | 1)
      return (d.read(R.EERD) >>> 16) & 0xffff
    }
    expect(word(0x0a) >>> 14).toBe(0b01)
    expect(word(0x0a) & 0x0400).toBe(0x0400) // full duplex
    expect(word(0x0f)).not.toBe(0)
    expect([word(0x08), word(0x09)]).not.toEqual([0, 0]) // PBA number
    expect([word(0x0b), word(0x0c), word(0x0d), word(0x0e)]).toEqual([0x001e, 0x8086, 0x100e, 0x8086])
    let sum = 0
    for (let a = 0; a < 64; a++) sum = (sum + word(a)) & 0xffff
    expect(sum).toBe(0xbaba)
  })

  it('reads sequentially while the clock keeps running (93C46 sequential read)', () => {
    const { mw } = setup()
    mw.acquire()
    const first = mw.read(5)
    const second = mw.read(6)
    mw.select()
    mw.out(0b110, 3)
    mw.out(5, 6)
    expect([mw.in16(), mw.in16()]).toEqual([first, second])
    mw.deselect()
  })

  it('does not answer on DO without the grant: the lines do not reach the part', () => {
    const { d, mw } = setup()
    d.write(R.EECD, CS)
    for (let i = 0; i < 9; i++) {
      d.write(R.EECD, CS | DI)
      d.write(R.EECD, CS | DI | SK)
    }
    d.write(R.EECD, CS | SK)
    expect(d.read(R.EECD) & (DO | GNT)).toBe(0)
    mw.acquire()
    expect(mw.read(0)).toBe(NIC_MAC[0] | (NIC_MAC[1] << 8))
  })

  it('writes a word after EWEN, reports ready on DO, and keeps it across a device reset', () => {
    const { d, mw } = setup()
    mw.acquire()
    mw.write(0x20, 0x1234)
    expect(d.read(R.EECD) & DO).toBe(DO)
    mw.deselect()
    expect(mw.read(0x20)).toBe(0x1234)
    mw.release()
    d.write(R.CTRL, 1 << 26)
    d.write(R.EERD, (0x20 << 8) | 1)
    expect(d.read(R.EERD) >>> 16).toBe(0x1234)
  })

  it('ignores a write without EWEN', () => {
    const { mw } = setup()
    mw.acquire()
    const before = mw.read(0x21)
    mw.select()
    mw.out(0b101, 3)
    mw.out(0x21, 6)
    mw.out(0xbeef, 16)
    mw.deselect()
    expect(mw.read(0x21)).toBe(before)
  })
})
