// The 16-byte pool header in front of every small pool block (seed 002: "The pool header is 8
// bytes long on 32-bit systems and 16-bytes long on 64-bit systems"; S22). It is real bytes in
// emulated RAM, so a driver that runs off the end of its block writes over the next block's
// header, and the pool sees it when either block is freed.
//
// Layout (little-endian). Windows x64's POOL_HEADER packs PreviousSize, PoolIndex, BlockSize
// and PoolType into bytes 0-3 (sizes in 16-byte units), then the PoolTag at 4 and
// ProcessBilled at 8. dmalab keeps the same idea, widened so a size of a whole page fits and
// with what a dump and the free-time check want:
//
//   0  u16  PreviousSize   size of the block before this one in its page, 16-byte units (0: first)
//   2  u16  BlockSize      this block's size in 16-byte units, header included (1..256)
//   4  u32  PoolTag        the ULONG; its bytes read "Test" for the literal 'tseT' (S19)
//   8  u32  NumberOfBytes  what the caller asked for (Verifier's pool tracking keeps the same)
//  12  u8   PoolType       0 = free block; 1 = nonpaged, 2 = paged (Windows' PoolType + 1)
//  13  u8   Flags          bit 0: cache-aligned request; bit 1: special-pool page header
//  14  u16  Check          a checksum of bytes 0-13, so a stray write that happens to keep the
//                          sizes plausible is still seen
import type { PhysicalMemory } from '../hw/memory.js'

export const POOL_HEADER_BYTES = 16
/** Small pool is carved in 16-byte units (x64 pool granularity; S09's 16-byte alignment). */
export const POOL_UNIT = 16
export const UNITS_PER_PAGE = 4096 / POOL_UNIT

export const HEADER_FLAG_CACHE_ALIGNED = 0x1
export const HEADER_FLAG_SPECIAL = 0x2

export interface PoolHeader {
  readonly previousSize: number
  readonly blockSize: number
  readonly tag: number
  readonly bytes: number
  /** 0 free, 1 nonpaged, 2 paged. */
  readonly type: number
  readonly flags: number
}

const scratch = new Uint8Array(POOL_HEADER_BYTES)
const view = new DataView(scratch.buffer)

function checksum(bytes: Uint8Array): number {
  let h = 0x5a5a
  for (let i = 0; i < 14; i++) h = (Math.imul(h, 31) + bytes[i]!) & 0xffff
  return h
}

/** The 16 bytes of a header (into a shared scratch buffer: copy it if you keep it). */
export function encodeHeader(h: PoolHeader): Uint8Array {
  view.setUint16(0, h.previousSize, true)
  view.setUint16(2, h.blockSize, true)
  view.setUint32(4, h.tag >>> 0, true)
  view.setUint32(8, h.bytes >>> 0, true)
  scratch[12] = h.type
  scratch[13] = h.flags
  view.setUint16(14, checksum(scratch), true)
  return scratch
}

export function writeHeader(ram: PhysicalMemory, pa: number, h: PoolHeader): void {
  ram.writeFrom(pa, encodeHeader(h), 0, POOL_HEADER_BYTES)
}

/** Reads a header back, and whether its checksum holds (a dump shows both). */
export function readHeader(ram: PhysicalMemory, pa: number): PoolHeader & { readonly intact: boolean } {
  const bytes = ram.readBytes(pa, POOL_HEADER_BYTES)
  const v = new DataView(bytes.buffer)
  return {
    previousSize: v.getUint16(0, true),
    blockSize: v.getUint16(2, true),
    tag: v.getUint32(4, true),
    bytes: v.getUint32(8, true),
    type: bytes[12]!,
    flags: bytes[13]!,
    intact: v.getUint16(14, true) === checksum(bytes),
  }
}

/** The first 32 bits of the header at `pa`: what bug check parameters call "header contents". */
export function headerWord(ram: PhysicalMemory, pa: number): number {
  return ram.read32(pa)
}

/**
 * Offset of the first byte of the header at `pa` that differs from `expected`, or -1 when the
 * header is exactly what the pool wrote.
 */
export function headerDifference(ram: PhysicalMemory, pa: number, expected: PoolHeader): number {
  const want = encodeHeader(expected)
  ram.readInto(pa, found, 0, POOL_HEADER_BYTES)
  for (let i = 0; i < POOL_HEADER_BYTES; i++) if (found[i] !== want[i]) return i
  return -1
}

const found = new Uint8Array(POOL_HEADER_BYTES)
const page = new Uint8Array(4096)

/** Offset of the first byte in [pa, pa + length) (within one page) that is not `value`, or -1. */
export function patternBreak(ram: PhysicalMemory, pa: number, length: number, value: number): number {
  if (length <= 0) return -1
  ram.readInto(pa, page, 0, length)
  for (let i = 0; i < length; i++) if (page[i] !== value) return i
  return -1
}
