// The 82540EM register file as the device sees it: offsets and bits (8254x Family of Gigabit
// Ethernet Controllers Software Developer's Manual, 13.4 "Register descriptions"), and a
// table of the plain registers — the ones with no side effect beyond storing their writable
// bits — with their reset values. Registers with side effects are dispatched by the device
// (e1000.ts), as QEMU's e1000 does with its per-register tables.

export const REG = {
  CTRL: 0x0000,
  STATUS: 0x0008,
  EECD: 0x0010,
  EERD: 0x0014,
  CTRL_EXT: 0x0018,
  MDIC: 0x0020,
  FCAL: 0x0028,
  FCAH: 0x002c,
  FCT: 0x0030,
  VET: 0x0038,
  ICR: 0x00c0,
  ITR: 0x00c4,
  ICS: 0x00c8,
  IMS: 0x00d0,
  IMC: 0x00d8,
  RCTL: 0x0100,
  FCTTV: 0x0170,
  TXCW: 0x0178,
  RXCW: 0x0180,
  TCTL: 0x0400,
  TIPG: 0x0410,
  LEDCTL: 0x0e00,
  PBA: 0x1000,
  FCRTL: 0x2160,
  FCRTH: 0x2168,
  RDBAL: 0x2800,
  RDBAH: 0x2804,
  RDLEN: 0x2808,
  RDH: 0x2810,
  RDT: 0x2818,
  RDTR: 0x2820,
  RXDCTL: 0x2828,
  RADV: 0x282c,
  RSRPD: 0x2c00,
  TDBAL: 0x3800,
  TDBAH: 0x3804,
  TDLEN: 0x3808,
  TDH: 0x3810,
  TDT: 0x3818,
  TIDV: 0x3820,
  TXDCTL: 0x3828,
  TADV: 0x382c,
  STATS_FIRST: 0x4000,
  STATS_LAST: 0x40fc,
  RXCSUM: 0x5000,
  MTA: 0x5200,
  RAL0: 0x5400,
  RAH0: 0x5404,
  VFTA: 0x5600,
  WUC: 0x5800,
  WUFC: 0x5808,
  MANC: 0x5820,
} as const

/** BAR0 is 128 KiB (manual 4.1, table 4-2: memory BAR of 128 KB). */
export const MMIO_SIZE = 0x2_0000

/** CTRL (13.4.1). */
export const CTRL = {
  FD: 0x1,
  ASDE: 0x20,
  SLU: 0x40,
  RST: 1 << 26,
  /** VLAN mode enable: tag insertion on transmit (VLE) and stripping on receive (chapter 9). */
  VME: 1 << 30,
  /** PHY reset: the PHY restarts, and with it autonegotiation. */
  PHY_RST: 0x8000_0000,
} as const

export const STATUS = {
  FD: 0x1,
  LU: 0x2,
  SPEED_10: 0x00,
  SPEED_100: 0x40,
  SPEED_1000: 0x80,
} as const

/** EERD (13.4.4): START bit 0, DONE bit 4, address bits 15:8, data bits 31:16. */
export const EERD = {
  START: 0x1,
  DONE: 0x10,
  ADDR_SHIFT: 8,
  ADDR_MASK: 0xff,
  DATA_SHIFT: 16,
} as const

/** Interrupt causes (ICR/ICS/IMS/IMC, 13.4.17–13.4.21). */
export const ICR = {
  TXDW: 0x01,
  TXQE: 0x02,
  LSC: 0x04,
  RXDMT0: 0x10,
  RXO: 0x40,
  RXT0: 0x80,
} as const

/** Cause bits the 82540EM implements; others read as 0. */
export const ICR_IMPLEMENTED = 0x0001_f6df

export const RCTL = {
  EN: 0x2,
  SBP: 0x4,
  UPE: 0x8,
  MPE: 0x10,
  LPE: 0x20,
  RDMTS_SHIFT: 8,
  RDMTS_MASK: 0x300,
  MO_SHIFT: 12,
  MO_MASK: 0x3000,
  BAM: 0x8000,
  BSIZE_SHIFT: 16,
  BSIZE_MASK: 0x3_0000,
  BSEX: 1 << 25,
  SECRC: 1 << 26,
  /** VLAN filter enable, canonical form indicator enable and value (13.4.22, chapter 9). */
  VFE: 1 << 18,
  CFIEN: 1 << 19,
  CFI: 1 << 20,
} as const

/** RXCSUM (0x5000, chapter 13 register descriptions; receive checksum offload, 3.2.9). */
export const RXCSUM = {
  WRITABLE: 0x7ff,
  PCSS_MASK: 0xff,
  IPOFLD: 0x100,
  TUOFLD: 0x200,
} as const

/** EECD (13.4.3): the Microwire lines, the software access handshake, presence and size. */
export const EECD = {
  SK: 0x1,
  CS: 0x2,
  DI: 0x4,
  DO: 0x8,
  FWE_MASK: 0x30,
  REQ: 0x40,
  GNT: 0x80,
  PRES: 0x100,
  /** 0: a 64-word (1 Kbit) part with 6 address bits, as on the 82540EM. */
  SIZE: 0x200,
} as const

/** PBA (0x1000, chapter 13): receive share of the 64 KiB packet buffer in KiB, bits 5:0; transmit gets the rest. */
export const PBA_RXA_MASK = 0x3f
export const PACKET_BUFFER_KIB = 64

export const TCTL = {
  EN: 0x2,
  PSP: 0x8,
} as const

/** RAH (13.4.63): address valid bit 31, address select bits 17:16, address bytes 4–5 in 15:0. */
export const RAH_AV = 0x8000_0000
export const RAH_WRITABLE = 0x8003_ffff
export const RECEIVE_ADDRESSES = 16
export const MTA_ENTRIES = 128

/** Delay timers (RDTR, TIDV, RADV, TADV) count in 1.024 µs units; ITR in 256 ns units. */
export const DELAY_UNIT_NS = 1024
export const ITR_UNIT_NS = 256
/** RDTR / TIDV bit 31: flush partial descriptor block (fire the pending interrupt now). */
export const DELAY_FPD = 0x8000_0000

/** MDIC (13.4.7): data 15:0, PHY register 20:16, PHY address 25:21, op 27:26, ready 28. */
export const MDIC = {
  DATA_MASK: 0xffff,
  REG_SHIFT: 16,
  PHY_SHIFT: 21,
  OP_WRITE: 0x0400_0000,
  OP_READ: 0x0800_0000,
  READY: 0x1000_0000,
  ERROR: 0x4000_0000,
} as const

/** A plain register: offset, writable bits, value after reset. */
export type PlainRegister = readonly [offset: number, writable: number, reset: number]

const repeat = (base: number, count: number, writable: number, reset = 0): PlainRegister[] =>
  Array.from({ length: count }, (_, i) => [base + i * 4, writable, reset] as const)

/** Registers that only store their writable bits; unknown offsets read 0 and ignore writes. */
export const PLAIN_REGISTERS: readonly PlainRegister[] = [
  [REG.CTRL_EXT, 0xffff_ffff, 0],
  [REG.FCAL, 0xffff_ffff, 0],
  [REG.FCAH, 0xffff, 0],
  [REG.FCT, 0xffff, 0],
  [REG.VET, 0xffff, 0x8100],
  [REG.FCTTV, 0xffff, 0],
  [REG.TXCW, 0xffff_ffff, 0],
  [REG.TIPG, 0x3fff_ffff, 0],
  [REG.LEDCTL, 0xffff_ffff, 0],
  // PBA: 48 KiB of the packet buffer for receive, the rest for transmit (the reset default).
  [REG.PBA, 0x3f, 0x30],
  [REG.FCRTL, 0x8000_fff8, 0],
  [REG.FCRTH, 0xfff8, 0],
  [REG.RXDCTL, 0xffff_ffff, 0],
  [REG.RSRPD, 0xfff, 0],
  [REG.TXDCTL, 0xffff_ffff, 0],
  [REG.RXCSUM, 0x7ff, 0],
  ...repeat(REG.MTA, MTA_ENTRIES, 0xffff_ffff),
  ...Array.from({ length: RECEIVE_ADDRESSES }, (_, i) => [
    [REG.RAL0 + i * 8, 0xffff_ffff, 0] as const,
    [REG.RAH0 + i * 8, RAH_WRITABLE, 0] as const,
  ]).flat(),
  ...repeat(REG.VFTA, 128, 0xffff_ffff),
  [REG.WUC, 0x1f, 0],
  [REG.WUFC, 0xffff, 0],
  [REG.MANC, 0xffff_ffff, 0],
]

/** Per-dword access kinds of BAR0, built once for all NICs. */
export const ACCESS = {
  unknown: 0,
  plain: 1,
  special: 2,
  statistic: 3,
} as const

const SPECIAL: readonly number[] = [
  REG.CTRL, REG.STATUS, REG.EECD, REG.EERD, REG.MDIC, REG.ICR, REG.ITR, REG.ICS, REG.IMS, REG.IMC, REG.RCTL, REG.TCTL,
  REG.RDBAL, REG.RDBAH, REG.RDLEN, REG.RDH, REG.RDT, REG.RDTR, REG.RADV, REG.TDBAL, REG.TDBAH, REG.TDLEN, REG.TDH, REG.TDT, REG.TIDV, REG.TADV,
  // Stored like a plain register, but the receive engine wants to know it was written.
  REG.RXCSUM,
]

export const ACCESS_KIND: Uint8Array = (() => {
  const kinds = new Uint8Array(MMIO_SIZE >>> 2)
  for (const [offset] of PLAIN_REGISTERS) kinds[offset >>> 2] = ACCESS.plain
  for (const offset of SPECIAL) kinds[offset >>> 2] = ACCESS.special
  for (let o = REG.STATS_FIRST; o <= REG.STATS_LAST; o += 4) kinds[o >>> 2] = ACCESS.statistic
  return kinds
})()

export const WRITABLE: Uint32Array = (() => {
  const masks = new Uint32Array(MMIO_SIZE >>> 2)
  for (const [offset, writable] of PLAIN_REGISTERS) masks[offset >>> 2] = writable
  return masks
})()

/** Words the plain register file needs: up to the highest plain register. */
export const REGISTER_FILE_WORDS = Math.max(...PLAIN_REGISTERS.map(([offset]) => offset >>> 2)) + 1

export const RESET_VALUES: ReadonlyArray<readonly [index: number, value: number]> = PLAIN_REGISTERS.filter(([, , reset]) => reset !== 0).map(
  ([offset, , reset]) => [offset >>> 2, reset] as const,
)
