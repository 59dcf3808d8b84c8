// A DMA adapter (what IoGetDmaAdapter returns): the device's address width, its map registers,
// and every DMA resource the driver holds through it, so that releasing the adapter can say
// what was left behind (Driver Verifier's DMA checks, 0xE6/0x07, 0x09, 0x0A).
import { PAGE_SIZE, FOUR_GIB, formatBytes, hex } from '../hw/address.js'
import type { IommuDomains } from './iommu-domains.js'
import type { Kernel } from '../kernel/kernel.js'
import type { DriverCaller } from '../kernel/driver-call.js'
import { BUGCHECK } from '../kernel/bugcheck.js'
import { siteText, type CallSite } from '../kernel/calls.js'
import type { DMA_ADAPTER, SCATTER_GATHER_LIST } from '../kernel/hal.js'
import type { MappedMemory } from '../kernel/mm.js'
import { IovaAllocator } from './iova.js'
import type { MapRegisterFile } from './packet.js'
import type { DmaVerifier, LiveMapping } from './verifier.js'
import { DMA_VIOLATION, dmaBadArgument } from './violations.js'
import type { DmaMapObserver } from './observer.js'

/** What the DMA layer stands on. */
export interface DmaPlatform {
  readonly kernel: Kernel
  readonly domains: IommuDomains
  readonly verifier: DmaVerifier
  readonly caller: DriverCaller
  readonly stats: DmaStats
  /** IOVA space per requester (one domain per device). */
  readonly iova: Map<number, IovaAllocator>
  /** Told of every DMA buffer when a report pictures them (dma/observer.ts); usually absent. */
  observer?: DmaMapObserver | undefined
}

/** Where a DMA buffer landed, for the report's `dma` section. */
export interface DmaBufferRecord {
  readonly routine: string
  readonly site: string | null
  readonly length: number
  readonly virtualAddress: number
  readonly logicalAddress: number
  /** The CPU physical address of the first byte. */
  readonly physicalAddress: number
  readonly aboveFourGiB: boolean
  /** The device's address limit (2^bits). */
  readonly deviceLimit: number
  /** True when the logical address (what the device is given) is below the device's limit. */
  readonly reachable: boolean
  readonly translatedByIommu: boolean
  freed: boolean
}

export interface DmaStats {
  commonBuffers: DmaBufferRecord[]
  bounceBytes: number
  sgLists: number
  /** Of sgLists, the NDIS 5 map-register transfers (NdisMStartBufferPhysicalMapping). */
  mapRegisterTransfers: number
  bouncedLists: number
  iommuMappedLists: number
}

export const MAX_BUFFER_RECORDS = 1000

/** A live common buffer. */
export interface CommonBuffer {
  readonly va: number
  readonly logical: number
  readonly length: number
  readonly cacheEnabled: boolean
  readonly memory: MappedMemory
  /** Physical guard frames (dmaGuard without an IOMMU), freed with the buffer. */
  readonly guardFrames: readonly number[]
  readonly iova: { readonly base: number; readonly pages: number } | null
  readonly mapping: LiveMapping
  readonly routine: string
  readonly site: string | undefined
  readonly record: DmaBufferRecord
}

/** A live scatter/gather list and what undoing it takes. */
export interface SgRecord {
  /** Neighbours in the adapter's list of live S/G lists (LiveSgLists), and that list. */
  prev?: SgRecord | null
  next?: SgRecord | null
  home?: LiveSgLists
  readonly sgl: SCATTER_GATHER_LIST
  readonly writeToDevice: boolean
  readonly length: number
  readonly mapping: LiveMapping
  /** IOVA ranges mapped for it: [iova, pages]. */
  readonly iovaRanges: Array<readonly [number, number]>
  /** Bounced pieces: [bounce PA, original PA, length]. */
  readonly bounced: Array<readonly [number, number, number]>
  /** Map-register frames it holds (bounce pages), one per map register it reserved. */
  readonly registers: number[]
  readonly routine: string
  /** The driver's call, resolved only for a finding: lists are made per packet. */
  readonly site: CallSite | undefined
}

const RECORD: unique symbol = Symbol('dmalab S/G record')
/** Left on a list object once it is put back, to tell a second Put (0xE6/0x06) from a list never handed out. */
const PUT_BACK: unique symbol = Symbol('dmalab S/G list put back')
type Tagged = SCATTER_GATHER_LIST & { [RECORD]?: SgRecord | typeof PUT_BACK | undefined }

/**
 * The live S/G lists of an adapter, with a Map's interface but no hashing: lists come and go
 * once per packet, and a Map's deletes leave tombstones whose rehashing allocated about a
 * kilobyte per packet. The record hangs off the list object under a private symbol, and live
 * records are linked so a leak check can walk them.
 */
export class LiveSgLists {
  private head: SgRecord | null = null
  size = 0

  set(sgl: SCATTER_GATHER_LIST, record: SgRecord): void {
    ;(sgl as Tagged)[RECORD] = record
    record.home = this
    record.prev = null
    record.next = this.head
    if (this.head !== null) this.head.prev = record
    this.head = record
    this.size++
  }

  get(sgl: SCATTER_GATHER_LIST): SgRecord | undefined {
    const r = typeof sgl === 'object' && sgl !== null ? (sgl as Tagged)[RECORD] : undefined
    return r !== undefined && r !== PUT_BACK && r.sgl === sgl && r.home === this ? r : undefined
  }

  /** True when `sgl` is a list that was put back and not handed out again since. */
  wasPutBack(sgl: SCATTER_GATHER_LIST): boolean {
    return typeof sgl === 'object' && sgl !== null && (sgl as Tagged)[RECORD] === PUT_BACK
  }

  delete(sgl: SCATTER_GATHER_LIST): boolean {
    const r = this.get(sgl)
    if (r === undefined) return false
    ;(sgl as Tagged)[RECORD] = PUT_BACK
    if (r.prev) r.prev.next = r.next ?? null
    else this.head = r.next ?? null
    if (r.next) r.next.prev = r.prev ?? null
    r.prev = r.next = null
    this.size--
    return true
  }

  *values(): IterableIterator<SgRecord> {
    for (let r = this.head; r !== null; r = r.next ?? null) yield r
  }
}

/** Adapters made on each machine (platform): numbers count per machine, so two machines in
 * one process (a sweep, `dmalab check`) name the same adapter alike. */
const adapterCounts = new WeakMap<DmaPlatform, number>()

export class AdapterState {
  readonly id: number
  readonly object: DMA_ADAPTER
  /**
   * The adapter object's address: a nonpaged pool block, as Windows keeps a DMA adapter, so a
   * bug check parameter that is "pointer to the DMA adapter" (0xE6/0x07, 0x09, 0x0A, 0x18) names it.
   */
  readonly address: number
  readonly platform: DmaPlatform
  readonly bdf: string
  readonly requester: number
  readonly addressBits: number
  /** One past the highest logical address the device can drive. */
  readonly limit: number
  readonly maximumLength: number
  /** NumberOfMapRegisters: the most one transfer may use (IoGetDmaAdapter). */
  readonly mapRegisters: number
  readonly commonBuffers = new Map<number, CommonBuffer>()
  /** Recently freed common buffers by VA, to tell a double free from a bad one. */
  readonly freedCommonBuffers = new Map<number, CommonBuffer>()
  readonly sgLists = new LiveSgLists()
  /** S/G lists put back, and how many were ever made: 0xE6/0x06 names both when one is put back twice. */
  sgListsMade = 0
  sgListsPut = 0
  /**
   * Map registers reserved by transfers in flight. Without an IOMMU a register is a bounce
   * frame below the adapter's limit; the frames are allocated as first needed and reused.
   */
  registersInUse = 0
  readonly freeFrames: number[] = []
  framesAllocated = 0
  /** Requests waiting for map registers (or the adapter channel): run in order when some come back. */
  readonly waiting: Array<() => boolean> = []
  private draining = false
  released = false
  /** DEVICE_DESCRIPTION ScatterGather: MapTransfer maps one physically contiguous run at a time. */
  scatterGather = true
  /**
   * The adapter channel (packet-based DMA): held while an AdapterControl routine runs and after
   * it returned KeepObject, until FreeAdapterChannel; and adapter objects GetScatterGatherListEx
   * / BuildScatterGatherListEx left to the driver (DMA_SYNCHRONOUS_CALLBACK without a routine),
   * until FreeAdapterObject.
   */
  channelHeld = false
  /** AllocateAdapterChannel requests queued for the channel or map registers. */
  channelRequests = 0
  adapterObjectsHeld = 0
  /** Map registers AllocateAdapterChannel handed out and the driver still holds (MapRegisterBase values). */
  readonly registerFiles = new Set<MapRegisterFile>()

  constructor(platform: DmaPlatform, object: DMA_ADAPTER, address: number, bdf: string, requester: number, addressBits: number, maximumLength: number) {
    this.platform = platform
    this.id = (adapterCounts.get(platform) ?? 0) + 1
    adapterCounts.set(platform, this.id)
    this.object = object
    this.address = address
    this.bdf = bdf
    this.requester = requester
    this.addressBits = addressBits
    this.limit = addressBits >= 53 ? 2 ** 53 : 2 ** addressBits
    this.maximumLength = maximumLength
    // Windows gives roughly one map register per page of the largest transfer, plus one for
    // a buffer that does not start on a page boundary (REFERENCE §3).
    this.mapRegisters = Math.min(256, Math.ceil(maximumLength / PAGE_SIZE) + 1)
  }

  get iommuOn(): boolean {
    return this.platform.domains.translationEnabled
  }

  /** The IOVA allocator of this device's domain (IOVAs below 4 GiB and below the limit). */
  iovaSpace(): IovaAllocator {
    let a = this.platform.iova.get(this.requester)
    if (a === undefined) {
      a = new IovaAllocator(Math.min(FOUR_GIB, this.limit))
      this.platform.iova.set(this.requester, a)
    }
    return a
  }

  /** Reserves `count` map registers for a transfer; false when fewer are free. */
  reserveRegisters(count: number): boolean {
    if (this.mapRegisters - this.registersInUse < count) return false
    this.registersInUse += count
    return true
  }

  /** A bounce frame below the limit for a reserved register, or -1 when the kernel has none. */
  takeFrame(): number {
    const free = this.freeFrames.pop()
    if (free !== undefined) return free
    if (this.framesAllocated >= this.mapRegisters) return -1
    const got = this.platform.kernel.mm.allocateFrames(1, {
      kind: 'map-register',
      label: `map registers of DMA adapter #${this.id}`,
      driver: false,
      highest: this.limit - 1,
    })
    if (got === null) return -1
    this.framesAllocated++
    return got.pfns[0]!
  }

  /** A transfer gives back `count` registers and the bounce frames it used; waiting requests run in order. */
  releaseRegisters(count: number, frames: readonly number[]): void {
    this.registersInUse -= count
    for (const f of frames) this.freeFrames.push(f)
    this.runWaiting()
  }

  /**
   * Runs waiting requests in order while they can be satisfied. Not re-entered: a request's
   * driver routine may give registers back (a Put, FreeMapRegisters) while it is still the head
   * of the queue, and running the queue from there would serve that request twice; the outer
   * loop goes on with the next one instead.
   */
  runWaiting(): void {
    if (this.draining) return
    this.draining = true
    try {
      while (this.waiting.length > 0 && this.waiting[0]!()) this.waiting.shift()
    } finally {
      this.draining = false
    }
  }

  /** PutDmaAdapter: every resource still held is a finding (0xE6/0x07, 0x0A, 0x09); then the map registers and the adapter object go. */
  release(): void {
    if (this.released) return
    this.released = true
    const log = this.platform.kernel.log
    for (const cb of this.commonBuffers.values()) {
      log.report({
        kind: 'common-buffer-leak',
        code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION,
        params: [DMA_VIOLATION.commonBuffersOutstanding, this.address, this.commonBuffers.size, 0],
        message: `DMA adapter released with a common buffer of ${formatBytes(cb.length)} still allocated (${cb.routine}, VA ${hex(cb.va)}, logical ${hex(cb.logical)})`,
        ...(cb.site === undefined ? {} : { site: cb.site }),
        details: { va: cb.va, logical: cb.logical, length: cb.length, routine: cb.routine },
      })
    }
    for (const sg of this.sgLists.values()) {
      const site = siteText(sg.site)
      log.report({
        kind: 'sg-list-leak',
        code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION,
        params: [DMA_VIOLATION.sgListsOutstanding, this.address, this.sgLists.size, 0],
        message: `DMA adapter released with a scatter/gather list of ${sg.length} bytes never put back (${sg.routine} without its Put/Free)`,
        ...(site === undefined ? {} : { site }),
        details: { length: sg.length, elements: sg.sgl.NumberOfElements, routine: sg.routine },
      })
    }
    const channels = (this.channelHeld ? 1 : 0) + this.adapterObjectsHeld
    if (channels > 0) {
      log.report({
        kind: 'dma-channel-leak',
        code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION,
        params: [DMA_VIOLATION.adapterChannelsOutstanding, this.address, channels, 0],
        message: `DMA adapter released with its adapter channel still allocated (${this.channelHeld ? 'AllocateAdapterChannel whose AdapterControl returned KeepObject, without FreeAdapterChannel' : 'GetScatterGatherListEx / BuildScatterGatherListEx with DMA_SYNCHRONOUS_CALLBACK and no routine, without FreeAdapterObject'})`,
        details: { channels },
      })
    }
    if (this.registersInUse > 0) {
      log.report({
        kind: 'map-register-leak',
        code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION,
        params: [DMA_VIOLATION.mapRegistersOutstanding, this.address, this.registersInUse, 0],
        message: `DMA adapter released with ${this.registersInUse} map registers still held by unfinished transfers`,
        details: { held: this.registersInUse, mapRegisters: this.mapRegisters },
      })
    }
    // Map registers the driver never freed go back with the adapter (reported above).
    for (const file of [...this.registerFiles]) file.release()
    for (const pfn of this.freeFrames) this.platform.kernel.frames.free(pfn)
    this.freeFrames.length = 0
    if (!log.stopped) this.platform.kernel.pool.free(this.address, { routine: 'PutDmaAdapter' })
  }

  /** A driver call that named something this adapter does not hold. */
  badArgument(routine: string, message: string): void {
    dmaBadArgument(this.platform.kernel, routine, message)
  }
}
