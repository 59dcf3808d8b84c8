// Receive address filtering (manual 3.2.1 / 13.4.22 RCTL, 13.4.62–63 MTA, RAL/RAH), in the
// order the hardware applies it: unicast promiscuous (UPE) takes everything; multicast
// promiscuous (MPE) takes every group address; broadcast is taken when BAM is set; an exact
// match against a valid receive address; otherwise the 4096-bit multicast table, indexed by 12
// bits of the destination chosen by RCTL.MO (00: bits 47:36, 01: 46:35, 10: 45:34, 11: 43:32).
// VLAN filtering (RCTL.VFE) is not modelled.
import { RAH_AV, RCTL, RECEIVE_ADDRESSES, REG } from './registers.js'

const MO_SHIFT = [4, 3, 2, 0] as const
const RAL = REG.RAL0 >>> 2
const MTA = REG.MTA >>> 2

export type FrameClass = 'unicast' | 'multicast' | 'broadcast'

/** Whether the filters take the frame whose destination starts at `buf[off]`. */
export function accepts(regs: Uint32Array, rctl: number, buf: Uint8Array, off: number): boolean {
  if ((rctl & RCTL.UPE) !== 0) return true
  const group = (buf[off]! & 1) !== 0
  if (group && (rctl & RCTL.MPE) !== 0) return true
  const low = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0
  const high = buf[off + 4]! | (buf[off + 5]! << 8)
  if (group && low === 0xffff_ffff && high === 0xffff) {
    if ((rctl & RCTL.BAM) !== 0) return true
  }
  for (let i = 0; i < RECEIVE_ADDRESSES; i++) {
    const rah = regs[RAL + i * 2 + 1]!
    if ((rah & RAH_AV) !== 0 && regs[RAL + i * 2] === low && (rah & 0xffff) === high) return true
  }
  const shift = MO_SHIFT[(rctl & RCTL.MO_MASK) >>> RCTL.MO_SHIFT]!
  const hash = ((buf[off + 4]! | (buf[off + 5]! << 8)) >>> shift) & 0xfff
  return (regs[MTA + (hash >>> 5)]! & (1 << (hash & 31))) !== 0
}

/** The 12-bit multicast table index of a destination address under a given RCTL.MO. */
export function multicastHash(mac: Uint8Array, mo = 0): number {
  return ((mac[4]! | (mac[5]! << 8)) >>> MO_SHIFT[mo & 3]!) & 0xfff
}

export function classify(buf: Uint8Array, off: number): FrameClass {
  if ((buf[off]! & 1) === 0) return 'unicast'
  for (let i = 0; i < 6; i++) if (buf[off + i] !== 0xff) return 'multicast'
  return 'broadcast'
}
