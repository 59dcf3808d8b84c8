import { describe, expect, it } from 'vitest'
import { GiB } from '../../src/hw/address.js'
import { SystemBus, type MmioHandler } from '../../src/hw/bus.js'
import { PhysicalMemory } from '../../src/hw/memory.js'

class Regs implements MmioHandler {
  readonly values = new Map<number, number>()
  readonly log: string[] = []
  mmioRead32(offset: number): number {
    this.log.push(`r${offset}`)
    return this.values.get(offset) ?? 0
  }
  mmioWrite32(offset: number, value: number): void {
    this.log.push(`w${offset}=${value.toString(16)}`)
    this.values.set(offset, value)
  }
}

describe('system bus', () => {
  it('routes RAM, device MMIO and nothing', () => {
    const bus = new SystemBus(new PhysicalMemory(8 * GiB))
    const regs = new Regs()
    bus.mapMmio('nic', 0xfebc_0000, 0x2_0000, regs)
    bus.write32(0x1000, 0xdead_beef)
    expect(bus.read32(0x1000)).toBe(0xdead_beef)
    bus.write32(0xfebc_0008, 0x1234)
    expect(regs.values.get(8)).toBe(0x1234)
    expect(bus.read32(0xfebc_0008)).toBe(0x1234)
    expect(bus.targetOf(0x1000)).toBe('ram')
    expect(bus.targetOf(0xfebc_0000)).toBe('mmio')
    expect(bus.targetOf(0xd000_0000)).toBe('none')
  })

  it('reads nothing as all-ones and counts dropped writes', () => {
    const bus = new SystemBus(new PhysicalMemory(8 * GiB))
    expect(bus.read32(0xd000_0000)).toBe(0xffff_ffff)
    expect(bus.read8(0xd000_0001)).toBe(0xff)
    expect(bus.read64(20 * GiB)).toBe(0xffff_ffff * 4294967296 + 0xffff_ffff)
    bus.write32(0xd000_0000, 1)
    bus.write8(20 * GiB, 1)
    expect(bus.counters.unassignedWrites).toBe(2)
    expect(bus.counters.unassignedReads).toBeGreaterThan(0)
  })

  it('composes narrow MMIO reads from the 32-bit register and counts narrow writes', () => {
    const bus = new SystemBus(new PhysicalMemory(GiB))
    const regs = new Regs()
    bus.mapMmio('dev', 0xfe00_0000, 0x1000, regs)
    regs.values.set(4, 0x1122_3344)
    expect(bus.read8(0xfe00_0005)).toBe(0x33)
    expect(bus.read16(0xfe00_0006)).toBe(0x1122)
    bus.write8(0xfe00_0004, 0xff)
    expect(bus.counters.narrowMmioWrites).toBe(1)
    expect(regs.values.get(4)).toBe(0x1122_3344)
  })

  it('a bulk write spanning RAM and the hole writes the RAM part and drops the rest', () => {
    const bus = new SystemBus(new PhysicalMemory(8 * GiB))
    const bytes = new Uint8Array(8192).fill(7)
    bus.writeBytes(0xc000_0000 - 4096, bytes)
    expect(bus.read8(0xc000_0000 - 1)).toBe(7)
    expect(bus.read8(0xc000_0000)).toBe(0xff)
    expect(bus.counters.unassignedWrites).toBe(1024)
  })

  it('refuses overlapping MMIO windows (a firmware bug, not guest input)', () => {
    const bus = new SystemBus(new PhysicalMemory(GiB))
    bus.mapMmio('a', 0xfe00_0000, 0x2000, new Regs())
    expect(() => bus.mapMmio('b', 0xfe00_1000, 0x1000, new Regs())).toThrow(/overlaps/)
  })
})
