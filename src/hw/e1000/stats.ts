// Statistics registers (manual 13.7, 0x4000–0x40FC): every one clears when read. Counters
// stick at their maximum instead of wrapping (as QEMU's e1000 models them). The 64-bit octet
// counters are low/high register pairs; reading the high half clears both.
export const STAT = {
  CRCERRS: 0x4000,
  MPC: 0x4010,
  GPRC: 0x4074,
  BPRC: 0x4078,
  MPRC: 0x407c,
  GPTC: 0x4080,
  GORCL: 0x4088,
  GORCH: 0x408c,
  GOTCL: 0x4090,
  GOTCH: 0x4094,
  RNBC: 0x40a0,
  /** Receive undersize, oversize counts (13.7.34, 13.7.36). */
  RUC: 0x40a4,
  ROC: 0x40ac,
  TORL: 0x40c0,
  TORH: 0x40c4,
  TOTL: 0x40c8,
  TOTH: 0x40cc,
  TPR: 0x40d0,
  TPT: 0x40d4,
  PRC64: 0x405c,
  PTC64: 0x40d8,
  MPTC: 0x40f0,
  BPTC: 0x40f4,
  /** TCP segmentation contexts transmitted, and those that failed (13.7.x TSCTC, TSCTFC). */
  TSCTC: 0x40f8,
  TSCTFC: 0x40fc,
  RLEC: 0x4040,
} as const

const FIRST = 0x4000
const MAX32 = 0xffff_ffff
const MAX64 = 2 ** 53 // exact doubles; far beyond any run
const idx = (offset: number): number => (offset - FIRST) >>> 2

/** Low-register indices of the 64-bit counters. */
const WIDE = new Set([STAT.GORCL, STAT.GOTCL, STAT.TORL, STAT.TOTL].map(idx))

export class Statistics {
  /** One slot per register; a 64-bit counter keeps its whole value in its low slot. */
  readonly counts = new Float64Array(64)

  /** +1, sticking at 2^32 - 1. */
  increment(offset: number): void {
    const i = idx(offset)
    const c = this.counts
    if (c[i]! < MAX32) c[i] = c[i]! + 1
  }

  /** +bytes on a 64-bit octet counter (give the low register's offset). */
  addOctets(lowOffset: number, bytes: number): void {
    const i = idx(lowOffset)
    const c = this.counts
    c[i] = Math.min(MAX64, c[i]! + bytes)
  }

  /** Size-bucket counters PRC64..PRC1522 / PTC64..PTC1522 for a frame of `length` bytes with FCS. */
  bucket(firstOffset: number, length: number): void {
    const step = length <= 64 ? 0 : length <= 127 ? 1 : length <= 255 ? 2 : length <= 511 ? 3 : length <= 1023 ? 4 : length <= 1522 ? 5 : -1
    if (step >= 0) this.increment(firstOffset + step * 4)
  }

  /** A register read: returns the value and clears it (both halves on a 64-bit high read). */
  read(offset: number): number {
    const i = idx(offset)
    const c = this.counts
    if (WIDE.has(i)) return c[i]! % 4294967296
    if (WIDE.has(i - 1)) {
      const value = Math.floor(c[i - 1]! / 4294967296)
      c[i - 1] = 0
      return value
    }
    const value = c[i]!
    c[i] = 0
    return value >>> 0
  }

  reset(): void {
    this.counts.fill(0)
  }
}
