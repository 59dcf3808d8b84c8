// A PCI device's DMA engine: every memory access the device makes goes through here.
//
//  1. Bus mastering: with COMMAND.BME clear the device cannot start a transaction (PCI 3.0
//     6.2.2); nothing moves and a `bus-master-disabled` finding says so.
//  2. Address lines: a device with `addressBits` lines (32 for the 82540EM's legacy descriptors
//     as this machine wires it) does not drive the bits above, so the access lands at the
//     truncated address — exactly what real hardware does — and `dma-address-truncated`
//     records the intended and the actual address.
//  3. The IOMMU, when translating, maps each page of the access (VT-d); a faulting page reads
//     as all-ones and a faulting write is dropped (the IOMMU reports the fault itself).
//  4. The target: RAM is accessed; a device's MMIO window is refused (the re-entrancy guard:
//     device DMA into registers is how QEMU's CVE-2021-3416 class recursed); nothing at all is
//     a master abort (all-ones, PCI STATUS "received master abort").
//
// Every access returns a status and never throws for guest input. The per-access path
// allocates nothing: numeric state, the caller's buffer, and the observer hook only when set.
import { PAGE_MASK as ADDRESS_PAGE_MASK, PAGE_SIZE as ADDRESS_PAGE_SIZE, asLogical, asPhysical, hex, type LogicalAddress, type PhysicalAddress } from './address.js'
import type { SystemBus } from './bus.js'
import type { PhysicalMemory } from './memory.js'
import type { FindingSink } from './finding.js'
import type { DmaAccessKind, Iommu } from './iommu/iommu.js'
import { PCI_STATUS, type PciFunction } from './pci.js'

// Module-local copies of constants used on every access: V8 folds a module's own `const` into
// optimized code, while an imported binding costs a cell load and a hole check at each use.
const PAGE_SIZE = ADDRESS_PAGE_SIZE
const PAGE_MASK = ADDRESS_PAGE_MASK
const INVERSE_PAGE_SIZE = 1 / PAGE_SIZE

export const DMA_STATUS = {
  ok: 0,
  busMasterDisabled: 1,
  iommuFault: 2,
  masterAbort: 3,
  mmioRefused: 4,
} as const

export type DmaStatus = (typeof DMA_STATUS)[keyof typeof DMA_STATUS]

const STATUS_TEXT: Record<DmaStatus, string> = {
  0: 'ok',
  1: 'bus mastering is disabled',
  2: 'the IOMMU refused it',
  3: 'no memory answered (master abort)',
  4: 'it targeted MMIO (refused)',
}

export function dmaStatusText(status: DmaStatus): string {
  return STATUS_TEXT[status]
}

/**
 * Sees every completed device access to RAM, after truncation and translation, one call per
 * page-sized piece. The HAL DMA layer's verifier hangs here (issue 5). Keep it cheap: it runs
 * on the per-packet path whenever it is set.
 */
export interface DmaObserver {
  onAccess(requester: string, logicalAddress: LogicalAddress, physicalAddress: PhysicalAddress, length: number, access: DmaAccessKind): void
}

export interface DmaCounters {
  reads: number
  writes: number
  bytesRead: number
  bytesWritten: number
  truncated: number
  busMasterRefused: number
  iommuFaults: number
  masterAborts: number
  mmioRefused: number
}

export interface DmaEngineOptions {
  /** Address lines the device drives (24..64). */
  readonly addressBits: number
}

export class DmaEngine {
  /** Set by the HAL DMA layer to verify every device access; null costs one compare. */
  observer: DmaObserver | null = null
  readonly requester: string
  readonly requesterId: number
  readonly addressBits: number
  readonly counters: DmaCounters = {
    reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, truncated: 0, busMasterRefused: 0, iommuFaults: 0, masterAborts: 0, mmioRefused: 0,
  }
  /** The device address of the last piece that failed, and why: for the device's own error reports. */
  lastFailureAddress = 0
  lastFailure: DmaStatus = DMA_STATUS.ok
  private readonly bus: SystemBus
  private readonly iommu: Iommu
  private readonly pci: PciFunction
  private readonly sink: FindingSink
  /** 2^addressBits: the first address the device cannot drive. */
  private readonly limit: number
  private readonly memory: PhysicalMemory
  /** PCI COMMAND.BME, cached as 0 or 1: the per-access test is a field read and a compare. */
  private busMaster = 0

  constructor(bus: SystemBus, iommu: Iommu, pci: PciFunction, sink: FindingSink, options: DmaEngineOptions) {
    if (!Number.isInteger(options.addressBits) || options.addressBits < 12 || options.addressBits > 64) {
      throw new RangeError(`DMA address bits ${options.addressBits} must be a whole number in 12..64`)
    }
    this.bus = bus
    this.iommu = iommu
    this.pci = pci
    this.sink = sink
    this.requester = pci.bdf
    this.requesterId = pci.requesterId
    this.addressBits = options.addressBits
    this.limit = 2 ** options.addressBits
    this.memory = bus.memory
    this.busMaster = pci.busMasterEnabled ? 1 : 0
    pci.onChange(() => {
      this.busMaster = pci.busMasterEnabled ? 1 : 0
    })
  }

  get busMasterEnabled(): boolean {
    return this.busMaster !== 0
  }

  /** Device reads `length` bytes at device address `address` into `dst[dstOffset…]`. */
  read(address: number, dst: Uint8Array, dstOffset: number, length: number): DmaStatus {
    // Fast path: one page, bus mastering on, within the address lines, RAM behind it. The page
    // is a frame number and an offset, small integers all the way to memory.
    const offset = address & PAGE_MASK
    if (this.busMaster !== 0 && address < this.limit && offset + length <= PAGE_SIZE && length > 0) {
      const iommu = this.iommu
      let frame: number
      if (iommu.translationEnabled) {
        if (iommu.resolve(this.requesterId, address, false) !== 0) return this.translationFault(address, dst, dstOffset, length, false)
        frame = iommu.resolvedFrame
      } else {
        frame = Math.floor(address * INVERSE_PAGE_SIZE)
      }
      const memory = this.memory
      if (memory.isRamFrame(frame)) {
        memory.readFrame(frame, offset, dst, dstOffset, length)
        const counters = this.counters
        counters.reads++
        counters.bytesRead += length
        if (this.observer !== null) this.observer.onAccess(this.requester, asLogical(address), asPhysical(frame * PAGE_SIZE + offset), length, 'read')
        return DMA_STATUS.ok
      }
    }
    return this.transfer(address, dst, dstOffset, length, false)
  }

  /** Device writes `src[srcOffset…srcOffset+length)` to device address `address`. */
  write(address: number, src: Uint8Array, srcOffset: number, length: number): DmaStatus {
    const offset = address & PAGE_MASK
    if (this.busMaster !== 0 && address < this.limit && offset + length <= PAGE_SIZE && length > 0) {
      const iommu = this.iommu
      let frame: number
      if (iommu.translationEnabled) {
        if (iommu.resolve(this.requesterId, address, true) !== 0) return this.translationFault(address, src, srcOffset, length, true)
        frame = iommu.resolvedFrame
      } else {
        frame = Math.floor(address * INVERSE_PAGE_SIZE)
      }
      const memory = this.memory
      if (memory.isRamFrame(frame)) {
        memory.writeFrame(frame, offset, src, srcOffset, length)
        const counters = this.counters
        counters.writes++
        counters.bytesWritten += length
        if (this.observer !== null) this.observer.onAccess(this.requester, asLogical(address), asPhysical(frame * PAGE_SIZE + offset), length, 'write')
        return DMA_STATUS.ok
      }
    }
    return this.transfer(address, src, srcOffset, length, true)
  }

  /** Records that the device needed bus mastering for `what` and did not have it. */
  refuseWithoutBusMaster(what: string): void {
    this.counters.busMasterRefused++
    this.sink.report({
      kind: 'bus-master-disabled',
      message: `${this.requester} needed DMA (${what}) while PCI COMMAND.BME was clear: nothing was transferred`,
      details: { requester: this.requester, what },
    })
  }

  private transfer(address: number, buf: Uint8Array, offset: number, length: number, write: boolean): DmaStatus {
    if (length <= 0) return DMA_STATUS.ok
    if (this.busMaster === 0) {
      if (!write) buf.fill(0xff, offset, offset + length)
      this.refuseWithoutBusMaster(`${write ? 'write' : 'read'} of ${length} bytes at ${hex(address)}`)
      return this.fail(address, DMA_STATUS.busMasterDisabled)
    }
    const limit = this.limit
    let at = address
    let truncatedReported = false
    if (at >= limit) {
      at %= limit
      this.truncated(address, at, length, write)
      truncatedReported = true
    }
    const translating = this.iommu.translationEnabled
    const memory = this.bus.memory
    let status: DmaStatus = DMA_STATUS.ok
    let done = 0
    while (done < length) {
      const off = at & PAGE_MASK
      const chunk = Math.min(PAGE_SIZE - off, length - done)
      let pa = at
      let refused = false
      if (translating) {
        refused = this.iommu.resolve(this.requesterId, at, write) !== 0
        pa = this.iommu.resolvedFrame * PAGE_SIZE + off
      }
      if (refused) {
        status = this.translationFault(at, buf, offset + done, chunk, write)
      } else if (memory.isRam(pa, chunk)) {
        if (write) {
          memory.writeFrom(pa, buf, offset + done, chunk)
          this.counters.writes++
          this.counters.bytesWritten += chunk
        } else {
          memory.readInto(pa, buf, offset + done, chunk)
          this.counters.reads++
          this.counters.bytesRead += chunk
        }
        const observer = this.observer
        if (observer !== null) observer.onAccess(this.requester, asLogical(at), asPhysical(pa), chunk, write ? 'write' : 'read')
      } else {
        if (!write) buf.fill(0xff, offset + done, offset + done + chunk)
        status = this.refuseTarget(at, pa, chunk, write)
      }
      done += chunk
      at += chunk
      if (at >= limit && done < length) {
        // The access ran past the top of what the device can drive: the rest wraps to 0.
        at -= limit
        if (!truncatedReported) this.truncated(address + done, at, length - done, write)
        truncatedReported = true
      }
    }
    return status
  }

  /** The IOMMU refused a piece (and recorded why): a read sees all-ones, a write is dropped. */
  private translationFault(at: number, buf: Uint8Array, offset: number, length: number, write: boolean): DmaStatus {
    if (!write) buf.fill(0xff, offset, offset + length)
    this.counters.iommuFaults++
    return this.fail(at, DMA_STATUS.iommuFault)
  }

  private fail(address: number, status: DmaStatus): DmaStatus {
    this.lastFailureAddress = address
    this.lastFailure = status
    return status
  }

  private truncated(intended: number, actual: number, length: number, write: boolean): void {
    this.counters.truncated++
    this.sink.report({
      kind: 'dma-address-truncated',
      message:
        `${this.requester} was given device address ${hex(intended)} for a ${length}-byte ${write ? 'write' : 'read'}, ` +
        `beyond its ${this.addressBits}-bit DMA reach: with ${this.addressBits} address lines the bus saw ${hex(actual)}`,
      details: { requester: this.requester, intended, actual, length, access: write ? 'write' : 'read', addressBits: this.addressBits },
    })
  }

  private refuseTarget(at: number, pa: number, length: number, write: boolean): DmaStatus {
    const mmio = this.bus.targetOf(pa, 1) === 'mmio'
    if (mmio) this.counters.mmioRefused++
    else {
      this.counters.masterAborts++
      this.pci.signalStatus(PCI_STATUS.receivedMasterAbort)
    }
    const what = mmio ? 'a device register window (MMIO): device DMA into registers is refused' : 'no RAM and no device (master abort)'
    this.sink.report({
      kind: 'device-error',
      message: `${this.requester} DMA ${write ? 'write' : 'read'} of ${length} bytes at device address ${hex(at)} (physical ${hex(pa)}) hit ${what}`,
      details: { requester: this.requester, reason: mmio ? 'dma-to-mmio' : 'master-abort', address: at, physicalAddress: pa, access: write ? 'write' : 'read' },
    })
    return this.fail(at, mmio ? DMA_STATUS.mmioRefused : DMA_STATUS.masterAbort)
  }
}
