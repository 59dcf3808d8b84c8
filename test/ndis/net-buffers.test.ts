// NET_BUFFER routines against their WDK pages (nblapi.h): NdisAllocateNetBufferPool,
// NdisAllocateNetBuffer ("If MdlChain is NULL, DataOffset must be 0"), NdisFreeNetBuffer,
// NdisAllocateNetBufferList (ContextSize and ContextBackFill multiples of
// MEMORY_ALLOCATION_ALIGNMENT), NdisRetreatNetBufferDataStart ("If there isn't enough unused data
// space, this function allocates a new buffer and an MDL ... and chains the new MDL to the
// beginning of the MDL chain"), NdisAdvanceNetBufferDataStart (FreeMdl), NdisGetDataBuffer
// (in place when contiguous, else copied to Storage, else NULL), NdisQueryNetBufferPhysicalCount,
// NdisAllocateCloneNetBufferList ("cloned from the start of the used data space"; new MDLs
// "reference the original data buffers" unless NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS),
// NdisAllocateFragmentNetBufferList (fragments of at most MaximumLength from StartOffset, each
// retreated by DataOffsetDelta) and their free routines; NDIS lookaside lists
// (NdisInitializeNPagedLookasideList and friends, the Ex NPaged lists under NDIS names).
import { describe, expect, it } from 'vitest'
import type { MDL } from '../../src/kernel/mdl.js'
import type { NET_BUFFER } from '../../src/ndis/types.js'
import { kinds, loadTestMiniport, theFinding, type Loaded } from '../support/driver-fixture.js'

const PAGE = 4096

/** An MDL over `length` fresh bytes (i & 0xff + seed) of nonpaged pool. */
function mdlOf(l: Loaded, length: number, seed = 0): { mdl: MDL; va: number } {
  const va = l.ndis.ExAllocatePoolWithTag(l.ndis.NonPagedPoolNx, length, 'tfuB')
  l.ndis.memory.writeBytes(va, Uint8Array.from({ length }, (_, i) => (i + seed) & 0xff))
  return { mdl: l.ndis.NdisAllocateMdl(l.a.handle, va, length)!, va }
}

function pools(l: Loaded) {
  const nbPool = l.ndis.NdisAllocateNetBufferPool(l.a.handle, { PoolTag: 'lPbN', DataSize: 0 })!
  const nblPool = l.ndis.NdisAllocateNetBufferListPool(l.a.handle, { ProtocolId: 0, fAllocateNetBuffer: false, ContextSize: 0, PoolTag: 'lPlN', DataSize: 0 })!
  return { nbPool, nblPool }
}

/** The NET_BUFFER's used data, read through NdisGetDataBuffer with a Storage buffer. */
function dataOf(l: Loaded, nb: NET_BUFFER): Uint8Array {
  const storage = l.ndis.ExAllocatePoolWithTag(l.ndis.NonPagedPoolNx, Math.max(nb.DataLength, 1), 'otsS')
  const at = l.ndis.NdisGetDataBuffer(nb, nb.DataLength, storage, 1, 0)
  const bytes = l.ndis.memory.readBytes(at, nb.DataLength)
  l.ndis.ExFreePoolWithTag(storage, 'otsS')
  return bytes
}

describe('NET_BUFFER pools and data space', () => {
  it('a NET_BUFFER over a two-MDL chain: CurrentMdl is the MDL holding byte DataOffset; retreat and advance within the unused space move it', () => {
    const l = loadTestMiniport()
    const { nbPool } = pools(l)
    const a = mdlOf(l, 100)
    const b = mdlOf(l, 200, 7)
    a.mdl.Next = b.mdl
    const nb = l.ndis.NdisAllocateNetBuffer(nbPool, a.mdl, 120, 150)!
    expect(nb).toMatchObject({ DataOffset: 120, DataLength: 150, CurrentMdlOffset: 20 })
    expect(nb.CurrentMdl).toBe(b.mdl)
    expect(l.ndis.NdisRetreatNetBufferDataStart(nb, 30, 0, null)).toBe(l.ndis.NDIS_STATUS_SUCCESS)
    expect(nb).toMatchObject({ DataOffset: 90, DataLength: 180, CurrentMdlOffset: 90 })
    expect(nb.CurrentMdl).toBe(a.mdl)
    l.ndis.NdisAdvanceNetBufferDataStart(nb, 30, false, null)
    expect(nb).toMatchObject({ DataOffset: 120, DataLength: 150, CurrentMdlOffset: 20 })
    l.ndis.NdisFreeNetBuffer(nb)
    l.ndis.NdisFreeNetBufferPool(nbPool)
    expect(kinds(l.m)).toEqual([])
  })

  it('a retreat beyond the unused space chains a new MDL in front (DataBackFill more), the data stays contiguous, and an advance with FreeMdl gives it back', () => {
    const l = loadTestMiniport()
    const { nbPool, nblPool } = pools(l)
    l.ndis.NdisFreeNetBufferListPool(nblPool)
    const a = mdlOf(l, 300)
    const nb = l.ndis.NdisAllocateNetBuffer(nbPool, a.mdl, 10, 290)!
    expect(l.ndis.NdisRetreatNetBufferDataStart(nb, 64, 32, null)).toBe(l.ndis.NDIS_STATUS_SUCCESS)
    expect(nb.MdlChain).not.toBe(a.mdl)
    expect(nb.MdlChain.Next).toBe(a.mdl)
    // 54 new bytes after 32 of backfill, then the old 10 bytes of unused space, then the data.
    expect(nb).toMatchObject({ DataOffset: 32, DataLength: 354, CurrentMdlOffset: 32 })
    expect(nb.MdlChain.ByteCount).toBe(86)
    expect(dataOf(l, nb).subarray(54)).toEqual(Uint8Array.from({ length: 300 }, (_, i) => i & 0xff))
    l.ndis.NdisAdvanceNetBufferDataStart(nb, 64, true, null)
    expect(nb.MdlChain).toBe(a.mdl)
    expect(nb).toMatchObject({ DataOffset: 10, DataLength: 290, CurrentMdlOffset: 10 })
    l.ndis.NdisFreeNetBuffer(nb)
    l.ndis.NdisFreeNetBufferPool(nbPool)
    l.ndis.NdisFreeMdl(a.mdl)
    l.ndis.ExFreePoolWithTag(a.va, 'tfuB')
    l.m.halt()
    expect(kinds(l.m)).toEqual([])
  })

  it('NdisGetDataBuffer: in place when contiguous and aligned, copied to Storage when not, NULL without Storage or with too little data', () => {
    const l = loadTestMiniport()
    const { nbPool } = pools(l)
    const a = mdlOf(l, 64)
    const b = mdlOf(l, 64, 64)
    a.mdl.Next = b.mdl
    const nb = l.ndis.NdisAllocateNetBuffer(nbPool, a.mdl, 8, 120)!
    expect(l.ndis.NdisGetDataBuffer(nb, 40, null, 1, 0)).toBe(a.va + 8)
    expect(l.ndis.NdisGetDataBuffer(nb, 40, null, 16, (a.va + 8) % 16)).toBe(a.va + 8)
    expect(l.ndis.NdisGetDataBuffer(nb, 80, null, 1, 0)).toBe(0)
    const storage = l.ndis.ExAllocatePoolWithTag(l.ndis.NonPagedPoolNx, 80, 'otsS')
    expect(l.ndis.NdisGetDataBuffer(nb, 80, storage, 1, 0)).toBe(storage)
    expect(l.ndis.memory.readBytes(storage, 80)).toEqual(Uint8Array.from({ length: 80 }, (_, i) => (i + 8) & 0xff))
    expect(l.ndis.NdisGetDataBuffer(nb, 121, storage, 1, 0)).toBe(0)
    expect(kinds(l.m)).toEqual([])
  })

  it('NdisQueryNetBufferPhysicalCount counts the pages the used data spans, MDL by MDL', () => {
    const l = loadTestMiniport()
    const { nbPool } = pools(l)
    const a = mdlOf(l, 2 * PAGE)
    const b = mdlOf(l, 100)
    a.mdl.Next = b.mdl
    const offset = PAGE - (a.va % PAGE) - 10 // the data starts 10 bytes before a page boundary
    const nb = l.ndis.NdisAllocateNetBuffer(nbPool, a.mdl, offset, 2 * PAGE - offset + 50)!
    const span = (va: number, len: number): number => Math.floor((va + len - 1) / PAGE) - Math.floor(va / PAGE) + 1
    const expected = span(a.va + offset, 2 * PAGE - offset) + span(b.va, 50)
    expect(expected).toBeGreaterThanOrEqual(3)
    expect(l.ndis.NdisQueryNetBufferPhysicalCount(nb)).toBe(expected)
  })

  it('NdisAllocateNetBuffer with a NULL MdlChain and a DataOffset, and NdisFreeNetBuffer twice, are nbl-misuse; NdisAllocateNetBuffer is fault-injectable', () => {
    const l = loadTestMiniport({ faults: 'routine=NdisAllocateNetBuffer,nth=2' })
    const { nbPool } = pools(l)
    expect(l.ndis.NdisAllocateNetBuffer(nbPool, null, 4, 0)).toBeNull()
    const nb = l.ndis.NdisAllocateNetBuffer(nbPool, null, 0, 0)!
    expect(nb).not.toBeNull()
    expect(l.ndis.NdisAllocateNetBuffer(nbPool, null, 0, 0)).toBeNull() // the injected failure
    l.ndis.NdisFreeNetBuffer(nb)
    l.ndis.NdisFreeNetBuffer(nb)
    expect(kinds(l.m)).toEqual(['nbl-misuse', 'nbl-misuse'])
  })

  it('NdisAllocateNetBufferList makes an NBL without a NET_BUFFER; a ContextSize that is not a multiple of MEMORY_ALLOCATION_ALIGNMENT is refused', () => {
    const l = loadTestMiniport()
    const { nblPool } = pools(l)
    const nbl = l.ndis.NdisAllocateNetBufferList(nblPool, 0, 0)!
    expect(nbl.FirstNetBuffer).toBeNull()
    expect(l.ndis.NdisAllocateNetBufferList(nblPool, 12, 0)).toBeNull()
    expect(theFinding(l.m, 'nbl-misuse').message).toContain('MEMORY_ALLOCATION_ALIGNMENT')
    l.ndis.NdisFreeNetBufferList(nbl)
    l.ndis.NdisFreeNetBufferListPool(nblPool)
  })
})

describe('clone and fragment NET_BUFFER_LISTs', () => {
  function original(l: Loaded, length: number, dataOffset: number) {
    const pool = l.ndis.NdisAllocateNetBufferListPool(l.a.handle, { ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: 'girO', DataSize: 0 })!
    const a = mdlOf(l, length + dataOffset, 3)
    return { pool, a, nbl: l.ndis.NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, a.mdl, dataOffset, length)! }
  }

  it('a clone describes the original\'s used data through new partial MDLs over the same pages, from DataOffset 0; the original cannot be freed before it', () => {
    const l = loadTestMiniport()
    const { nbPool, nblPool } = pools(l)
    const o = original(l, 1000, 100)
    const clone = l.ndis.NdisAllocateCloneNetBufferList(o.nbl, nblPool, nbPool, 0)!
    const nb = clone.FirstNetBuffer!
    expect(nb).toMatchObject({ DataOffset: 0, DataLength: 1000 })
    expect(nb.MdlChain).not.toBe(o.a.mdl)
    expect(nb.MdlChain.MdlFlags & l.ndis.MDL_PARTIAL).toBe(l.ndis.MDL_PARTIAL)
    expect(l.ndis.MmGetMdlVirtualAddress(nb.MdlChain)).toBe(o.a.va + 100)
    expect(dataOf(l, nb)).toEqual(dataOf(l, o.nbl.FirstNetBuffer!))
    expect((clone as { ParentNetBufferList?: unknown }).ParentNetBufferList).toBe(o.nbl)
    l.ndis.NdisFreeNetBufferList(o.nbl)
    expect(theFinding(l.m, 'nbl-misuse').message).toContain('clone')
    l.ndis.NdisFreeCloneNetBufferList(clone, 0)
    l.ndis.NdisFreeNetBufferList(o.nbl)
    expect(kinds(l.m)).toEqual(['nbl-misuse'])
  })

  it('with NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS the clone shares the original MDL chain; without pool handles NDIS uses its own pools', () => {
    const l = loadTestMiniport()
    const o = original(l, 500, 20)
    const clone = l.ndis.NdisAllocateCloneNetBufferList(o.nbl, null, null, l.ndis.NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS)!
    expect(clone.FirstNetBuffer!.MdlChain).toBe(o.a.mdl)
    expect(clone.FirstNetBuffer).toMatchObject({ DataOffset: 20, DataLength: 500 })
    l.ndis.NdisFreeCloneNetBufferList(clone, 0)
    expect(kinds(l.m)).toEqual([])
  })

  it('fragments of at most MaximumLength from StartOffset, each with DataOffsetDelta bytes of new space in front; freeing with the same delta leaves nothing behind', () => {
    const l = loadTestMiniport()
    const { nbPool, nblPool } = pools(l)
    const o = original(l, 3000, 0)
    const frag = l.ndis.NdisAllocateFragmentNetBufferList(o.nbl, nblPool, nbPool, 14, 1000, 20, 0, 0)!
    const nbs: NET_BUFFER[] = []
    for (let nb = frag.FirstNetBuffer; nb !== null; nb = nb.Next) nbs.push(nb)
    expect(nbs.map((nb) => nb.DataLength)).toEqual([1020, 1020, 1006])
    expect(dataOf(l, nbs[1]!).subarray(20)).toEqual(dataOf(l, o.nbl.FirstNetBuffer!).subarray(1014, 2014))
    l.ndis.NdisFreeFragmentNetBufferList(frag, 20, 0)
    l.ndis.NdisFreeNetBufferList(o.nbl)
    l.ndis.NdisFreeNetBufferListPool(o.pool)
    l.ndis.NdisFreeNetBufferListPool(nblPool)
    l.ndis.NdisFreeNetBufferPool(nbPool)
    l.ndis.NdisFreeMdl(o.a.mdl)
    l.ndis.ExFreePoolWithTag(o.a.va, 'tfuB')
    l.m.halt()
    expect(kinds(l.m)).toEqual([])
  })

  it('a clone never freed is reported at unload', () => {
    const l = loadTestMiniport()
    const o = original(l, 100, 0)
    l.ndis.NdisAllocateCloneNetBufferList(o.nbl, null, null, 0)
    l.m.halt()
    expect(l.m.findings.filter((f) => f.kind === 'ndis-resource-leak').map((f) => f.message).join('\n')).toContain('NdisFreeCloneNetBufferList not called')
  })
})

describe('NDIS lookaside lists', () => {
  it('NdisInitializeNPagedLookasideList, allocate, free, delete: entries are reused, and a list never deleted is reported at unload (0xCE)', () => {
    const l = loadTestMiniport()
    const head = l.ndis.ExAllocatePoolWithTag(l.ndis.NonPagedPoolNx, 0x80, 'daeH')
    l.ndis.NdisInitializeNPagedLookasideList(head, null, null, 0, 64, 'kooL', 0)
    const e = l.ndis.NdisAllocateFromNPagedLookasideList(head)
    expect(e).not.toBe(0)
    l.ndis.NdisFreeToNPagedLookasideList(head, e)
    expect(l.ndis.NdisAllocateFromNPagedLookasideList(head)).toBe(e)
    l.ndis.NdisFreeToNPagedLookasideList(head, e)
    l.ndis.NdisDeleteNPagedLookasideList(head)
    expect(kinds(l.m)).toEqual([])
    const kept = l.ndis.ExAllocatePoolWithTag(l.ndis.NonPagedPoolNx, 0x80, 'daeH')
    l.ndis.NdisInitializeNPagedLookasideList(kept, null, null, 0, 64, 'kooL', 0)
    l.m.halt()
    expect(theFinding(l.m, 'lookaside-leak').code).toBe(0xce)
  })

  it('NdisAllocateFromNPagedLookasideList is fault-injectable (NULL)', () => {
    const l = loadTestMiniport({ faults: 'routine=NdisAllocateFromNPagedLookasideList' })
    const head = l.ndis.ExAllocatePoolWithTag(l.ndis.NonPagedPoolNx, 0x80, 'daeH')
    l.ndis.NdisInitializeNPagedLookasideList(head, null, null, 0, 64, 'kooL', 0)
    expect(l.ndis.NdisAllocateFromNPagedLookasideList(head)).toBe(0)
    l.ndis.NdisDeleteNPagedLookasideList(head)
  })
})
