// IoBuildPartialMdl, the ExInitializeLookasideListEx family and ExFreePool2 against their WDK
// pages. IoBuildPartialMdl: "a proper subrange of the buffer that is described by SourceMdl. If
// Length is zero, the subrange ... includes the remaining range"; "The physical pages that the
// source MDL describes must be locked"; "If the original MDL was already mapped in system space,
// the partial MDL shares that mapping" (invalid parameters: bug check 0xC4/0x16).
// ExInitializeLookasideListEx: STATUS_INVALID_PARAMETER_4 for a bad PoolType, _5 for bad Flags;
// EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL ORs POOL_RAISE_IF_ALLOCATION_FAILURE into the
// PoolType the LookasideListAllocateEx routine receives; a list not deleted at unload is bug
// check 0xCE. ExFreePool2 frees ExAllocatePool2 memory; its Tag must be the allocation's
// (BAD_POOL_CALLER 0xC2/0x0A, as ExFreePoolWithTag).
import { describe, expect, it } from 'vitest'
import { tagValue } from '../../src/kernel/tags.js'
import { kinds, loadTestMiniport, theFinding } from '../support/driver-fixture.js'

const PAGE = 4096

describe('IoBuildPartialMdl', () => {
  it('describes a subrange of a locked source with the source\'s pages, shares its mapping, and is MDL_PARTIAL', () => {
    const { ndis, m } = loadTestMiniport()
    const va = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 3 * PAGE, 'crsS')
    const source = ndis.IoAllocateMdl(va, 3 * PAGE)!
    ndis.MmBuildMdlForNonPagedPool(source)
    const target = ndis.IoAllocateMdl(va + 3000, 3000)!
    ndis.IoBuildPartialMdl(source, target, va + 3000, 3000)
    expect(target.PfnArray).toEqual(source.PfnArray.slice(0, 2))
    expect(ndis.MmGetMdlVirtualAddress(target)).toBe(va + 3000)
    expect(ndis.MmGetMdlByteCount(target)).toBe(3000)
    expect(target.MdlFlags & ndis.MDL_PARTIAL).toBe(ndis.MDL_PARTIAL)
    expect(ndis.MmGetSystemAddressForMdlSafe(target, ndis.NormalPagePriority)).toBe(va + 3000)
    // Length 0: the rest of the source's buffer.
    const rest = ndis.IoAllocateMdl(va + 100, 3 * PAGE - 100)!
    ndis.IoBuildPartialMdl(source, rest, va + 100, 0)
    expect(ndis.MmGetMdlByteCount(rest)).toBe(3 * PAGE - 100)
    expect(kinds(m)).toEqual([])
  })

  it('a subrange outside the source, an unlocked source and a target too small are 0xC4/0x16, and nothing is built', () => {
    const { ndis, m } = loadTestMiniport()
    const va = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 2 * PAGE, 'crsS')
    const source = ndis.IoAllocateMdl(va, 2 * PAGE)!
    const target = ndis.IoAllocateMdl(va, 100)!
    ndis.IoBuildPartialMdl(source, target, va, 100) // not locked
    ndis.MmBuildMdlForNonPagedPool(source)
    ndis.IoBuildPartialMdl(source, target, va + 2 * PAGE - 50, 100) // beyond the end
    ndis.IoBuildPartialMdl(source, target, va + 100, 2 * PAGE - 200) // two pages into a one-page target
    expect(m.findings.map((f) => [f.kind, f.code, f.params?.[0]])).toEqual([['mdl-misuse', 0xc4, 0x16], ['mdl-misuse', 0xc4, 0x16], ['mdl-misuse', 0xc4, 0x16]])
    expect(m.findings.map((f) => f.message)).toEqual([
      expect.stringContaining('not locked'), expect.stringContaining('not a subrange'), expect.stringContaining('at most 1 pages'),
    ])
    expect(target.MdlFlags & ndis.MDL_PARTIAL).toBe(0)
  })

  it('works on MmAllocatePagesForMdl pages (their MDL is locked by construction)', () => {
    const { ndis, m } = loadTestMiniport()
    const source = ndis.MmAllocatePagesForMdl(0, 0xffff_ffff, 0, 2 * PAGE)!
    const start = ndis.MmGetMdlVirtualAddress(source)
    const target = ndis.IoAllocateMdl(start + PAGE, PAGE)!
    ndis.IoBuildPartialMdl(source, target, start + PAGE, PAGE)
    expect(target.PfnArray).toEqual([source.PfnArray[1]])
    ndis.IoFreeMdl(target)
    ndis.MmFreePagesFromMdl(source)
    ndis.ExFreePool(source)
    expect(kinds(m)).toEqual([])
  })
})

describe('ExInitializeLookasideListEx family', () => {
  it('allocates through LookasideListAllocateEx with the PoolType ORed with POOL_RAISE_IF_ALLOCATION_FAILURE, reuses freed entries, flushes and deletes', () => {
    const { ndis, m } = loadTestMiniport()
    const head = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 0x60, 'daeH')
    const calls: number[][] = []
    const allocate = (poolType: number, bytes: number, tag: number, lookaside: number): number => {
      calls.push([poolType, bytes, tag, lookaside])
      return ndis.ExAllocatePoolWithTag(poolType, bytes, tag)
    }
    const status = ndis.ExInitializeLookasideListEx(head, allocate, null, ndis.NonPagedPoolNx, ndis.EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL, 48, 'xEkL', 0)
    expect(status).toBe(ndis.STATUS_SUCCESS)
    const e = ndis.ExAllocateFromLookasideListEx(head)
    expect(calls).toEqual([[ndis.NonPagedPoolNx | ndis.POOL_RAISE_IF_ALLOCATION_FAILURE, 48, tagValue('xEkL'), head]])
    ndis.ExFreeToLookasideListEx(head, e)
    expect(ndis.ExAllocateFromLookasideListEx(head)).toBe(e)
    ndis.ExFreeToLookasideListEx(head, e)
    ndis.ExFlushLookasideListEx(head)
    expect(m.kernel.pool.blockAt(e)).toBeUndefined()
    ndis.ExDeleteLookasideListEx(head)
    expect(kinds(m)).toEqual([])
  })

  it('a bad PoolType is STATUS_INVALID_PARAMETER_4, both flags STATUS_INVALID_PARAMETER_5; a list never deleted is 0xCE at unload', () => {
    const l = loadTestMiniport()
    const { ndis, m } = l
    const head = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 0x60, 'daeH')
    expect(ndis.ExInitializeLookasideListEx(head, null, null, 0x40, 0, 48, 'xEkL', 0)).toBe(ndis.STATUS_INVALID_PARAMETER_4)
    const both = ndis.EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL | ndis.EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE
    expect(ndis.ExInitializeLookasideListEx(head, null, null, ndis.NonPagedPoolNx, both, 48, 'xEkL', 0)).toBe(ndis.STATUS_INVALID_PARAMETER_5)
    expect(ndis.ExInitializeLookasideListEx(head, null, null, ndis.PagedPool, 0, 48, 'xEkL', 0)).toBe(ndis.STATUS_SUCCESS)
    m.halt()
    expect(theFinding(m, 'lookaside-leak').code).toBe(0xce)
  })

  it('ExAllocateFromLookasideListEx is fault-injectable: NULL, or STATUS_INSUFFICIENT_RESOURCES raised with RAISE_ON_FAIL', () => {
    const { ndis } = loadTestMiniport({ faults: 'routine=ExAllocateFromLookasideListEx' })
    const head = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 0x60, 'daeH')
    ndis.ExInitializeLookasideListEx(head, null, null, ndis.NonPagedPoolNx, 0, 48, 'xEkL', 0)
    expect(ndis.ExAllocateFromLookasideListEx(head)).toBe(0)
    ndis.ExDeleteLookasideListEx(head)
    ndis.ExInitializeLookasideListEx(head, null, null, ndis.NonPagedPoolNx, ndis.EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL, 48, 'xEkL', 0)
    expect(() => ndis.ExAllocateFromLookasideListEx(head)).toThrow(/raised 0xC000009A/)
  })
})

describe('ExFreePool2', () => {
  it('frees ExAllocatePool2 memory with its tag; another tag is BAD_POOL_CALLER 0xC2/0x0A, fatal', () => {
    const { ndis, m } = loadTestMiniport()
    const va = ndis.ExAllocatePool2(ndis.POOL_FLAG_NON_PAGED, 64, 'ooP2')
    ndis.ExFreePool2(va, 'ooP2', null, 0)
    expect(m.kernel.pool.blockAt(va)).toBeUndefined()
    const other = ndis.ExAllocatePool2(ndis.POOL_FLAG_NON_PAGED, 64, 'ooP2')
    expect(() => ndis.ExFreePool2(other, 'ffO ', null, 0)).toThrow()
    expect(m.report().bugcheck).toMatchObject({ code: 0xc2, params: [0x0a, other, expect.any(Number), expect.any(Number)] })
  })
})
