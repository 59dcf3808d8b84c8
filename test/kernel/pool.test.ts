import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DISPATCH_LEVEL } from '../../src/index.js'
import { PTE } from '../../src/kernel/address-space.js'
import { FILL_FREED, FILL_UNINITIALIZED } from '../../src/kernel/fill-patterns.js'
import { readHeader } from '../../src/kernel/pool-header.js'
import { tagValue } from '../../src/kernel/tags.js'
import { NtStatusError } from '../../src/kernel/wdm.js'
import { bugCheckOf, fixture, page } from './kernel-fixture.js'

describe('ExAllocatePoolWithTag: sizes, alignment and layout', () => {
  it('S09 a request up to PAGE_SIZE - 16 gets exactly its bytes, 16-byte aligned, never crossing a page', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4080 }), { minLength: 1, maxLength: 60 }), (sizes) => {
        const { m, k } = fixture({ memory: { size: '64MiB' } })
        const blocks = sizes.map((bytes) => ({ bytes, va: k.ExAllocatePoolWithTag(k.NonPagedPoolNx, bytes, 'tseT') }))
        const taken: Array<[number, number]> = []
        for (const { bytes, va } of blocks) {
          expect(va % 16).toBe(0)
          expect(page(va)).toBe(page(va + bytes - 1))
          // Exactly the bytes asked for: the pool records them, and every one of them is usable.
          expect(m.kernel.pool.blockAt(va)).toMatchObject({ bytes, kind: 'small' })
          m.kernel.memory.fill(va, bytes, 0x5a)
          taken.push([va, va + bytes])
        }
        taken.sort((a, b) => a[0] - b[0])
        for (let i = 1; i < taken.length; i++) expect(taken[i]![0]).toBeGreaterThanOrEqual(taken[i - 1]![1] + 16) // a header between
        for (const { va } of blocks) k.ExFreePoolWithTag(va, 'tseT') // no overrun, so every free is clean
        expect(m.findings).toEqual([])
      }),
      { seed: 9, numRuns: 40 },
    )
  })

  it('S10 a larger request is whole pages, page-aligned, virtually but not physically contiguous', () => {
    const { m, k } = fixture()
    const bytes = 5 * 4096 + 100
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, bytes, 'giB ')
    expect(va % 4096).toBe(0)
    const block = m.kernel.pool.blockAt(va)!
    expect(block).toMatchObject({ kind: 'large', charged: 6 * 4096 })
    const pas = Array.from({ length: 6 }, (_, i) => k.MmGetPhysicalAddress(va + i * 4096))
    expect(pas.every((pa) => pa > 0 && pa % 4096 === 0)).toBe(true)
    expect(pas.some((pa, i) => i > 0 && pa !== pas[i - 1]! + 4096)).toBe(true)
    m.kernel.memory.fill(va, bytes, 1) // all of it is one virtual range
    // The unused tail of the last page is wasted: it is still mapped, but it is not the caller's.
    expect(m.kernel.space.stateOf(va + 6 * 4096 - 1)).toBe('mapped')
  })

  it('S22 the 16-byte pool header sits in front of a small block and counts in the small/large threshold', () => {
    const { m, k } = fixture()
    const small = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 4080, 'tseT')
    const large = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 4081, 'tseT')
    expect(small % 4096).toBe(16) // the header takes the first 16 bytes of its page
    expect(large % 4096).toBe(0)
    const header = readHeader(m.ram, k.MmGetPhysicalAddress(small) - 16)
    expect(header).toMatchObject({ blockSize: 256, bytes: 4080, type: 1, intact: true })
    expect(m.kernel.pool.blockAt(large)!.kind).toBe('large')
  })

  it('S19 the tag literal \'tseT\' is stored so that the header bytes read "Test"', () => {
    const { m, k } = fixture()
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 40, 'tseT')
    const tagBytes = m.kernel.memory.readBytes(va - 12, 4)
    expect(new TextDecoder().decode(tagBytes)).toBe('Test')
    expect(k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 8, 0x74736554)).toBeGreaterThan(0) // the ULONG works too
    expect(m.kernel.pool.tracker.byTag()).toEqual({ Test: { allocs: 2, frees: 0, bytesOutstanding: 48 } })
  })

  it('S21 NonPagedPoolCacheAligned blocks start on a 64-byte cache line', () => {
    const { k } = fixture()
    for (const bytes of [1, 10, 63, 64, 65, 500, 4000, 4032, 4033, 9000]) {
      const va = k.ExAllocatePoolWithTag(k.NonPagedPoolCacheAligned, bytes, 'nilA')
      expect(va % 64).toBe(0)
      expect(page(va)).toBe(page(va + Math.min(bytes, 4096) - 1))
    }
    expect(k.ExAllocatePool2(k.POOL_FLAG_NON_PAGED | k.POOL_FLAG_CACHE_ALIGNED, 24, 'nilA') % 64).toBe(0)
  })

  it('memory from ExAllocatePoolWithTag is not zeroed: it holds the uninitialized pattern', () => {
    const { m, k } = fixture()
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'tseT')
    expect([...m.kernel.memory.readBytes(va, 64)].every((b) => b === FILL_UNINITIALIZED)).toBe(true)
    const big = k.ExAllocatePoolWithTag(k.PagedPool, 10_000, 'tseT')
    expect(m.kernel.memory.read32(big + 9996)).toBe(0xcdcd_cdcd)
  })

  it('ExAllocatePool2 zeroes unless POOL_FLAG_UNINITIALIZED, and returns NULL for bad flags or tag 0', () => {
    const { m, k } = fixture()
    const zeroed = k.ExAllocatePool2(k.POOL_FLAG_NON_PAGED, 100, 'oreZ')
    expect([...m.kernel.memory.readBytes(zeroed, 100)].every((b) => b === 0)).toBe(true)
    const raw = k.ExAllocatePool2(k.POOL_FLAG_NON_PAGED | k.POOL_FLAG_UNINITIALIZED, 100, 'oreZ')
    expect(m.kernel.memory.read8(raw)).toBe(FILL_UNINITIALIZED)
    expect(k.ExAllocatePool2(k.POOL_FLAG_NON_PAGED | k.POOL_FLAG_PAGED, 100, 'oreZ')).toBe(0)
    expect(k.ExAllocatePool2(0, 100, 'oreZ')).toBe(0)
    expect(k.ExAllocatePool2(k.POOL_FLAG_NON_PAGED | 0x8000, 100, 'oreZ')).toBe(0) // unknown required flag
    expect(k.ExAllocatePool2(k.POOL_FLAG_NON_PAGED | 0x8000_0000_0000, 100, 'oreZ')).toBeGreaterThan(0) // unknown optional flag
    expect(k.ExAllocatePool2(k.POOL_FLAG_NON_PAGED, 100, 0)).toBe(0)
    expect(() => k.ExAllocatePool2(k.POOL_FLAG_NON_PAGED | k.POOL_FLAG_RAISE_ON_FAILURE, 100, 0)).toThrow(NtStatusError)
    expect(m.findings).toEqual([])
  })

  it('paged pool is pageable: touching it at DISPATCH_LEVEL is an IRQL violation', () => {
    const { m, k } = fixture()
    const va = k.ExAllocatePoolWithTag(k.PagedPool, 64, 'egaP')
    expect(m.kernel.space.pteAt(va) & PTE.PAGED).toBe(PTE.PAGED)
    m.kernel.memory.write32(va, 1)
    m.kernel.irql = DISPATCH_LEVEL
    m.kernel.memory.read32(va)
    expect(m.findings.at(-1)).toMatchObject({ kind: 'irql-violation', code: 0xd1 })
  })

  it('S08 at DISPATCH_LEVEL nonpaged types are legal and paged ones are not; below it any type is', () => {
    const { m, k } = fixture()
    k.KeRaiseIrql(k.APC_LEVEL)
    expect(k.ExAllocatePoolWithTag(k.PagedPool, 32, 'tseT')).toBeGreaterThan(0)
    expect(k.ExAllocatePoolWithTag(k.NonPagedPool, 32, 'tseT')).toBeGreaterThan(0)
    expect(m.findings).toEqual([])
    k.KeRaiseIrql(k.DISPATCH_LEVEL)
    expect(k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 32, 'tseT')).toBeGreaterThan(0)
    expect(m.findings).toEqual([])
    k.ExAllocatePoolWithTag(k.PagedPool, 32, 'tseT')
    expect(m.findings).toHaveLength(1)
    expect(m.findings[0]).toMatchObject({ kind: 'irql-violation', code: 0xc4, params: [0x01, DISPATCH_LEVEL, k.PagedPool, 32] })
    expect(m.findings[0]!.site).toMatch(/^test\/kernel\/pool\.test\.ts:\d+$/)
  })

  it('S20 every must-succeed pool type is bug check 0xC2 with parameter 1 = 0x9A, whatever the routine', () => {
    for (const type of [2, 6, 34]) {
      for (const call of ['ExAllocatePoolWithTag', 'ExAllocatePool'] as const) {
        const { m, k } = fixture()
        const b = bugCheckOf(() => (call === 'ExAllocatePool' ? k.ExAllocatePool(type, 100) : k.ExAllocatePoolWithTag(type, 100, 'tseT')))
        expect(b.name).toBe('BAD_POOL_CALLER')
        expect(b.params.slice(0, 3)).toEqual([0x9a, type, 100])
        expect(m.findings[0]).toMatchObject({ kind: 'must-succeed-pool', severity: 'fatal' })
      }
    }
  })

  it('S11 a failed allocation returns NULL: injected, or when memory runs out', () => {
    const { k } = fixture({ faults: 'routine=ExAllocatePoolWithTag,nth=2', memory: { size: '16MiB' } })
    expect(k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'tseT')).toBeGreaterThan(0)
    expect(k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'tseT')).toBe(0)
    expect(k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64 * 1024 * 1024, 'giB ')).toBe(0)
    expect(k.ExAllocatePool2(k.POOL_FLAG_NON_PAGED, 64 * 1024 * 1024, 'giB ')).toBe(0)
    // ExAllocatePoolWithQuotaTag raises instead, unless told to fail.
    expect(() => k.ExAllocatePoolWithQuotaTag(k.NonPagedPool, 64 * 1024 * 1024, 'giB ')).toThrow(NtStatusError)
    expect(k.ExAllocatePoolWithQuotaTag(k.NonPagedPool | k.POOL_QUOTA_FAIL_INSTEAD_OF_RAISE, 64 * 1024 * 1024, 'giB ')).toBe(0)
  })

  it('S18 pool fragments: freed holes too small for a request leave it needing a fresh page', () => {
    const { m, k } = fixture()
    const blocks = Array.from({ length: 16 }, () => k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 2000, 'garF'))
    const pages = new Set(blocks.map(page))
    expect(pages.size).toBe(8) // two 2000-byte blocks to a page
    blocks.forEach((va, i) => i % 2 === 0 && k.ExFreePool(va))
    // 8 × 2016 free bytes in the pool, and yet no page has room for 2100 of them.
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 2100, 'garF')
    expect(pages.has(page(va))).toBe(false)
    expect(m.kernel.pool.tracker.usage(tagValue('garF')).bytesOutstanding).toBe(8 * 2000 + 2100)
  })

  it('S18 pool is limited: a large allocation made at initialization succeeds where the same one fails once others hold the memory', () => {
    const { m, k } = fixture({ memory: { size: '32MiB' } })
    const early = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 8 * 1024 * 1024, 'gnoL')
    expect(early).toBeGreaterThan(0)
    k.ExFreePool(early)
    // The system runs: other kernel components take most of what is left.
    const others = m.kernel.mm.allocateFrames(m.kernel.frames.freeFrames - 1000, { kind: 'kernel', label: 'other components', driver: false })
    expect(others).not.toBeNull()
    expect(k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 8 * 1024 * 1024, 'gnoL')).toBe(0)
  })
})

describe('internal services for the NDIS and DMA layers', () => {
  it('a pool request bounded by a highest physical address (NdisAllocateMemory, S02) gets pages below the bound', () => {
    const { m } = fixture()
    const pool = m.kernel.pool
    for (const bytes of [100, 5000, 20_000]) {
      const va = pool.allocate(0, bytes, 0x74736554, { highest: 0xffff_ffff })
      expect(va % 4096).toBe(0)
      for (let off = 0; off < bytes; off += 4096) expect(m.kernel.mm.physicalAddress(va + off)).toBeLessThan(2 ** 32)
      m.kernel.memory.fill(va, bytes, 1)
      pool.free(va, { routine: 'NdisFreeMemory' })
    }
    const nc = m.kernel.contiguous.allocateNonCached(3 * 4096, { highest: 0xffff_ffff })
    expect(m.kernel.mm.framesOf(nc, 3 * 4096).every((pfn) => pfn > 0 && pfn < 2 ** 20)).toBe(true)
    expect(m.findings).toEqual([])
  })

  it('allocateMapped / freeMapped: frames of a kind within a range, mapped with guard pages, unmapped with a note', () => {
    const { m } = fixture()
    const mm = m.kernel.mm
    const guardNote = { guard: 'dma-guard' as const, what: 'guard around a common buffer' }
    const mem = mm.allocateMapped(4, { kind: 'common-buffer', label: 'common buffer 16 KiB', contiguous: true, highest: 0xffff_ffff }, { cache: 'noncached', guardBefore: 1, guardAfter: 1, guardNote }, 'zero')!
    expect(mem.pfns.map((p, i) => p - i)).toEqual([mem.pfns[0], mem.pfns[0], mem.pfns[0], mem.pfns[0]])
    expect(mem.pfns.every((p) => p < 2 ** 20)).toBe(true)
    expect(m.kernel.frames.ownerOf(mem.pfns[0]!)?.kind).toBe('common-buffer')
    expect(m.kernel.space.stateOf(mem.va - 1)).toBe('guard')
    expect(m.kernel.space.stateOf(mem.va + 4 * 4096)).toBe('guard')
    expect(m.kernel.memory.read32(mem.va + 100)).toBe(0)
    mm.freeMapped(mem, { what: 'freed common buffer' })
    expect(m.kernel.space.stateOf(mem.va)).toBe('freed')
    expect(m.kernel.frames.freedOwnerOf(mem.pfns[0]!)?.kind).toBe('common-buffer')
  })
})

describe('freeing pool', () => {
  it('a freed large block is unmapped: touching it faults and says what it was and where it was freed', () => {
    const { m, k } = fixture()
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 8192, 'eerF')
    k.ExFreePoolWithTag(va, 'eerF')
    const b = bugCheckOf(() => m.kernel.memory.read32(va + 100))
    expect(b.code).toBe(0x50)
    const msg = m.findings.at(-1)!.message
    expect(msg).toMatch(/freed nonpaged pool block 'Free' \(8192 bytes\), allocated at test\/kernel\/pool\.test\.ts:\d+, freed at test\/kernel\/pool\.test\.ts:\d+/)
  })

  it('a freed small block is poisoned; its page is unmapped when its last block goes', () => {
    const { m, k } = fixture()
    const a = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 32, 'tseT')
    const b = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 32, 'tseT')
    expect(page(a)).toBe(page(b))
    k.ExFreePool(a)
    expect(m.kernel.memory.read8(a)).toBe(FILL_FREED) // the page is still in use by b
    k.ExFreePool(b)
    bugCheckOf(() => m.kernel.memory.read8(b))
    expect(m.findings.at(-1)!.message).toMatch(/pool page, freed with its last block/)
  })

  it('freed units are reused and coalesced: after freeing everything a page-sized block fits again', () => {
    const { m, k } = fixture()
    const keep = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 16, 'peeK') // holds the page
    const blocks = Array.from({ length: 30 }, (_, i) => k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 16 + 8 * i, 'tseT'))
    const first = page(keep)
    // Free in an order that exercises merging with the block before and after.
    for (const i of [3, 1, 2, 0, ...Array.from({ length: 26 }, (_, j) => 29 - j)]) k.ExFreePool(blocks[i]!)
    const big = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 4080 - 32, 'tseT')
    expect(page(big)).toBe(first)
    k.ExFreePool(big)
    k.ExFreePool(keep)
    expect(m.findings).toEqual([])
  })

  it('random allocate/free sequences keep blocks disjoint, headers intact and the tracker exact', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ bytes: fc.integer({ min: 0, max: 9000 }), type: fc.constantFrom(0, 1, 4, 512), free: fc.nat(40) }), { minLength: 1, maxLength: 120 }),
        (ops) => {
          const { m, k } = fixture({ memory: { size: '64MiB' } })
          const live: Array<{ va: number; bytes: number }> = []
          let outstanding = 0
          for (const op of ops) {
            const bytes = Math.max(1, op.bytes)
            const va = k.ExAllocatePoolWithTag(op.type, bytes, 'porP')
            m.kernel.memory.fill(va, bytes, 0x77) // the whole block is the caller's
            live.push({ va, bytes })
            outstanding += bytes
            if (op.free < live.length) {
              const [victim] = live.splice(op.free, 1)
              k.ExFreePoolWithTag(victim!.va, 'porP')
              outstanding -= victim!.bytes
            }
          }
          const sorted = [...live].sort((a, b) => a.va - b.va)
          for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.va).toBeGreaterThanOrEqual(sorted[i - 1]!.va + sorted[i - 1]!.bytes)
          expect(m.kernel.pool.tracker.usage(tagValue('porP'))).toEqual({ allocs: ops.length, frees: ops.length - live.length, bytesOutstanding: outstanding })
          for (const { va } of live) k.ExFreePool(va)
          expect(m.findings).toEqual([])
        },
      ),
      { seed: 17, numRuns: 30 },
    )
  })

  it('a write one byte past a small block is caught at its free (0xC4/0x51), naming the address', () => {
    const { m, k } = fixture()
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 20, 'nurO')
    m.kernel.memory.write8(va + 20, 0) // into the slack up to the 16-byte rounding
    const b = bugCheckOf(() => k.ExFreePool(va))
    expect(b.params).toEqual([0x51, va, va + 20, 48])
    expect(m.findings.at(-1)!.message).toMatch(/wrote past its end \(the slack after it was overwritten at .*, 0 bytes beyond the 20 asked for\)/)
  })
})
