// The x86 machine: 32-bit Windows with PAE (the machine C drivers run on). Kernel VAs live in the
// upper 2 GiB, physical memory above 4 GiB is still there, and the pool keeps 32-bit Windows'
// rules: an 8-byte POOL_HEADER and 8-byte granularity (seed 002: "The pool header is 8 bytes long
// on 32-bit systems and 16-bytes long on 64-bit systems"; S09 and S22 read for 32 bits).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DRIVER_IMAGE_BASE, DRIVER_IMAGE_END, X86_HAL_RESERVED } from '../../src/kernel/arch.js'
import { POOL_HEADER_X86 } from '../../src/kernel/pool-header.js'
import { createMachine } from '../../src/index.js'
import { bugCheckOf, fixture, page } from './kernel-fixture.js'

describe('the x86 (PAE) machine', () => {
  it('S09 (x86) a request up to PAGE_SIZE - 8 gets exactly its bytes, 8-byte aligned, never crossing a page', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4088 }), { minLength: 1, maxLength: 60 }), (sizes) => {
        const { m, k } = fixture({ arch: 'x86', memory: { size: '64MiB' } })
        const blocks = sizes.map((bytes) => ({ bytes, va: k.ExAllocatePoolWithTag(k.NonPagedPoolNx, bytes, 'tseT') }))
        const taken: Array<[number, number]> = []
        for (const { bytes, va } of blocks) {
          expect(va % 8).toBe(0)
          expect(page(va)).toBe(page(va + bytes - 1))
          expect(m.kernel.pool.blockAt(va)).toMatchObject({ bytes, kind: 'small' })
          m.kernel.memory.fill(va, bytes, 0x5a)
          taken.push([va, va + bytes])
        }
        taken.sort((a, b) => a[0] - b[0])
        for (let i = 1; i < taken.length; i++) expect(taken[i]![0]).toBeGreaterThanOrEqual(taken[i - 1]![1] + 8) // an 8-byte header between
        for (const { va } of blocks) k.ExFreePoolWithTag(va, 'tseT')
        expect(m.findings).toEqual([])
      }),
      { seed: 9, numRuns: 30 },
    )
  })

  it('S09 (x86) blocks are 8-byte granular: two 8-byte blocks sit 16 bytes apart, not 32 as on x64', () => {
    const x86 = fixture({ arch: 'x86' })
    const a = x86.k.ExAllocatePoolWithTag(x86.k.NonPagedPoolNx, 8, 'tseT')
    const b = x86.k.ExAllocatePoolWithTag(x86.k.NonPagedPoolNx, 8, 'tseT')
    expect(b - a).toBe(16)
    const x64 = fixture()
    const c = x64.k.ExAllocatePoolWithTag(x64.k.NonPagedPoolNx, 8, 'tseT')
    const d = x64.k.ExAllocatePoolWithTag(x64.k.NonPagedPoolNx, 8, 'tseT')
    expect(d - c).toBe(32)
  })

  it('S22 (x86) the 8-byte pool header sits in front of a small block and counts in the small/large threshold', () => {
    const { m, k } = fixture({ arch: 'x86' })
    const small = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 4088, 'tseT')
    const large = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 4089, 'tseT')
    expect(small % 4096).toBe(8) // the header takes the first 8 bytes of its page
    expect(large % 4096).toBe(0)
    expect(m.kernel.pool.blockAt(large)!.kind).toBe('large')
    const header = POOL_HEADER_X86.read(m.ram, k.MmGetPhysicalAddress(small) - 8)
    expect(header).toMatchObject({ blockSize: 512, type: 1, intact: true })
    // S19 on x86: the tag is the header's second ULONG, its bytes read "Test".
    expect(new TextDecoder().decode(m.kernel.memory.readBytes(small - 4, 4))).toBe('Test')
  })

  it('S22 (x86) a write one byte past a block lands in the next block\'s 8-byte header and is found at free', () => {
    const { m, k } = fixture({ arch: 'x86' })
    const a = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 24, 'tseT')
    k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 24, 'tseT')
    m.kernel.memory.write8(a + 24, 0xee) // 24 is a multiple of 8: no slack, the next header
    const stop = bugCheckOf(() => k.ExFreePoolWithTag(a, 'tseT'))
    expect(stop.kind).toBe('pool-overrun')
    expect(m.findings.at(-1)?.message).toContain('pool header of the next block')
  })

  it('hands out kernel VAs in the upper 2 GiB, above the driver image and below the HAL, and frames above 4 GiB (PAE)', () => {
    const { m, k } = fixture({ arch: 'x86', memory: { size: '8GiB', policy: 'high-first' } })
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 10_000, 'giB ')
    expect(va).toBeGreaterThanOrEqual(DRIVER_IMAGE_END)
    expect(va + 10_000).toBeLessThanOrEqual(X86_HAL_RESERVED)
    expect(k.MmGetPhysicalAddress(va)).toBeGreaterThanOrEqual(2 ** 32)
    expect(m.kernel.space.stateOf(DRIVER_IMAGE_BASE)).toBe('unmapped')
    expect(m.kernel.space.stateOf(0x7fff_f000)).toBe('outside') // user space
    expect(m.kernel.space.stateOf(0x0000_1000)).toBe('null')
  })

  it('runs a TypeScript miniport (the bundled e1000) clean, as on x64', async () => {
    const m = createMachine({ arch: 'x86', wire: 'loopback' })
    const loaded = await m.load('e1000')
    expect(loaded.state).toBe('running')
    m.traffic.send({ count: 50, size: 1500 })
    m.halt()
    const report = m.report()
    expect(report.outcome).toBe('clean')
    expect(report.traffic.rxFrames).toBe(50)
    expect(report.config.arch).toBe('x86')
  })
})
