// NET_BUFFER pools and the NET_BUFFER data-space routines (WDK nblapi.h pages of each name):
// NdisAllocateNetBufferPool / NdisFreeNetBufferPool, NdisAllocateNetBuffer / NdisFreeNetBuffer,
// NdisRetreatNetBufferDataStart / NdisAdvanceNetBufferDataStart, NdisGetDataBuffer and
// NdisQueryNetBufferPhysicalCount. All run at IRQL <= DISPATCH_LEVEL.
//
// A NET_BUFFER's data is DataLength bytes starting DataOffset bytes into its MDL chain;
// CurrentMdl / CurrentMdlOffset name the MDL and offset of the first data byte. Retreating moves
// the start back into the unused space ("NDIS adjusts the DataOffset member"); when there is not
// enough, NDIS "allocates a new buffer and an MDL to describe the new buffer and chains the new
// MDL to the beginning of the MDL chain" (or the driver's NetAllocateMdl does), sized for what the
// unused space lacks plus DataBackFill, so the data stays one contiguous run of the chain.
// Advancing gives the space back; with FreeMdl TRUE the MDLs NDIS allocated that no longer hold
// data are freed (with the driver's NetFreeMdl for those its NetAllocateMdl made).
//
// The memory NDIS spends on pools, NET_BUFFERs and retreat buffers is pool charged to the
// pool's tag, so anything the driver forgets is a pool leak with its allocating line.
import { pagesSpanned } from '../hw/address.js'
import type { CallSite } from '../kernel/calls.js'
import { DISPATCH_LEVEL } from '../kernel/irql.js'
import { requireIrql } from '../kernel/irql-checks.js'
import { CHAIN_LIMIT, type MDL } from '../kernel/mdl.js'
import { tagName, tagValue } from '../kernel/tags.js'
import { MDL_FLAGS, MM_PAGE_PRIORITY, POOL_TYPE } from '../kernel/wdm.js'
import { NDIS_STATUS } from './constants.js'
import type { NdisContext } from './context.js'
import { NDIS_BUGCHECK } from './context.js'
import { BUGCHECK } from '../kernel/bugcheck.js'
import type { NET_BUFFER } from './types.js'

/** NET_BUFFER_POOL_PARAMETERS (nblapi.h). */
export interface NET_BUFFER_POOL_PARAMETERS {
  Header?: { Type: number; Revision: number; Size: number }
  PoolTag: number | string
  DataSize: number
}

export interface NbPoolHandle { readonly kind: 'nb-pool'; readonly id: number }

/** NET_BUFFER_ALLOCATE_MDL: allocates an MDL and its memory of at least *BufferSize bytes. */
export type NetAllocateMdl = (BufferSize: number) => MDL | null
/** NET_BUFFER_FREE_MDL: frees what NetAllocateMdl made. */
export type NetFreeMdl = (Mdl: MDL) => void

/** Bytes NDIS spends per NET_BUFFER (x64, with its NDIS-private fields) and per pool. */
export const NET_BUFFER_BYTES = 0xb0
export const NB_POOL_BYTES = 0x80

interface NbPool {
  readonly handle: NbPoolHandle
  readonly tag: number
  readonly block: number
  /** Live NET_BUFFERs and the VA of each one's block. */
  readonly live: Map<NET_BUFFER, number>
  /** False for NDIS's own pool (clones and fragments given no pool handle). */
  readonly driver: boolean
}

/** An MDL NDIS added to a chain: the pool block of its memory, or the driver's NetFreeMdl-owned MDL. */
interface AddedMdl {
  readonly memory: number
  readonly fromHandler: boolean
}

const isByteCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0

export class NetBuffers {
  private readonly ctx: NdisContext
  private readonly pools = new Map<NbPoolHandle, NbPool>()
  private readonly owner = new WeakMap<NET_BUFFER, NbPool>()
  /** MDLs NDIS allocated for a retreat (and the partial MDLs of clones and fragments: memory 0). */
  readonly added = new WeakMap<MDL, AddedMdl>()

  constructor(ctx: NdisContext) {
    this.ctx = ctx
  }

  NdisAllocateNetBufferPool(_NdisHandle: unknown, Parameters: NET_BUFFER_POOL_PARAMETERS): NbPoolHandle | null {
    const k = this.ctx.kernel
    const r = 'NdisAllocateNetBufferPool'
    k.log.throwIfStopped()
    requireIrql(k, r, DISPATCH_LEVEL)
    const tag = typeof Parameters === 'object' && Parameters !== null ? tagValue(Parameters.PoolTag) : Number.NaN
    if (Number.isNaN(tag) || tag === 0) {
      this.misuse(`${r}: Parameters must be a NET_BUFFER_POOL_PARAMETERS structure with a four-character PoolTag`)
      return null
    }
    const call = k.calls.allocation(r, NB_POOL_BYTES, tagName(tag))
    if (call.fail) return null
    return this.createPool(tag, call.site, true)
  }

  /** A pool; `driver` false for NDIS's own (a clone or fragment given no NET_BUFFER pool). */
  createPool(tag: number, site: CallSite | undefined, driver: boolean): NbPoolHandle | null {
    const block = this.ctx.kernel.pool.allocate(POOL_TYPE.NonPagedPoolNx, NB_POOL_BYTES, tag, { ...(site === undefined ? {} : { site }), driver })
    if (block === 0) return null
    const handle: NbPoolHandle = { kind: 'nb-pool', id: this.ctx.handleId() }
    this.pools.set(handle, { handle, tag, block, live: new Map(), driver })
    return handle
  }

  NdisFreeNetBufferPool(PoolHandle: NbPoolHandle): void {
    const r = 'NdisFreeNetBufferPool'
    const k = this.ctx.kernel
    k.log.throwIfStopped()
    requireIrql(k, r, DISPATCH_LEVEL)
    const pool = this.pools.get(PoolHandle)
    if (pool === undefined || !pool.driver) {
      this.misuse(`${r}: not a pool from NdisAllocateNetBufferPool, or already freed`)
      return
    }
    if (pool.live.size > 0) this.misuse(`${r} of pool '${tagName(pool.tag)}' with ${pool.live.size} NET_BUFFERs still allocated from it`)
    this.pools.delete(PoolHandle)
    k.pool.free(pool.block, { routine: r })
  }

  NdisAllocateNetBuffer(PoolHandle: NbPoolHandle, MdlChain: MDL | null, DataOffset: number, DataLength: number): NET_BUFFER | null {
    const r = 'NdisAllocateNetBuffer'
    const k = this.ctx.kernel
    k.log.throwIfStopped()
    requireIrql(k, r, DISPATCH_LEVEL)
    if (!this.pools.has(PoolHandle)) {
      this.misuse(`${r}: PoolHandle is not a live NET_BUFFER pool (NdisAllocateNetBufferPool)`)
      return null
    }
    const chain = MdlChain ?? null
    if (chain !== null && k.mdl.stateOf(chain) === undefined) {
      this.misuse(`${r}: MdlChain is not an MDL this system allocated, nor NULL`)
      return null
    }
    if (!isByteCount(DataOffset) || !isByteCount(DataLength) || (chain === null && (DataOffset !== 0 || DataLength !== 0))) {
      this.misuse(`${r}: DataOffset ${String(DataOffset)} and DataLength ${String(DataLength)} must be byte counts, and 0 when MdlChain is NULL`)
      return null
    }
    const call = k.calls.allocation(r, DataLength)
    if (call.fail) return null
    return this.allocate(PoolHandle, chain, DataOffset, DataLength, call.site)
  }

  /** A NET_BUFFER from a pool (the handle checked by the caller). */
  allocate(handle: NbPoolHandle, chain: MDL | null, dataOffset: number, dataLength: number, site: CallSite | undefined): NET_BUFFER | null {
    const pool = this.pools.get(handle)!
    const block = this.ctx.kernel.pool.allocate(POOL_TYPE.NonPagedPoolNx, NET_BUFFER_BYTES, pool.tag, { ...(site === undefined ? {} : { site }), driver: true })
    if (block === 0) return null
    const nb: NET_BUFFER = {
      Next: null, CurrentMdl: chain as MDL, CurrentMdlOffset: 0, DataLength: dataLength, DataOffset: dataOffset, MdlChain: chain as MDL,
      MiniportReserved: [null, null, null, null], ProtocolReserved: [null, null, null, null, null, null],
    }
    locate(nb)
    pool.live.set(nb, block)
    this.owner.set(nb, pool)
    return nb
  }

  NdisFreeNetBuffer(NetBuffer: NET_BUFFER): void {
    const r = 'NdisFreeNetBuffer'
    const k = this.ctx.kernel
    k.log.throwIfStopped()
    requireIrql(k, r, DISPATCH_LEVEL)
    this.free(NetBuffer, r)
  }

  /** True when the NET_BUFFER came from a NET_BUFFER pool and is not freed. */
  isLive(nb: NET_BUFFER): boolean {
    return this.owner.get(nb)?.live.has(nb) === true
  }

  free(nb: NET_BUFFER, routine: string): boolean {
    const pool = this.owner.get(nb)
    const block = pool?.live.get(nb)
    if (pool === undefined || block === undefined) {
      this.misuse(`${routine}: the NET_BUFFER was not allocated with NdisAllocateNetBuffer (a NET_BUFFER that came with its NET_BUFFER_LIST is freed with it), or was already freed`)
      return false
    }
    pool.live.delete(nb)
    this.owner.delete(nb)
    this.ctx.kernel.pool.free(block, { routine })
    return true
  }

  NdisRetreatNetBufferDataStart(NetBuffer: NET_BUFFER, DataOffsetDelta: number, DataBackFill: number, AllocateMdlHandler?: NetAllocateMdl | null): number {
    const r = 'NdisRetreatNetBufferDataStart'
    const k = this.ctx.kernel
    k.log.throwIfStopped()
    requireIrql(k, r, DISPATCH_LEVEL)
    if (!this.checkNetBuffer(r, NetBuffer) || !isByteCount(DataOffsetDelta) || !isByteCount(DataBackFill)) {
      if (typeof NetBuffer === 'object' && NetBuffer !== null) this.misuse(`${r}: DataOffsetDelta ${String(DataOffsetDelta)} and DataBackFill ${String(DataBackFill)} must be byte counts`)
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    return this.retreat(NetBuffer, DataOffsetDelta, DataBackFill, AllocateMdlHandler ?? null, r)
  }

  /** Moves the data start back by `delta` bytes, allocating in front of the chain when the unused space is short. */
  retreat(nb: NET_BUFFER, delta: number, backfill: number, handler: NetAllocateMdl | null, routine: string): number {
    if (delta <= nb.DataOffset) {
      nb.DataOffset -= delta
      nb.DataLength += delta
      locate(nb)
      return NDIS_STATUS.NDIS_STATUS_SUCCESS
    }
    const k = this.ctx.kernel
    const needed = delta - nb.DataOffset + backfill
    const call = k.calls.allocation('NdisRetreatNetBufferDataStart', needed)
    if (call.fail) return NDIS_STATUS.NDIS_STATUS_RESOURCES
    let mdl: MDL | null
    let memory = 0
    if (handler !== null) {
      const made = this.ctx.caller.call('NetAllocateMdl', k.irql, () => handler(needed))
      mdl = typeof made === 'object' && made !== null && k.mdl.stateOf(made) !== undefined ? made : null
      if (mdl !== null && mdl.ByteCount < needed) {
        this.misuse(`${routine}: NetAllocateMdl returned an MDL of ${mdl.ByteCount} bytes for a BufferSize of ${needed}`)
        return NDIS_STATUS.NDIS_STATUS_FAILURE
      }
    } else {
      const tag = this.owner.get(nb)?.tag ?? tagValue('BNdN')
      memory = k.pool.allocate(POOL_TYPE.NonPagedPoolNx, needed, tag, call.site === undefined ? {} : { site: call.site })
      mdl = memory === 0 ? null : k.mdl.create(memory, needed, call.site === undefined ? {} : { site: call.site })
      if (mdl === null) {
        if (memory !== 0) k.pool.free(memory, { routine })
      } else k.mdl.buildForNonPagedPool(mdl)
    }
    if (mdl === null) return NDIS_STATUS.NDIS_STATUS_RESOURCES
    this.added.set(mdl, { memory, fromHandler: handler !== null })
    // The new MDL's last (needed - backfill) bytes and all of the old unused space become data.
    mdl.Next = nb.MdlChain ?? null
    nb.MdlChain = mdl
    nb.DataLength += delta
    nb.DataOffset = mdl.ByteCount - (needed - backfill)
    locate(nb)
    return NDIS_STATUS.NDIS_STATUS_SUCCESS
  }

  NdisAdvanceNetBufferDataStart(NetBuffer: NET_BUFFER, DataOffsetDelta: number, FreeMdl: boolean, FreeMdlHandler?: NetFreeMdl | null): void {
    const r = 'NdisAdvanceNetBufferDataStart'
    const k = this.ctx.kernel
    k.log.throwIfStopped()
    requireIrql(k, r, DISPATCH_LEVEL)
    if (!this.checkNetBuffer(r, NetBuffer)) return
    if (!isByteCount(DataOffsetDelta) || DataOffsetDelta > NetBuffer.DataLength) {
      this.misuse(`${r}: DataOffsetDelta ${String(DataOffsetDelta)} is more than the ${NetBuffer.DataLength} bytes of used data space`)
      return
    }
    this.advance(NetBuffer, DataOffsetDelta, FreeMdl === true, FreeMdlHandler ?? null, r)
  }

  advance(nb: NET_BUFFER, delta: number, freeMdl: boolean, handler: NetFreeMdl | null, routine: string): void {
    nb.DataOffset += delta
    nb.DataLength -= delta
    locate(nb)
    if (!freeMdl) return
    // MDLs NDIS added at the front that now hold no data are given back.
    for (let mdl = nb.MdlChain; mdl !== null && mdl !== undefined && mdl !== nb.CurrentMdl; mdl = nb.MdlChain) {
      const added = this.added.get(mdl)
      if (added === undefined || (added.fromHandler && handler === null)) break
      nb.MdlChain = mdl.Next as MDL
      nb.DataOffset -= mdl.ByteCount
      mdl.Next = null
      this.dropAdded(mdl, added, handler, routine)
    }
  }

  /** Frees an MDL NDIS added (and its memory), or hands it to the driver's NetFreeMdl. */
  dropAdded(mdl: MDL, added: AddedMdl, handler: NetFreeMdl | null, routine: string): void {
    const k = this.ctx.kernel
    this.added.delete(mdl)
    if (added.fromHandler) {
      if (handler !== null) this.ctx.caller.call('NetFreeMdl', k.irql, () => handler(mdl))
      return
    }
    k.mdl.free(mdl, routine)
    if (added.memory !== 0) k.pool.free(added.memory, { routine })
  }

  /**
   * The first BytesNeeded bytes of data: in place when they are contiguous in the current MDL's
   * system mapping and aligned (address % AlignMultiple === AlignOffset), else copied to
   * Storage; NULL when there is no Storage, fewer bytes than BytesNeeded, or no mapping.
   */
  NdisGetDataBuffer(NetBuffer: NET_BUFFER, BytesNeeded: number, Storage: number | null, AlignMultiple: number, AlignOffset: number): number {
    const r = 'NdisGetDataBuffer'
    const k = this.ctx.kernel
    k.log.throwIfStopped()
    requireIrql(k, r, DISPATCH_LEVEL)
    if (!this.checkNetBuffer(r, NetBuffer)) return 0
    const multiple = AlignMultiple >>> 0
    if (!isByteCount(BytesNeeded) || multiple === 0 || (multiple & (multiple - 1)) !== 0 || !isByteCount(AlignOffset) || AlignOffset >= multiple) {
      this.misuse(`${r}: BytesNeeded ${String(BytesNeeded)}, AlignMultiple ${String(AlignMultiple)} (a power of two) and AlignOffset ${String(AlignOffset)} (below it) are not valid`)
      return 0
    }
    if (BytesNeeded > NetBuffer.DataLength || NetBuffer.CurrentMdl === null) return 0
    const first = this.systemVa(NetBuffer.CurrentMdl, r)
    if (first === 0) return 0
    const at = first + NetBuffer.CurrentMdlOffset
    if (NetBuffer.CurrentMdlOffset + BytesNeeded <= NetBuffer.CurrentMdl.ByteCount && at % multiple === AlignOffset) return at
    const storage = Storage ?? 0
    if (storage === 0) return 0
    let mdl: MDL | null = NetBuffer.CurrentMdl
    let offset = NetBuffer.CurrentMdlOffset
    let done = 0
    for (let links = 0; mdl !== null && mdl !== undefined && done < BytesNeeded && links < CHAIN_LIMIT; links++, mdl = mdl.Next, offset = 0) {
      const len = Math.min(mdl.ByteCount - offset, BytesNeeded - done)
      if (len <= 0) continue
      const va = this.systemVa(mdl, r)
      if (va === 0) return 0
      k.memory.copy(storage + done, va + offset, len)
      done += len
    }
    return done === BytesNeeded ? storage : 0
  }

  /** The most physical pieces the data can fall in: the pages it spans, MDL by MDL. */
  NdisQueryNetBufferPhysicalCount(NetBuffer: NET_BUFFER): number {
    if (!this.checkNetBuffer('NdisQueryNetBufferPhysicalCount', NetBuffer)) return 0
    let count = 0
    let left = NetBuffer.DataLength
    let offset = NetBuffer.CurrentMdlOffset
    for (let mdl: MDL | null = NetBuffer.CurrentMdl, links = 0; mdl !== null && mdl !== undefined && left > 0 && links < CHAIN_LIMIT; mdl = mdl.Next, offset = 0, links++) {
      const len = Math.min(mdl.ByteCount - offset, left)
      if (len <= 0) continue
      count += pagesSpanned(mdl.StartVa + mdl.ByteOffset + offset, len)
      left -= len
    }
    return count
  }

  /** NET_BUFFER pools the driver still holds at unload (each also leaks its block). */
  leftovers(): string[] {
    return [...this.pools.values()].filter((p) => p.driver).map((p) => `NET_BUFFER pool '${tagName(p.tag)}' allocated${p.live.size > 0 ? ` with ${p.live.size} NET_BUFFERs` : ''} (NdisFreeNetBufferPool not called)`)
  }

  /** Whether `handle` is a live NET_BUFFER pool. */
  hasPool(handle: unknown): handle is NbPoolHandle {
    return this.pools.has(handle as NbPoolHandle)
  }

  private systemVa(mdl: MDL, routine: string): number {
    const k = this.ctx.kernel
    if (k.mdl.stateOf(mdl) === undefined) return 0
    // MmGetSystemAddressForMdlSafe: the MDL's own mapping when it has one, else a new one.
    if ((mdl.MdlFlags & (MDL_FLAGS.MDL_MAPPED_TO_SYSTEM_VA | MDL_FLAGS.MDL_SOURCE_IS_NONPAGED_POOL)) !== 0) return mdl.MappedSystemVa
    return k.mdl.mapLocked(mdl, 'cached', MM_PAGE_PRIORITY.NormalPagePriority, routine)
  }

  private checkNetBuffer(routine: string, nb: unknown): nb is NET_BUFFER {
    if (typeof nb === 'object' && nb !== null && 'DataOffset' in nb && 'MdlChain' in nb) return true
    this.misuse(`${routine}: NetBuffer is not a NET_BUFFER`)
    return false
  }

  misuse(message: string): void {
    this.ctx.violation('nbl-misuse', message, BUGCHECK.BUGCODE_NDIS_DRIVER, [NDIS_BUGCHECK.nblMisuse, 0, 0, 0])
  }
}

/** Sets CurrentMdl / CurrentMdlOffset to the MDL and offset of byte DataOffset of the chain. */
export function locate(nb: NET_BUFFER): void {
  let current: MDL | null = nb.MdlChain ?? null
  let offset = nb.DataOffset
  for (let links = 0; current !== null && offset >= current.ByteCount && current.Next !== null && current.Next !== undefined && links < CHAIN_LIMIT; links++) {
    offset -= current.ByteCount
    current = current.Next
  }
  nb.CurrentMdl = current as MDL
  nb.CurrentMdlOffset = offset
}

