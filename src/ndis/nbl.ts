// NET_BUFFER_LIST pools, NBLs with their NET_BUFFERs, and MDLs from NdisAllocateMdl.
//
// An NBL is a JavaScript object with WDK field names; the memory NDIS would spend on it is a
// real pool block charged to the pool's tag, so an NBL a driver forgets shows up in the pool
// dump and as a pool leak at unload, with the line that allocated it.
import { BUGCHECK } from '../kernel/bugcheck.js'
import type { CallSite } from '../kernel/calls.js'
import { DISPATCH_LEVEL, irqlName } from '../kernel/irql.js'
import { CHAIN_LIMIT, type MDL } from '../kernel/mdl.js'
import { tagName, tagValue } from '../kernel/tags.js'
import { POOL_TYPE } from '../kernel/wdm.js'
import { NDIS_BUGCHECK, type NblPoolHandle, type NdisContext } from './context.js'
import type { NET_BUFFER, NET_BUFFER_LIST, NET_BUFFER_LIST_POOL_PARAMETERS } from './types.js'
import { requireIrql } from '../kernel/irql-checks.js'
import { NET_BUFFER_BYTES } from './net-buffers.js'

/** Bytes NDIS spends per NBL with one NET_BUFFER (x64, NDIS 6.20, without context). */
export const NBL_BYTES = 0x1b0
export const NBL_POOL_BYTES = 0x80

interface NblPool {
  readonly handle: NblPoolHandle
  readonly params: NET_BUFFER_LIST_POOL_PARAMETERS
  readonly tag: number
  /** VA of the pool's own block. */
  readonly block: number
  /** Live NBLs and the VA of each one's block. */
  readonly live: Map<NET_BUFFER_LIST, number>
  readonly driver: boolean
}

function isByteCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0
}

export function newNetBuffer(mdl: MDL | null, dataOffset: number, dataLength: number): NET_BUFFER {
  // CurrentMdl is the MDL holding byte DataOffset of the chain.
  let current: MDL | null = mdl
  let offset = dataOffset
  // A Next the driver set to undefined ends the chain as NULL does.
  for (let links = 0; current !== null && offset >= current.ByteCount && current.Next !== null && current.Next !== undefined && links < CHAIN_LIMIT; links++) {
    offset -= current.ByteCount
    current = current.Next
  }
  return {
    Next: null,
    CurrentMdl: current as MDL,
    CurrentMdlOffset: offset,
    DataLength: dataLength,
    DataOffset: dataOffset,
    MdlChain: mdl as MDL,
    MiniportReserved: [null, null, null, null],
    ProtocolReserved: [null, null, null, null, null, null],
  }
}

export function newNetBufferList(nb: NET_BUFFER | null): NET_BUFFER_LIST {
  return {
    Next: null,
    FirstNetBuffer: nb,
    Status: 0,
    SourceHandle: null,
    NblFlags: 0,
    MiniportReserved: [null, null],
    ProtocolReserved: [null, null, null, null],
    NetBufferListInfo: [],
  }
}

export class NblPools {
  readonly ctx: NdisContext
  private readonly pools = new Map<NblPoolHandle, NblPool>()
  /** Which pool each live NBL came from. */
  private readonly owner = new WeakMap<NET_BUFFER_LIST, NblPool>()
  /** The block of each NET_BUFFER chained behind an NBL's first (allocateNetBuffer). */
  private readonly nbBlocks = new WeakMap<NET_BUFFER, number>()
  /** Clones and fragments outstanding per original NBL (nbl-derived.ts): it must outlive them. */
  private readonly derived = new WeakMap<NET_BUFFER_LIST, number>()

  constructor(ctx: NdisContext) {
    this.ctx = ctx
  }

  get livePools(): number {
    return this.pools.size
  }

  /** NdisAllocateNetBufferListPool; `driver` false for the protocol side's own pools. */
  allocatePool(params: NET_BUFFER_LIST_POOL_PARAMETERS, site: CallSite | undefined, driver = true): NblPoolHandle | null {
    const k = this.ctx.kernel
    if (typeof params !== 'object' || params === null) {
      this.misuse('NdisAllocateNetBufferListPool: Parameters must be an NET_BUFFER_LIST_POOL_PARAMETERS structure')
      return null
    }
    const tag = tagValue(params.PoolTag)
    if (Number.isNaN(tag) || tag === 0) {
      this.misuse('NdisAllocateNetBufferListPool: PoolTag must be a four-character tag')
      return null
    }
    const block = k.pool.allocate(POOL_TYPE.NonPagedPoolNx, NBL_POOL_BYTES, tag, { ...(site === undefined ? {} : { site }), driver })
    if (block === 0) return null
    const handle: NblPoolHandle = { kind: 'nbl-pool', id: this.ctx.handleId() }
    this.pools.set(handle, { handle, params, tag, block, live: new Map(), driver })
    return handle
  }

  freePool(handle: NblPoolHandle): void {
    const pool = this.pools.get(handle)
    if (pool === undefined) {
      this.misuse('NdisFreeNetBufferListPool: not a pool from NdisAllocateNetBufferListPool, or already freed')
      return
    }
    if (pool.live.size > 0) {
      this.misuse(`NdisFreeNetBufferListPool of pool '${tagName(pool.tag)}' with ${pool.live.size} NET_BUFFER_LISTs still allocated from it`)
    }
    this.pools.delete(handle)
    this.ctx.kernel.pool.free(pool.block, { routine: 'NdisFreeNetBufferListPool' })
  }

  /** NdisAllocateNetBufferAndNetBufferList (also NdisAllocateNetBufferList with `mdl` null and no NB). */
  allocate(handle: NblPoolHandle, mdl: MDL | null, dataOffset: number, dataLength: number, withBuffer: boolean, site: CallSite | undefined): NET_BUFFER_LIST | null {
    const k = this.ctx.kernel
    const pool = this.pools.get(handle)
    if (pool === undefined) {
      this.misuse('NdisAllocateNetBufferAndNetBufferList: PoolHandle is not a live NET_BUFFER_LIST pool')
      return null
    }
    if (withBuffer && mdl !== null && k.mdl.stateOf(mdl) === undefined) {
      this.misuse('NdisAllocateNetBufferAndNetBufferList: MdlChain is not an MDL this system allocated (NdisAllocateMdl), nor NULL')
      return null
    }
    if (withBuffer && !(isByteCount(dataOffset) && isByteCount(dataLength))) {
      this.misuse(`NdisAllocateNetBufferAndNetBufferList: DataOffset ${dataOffset} and DataLength ${dataLength} must be byte counts (ULONG)`)
      return null
    }
    requireIrql(k, 'NdisAllocateNetBufferAndNetBufferList', DISPATCH_LEVEL)
    const block = k.pool.allocate(POOL_TYPE.NonPagedPoolNx, NBL_BYTES, pool.tag, { ...(site === undefined ? {} : { site }), driver: pool.driver })
    if (block === 0) return null
    const nbl = newNetBufferList(withBuffer ? newNetBuffer(mdl, dataOffset, dataLength) : null)
    pool.live.set(nbl, block)
    this.owner.set(nbl, pool)
    return nbl
  }

  /**
   * A NET_BUFFER for the protocol to chain behind an NBL's first, as a stack gets one from its
   * NET_BUFFER pool (NdisAllocateNetBuffer): in a pool block of its own charged to the pool's
   * tag, so a C driver walking NET_BUFFER_NEXT_NB finds it in memory as it finds the first. The
   * protocol keeps its send NET_BUFFERs for the whole run.
   */
  allocateNetBuffer(handle: NblPoolHandle, mdl: MDL, dataOffset: number): NET_BUFFER | null {
    const pool = this.pools.get(handle)
    if (pool === undefined) return null
    const block = this.ctx.kernel.pool.allocate(POOL_TYPE.NonPagedPoolNx, NET_BUFFER_BYTES, pool.tag, { driver: pool.driver })
    if (block === 0) return null
    const nb = newNetBuffer(mdl, dataOffset, 0)
    this.nbBlocks.set(nb, block)
    return nb
  }

  /** The VA of the block holding a NET_BUFFER from allocateNetBuffer, or undefined. */
  blockOfNetBuffer(nb: NET_BUFFER): number | undefined {
    return this.nbBlocks.get(nb)
  }

  free(nbl: NET_BUFFER_LIST, routine = 'NdisFreeNetBufferList'): void {
    const pool = this.owner.get(nbl)
    const block = pool?.live.get(nbl)
    if (pool === undefined || block === undefined) {
      this.misuse(`${routine}: the NET_BUFFER_LIST was not allocated from an NDIS pool, or was already freed`)
      return
    }
    const derived = this.derived.get(nbl) ?? 0
    if (derived > 0) {
      // A clone or fragment describes the original's data: freeing the original first leaves it pointing at freed buffers.
      this.misuse(`${routine} of a NET_BUFFER_LIST with ${derived} clone or fragment NET_BUFFER_LIST${derived === 1 ? '' : 's'} still outstanding: free them (NdisFreeCloneNetBufferList, NdisFreeFragmentNetBufferList) first`)
      return
    }
    pool.live.delete(nbl)
    this.owner.delete(nbl)
    this.ctx.kernel.pool.free(block, { routine })
  }

  /** A clone or fragment of `nbl` was made / freed. */
  hold(nbl: NET_BUFFER_LIST): void {
    this.derived.set(nbl, (this.derived.get(nbl) ?? 0) + 1)
  }

  unhold(nbl: NET_BUFFER_LIST): void {
    const n = (this.derived.get(nbl) ?? 0) - 1
    if (n > 0) this.derived.set(nbl, n)
    else this.derived.delete(nbl)
  }

  /** Whether `handle` is a live NET_BUFFER_LIST pool. */
  hasPool(handle: unknown): handle is NblPoolHandle {
    return this.pools.has(handle as NblPoolHandle)
  }

  /** True when the NBL was allocated from an NDIS pool (the driver's or the protocol's) and not freed. */
  isLive(nbl: NET_BUFFER_LIST): boolean {
    return this.owner.get(nbl)?.live.has(nbl) === true
  }

  /**
   * The VA of the pool block holding a live NBL: where its bytes are in emulated memory (a C
   * driver's NET_BUFFER_LIST pointer), or undefined for anything else.
   */
  blockOf(nbl: NET_BUFFER_LIST): number | undefined {
    return this.owner.get(nbl)?.live.get(nbl)
  }

  /** True when the NBL came from one of the driver's pools (not the protocol's). */
  isDrivers(nbl: NET_BUFFER_LIST): boolean {
    return this.owner.get(nbl)?.driver === true
  }

  /** Pools the driver still holds at unload (each also leaks its pool block). */
  leftovers(): Array<{ tag: string; live: number }> {
    return [...this.pools.values()].filter((p) => p.driver).map((p) => ({ tag: tagName(p.tag), live: p.live.size }))
  }

  private misuse(message: string): void {
    this.ctx.violation('nbl-misuse', message, BUGCHECK.BUGCODE_NDIS_DRIVER, [NDIS_BUGCHECK.nblMisuse, 0, 0, 0])
  }
}
