import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { GiB } from '../../src/hw/address.js'
import { PhysicalMemory, pcMemoryMap } from '../../src/hw/memory.js'

describe('sparse physical memory', () => {
  it('lays out 3 GiB below the MMIO hole and the rest from 4 GiB', () => {
    expect(pcMemoryMap(8 * GiB)).toEqual([
      { base: 0, size: 3 * GiB },
      { base: 4 * GiB, size: 5 * GiB },
    ])
    expect(pcMemoryMap(1 * GiB)).toEqual([{ base: 0, size: GiB }])
    const m = new PhysicalMemory(8 * GiB)
    expect(m.isRam(0)).toBe(true)
    expect(m.isRam(0xbfff_ffff)).toBe(true)
    expect(m.isRam(0xc000_0000)).toBe(false)
    expect(m.isRam(0xffff_fffc, 4)).toBe(false)
    expect(m.isRam(4 * GiB)).toBe(true)
    expect(m.isRam(9 * GiB - 4, 4)).toBe(true)
    expect(m.isRam(9 * GiB - 2, 4)).toBe(false)
    expect(m.top).toBe(9 * GiB)
  })

  it('never-written RAM reads as zero and costs no host memory', () => {
    const m = new PhysicalMemory(8 * GiB)
    expect(m.read64(5 * GiB + 8)).toBe(0)
    expect(m.readBytes(123_456, 9000).every((b) => b === 0)).toBe(true)
    m.fill(7 * GiB, 1 << 20, 0)
    expect(m.materializedFrames).toBe(0)
  })

  it('reads back every width little-endian, across page boundaries', () => {
    const m = new PhysicalMemory(8 * GiB)
    const pa = 4 * GiB + 4096 - 3 // a 64-bit value straddling two frames
    m.write64(pa, 0x0012_3456_789a_bcde)
    expect(m.read64(pa)).toBe(0x0012_3456_789a_bcde)
    expect(m.read8(pa)).toBe(0xde)
    expect(m.read16(pa + 1)).toBe(0x9abc)
    expect(m.read32(pa + 2)).toBe(0x3456_789a)
    expect(m.materializedFrames).toBe(2)
  })

  it('bulk reads and writes match byte-wise access at any offset and length', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 * 4096 }), fc.uint8Array({ minLength: 0, maxLength: 9000 }), (off, bytes) => {
        const m = new PhysicalMemory(64 * 1024 * 1024)
        m.writeBytes(off, bytes)
        const back = m.readBytes(off, bytes.length)
        expect(back).toEqual(bytes)
        for (let i = 0; i < bytes.length; i += 997) expect(m.read8(off + i)).toBe(bytes[i])
      }),
      { seed: 2, numRuns: 200 },
    )
  })

  it('copy behaves like memmove for overlapping ranges', () => {
    const m = new PhysicalMemory(64 * 1024 * 1024)
    const src = Uint8Array.from({ length: 10_000 }, (_, i) => i & 0xff)
    m.writeBytes(1000, src)
    m.copy(1500, 1000, 10_000)
    expect(m.readBytes(1500, 10_000)).toEqual(src)
  })

  it('keeps every frame apart whatever order frames are first written in (runs, gaps, backwards, beyond RAM)', () => {
    const MiB = 1024 * 1024
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 * 256 + 20 }), fc.integer({ min: 1, max: 40 }), fc.boolean()), { minLength: 1, maxLength: 40 }),
        (writes) => {
          const m = new PhysicalMemory(2 * MiB) // frames 512 and up lie beyond RAM
          const expected = new Map<number, number>()
          let value = 1
          for (const [first, count, backwards] of writes) {
            for (let k = 0; k < count; k++) {
              // Runs across 1 MiB boundaries, rewrites, gaps, and frames beyond RAM.
              const frame = backwards ? first + count - 1 - k : first + k
              m.write32(frame * 4096 + 8, value)
              expected.set(frame, value++)
            }
          }
          expect(m.materializedFrames).toBe(expected.size)
          for (let frame = 0; frame < 3 * 256 + 60; frame++) {
            expect(m.read32(frame * 4096 + 8)).toBe(expected.get(frame) ?? 0)
            expect(m.isMaterialized(frame)).toBe(expected.has(frame))
          }
        },
      ),
      { seed: 3, numRuns: 100 },
    )
  })

  it('a frame first written in address order joins the run of its neighbours; one written out of order still reads back', () => {
    const m = new PhysicalMemory(64 * 1024 * 1024)
    const page = new Uint8Array(4096)
    for (let f = 0; f < 300; f++) {
      page.fill(f & 0xff)
      m.writeBytes(f * 4096, page)
    }
    m.write8(1000 * 4096, 7) // a new run elsewhere
    m.write8(299 * 4096 + 1, 9) // inside the run: no new frame
    m.write8(100 * 4096 + 4096 * 400, 5) // out of order in the second 1 MiB: becomes a leaf
    expect(m.materializedFrames).toBe(302)
    for (let f = 0; f < 300; f++) expect(m.read8(f * 4096 + 5)).toBe(f & 0xff)
    expect(m.read8(299 * 4096 + 1)).toBe(9)
    expect(m.read8(1000 * 4096)).toBe(7)
    expect(m.read8(500 * 4096)).toBe(5)
    expect(m.read8(301 * 4096)).toBe(0)
  })
})
