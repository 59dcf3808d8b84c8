// NET_BUFFER_LISTs, NET_BUFFERs, MDLs and scatter/gather lists as a C miniport sees them: bytes
// in emulated memory with their 32-bit layouts, at the addresses of the pool blocks NDIS and
// the kernel already spend on them (an NBL's block holds the NET_BUFFER_LIST and its first
// NET_BUFFER; a NET_BUFFER chained behind it has a block of its own; an MDL's block holds the
// MDL and its PFN array), so a C pointer to one is the address of that block and every access
// the driver makes goes through the page tables.
//
// NDIS itself keeps its objects (docs/DESIGN-c-drivers.md, section 4). The two meet at the
// moments NDIS's rules hand ownership over, which are the only moments either side may touch
// the structure (ndis/nbl.h "NET_BUFFER_LIST structure"; "Sending Network Data", "Receiving
// Network Data"):
//  - NDIS gives the driver a chain (MiniportSendNetBufferLists, MiniportReturnNetBufferLists) or
//    a fresh NBL/MDL (NdisAllocateNetBufferAndNetBufferList, NdisAllocateMdl): NDIS's fields are
//    written into memory first (toC);
//  - the driver gives NDIS a chain or a NET_BUFFER (NdisMSendNetBufferListsComplete,
//    NdisMIndicateReceiveNetBufferLists, NdisMAllocateNetBufferSGList): what the driver wrote
//    there (Next links, Status, DataLength, DataOffset, CurrentMdl, an MDL's Next and
//    ByteCount) is read from memory before NDIS looks (fromC).
// The reserved areas (MiniportReserved, ...) live in memory only: they are the driver's.
//
// A pointer that is not one of these objects is handed to NDIS as the number, which NDIS
// refuses (nbl-misuse) as it refuses any bad object.
import { CHAIN_LIMIT, type MDL } from '../../kernel/mdl.js'
import type { NblPools } from '../../ndis/nbl.js'
import type { NET_BUFFER, NET_BUFFER_LIST, SCATTER_GATHER_LIST } from '../../ndis/types.js'
import type { CDriverInstance } from './instance.js'
import { MDL as MDL_LAYOUT, SCATTER_GATHER_ELEMENT, SCATTER_GATHER_LIST as SGL_LAYOUT } from './structs.js'
import { NET_BUFFER as NB, NET_BUFFER_LIST as NBL } from './structs-net.js'
import { NET_BUFFER_BYTES } from '../../ndis/net-buffers.js'

/** The NET_BUFFER follows the NET_BUFFER_LIST in the NBL's block, 8-aligned. */
const NB_OFFSET = Math.ceil(NBL.size / 8) * 8
const o = (layout: { offset: Readonly<Record<string, number>> }, field: string): number => layout.offset[field]!

const NBL_NEXT = o(NBL, 'Next')
const NBL_FIRST_NB = o(NBL, 'FirstNetBuffer')
const NBL_SOURCE = o(NBL, 'SourceHandle')
const NBL_FLAGS = o(NBL, 'NblFlags')
const NBL_STATUS = o(NBL, 'Status')
const NB_NEXT = o(NB, 'Next')
const NB_CURRENT_MDL = o(NB, 'CurrentMdl')
const NB_CURRENT_OFFSET = o(NB, 'CurrentMdlOffset')
const NB_LENGTH = o(NB, 'DataLength')
const NB_CHAIN = o(NB, 'MdlChain')
const NB_OFFSET_FIELD = o(NB, 'DataOffset')
const MDL_NEXT = o(MDL_LAYOUT, 'Next')
const MDL_SIZE = o(MDL_LAYOUT, 'Size')
const MDL_FLAGS_FIELD = o(MDL_LAYOUT, 'MdlFlags')
const MDL_MAPPED = o(MDL_LAYOUT, 'MappedSystemVa')
const MDL_START = o(MDL_LAYOUT, 'StartVa')
const MDL_COUNT = o(MDL_LAYOUT, 'ByteCount')
const MDL_OFFSET = o(MDL_LAYOUT, 'ByteOffset')
const SGL_COUNT = o(SGL_LAYOUT, 'NumberOfElements')
const SGL_ELEMENTS = o(SGL_LAYOUT, 'Elements')

/** sizeof(SCATTER_GATHER_LIST) with `elements` elements on x86. */
export function sgListSizeX86(elements: number): number {
  return SGL_ELEMENTS + elements * SCATTER_GATHER_ELEMENT.size
}

/** What the driver's pointer names: the object, NULL, or a number that is none of them. */
type From<T> = T | null | number

export class CNetObjects {
  private readonly c: CDriverInstance
  private readonly pools: NblPools
  private readonly nblAt = new Map<number, NET_BUFFER_LIST>()
  private readonly nbAt = new Map<number, NET_BUFFER>()
  private readonly nbVa = new WeakMap<NET_BUFFER, number>()
  private readonly sglAt = new Map<number, SCATTER_GATHER_LIST>()
  private readonly sglVa = new WeakMap<SCATTER_GATHER_LIST, { va: number; owned: boolean }>()
  /** Lists to be built into a buffer the driver passed (NdisMAllocateNetBufferSGList's ScatterGatherListBuffer). */
  private readonly driverBuffers = new WeakMap<SCATTER_GATHER_LIST, number>()

  constructor(c: CDriverInstance, pools: NblPools) {
    this.c = c
    this.pools = pools
    if (NB_OFFSET + NB.size > 0x1b0) throw new Error('a NET_BUFFER_LIST and its NET_BUFFER do not fit the NBL block')
    if (NB.size > NET_BUFFER_BYTES) throw new Error('a NET_BUFFER does not fit its block')
  }

  // ---- NDIS to the driver ----------------------------------------------------------------------

  /** The address of an NBL from an NDIS pool (registering it, zeroed, the first time), or 0. */
  address(nbl: NET_BUFFER_LIST | null): number {
    if (nbl === null || nbl === undefined) return 0
    const va = this.pools.blockOf(nbl)
    if (va === undefined) return 0
    if (this.nblAt.get(va) !== nbl) {
      // First sight of this NBL (or its block was reused): NDIS hands out a clean structure.
      this.c.kernel.memory.fill(va, NB_OFFSET + NB.size, 0)
      this.nblAt.set(va, nbl)
      const nb = nbl.FirstNetBuffer
      if (nb !== null && nb !== undefined) {
        this.nbAt.set(va + NB_OFFSET, nb)
        this.nbVa.set(nb, va + NB_OFFSET)
      }
    }
    // The NET_BUFFERs behind the first, each in its own block (registered, zeroed, on first sight).
    let links = 0
    for (let nb = nbl.FirstNetBuffer?.Next; nb !== null && nb !== undefined && links < CHAIN_LIMIT; nb = nb.Next, links++) {
      const at = this.pools.blockOfNetBuffer(nb)
      if (at === undefined) break
      if (this.nbAt.get(at) !== nb) {
        this.c.kernel.memory.fill(at, NB.size, 0)
        this.nbAt.set(at, nb)
        this.nbVa.set(nb, at)
      }
    }
    return va
  }

  /** Writes a chain NDIS hands the driver into memory; the head's address. */
  toC(chain: NET_BUFFER_LIST | null): number {
    const m = this.c.kernel.memory
    const head = this.address(chain)
    let va = head
    let links = 0
    for (let nbl = chain; nbl !== null && nbl !== undefined && va !== 0 && links < CHAIN_LIMIT; links++) {
      const next: NET_BUFFER_LIST | null = nbl.Next
      const nextVa = this.address(next)
      m.write32(va + NBL_NEXT, nextVa)
      const nb = nbl.FirstNetBuffer
      const nbVa = nb === null || nb === undefined ? 0 : (this.nbVa.get(nb) ?? 0)
      m.write32(va + NBL_FIRST_NB, nbVa)
      m.write32(va + NBL_SOURCE, nbl.SourceHandle === null || nbl.SourceHandle === undefined ? 0 : this.c.handle(nbl.SourceHandle))
      m.write32(va + NBL_FLAGS, nbl.NblFlags >>> 0)
      m.write32(va + NBL_STATUS, nbl.Status >>> 0)
      let n = 0
      for (let b = nb; b !== null && b !== undefined && n < CHAIN_LIMIT; b = b.Next, n++) {
        const at = this.nbVa.get(b) ?? 0
        if (at === 0) break
        this.writeNb(b, at)
      }
      nbl = next
      va = nextVa
    }
    return head
  }

  private writeNb(nb: NET_BUFFER, va: number): void {
    const m = this.c.kernel.memory
    const next = nb.Next
    m.write32(va + NB_NEXT, next === null || next === undefined ? 0 : (this.nbVa.get(next) ?? 0))
    m.write32(va + NB_CURRENT_MDL, this.mdlAddress(nb.CurrentMdl))
    m.write32(va + NB_CURRENT_OFFSET, nb.CurrentMdlOffset >>> 0)
    m.write32(va + NB_LENGTH, nb.DataLength >>> 0)
    m.write32(va + NB_CHAIN, this.mdlAddress(nb.MdlChain))
    m.write32(va + NB_OFFSET_FIELD, nb.DataOffset >>> 0)
    let links = 0
    for (let mdl: MDL | null = nb.MdlChain; mdl !== null && mdl !== undefined && links < CHAIN_LIMIT; mdl = mdl.Next, links++) this.writeMdl(mdl)
  }

  /** The address of an MDL's block (0 for NULL or something that is not an MDL). */
  mdlAddress(mdl: MDL | null | undefined): number {
    if (mdl === null || mdl === undefined) return 0
    return this.c.kernel.mdl.stateOf(mdl)?.address ?? 0
  }

  /** Writes an MDL's header and PFN array into its block; its address. */
  writeMdl(mdl: MDL): number {
    const va = this.mdlAddress(mdl)
    if (va === 0) return 0
    const m = this.c.kernel.memory
    m.write32(va + MDL_NEXT, this.mdlAddress(mdl.Next))
    m.write16(va + MDL_SIZE, mdl.Size & 0xffff)
    m.write16(va + MDL_FLAGS_FIELD, mdl.MdlFlags & 0xffff)
    m.write32(va + MDL_MAPPED, mdl.MappedSystemVa >>> 0)
    m.write32(va + MDL_START, mdl.StartVa >>> 0)
    m.write32(va + MDL_COUNT, mdl.ByteCount >>> 0)
    m.write32(va + MDL_OFFSET, mdl.ByteOffset >>> 0)
    const pfns = mdl.PfnArray
    // A PFN not yet filled (-1 here) is what an unbuilt MDL's array holds: garbage to the driver.
    for (let i = 0; i < pfns.length; i++) m.write32(va + MDL_LAYOUT.size + 4 * i, pfns[i]! >>> 0)
    return va
  }

  // ---- the driver to NDIS ----------------------------------------------------------------------

  /** The NBL at a driver's pointer. */
  nbl(va: number): From<NET_BUFFER_LIST> {
    const a = va >>> 0
    if (a === 0) return null
    const nbl = this.nblAt.get(a)
    return nbl !== undefined && this.pools.blockOf(nbl) === a ? nbl : a
  }

  /** The NET_BUFFER at a driver's pointer, with what the driver wrote in it read back. */
  nb(va: number): From<NET_BUFFER> {
    const a = va >>> 0
    if (a === 0) return null
    const nb = this.nbAt.get(a)
    if (nb === undefined || !this.current(nb, a)) return a
    this.readNb(nb, a)
    return nb
  }

  /** Whether `nb` still lives at `va`: in its NBL's block (the first) or its own. */
  private current(nb: NET_BUFFER, va: number): boolean {
    const own = this.pools.blockOfNetBuffer(nb)
    if (own !== undefined) return own === va
    const nbl = this.nblAt.get(va - NB_OFFSET)
    return nbl !== undefined && this.pools.blockOf(nbl) === va - NB_OFFSET
  }

  /** The MDL at a driver's pointer. */
  mdl(va: number): From<MDL> {
    const a = va >>> 0
    if (a === 0) return null
    return this.c.kernel.mdl.atAddress(a) ?? a
  }

  /** Reads a chain the driver hands NDIS: each NBL's Next, Status and NET_BUFFERs. */
  fromC(va: number): NET_BUFFER_LIST | null {
    const m = this.c.kernel.memory
    const head = this.nbl(va)
    let cur = head
    let links = 0
    while (cur !== null && typeof cur !== 'number' && links++ < CHAIN_LIMIT) {
      const at = this.pools.blockOf(cur)!
      cur.Status = m.read32(at + NBL_STATUS) | 0
      const nbVa = m.read32(at + NBL_FIRST_NB)
      const nb = this.nb(nbVa)
      cur.FirstNetBuffer = nb as NET_BUFFER | null
      const next = this.nbl(m.read32(at + NBL_NEXT))
      cur.Next = next as NET_BUFFER_LIST | null
      cur = next
    }
    // Something that is not an NBL goes on as the number: NDIS reports it.
    return head as NET_BUFFER_LIST | null
  }

  /** What the driver wrote in a NET_BUFFER and in those it links to behind it. */
  private readNb(first: NET_BUFFER, firstVa: number): void {
    let nb: NET_BUFFER | null = first
    let va = firstVa
    for (let links = 0; nb !== null && links < CHAIN_LIMIT; links++) {
      va = this.readOneNb(nb, va)
      nb = nb.Next
    }
  }

  /** Reads one NET_BUFFER; the address of the next (0 when it has none NDIS knows). */
  private readOneNb(nb: NET_BUFFER, va: number): number {
    const m = this.c.kernel.memory
    const nextVa = m.read32(va + NB_NEXT)
    const next = this.nbAt.get(nextVa)
    nb.Next = next !== undefined && this.current(next, nextVa) ? next : null
    nb.CurrentMdl = this.mdl(m.read32(va + NB_CURRENT_MDL)) as MDL
    nb.CurrentMdlOffset = m.read32(va + NB_CURRENT_OFFSET)
    nb.DataLength = m.read32(va + NB_LENGTH)
    nb.MdlChain = this.mdl(m.read32(va + NB_CHAIN)) as MDL
    nb.DataOffset = m.read32(va + NB_OFFSET_FIELD)
    let links = 0
    for (let mdl: MDL | number | null = nb.MdlChain; mdl !== null && typeof mdl !== 'number' && links < CHAIN_LIMIT; links++) mdl = this.readMdl(mdl)
    return nb.Next === null ? 0 : nextVa
  }

  /** What a driver may change in an MDL it owns (NDIS_MDL_LINKAGE, NdisAdjustMdlLength): Next and ByteCount. */
  readMdl(mdl: MDL): MDL | number | null {
    const va = this.mdlAddress(mdl)
    if (va === 0) return null
    const m = this.c.kernel.memory
    mdl.ByteCount = m.read32(va + MDL_COUNT)
    const next = this.mdl(m.read32(va + MDL_NEXT))
    mdl.Next = next as MDL | null
    return next
  }

  /** Forgets an NBL the driver freed. */
  forget(va: number): void {
    const a = va >>> 0
    const nbl = this.nblAt.get(a)
    if (nbl === undefined) return
    this.nblAt.delete(a)
    this.nbAt.delete(a + NB_OFFSET)
  }

  // ---- scatter/gather lists --------------------------------------------------------------------

  /** A list object NDIS fills in place if the driver's buffer at `va` is big enough for it. */
  driverBuffer(va: number): SCATTER_GATHER_LIST {
    const sgl: SCATTER_GATHER_LIST = { NumberOfElements: 0, Reserved: 0, Elements: [] }
    this.driverBuffers.set(sgl, va >>> 0)
    return sgl
  }

  /**
   * Writes a list the HAL built into memory: into the driver's buffer when the list is the one
   * made for it, else into system pool NDIS allocates, freed when the list is put back. Its address.
   */
  sglToC(sgl: SCATTER_GATHER_LIST): number {
    const m = this.c.kernel.memory
    let place = this.sglVa.get(sgl)
    const n = sgl.NumberOfElements
    if (place === undefined) {
      const buffer = this.driverBuffers.get(sgl) ?? 0
      const va = buffer !== 0 ? buffer : this.c.allocate(sgListSizeX86(n))
      if (va === 0) throw new Error('no memory for a SCATTER_GATHER_LIST')
      place = { va, owned: buffer === 0 }
      this.sglVa.set(sgl, place)
      this.sglAt.set(va, sgl)
    }
    const va = place.va
    m.write32(va + SGL_COUNT, n)
    m.write32(va + SGL_COUNT + 4, 0)
    for (let i = 0; i < n; i++) {
      const e = sgl.Elements[i]!
      const at = va + SGL_ELEMENTS + i * SCATTER_GATHER_ELEMENT.size
      m.write32(at, e.Address >>> 0)
      m.write32(at + 4, Math.floor(e.Address / 4294967296) >>> 0)
      m.write32(at + 8, e.Length >>> 0)
      m.write32(at + 12, 0)
    }
    return va
  }

  /** The list at a driver's pointer. */
  sgl(va: number): SCATTER_GATHER_LIST | number {
    return this.sglAt.get(va >>> 0) ?? va >>> 0
  }

  /** A list was put back: its memory goes too (unless it was the driver's buffer). */
  releaseSgl(sgl: SCATTER_GATHER_LIST | number): void {
    if (typeof sgl === 'number') return
    const place = this.sglVa.get(sgl)
    if (place === undefined) return
    this.sglVa.delete(sgl)
    this.sglAt.delete(place.va)
    if (place.owned) this.c.free(place.va)
  }
}
