// Every bug check the kernel memory routines reproduce, in both verifier modes. A fatal
// finding stops the machine in either mode (the driver call unwinds with the BugCheck); a
// violation is recorded and the call goes on in log mode, and is the bug check in crash mode.
import { describe, expect, it } from 'vitest'
import { BugCheck } from '../../src/index.js'
import { fixture, type Fixture } from './kernel-fixture.js'

interface Case {
  readonly name: string
  readonly kind: string
  readonly code: number
  /** Parameter 1 (or, for 0xC1 and 0xD6, the parameter that tells the case apart). */
  readonly params: (f: Fixture, ctx: Record<string, number>) => Partial<Record<0 | 1 | 2 | 3, number>>
  readonly fatal: boolean
  readonly specialPool?: boolean
  readonly run: (f: Fixture, ctx: Record<string, number>) => void
}

const cases: Case[] = [
  {
    name: 'S20 NonPagedPoolMustSucceed is fatal', kind: 'must-succeed-pool', code: 0xc2, fatal: true,
    params: (f) => ({ 0: 0x9a, 1: f.k.NonPagedPoolMustSucceed, 2: 64 }),
    run: ({ k }) => void k.ExAllocatePoolWithTag(k.NonPagedPoolMustSucceed, 64, 'tseT'),
  },
  {
    name: 'tag 0', kind: 'pool-bad-call', code: 0xc2, fatal: false,
    params: () => ({ 0: 0x9b }),
    run: ({ k }) => void k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 0),
  },
  {
    name: 'zero-byte allocation', kind: 'pool-bad-call', code: 0xc4, fatal: false,
    params: () => ({ 0: 0x00 }),
    run: ({ k }) => void k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 0, 'oreZ'),
  },
  {
    name: 'S08 paged allocation at DISPATCH_LEVEL', kind: 'irql-violation', code: 0xc4, fatal: false,
    params: (f) => ({ 0: 0x01, 1: 2, 2: f.k.PagedPool, 3: 64 }),
    run: ({ k }) => {
      k.KeRaiseIrql(k.DISPATCH_LEVEL)
      k.ExAllocatePoolWithTag(k.PagedPool, 64, 'tseT')
    },
  },
  {
    name: 'nonpaged allocation above DISPATCH_LEVEL', kind: 'irql-violation', code: 0xc4, fatal: false,
    params: () => ({ 0: 0x02, 1: 5 }),
    run: ({ k }) => {
      k.KeRaiseIrql(5)
      k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'tseT')
    },
  },
  {
    name: 'paged free at DISPATCH_LEVEL', kind: 'irql-violation', code: 0xc4, fatal: false,
    params: (_f, c) => ({ 0: 0x11, 1: 2, 3: c['va']! }),
    run: ({ k }, c) => {
      c['va'] = k.ExAllocatePoolWithTag(k.PagedPool, 64, 'tseT')
      k.KeRaiseIrql(k.DISPATCH_LEVEL)
      k.ExFreePool(c['va'])
    },
  },
  {
    name: 'free of an address no allocation returned', kind: 'pool-bad-free', code: 0xc4, fatal: true,
    params: (_f, c) => ({ 0: 0x10, 1: c['va']! }),
    run: ({ k }, c) => {
      c['va'] = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'tseT') + 16
      k.ExFreePool(c['va'])
    },
  },
  {
    name: 'double free', kind: 'pool-double-free', code: 0xc2, fatal: true,
    params: (_f, c) => ({ 0: 0x07, 3: c['va']! }),
    run: ({ k }, c) => {
      c['va'] = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'tseT')
      k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'tseT') // keeps the page
      k.ExFreePool(c['va'])
      k.ExFreePool(c['va'])
    },
  },
  {
    // Bug check 0xC2 reference, 0x0A: Windows always bug checks a free with the wrong tag.
    name: 'free with the wrong tag', kind: 'pool-free-mismatch', code: 0xc2, fatal: true,
    params: (_f, c) => ({ 0: 0x0a, 1: c['va']!, 2: 0x74736554, 3: 0x74736555 }),
    run: ({ k }, c) => {
      c['va'] = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'tseT')
      k.ExFreePoolWithTag(c['va'], 'tseU')
    },
  },
  {
    name: 'overrun into the next block\'s header, found at free', kind: 'pool-overrun', code: 0xc4, fatal: true,
    params: (_f, c) => ({ 0: 0x51, 1: c['va']!, 2: c['va']! + 64 }),
    run: ({ m, k }, c) => {
      c['va'] = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'tseT')
      k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'txeN')
      m.kernel.memory.fill(c['va'], 72, 0) // 8 bytes too many
      k.ExFreePool(c['va'])
    },
  },
  {
    name: 'a block whose own header was overwritten (BAD_POOL_HEADER)', kind: 'pool-overrun', code: 0x19, fatal: true,
    params: (_f, c) => ({ 0: 0x20, 1: c['next']! - 16 }),
    run: ({ m, k }, c) => {
      const first = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'tseT')
      c['next'] = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'txeN')
      m.kernel.memory.fill(first, 80, 0)
      k.ExFreePool(c['next'])
    },
  },
  {
    name: 'special pool: access past the end', kind: 'pool-overrun', code: 0xd6, fatal: true, specialPool: true,
    params: (_f, c) => ({ 0: c['va']! + 32, 1: 1 }),
    run: ({ m, k }, c) => {
      c['va'] = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 32, 'tseT')
      m.kernel.memory.write8(c['va'] + 32, 1)
    },
  },
  {
    name: 'special pool: bytes after the end overwritten, found at free', kind: 'pool-overrun', code: 0xc1, fatal: true, specialPool: true,
    params: (_f, c) => ({ 0: c['va']!, 1: c['va']! + 30, 3: 0x24 }),
    run: ({ m, k }, c) => {
      c['va'] = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 30, 'tseT')
      m.kernel.memory.write8(c['va'] + 30, 1)
      k.ExFreePool(c['va'])
    },
  },
  {
    name: 'special pool: nearby bytes before the block overwritten, found at free', kind: 'pool-overrun', code: 0xc1, fatal: true, specialPool: true,
    params: (_f, c) => ({ 0: c['va']!, 1: c['va']! - 1, 3: 0x23 }),
    run: ({ m, k }, c) => {
      c['va'] = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 32, 'tseT')
      m.kernel.memory.write8(c['va'] - 1, 1)
      k.ExFreePool(c['va'])
    },
  },
  {
    name: 'use after free', kind: 'page-fault', code: 0x50, fatal: true,
    params: (_f, c) => ({ 0: c['va']!, 1: 0 }),
    run: ({ m, k }, c) => {
      c['va'] = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 5000, 'tseT')
      k.ExFreePool(c['va'])
      m.kernel.memory.read8(c['va'])
    },
  },
  {
    name: 'S23 unload with pool allocations outstanding', kind: 'pool-leak', code: 0xc4, fatal: false,
    params: () => ({ 0: 0x62, 3: 2 }),
    run: ({ m, k }) => {
      k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'kaeL')
      k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'kaeL')
      m.kernel.checkLeaks('leaky.sys')
    },
  },
  {
    name: 'lookaside list initialized twice', kind: 'lookaside-misuse', code: 0xc4, fatal: false,
    params: (_f, c) => ({ 0: 0xca, 1: c['head']! }),
    run: ({ k }, c) => {
      c['head'] = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 128, 'daeH')
      k.ExInitializeNPagedLookasideList(c['head'], null, null, 0, 64, 'tsiL', 0)
      k.ExInitializeNPagedLookasideList(c['head'], null, null, 0, 64, 'tsiL', 0)
    },
  },
  {
    name: 'lookaside list deleted without being initialized', kind: 'lookaside-misuse', code: 0xc4, fatal: false,
    params: (_f, c) => ({ 0: 0xcb, 1: c['head']! }),
    run: ({ k }, c) => {
      c['head'] = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 128, 'daeH')
      k.ExDeleteNPagedLookasideList(c['head'])
    },
  },
  {
    name: 'pool holding a live lookaside list freed', kind: 'lookaside-misuse', code: 0xc4, fatal: false,
    params: (_f, c) => ({ 0: 0xcc, 1: c['head']! + 16, 2: c['head']!, 3: 256 }),
    run: ({ k }, c) => {
      c['head'] = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 256, 'daeH')
      k.ExInitializeNPagedLookasideList(c['head'] + 16, null, null, 0, 64, 'tsiL', 0)
      k.ExFreePool(c['head'])
    },
  },
  {
    name: 'lookaside block size too small', kind: 'lookaside-misuse', code: 0xc4, fatal: false,
    params: (_f, c) => ({ 0: 0xcd, 1: c['head']!, 2: 4, 3: 8 }),
    run: ({ k }, c) => {
      c['head'] = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 128, 'daeH')
      k.ExInitializeNPagedLookasideList(c['head'], null, null, 0, 4, 'tsiL', 0)
    },
  },
  {
    name: 'MmFreeContiguousMemory of an address it did not return', kind: 'pool-bad-free', code: 0xc2, fatal: true,
    params: (_f, c) => ({ 0: 0x60, 1: c['va']! }),
    run: ({ k }, c) => {
      c['va'] = k.MmAllocateContiguousMemory(8192, 0xffff_ffff) + 4096
      k.MmFreeContiguousMemory(c['va'])
    },
  },
  {
    name: 'MmAllocatePagesForMdl above DISPATCH_LEVEL', kind: 'irql-violation', code: 0xc4, fatal: false,
    params: () => ({ 0: 0x7e, 1: 5, 2: 2 }),
    run: ({ k }) => {
      k.KeRaiseIrql(5)
      k.MmAllocatePagesForMdl(0, 0xffff_ffff, 0, 4096)
    },
  },
  {
    name: 'MmUnlockPages of an MDL never locked', kind: 'mdl-misuse', code: 0xc4, fatal: false,
    params: () => ({ 0: 0x7c }),
    run: ({ k }) => {
      const mdl = k.IoAllocateMdl(k.ExAllocatePoolWithTag(k.PagedPool, 64, 'fuB '), 64)!
      k.MmUnlockPages(mdl)
    },
  },
  {
    name: 'KeRaiseIrql to a lower level', kind: 'irql-violation', code: 0xc4, fatal: false,
    params: () => ({ 0: 0x30, 1: 2, 2: 0 }),
    run: ({ k }) => {
      k.KeRaiseIrql(k.DISPATCH_LEVEL)
      k.KeRaiseIrql(k.PASSIVE_LEVEL)
    },
  },
]

function expectParams(actual: readonly number[], expected: Partial<Record<0 | 1 | 2 | 3, number>>): void {
  for (const [i, v] of Object.entries(expected)) expect(actual[Number(i)], `parameter ${Number(i) + 1}`).toBe(v)
}

describe('bug checks of the kernel memory routines', () => {
  for (const c of cases) {
    it(`${c.name}: ${c.kind} 0x${c.code.toString(16).toUpperCase()} in log mode`, () => {
      const f = fixture({ verifier: { mode: 'log', specialPool: c.specialPool ?? false } })
      const ctx: Record<string, number> = {}
      let thrown: unknown
      try {
        c.run(f, ctx)
      } catch (e) {
        thrown = e
      }
      const finding = f.m.findings.find((x) => x.kind === c.kind)!
      expect(finding).toBeDefined()
      expect(finding.code).toBe(c.code)
      expectParams(finding.params!, c.params(f, ctx))
      expect(finding.site).toMatch(/^test\/kernel\/bugchecks\.test\.ts:\d+$/)
      if (c.fatal) {
        expect(thrown).toBeInstanceOf(BugCheck)
        expect(finding.severity).toBe('fatal')
        expect(f.m.kernel.log.bugcheck?.code).toBe(c.code)
      } else {
        expect(thrown).toBeUndefined()
        expect(finding.severity).toBe('violation')
        expect(f.m.kernel.log.stopped).toBe(false)
      }
    })

    it(`${c.name}: ${c.kind} 0x${c.code.toString(16).toUpperCase()} in crash mode`, () => {
      const f = fixture({ verifier: { mode: 'crash', specialPool: c.specialPool ?? false } })
      const ctx: Record<string, number> = {}
      let thrown: unknown
      try {
        c.run(f, ctx)
      } catch (e) {
        thrown = e
      }
      expect(thrown).toBeInstanceOf(BugCheck)
      const b = thrown as BugCheck
      expect(b.kind).toBe(c.kind)
      expect(b.code).toBe(c.code)
      expectParams(b.params, c.params(f, ctx))
      expect(f.m.kernel.log.bugcheck).toEqual(b.info)
    })
  }
})
