import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PTE } from '../../src/kernel/address-space.js'
import { FILL_UNINITIALIZED } from '../../src/kernel/fill-patterns.js'
import { bugCheckOf, fixture } from './kernel-fixture.js'

const FOUR_GIB = 4 * 1024 ** 3
const MiB = 1024 * 1024

/** Physical address of every page of [va, va + bytes). */
function physicalPages(k: ReturnType<typeof fixture>['k'], va: number, bytes: number): number[] {
  return Array.from({ length: Math.ceil(bytes / 4096) }, (_, i) => k.MmGetPhysicalAddress(va + i * 4096))
}

describe('contiguous memory', () => {
  it('S25 MmAllocateContiguousMemorySpecifyCache honours lowest, highest, boundary and cache type, in whole pages', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 * 1024 }),
        fc.integer({ min: 0, max: 3000 }).map((mib) => mib * MiB),
        fc.integer({ min: 1, max: 2048 }).map((mib) => mib * MiB),
        fc.constantFrom(0, 0x1_0000, 0x10_0000, 0x1_0000_0000),
        fc.constantFrom(0, 1, 2),
        (bytes, lowest, span, boundary, cacheType) => {
          const { m, k } = fixture({ memory: { policy: 'random' } })
          const highest = lowest + span - 1
          const va = k.MmAllocateContiguousMemorySpecifyCache(bytes, lowest, highest, boundary, cacheType)
          const pages = Math.ceil(bytes / 4096)
          if (boundary !== 0 && boundary < pages * 4096) return expect(va).toBe(0)
          expect(va).toBeGreaterThan(0)
          expect(va % 4096).toBe(0)
          const pas = physicalPages(k, va, pages * 4096)
          pas.forEach((pa, i) => expect(pa).toBe(pas[0]! + i * 4096)) // one run
          expect(pas[0]).toBeGreaterThanOrEqual(lowest)
          expect(pas.at(-1)! + 4095).toBeLessThanOrEqual(highest)
          if (boundary !== 0) expect(Math.floor(pas[0]! / boundary)).toBe(Math.floor((pas.at(-1)! + 4095) / boundary))
          const pte = m.kernel.space.pteAt(va)
          expect(pte & (PTE.NOCACHE | PTE.WRITECOMBINE)).toBe([PTE.NOCACHE, 0, PTE.WRITECOMBINE][cacheType])
          expect(m.kernel.frames.ownerOf(pas[0]! / 4096)?.kind).toBe('contiguous')
          expect(m.kernel.memory.read8(va + bytes - 1)).toBe(FILL_UNINITIALIZED) // not zeroed
          k.MmFreeContiguousMemorySpecifyCache(va, bytes, cacheType)
          expect(m.findings).toEqual([])
        },
      ),
      { seed: 25, numRuns: 60 },
    )
  })

  it('S25 a boundary that is not a power of two, or an impossible range, gets NULL', () => {
    const { k } = fixture()
    expect(k.MmAllocateContiguousMemorySpecifyCache(4096, 0, FOUR_GIB - 1, 3 * 4096, k.MmCached)).toBe(0)
    expect(k.MmAllocateContiguousMemorySpecifyCache(4096, 0x2000, 0x1fff, 0, k.MmCached)).toBe(0)
    expect(k.MmAllocateContiguousMemorySpecifyCache(4096, 0, FOUR_GIB - 1, 0, 99)).toBe(0)
  })

  it('S06 through the Mm routine: 4 MiB contiguous below 4 GiB succeeds at boot, fails after the system has run a while', () => {
    const { m, k } = fixture({ memory: { fragmentation: 0.5 } })
    const atBoot = k.MmAllocateContiguousMemorySpecifyCache(4 * MiB, 0, FOUR_GIB - 1, 0, k.MmNonCached)
    expect(atBoot).toBeGreaterThan(0)
    k.MmFreeContiguousMemory(atBoot)
    m.kernel.enterRuntime()
    m.runUntilIdle()
    expect(k.MmAllocateContiguousMemorySpecifyCache(4 * MiB, 0, FOUR_GIB - 1, 0, k.MmNonCached)).toBe(0)
    expect(k.MmAllocateContiguousMemory(4 * MiB, 2 ** 40)).toBe(0)
  })

  it('S07 through the Mm routine: after the large request fails, sixty-four 64 KiB requests succeed', () => {
    const { m, k } = fixture({ memory: { fragmentation: 0.5 } })
    m.kernel.enterRuntime()
    m.runUntilIdle()
    expect(k.MmAllocateContiguousMemorySpecifyCache(4 * MiB, 0, FOUR_GIB - 1, 0, k.MmNonCached)).toBe(0)
    const blocks = Array.from({ length: 64 }, () => k.MmAllocateContiguousMemorySpecifyCache(64 * 1024, 0, FOUR_GIB - 1, 0, k.MmNonCached))
    expect(blocks.every((va) => va > 0)).toBe(true)
  })

  it('MmAllocateContiguousMemory is cached memory below HighestAcceptableAddress', () => {
    const { m, k } = fixture()
    const va = k.MmAllocateContiguousMemory(10_000, 0xffff_ffff)
    expect(k.MmGetPhysicalAddress(va)).toBeLessThan(FOUR_GIB)
    expect(m.kernel.space.pteAt(va) & (PTE.NOCACHE | PTE.WRITECOMBINE)).toBe(0)
  })

  it('a freed contiguous block is unmapped; freeing an address that is not one is 0xC2/0x60', () => {
    const { m, k } = fixture()
    const va = k.MmAllocateContiguousMemory(8192, 0xffff_ffff)
    k.MmFreeContiguousMemory(va)
    expect(bugCheckOf(() => m.kernel.memory.read8(va)).code).toBe(0x50)
    expect(m.findings.at(-1)!.message).toMatch(/freed contiguous memory \(8192 bytes\)/)
    const { k: k2 } = fixture()
    const pool = k2.ExAllocatePoolWithTag(k2.NonPagedPoolNx, 64, 'tseT')
    expect(bugCheckOf(() => k2.MmFreeContiguousMemory(pool)).params).toEqual([0x60, pool, 0, 0])
  })

  it('MmFreeContiguousMemorySpecifyCache with a size or cache type other than the allocation\'s is a mismatch', () => {
    const { m, k } = fixture()
    const va = k.MmAllocateContiguousMemorySpecifyCache(8192, 0, FOUR_GIB - 1, 0, k.MmNonCached)
    k.MmFreeContiguousMemorySpecifyCache(va, 4096, k.MmCached)
    expect(m.findings[0]).toMatchObject({ kind: 'pool-free-mismatch', severity: 'violation' })
    expect(m.findings[0]!.message).toMatch(/NumberOfBytes 4096 \(allocated 8192\) and cache type cached \(allocated noncached\)/)
  })
})

describe('noncached memory', () => {
  it('S16 MmAllocateNonCachedMemory: whole pages, page-aligned, noncached, nonpaged, not zeroed; its frames are marked so DMA from them is a finding', () => {
    const { m, k } = fixture()
    const va = k.MmAllocateNonCachedMemory(6000)
    expect(va % 4096).toBe(0)
    for (const i of [0, 1]) {
      const pte = m.kernel.space.pteAt(va + i * 4096)
      expect(pte & (PTE.VALID | PTE.NOCACHE | PTE.PAGED)).toBe(PTE.VALID | PTE.NOCACHE)
    }
    expect(m.kernel.memory.read8(va + 8191)).toBe(FILL_UNINITIALIZED) // the whole second page is the caller's
    expect(m.kernel.frames.ownerOf(k.MmGetPhysicalAddress(va) / 4096)?.kind).toBe('noncached')
    k.MmFreeNonCachedMemory(va, 6000)
    expect(m.findings).toEqual([])
  })

  it('S16 is an APC_LEVEL routine: at DISPATCH_LEVEL it is an IRQL violation', () => {
    const { m, k } = fixture()
    k.KeRaiseIrql(k.DISPATCH_LEVEL)
    k.MmAllocateNonCachedMemory(100)
    expect(m.findings[0]).toMatchObject({ kind: 'irql-violation', params: [0xe5, 2, 0, 0] })
  })
})

describe('pages for an MDL', () => {
  it('S17 pages come from the requested range (below 4 GiB), are not physically contiguous, and are zeroed', () => {
    const { m, k } = fixture()
    const mdl = k.MmAllocatePagesForMdl(0, FOUR_GIB - 1, 0, 16 * 4096)!
    expect(k.MmGetMdlByteCount(mdl)).toBe(16 * 4096)
    const pfns = k.MmGetMdlPfnArray(mdl)
    expect(pfns.every((p) => p * 4096 < FOUR_GIB)).toBe(true)
    expect(pfns.some((p, i) => i > 0 && p !== pfns[i - 1]! + 1)).toBe(true)
    const va = k.MmGetSystemAddressForMdlSafe(mdl, k.NormalPagePriority)
    expect([...m.kernel.memory.readBytes(va, 16 * 4096)].every((b) => b === 0)).toBe(true)
    expect(m.kernel.frames.ownerOf(pfns[0]!)?.kind).toBe('mdl-pages')
  })

  it('S17 may return fewer pages than asked: the caller must check MmGetMdlByteCount', () => {
    const { k } = fixture()
    const mdl = k.MmAllocatePagesForMdl(0x10_0000, 0x10_0000 + 10 * 4096 - 1, 0, 64 * 4096)!
    expect(k.MmGetMdlByteCount(mdl)).toBe(10 * 4096)
    expect(k.MmAllocatePagesForMdl(0x10_0000, 0x10_0000 + 10 * 4096 - 1, 0, 4096)).toBeNull() // none left there
    // SkipBytes moves the range up until the request is met.
    const skipped = k.MmAllocatePagesForMdl(0x10_0000, 0x10_0000 + 10 * 4096 - 1, 10 * 4096, 15 * 4096)!
    expect(k.MmGetMdlByteCount(skipped)).toBe(15 * 4096)
    // MM_ALLOCATE_FULLY_REQUIRED: all or nothing.
    expect(k.MmAllocatePagesForMdlEx(0x10_0000, 0x10_0000 + 40 * 4096 - 1, 0, 64 * 4096, k.MmCached, k.MM_ALLOCATE_FULLY_REQUIRED)).toBeNull()
  })

  it('S17 an injected partial failure returns a short MDL, an injected failure NULL', () => {
    const { k } = fixture({ faults: ['routine=MmAllocatePagesForMdl,nth=1,partial', 'routine=MmAllocatePagesForMdlEx,nth=1'] })
    expect(k.MmGetMdlByteCount(k.MmAllocatePagesForMdl(0, FOUR_GIB - 1, 0, 8 * 4096)!)).toBe(4 * 4096)
    expect(k.MmAllocatePagesForMdlEx(0, FOUR_GIB - 1, 0, 8 * 4096, k.MmCached, 0)).toBeNull()
  })

  it('S17 one MDL describes at most 4 GiB (4 GiB - PAGE_SIZE per call)', () => {
    const { k } = fixture({ memory: { size: '16GiB' } })
    const mdl = k.MmAllocatePagesForMdlEx(0, 2 ** 40, 0, 6 * 1024 ** 3, k.MmCached, k.MM_DONT_ZERO_ALLOCATION)!
    expect(k.MmGetMdlByteCount(mdl)).toBe(FOUR_GIB - 4096)
    k.MmFreePagesFromMdl(mdl)
    k.ExFreePool(mdl)
  })

  it('MmFreePagesFromMdl then ExFreePool(mdl) gives everything back; the pages are not the driver\'s any more', () => {
    const { m, k } = fixture()
    const free = m.kernel.frames.freeFrames
    const mdl = k.MmAllocatePagesForMdl(0, FOUR_GIB - 1, 0, 5 * 4096)!
    const pfn = mdl.PfnArray[0]!
    k.MmFreePagesFromMdl(mdl)
    k.ExFreePool(mdl)
    expect(m.kernel.frames.freeFrames).toBe(free)
    expect(m.kernel.frames.freedOwnerOf(pfn)?.kind).toBe('mdl-pages')
    expect(m.kernel.checkLeaks('test').poolBlocks).toBe(0)
    expect(bugCheckOf(() => k.MmFreePagesFromMdl(mdl)).kind).toBe('pool-double-free')
  })
})

describe('mapping addresses', () => {
  it('S15 MmAllocateMappingAddress reserves VA that faults until MmMapLockedPagesWithReservedMapping maps an MDL there', () => {
    const { m, k } = fixture()
    const reserved = k.MmAllocateMappingAddress(3 * 4096, 'paMR')
    expect(m.kernel.space.stateOf(reserved)).toBe('reserved')
    const f = fixture()
    const r2 = f.k.MmAllocateMappingAddress(4096, 'paMR')
    expect(bugCheckOf(() => f.m.kernel.memory.read8(r2)).code).toBe(0x50)
    expect(f.m.findings.at(-1)!.message).toMatch(/reserved but not mapped \(mapping address reserved with tag 'RMap'/)

    const buffer = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 6000, 'fuB ')
    m.kernel.memory.write32(buffer + 100, 0xfeedface)
    const mdl = k.IoAllocateMdl(buffer, 6000, false, false, null)!
    k.MmBuildMdlForNonPagedPool(mdl)
    const va = k.MmMapLockedPagesWithReservedMapping(reserved, 'paMR', mdl, k.MmCached)
    expect(va).toBe(reserved)
    expect(m.kernel.memory.read32(va + 100)).toBe(0xfeedface)
    k.MmUnmapReservedMapping(reserved, 'paMR', mdl)
    expect(m.kernel.space.stateOf(reserved)).toBe('reserved')
    k.IoFreeMdl(mdl)
    k.MmFreeMappingAddress(reserved, 'paMR')
    expect(m.kernel.space.stateOf(reserved)).toBe('freed')
    expect(m.findings).toEqual([])
  })

  it('an MDL larger than the reservation is not mapped, and nothing is reported', () => {
    const { m, k } = fixture()
    const reserved = k.MmAllocateMappingAddress(4096, 'paMR')
    const buffer = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 9000, 'fuB ')
    const mdl = k.IoAllocateMdl(buffer, 9000)!
    k.MmBuildMdlForNonPagedPool(mdl)
    expect(k.MmMapLockedPagesWithReservedMapping(reserved, 'paMR', mdl, k.MmCached)).toBe(0)
    expect(m.findings).toEqual([])
  })

  // Bug check 0xDA SYSTEM_PTE_MISUSE reference: each misuse of a reserved mapping is a bug check
  // with its own parameter 1 (0x101–0x10C), raised by the memory manager whether or not Driver
  // Verifier runs: fatal here, whatever the verifier mode.
  const TAG = 0x70614d52 // 'paMR' as the C constant: "RMap" in a pool dump
  const misuse: Array<[string, number, (f: ReturnType<typeof reservation>) => void, (f: ReturnType<typeof reservation>) => readonly number[]]> = [
    ['MmFreeMappingAddress with another tag', 0x101, (f) => f.k.MmFreeMappingAddress(f.reserved, 'xxxx'), (f) => [0x101, f.reserved, 0x78787878, TAG]],
    ['MmFreeMappingAddress of an address never reserved', 0x102, (f) => f.k.MmFreeMappingAddress(f.reserved + 4096 * 64, 'paMR'), (f) => [0x102, f.reserved + 4096 * 64, TAG, 0]],
    ['MmFreeMappingAddress while an MDL is mapped there', 0x103, (f) => { f.map(); f.k.MmFreeMappingAddress(f.reserved, 'paMR') }, (f) => [0x103, f.reserved, TAG, 1]],
    ['MmMapLockedPagesWithReservedMapping with another tag', 0x104, (f) => void f.k.MmMapLockedPagesWithReservedMapping(f.reserved, 'xxxx', f.mdl, f.k.MmCached), (f) => [0x104, f.reserved, 0x78787878, TAG]],
    ['MmMapLockedPagesWithReservedMapping of an address never reserved', 0x105, (f) => void f.k.MmMapLockedPagesWithReservedMapping(f.reserved + 4096, 'paMR', f.mdl, f.k.MmCached), (f) => [0x105, f.reserved + 4096, TAG, 0]],
    ['mapping into a range already mapped', 0x107, (f) => { f.map(); f.map() }, (f) => [0x107, f.reserved, f.reserved, f.reserved + 4096]],
    ['MmUnmapReservedMapping with another tag', 0x108, (f) => { f.map(); f.k.MmUnmapReservedMapping(f.reserved, 'xxxx', f.mdl) }, (f) => [0x108, f.reserved, 0x78787878, TAG]],
    ['MmUnmapReservedMapping with nothing mapped', 0x109, (f) => f.k.MmUnmapReservedMapping(f.reserved, 'paMR', f.mdl), (f) => [0x109, f.reserved, TAG, 0]],
  ]

  function reservation() {
    const { m, k } = fixture()
    const reserved = k.MmAllocateMappingAddress(2 * 4096, 'paMR')
    const buffer = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 4096, 'fuB ')
    const mdl = k.IoAllocateMdl(buffer, 4096)!
    k.MmBuildMdlForNonPagedPool(mdl)
    return { m, k, reserved, mdl, map: () => void k.MmMapLockedPagesWithReservedMapping(reserved, 'paMR', mdl, k.MmCached) }
  }

  it.each(misuse)('%s is SYSTEM_PTE_MISUSE (0xDA) with parameter 1 %i, fatal', (_name, _p1, run, params) => {
    const f = reservation()
    const b = bugCheckOf(() => run(f))
    expect(b.kind).toBe('reserved-mapping-misuse')
    expect(b.code).toBe(0xda)
    expect(b.params).toEqual(params(f))
    expect(f.m.findings.at(-1)!.severity).toBe('fatal')
  })

  it('MmUnmapReservedMapping with an MDL spanning more (0x10A) or fewer (0x10C) pages than are mapped', () => {
    for (const [bytes, p1] of [[3 * 4096, 0x10a], [100, 0x10c]] as const) {
      const f = reservation()
      const buffer = f.k.ExAllocatePoolWithTag(f.k.NonPagedPoolNx, 3 * 4096, 'fuB ')
      const big = f.k.IoAllocateMdl(buffer, 2 * 4096)!
      f.k.MmBuildMdlForNonPagedPool(big)
      void f.k.MmMapLockedPagesWithReservedMapping(f.reserved, 'paMR', big, f.k.MmCached)
      const other = f.k.IoAllocateMdl(buffer, bytes)!
      expect(bugCheckOf(() => f.k.MmUnmapReservedMapping(f.reserved, 'paMR', other)).params[0]).toBe(p1)
    }
  })
})

describe('MDLs for driver buffers', () => {
  it('IoAllocateMdl + MmBuildMdlForNonPagedPool describe a pool buffer: offset, count, PFNs, system VA', () => {
    const { m, k } = fixture()
    const buffer = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 10_000, 'fuB ') + 0 // page-aligned large block
    const va = buffer + 100
    const mdl = k.IoAllocateMdl(va, 8200)!
    expect(mdl).toMatchObject({ StartVa: buffer, ByteOffset: 100, ByteCount: 8200, Size: 0x30 + 3 * 8 })
    expect(k.MmGetMdlVirtualAddress(mdl)).toBe(va)
    k.MmBuildMdlForNonPagedPool(mdl)
    expect(mdl.PfnArray).toEqual(physicalPages(k, buffer, 3 * 4096).map((pa) => pa / 4096))
    expect(k.MmGetSystemAddressForMdlSafe(mdl, k.NormalPagePriority)).toBe(va)
    expect(m.kernel.pool.tracker.byTag()['Mdl ']).toEqual({ allocs: 1, frees: 0, bytesOutstanding: 0x30 + 24 })
    k.IoFreeMdl(mdl)
    expect(m.findings).toEqual([])
  })

  it('MmProbeAndLockPages + MmMapLockedPagesSpecifyCache map paged memory at a second VA; unlocking undoes it', () => {
    const { m, k } = fixture()
    const paged = k.ExAllocatePoolWithTag(k.PagedPool, 5000, 'gaP ')
    m.kernel.memory.write32(paged + 4200, 77)
    const mdl = k.IoAllocateMdl(paged, 5000)!
    k.MmProbeAndLockPages(mdl, k.KernelMode, k.IoWriteAccess)
    expect(mdl.MdlFlags & (k.MDL_PAGES_LOCKED | k.MDL_WRITE_OPERATION)).toBe(k.MDL_PAGES_LOCKED | k.MDL_WRITE_OPERATION)
    const sys = k.MmMapLockedPagesSpecifyCache(mdl, k.KernelMode, k.MmCached, 0, false, k.NormalPagePriority)
    expect(sys).not.toBe(paged)
    expect(m.kernel.memory.read32(sys + 4200)).toBe(77)
    k.MmUnmapLockedPages(sys, mdl)
    expect(m.kernel.space.stateOf(sys)).toBe('freed')
    k.MmUnlockPages(mdl)
    k.IoFreeMdl(mdl)
    expect(m.findings).toEqual([])
  })

  it('MmProbeAndLockPages of a range that is not mapped raises STATUS_ACCESS_VIOLATION', () => {
    const { m, k } = fixture()
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 8192, 'fuB ')
    k.ExFreePool(va)
    const mdl = k.IoAllocateMdl(va, 100)!
    expect(() => k.MmProbeAndLockPages(mdl, k.KernelMode, k.IoReadAccess)).toThrow(/raised 0xC0000005/)
    expect(m.kernel.log.stopped).toBe(false)
  })

  it('MDL protocol errors are mdl-misuse with Verifier\'s codes (0x7C, 0x7D, 0x7F, 0xB0, 0xB8)', () => {
    const { m, k } = fixture()
    const np = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'fuB ')
    const pg = k.ExAllocatePoolWithTag(k.PagedPool, 64, 'fuB ')
    const built = k.IoAllocateMdl(np, 64)!
    k.MmBuildMdlForNonPagedPool(built)
    k.MmUnlockPages(built) // 0x7D
    k.MmProbeAndLockPages(built, k.KernelMode, k.IoReadAccess) // 0xB0
    const never = k.IoAllocateMdl(pg, 64)!
    k.MmUnlockPages(never) // 0x7C
    k.MmBuildMdlForNonPagedPool(never) // 0x7F
    const mapped = k.IoAllocateMdl(pg, 64)!
    k.MmProbeAndLockPages(mapped, k.KernelMode, k.IoReadAccess)
    k.MmGetSystemAddressForMdlSafe(mapped, k.NormalPagePriority)
    k.IoFreeMdl(mapped) // 0xB8
    expect(m.findings.map((f) => [f.kind, f.code, f.params?.[0]])).toEqual([
      ['mdl-misuse', 0xc4, 0x7d],
      ['mdl-misuse', 0xc4, 0xb0],
      ['mdl-misuse', 0xc4, 0x7c],
      ['mdl-misuse', 0xc4, 0x7f],
      ['mdl-misuse', 0xc4, 0xb8],
    ])
  })
})

describe('MmGetPhysicalAddress', () => {
  it('gives the CPU physical address (above 4 GiB by default), 0 for an unmapped VA', () => {
    const { k } = fixture()
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'tseT')
    const pa = k.MmGetPhysicalAddress(va + 5)
    expect(pa).toBeGreaterThanOrEqual(FOUR_GIB) // high-first: a 32-bit device cannot reach it
    expect(pa % 4096).toBe((va + 5) % 4096)
    expect(k.MmGetPhysicalAddress(0x1000)).toBe(0)
  })
})
