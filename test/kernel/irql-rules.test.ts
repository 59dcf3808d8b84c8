// REFERENCE §3: each memory routine's highest legal IRQL. At that level the call is clean; one
// level above it is an `irql-violation` with Driver Verifier's 0xC4 parameter 1 for the routine,
// and in log mode the call still does its work.
import { describe, expect, it } from 'vitest'
import type { KernelApi } from '../../src/kernel/api.js'
import { fixture, type Fixture } from './kernel-fixture.js'

const APC = 1
const DISPATCH = 2

interface Rule {
  readonly routine: string
  readonly max: number
  /** Driver Verifier's parameter 1 for this routine above its level. */
  readonly p1: number
  /** Anything the call needs, made at PASSIVE_LEVEL before the IRQL is raised. */
  readonly setup?: (f: Fixture) => unknown
  readonly call: (k: KernelApi, arg: unknown) => void
}

const mdlFor = (f: Fixture, paged: boolean) => f.k.IoAllocateMdl(f.k.ExAllocatePoolWithTag(paged ? f.k.PagedPool : f.k.NonPagedPoolNx, 64, 'fuB '), 64)!
const head = (f: Fixture) => f.k.ExAllocatePoolWithTag(f.k.NonPagedPoolNx, 128, 'daeH')

const rules: Rule[] = [
  { routine: 'ExAllocatePoolWithTag (nonpaged)', max: DISPATCH, p1: 0x02, call: (k) => void k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 8, 'tseT') },
  { routine: 'ExAllocatePoolWithTag (paged)', max: APC, p1: 0x01, call: (k) => void k.ExAllocatePoolWithTag(k.PagedPool, 8, 'tseT') },
  { routine: 'ExAllocatePool2 (paged)', max: APC, p1: 0x01, call: (k) => void k.ExAllocatePool2(k.POOL_FLAG_PAGED, 8, 'tseT') },
  { routine: 'ExFreePoolWithTag (nonpaged)', max: DISPATCH, p1: 0x12, setup: (f) => f.k.ExAllocatePoolWithTag(0, 8, 'tseT'), call: (k, va) => k.ExFreePoolWithTag(va as number, 'tseT') },
  { routine: 'ExFreePool (paged)', max: APC, p1: 0x11, setup: (f) => f.k.ExAllocatePoolWithTag(1, 8, 'tseT'), call: (k, va) => k.ExFreePool(va as number) },
  { routine: 'ExInitializeNPagedLookasideList', max: DISPATCH, p1: 0xe5, setup: head, call: (k, h) => k.ExInitializeNPagedLookasideList(h as number, null, null, 0, 64, 'tsiL', 0) },
  { routine: 'ExInitializePagedLookasideList', max: APC, p1: 0xe5, setup: head, call: (k, h) => k.ExInitializePagedLookasideList(h as number, null, null, 0, 64, 'tsiL', 0) },
  {
    routine: 'ExAllocateFromNPagedLookasideList', max: DISPATCH, p1: 0xe5,
    setup: (f) => { const h = head(f); f.k.ExInitializeNPagedLookasideList(h, null, null, 0, 64, 'tsiL', 0); return h },
    call: (k, h) => void k.ExAllocateFromNPagedLookasideList(h as number),
  },
  {
    routine: 'ExAllocateFromPagedLookasideList', max: APC, p1: 0xe5,
    setup: (f) => { const h = head(f); f.k.ExInitializePagedLookasideList(h, null, null, 0, 64, 'tsiL', 0); return h },
    call: (k, h) => void k.ExAllocateFromPagedLookasideList(h as number),
  },
  { routine: 'MmAllocateContiguousMemorySpecifyCache', max: DISPATCH, p1: 0xe5, call: (k) => void k.MmAllocateContiguousMemorySpecifyCache(4096, 0, 0xffff_ffff, 0, k.MmNonCached) },
  { routine: 'MmFreeContiguousMemory', max: DISPATCH, p1: 0xe5, setup: (f) => f.k.MmAllocateContiguousMemory(4096, 0xffff_ffff), call: (k, va) => k.MmFreeContiguousMemory(va as number) },
  { routine: 'MmAllocateNonCachedMemory', max: APC, p1: 0xe5, call: (k) => void k.MmAllocateNonCachedMemory(4096) },
  { routine: 'MmFreeNonCachedMemory', max: APC, p1: 0xe5, setup: (f) => f.k.MmAllocateNonCachedMemory(4096), call: (k, va) => k.MmFreeNonCachedMemory(va as number, 4096) },
  { routine: 'MmAllocatePagesForMdl', max: DISPATCH, p1: 0x7e, call: (k) => void k.MmAllocatePagesForMdl(0, 0xffff_ffff, 0, 4096) },
  { routine: 'MmFreePagesFromMdl', max: DISPATCH, p1: 0x7e, setup: (f) => f.k.MmAllocatePagesForMdl(0, 0xffff_ffff, 0, 4096), call: (k, mdl) => k.MmFreePagesFromMdl(mdl as never) },
  { routine: 'MmAllocateMappingAddress', max: APC, p1: 0xe5, call: (k) => void k.MmAllocateMappingAddress(4096, 'paMR') },
  { routine: 'MmFreeMappingAddress', max: APC, p1: 0xe5, setup: (f) => f.k.MmAllocateMappingAddress(4096, 'paMR'), call: (k, va) => k.MmFreeMappingAddress(va as number, 'paMR') },
  { routine: 'IoAllocateMdl', max: DISPATCH, p1: 0xe5, setup: (f) => f.k.ExAllocatePoolWithTag(0, 64, 'fuB '), call: (k, va) => void k.IoAllocateMdl(va as number, 64) },
  { routine: 'MmBuildMdlForNonPagedPool', max: DISPATCH, p1: 0xe5, setup: (f) => mdlFor(f, false), call: (k, mdl) => k.MmBuildMdlForNonPagedPool(mdl as never) },
  { routine: 'MmProbeAndLockPages (nonpaged)', max: DISPATCH, p1: 0x70, setup: (f) => mdlFor(f, false), call: (k, mdl) => k.MmProbeAndLockPages(mdl as never, k.KernelMode, k.IoReadAccess) },
  { routine: 'MmProbeAndLockPages (pageable)', max: APC, p1: 0x70, setup: (f) => mdlFor(f, true), call: (k, mdl) => k.MmProbeAndLockPages(mdl as never, k.KernelMode, k.IoReadAccess) },
  {
    routine: 'MmUnlockPages', max: DISPATCH, p1: 0x78,
    setup: (f) => { const mdl = mdlFor(f, false); f.k.MmProbeAndLockPages(mdl, f.k.KernelMode, f.k.IoReadAccess); return mdl },
    call: (k, mdl) => k.MmUnlockPages(mdl as never),
  },
  {
    routine: 'MmMapLockedPagesSpecifyCache', max: DISPATCH, p1: 0x76,
    setup: (f) => { const mdl = mdlFor(f, true); f.k.MmProbeAndLockPages(mdl, f.k.KernelMode, f.k.IoReadAccess); return mdl },
    call: (k, mdl) => void k.MmMapLockedPagesSpecifyCache(mdl as never, k.KernelMode, k.MmCached, 0, false, k.NormalPagePriority),
  },
]

describe('IRQL rules of the memory routines', () => {
  for (const rule of rules) {
    it(`${rule.routine}: clean at IRQL ${rule.max}, 0xC4/0x${rule.p1.toString(16).toUpperCase()} at ${rule.max + 1}, and the call still works in log mode`, () => {
      for (const irql of [rule.max, rule.max + 1]) {
        const f = fixture()
        const arg = rule.setup?.(f)
        f.m.kernel.irql = irql
        rule.call(f.k, arg)
        if (irql === rule.max) {
          expect(f.m.findings).toEqual([])
        } else {
          expect(f.m.findings).toHaveLength(1)
          expect(f.m.findings[0]).toMatchObject({ kind: 'irql-violation', code: 0xc4, severity: 'violation' })
          expect(f.m.findings[0]!.params![0]).toBe(rule.p1)
          expect(f.m.findings[0]!.params![1]).toBe(irql)
          expect(f.m.findings[0]!.site).toMatch(/^test\/kernel\/irql-rules\.test\.ts:\d+$/)
        }
      }
    })
  }
})
