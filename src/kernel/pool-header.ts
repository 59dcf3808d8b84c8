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
//
// On x86 (arch.ts) the header is 8 bytes and blocks are carved in 8-byte units, as on 32-bit
// Windows (seed 002; S09's 32-bit reading). Windows x86 packs PreviousSize and BlockSize into
// 9-bit fields in 8-byte units and the tag at 4; dmalab's 8-byte form, widened so a whole page
// fits and without the byte count (the pool's records keep it):
//
//   0  u16  PreviousSize (bits 0-9, 8-byte units) | PoolType << 10 | Flags << 12
//   2  u16  BlockSize (bits 0-9, 8-byte units, header included: 1..512) | Check << 10 (6 bits)
//   4  u32  PoolTag
import type { PhysicalMemory } from '../hw/memory.js'
import type { ArchProfile } from './arch.js'

/** x64's sizeof(POOL_HEADER) (S22); `PoolHeaderFormat.bytes` for the machine's own. */
export const POOL_HEADER_BYTES = 16
/** Small pool is carved in 16-byte units on x64 (S09's 16-byte alignment). */
export const POOL_UNIT = 16
export const UNITS_PER_PAGE = 4096 / POOL_UNIT

export const HEADER_FLAG_CACHE_ALIGNED = 0x1
export const HEADER_FLAG_SPECIAL = 0x2

export interface PoolHeader {
  readonly previousSize: number
  readonly blockSize: number
  readonly tag: number
  /** What the caller asked for (kept in the x64 header only; 0 when read from an x86 one). */
  readonly bytes: number
  /** 0 free, 1 nonpaged, 2 paged. */
  readonly type: number
  readonly flags: number
}

function checksum(bytes: Uint8Array, length: number): number {
  let h = 0x5a5a
  for (let i = 0; i < length; i++) h = (Math.imul(h, 31) + bytes[i]!) & 0xffff
  return h
}

/** One architecture's pool header: its size (also the pool's allocation unit) and encoding. */
export class PoolHeaderFormat {
  /** sizeof(POOL_HEADER), and the unit small blocks are carved in. */
  readonly bytes: 8 | 16
  readonly unitsPerPage: number
  private readonly scratch: Uint8Array
  private readonly view: DataView
  private readonly found: Uint8Array

  constructor(bytes: 8 | 16) {
    this.bytes = bytes
    this.unitsPerPage = 4096 / bytes
    this.scratch = new Uint8Array(bytes)
    this.view = new DataView(this.scratch.buffer)
    this.found = new Uint8Array(bytes)
  }

  /** The header's bytes (into a shared scratch buffer: copy it if you keep it). */
  encode(h: PoolHeader): Uint8Array {
    const v = this.view
    if (this.bytes === 16) {
      v.setUint16(0, h.previousSize, true)
      v.setUint16(2, h.blockSize, true)
      v.setUint32(4, h.tag >>> 0, true)
      v.setUint32(8, h.bytes >>> 0, true)
      this.scratch[12] = h.type
      this.scratch[13] = h.flags
      v.setUint16(14, checksum(this.scratch, 14), true)
      return this.scratch
    }
    v.setUint16(0, (h.previousSize & 0x3ff) | ((h.type & 3) << 10) | ((h.flags & 3) << 12), true)
    v.setUint16(2, h.blockSize & 0x3ff, true)
    v.setUint32(4, h.tag >>> 0, true)
    v.setUint16(2, (h.blockSize & 0x3ff) | ((this.check8() & 0x3f) << 10), true)
    return this.scratch
  }

  write(ram: PhysicalMemory, pa: number, h: PoolHeader): void {
    ram.writeFrom(pa, this.encode(h), 0, this.bytes)
  }

  /** Reads a header back, and whether its check holds (a dump shows both). */
  read(ram: PhysicalMemory, pa: number): PoolHeader & { readonly intact: boolean } {
    const bytes = ram.readBytes(pa, this.bytes)
    const v = new DataView(bytes.buffer)
    if (this.bytes === 16) {
      return {
        previousSize: v.getUint16(0, true),
        blockSize: v.getUint16(2, true),
        tag: v.getUint32(4, true),
        bytes: v.getUint32(8, true),
        type: bytes[12]!,
        flags: bytes[13]!,
        intact: v.getUint16(14, true) === checksum(bytes, 14),
      }
    }
    const w0 = v.getUint16(0, true)
    const w1 = v.getUint16(2, true)
    this.scratch.set(bytes)
    return {
      previousSize: w0 & 0x3ff,
      blockSize: w1 & 0x3ff,
      tag: v.getUint32(4, true),
      bytes: 0,
      type: (w0 >> 10) & 3,
      flags: (w0 >> 12) & 3,
      intact: w1 >> 10 === (this.check8() & 0x3f),
    }
  }

  /** The first 32 bits of the header at `pa`: what bug check parameters call "header contents". */
  word(ram: PhysicalMemory, pa: number): number {
    return ram.read32(pa)
  }

  /**
   * Offset of the first byte of the header at `pa` that differs from `expected`, or -1 when the
   * header is exactly what the pool wrote.
   */
  difference(ram: PhysicalMemory, pa: number, expected: PoolHeader): number {
    const want = this.encode(expected)
    ram.readInto(pa, this.found, 0, this.bytes)
    for (let i = 0; i < this.bytes; i++) if (this.found[i] !== want[i]) return i
    return -1
  }

  /** The x86 header's 6-bit check: over everything but the check bits themselves. */
  private check8(): number {
    const s = this.scratch
    let h = 0x5a5a
    for (let i = 0; i < 8; i++) h = (Math.imul(h, 31) + (i === 3 ? s[3]! & 0x03 : s[i]!)) & 0xffff
    return h
  }
}

export const POOL_HEADER_X64 = new PoolHeaderFormat(16)
export const POOL_HEADER_X86 = new PoolHeaderFormat(8)

export function poolHeaderFormat(arch: ArchProfile): PoolHeaderFormat {
  return arch.poolHeaderBytes === 8 ? POOL_HEADER_X86 : POOL_HEADER_X64
}

/** Reads an x64 header back (POOL_HEADER_X64.read). */
export function readHeader(ram: PhysicalMemory, pa: number): PoolHeader & { readonly intact: boolean } {
  return POOL_HEADER_X64.read(ram, pa)
}

const page = new Uint8Array(4096)

/** Offset of the first byte in [pa, pa + length) (within one page) that is not `value`, or -1. */
export function patternBreak(ram: PhysicalMemory, pa: number, length: number, value: number): number {
  if (length <= 0) return -1
  ram.readInto(pa, page, 0, length)
  for (let i = 0; i < length; i++) if (page[i] !== value) return i
  return -1
}
