import { describe, expect, it } from 'vitest'
import { LOOKASIDE_LIST_BYTES, LOOKASIDE_MAXIMUM_DEPTH, LOOKASIDE_MISUSE } from '../../src/kernel/lookaside.js'
import { tagValue } from '../../src/kernel/tags.js'
import { NtStatusError } from '../../src/kernel/wdm.js'
import { fixture, type Fixture } from './kernel-fixture.js'

/** A device extension in nonpaged pool, with room for a list head, as a driver would have. */
function extension(f: Fixture, poolType = 0): number {
  return f.k.ExAllocatePoolWithTag(poolType, 256, 'txeD')
}

describe('lookaside lists', () => {
  it('S24 initialize / allocate / free / delete a nonpaged list: LIFO, entries are pool blocks with the list tag', () => {
    const f = fixture()
    const { m, k } = f
    const head = extension(f)
    k.ExInitializeNPagedLookasideList(head, null, null, 0, 1514, 'NicL', 0)
    const a = k.ExAllocateFromNPagedLookasideList(head)
    const b = k.ExAllocateFromNPagedLookasideList(head)
    expect(a).toBeGreaterThan(0)
    expect(m.kernel.pool.blockAt(a)).toMatchObject({ bytes: 1514, tag: tagValue('NicL') })
    k.ExFreeToNPagedLookasideList(head, a)
    k.ExFreeToNPagedLookasideList(head, b)
    expect(k.ExAllocateFromNPagedLookasideList(head)).toBe(b) // last in, first out
    expect(k.ExAllocateFromNPagedLookasideList(head)).toBe(a)
    expect(m.kernel.pool.tracker.usage(tagValue('NicL')).allocs).toBe(2) // served from the list, not the pool
    // The head holds the GENERAL_LOOKASIDE fields: Tag at 0x28, Size at 0x2C, TotalAllocates at 0x14.
    expect(m.kernel.memory.read32(head + 0x28)).toBe(tagValue('NicL'))
    expect(m.kernel.memory.read32(head + 0x2c)).toBe(1514)
    expect(m.kernel.memory.read32(head + 0x14)).toBe(4)
    k.ExFreeToNPagedLookasideList(head, a)
    k.ExFreeToNPagedLookasideList(head, b)
    k.ExDeleteNPagedLookasideList(head) // Delete frees what the list still holds
    expect(m.kernel.pool.tracker.usage(tagValue('NicL'))).toEqual({ allocs: 2, frees: 2, bytesOutstanding: 0 })
    expect(m.findings).toEqual([])
  })

  it('S24 paged lists work the same way, from paged pool, at or below APC_LEVEL', () => {
    const f = fixture()
    const head = extension(f)
    f.k.ExInitializePagedLookasideList(head, null, null, 0, 200, 'gaPL', 0)
    const e = f.k.ExAllocateFromPagedLookasideList(head)
    expect(f.m.kernel.pool.blockAt(e)!.paged).toBe(true)
    f.k.ExFreeToPagedLookasideList(head, e)
    f.k.ExDeletePagedLookasideList(head)
    expect(f.m.findings).toEqual([])
  })

  it('S24 allocation can return NULL (fault injection), and the driver\'s own Allocate/Free routines are used', () => {
    const f = fixture({ faults: 'routine=ExAllocateFromNPagedLookasideList,nth=2' })
    const { k } = f
    const calls: string[] = []
    const head = extension(f)
    k.ExInitializeNPagedLookasideList(
      head,
      (type, bytes, tag) => {
        calls.push(`alloc ${type} ${bytes} ${tag.toString(16)}`)
        return k.ExAllocatePoolWithTag(type, bytes, tag)
      },
      (buffer) => {
        calls.push('free')
        k.ExFreePool(buffer)
      },
      0, 64, 'tsuC', 0,
    )
    const a = k.ExAllocateFromNPagedLookasideList(head)
    expect(k.ExAllocateFromNPagedLookasideList(head)).toBe(0)
    k.ExFreeToNPagedLookasideList(head, a)
    k.ExDeleteNPagedLookasideList(head)
    expect(calls).toEqual([`alloc 0 64 ${tagValue('tsuC').toString(16)}`, 'free'])
  })

  it('S24 a full list hands frees back to pool; POOL_RAISE_IF_ALLOCATION_FAILURE raises instead of returning NULL', () => {
    const f = fixture({ faults: 'routine=ExAllocateFromNPagedLookasideList,nth=1' })
    const { m, k } = f
    const head = extension(f)
    k.ExInitializeNPagedLookasideList(head, null, null, k.POOL_RAISE_IF_ALLOCATION_FAILURE, 32, 'esiR', 0)
    expect(() => k.ExAllocateFromNPagedLookasideList(head)).toThrow(NtStatusError)
    const entries = Array.from({ length: LOOKASIDE_MAXIMUM_DEPTH + 5 }, () => k.ExAllocateFromNPagedLookasideList(head))
    for (const e of entries) k.ExFreeToNPagedLookasideList(head, e)
    expect(m.kernel.lookaside.at(head)!.entries).toHaveLength(LOOKASIDE_MAXIMUM_DEPTH)
    expect(m.kernel.pool.tracker.usage(tagValue('esiR')).frees).toBe(5)
  })

  it('S24 Flags and Depth must be 0 (Windows 8 allows POOL_NX_ALLOCATION and POOL_RAISE_IF_ALLOCATION_FAILURE in Flags)', () => {
    const f = fixture()
    const head = extension(f)
    f.k.ExInitializeNPagedLookasideList(head, null, null, f.k.POOL_NX_ALLOCATION, 64, 'galF', 0)
    expect(f.m.findings).toEqual([])
    f.k.ExDeleteNPagedLookasideList(head)
    f.k.ExInitializeNPagedLookasideList(head, null, null, 0x4, 64, 'galF', 0)
    f.k.ExDeleteNPagedLookasideList(head)
    f.k.ExInitializeNPagedLookasideList(head, null, null, 0, 64, 'galF', 16)
    expect(f.m.findings.map((x) => [x.kind, x.params?.[0]])).toEqual([
      ['lookaside-misuse', LOOKASIDE_MISUSE.RESERVED_NOT_ZERO],
      ['lookaside-misuse', LOOKASIDE_MISUSE.RESERVED_NOT_ZERO],
    ])
  })

  it('S28 a list head in paged pool is a finding, even for a paged list', () => {
    for (const paged of [false, true]) {
      const f = fixture()
      const head = extension(f, f.k.PagedPool)
      if (paged) f.k.ExInitializePagedLookasideList(head, null, null, 0, 64, 'daeH', 0)
      else f.k.ExInitializeNPagedLookasideList(head, null, null, 0, 64, 'daeH', 0)
      expect(f.m.findings).toHaveLength(1)
      expect(f.m.findings[0]).toMatchObject({ kind: 'lookaside-misuse', params: [LOOKASIDE_MISUSE.HEAD_PAGEABLE, head, paged ? 1 : 0, 0] })
      expect(f.m.findings[0]!.message).toMatch(/must be nonpaged/)
    }
  })

  it('the head must be writable memory: a wild head faults at initialization', () => {
    const f = fixture()
    expect(() => f.k.ExInitializeNPagedLookasideList(0x20, null, null, 0, 64, 'dliW', 0)).toThrow(/PAGE_FAULT_IN_NONPAGED_AREA/)
  })

  it('an entry written after it was freed to the list is seen at the next allocation', () => {
    const f = fixture()
    const head = extension(f)
    f.k.ExInitializeNPagedLookasideList(head, null, null, 0, 64, 'FAU ', 0)
    const a = f.k.ExAllocateFromNPagedLookasideList(head)
    const b = f.k.ExAllocateFromNPagedLookasideList(head)
    f.k.ExFreeToNPagedLookasideList(head, a)
    f.k.ExFreeToNPagedLookasideList(head, b)
    f.m.kernel.memory.write64(b, 0x1234) // use after free: the link to `a` is gone
    expect(f.k.ExAllocateFromNPagedLookasideList(head)).toBe(b)
    expect(f.m.findings[0]).toMatchObject({ kind: 'lookaside-misuse', params: [LOOKASIDE_MISUSE.ENTRY_MODIFIED, head, b, 0] })
    expect(f.k.ExAllocateFromNPagedLookasideList(head)).toBe(a) // the list itself is intact
  })

  it('the list head takes sizeof(NPAGED_LOOKASIDE_LIST) bytes and must be 16-byte aligned', () => {
    const f = fixture()
    const head = extension(f)
    f.k.ExInitializeNPagedLookasideList(head + 8, null, null, 0, 64, 'ngiA', 0)
    expect(f.m.findings[0]).toMatchObject({ kind: 'lookaside-misuse', params: [LOOKASIDE_MISUSE.HEAD_MISALIGNED, head + 8, 0, 0] })
    expect(LOOKASIDE_LIST_BYTES).toBe(0x80)
  })

  // WDK ExInitializeNPagedLookasideList: "On 64-bit platforms, this structure must be 16-byte
  // aligned"; 32-bit Windows' SLIST_HEADER is 8 bytes, and its pool blocks are 8-byte aligned.
  it('on x86 the list head needs 8-byte alignment, not 16: a pool block (8-aligned) is a valid head, 4 bytes off is not', () => {
    const f = fixture({ arch: 'x86' })
    const head = extension(f)
    expect(head % 16).toBe(8) // the x86 pool's header is 8 bytes: this block is not 16-aligned
    f.k.ExInitializeNPagedLookasideList(head, null, null, 0, 64, 'ngiA', 0)
    expect(f.m.findings).toEqual([])
    const other = extension(f)
    f.k.ExInitializeNPagedLookasideList(other + 4, null, null, 0, 64, 'ngiA', 0)
    expect(f.m.findings[0]).toMatchObject({ kind: 'lookaside-misuse', params: [LOOKASIDE_MISUSE.HEAD_MISALIGNED, other + 4, 0, 0] })
    expect(f.m.findings[0]!.message).toMatch(/must be 8-byte aligned on 32-bit Windows/)
  })
})
