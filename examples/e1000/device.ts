// Register-level steps on the 82540EM that do not depend on the NDIS version: both e1000
// (NDIS 6) and e1000-ndis5 (NDIS 5.1) drive the NIC through these, each with its own adapter.
// Only the mapped register window is needed (NdisReadRegisterUlong/NdisWriteRegisterUlong).
import type { NdisApi } from '../../src/ndis/api.js'
import { CTRL_RST, EERD_DONE, EERD_START, REG } from './hw.js'

/** What a register access needs: the NDIS routines and the register window's virtual address (0: not mapped). */
export interface Registers {
  readonly ndis: Pick<NdisApi, 'NdisReadRegisterUlong' | 'NdisWriteRegisterUlong'>
  readonly regs: number
}

export function readReg(r: Registers, offset: number): number {
  return r.ndis.NdisReadRegisterUlong(r.regs + offset)
}

export function writeReg(r: Registers, offset: number, value: number): void {
  r.ndis.NdisWriteRegisterUlong(r.regs + offset, value >>> 0)
}

/** Masks every cause, resets the NIC and clears what was pending (8254x manual 14.3: CTRL.RST). */
export function resetDevice(r: Registers): void {
  writeReg(r, REG.IMC, 0xffff_ffff)
  writeReg(r, REG.CTRL, readReg(r, REG.CTRL) | CTRL_RST)
  writeReg(r, REG.IMC, 0xffff_ffff)
  readReg(r, REG.ICR)
}

/** The permanent address from EEPROM words 0..2 through EERD (manual 13.4.4). */
export function readMac(r: Registers, mac: Uint8Array): void {
  for (let word = 0; word < 3; word++) {
    writeReg(r, REG.EERD, (word << 8) | EERD_START)
    let v = readReg(r, REG.EERD)
    for (let spin = 0; (v & EERD_DONE) === 0 && spin < 1000; spin++) v = readReg(r, REG.EERD)
    mac[word * 2] = (v >>> 16) & 0xff
    mac[word * 2 + 1] = (v >>> 24) & 0xff
  }
}

/**
 * Masks interrupts, turns the receiver and transmitter off, and resets the NIC: after this it
 * no longer reads descriptors or writes buffers (8254x manual, chapter 13: RCTL.EN and TCTL.EN
 * clear stop reception and transmission; CTRL.RST returns the registers to their defaults).
 * Nothing to do when the register window was never mapped.
 */
export function stopDevice(r: Registers): void {
  if (r.regs === 0) return
  writeReg(r, REG.IMC, 0xffff_ffff)
  writeReg(r, REG.RCTL, 0)
  writeReg(r, REG.TCTL, 0)
  writeReg(r, REG.CTRL, readReg(r, REG.CTRL) | CTRL_RST)
  readReg(r, REG.ICR)
}
