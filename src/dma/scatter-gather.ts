// Scatter/gather lists: the logical addresses a device is given for a buffer described by an
// MDL chain (GetScatterGatherList, BuildScatterGatherList, NdisMAllocateNetBufferSGList).
//
// The buffer's physical pieces are found from the MDLs' PFN arrays. Then, per piece:
//  - IOMMU translating: an IOVA range below the device's limit is mapped onto the pieces
//    (read-only when the transfer goes to the device, write-only when it comes from it), so a
//    buffer that is physically scattered becomes one element;
//  - no IOMMU, piece below the limit: its physical address is the logical address;
//  - no IOMMU, piece beyond the limit: it is bounced through a map register — a frame below
//    the limit — copied in now for a transfer to the device, copied back at Put for a
//    transfer from it (REFERENCE §3). When the adapter's map registers are all in use, the
//    request waits until a Put frees some (so the execution routine may run later).
import { PAGE_SIZE } from '../hw/address.js'
import type { CallSite } from '../kernel/calls.js'
import { CHAIN_LIMIT, type MDL } from '../kernel/mdl.js'
import type { SCATTER_GATHER_LIST, SCATTER_GATHER_ELEMENT } from '../ndis/types.js'
import type { AdapterState, SgRecord } from './adapter.js'

export interface SgRequest {
  readonly mdl: MDL
  readonly currentVa: number
  readonly length: number
  readonly writeToDevice: boolean
  readonly routine: string
  /** The driver's call, resolved to a line only if a finding needs it (per-packet path). */
  readonly site: CallSite | undefined
  /** BuildScatterGatherList: the caller's list, filled in place. */
  readonly into?: SCATTER_GATHER_LIST | null
  /** The driver routine that receives the list (execution routine, ProcessSGList), and its arguments. */
  readonly callback: SgCallback
  readonly callbackName: string
  readonly deviceObject: unknown
  readonly context: unknown
}

/** DRIVER_LIST_CONTROL and MINIPORT_PROCESS_SG_LIST share this shape. */
export type SgCallback = (deviceObject: unknown, reserved: null, sgl: SCATTER_GATHER_LIST, context: unknown) => void

/** `wait`: map registers are busy, retry after a Put; `fail`: it can never be mapped. */
export type SgOutcome = SgRecord | 'wait' | { readonly fail: string }

/** sizeof(SCATTER_GATHER_LIST) and sizeof(SCATTER_GATHER_ELEMENT) on x64. */
export const SGL_HEADER_BYTES = 16
export const SGL_ELEMENT_BYTES = 24

export function sgListSize(elements: number): number {
  return SGL_HEADER_BYTES + elements * SGL_ELEMENT_BYTES
}

/** Pages [currentVa, currentVa + length) touches: the most elements / map registers it can need. */
export function pagesTouched(currentVa: number, length: number): number {
  if (length <= 0) return 0
  return Math.floor((currentVa + length - 1) / PAGE_SIZE) - Math.floor(currentVa / PAGE_SIZE) + 1
}

/**
 * Scratch for the pieces of the list being built: [pa0, len0, pa1, len1, …] and their count. A
 * typed array, because truncating a plain array releases its backing store and every list
 * would allocate it again.
 */
class Pieces {
  data = new Float64Array(64)
  length = 0

  push(pa: number, len: number): void {
    if (this.length + 2 > this.data.length) {
      const grown = new Float64Array(this.data.length * 2)
      grown.set(this.data)
      this.data = grown
    }
    this.data[this.length++] = pa
    this.data[this.length++] = len
  }
}
const scratch = new Pieces()

/**
 * Fills `out` with the physical pieces of `length` bytes from `currentVa` through the MDL chain,
 * as flat [pa, length] pairs, merging pieces that are physically adjacent. Returns an error
 * message, or undefined.
 */
function collectPieces(mdl: MDL, currentVa: number, length: number, out: Pieces): string | undefined {
  out.length = 0
  let m: MDL | null = mdl
  let offset = currentVa - (mdl.StartVa + mdl.ByteOffset)
  if (!(offset >= 0 && offset <= mdl.ByteCount)) return 'CurrentVa is not within the first MDL'
  let remaining = length
  let links = 0
  while (remaining > 0) {
    // The chain ends at NULL, or at undefined where a driver wrote that into Next.
    if (m === null || m === undefined) return `the MDL chain describes ${length - remaining} bytes from CurrentVa, fewer than Length (${length})`
    let take = Math.min(m.ByteCount - offset, remaining)
    let pos = m.ByteOffset + offset
    while (take > 0) {
      const pfn = m.PfnArray[Math.floor(pos / PAGE_SIZE)]
      if (pfn === undefined || pfn < 0) return 'the MDL describes pages that are not built or locked (MmBuildMdlForNonPagedPool / MmProbeAndLockPages)'
      const inPage = pos % PAGE_SIZE
      const chunk = Math.min(PAGE_SIZE - inPage, take)
      const pa = pfn * PAGE_SIZE + inPage
      const n = out.length
      const d = out.data
      if (n > 0 && d[n - 2]! + d[n - 1]! === pa) d[n - 1] = d[n - 1]! + chunk
      else out.push(pa, chunk)
      pos += chunk
      take -= chunk
      remaining -= chunk
    }
    m = m.Next
    offset = 0
    if (++links >= CHAIN_LIMIT) return `the MDL chain loops back on itself (more than ${CHAIN_LIMIT} MDLs from CurrentVa)`
  }
  return undefined
}

/** The physical pieces [pa, length] of `length` bytes from `currentVa` through the MDL chain. */
export function physicalPieces(mdl: MDL, currentVa: number, length: number): Array<[number, number]> | string {
  const flat = new Pieces()
  const error = collectPieces(mdl, currentVa, length, flat)
  if (error !== undefined) return error
  const out: Array<[number, number]> = []
  for (let i = 0; i < flat.length; i += 2) out.push([flat.data[i]!, flat.data[i + 1]!])
  return out
}

const DEVICE_READS = { read: true, write: false } as const
const DEVICE_WRITES = { read: false, write: true } as const
/** Shared by every list that has nothing to undo of a kind (never pushed to). */
const NONE: never[] = []

function pushElement(elements: SCATTER_GATHER_ELEMENT[], address: number, length: number): void {
  const last = elements[elements.length - 1]
  if (last !== undefined && last.Address + last.Length === address) last.Length += length
  else elements.push({ Address: address, Length: length, Reserved: 0 })
}

/** `behindOthers`: earlier requests are waiting for map registers, so this one may not take any. */
export function buildScatterGather(adapter: AdapterState, req: SgRequest, behindOthers = false): SgOutcome {
  const error = collectPieces(req.mdl, req.currentVa, req.length, scratch)
  if (error !== undefined) return { fail: error }
  const pieces = scratch.data
  const count = scratch.length
  if (count === 0) return { fail: 'Length is zero' }
  const p = adapter.platform
  const elements: SCATTER_GATHER_ELEMENT[] = []
  const ranges: Array<readonly [number, number]> = []
  let iovaRanges: Array<readonly [number, number]> = NONE
  let bounced: Array<readonly [number, number, number]> = NONE
  let registers: number[] = NONE

  if (adapter.iommuOn) {
    const space = adapter.iovaSpace()
    const access = req.writeToDevice ? DEVICE_READS : DEVICE_WRITES
    iovaRanges = []
    // Runs of pieces that can share one IOVA range: each continues at a page boundary.
    let i = 0
    while (i < count) {
      let j = i
      let pages = pagesTouched(pieces[i]!, pieces[i + 1]!)
      while (j + 2 < count && (pieces[j]! + pieces[j + 1]!) % PAGE_SIZE === 0 && pieces[j + 2]! % PAGE_SIZE === 0) {
        j += 2
        pages += pagesTouched(pieces[j]!, pieces[j + 1]!)
      }
      const base = space.allocate(pages)
      if (base < 0 || base + pages * PAGE_SIZE > adapter.limit) {
        if (base >= 0) space.release(base, pages)
        undoIommu(adapter, iovaRanges)
        return { fail: 'no I/O virtual address space left below the device limit' }
      }
      iovaRanges.push([base, pages])
      let at = base
      for (let q = i; q <= j; q += 2) {
        const pa = pieces[q]!
        const len = pieces[q + 1]!
        if (!p.domains.map(adapter.requester, at + (pa % PAGE_SIZE), pa, len, access)) {
          undoIommu(adapter, iovaRanges)
          return { fail: 'no memory for IOMMU page tables' }
        }
        pushElement(elements, at + (pa % PAGE_SIZE), len)
        ranges.push([pa, len])
        at += pagesTouched(pa, len) * PAGE_SIZE
      }
      i = j + 2
    }
    p.stats.iommuMappedLists++
  } else {
    let needed = 0
    for (let i = 0; i < count; i += 2) if (pieces[i]! + pieces[i + 1]! > adapter.limit) needed += pagesTouched(pieces[i]!, pieces[i + 1]!)
    if (needed > adapter.mapRegisters) return { fail: `the transfer needs ${needed} map registers and the adapter has ${adapter.mapRegisters}` }
    if (needed > 0 && behindOthers) return 'wait'
    if (needed > adapter.freeRegisters.length + (adapter.mapRegisters - adapter.registersAllocated)) return 'wait'
    if (needed > 0) {
      bounced = []
      registers = []
    }
    const ram = p.kernel.ram
    for (let i = 0; i < count; i += 2) {
      const pa = pieces[i]!
      const len = pieces[i + 1]!
      if (pa + len <= adapter.limit) {
        pushElement(elements, pa, len)
        ranges.push([pa, len])
        continue
      }
      // Bounce page by page, keeping the offset within the page.
      let done = 0
      while (done < len) {
        const at = pa + done
        const chunk = Math.min(PAGE_SIZE - (at % PAGE_SIZE), len - done)
        const reg = adapter.takeRegister()
        if (reg < 0) {
          adapter.giveRegisters(registers)
          return 'wait'
        }
        registers.push(reg)
        const bounce = reg * PAGE_SIZE + (at % PAGE_SIZE)
        if (req.writeToDevice) {
          ram.copy(bounce, at, chunk)
          p.stats.bounceBytes += chunk
        }
        bounced.push([bounce, at, chunk])
        pushElement(elements, bounce, chunk)
        ranges.push([bounce, chunk])
        done += chunk
      }
    }
    if (bounced.length > 0) p.stats.bouncedLists++
  }

  const sgl = req.into ?? { NumberOfElements: 0, Reserved: 0, Elements: [] }
  sgl.NumberOfElements = elements.length
  sgl.Elements = elements
  const mapping = new SgMapping(p.verifier.newId(), req.length, req.routine, req.site, adapter.addressBits, ranges)
  p.verifier.add(mapping)
  const record: SgRecord = { sgl, writeToDevice: req.writeToDevice, length: req.length, mapping, iovaRanges, bounced, registers, routine: req.routine, site: req.site }
  adapter.sgLists.set(sgl, record)
  p.stats.sgLists++
  return record
}

/** A live S/G list as the verifier sees it; its label is only built when a finding needs it. */
class SgMapping {
  readonly kind = 'sg-list' as const
  readonly id: number
  readonly site: SgRequest['site']
  readonly addressBits: number
  readonly ranges: ReadonlyArray<readonly [number, number]>
  private readonly length: number
  private readonly routine: string

  constructor(id: number, length: number, routine: string, site: SgRequest['site'], addressBits: number, ranges: ReadonlyArray<readonly [number, number]>) {
    this.id = id
    this.length = length
    this.routine = routine
    this.site = site
    this.addressBits = addressBits
    this.ranges = ranges
  }

  get label(): string {
    return `scatter/gather list for ${this.length} bytes (${this.routine})`
  }
}

/** PutScatterGatherList: copy bounced data back (transfers from the device), unmap, free. */
export function putScatterGather(adapter: AdapterState, sgl: SCATTER_GATHER_LIST, writeToDevice: boolean, routine: string): void {
  const record = adapter.sgLists.get(sgl)
  if (record === undefined) {
    adapter.badArgument(routine, 'the scatter/gather list is not one this adapter handed out, or it was already put back')
    return
  }
  const p = adapter.platform
  if (!record.writeToDevice) {
    for (const [bounce, original, length] of record.bounced) {
      p.kernel.ram.copy(original, bounce, length)
      p.stats.bounceBytes += length
    }
  }
  if (writeToDevice !== record.writeToDevice) {
    adapter.badArgument(routine, `WriteToDevice is ${writeToDevice}, but the list was built with ${record.writeToDevice}`)
  }
  undoIommu(adapter, record.iovaRanges)
  p.verifier.remove(record.mapping)
  adapter.sgLists.delete(sgl)
  adapter.giveRegisters(record.registers)
}

function undoIommu(adapter: AdapterState, iovaRanges: ReadonlyArray<readonly [number, number]>): void {
  const space = adapter.iovaSpace()
  for (const [base, pages] of iovaRanges) {
    adapter.platform.domains.unmap(adapter.requester, base, pages * PAGE_SIZE)
    space.release(base, pages)
  }
}
