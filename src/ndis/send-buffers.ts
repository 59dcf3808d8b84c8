// The protocol's send NBLs, shaped as a real stack's are. TCP/IP builds a frame's headers in a
// small buffer with room in front for lower layers (backfill) and chains the payload's buffers
// behind it, so a miniport meets NET_BUFFERs whose data starts partway into the first MDL
// (CurrentMdlOffset), or in a later MDL altogether, and continues over several MDLs whose buffers
// lie in different memory: small pool blocks, lookaside-list entries, pages above or below
// 4 GiB, and data that straddles a page boundary. NBLs carry one to three NET_BUFFERs.
//
// The uniform mix keeps a simple shape: one NBL, one NET_BUFFER, one 2 KiB buffer, the frame
// 0, 128, 256 or 384 bytes into it (CurrentMdlOffset), as when a protocol leaves room for
// headers in front of the data (NdisRetreatNetBufferDataStart).
//
// Everything is allocated once, when the protocol first sends; a NET_BUFFER keeps the physical
// pieces of its data area, so writing a frame into it is a few page copies and no allocation.
import { FOUR_GIB, PAGE_SIZE } from '../hw/address.js'
import { Random } from '../hw/random.js'
import type { Kernel } from '../kernel/kernel.js'
import type { MDL } from '../kernel/mdl.js'
import { POOL_TYPE } from '../kernel/wdm.js'
import { tagValue } from '../kernel/tags.js'
import type { NblPools } from './nbl.js'
import type { NET_BUFFER, NET_BUFFER_LIST } from './types.js'

/** NBLs the protocol keeps, so at most this many are in flight. */
export const SEND_WINDOW = 256
/** Every NET_BUFFER holds at least a full frame after its data offset. */
const DATA_AREA = 2048
/** Room for a jumbo frame (16288 bytes) after the largest backfill. */
const JUMBO_AREA = 17 * 1024
/** 'TCPs' in a pool dump: the protocol's send buffers. */
const TAG = tagValue('sPCT')
const LOOKASIDE_ENTRY = 64
/** Backfill in front of a uniform frame: 0, 128, 256 or 384 bytes by slot. */
const UNIFORM_BACKFILL = 128
const UNIFORM_BACKFILLS = 4

export type BufferMemory = 'pool' | 'lookaside' | 'below-4g' | 'above-4g'

/** One NET_BUFFER and where its data lives. */
export interface SendBuffer {
  readonly nb: NET_BUFFER
  /** Physical pieces of the data area, from the data offset on: address and length. */
  readonly pieceAddress: Float64Array
  readonly pieceLength: Int32Array
  readonly capacity: number
  /** The shape NDIS handed down, to check the NBL that comes back. */
  readonly mdlChain: MDL
  readonly dataOffset: number
  readonly currentMdl: MDL
  readonly currentMdlOffset: number
  /** The frame the buffer holds now (the uniform mix rewrites only its headers). */
  seq: number
  heldSize: number
  heldFlags: number
  heldPattern: number
}

export interface SendSlot {
  readonly index: number
  readonly nbl: NET_BUFFER_LIST
  readonly buffers: SendBuffer[]
  busy: boolean
  /** NET_BUFFERs carrying a frame in the send in flight (the last send may carry fewer). */
  sent: number
}

/** Allocates the protocol's send NBLs for a mix: memory, MDLs, NET_BUFFERs, NBLs. */
export class SendBufferPool {
  private readonly k: Kernel
  private readonly nbls: NblPools
  private readonly rng: Random
  private lookasideHead = 0
  private readonly hasHighMemory: boolean

  constructor(k: Kernel, nbls: NblPools, seed: number) {
    this.k = k
    this.nbls = nbls
    this.rng = new Random(seed, 'protocol-send-buffers')
    this.hasHighMemory = k.ram.highEnd > k.ram.highBase
  }

  /**
   * SEND_WINDOW NBLs of the uniform shape (one 2 KiB buffer each; `jumbo`: 16 KiB and more, for
   * frames beyond a standard MTU), or null when memory ran out.
   */
  uniform(jumbo = false): SendSlot[] | null {
    const k = this.k
    const area = jumbo ? JUMBO_AREA : DATA_AREA
    const memory = k.mm.allocateMapped(Math.ceil((SEND_WINDOW * area) / PAGE_SIZE), { kind: 'pool', label: 'protocol send buffers', driver: false }, {}, 'zero')
    const pool = this.pool()
    if (memory === null || pool === null) return null
    const slots: SendSlot[] = []
    for (let i = 0; i < SEND_WINDOW; i++) {
      const mdl = this.mdl(memory.va + i * area, area)
      if (mdl === null) return null
      const nbl = this.nbls.allocate(pool, mdl, (i % UNIFORM_BACKFILLS) * UNIFORM_BACKFILL, 0, true, undefined)
      if (nbl === null) return null
      slots.push({ index: i, nbl, buffers: [this.buffer(nbl.FirstNetBuffer!)], busy: false, sent: 0 })
    }
    return slots
  }

  /** SEND_WINDOW NBLs of mixed shapes: 1-3 NET_BUFFERs of 1-4 MDLs each, data in varied memory. */
  mixed(): SendSlot[] | null {
    const pool = this.pool()
    if (pool === null) return null
    const slots: SendSlot[] = []
    const rng = this.rng
    for (let i = 0; i < SEND_WINDOW; i++) {
      const r = rng.int(0, 99)
      const count = r < 60 ? 1 : r < 85 ? 2 : 3
      let nbl: NET_BUFFER_LIST | null = null
      let last: NET_BUFFER | null = null
      const buffers: SendBuffer[] = []
      for (let n = 0; n < count; n++) {
        const shape = this.shape(rng.int(0, 4))
        if (shape === null) return null
        if (nbl === null) {
          nbl = this.nbls.allocate(pool, shape.chain, shape.dataOffset, 0, true, undefined)
          if (nbl === null) return null
          last = nbl.FirstNetBuffer
        } else {
          const nb = this.nbls.allocateNetBuffer(pool, shape.chain, shape.dataOffset)
          if (nb === null) return null
          last!.Next = nb
          last = nb
        }
        buffers.push(this.buffer(last!))
      }
      slots.push({ index: i, nbl: nbl!, buffers, busy: false, sent: 0 })
    }
    return slots
  }

  /**
   * One NET_BUFFER's MDL chain, of one of five shapes a stack builds:
   *  0 one buffer, data a few bytes in;
   *  1 a 128-byte header block (data in its last 14-64 bytes), then a payload that straddles pages;
   *  2 a lookaside entry holding the Ethernet header, a pool block, a page-straddling payload;
   *  3 a backfill block the data does not start in (CurrentMdl is the second MDL);
   *  4 four pieces: Ethernet header, IP header, transport header, payload.
   */
  private shape(kind: number): { chain: MDL; dataOffset: number } | null {
    const rng = this.rng
    const pieces: Array<{ va: number; bytes: number }> = []
    let dataOffset = 0
    const add = (va: number, bytes: number): boolean => {
      if (va === 0) return false
      pieces.push({ va, bytes })
      return true
    }
    const anywhere = (): BufferMemory => (['pool', 'below-4g', 'above-4g'] as const)[rng.int(0, 2)]!
    let ok = true
    switch (kind) {
      case 0: {
        dataOffset = rng.int(0, 24) * 2
        ok = add(this.block(anywhere(), DATA_AREA + dataOffset), DATA_AREA + dataOffset)
        break
      }
      case 1: {
        const header = [14, 34, 42, 54, 64][rng.int(0, 4)]!
        dataOffset = 128 - header
        ok = add(this.block('pool', 128), 128) && add(this.straddling(rng.int(0, 1) === 0 ? 'above-4g' : 'below-4g'), DATA_AREA)
        break
      }
      case 2: {
        dataOffset = LOOKASIDE_ENTRY - 14
        const ip = rng.int(20, 60)
        ok = add(this.block('lookaside', LOOKASIDE_ENTRY), LOOKASIDE_ENTRY) && add(this.block('pool', ip), ip) && add(this.straddling('below-4g'), DATA_AREA)
        break
      }
      case 3: {
        const backfill = 96
        dataOffset = backfill + rng.int(0, 16) * 2
        ok = add(this.block('pool', backfill), backfill) && add(this.block(anywhere(), DATA_AREA + 32), DATA_AREA + 32)
        break
      }
      default: {
        dataOffset = LOOKASIDE_ENTRY - 14
        ok = add(this.block('lookaside', LOOKASIDE_ENTRY), LOOKASIDE_ENTRY) && add(this.block('pool', 20), 20) && add(this.block('pool', 20), 20) && add(this.straddling('above-4g'), DATA_AREA)
      }
    }
    if (!ok) return null
    let first: MDL | null = null
    let prev: MDL | null = null
    for (const p of pieces) {
      const mdl = this.mdl(p.va, p.bytes)
      if (mdl === null) return null
      if (prev === null) first = mdl
      else prev.Next = mdl
      prev = mdl
    }
    return { chain: first!, dataOffset }
  }

  /** A buffer of `bytes` in the given memory (0 when there is none). */
  private block(memory: BufferMemory, bytes: number): number {
    const k = this.k
    switch (memory) {
      case 'pool':
        return k.pool.allocate(POOL_TYPE.NonPagedPoolNx, bytes, TAG, { driver: false })
      case 'lookaside':
        return k.lookaside.allocate(this.lookaside(), 'npaged', undefined, 'ExAllocateFromNPagedLookasideList')
      case 'below-4g':
      case 'above-4g': {
        const high = memory === 'above-4g' && this.hasHighMemory
        const pages = Math.ceil(bytes / PAGE_SIZE)
        const range = high ? { lowest: FOUR_GIB } : memory === 'below-4g' ? { highest: FOUR_GIB - 1 } : {}
        const m = k.mm.allocateMapped(pages, { kind: 'pool', label: `protocol send buffer ${memory}`, driver: false, ...range }, {}, 'zero')
        return m === null ? 0 : m.va
      }
    }
  }

  /** DATA_AREA bytes that start partway into a page and run over its end. */
  private straddling(memory: BufferMemory): number {
    const va = this.block(memory, PAGE_SIZE + DATA_AREA)
    return va === 0 ? 0 : va + PAGE_SIZE - this.rng.int(1, 700) * 2
  }

  /** The protocol's nonpaged lookaside list of 64-byte entries (ExInitializeNPagedLookasideList). */
  private lookaside(): number {
    if (this.lookasideHead !== 0) return this.lookasideHead
    const k = this.k
    const head = k.pool.allocate(POOL_TYPE.NonPagedPoolNx, 128, TAG, { driver: false })
    if (head === 0) return 0
    const allocate = (type: number, size: number, tag: number): number => k.pool.allocate(type, size, tag, { driver: false })
    k.lookaside.initialize(head, 'npaged', { allocate, free: null, flags: 0, size: LOOKASIDE_ENTRY, tag: TAG, depth: 0, driver: false }, 'ExInitializeNPagedLookasideList')
    this.lookasideHead = head
    return head
  }

  private pool(): ReturnType<NblPools['allocatePool']> {
    return this.nbls.allocatePool({ ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: 'LBNP', DataSize: 0 }, undefined, false)
  }

  private mdl(va: number, bytes: number): MDL | null {
    const mdl = this.k.mdl.create(va, bytes, { driver: false })
    if (mdl !== null) this.k.mdl.buildForNonPagedPool(mdl)
    return mdl
  }

  /** The NET_BUFFER's data area as physical pieces, from its data offset to the chain's end. */
  private buffer(nb: NET_BUFFER): SendBuffer {
    const addresses: number[] = []
    const lengths: number[] = []
    let capacity = 0
    let within = nb.CurrentMdlOffset
    for (let m: MDL | null = nb.CurrentMdl; m !== null; m = m.Next, within = 0) {
      let pos = m.ByteOffset + within
      let left = m.ByteCount - within
      while (left > 0) {
        const inPage = pos % PAGE_SIZE
        const chunk = Math.min(PAGE_SIZE - inPage, left)
        addresses.push(m.PfnArray[Math.floor(pos / PAGE_SIZE)]! * PAGE_SIZE + inPage)
        lengths.push(chunk)
        capacity += chunk
        pos += chunk
        left -= chunk
      }
    }
    return {
      nb,
      pieceAddress: Float64Array.from(addresses),
      pieceLength: Int32Array.from(lengths),
      capacity,
      mdlChain: nb.MdlChain,
      dataOffset: nb.DataOffset,
      currentMdl: nb.CurrentMdl,
      currentMdlOffset: nb.CurrentMdlOffset,
      seq: -1,
      heldSize: 0,
      heldFlags: -1,
      heldPattern: -1,
    }
  }
}

/** Writes `frame[0, length)` into the buffer's data area, piece by piece. */
export function writeFrame(k: Kernel, b: SendBuffer, frame: Uint8Array, length: number): void {
  const ram = k.ram
  let done = 0
  for (let i = 0; done < length; i++) {
    const n = Math.min(b.pieceLength[i]!, length - done)
    ram.writeFrom(b.pieceAddress[i]!, frame, done, n)
    done += n
  }
}

/** Restores the NET_BUFFER's shape (a miniport may have moved it) and sets the frame's length. */
export function prepareBuffer(b: SendBuffer, length: number): void {
  const nb = b.nb
  nb.MdlChain = b.mdlChain
  nb.DataOffset = b.dataOffset
  nb.CurrentMdl = b.currentMdl
  nb.CurrentMdlOffset = b.currentMdlOffset
  nb.DataLength = length
}
