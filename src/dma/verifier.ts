// DMA verification: the set of live DMA mappings, and the check of every device access
// against it and against the kernel's frame ownership (DESIGN, HAL DMA issue):
//
//   inside a live mapping (common buffer, S/G list, map-register transfer)  → fine
//   a frame the driver freed                                               → dma-to-freed-memory
//   driver memory no live mapping covers (pool, noncached, contiguous,
//     pages-for-MDL): handed to the device by raw address                  → dma-not-dma-memory
//   anything else (another component's memory, page tables, slack
//     past the end of a buffer, a guard region)                            → dma-outside-buffer
//
// Coverage is byte-precise: a live mapping registers the physical byte ranges it covers,
// indexed by frame, so the per-access check is a Map lookup and a compare. Findings are
// reported once per (kind, allocation) with a running count, so a ring programmed with the
// wrong address reports one finding that says why, not one per descriptor.
import { PAGE_SIZE, hex } from '../hw/address.js'
import type { FindingsLog } from '../kernel/findings.js'
import type { FrameDatabase, FrameOwner } from '../kernel/frames.js'
import type { CallSite } from '../kernel/calls.js'

export type MappingKind = 'common-buffer' | 'sg-list' | 'map-register'

export interface LiveMapping {
  readonly id: number
  readonly kind: MappingKind
  /** What a report calls it: `common buffer of 16 KiB`, `S/G list for 1514 bytes`. */
  readonly label: string
  readonly site: CallSite | undefined
  /** Physical byte ranges the device may touch: [start, length] pairs. */
  readonly ranges: ReadonlyArray<readonly [number, number]>
}

interface Range {
  readonly start: number
  readonly end: number
  readonly mapping: LiveMapping
}

export type DeviceAccess = 'read' | 'write'

/** Why each kind of driver memory is not a DMA address (the "why" every finding carries). */
const NOT_DMA_MEMORY: Record<string, string> = {
  contiguous:
    'MmAllocateContiguousMemory[SpecifyCache] + MmGetPhysicalAddress gives a CPU physical address, not a DMA address: it reaches the device only while no IOMMU, bounce buffer or translation sits between them. Allocate DMA memory with AllocateCommonBuffer (NdisMAllocateSharedMemory) or map it with an S/G list (S14, S26)',
  noncached:
    'MmAllocateNonCachedMemory memory must not be used for DMA; its physical address is not a DMA address (S16, S26)',
  'mdl-pages':
    'MmAllocatePagesForMdl pages are not for DMA: even from a range below 4 GiB, their physical addresses are not DMA addresses (S27, S26)',
  pool:
    'pool memory handed to the device by its physical address rather than through an S/G list (GetScatterGatherList / NdisMAllocateNetBufferSGList), so no DMA mapping covers it (S26)',
  'paged-pool':
    'pageable pool handed to the device: it can be paged out under the device, and no DMA mapping covers it (S26)',
  'special-pool':
    'special-pool memory handed to the device by its physical address rather than through an S/G list (S26)',
}

export class DmaVerifier {
  private readonly frames: FrameDatabase
  private readonly log: FindingsLog
  private readonly byFrame = new Map<number, Range | Range[]>()
  private readonly reported = new Map<string, { count: number }>()
  /** Physical guard frames around common buffers (dmaGuard), with what they guard. */
  private readonly guards = new Map<number, string>()
  private nextId = 1
  /** Device accesses checked, and how many were outside every live mapping. */
  checked = 0
  flagged = 0

  constructor(frames: FrameDatabase, log: FindingsLog) {
    this.frames = frames
    this.log = log
  }

  newId(): number {
    return this.nextId++
  }

  add(mapping: LiveMapping): void {
    for (const [start, length] of mapping.ranges) {
      let pa = start
      const end = start + length
      while (pa < end) {
        const pfn = Math.floor(pa / PAGE_SIZE)
        const pageEnd = Math.min(end, (pfn + 1) * PAGE_SIZE)
        const r: Range = { start: pa, end: pageEnd, mapping }
        const existing = this.byFrame.get(pfn)
        if (existing === undefined) this.byFrame.set(pfn, r)
        else if (Array.isArray(existing)) existing.push(r)
        else this.byFrame.set(pfn, [existing, r])
        pa = pageEnd
      }
    }
  }

  remove(mapping: LiveMapping): void {
    for (const [start, length] of mapping.ranges) {
      const first = Math.floor(start / PAGE_SIZE)
      const last = Math.floor((start + length - 1) / PAGE_SIZE)
      for (let pfn = first; pfn <= last; pfn++) {
        const existing = this.byFrame.get(pfn)
        if (existing === undefined) continue
        if (Array.isArray(existing)) {
          const kept = existing.filter((r) => r.mapping !== mapping)
          if (kept.length === 0) this.byFrame.delete(pfn)
          else this.byFrame.set(pfn, kept.length === 1 ? kept[0]! : kept)
        } else if (existing.mapping === mapping) {
          this.byFrame.delete(pfn)
        }
      }
    }
  }

  addGuard(pfn: number, what: string): void {
    this.guards.set(pfn, what)
  }

  removeGuard(pfn: number): void {
    this.guards.delete(pfn)
  }

  /** True when a live mapping covers every byte of [pa, pa + length). */
  covered(pa: number, length: number): boolean {
    return this.firstUncovered(pa, length) < 0
  }

  /**
   * Checks one device access to RAM (after IOMMU translation). `deviceAddress` is what the
   * device put on the bus, for the message.
   */
  deviceAccess(requester: string, deviceAddress: number, pa: number, length: number, access: DeviceAccess): void {
    this.checked++
    // Fast path: one range on one frame covering the access.
    const pfn = Math.floor(pa / PAGE_SIZE)
    const entry = this.byFrame.get(pfn)
    if (entry !== undefined && !Array.isArray(entry) && pa >= entry.start && pa + length <= entry.end) return
    const bad = this.firstUncovered(pa, length)
    if (bad < 0) return
    this.flagged++
    this.classify(requester, deviceAddress + (bad - pa), bad, access)
  }

  private firstUncovered(pa: number, length: number): number {
    let at = pa
    const end = pa + length
    while (at < end) {
      const pfn = Math.floor(at / PAGE_SIZE)
      const pageEnd = Math.min(end, (pfn + 1) * PAGE_SIZE)
      const entry = this.byFrame.get(pfn)
      if (entry === undefined) return at
      const ranges = Array.isArray(entry) ? [...entry].sort((a, b) => a.start - b.start) : [entry]
      for (const r of ranges) {
        if (r.start <= at && r.end > at) at = Math.min(r.end, pageEnd)
      }
      if (at < pageEnd) return at
    }
    return -1
  }

  private classify(requester: string, deviceAddress: number, pa: number, access: DeviceAccess): void {
    const pfn = Math.floor(pa / PAGE_SIZE)
    const owner = this.frames.ownerOf(pfn)
    const guard = this.guards.get(pfn)
    const where = `the device (${requester}) ${access === 'write' ? 'wrote' : 'read'} ${hex(pa)} (device address ${hex(deviceAddress)})`
    if (guard !== undefined) {
      this.once('dma-outside-buffer', owner, `${where}: ${guard} (the device ran past the end of the buffer)`, requester, deviceAddress, pa, access)
      return
    }
    if (owner === undefined) {
      const freed = this.frames.freedOwnerOf(pfn)
      if (freed !== undefined) {
        this.once('dma-to-freed-memory', freed, `${where}, in ${freed.label} that the driver has freed${allocatedAt(freed)}: the device still held its address`, requester, deviceAddress, pa, access)
      } else {
        this.once('dma-outside-buffer', undefined, `${where}: free memory that no DMA mapping covers`, requester, deviceAddress, pa, access)
      }
      return
    }
    const why = owner.driver ? NOT_DMA_MEMORY[owner.kind] : undefined
    if (why !== undefined) {
      this.once('dma-not-dma-memory', owner, `${where}, in ${owner.label}${allocatedAt(owner)}, which no live DMA mapping covers: ${why}`, requester, deviceAddress, pa, access)
      return
    }
    const whose = owner.driver ? `${owner.label}${allocatedAt(owner)}, outside the bytes any live DMA mapping covers` : `${owner.label} (not the driver's memory)`
    this.once('dma-outside-buffer', owner, `${where}: ${whose}`, requester, deviceAddress, pa, access)
  }

  private once(kind: string, owner: FrameOwner | undefined, message: string, requester: string, deviceAddress: number, pa: number, access: DeviceAccess): void {
    const key = `${kind}:${owner?.id ?? Math.floor(pa / PAGE_SIZE)}:${access}`
    const seen = this.reported.get(key)
    if (seen !== undefined) {
      seen.count++
      return
    }
    this.reported.set(key, { count: 1 })
    this.log.report({
      kind,
      message,
      ...(owner?.site === undefined ? {} : { site: owner.site }),
      details: {
        requester,
        deviceAddress,
        physicalAddress: pa,
        access,
        memory: owner?.label ?? 'free memory',
        memoryKind: owner?.kind ?? 'free',
      },
    })
  }
}

function allocatedAt(owner: FrameOwner): string {
  return owner.site === undefined ? '' : ` (allocated at ${owner.site})`
}

