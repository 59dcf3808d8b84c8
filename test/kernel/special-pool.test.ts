import { describe, expect, it } from 'vitest'
import { FILL_UNINITIALIZED } from '../../src/kernel/fill-patterns.js'
import { bugCheckOf, fixture, page } from './kernel-fixture.js'

const special = { verifier: { specialPool: true } } as const

describe('special pool (verifier option)', () => {
  it('puts each small block alone at the end of its page, 16-byte aligned, between guard pages', () => {
    const { m, k } = fixture(special)
    const a = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 48, 'lpsS')
    const b = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 20, 'lpsS')
    expect(page(a)).not.toBe(page(b))
    expect(a % 4096).toBe(4096 - 48)
    expect(b % 4096).toBe(4096 - 32) // 20 rounded up to 16 bytes: 12 bytes of slack before the page end
    expect(m.kernel.space.stateOf(a + 48)).toBe('guard')
    expect(m.kernel.space.stateOf(a - (a % 4096) - 1)).toBe('guard')
    expect(m.kernel.memory.read8(a)).toBe(FILL_UNINITIALIZED)
    expect(m.kernel.pool.blockAt(a)!.kind).toBe('special')
  })

  it('reading one byte past the end faults at once: pool-overrun, bug check 0xD6, naming the block', () => {
    const { m, k } = fixture(special)
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'nurO')
    m.kernel.memory.write8(va + 63, 1)
    const b = bugCheckOf(() => m.kernel.memory.read8(va + 64))
    expect(b.code).toBe(0xd6)
    expect(b.params).toEqual([va + 64, 0, 0, 0])
    const f = m.findings.at(-1)!
    expect(f.kind).toBe('pool-overrun')
    expect(f.message).toMatch(/special pool block 'Orun' \(64 bytes\), allocated at test\/kernel\/special-pool\.test\.ts:\d+/)
  })

  it('a write into the slack after the end is found at free: 0xC1 with parameter 4 = 0x24', () => {
    const { m, k } = fixture(special)
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 20, 'nurO')
    m.kernel.memory.write8(va + 21, 0)
    const b = bugCheckOf(() => k.ExFreePool(va))
    expect(b.code).toBe(0xc1)
    expect(b.params).toEqual([va, va + 21, 0, 0x24])
  })

  it('an underrun into the pattern before the block is found at free: 0xC1 with parameter 4 = 0x23', () => {
    const { m, k } = fixture(special)
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 100, 'nudU')
    m.kernel.memory.write32(va - 8, 0)
    const b = bugCheckOf(() => k.ExFreePoolWithTag(va, 'nudU'))
    expect(b.code).toBe(0xc1)
    expect(b.params).toEqual([va, va - 8, 0, 0x23])
  })

  it('XxxSpecialPoolUnderrun puts the block at the page start: an underrun faults at once, an overrun is found at free', () => {
    const { m, k } = fixture(special)
    const va = k.ExAllocatePoolWithTagPriority(k.NonPagedPoolNx, 40, 'nudU', k.NormalPoolPrioritySpecialPoolUnderrun)
    expect(va % 4096).toBe(0)
    expect(bugCheckOf(() => m.kernel.memory.read8(va - 1)).code).toBe(0xd6)
    const { m: m2, k: k2 } = fixture(special)
    const vb = k2.ExAllocatePoolWithTagPriority(k2.NonPagedPoolNx, 40, 'nudU', k2.HighPoolPrioritySpecialPoolUnderrun)
    m2.kernel.memory.write8(vb + 40, 9)
    expect(bugCheckOf(() => k2.ExFreePool(vb)).params).toEqual([vb, vb + 40, 0, 0x24])
  })

  // Bug check 0xD5 DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL reference: special pool caught the
  // driver touching memory it had freed (p1 address, p2 0 read / 1 write).
  it('use after free of a special-pool block is 0xD5, even a single byte', () => {
    const { m, k } = fixture(special)
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 8, 'eerF')
    k.ExFreePool(va)
    const b = bugCheckOf(() => m.kernel.memory.write8(va, 1))
    expect(b.code).toBe(0xd5)
    expect(b.name).toBe('DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL')
    expect(b.params).toEqual([va, 1, 0, 0])
    expect(m.findings.at(-1)!.message).toMatch(/freed nonpaged pool block 'Free' \(8 bytes\) \(special pool\)/)
  })

  it('clean use frees cleanly; blocks too big for a special page come from the normal pool', () => {
    const { m, k } = fixture(special)
    const va = k.ExAllocatePoolWithTag(k.PagedPool, 4000, 'naeC')
    m.kernel.memory.fill(va, 4000, 1)
    k.ExFreePool(va)
    const big = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 4090, 'naeC')
    expect(m.kernel.pool.blockAt(big)!.kind).toBe('large')
    expect(m.findings).toEqual([])
  })

  it('POOL_FLAG_SPECIAL_POOL asks for special pool even with the verifier option off; system allocations never get it', () => {
    const { m, k } = fixture()
    const va = k.ExAllocatePool2(k.POOL_FLAG_NON_PAGED + k.POOL_FLAG_SPECIAL_POOL, 24, 'lpsS') // above bit 31: add, JavaScript's | is 32-bit
    expect(m.kernel.pool.blockAt(va)!.kind).toBe('special')
    const { m: m2 } = fixture(special)
    const sys = m2.kernel.pool.allocate(0, 24, 0x1234, { driver: false })
    expect(m2.kernel.pool.blockAt(sys)!.kind).toBe('small')
  })
})
