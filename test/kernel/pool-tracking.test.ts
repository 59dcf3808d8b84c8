import { describe, expect, it } from 'vitest'
import { BugCheck } from '../../src/index.js'
import { bugCheckOf, fixture } from './kernel-fixture.js'

describe('pool tracking', () => {
  it('S19 counts allocations, frees and bytes outstanding per tag, tags in reading order', () => {
    const { m, k } = fixture()
    const a = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 256, 'tseT')
    k.ExAllocatePoolWithTag(k.PagedPool, 100, 'tseT')
    k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 8192, ' xR1')
    k.ExFreePoolWithTag(a, 'tseT')
    k.ExAllocatePool(k.NonPagedPool, 10)
    expect(m.kernel.pool.tracker.byTag()).toEqual({
      '1Rx ': { allocs: 1, frees: 0, bytesOutstanding: 8192 },
      None: { allocs: 1, frees: 0, bytesOutstanding: 10 },
      Test: { allocs: 2, frees: 1, bytesOutstanding: 100 },
    })
  })

  it('S19 the poolmon-style dump shows tags as they read, by type, largest outstanding first', () => {
    const { m, k } = fixture()
    k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 300, 'tseT')
    k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 300, 'tseT')
    k.ExAllocatePoolWithTag(k.PagedPool, 40, 'tseT')
    k.ExFreePool(k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 5000, 'giBx'))
    expect(m.kernel.pool.tracker.dump().split('\n')).toEqual([
      ' Tag   Type      Allocs     Frees      Diff       Bytes   Per Alloc',
      ' Test  Nonp           2         0         2         600         300',
      ' Test  Paged          1         0         1          40          40',
      ' xBig  Nonp           1         1         0           0           0',
      ' Total outstanding                                         640',
    ])
  })

  it('S23 unloading with allocations outstanding: one pool-leak per block with tag, size and allocating line, under 0xC4/0x62', () => {
    const { m, k } = fixture()
    const kept = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 128, 'kaeL')
    const freed = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'kaeL')
    k.ExAllocatePoolWithTag(k.PagedPool, 9000, ' giB')
    k.ExFreePool(freed)
    m.kernel.pool.allocate(k.NonPagedPool, 32, 0x1234, { driver: false }) // the system's own: not the driver's leak
    const summary = m.kernel.checkLeaks('leaky.sys')
    expect(summary).toMatchObject({ poolBlocks: 2, poolBytes: 9128, otherAllocations: 0 })
    const leaks = m.findings.filter((f) => f.kind === 'pool-leak')
    expect(leaks).toHaveLength(2)
    for (const f of leaks) {
      expect(f).toMatchObject({ severity: 'violation', code: 0xc4, params: [0x62, 0, 0, 2] })
      expect(f.site).toMatch(/^test\/kernel\/pool-tracking\.test\.ts:\d+$/)
    }
    expect(leaks[0]!.details).toMatchObject({ tag: 'Leak', bytes: 128, address: kept, paged: false })
    expect(leaks[1]!.details).toMatchObject({ tag: 'Big ', bytes: 9000, paged: true })
    expect(leaks[0]!.message).toMatch(/leaky\.sys unloaded without freeing it: pool leak 1 of 2: nonpaged pool block 'Leak' \(128 bytes\) at 0x.*, allocated at test\/kernel\/pool-tracking\.test\.ts:\d+/)
    expect(summary.lines[0]).toBe('leaky.sys unloaded with 2 pool allocations (9128 bytes) not freed (0xC4/0x62)')
  })

  it('S23 in crash mode the unload stops with 0xC4/0x62 and the leak count, every leak still listed', () => {
    const { m, k } = fixture({ verifier: { mode: 'crash' } })
    for (let i = 0; i < 3; i++) k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 16, 'kaeL')
    const b = bugCheckOf(() => m.kernel.checkLeaks('leaky.sys'))
    expect(b.code).toBe(0xc4)
    expect(b.params).toEqual([0x62, 0, 0, 3])
    expect(m.findings.filter((f) => f.kind === 'pool-leak')).toHaveLength(3)
  })

  it('S23 leaks of memory that is not pool are reported too: contiguous, noncached, pages for an MDL, mapping addresses, MDLs', () => {
    const { m, k } = fixture()
    k.MmAllocateContiguousMemory(8192, 0xffff_ffff)
    k.MmAllocateNonCachedMemory(100)
    k.MmAllocatePagesForMdl(0, 0xffff_ffff, 0, 3 * 4096)
    k.MmAllocateMappingAddress(4096, 'paMR')
    const summary = m.kernel.checkLeaks('leaky.sys')
    expect(summary.otherAllocations).toBe(4)
    expect(m.findings.filter((f) => f.kind === 'memory-leak').map((f) => f.details?.['memory'])).toEqual(['contiguous', 'noncached', 'mdl-pages', 'mapping-address'])
    // The MDL that describes the pages is itself pool, tagged "Mdl ".
    expect(m.findings.filter((f) => f.kind === 'pool-leak').map((f) => f.details?.['tag'])).toEqual(['Mdl '])
  })

  it('a driver that frees everything unloads clean', () => {
    const { m, k } = fixture()
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 100, 'naeC')
    const c = k.MmAllocateContiguousMemory(4096, 0xffff_ffff)
    k.ExFreePool(va)
    k.MmFreeContiguousMemory(c)
    expect(m.kernel.checkLeaks('clean.sys')).toMatchObject({ poolBlocks: 0, otherAllocations: 0, lines: [] })
    expect(m.findings).toEqual([])
  })

  it('a leak\'s site is the lookaside call that last handed the block out', () => {
    const { m, k } = fixture()
    const head = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 128, 'daeH')
    k.ExInitializeNPagedLookasideList(head, null, null, 0, 64, 'kaeL', 0)
    k.ExFreeToNPagedLookasideList(head, k.ExAllocateFromNPagedLookasideList(head))
    const line = new Error().stack!.split('\n')[1]!.match(/:(\d+):\d+\)?$/)![1]!
    k.ExAllocateFromNPagedLookasideList(head)
    k.ExDeleteNPagedLookasideList(head)
    k.ExFreePool(head)
    expect(() => m.kernel.checkLeaks('x')).not.toThrow(BugCheck)
    expect(m.findings.map((f) => f.site)).toEqual([`test/kernel/pool-tracking.test.ts:${Number(line) + 1}`])
  })
})
