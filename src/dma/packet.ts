// Packet-based DMA (WDK "Using Packet-Based DMA"): AllocateAdapterChannel reserves the adapter
// channel and NumberOfMapRegisters map registers and calls the driver's AdapterControl routine
// with them (a MapRegisterBase); MapTransfer maps a buffer through those registers; the driver
// calls FlushAdapterBuffers when the transfer is done, then FreeMapRegisters (the routine
// returned DeallocateObjectKeepRegisters) or FreeAdapterChannel (KeepObject).
//
// Map registers are real here: a register is a page of mapping. Without an IOMMU a page beyond
// the device's reach is bounced through a register's frame below the limit (copied in at
// MapTransfer for a transfer to the device, copied back at FlushAdapterBuffers for one from it,
// never the other way); with the IOMMU the pages are mapped in the device's domain, read-only
// or write-only by direction. A mapping uses as many registers as pages it touches, and a
// driver that maps more than it allocated is told (0xE6/0x15). For a scatter/gather bus master,
// MapTransfer maps one logically contiguous run and says how much (its Length out); otherwise
// it maps the whole length contiguously ("the input and output values of Length are identical").
import { PAGE_SIZE, asLogical, asPhysical, hex } from '../hw/address.js'
import type { MDL } from '../kernel/mdl.js'
import type { AdapterState } from './adapter.js'
import { ALLOW_READ, ALLOW_WRITE, type LiveMapping, type PhysicalRanges } from './coverage.js'
import { reportMapFailure, type MapFailure } from './map-failures.js'
import { Pieces, collectPieces, pagesTouched, reportDoubleMapping, undoIommu } from './scatter-gather.js'
import type { ObservedMapping } from './observer.js'
import { DMA_DMALAB_BAD_ARGUMENT, DMA_VIOLATION, dmaViolation } from './violations.js'

/** One MapTransfer's mapping, live until FlushAdapterBuffers. */
interface MappedTransfer extends ObservedMapping {
  readonly mdl: MDL
  readonly currentVa: number
  readonly length: number
  readonly writeToDevice: boolean
  readonly registers: number
  readonly iovaRanges: Array<readonly [number, number]>
  /** Bounced pieces: [bounce PA, original PA, length]. */
  readonly bounced: Array<readonly [number, number, number]>
  /** Bounce frames: single ones (from the adapter's pool) or one contiguous run of its own. */
  readonly frames: number[]
  readonly ownRun: boolean
  readonly mapping: LiveMapping
}

const DEVICE_READS = { read: true, write: false } as const
const DEVICE_WRITES = { read: false, write: true } as const
const scratch = new Pieces()

/** The map registers AllocateAdapterChannel handed the driver: the MapRegisterBase it passes back. */
export class MapRegisterFile {
  readonly adapter: AdapterState
  /** NumberOfMapRegisters of the AllocateAdapterChannel call. */
  readonly count: number
  /** Registers live mappings use (given back by FlushAdapterBuffers). */
  used = 0
  readonly transfers: MappedTransfer[] = []
  freed = false

  constructor(adapter: AdapterState, count: number) {
    this.adapter = adapter
    this.count = count
  }

  /** Gives the registers back to the adapter; live mappings are undone without copying anything. */
  release(): void {
    if (this.freed) return
    this.freed = true
    for (const t of this.transfers.splice(0)) undo(this.adapter, t)
    this.used = 0
    this.adapter.registerFiles.delete(this)
    this.adapter.releaseRegisters(this.count, [])
  }
}

/**
 * MapTransfer: maps `length` bytes from `currentVa` in `mdl` through the file's registers.
 * Returns the logical address and how many bytes were mapped (0 when nothing could be).
 */
export function mapTransfer(file: MapRegisterFile, mdl: MDL, currentVa: number, length: number, writeToDevice: boolean, routine: string): { logicalAddress: number; length: number } {
  const adapter = file.adapter
  const p = adapter.platform
  const k = p.kernel
  const none = { logicalAddress: 0, length: 0 }
  const fail = (f: MapFailure): typeof none => {
    reportMapFailure(k, routine, f)
    return none
  }
  if (k.mdl.stateOf(mdl) === undefined) return fail({ reason: 'not-an-mdl' })
  if (!Number.isSafeInteger(length) || length < 0 || !Number.isSafeInteger(currentVa)) return fail({ reason: 'not-a-range', currentVa, length })
  if (length === 0) return fail({ reason: 'zero-length' })
  const failure = collectPieces(mdl, currentVa, length, scratch, (m) => k.mdl.stateOf(m)?.address ?? 0, true)
  if (failure !== undefined) return fail(failure)
  const pieces = scratch.data
  const count = scratch.length

  // How much one mapping covers: everything with the IOMMU (one IOVA range) or for a device
  // without scatter/gather (its registers make the range contiguous); otherwise the first
  // physically contiguous piece, and only up to the end of its page when that page is bounced.
  let mapped = length
  if (!adapter.iommuOn && adapter.scatterGather) {
    const pa = pieces[0]!
    mapped = pieces[1]!
    if (pa + mapped > adapter.limit) mapped = Math.min(mapped, PAGE_SIZE - (pa % PAGE_SIZE))
  }
  const registers = pagesTouched(currentVa, mapped)
  if (file.used + registers > file.count) {
    dmaViolation(
      k,
      'map-register-misuse',
      [DMA_VIOLATION.outOfMapRegisters, file.used + registers, file.count, 0],
      `${routine} of ${mapped} bytes at ${hex(currentVa)} needs ${registers} map registers, and ${file.count - file.used} of the ${file.count} AllocateAdapterChannel allocated are free: flush the transfers already mapped, or allocate more (0xE6/0x15)`,
    )
    return none
  }

  const ranges: Array<readonly [number, number]> = []
  const iovaRanges: Array<readonly [number, number]> = []
  const bounced: Array<readonly [number, number, number]> = []
  const frames: number[] = []
  let ownRun = false
  let logical: number
  if (adapter.iommuOn) {
    const pages = registers
    const space = adapter.iovaSpace()
    const base = space.allocate(pages)
    if (base < 0 || base + pages * PAGE_SIZE > adapter.limit) {
      if (base >= 0) space.release(base, pages)
      return none
    }
    iovaRanges.push([base, pages])
    const access = writeToDevice ? DEVICE_READS : DEVICE_WRITES
    let at = base + (currentVa % PAGE_SIZE)
    logical = at
    for (let i = 0; i < count; i += 2) {
      const pa = pieces[i]!
      const len = pieces[i + 1]!
      // Pieces after the first start on a page boundary; each maps at the IOVA that continues the range.
      if (!p.domains.map(adapter.requester, asLogical(at), asPhysical(pa), len, access)) {
        undoIommu(adapter, iovaRanges)
        return none
      }
      ranges.push([pa, len])
      at += len
    }
  } else if (pieces[0]! + pieces[1]! <= adapter.limit && (adapter.scatterGather || count === 2)) {
    // Within reach and contiguous: the device uses the physical address.
    logical = pieces[0]!
    ranges.push([logical, mapped])
  } else {
    // Bounced: one register frame per page, consecutive frames for a device without scatter/gather.
    const offset = pieces[0]! % PAGE_SIZE
    if (adapter.scatterGather) {
      const frame = adapter.takeFrame()
      if (frame < 0) return none
      frames.push(frame)
    } else {
      const got = k.mm.allocateFrames(registers, { kind: 'map-register', label: `map registers of DMA adapter #${adapter.id}`, driver: false, contiguous: true, highest: adapter.limit - 1 })
      if (got === null) return none
      frames.push(...got.pfns)
      ownRun = true
    }
    logical = frames[0]! * PAGE_SIZE + offset
    let done = 0
    for (let i = 0; i < count && done < mapped; i += 2) {
      const pa = pieces[i]!
      const len = Math.min(pieces[i + 1]!, mapped - done)
      const bounce = logical + done
      if (writeToDevice) {
        k.ram.copy(bounce, pa, len)
        p.stats.bounceBytes += len
      }
      bounced.push([bounce, pa, len])
      done += len
    }
    ranges.push([logical, mapped])
  }

  const buffer: PhysicalRanges | undefined = bounced.length > 0 ? bounced.map(([, pa, len]) => [pa, len] as const) : undefined
  const mapping: LiveMapping = {
    id: p.verifier.newId(),
    kind: 'map-register',
    label: `map-register transfer of ${mapped} bytes (${routine})`,
    site: undefined,
    addressBits: adapter.addressBits,
    ranges,
    allow: writeToDevice ? ALLOW_READ : ALLOW_WRITE,
    buffer,
  }
  const overlap = p.verifier.add(mapping)
  file.used += registers
  const transfer: MappedTransfer = { mdl, currentVa, length: mapped, writeToDevice, registers, iovaRanges, bounced, frames, ownRun, mapping, routine, site: undefined }
  file.transfers.push(transfer)
  // The report's memory map sees a packet-based transfer as it sees an S/G list: one range given.
  p.observer?.mapped(adapter, transfer, [{ Address: logical, Length: mapped }])
  if (overlap !== null) reportDoubleMapping(adapter, routine, mdl, currentVa, mapped, overlap, true)
  return { logicalAddress: logical, length: mapped }
}

/**
 * FlushAdapterBuffers: the transfers of `mdl` mapped from [currentVa, currentVa + length) are
 * done: copy bounced data back for a transfer from the device, unmap, and give their registers
 * back to the file. False, with 0xE6/0x20, when nothing there was mapped.
 */
export function flushAdapterBuffers(file: MapRegisterFile, mdl: MDL, currentVa: number, length: number, writeToDevice: boolean, routine: string): boolean {
  const adapter = file.adapter
  const k = adapter.platform.kernel
  const end = currentVa + length
  let flushed = 0
  for (let i = 0; i < file.transfers.length; ) {
    const t = file.transfers[i]!
    if (t.mdl !== mdl || t.currentVa < currentVa || t.currentVa >= end) {
      i++
      continue
    }
    if (t.writeToDevice !== writeToDevice) {
      dmaViolation(k, 'dma-bad-argument', [DMA_DMALAB_BAD_ARGUMENT, 0, 0, 0], `${routine}: WriteToDevice is ${writeToDevice}, but MapTransfer mapped ${hex(t.currentVa)} with ${t.writeToDevice}`)
    }
    // Only a transfer from the device has data to bring back from the bounce pages.
    if (!t.writeToDevice) {
      for (const [bounce, original, len] of t.bounced) {
        k.ram.copy(original, bounce, len)
        adapter.platform.stats.bounceBytes += len
      }
    }
    file.transfers.splice(i, 1)
    file.used -= t.registers
    undo(adapter, t)
    flushed++
  }
  if (flushed === 0) {
    dmaViolation(
      k,
      'map-register-misuse',
      [DMA_VIOLATION.flushNotMapped, 0, currentVa, k.mdl.stateOf(mdl)?.address ?? 0],
      `${routine} of ${hex(currentVa)}..${hex(end)}: nothing of this MDL was mapped there with MapTransfer on these map registers (0xE6/0x20)`,
    )
    return false
  }
  return true
}

/** Undoes one mapping: IOMMU, verifier, bounce frames. */
function undo(adapter: AdapterState, t: MappedTransfer): void {
  adapter.platform.observer?.unmapped(t)
  undoIommu(adapter, t.iovaRanges)
  adapter.platform.verifier.remove(t.mapping)
  if (t.ownRun) adapter.platform.kernel.mm.freeFrames(t.frames)
  else for (const f of t.frames) adapter.freeFrames.push(f)
}
