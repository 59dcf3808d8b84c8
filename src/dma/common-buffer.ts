// AllocateCommonBuffer / FreeCommonBuffer: memory the CPU and the device share (S13).
//
// Without an IOMMU, the device sees physical addresses, so the buffer is one physically
// contiguous run below the adapter's limit that never crosses a 4 GiB boundary, and its
// logical address is its physical address. With the IOMMU translating, the frames may be
// anywhere (high-first puts them above 4 GiB) and the device gets an IOVA below its limit,
// mapped page by page into its domain; freeing unmaps and invalidates the IOTLB.
//
// With `dmaGuard`, a guard region surrounds the buffer: unmapped VA pages for the CPU, and for
// the device physical guard frames (no IOMMU) or unmapped IOVA pages (IOMMU on), so a write
// past the end is caught as it happens (dma-outside-buffer / iommu-fault).
import { FOUR_GIB, PAGE_SIZE, asLogical, asPhysical, formatBytes, hex } from '../hw/address.js'
import { BUGCHECK } from '../kernel/bugcheck.js'
import { captureSite, resolveSite, siteHere, type SiteToken } from '../kernel/sites.js'
import type { MappedMemory } from '../kernel/mm.js'
import type { PageNote } from '../kernel/address-space.js'
import { MAX_BUFFER_RECORDS, type AdapterState, type CommonBuffer, type DmaBufferRecord } from './adapter.js'
import { ALLOW_BOTH } from './coverage.js'
import { DMA_VIOLATION } from './violations.js'

const FREED_KEEP = 256

/** The page note a freed common buffer leaves behind, for a late access's page fault. */
function freedNote(what: string, site: string | undefined, freedAt: SiteToken | undefined): PageNote {
  // The free site resolves only if a late access ever faults on these pages.
  let resolved: string | undefined
  return {
    what,
    ...(site === undefined ? {} : { site }),
    get freedAt(): string {
      resolved ??= resolveSite(freedAt) ?? ''
      return resolved
    },
  }
}

export function allocateCommonBuffer(adapter: AdapterState, length: number, cacheEnabled: boolean, routine: string, site: string | undefined, maximumAddress?: number): CommonBuffer | null {
  const p = adapter.platform
  const k = p.kernel
  if (!(Number.isSafeInteger(length) && length > 0)) return null
  const pages = Math.max(1, Math.ceil(length / PAGE_SIZE))
  // AllocateCommonBufferEx's MaximumAddress narrows the device limit for this buffer.
  const limit = maximumAddress === undefined ? adapter.limit : Math.min(adapter.limit, maximumAddress + 1)
  const guard = k.options.dmaGuard ? 1 : 0
  const label = `common buffer of ${formatBytes(length)} (${routine})`
  const cache = cacheEnabled ? 'cached' : 'noncached'
  const guardNote = { guard: 'dma-guard' as const, what: `the guard region around a ${label}`, ...(site === undefined ? {} : { site }) }
  const request = { kind: 'common-buffer' as const, label, ...(site === undefined ? {} : { site }) }

  let memory: MappedMemory | null
  let guardFrames: number[] = []
  let iova: CommonBuffer['iova'] = null
  let logical: number
  if (adapter.iommuOn) {
    memory = k.mm.allocateMapped(pages, request, { cache, guardBefore: guard, guardAfter: guard, guardNote }, 'uninitialized')
    if (memory === null) return null
    const space = adapter.iovaSpace()
    const base = space.allocate(pages + 2 * guard)
    if (base < 0 || base + (pages + 2 * guard) * PAGE_SIZE > limit) {
      if (base >= 0) space.release(base, pages + 2 * guard)
      k.mm.freeMapped(memory, freedNote(label, site, undefined))
      return null
    }
    const first = base + guard * PAGE_SIZE
    for (let i = 0; i < pages; i++) {
      if (!p.domains.map(adapter.requester, asLogical(first + i * PAGE_SIZE), asPhysical(memory.pfns[i]! * PAGE_SIZE), PAGE_SIZE, { read: true, write: true })) {
        // No frame left for a translation table: undo the pages mapped so far (maybe none).
        if (i > 0) p.domains.unmap(adapter.requester, asLogical(first), i * PAGE_SIZE)
        space.release(base, pages + 2 * guard)
        k.mm.freeMapped(memory, freedNote(label, site, undefined))
        return null
      }
    }
    iova = { base, pages: pages + 2 * guard }
    logical = first
    if (guard > 0) {
      const what = `the guard page around a ${label}`
      p.verifier.addGuardIova(adapter.requester, base, what, site)
      p.verifier.addGuardIova(adapter.requester, first + pages * PAGE_SIZE, what, site)
    }
  } else {
    // One run below the limit that never crosses a 4 GiB multiple (AllocateCommonBuffer's rule).
    const got = k.mm.allocateFrames(pages + 2 * guard, { ...request, contiguous: true, highest: limit - 1, boundary: FOUR_GIB })
    if (got === null) return null
    guardFrames = guard > 0 ? [got.pfns[0]!, got.pfns[got.pfns.length - 1]!] : []
    const pfns = got.pfns.slice(guard, guard + pages)
    k.mm.fillFrames(pfns, 'uninitialized')
    const va = k.mm.mapFrames(pfns, { cache, guardBefore: guard, guardAfter: guard, guardNote })
    memory = { va, pages, pfns, owner: got.owner, guardBefore: guard, guardAfter: guard, pteFlags: 0 }
    logical = pfns[0]! * PAGE_SIZE
    if (guard > 0) {
      p.verifier.addGuard(guardFrames[0]!, `the guard frame before a ${label}`, va, va - PAGE_SIZE, false)
      p.verifier.addGuard(guardFrames[1]!, `the guard frame after a ${label}`, va, va + pages * PAGE_SIZE, true)
    }
  }

  const ranges: Array<readonly [number, number]> = []
  for (let i = 0, left = length; i < pages; i++, left -= PAGE_SIZE) ranges.push([memory.pfns[i]! * PAGE_SIZE, Math.min(PAGE_SIZE, left)])
  // The CPU and the device share a common buffer: the device may read and write all of it.
  const mapping = { id: p.verifier.newId(), kind: 'common-buffer' as const, label, site, addressBits: adapter.addressBits, ranges, allow: ALLOW_BOTH }
  p.verifier.add(mapping)
  const record: DmaBufferRecord = {
    routine,
    site: site ?? null,
    length,
    virtualAddress: memory.va,
    logicalAddress: logical,
    physicalAddress: memory.pfns[0]! * PAGE_SIZE,
    aboveFourGiB: memory.pfns.some((f) => f * PAGE_SIZE >= FOUR_GIB),
    deviceLimit: adapter.limit,
    reachable: logical + length <= adapter.limit,
    translatedByIommu: iova !== null,
    freed: false,
  }
  if (p.stats.commonBuffers.length < MAX_BUFFER_RECORDS) p.stats.commonBuffers.push(record)
  p.observer?.commonBuffer(adapter, record, memory.pfns)
  const cb: CommonBuffer = { va: memory.va, logical, length, cacheEnabled, memory, guardFrames, iova, mapping, routine, site, record }
  adapter.commonBuffers.set(cb.va, cb)
  return cb
}

/**
 * FreeCommonBuffer with Driver Verifier's checks: the arguments must be the allocation's
 * (pool-free-mismatch otherwise; the buffer is still freed, as the VA names it), a second free
 * is common-buffer-double-free (0xE6/0x03), an address that was never a common buffer is a
 * bad argument.
 */
export function freeCommonBuffer(adapter: AdapterState, length: number, logical: number, va: number, cacheEnabled: boolean, routine: string): void {
  const p = adapter.platform
  const k = p.kernel
  const cb = adapter.commonBuffers.get(va)
  if (cb === undefined) {
    const freed = adapter.freedCommonBuffers.get(va)
    if (freed !== undefined) {
      const site = siteHere()
      k.log.violation({
        kind: 'common-buffer-double-free',
        code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION,
        // 0xE6/0x03: "The driver freed too many DMA common buffers"; p2 the number of extra frees.
        params: [DMA_VIOLATION.commonBufferDoubleFree, 1, 0, 0],
        message: `${routine} of the ${formatBytes(freed.length)} common buffer at ${hex(va)}, which was already freed`,
        ...(site === undefined ? {} : { site }),
        details: { va, length, allocatedAt: freed.site ?? null },
      })
    } else {
      adapter.badArgument(routine, `${hex(va)} is not a common buffer of this adapter`)
    }
    return
  }
  const wrong: string[] = []
  if (length !== cb.length) wrong.push(`length ${length} (allocated ${cb.length})`)
  if (logical !== cb.logical) wrong.push(`logical address ${hex(logical)} (allocated ${hex(cb.logical)})`)
  if (cacheEnabled !== cb.cacheEnabled) wrong.push(`CacheEnabled ${cacheEnabled} (allocated ${cb.cacheEnabled})`)
  if (wrong.length > 0) {
    const site = siteHere()
    k.log.violation({
      kind: 'pool-free-mismatch',
      message: `${routine} of the common buffer at ${hex(va)} with ${wrong.join(', ')}: the arguments must be those of the allocation`,
      ...(site === undefined ? {} : { site }),
      details: { va, length, allocatedLength: cb.length, logical, allocatedLogical: cb.logical },
    })
  }
  releaseCommonBuffer(adapter, cb, adapter.platform.kernel.calls.captureSites ? captureSite() : undefined)
}

/** Undoes a common buffer: IOMMU mapping, live mapping, VA and frames. */
export function releaseCommonBuffer(adapter: AdapterState, cb: CommonBuffer, freedAt: SiteToken | undefined): void {
  const p = adapter.platform
  adapter.commonBuffers.delete(cb.va)
  p.verifier.remove(cb.mapping)
  if (cb.iova !== null) {
    if (cb.memory.guardBefore > 0) {
      p.verifier.removeGuardIova(adapter.requester, cb.iova.base)
      p.verifier.removeGuardIova(adapter.requester, cb.logical + cb.memory.pages * PAGE_SIZE)
    }
    p.domains.unmap(adapter.requester, asLogical(cb.iova.base), cb.iova.pages * PAGE_SIZE)
    adapter.iovaSpace().release(cb.iova.base, cb.iova.pages)
  }
  for (const g of cb.guardFrames) p.verifier.removeGuard(g)
  const note = freedNote(cb.mapping.label, cb.site, freedAt)
  p.kernel.mm.unmap(cb.va, cb.memory.pages, note, cb.memory.guardBefore, cb.memory.guardAfter)
  p.kernel.mm.freeFrames(cb.memory.pfns)
  for (const g of cb.guardFrames) p.kernel.frames.free(g)
  cb.record.freed = true
  adapter.freedCommonBuffers.set(cb.va, cb)
  if (adapter.freedCommonBuffers.size > FREED_KEEP) {
    const oldest = adapter.freedCommonBuffers.keys().next().value
    if (oldest !== undefined) adapter.freedCommonBuffers.delete(oldest)
  }
}
