// Scatter/gather lists: the logical addresses a device is given for a buffer described by an
// MDL chain (GetScatterGatherList, BuildScatterGatherList and their Ex forms,
// NdisMAllocateNetBufferSGList).
//
// The buffer's physical pieces are found from the MDLs' PFN arrays. Every transfer is limited
// by the adapter's map registers, whatever memory it lands in and whether the IOMMU is on: one
// needing more than IoGetDmaAdapter gave the adapter fails ("This routine can handle chained
// MDLs, provided that the total number of map registers required by all chained MDLs does not
// exceed the number of map registers that are available", GetScatterGatherList). Then, per piece:
//  - IOMMU translating: an IOVA range below the device's limit is mapped onto the pieces,
//    read-only when the transfer goes to the device and write-only when it comes from it, so a
//    buffer that is physically scattered becomes one element;
//  - no IOMMU, piece below the limit: its physical address is the logical address;
//  - no IOMMU, piece beyond the limit: it is bounced through a map register — a frame below
//    the limit — copied in now for a transfer to the device, copied back at Put for a
//    transfer from it, and never the other way (REFERENCE §3). When the adapter's map
//    registers are all in use, the request waits until a Put frees some (so the execution
//    routine may run later).
import { PAGE_SIZE, asLogical, asPhysical, hex } from '../hw/address.js'
import type { CallSite } from '../kernel/calls.js'
import type { SCATTER_GATHER_LIST, SCATTER_GATHER_ELEMENT } from '../kernel/hal.js'
import { CHAIN_LIMIT, type MDL } from '../kernel/mdl.js'
import type { AdapterState, SgRecord } from './adapter.js'
import { ALLOW_READ, ALLOW_WRITE, type LiveMapping, type Overlap, type PhysicalRanges } from './coverage.js'
import type { MapFailure } from './map-failures.js'
import { DMA_DMALAB_BAD_ARGUMENT, DMA_VIOLATION, dmaViolation } from './violations.js'

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
  readonly callback: SgCallback | null
  readonly callbackName: string
  readonly deviceObject: unknown
  readonly context: unknown
}

/** DRIVER_LIST_CONTROL and MINIPORT_PROCESS_SG_LIST share this shape. */
export type SgCallback = (deviceObject: unknown, reserved: null, sgl: SCATTER_GATHER_LIST, context: unknown) => void

/** `wait`: map registers are busy, retry after a Put; `fail`: it cannot be mapped. */
export type SgOutcome = SgRecord | 'wait' | { readonly fail: MapFailure }

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
 * Scratch for the pieces of the list being built: [pa0, len0, pa1, len1, …], their count, and
 * the map registers the transfer needs. A typed array, because truncating a plain array
 * releases its backing store and every list would allocate it again.
 */
export class Pieces {
  data = new Float64Array(64)
  length = 0
  /** ADDRESS_AND_SIZE_TO_SPAN_PAGES summed over the MDLs of the chain. */
  registers = 0

  push(pa: number, len: number): void {
    if (this.length + 2 > this.data.length) {
      const grown = new Float64Array(this.data.length * 2)
      grown.set(this.data)
      this.data = grown
    }
    this.data[this.length++] = pa
    this.data[this.length++] = len
  }

  /** The pieces as [pa, length] pairs (a copy; for what outlives the scratch). */
  toRanges(): Array<readonly [number, number]> {
    const out: Array<readonly [number, number]> = []
    for (let i = 0; i < this.length; i += 2) out.push([this.data[i]!, this.data[i + 1]!])
    return out
  }
}
const scratch = new Pieces()

/**
 * Fills `out` with the physical pieces of `length` bytes from `currentVa` through the MDL chain
 * (`single`: within the first MDL only), as flat [pa, length] pairs, merging pieces that are
 * physically adjacent, and counts the map registers the transfer needs (one per page each MDL's
 * part touches). `mdlAddress` names an MDL in a failure. Returns the failure, or undefined.
 */
export function collectPieces(mdl: MDL, currentVa: number, length: number, out: Pieces, mdlAddress: (m: MDL) => number, single = false): MapFailure | undefined {
  out.length = 0
  out.registers = 0
  let m: MDL | null = mdl
  let offset = currentVa - (mdl.StartVa + mdl.ByteOffset)
  if (offset < 0) return { reason: 'va-before-mdl', va: currentVa, mdl: mdlAddress(mdl) }
  if (!(offset <= mdl.ByteCount)) return { reason: 'va-after-mdl', va: currentVa, mdl: mdlAddress(mdl) }
  let remaining = length
  let links = 0
  while (remaining > 0) {
    // The chain ends at NULL, or at undefined where a driver wrote that into Next.
    if (m === null || m === undefined) return { reason: 'chain-too-short', described: length - remaining, length }
    let take = Math.min(m.ByteCount - offset, remaining)
    let pos = m.ByteOffset + offset
    out.registers += pagesTouched(pos, take)
    while (take > 0) {
      const pfn = m.PfnArray[Math.floor(pos / PAGE_SIZE)]
      if (pfn === undefined || pfn < 0) return { reason: 'mdl-not-locked', mdl: mdlAddress(m) }
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
    // One MDL only (MapTransfer maps within the MDL it is given): the rest is not described.
    m = single ? null : m.Next
    offset = 0
    if (++links >= CHAIN_LIMIT) return { reason: 'chain-loops', limit: CHAIN_LIMIT }
  }
  return undefined
}

/**
 * The map registers a transfer of `length` bytes from `currentVa` through the MDL chain needs
 * (ADDRESS_AND_SIZE_TO_SPAN_PAGES of each MDL's part, summed), from the MDLs' byte ranges
 * alone; -1 when the chain does not describe the transfer.
 */
export function mapRegistersFor(mdl: MDL, currentVa: number, length: number): number {
  let offset = currentVa - (mdl.StartVa + mdl.ByteOffset)
  if (!(offset >= 0 && offset <= mdl.ByteCount)) return -1
  let m: MDL | null = mdl
  let remaining = length
  let registers = 0
  for (let links = 0; remaining > 0; links++) {
    if (m === null || m === undefined || links >= CHAIN_LIMIT) return -1
    const take = Math.min(m.ByteCount - offset, remaining)
    registers += pagesTouched(m.ByteOffset + offset, take)
    remaining -= take
    m = m.Next
    offset = 0
  }
  return registers
}

/** The physical pieces [pa, length] of `length` bytes from `currentVa` through the MDL chain. */
export function physicalPieces(mdl: MDL, currentVa: number, length: number): Array<readonly [number, number]> | MapFailure {
  const flat = new Pieces()
  const failure = collectPieces(mdl, currentVa, length, flat, () => 0)
  return failure ?? flat.toRanges()
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
  const p = adapter.platform
  const failure = collectPieces(req.mdl, req.currentVa, req.length, scratch, (m) => p.kernel.mdl.stateOf(m)?.address ?? 0)
  if (failure !== undefined) return { fail: failure }
  const pieces = scratch.data
  const count = scratch.length
  if (count === 0) return { fail: { reason: 'zero-length' } }
  if (scratch.registers > adapter.mapRegisters) return { fail: { reason: 'too-many-map-registers', needed: scratch.registers, maximum: adapter.mapRegisters } }
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
        return { fail: { reason: 'no-iova-space' } }
      }
      iovaRanges.push([base, pages])
      let at = base
      for (let q = i; q <= j; q += 2) {
        const pa = pieces[q]!
        const len = pieces[q + 1]!
        if (!p.domains.map(adapter.requester, asLogical(at + (pa % PAGE_SIZE)), asPhysical(pa), len, access)) {
          undoIommu(adapter, iovaRanges)
          return { fail: { reason: 'no-table-memory' } }
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
    if (needed > 0 && (behindOthers || !adapter.reserveRegisters(needed))) return 'wait'
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
        const frame = adapter.takeFrame()
        if (frame < 0) {
          adapter.releaseRegisters(needed, registers)
          return 'wait'
        }
        registers.push(frame)
        const bounce = frame * PAGE_SIZE + (at % PAGE_SIZE)
        // A transfer to the device needs the data in the bounce page before the device reads it.
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
  const buffer = bounced.length > 0 ? scratch.toRanges() : undefined
  const mapping = new SgMapping(p.verifier.newId(), req.length, req.routine, req.site, adapter.addressBits, ranges, req.writeToDevice ? ALLOW_READ : ALLOW_WRITE, buffer)
  const overlap = p.verifier.add(mapping)
  const record: SgRecord = { sgl, writeToDevice: req.writeToDevice, length: req.length, mapping, iovaRanges, bounced, registers, routine: req.routine, site: req.site }
  adapter.sgLists.set(sgl, record)
  adapter.sgListsMade++
  p.stats.sgLists++
  p.observer?.mapped(adapter, record, elements)
  if (overlap !== null) reportDoubleMap(adapter, req, overlap)
  return record
}

/**
 * 0xE6/0x1D: the buffer is already mapped by a transfer still in flight (p2 start and p3 end of
 * the buffer to map, p4 the address in it that is already mapped). The new mapping is made; two
 * live transfers over the same bytes race each other (and a bounced one copies stale data).
 */
function reportDoubleMap(adapter: AdapterState, req: SgRequest, overlap: Overlap): void {
  reportDoubleMapping(adapter, req.routine, req.mdl, req.currentVa, req.length, overlap)
}

/** The double-mapping finding for `length` bytes from `currentVa` (S/G lists and MapTransfer). */
export function reportDoubleMapping(adapter: AdapterState, routine: string, mdl: MDL, currentVa: number, length: number, overlap: Overlap, single = false): void {
  // The VA of the first doubly mapped byte: its offset within the buffer's pieces, which follow the buffer in order.
  const fresh = new Pieces()
  let offset = 0
  if (collectPieces(mdl, currentVa, length, fresh, () => 0, single) === undefined) {
    for (let i = 0; i < fresh.length; i += 2) {
      const pa = fresh.data[i]!
      const len = fresh.data[i + 1]!
      if (overlap.at >= pa && overlap.at < pa + len) {
        offset += overlap.at - pa
        break
      }
      offset += len
    }
  }
  const end = currentVa + length
  const site = typeof overlap.mapping.site === 'string' ? overlap.mapping.site : undefined
  dmaViolation(
    adapter.platform.kernel,
    'dma-double-map',
    [DMA_VIOLATION.doubleMap, currentVa, end, currentVa + offset],
    `${routine} of ${hex(currentVa)}..${hex(end)}: ${hex(currentVa + offset)} is already mapped by the live ${overlap.mapping.label}${site === undefined ? '' : ` (made at ${site})`}; put that list back (or flush that transfer) before mapping the buffer again (0xE6/0x1D)`,
    { address: currentVa + offset },
  )
}

/** A live S/G list as the verifier sees it; its label is only built when a finding needs it. */
class SgMapping implements LiveMapping {
  readonly kind = 'sg-list' as const
  readonly id: number
  readonly site: SgRequest['site']
  readonly addressBits: number
  readonly ranges: PhysicalRanges
  readonly allow: number
  readonly buffer: PhysicalRanges | undefined
  private readonly length: number
  private readonly routine: string

  constructor(id: number, length: number, routine: string, site: SgRequest['site'], addressBits: number, ranges: PhysicalRanges, allow: number, buffer: PhysicalRanges | undefined) {
    this.id = id
    this.length = length
    this.routine = routine
    this.site = site
    this.addressBits = addressBits
    this.ranges = ranges
    this.allow = allow
    this.buffer = buffer
  }

  get label(): string {
    return `scatter/gather list for ${this.length} bytes (${this.routine})`
  }
}

/**
 * PutScatterGatherList: copy bounced data back (transfers from the device), unmap, free.
 * `writeToDevice` is the caller's claim of the direction (null: the routine takes the list's own).
 */
export function putScatterGather(adapter: AdapterState, sgl: SCATTER_GATHER_LIST, writeToDevice: boolean | null, routine: string): void {
  const record = adapter.sgLists.get(sgl)
  if (record === undefined) {
    if (adapter.sgLists.wasPutBack(sgl)) {
      // 0xE6/0x06: "The driver freed too many DMA scatter/gather lists" (p2 allocated, p3 freed).
      dmaViolation(adapter.platform.kernel, 'dma-bad-argument', [DMA_VIOLATION.sgListDoubleFree, adapter.sgListsMade, adapter.sgListsPut + 1, 0], `${routine}: the scatter/gather list was already put back`)
    } else {
      dmaViolation(adapter.platform.kernel, 'dma-bad-argument', [DMA_DMALAB_BAD_ARGUMENT, 0, 0, 0], `${routine}: the scatter/gather list is not one this adapter handed out`)
    }
    return
  }
  const p = adapter.platform
  // Bounced data goes back only for a transfer from the device: a transfer to it left the
  // original as it was.
  if (!record.writeToDevice) {
    for (const [bounce, original, length] of record.bounced) {
      p.kernel.ram.copy(original, bounce, length)
      p.stats.bounceBytes += length
    }
  }
  if (writeToDevice !== null && writeToDevice !== record.writeToDevice) {
    adapter.badArgument(routine, `WriteToDevice is ${writeToDevice}, but the list was built with ${record.writeToDevice}`)
  }
  undoIommu(adapter, record.iovaRanges)
  p.verifier.remove(record.mapping)
  adapter.sgLists.delete(sgl)
  adapter.sgListsPut++
  adapter.releaseRegisters(record.registers.length, record.registers)
  p.observer?.unmapped(record)
}

export function undoIommu(adapter: AdapterState, iovaRanges: ReadonlyArray<readonly [number, number]>): void {
  const space = adapter.iovaSpace()
  for (const [base, pages] of iovaRanges) {
    adapter.platform.domains.unmap(adapter.requester, asLogical(base), pages * PAGE_SIZE)
    space.release(base, pages)
  }
}
