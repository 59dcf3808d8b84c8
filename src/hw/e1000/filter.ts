// Receive filtering (manual 3.2.1 / 13.4.22 RCTL, 13.4.62–63 MTA, RAL/RAH, chapter 9 VLAN).
// Addresses, in the order the hardware applies them: unicast promiscuous (UPE) takes every
// unicast destination — only unicast: group addresses stay with MPE, BAM and the tables
// (13.4.22: UPE "unicast promiscuous", MPE "multicast promiscuous"); multicast promiscuous
// (MPE) takes every group address; broadcast is taken when BAM is set; an exact match against
// a valid receive address; otherwise the 4096-bit multicast table, indexed by 12 bits of the
// destination chosen by RCTL.MO (00: bits 47:36, 01: 46:35, 10: 45:34, 11: 43:32).
// Then, for a frame whose type matches VET, the VLAN filter (RCTL.VFE): its 12-bit VLAN id
// indexes the VFTA bit vector as the MTA is indexed (13.5.4), and with RCTL.CFIEN its CFI bit
// must equal RCTL.CFI (9.x, table 9-3).
import { RAH_AV, RCTL, RECEIVE_ADDRESSES, REG } from './registers.js'

const MO_SHIFT = [4, 3, 2, 0] as const
const RAL = REG.RAL0 >>> 2
const MTA = REG.MTA >>> 2
const VFTA = REG.VFTA >>> 2

export type FrameClass = 'unicast' | 'multicast' | 'broadcast'

/** Whether the filters take the frame whose destination starts at `buf[off]`. */
export function accepts(regs: Uint32Array, rctl: number, buf: Uint8Array, off: number): boolean {
  const group = (buf[off]! & 1) !== 0
  if (!group && (rctl & RCTL.UPE) !== 0) return true
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

/**
 * Whether the VLAN filter takes a tagged frame (its type matched VET): the tag control field
 * is the big-endian word at offset 14 — priority 15:13, CFI 12, VLAN id 11:0.
 */
export function vlanAccepts(regs: Uint32Array, rctl: number, buf: Uint8Array, off: number): boolean {
  const tci = (buf[off + 14]! << 8) | buf[off + 15]!
  if ((rctl & RCTL.CFIEN) !== 0 && ((tci >>> 12) & 1) !== ((rctl & RCTL.CFI) !== 0 ? 1 : 0)) return false
  if ((rctl & RCTL.VFE) === 0) return true
  const vid = tci & 0xfff
  return (regs[VFTA + (vid >>> 5)]! & (1 << (vid & 31))) !== 0
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
