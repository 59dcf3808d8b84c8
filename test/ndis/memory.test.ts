// NdisAllocateMemory and friends (seed 000, rules S01–S05), called by the test miniport from
// its handlers and by the test as driver code at runtime.
import { describe, expect, it } from 'vitest'
import { BUGCHECK } from '../../src/index.js'
import { PTE } from '../../src/kernel/address-space.js'
import type { NdisApi } from '../../src/ndis/api.js'
import { TWO_POW_32, kinds, lineHere, loadTestMiniport, theFinding } from '../support/driver-fixture.js'

const PAGE = 4096
const FOUR_GIB_MINUS_ONE = 0xffff_ffff
const CONTIGUOUS = 0x1
const NONCACHED = 0x2

/** The physical address of every page of [va, va + length). */
function pagesOf(ndis: NdisApi, va: number, length: number): number[] {
  const out: number[] = []
  for (let p = Math.floor(va / PAGE) * PAGE; p < va + length; p += PAGE) out.push(ndis.MmGetPhysicalAddress(p))
  return out
}

describe('NdisAllocateMemory (S01–S05)', () => {
  it('S01 flags 0 gives resident nonpaged memory any driver may allocate and touch at DISPATCH_LEVEL', () => {
    const { m, ndis } = loadTestMiniport()
    const { oldIrql } = ndis.KeRaiseIrql(ndis.DISPATCH_LEVEL)
    const { status, virtualAddress } = ndis.NdisAllocateMemory(3 * PAGE + 100, 0, -1)
    expect(status).toBe(ndis.NDIS_STATUS_SUCCESS)
    // Touching it at DISPATCH_LEVEL is legal only for nonpaged memory.
    ndis.NdisFillMemory(virtualAddress, 3 * PAGE + 100, 0x5a)
    expect(ndis.memory.read8(virtualAddress + 3 * PAGE + 99)).toBe(0x5a)
    for (let p = 0; p < 4; p++) expect(m.kernel.space.pteAt(virtualAddress + p * PAGE) & (PTE.VALID | PTE.PAGED)).toBe(PTE.VALID)
    const small = ndis.NdisAllocateMemoryWithTag(64, 'tseT')
    expect(small.status).toBe(ndis.NDIS_STATUS_SUCCESS)
    const priority = ndis.NdisAllocateMemoryWithTagPriority(m.ndis!.ctx.adapterHandle, 64, 'tseT', 16)
    expect(priority).not.toBe(0)
    ndis.NdisFreeMemory(virtualAddress, 3 * PAGE + 100, 0)
    ndis.NdisFreeMemory(small.virtualAddress, 64, 0)
    ndis.NdisFreeMemoryWithTagPriority(m.ndis!.ctx.adapterHandle, priority, 'tseT')
    ndis.KeLowerIrql(oldIrql)
    expect(m.findings).toEqual([])
  })

  it('S01 above DISPATCH_LEVEL it is an IRQL violation (0xC4/0x02) naming the line', () => {
    const { m, ndis } = loadTestMiniport()
    const { oldIrql } = ndis.KeRaiseIrql(5)
    const site = lineHere(1)
    const { status, virtualAddress } = ndis.NdisAllocateMemory(64, 0, -1)
    ndis.KeLowerIrql(oldIrql)
    expect(status).toBe(ndis.NDIS_STATUS_SUCCESS)
    const f = theFinding(m, 'irql-violation')
    expect(f.code).toBe(BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION)
    // Bug check 0xC4 reference, 0x02: current IRQL, pool type (NonPagedPool), size of the allocation.
    expect(f.params).toEqual([0x02, 5, 0, 64])
    expect(f.message).toBe('NdisAllocateMemory at DIRQL(5): it must be called at DISPATCH_LEVEL or below')
    expect(f.site).toBe(site)
    ndis.NdisFreeMemory(virtualAddress, 64, 0)
  })

  it('S02 HighestAcceptableAddress bounds every physical page, for pool, contiguous and noncached memory', () => {
    const inInit: Array<() => void> = []
    const { m, ndis } = loadTestMiniport({ memory: { policy: 'high-first' } }, {
      hooks: {
        initialize: (a) => {
          const n = a.ndis
          for (const flags of [CONTIGUOUS, NONCACHED, CONTIGUOUS | NONCACHED]) {
            const { status, virtualAddress } = n.NdisAllocateMemory(5 * PAGE, flags, FOUR_GIB_MINUS_ONE)
            expect(status).toBe(n.NDIS_STATUS_SUCCESS)
            for (const pa of pagesOf(n, virtualAddress, 5 * PAGE)) expect(pa + PAGE - 1).toBeLessThanOrEqual(FOUR_GIB_MINUS_ONE)
            inInit.push(() => n.NdisFreeMemory(virtualAddress, 5 * PAGE, flags))
          }
        },
      },
    })
    // Flags 0, at runtime, small and large: every page below the bound although the policy
    // hands out frames above 4 GiB first.
    for (const length of [40, 5000, 64 * 1024]) {
      const { status, virtualAddress } = ndis.NdisAllocateMemory(length, 0, FOUR_GIB_MINUS_ONE)
      expect(status).toBe(ndis.NDIS_STATUS_SUCCESS)
      for (const pa of pagesOf(ndis, virtualAddress, length)) expect(pa).toBeLessThan(TWO_POW_32)
      ndis.NdisFreeMemory(virtualAddress, length, 0)
    }
    // A tighter bound (16 MiB) is honoured too; -1 means no bound, so high-first goes above 4 GiB.
    const low = ndis.NdisAllocateMemory(3 * PAGE, 0, 0xff_ffff)
    for (const pa of pagesOf(ndis, low.virtualAddress, 3 * PAGE)) expect(pa).toBeLessThan(0x100_0000)
    const any = ndis.NdisAllocateMemory(3 * PAGE, 0, -1)
    expect(pagesOf(ndis, any.virtualAddress, 3 * PAGE).every((pa) => pa >= TWO_POW_32)).toBe(true)
    ndis.NdisFreeMemory(low.virtualAddress, 3 * PAGE, 0)
    ndis.NdisFreeMemory(any.virtualAddress, 3 * PAGE, 0)
    for (const free of inInit) free()
    expect(m.findings).toEqual([])
  })

  it('S03 NDIS_MEMORY_CONTIGUOUS is one physical run, NDIS_MEMORY_NONCACHED is mapped noncached, and they combine', () => {
    const allocated: Array<{ flags: number; va: number }> = []
    const { m, ndis } = loadTestMiniport({ memory: { policy: 'random' } }, {
      hooks: {
        initialize: (a) => {
          for (const flags of [CONTIGUOUS, NONCACHED, CONTIGUOUS | NONCACHED]) {
            allocated.push({ flags, va: a.ndis.NdisAllocateMemory(8 * PAGE, flags, -1).virtualAddress })
          }
        },
      },
    })
    expect(allocated.map((x) => x.va).every((va) => va !== 0)).toBe(true)
    for (const { flags, va } of allocated) {
      const pages = pagesOf(ndis, va, 8 * PAGE)
      const contiguous = pages.every((pa, i) => pa === pages[0]! + i * PAGE)
      if ((flags & CONTIGUOUS) !== 0) expect(contiguous).toBe(true)
      const ptes = pages.map((_, i) => m.kernel.space.pteAt(va + i * PAGE))
      expect(ptes.every((pte) => (pte & PTE.NOCACHE) !== 0)).toBe((flags & NONCACHED) !== 0)
      ndis.NdisFreeMemory(va, 8 * PAGE, flags)
    }
    expect(m.findings).toEqual([])
  })

  it('S04 the flags outside MiniportInitializeEx are an init-only-call finding naming the line; the call is still tried', () => {
    const { m, ndis } = loadTestMiniport()
    const site = lineHere(1)
    const { status, virtualAddress } = ndis.NdisAllocateMemory(2 * PAGE, CONTIGUOUS, -1)
    const f = theFinding(m, 'init-only-call')
    expect(f.severity).toBe('violation')
    expect(f.site).toBe(site)
    expect(f.message).toBe('NdisAllocateMemory with NDIS_MEMORY_CONTIGUOUS (8 KiB) outside MiniportInitializeEx: only a miniport\'s initialization may ask for contiguous or noncached memory; by now physical memory is fragmented and the call is likely to fail')
    expect(f.details).toMatchObject({ routine: 'NdisAllocateMemory', flags: CONTIGUOUS, length: 2 * PAGE, phase: 'runtime' })
    expect(status).toBe(ndis.NDIS_STATUS_SUCCESS)
    ndis.NdisFreeMemory(virtualAddress, 2 * PAGE, CONTIGUOUS)
    expect(kinds(m)).toEqual(['init-only-call'])
  })

  it('S04 inside MiniportInitializeEx at PASSIVE_LEVEL they are legal; at DISPATCH_LEVEL they are an IRQL violation', () => {
    let site = ''
    const { m } = loadTestMiniport({}, {
      hooks: {
        initialize: (a) => {
          const n = a.ndis
          const ok = n.NdisAllocateMemory(PAGE, NONCACHED, -1)
          n.NdisFreeMemory(ok.virtualAddress, PAGE, NONCACHED)
          const { oldIrql } = n.KeRaiseIrql(n.DISPATCH_LEVEL)
          site = lineHere(1)
          const raised = n.NdisAllocateMemory(PAGE, NONCACHED, -1)
          n.KeLowerIrql(oldIrql)
          n.NdisFreeMemory(raised.virtualAddress, PAGE, NONCACHED)
        },
      },
    })
    const f = theFinding(m, 'irql-violation')
    expect(f.site).toBe(site)
    // Bug check 0xC4 reference, 0xE5: a kernel API called at the incorrect IRQL (parameter 2).
    expect(f.params).toEqual([0xe5, 2, 0, 0])
    expect(f.message).toBe('NdisAllocateMemory with NDIS_MEMORY_CONTIGUOUS/NONCACHED at DISPATCH_LEVEL: it must be called at PASSIVE_LEVEL')
    expect(kinds(m)).toEqual(['irql-violation'])
  })

  it('S04 a runtime call with the flags is refused a large contiguous run once memory has fragmented', () => {
    const { m, ndis } = loadTestMiniport({ memory: { policy: 'low-first', fragmentation: 1 } })
    m.run({ ns: 5_000_000_000 })
    const { status } = ndis.NdisAllocateMemory(64 * 1024 * 1024, CONTIGUOUS, 0xff_ffff)
    expect(status).toBe(ndis.NDIS_STATUS_FAILURE)
    expect(kinds(m)).toEqual(['init-only-call'])
  })

  it('S05 without the contiguous flag one virtual range is backed by several physical runs', () => {
    const { m, ndis } = loadTestMiniport({ memory: { policy: 'random' } })
    const length = 32 * PAGE
    const { virtualAddress } = ndis.NdisAllocateMemory(length, 0, -1)
    const pages = pagesOf(ndis, virtualAddress, length)
    const runs = pages.filter((pa, i) => i === 0 || pa !== pages[i - 1]! + PAGE).length
    expect(runs).toBeGreaterThan(1)
    // One virtual range all the same: a write across every page boundary reads back.
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 7) & 0xff)
    ndis.memory.writeBytes(virtualAddress, bytes)
    expect(ndis.memory.readBytes(virtualAddress, length)).toEqual(bytes)
    ndis.NdisFreeMemory(virtualAddress, length, 0)
    expect(m.findings).toEqual([])
  })

  it('NdisFreeMemory with flags other than the allocation\'s is pool-free-mismatch at the freeing line', () => {
    let site = ''
    let allocated = 0
    const { m } = loadTestMiniport({}, {
      hooks: {
        initialize: (a) => {
          allocated = a.ndis.NdisAllocateMemory(2 * PAGE, CONTIGUOUS, -1).virtualAddress
          site = lineHere(1)
          a.ndis.NdisFreeMemory(allocated, PAGE, 0)
        },
      },
    })
    const f = theFinding(m, 'pool-free-mismatch')
    expect(f.site).toBe(site)
    expect(f.message).toContain('NdisFreeMemory of 8 KiB')
    expect(f.message).toContain('with MemoryFlags flags 0 (allocated with NDIS_MEMORY_CONTIGUOUS) and Length 4096 (allocated 8192)')
    expect(f.details).toMatchObject({ va: allocated, length: PAGE, allocatedLength: 2 * PAGE, flags: 0, allocatedFlags: CONTIGUOUS })
    // The memory is gone all the same: no leak at unload.
    m.halt()
    expect(kinds(m)).toEqual(['pool-free-mismatch'])
  })
})

describe('NDIS 6 memory rules (WDK pages)', () => {
  // NdisFreeMemory reference, Remarks: noncached memory is freed below DISPATCH_LEVEL,
  // contiguous memory at PASSIVE_LEVEL, anything else at or below DISPATCH_LEVEL.
  it('NdisFreeMemory of noncached memory at APC_LEVEL is legal; at DISPATCH_LEVEL it is an IRQL violation', () => {
    let site = ''
    const { m } = loadTestMiniport({}, {
      hooks: {
        initialize: (a) => {
          const n = a.ndis
          const first = n.NdisAllocateMemory(PAGE, NONCACHED, -1).virtualAddress
          const second = n.NdisAllocateMemory(PAGE, NONCACHED, -1).virtualAddress
          const apc = n.KeRaiseIrql(n.APC_LEVEL)
          n.NdisFreeMemory(first, PAGE, NONCACHED)
          n.KeLowerIrql(apc.oldIrql)
          const dispatch = n.KeRaiseIrql(n.DISPATCH_LEVEL)
          site = lineHere(1)
          n.NdisFreeMemory(second, PAGE, NONCACHED)
          n.KeLowerIrql(dispatch.oldIrql)
        },
      },
    })
    expect(kinds(m)).toEqual(['irql-violation'])
    const f = theFinding(m, 'irql-violation')
    expect(f).toMatchObject({ site, params: [0xe5, 2, 0, 0] })
    expect(f.message).toBe('NdisFreeMemory of noncached memory at DISPATCH_LEVEL: it must be called at APC_LEVEL or below')
  })

  it('NdisFreeMemory of contiguous memory must be at PASSIVE_LEVEL', () => {
    const { m } = loadTestMiniport({}, {
      hooks: {
        initialize: (a) => {
          const n = a.ndis
          const va = n.NdisAllocateMemory(PAGE, CONTIGUOUS, -1).virtualAddress
          const apc = n.KeRaiseIrql(n.APC_LEVEL)
          n.NdisFreeMemory(va, PAGE, CONTIGUOUS)
          n.KeLowerIrql(apc.oldIrql)
        },
      },
    })
    expect(theFinding(m, 'irql-violation').message).toBe('NdisFreeMemory of contiguous memory at APC_LEVEL: it must be called at PASSIVE_LEVEL')
  })

  // "Allocating Memory in an NDIS 6.0 Miniport Driver": NdisAllocateMemoryWithTagPriority replaces
  // NdisAllocateMemory and NdisAllocateMemoryWithTag. They keep working; a note (info), not a fault.
  it('an NDIS 6 miniport calling NdisAllocateMemory[WithTag] gets one note per calling line, and the run stays clean', () => {
    const { m, ndis } = loadTestMiniport()
    const sites: string[] = []
    for (let i = 0; i < 3; i++) {
      sites[0] = lineHere(1)
      const a = ndis.NdisAllocateMemory(64, 0, -1)
      sites[1] = lineHere(1)
      const b = ndis.NdisAllocateMemoryWithTag(64, 'tseT')
      expect(a.status).toBe(ndis.NDIS_STATUS_SUCCESS)
      expect(b.status).toBe(ndis.NDIS_STATUS_SUCCESS)
      ndis.NdisFreeMemory(a.virtualAddress, 64, 0)
      ndis.NdisFreeMemory(b.virtualAddress, 64, 0)
    }
    expect(m.findings).toEqual([])
    expect(m.notes.map((n) => [n.kind, n.severity, n.site, n.details?.['routine']])).toEqual([
      ['deprecated-routine', 'info', sites[0], 'NdisAllocateMemory'],
      ['deprecated-routine', 'info', sites[1], 'NdisAllocateMemoryWithTag'],
    ])
    expect(m.notes[0]!.message).toContain('NdisAllocateMemoryWithTagPriority replaces NdisAllocateMemory and NdisAllocateMemoryWithTag')
    m.halt()
    expect(m.report().outcome).toBe('clean')
    expect(m.report().notes).toHaveLength(2)
  })

  it('HighestAcceptableAddress keeps its documented meaning through the deprecated routine', () => {
    const { m, ndis } = loadTestMiniport({ memory: { policy: 'high-first' } })
    const { virtualAddress } = ndis.NdisAllocateMemory(3 * PAGE, 0, FOUR_GIB_MINUS_ONE)
    for (const pa of pagesOf(ndis, virtualAddress, 3 * PAGE)) expect(pa).toBeLessThan(TWO_POW_32)
    ndis.NdisFreeMemory(virtualAddress, 3 * PAGE, 0)
    expect(m.findings).toEqual([])
  })

  // Bug check 0xC2 reference: 0x9B a tag of 0, 0x9D a tag with no letter or digit.
  it('NdisAllocateMemoryWithTagPriority with tag 0 is 0xC2/0x9B, with a tag of no letter or digit 0xC2/0x9D', () => {
    const { m, ndis } = loadTestMiniport()
    const handle = m.ndis!.ctx.adapterHandle
    const zero = ndis.NdisAllocateMemoryWithTagPriority(handle, 64, 0, 16)
    const symbols = ndis.NdisAllocateMemoryWithTagPriority(handle, 64, '#!- ', 16)
    const fine = ndis.NdisAllocateMemoryWithTagPriority(handle, 64, '_1#!', 16)
    expect(m.findings.map((f) => [f.kind, f.code, f.params?.[0]])).toEqual([
      ['pool-bad-call', BUGCHECK.BAD_POOL_CALLER, 0x9b],
      ['pool-bad-call', BUGCHECK.BAD_POOL_CALLER, 0x9d],
    ])
    expect(m.findings[1]!.params).toEqual([0x9d, 0x23212d20, 512, 0])
    for (const va of [zero, symbols, fine]) ndis.NdisFreeMemory(va, 64, 0)
  })
})
