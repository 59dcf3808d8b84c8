// The x86 I/O port space: 64 Ki byte-addressed ports, reached with IN and OUT of 1, 2 or 4
// bytes. A PCI function's I/O BAR claims a window of it once firmware assigned the BAR and
// COMMAND.IO is set (PCI 3.0 6.2.2, 6.2.5.1); a port nobody claims reads all-ones and a write
// to it is dropped (master abort), as on a PC.

export const IO_SPACE_SIZE = 0x1_0000

export type IoSize = 1 | 2 | 4

/** A device's I/O window. The access size matters: devices honour byte enables (or ignore narrow writes). */
export interface IoHandler {
  ioRead(offset: number, size: IoSize): number
  ioWrite(offset: number, size: IoSize, value: number): void
}

export interface IoRegion {
  readonly name: string
  base: number
  readonly size: number
  readonly handler: IoHandler
  /** Cleared while the function's COMMAND.IO is off or its BAR is unassigned. */
  enabled: boolean
}

export class IoPortSpace {
  readonly counters = { unassignedReads: 0, unassignedWrites: 0 }
  private readonly regions: IoRegion[] = []

  /** Registers a window (disabled until its owner enables it). */
  map(name: string, size: number, handler: IoHandler): IoRegion {
    const region: IoRegion = { name, base: 0, size, handler, enabled: false }
    this.regions.push(region)
    return region
  }

  in8(port: number): number {
    return this.read(port, 1)
  }

  in16(port: number): number {
    return this.read(port, 2)
  }

  in32(port: number): number {
    return this.read(port, 4)
  }

  out8(port: number, value: number): void {
    this.write(port, 1, value)
  }

  out16(port: number, value: number): void {
    this.write(port, 2, value)
  }

  out32(port: number, value: number): void {
    this.write(port, 4, value)
  }

  private regionAt(port: number, size: IoSize): IoRegion | undefined {
    for (const r of this.regions) if (r.enabled && port >= r.base && port + size <= r.base + r.size) return r
    return undefined
  }

  private read(port: number, size: IoSize): number {
    checkPort(port, size)
    const r = this.regionAt(port, size)
    if (r === undefined) {
      this.counters.unassignedReads++
      return size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff
    }
    const value = r.handler.ioRead(port - r.base, size)
    return size === 4 ? value >>> 0 : value & (size === 2 ? 0xffff : 0xff)
  }

  private write(port: number, size: IoSize, value: number): void {
    checkPort(port, size)
    const r = this.regionAt(port, size)
    if (r === undefined) {
      this.counters.unassignedWrites++
      return
    }
    r.handler.ioWrite(port - r.base, size, size === 4 ? value >>> 0 : value & (size === 2 ? 0xffff : 0xff))
  }
}

/** A port outside the 64 KiB space is misuse of the host API, not guest input. */
function checkPort(port: number, size: IoSize): void {
  if (!Number.isInteger(port) || port < 0 || port + size > IO_SPACE_SIZE) {
    throw new RangeError(`I/O port ${port} (+${size}) is not within the 64 KiB port space`)
  }
}
