// The system bus: routes every physical access to RAM, to a device's MMIO region, or to
// nothing. An access to nothing reads as all-ones and a write is dropped, as on a PC where no
// device claims the cycle (master abort); both are counted so a test can see them.
import { PAGE_SIZE, TWO_POW_32, hex } from './address.js'
import { IoPortSpace } from './io-ports.js'
import type { PhysicalMemory } from './memory.js'

/** A device's MMIO window. Registers are 32-bit; narrower or wider accesses are composed. */
export interface MmioHandler {
  mmioRead32(offset: number): number
  mmioWrite32(offset: number, value: number): void
}

export interface MmioRegion {
  readonly name: string
  base: number
  readonly size: number
  readonly handler: MmioHandler
  /** Cleared when the device's PCI memory-space enable is off: the region stops decoding. */
  enabled: boolean
}

export interface BusCounters {
  unassignedReads: number
  unassignedWrites: number
  /** 8/16-bit MMIO writes: the 8254x ignores byte enables it does not support; we count them. */
  narrowMmioWrites: number
}

export type Target = 'ram' | 'mmio' | 'none'

export class SystemBus {
  readonly memory: PhysicalMemory
  readonly counters: BusCounters = { unassignedReads: 0, unassignedWrites: 0, narrowMmioWrites: 0 }
  /** The CPU's I/O port space (IN/OUT), where I/O BARs decode. */
  readonly io = new IoPortSpace()
  private readonly regions: MmioRegion[] = []

  constructor(memory: PhysicalMemory) {
    this.memory = memory
  }

  /** Registers a device window. Overlapping windows are a firmware bug; refuse them. */
  mapMmio(name: string, base: number, size: number, handler: MmioHandler): MmioRegion {
    for (const r of this.regions) {
      if (r.enabled && base < r.base + r.size && r.base < base + size) {
        throw new RangeError(`MMIO window ${name} at ${hex(base)} overlaps ${r.name} at ${hex(r.base)}`)
      }
    }
    const region: MmioRegion = { name, base, size, handler, enabled: true }
    this.regions.push(region)
    return region
  }

  unmapMmio(region: MmioRegion): void {
    const i = this.regions.indexOf(region)
    if (i >= 0) this.regions.splice(i, 1)
  }

  /** The enabled MMIO region containing `pa`, if any. */
  regionAt(pa: number): MmioRegion | undefined {
    for (const r of this.regions) {
      if (r.enabled && pa >= r.base && pa < r.base + r.size) return r
    }
    return undefined
  }

  /** What answers at `pa`. A range is RAM only if every byte of it is. */
  targetOf(pa: number, length = 1): Target {
    if (this.memory.isRam(pa, length)) return 'ram'
    if (this.regionAt(pa) !== undefined) return 'mmio'
    return 'none'
  }

  // ---- scalar access ------------------------------------------------------------------------

  read8(pa: number): number {
    if (this.memory.isRam(pa)) return this.memory.read8(pa)
    return (this.mmioRead32(pa - (pa & 3)) >>> ((pa & 3) * 8)) & 0xff
  }

  read16(pa: number): number {
    if (this.memory.isRam(pa, 2)) return this.memory.read16(pa)
    return this.read8(pa) | (this.read8(pa + 1) << 8)
  }

  read32(pa: number): number {
    if (this.memory.isRam(pa, 4)) return this.memory.read32(pa)
    if ((pa & 3) === 0) return this.mmioRead32(pa)
    return (this.read16(pa) | (this.read16(pa + 2) << 16)) >>> 0
  }

  read64(pa: number): number {
    return this.read32(pa + 4) * TWO_POW_32 + this.read32(pa)
  }

  write8(pa: number, value: number): void {
    if (this.memory.isRam(pa)) return this.memory.write8(pa, value)
    this.narrowWrite(pa)
  }

  write16(pa: number, value: number): void {
    if (this.memory.isRam(pa, 2)) return this.memory.write16(pa, value)
    this.narrowWrite(pa)
  }

  write32(pa: number, value: number): void {
    if (this.memory.isRam(pa, 4)) return this.memory.write32(pa, value)
    if ((pa & 3) === 0) return this.mmioWrite32(pa, value >>> 0)
    this.narrowWrite(pa)
  }

  write64(pa: number, value: number): void {
    this.write32(pa, value >>> 0)
    this.write32(pa + 4, Math.floor(value / TWO_POW_32) >>> 0)
  }

  // ---- bulk access --------------------------------------------------------------------------

  readInto(pa: number, dst: Uint8Array, dstOffset: number, length: number): void {
    if (this.memory.isRam(pa, length)) return this.memory.readInto(pa, dst, dstOffset, length)
    for (let i = 0; i < length; i++) dst[dstOffset + i] = this.read8(pa + i)
  }

  readBytes(pa: number, length: number): Uint8Array {
    const out = new Uint8Array(length)
    this.readInto(pa, out, 0, length)
    return out
  }

  writeFrom(pa: number, src: Uint8Array, srcOffset: number, length: number): void {
    if (this.memory.isRam(pa, length)) return this.memory.writeFrom(pa, src, srcOffset, length)
    // Split at page granularity: RAM parts are written, MMIO dwords are delivered, the rest dropped.
    let done = 0
    while (done < length) {
      const at = pa + done
      const chunk = Math.min(PAGE_SIZE - (at & (PAGE_SIZE - 1)), length - done)
      if (this.memory.isRam(at, chunk)) {
        this.memory.writeFrom(at, src, srcOffset + done, chunk)
      } else {
        for (let i = 0; i < chunk; i += 4) {
          const a = at + i
          if (i + 4 <= chunk && (a & 3) === 0) {
            const o = srcOffset + done + i
            this.write32(a, (src[o]! | (src[o + 1]! << 8) | (src[o + 2]! << 16) | (src[o + 3]! << 24)) >>> 0)
          } else {
            for (let j = i; j < Math.min(i + 4, chunk); j++) this.write8(at + j, src[srcOffset + done + j]!)
          }
        }
      }
      done += chunk
    }
  }

  writeBytes(pa: number, bytes: Uint8Array): void {
    this.writeFrom(pa, bytes, 0, bytes.length)
  }

  // ---- MMIO ---------------------------------------------------------------------------------

  private mmioRead32(pa: number): number {
    const r = this.regionAt(pa)
    if (r === undefined) {
      this.counters.unassignedReads++
      return 0xffff_ffff
    }
    return r.handler.mmioRead32(pa - r.base) >>> 0
  }

  private mmioWrite32(pa: number, value: number): void {
    const r = this.regionAt(pa)
    if (r === undefined) {
      this.counters.unassignedWrites++
      return
    }
    r.handler.mmioWrite32(pa - r.base, value)
  }

  private narrowWrite(pa: number): void {
    if (this.regionAt(pa) === undefined) this.counters.unassignedWrites++
    else this.counters.narrowMmioWrites++
  }
}
