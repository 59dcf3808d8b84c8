// NET_BUFFER_LISTs made from another: NdisAllocateCloneNetBufferList / NdisFreeCloneNetBufferList
// and NdisAllocateFragmentNetBufferList / NdisFreeFragmentNetBufferList (WDK nblapi.h pages).
//
// A clone "describes the same data that is described by the NET_BUFFER_LIST structure at
// OriginalNetBufferList. NDIS does not copy the data"; each NET_BUFFER "is only cloned from the
// start of the used data space". Unless NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS is set, "NDIS allocates
// new MDLs to reference the original data buffers": partial MDLs (IoBuildPartialMdl) over the
// original's pages. A fragment list cuts each NET_BUFFER's used data, from StartOffset on, into
// NET_BUFFERs of at most MaximumLength bytes, then retreats each by DataOffsetDelta (allocating,
// with DataBackFill more, as NdisRetreatNetBufferDataStart does); NdisFreeFragmentNetBufferList
// advances them back by its DataOffsetDelta and frees it all.
//
// The pool handles are optional ("[in, optional]"): without one NDIS uses a pool of its own. The
// derived list's ParentNetBufferList is the original; the original must outlive it, so freeing
// an original with clones or fragments outstanding is nbl-misuse (NblPools.free), and one never
// freed is an NDIS resource still held at unload.
import type { CallSite } from '../kernel/calls.js'
import { DISPATCH_LEVEL } from '../kernel/irql.js'
import { requireIrql } from '../kernel/irql-checks.js'
import { buildPartialMdl, mdlVirtualAddress } from '../kernel/mdl-partial.js'
import { CHAIN_LIMIT, type MDL } from '../kernel/mdl.js'
import { tagValue } from '../kernel/tags.js'
import type { NblPoolHandle } from './context.js'
import type { NblPools } from './nbl.js'
import type { NbPoolHandle, NetBuffers } from './net-buffers.js'
import type { NET_BUFFER, NET_BUFFER_LIST } from './types.js'

/** AllocateCloneFlags (nblapi.h). */
export const NDIS_CLONE_FLAGS = {
  NDIS_CLONE_FLAGS_RESERVED: 0x1,
  NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS: 0x2,
} as const

type DerivedKind = 'clone' | 'fragment'

interface Derived {
  readonly kind: DerivedKind
  readonly parent: NET_BUFFER_LIST
  readonly nbs: NET_BUFFER[]
  /** The partial MDLs NDIS made for it. */
  readonly mdls: MDL[]
}

const NDIS_OWN_TAG = tagValue('lcNN')

export class DerivedNbls {
  private readonly nbls: NblPools
  private readonly nbs: NetBuffers
  private readonly live = new Map<NET_BUFFER_LIST, Derived>()
  private ownNblPool: NblPoolHandle | null = null
  private ownNbPool: NbPoolHandle | null = null

  constructor(nbls: NblPools, nbs: NetBuffers) {
    this.nbls = nbls
    this.nbs = nbs
  }

  private get kernel() {
    return this.nbls.ctx.kernel
  }

  NdisAllocateCloneNetBufferList(OriginalNetBufferList: NET_BUFFER_LIST, NetBufferListPoolHandle: NblPoolHandle | null, NetBufferPoolHandle: NbPoolHandle | null, AllocateCloneFlags: number): NET_BUFFER_LIST | null {
    const r = 'NdisAllocateCloneNetBufferList'
    const useOriginal = ((AllocateCloneFlags >>> 0) & NDIS_CLONE_FLAGS.NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS) !== 0
    return this.derive(r, 'clone', OriginalNetBufferList, NetBufferListPoolHandle, NetBufferPoolHandle, (nb, add) => {
      if (useOriginal) return add(nb.MdlChain, nb.DataOffset, nb.DataLength)
      return this.slice(nb, 0, nb.DataLength, add, r)
    })
  }

  NdisFreeCloneNetBufferList(CloneNetBufferList: NET_BUFFER_LIST, _FreeCloneFlags: number): void {
    this.free('NdisFreeCloneNetBufferList', 'clone', CloneNetBufferList, 0)
  }

  NdisAllocateFragmentNetBufferList(OriginalNetBufferList: NET_BUFFER_LIST, NetBufferListPool: NblPoolHandle | null, NetBufferPool: NbPoolHandle | null, StartOffset: number, MaximumLength: number, DataOffsetDelta: number, DataBackFill: number, _AllocateFragmentFlags: number): NET_BUFFER_LIST | null {
    const r = 'NdisAllocateFragmentNetBufferList'
    const counts = [StartOffset, MaximumLength, DataOffsetDelta, DataBackFill]
    if (!counts.every((n) => Number.isSafeInteger(n) && n >= 0) || MaximumLength === 0) {
      this.nbs.misuse(`${r}: StartOffset ${String(StartOffset)}, MaximumLength ${String(MaximumLength)} (not 0), DataOffsetDelta ${String(DataOffsetDelta)} and DataBackFill ${String(DataBackFill)} must be byte counts`)
      return null
    }
    return this.derive(r, 'fragment', OriginalNetBufferList, NetBufferListPool, NetBufferPool, (nb, add) => {
      for (let at = StartOffset; at < nb.DataLength; at += MaximumLength) {
        const made = this.slice(nb, at, Math.min(MaximumLength, nb.DataLength - at), add, r)
        if (made === null) return null
        if (DataOffsetDelta > 0 && this.nbs.retreat(made, DataOffsetDelta, DataBackFill, null, r) !== 0) return null
      }
      return true
    })
  }

  NdisFreeFragmentNetBufferList(FragmentNetBufferList: NET_BUFFER_LIST, DataOffsetDelta: number, _FreeFragmentFlags: number): void {
    this.free('NdisFreeFragmentNetBufferList', 'fragment', FragmentNetBufferList, DataOffsetDelta)
  }

  /** Clones and fragments the driver never freed (at unload). */
  leftovers(): string[] {
    return [...this.live.values()].map((d) => `a ${d.kind} NET_BUFFER_LIST (${d.kind === 'clone' ? 'NdisFreeCloneNetBufferList' : 'NdisFreeFragmentNetBufferList'} not called)`)
  }

  /**
   * The shared path: a new NBL from the pool (or NDIS's), then `build` per original NET_BUFFER,
   * which calls `add(chain, offset, length)` for each NET_BUFFER to put in the new list.
   */
  private derive(
    r: string, kind: DerivedKind, original: NET_BUFFER_LIST, nblPool: NblPoolHandle | null, nbPool: NbPoolHandle | null,
    build: (nb: NET_BUFFER, add: (chain: MDL, offset: number, length: number) => NET_BUFFER | null) => unknown,
  ): NET_BUFFER_LIST | null {
    const k = this.kernel
    k.log.throwIfStopped()
    requireIrql(k, r, DISPATCH_LEVEL)
    if (!this.nbls.isLive(original)) {
      this.nbs.misuse(`${r}: OriginalNetBufferList is not a live NET_BUFFER_LIST NDIS allocated`)
      return null
    }
    if (nblPool !== null && nblPool !== undefined && !this.nbls.hasPool(nblPool)) {
      this.nbs.misuse(`${r}: the NET_BUFFER_LIST pool handle is not a live pool (NdisAllocateNetBufferListPool), nor NULL`)
      return null
    }
    if (nbPool !== null && nbPool !== undefined && !this.nbs.hasPool(nbPool)) {
      this.nbs.misuse(`${r}: the NET_BUFFER pool handle is not a live pool (NdisAllocateNetBufferPool), nor NULL`)
      return null
    }
    const call = k.calls.allocation(r === 'NdisAllocateCloneNetBufferList' ? r : 'NdisAllocateFragmentNetBufferList', 0)
    if (call.fail) return null
    const nblHandle = nblPool ?? this.ownNbls(call.site)
    const nbHandle = nbPool ?? this.ownNbs(call.site)
    const nbl = nblHandle === null || nbHandle === null ? null : this.nbls.allocate(nblHandle, null, 0, 0, false, call.site)
    if (nbl === null) return null
    const d: Derived = { kind, parent: original, nbs: [], mdls: [] }
    const add = (chain: MDL, offset: number, length: number): NET_BUFFER | null => {
      const nb = this.nbs.allocate(nbHandle!, chain, offset, length, call.site)
      if (nb !== null) {
        const last = d.nbs.at(-1)
        if (last === undefined) nbl.FirstNetBuffer = nb
        else last.Next = nb
        d.nbs.push(nb)
      }
      return nb
    }
    this.pending = d
    let ok = true
    let links = 0
    for (let nb = original.FirstNetBuffer; nb !== null && nb !== undefined && ok && links < CHAIN_LIMIT; nb = nb.Next, links++) ok = build(nb, add) !== null
    this.pending = null
    this.live.set(nbl, d)
    ;(nbl as NET_BUFFER_LIST & { ParentNetBufferList?: NET_BUFFER_LIST | null }).ParentNetBufferList = original
    this.nbls.hold(original)
    if (!ok) {
      this.release(nbl, d, 0, r)
      return null
    }
    return nbl
  }

  /** The partial MDLs being made for the list `derive` is building. */
  private pending: Derived | null = null

  /** Partial MDLs over `length` bytes of `nb`'s used data from `start`, and a NET_BUFFER on them. */
  private slice(nb: NET_BUFFER, start: number, length: number, add: (chain: MDL, offset: number, length: number) => NET_BUFFER | null, r: string): NET_BUFFER | null {
    const k = this.kernel
    let head: MDL | null = null
    let tail: MDL | null = null
    let skip = nb.CurrentMdlOffset + start
    let left = length
    for (let mdl: MDL | null = nb.CurrentMdl, links = 0; mdl !== null && mdl !== undefined && left > 0 && links < CHAIN_LIMIT; mdl = mdl.Next, links++) {
      if (skip >= mdl.ByteCount) {
        skip -= mdl.ByteCount
        continue
      }
      const len = Math.min(mdl.ByteCount - skip, left)
      const va = mdlVirtualAddress(mdl) + skip
      const part = k.mdl.create(va, len)
      if (part === null) return null
      this.pending!.mdls.push(part)
      if (!buildPartialMdl(k, mdl, part, va, len, r)) return null
      if (tail === null) head = part
      else tail.Next = part
      tail = part
      left -= len
      skip = 0
    }
    if (left > 0) return null
    // A NET_BUFFER with no used data space clones to one with no MDL.
    return add(head as MDL, 0, length)
  }

  private free(r: string, kind: DerivedKind, nbl: NET_BUFFER_LIST, advance: number): void {
    const k = this.kernel
    k.log.throwIfStopped()
    requireIrql(k, r, DISPATCH_LEVEL)
    const d = this.live.get(nbl)
    if (d === undefined || d.kind !== kind) {
      this.nbs.misuse(`${r}: the NET_BUFFER_LIST was not made by ${kind === 'clone' ? 'NdisAllocateCloneNetBufferList' : 'NdisAllocateFragmentNetBufferList'}, or was already freed`)
      return
    }
    this.release(nbl, d, advance, r)
  }

  private release(nbl: NET_BUFFER_LIST, d: Derived, advance: number, r: string): void {
    const k = this.kernel
    for (const nb of d.nbs) {
      if (advance > 0 && advance <= nb.DataLength) this.nbs.advance(nb, advance, true, null, r)
      // What a retreat added in front of the partial MDLs.
      for (let mdl: MDL | null = nb.MdlChain; mdl !== null && mdl !== undefined; ) {
        const next: MDL | null = mdl.Next
        const added = this.nbs.added.get(mdl)
        if (added !== undefined) this.nbs.dropAdded(mdl, added, null, r)
        mdl = next
      }
      this.nbs.free(nb, r)
    }
    for (const mdl of d.mdls) k.mdl.free(mdl, r)
    this.live.delete(nbl)
    this.nbls.unhold(d.parent)
    this.nbls.free(nbl, r)
  }

  private ownNbls(site: CallSite | undefined): NblPoolHandle | null {
    this.ownNblPool ??= this.nbls.allocatePool({ ProtocolId: 0, fAllocateNetBuffer: false, ContextSize: 0, PoolTag: NDIS_OWN_TAG, DataSize: 0 }, site, false)
    return this.ownNblPool
  }

  private ownNbs(site: CallSite | undefined): NbPoolHandle | null {
    this.ownNbPool ??= this.nbs.createPool(NDIS_OWN_TAG, site, false)
    return this.ownNbPool
  }
}
