// The three kinds of address in dmalab, as branded numbers so a mix-up is a compile error
// unless converted on purpose (DESIGN "Addresses"). Values stay below 2^53 so they are exact
// JavaScript numbers; 64-bit hardware fields are read as two 32-bit halves.

declare const addressKind: unique symbol

/** A kernel virtual address: what driver code holds and dereferences. */
export type VirtualAddress = number & { readonly [addressKind]: 'virtual' }
/** A CPU physical address: a RAM frame or an MMIO register, as the system bus sees it. */
export type PhysicalAddress = number & { readonly [addressKind]: 'physical' }
/** What a device is given and drives on the bus: an IOVA with the IOMMU on, else physical. */
export type LogicalAddress = number & { readonly [addressKind]: 'logical' }

export const asVirtual = (n: number): VirtualAddress => n as VirtualAddress
export const asPhysical = (n: number): PhysicalAddress => n as PhysicalAddress
export const asLogical = (n: number): LogicalAddress => n as LogicalAddress

export const PAGE_SHIFT = 12
export const PAGE_SIZE = 4096
export const PAGE_MASK = 4095
export const GiB = 1024 * 1024 * 1024
export const MiB = 1024 * 1024
export const KiB = 1024
export const FOUR_GIB = 4 * GiB
export const TWO_POW_32 = 4294967296
/** The largest exact address; every address in dmalab stays below it. */
export const ADDRESS_LIMIT = 2 ** 53

/** Page number of an address (exact for any address below 2^53). */
export const pageNumber = (address: number): number => Math.floor(address / PAGE_SIZE)
/** Offset within the page; `& PAGE_MASK` is exact below 2^53 because ToInt32 keeps the low bits. */
export const pageOffset = (address: number): number => address & PAGE_MASK
/** Bytes of whole pages needed to hold `bytes` starting at `address`. */
export const pagesSpanned = (address: number, bytes: number): number =>
  bytes === 0 ? 0 : pageNumber(address + bytes - 1) - pageNumber(address) + 1

/**
 * A 64-bit device address (a descriptor's buffer address, a ring base) from its two 32-bit
 * halves, as an exact number that lands where a device driving `addressBits` lines puts it.
 * Joined naively, a high half of 2^21 or more makes a number above 2^53 whose low bits are
 * rounded away, so the access would land next to where the bus puts it. Beyond the device's
 * reach only the bits it drives matter: such a high half keeps those and one bit above them,
 * so the value is exact, still beyond the limit (the DMA engine truncates it and reports
 * `dma-address-truncated`, naming this folded address), and equal to the real address modulo
 * 2^addressBits. A device driving more than 52 lines finds no RAM and no IOMMU mapping above
 * 2^53 (RAM ends below 4 TiB, the IOMMU's width is 48 bits): such an address is kept at
 * 2^53 - 2^32 + low, where the access is refused (master abort, IOMMU fault) as it would be.
 */
export function deviceAddress(high: number, low: number, addressBits: number): number {
  const h = high >>> 0
  const l = low >>> 0
  if (h < 0x20_0000) return h * TWO_POW_32 + l
  if (addressBits > 52) return 0x1f_ffff * TWO_POW_32 + l
  const reach = addressBits > 32 ? 2 ** (addressBits - 32) : 1
  return ((h % reach) + reach) * TWO_POW_32 + l
}

export const low32 = (value: number): number => value >>> 0
export const high32 = (value: number): number => Math.floor(value / TWO_POW_32) >>> 0
export const join64 = (lo: number, hi: number): number => (hi >>> 0) * TWO_POW_32 + (lo >>> 0)

/** `0x1_2345_6789`-style hex: groups of four digits so 4 GiB boundaries jump out. */
export function hex(value: number, minDigits = 1): string {
  // Messages quote what a driver passed, which need not be an address at all.
  if (typeof value !== 'number' || !Number.isFinite(value)) return String(value)
  const digits = value.toString(16).padStart(minDigits, '0')
  if (digits.length <= 4) return `0x${digits}`
  const groups: string[] = []
  for (let end = digits.length; end > 0; end -= 4) groups.unshift(digits.slice(Math.max(0, end - 4), end))
  return `0x${groups.join('_')}`
}

/** Plain `0x…` hex with no separators, for machine-readable output. */
export const hexPlain = (value: number): string => (typeof value === 'number' && Number.isFinite(value) ? `0x${value.toString(16)}` : String(value))

/** Human size: 4096 → "4 KiB", 1536 → "1.5 KiB", 1500000 → "1.4 MiB", 8589934592 → "8 GiB". */
export function formatBytes(bytes: number): string {
  // Messages quote what a driver passed, which need not be a number of bytes at all.
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return `${String(bytes)} bytes`
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  const shown = Number.isInteger(value) ? String(value) : value.toFixed(1).replace(/\.0$/, '')
  return `${shown} ${units[unit]}`
}

/** Parses "8GiB", "512 MiB", "1TiB", "4096", or a number of bytes. Returns NaN when malformed. */
export function parseSize(input: number | string): number {
  if (typeof input === 'number') return Number.isSafeInteger(input) ? input : NaN
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|K|M|G|T|KB|MB|GB|TB)?\s*$/i.exec(input)
  if (!match) return NaN
  const scale: Record<string, number> = {
    b: 1, k: KiB, kib: KiB, kb: KiB, m: MiB, mib: MiB, mb: MiB, g: GiB, gib: GiB, gb: GiB,
    t: 1024 * GiB, tib: 1024 * GiB, tb: 1024 * GiB,
  }
  const factor = scale[(match[2] ?? 'b').toLowerCase()] ?? NaN
  const bytes = Number(match[1]) * factor
  return Number.isSafeInteger(bytes) ? bytes : NaN
}
