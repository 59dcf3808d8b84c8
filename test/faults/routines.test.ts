// The fault-injection routine table (src/faults/routines.ts) is the list of routines that exist
// and can be failed: every entry is asked for by a shim, and the routines Driver Verifier's Low
// Resources Simulation fails ("Low Resources Simulation", Driver Verifier documentation:
// ExAllocatePoolWithXxx, MmGetSystemAddressForMdlSafe, MmProbeAndLockPages,
// MmMapLockedPagesSpecifyCache, MmMapIoSpace, IoAllocateMdl, MmAllocateContiguousMemory*,
// MmAllocatePagesForMdl*, MmAllocateNonCachedMemory) fail here as their pages say they fail.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ALLOCATION_ROUTINES } from '../../src/faults/routines.js'
import { parseFaultSpec } from '../../src/faults/spec.js'
import { NtStatusError } from '../../src/kernel/wdm.js'
import { loadTestMiniport } from '../support/driver-fixture.js'

const PAGE = 4096

describe('the fault-injection routine table', () => {
  it('lists only routines a shim asks the fault hook about', () => {
    const root = new URL('../../src/', import.meta.url).pathname
    const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]))
    const shims = files(root).filter((f) => f.endsWith('.ts') && !f.endsWith('faults/routines.ts')).map((f) => readFileSync(f, 'utf8'))
    const unasked = ALLOCATION_ROUTINES.filter((r) => !shims.some((text) => text.includes(`'${r}'`) && /calls\.allocation\(|\benter\(/.test(text)))
    expect(unasked).toEqual([])
  })

  it('a routine= glob that matches no routine that can be failed is a usage error naming it', () => {
    expect(() => parseFaultSpec('routine=KeFlushIoBuffers')).toThrow(/no allocation routine matches "KeFlushIoBuffers"/)
    expect(() => parseFaultSpec('routine=MmMapIoSpace*')).not.toThrow()
  })
})

describe('low resources simulation covers what Driver Verifier\'s does', () => {
  const mdlOver = (l: ReturnType<typeof loadTestMiniport>, paged: boolean) => {
    const { ndis } = l
    const va = ndis.ExAllocatePoolWithTag(paged ? ndis.PagedPool : ndis.NonPagedPoolNx, 2 * PAGE, 'fuB ')
    return ndis.IoAllocateMdl(va, 2 * PAGE, false, false, null)!
  }

  it('MmGetSystemAddressForMdlSafe returns NULL when its mapping fails', () => {
    const l = loadTestMiniport({ faults: 'routine=MmGetSystemAddressForMdlSafe,nth=1' })
    const mdl = mdlOver(l, true)
    l.ndis.MmProbeAndLockPages(mdl, l.ndis.KernelMode, l.ndis.IoReadAccess)
    expect(l.ndis.MmGetSystemAddressForMdlSafe(mdl, l.ndis.NormalPagePriority)).toBe(0)
    expect(l.ndis.MmGetSystemAddressForMdlSafe(mdl, l.ndis.NormalPagePriority)).not.toBe(0)
    expect(l.m.report().faults.injected.map((f) => f.routine)).toEqual(['MmGetSystemAddressForMdlSafe'])
  })

  it('MmMapLockedPagesSpecifyCache returns NULL (BugCheckOnFailure FALSE)', () => {
    const l = loadTestMiniport({ faults: 'routine=MmMapLockedPagesSpecifyCache' })
    const mdl = mdlOver(l, true)
    l.ndis.MmProbeAndLockPages(mdl, l.ndis.KernelMode, l.ndis.IoReadAccess)
    expect(l.ndis.MmMapLockedPagesSpecifyCache(mdl, l.ndis.KernelMode, l.ndis.MmCached, 0, false, l.ndis.NormalPagePriority)).toBe(0)
  })

  // MmProbeAndLockPages reference: it raises an exception when the pages cannot be locked.
  it('MmProbeAndLockPages raises STATUS_INSUFFICIENT_RESOURCES, as a driver\'s __try/__except sees it', () => {
    const l = loadTestMiniport({ faults: 'routine=MmProbeAndLockPages,nth=1' })
    const mdl = mdlOver(l, true)
    let raised: unknown
    try {
      l.ndis.MmProbeAndLockPages(mdl, l.ndis.KernelMode, l.ndis.IoReadAccess)
    } catch (e) {
      raised = e
    }
    expect(raised).toBeInstanceOf(NtStatusError)
    expect((raised as NtStatusError).status).toBe(l.ndis.STATUS_INSUFFICIENT_RESOURCES)
    expect(mdl.MdlFlags & l.ndis.MDL_PAGES_LOCKED).toBe(0)
  })

  it('MmMapIoSpace, MmMapIoSpaceEx and NdisMMapIoSpace fail as their pages say (NULL; NDIS_STATUS_RESOURCES)', () => {
    const l = loadTestMiniport({ faults: ['routine=MmMapIoSpace*', 'routine=NdisMMapIoSpace,phase=runtime'] })
    const bar = l.m.nic.bar0
    expect(l.ndis.MmMapIoSpace(bar, PAGE, l.ndis.MmNonCached)).toBe(0)
    expect(l.ndis.MmMapIoSpaceEx(bar, PAGE, l.ndis.PAGE_READWRITE | l.ndis.PAGE_NOCACHE)).toBe(0)
    expect(l.ndis.NdisMMapIoSpace(l.a.handle, bar, PAGE)).toEqual({ status: l.ndis.NDIS_STATUS_RESOURCES, virtualAddress: 0 })
    expect(l.m.findings).toEqual([])
  })
})

describe('MmMapIoSpace[Ex] / MmUnmapIoSpace', () => {
  it('map a device\'s registers at a nonpaged VA; MmUnmapIoSpace gives it back, and a mapping left at unload is a leak', () => {
    const l = loadTestMiniport()
    const { ndis, m } = l
    const va = ndis.MmMapIoSpaceEx(m.nic.bar0, PAGE, ndis.PAGE_READWRITE | ndis.PAGE_NOCACHE)
    expect(va).not.toBe(0)
    // STATUS (0x0008) through the mapping is the device's own register.
    expect(ndis.memory.read32(va + 8)).toBe(m.cpu.read32(m.nic.bar0 + 8))
    ndis.MmUnmapIoSpace(va, PAGE)
    expect(m.kernel.space.stateOf(va)).toBe('freed')
    const kept = ndis.MmMapIoSpace(m.nic.bar0, PAGE, ndis.MmNonCached)
    expect(kept).not.toBe(0)
    m.halt()
    expect(m.findings.filter((f) => f.kind === 'memory-leak').map((f) => f.details?.['memory'])).toEqual(['io-space'])
  })

  // Bug check 0xDA reference, 0x400: "an I/O space mapping that the system is unaware of".
  it('MmUnmapIoSpace of something that is no I/O space mapping is SYSTEM_PTE_MISUSE 0xDA/0x400, fatal', () => {
    const l = loadTestMiniport()
    const va = l.ndis.ExAllocatePoolWithTag(l.ndis.NonPagedPoolNx, PAGE, 'fuB ')
    expect(() => l.ndis.MmUnmapIoSpace(va, PAGE)).toThrow(/SYSTEM_PTE_MISUSE/)
    expect(l.m.report().bugcheck).toMatchObject({ code: 0xda, params: [0x400, va, 1, 0] })
  })

  // MmMapIoSpace reference: only pages that are locked down; Driver Verifier 0xC4/0x83 otherwise.
  it('MmMapIoSpace of RAM nobody has locked down is 0xC4/0x83 and NULL', () => {
    const l = loadTestMiniport({ memory: { policy: 'low-first' } })
    const top = l.m.ram.top
    const free = [...Array(64).keys()].map((i) => top - (i + 1) * PAGE).find((pa) => l.m.kernel.frames.ownerOf(pa / PAGE) === undefined)!
    expect(l.ndis.MmMapIoSpace(free, PAGE, l.ndis.MmCached)).toBe(0)
    expect(l.m.findings.map((f) => [f.code, f.params?.[0]])).toEqual([[0xc4, 0x83]])
  })
})
