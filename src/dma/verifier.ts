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
// wrong address reports one finding that says why, not one per descriptor. A finding about
// driver memory names the allocation (the pool block, the contiguous run) and the driver line
// that allocated it, looked up in the kernel's records only when a finding is made.
//
// The IOMMU hardware reports its own faults; the verifier adds what only the OS knows: when
// the refused device address is, read as a CPU physical address, driver memory that was never
// mapped for the device, the fault says so and why (S14, S27).
import { PAGE_SIZE, hex } from '../hw/address.js'
import { parseBdf } from '../hw/pci.js'
import type { DeviceFinding } from '../hw/finding.js'
import type { ReportedKind } from '../kernel/kinds.js'
import { siteText, type CallSite } from '../kernel/calls.js'
import type { FindingsLog } from '../kernel/findings.js'
import type { FrameDatabase, FrameOwner } from '../kernel/frames.js'
import type { Kernel } from '../kernel/kernel.js'
import { describeBlock } from '../kernel/pool.js'
import { KERNEL_VA_BASE, KERNEL_VA_END } from '../kernel/address-space.js'

export type MappingKind = 'common-buffer' | 'sg-list' | 'map-register'

export interface LiveMapping {
  readonly id: number
  readonly kind: MappingKind
  /** What a report calls it: `common buffer of 16 KiB`, `S/G list for 1514 bytes`. */
  readonly label: string
  /** The driver line that made it: text, or a captured call resolved only for a finding. */
  readonly site: string | CallSite | undefined
  /** The address width of the adapter it was made for. */
  readonly addressBits: number
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

/** A driver allocation behind a physical address: what a finding calls it, and where it was made. */
interface DriverAllocation {
  readonly what: string
  readonly site: string | undefined
}

export class DmaVerifier {
  private readonly kernel: Kernel
  private readonly frames: FrameDatabase
  private readonly log: FindingsLog
  private readonly byFrame = new Map<number, Range[]>()
  private readonly reported = new Map<string, { count: number }>()
  /** Physical guard frames around common buffers (dmaGuard), with what they guard. */
  private readonly guards = new Map<number, string>()
  /** Guard IOVA pages around common buffers (dmaGuard, IOMMU on): `requester:page` → what. */
  private readonly guardIovas = new Map<string, { readonly what: string; readonly site: string | undefined }>()
  private nextId = 1
  /** Device accesses checked, and how many were outside every live mapping. */
  checked = 0
  flagged = 0

  constructor(kernel: Kernel) {
    this.kernel = kernel
    this.frames = kernel.frames
    this.log = kernel.log
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
        const ranges = this.byFrame.get(pfn)
        if (ranges === undefined) this.byFrame.set(pfn, [r])
        else ranges.push(r)
        pa = pageEnd
      }
    }
  }

  /**
   * Takes a mapping's ranges off their frames, in place. A frame's entry stays (empty) when its
   * last range goes: per-packet lists come and go on the same pages, and deleting the entry
   * each time would churn the Map.
   */
  remove(mapping: LiveMapping): void {
    for (const [start, length] of mapping.ranges) {
      const first = Math.floor(start / PAGE_SIZE)
      const last = Math.floor((start + length - 1) / PAGE_SIZE)
      for (let pfn = first; pfn <= last; pfn++) {
        const ranges = this.byFrame.get(pfn)
        if (ranges === undefined) continue
        let w = 0
        for (let i = 0; i < ranges.length; i++) if (ranges[i]!.mapping !== mapping) ranges[w++] = ranges[i]!
        ranges.length = w
      }
    }
  }

  /** An unmapped IOVA page guarding a common buffer (dmaGuard with the IOMMU on), by requester. */
  addGuardIova(requester: number, iova: number, what: string, site: string | undefined): void {
    this.guardIovas.set(`${requester}:${Math.floor(iova / PAGE_SIZE)}`, { what, site })
  }

  removeGuardIova(requester: number, iova: number): void {
    this.guardIovas.delete(`${requester}:${Math.floor(iova / PAGE_SIZE)}`)
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
    const ranges = this.byFrame.get(pfn)
    if (ranges !== undefined) {
      for (let i = 0; i < ranges.length; i++) {
        const r = ranges[i]!
        if (pa >= r.start && pa + length <= r.end) return
      }
    }
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
      if (entry === undefined || entry.length === 0) return at
      // Extend `at` through any range that covers it until none does. Ranges per page are few
      // (two buffers sharing a page at most, in practice), so no sorting and no allocation.
      for (let moved = true; moved && at < pageEnd; ) {
        moved = false
        for (let i = 0; i < entry.length; i++) {
          const r = entry[i]!
          if (r.start <= at && r.end > at) {
            at = Math.min(r.end, pageEnd)
            moved = true
          }
        }
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
      this.once('dma-outside-buffer', owner, `${where}: ${guard} (the device ran past the end of the buffer)`, owner?.site, requester, deviceAddress, pa, access)
      return
    }
    if (owner === undefined) {
      const freed = this.frames.freedOwnerOf(pfn)
      if (freed !== undefined) {
        this.once('dma-to-freed-memory', freed, `${where}, in ${freed.label} that the driver has freed${allocatedAt(freed.site)}: the device still held its address`, freed.site, requester, deviceAddress, pa, access)
      } else {
        this.once('dma-outside-buffer', undefined, `${where}: free memory that no DMA mapping covers`, undefined, requester, deviceAddress, pa, access)
      }
      return
    }
    const why = owner.driver ? NOT_DMA_MEMORY[owner.kind] : undefined
    if (why !== undefined) {
      const a = this.allocation(owner, pa)
      this.once('dma-not-dma-memory', owner, `${where}, in ${a.what}${allocatedAt(a.site)}, which no live DMA mapping covers: ${why}`, a.site, requester, deviceAddress, pa, access)
      return
    }
    const a = owner.driver ? this.allocation(owner, pa) : undefined
    const whose = a !== undefined ? `${a.what}${allocatedAt(a.site)}, outside the bytes any live DMA mapping covers` : `${owner.label} (not the driver's memory)`
    this.once('dma-outside-buffer', owner, `${where}: ${whose}`, a?.site, requester, deviceAddress, pa, access)
  }

  /**
   * Adds what only the OS knows to a finding the hardware reported, when the device address in
   * it belongs to the driver: an `iommu-fault` on an address that is, read as a CPU physical
   * address, driver memory never mapped for the device (S14, S27), and a
   * `dma-address-truncated` naming the buffer or allocation the device was given and why it was
   * out of reach. Anything else passes through unchanged.
   */
  explainDeviceFinding(input: DeviceFinding): DeviceFinding {
    if (input.kind === 'iommu-fault') return this.explainIommuFault(input, input.details?.['address'])
    if (input.kind === 'dma-address-truncated') return this.explainTruncation(input, input.details?.['intended'])
    return input
  }

  private explainIommuFault(input: DeviceFinding, address: unknown): DeviceFinding {
    if (typeof address !== 'number') return input
    const requester = input.details?.['requester']
    const guard = typeof requester === 'string' ? this.guardIovas.get(`${parseBdf(requester)}:${Math.floor(address / PAGE_SIZE)}`) : undefined
    if (guard !== undefined) return explained(input, `${hex(address)} is ${guard.what}${allocatedAt(guard.site)}: the device ran past the end of the buffer`, guard.site, {})
    if (address >= this.kernel.bus.memory.top) return input
    const owner = this.frames.ownerOf(Math.floor(address / PAGE_SIZE))
    if (owner === undefined || !owner.driver) return input
    const mapping = this.mappingAt(address)
    const why = mapping === undefined ? NOT_DMA_MEMORY[owner.kind] : mappedElsewhere(mapping)
    if (why === undefined) return input
    const a = this.allocation(owner, address)
    return explained(input, `${hex(address)} was never mapped for the device: it is the CPU physical address of ${a.what}${allocatedAt(a.site)}, and with DMA remapping on the device sees only addresses the HAL mapped for it. ${capitalized(why)}`, a.site, { memory: a.what, memoryKind: owner.kind })
  }

  /** Without an IOMMU a device address is a physical one: whose memory did the device miss? */
  private explainTruncation(input: DeviceFinding, intended: unknown): DeviceFinding {
    if (typeof intended !== 'number') return input
    if (intended >= KERNEL_VA_BASE && intended < KERNEL_VA_END) return this.explainVirtualAddress(input, intended)
    if (this.kernel.bus.memory.top <= intended) return input
    const bits = input.details?.['addressBits']
    const mapping = this.mappingAt(intended)
    if (mapping !== undefined && typeof bits === 'number' && mapping.addressBits > bits) {
      const site = typeof mapping.site === 'string' ? mapping.site : siteText(mapping.site)
      return explained(
        input,
        `${hex(intended)} is in the ${mapping.label}${allocatedAt(site)}, made for a DMA adapter with ${mapping.addressBits}-bit addresses: the adapter was described wider than the device's ${String(bits)} address lines, so the HAL neither kept the memory within reach nor bounced it (describe the device as it is: NdisMRegisterScatterGatherDma without NDIS_SG_DMA_64_BIT_ADDRESS, Dma32BitAddresses, or DmaAddressWidth ${String(bits)})`,
        site,
        { memory: mapping.label },
      )
    }
    const owner = this.frames.ownerOf(Math.floor(intended / PAGE_SIZE))
    if (owner === undefined || !owner.driver) return input
    const a = this.allocation(owner, intended)
    const why = mapping === undefined ? NOT_DMA_MEMORY[owner.kind] : mappedElsewhere(mapping)
    return explained(input, `${hex(intended)} is the CPU physical address of ${a.what}${allocatedAt(a.site)}${mapping === undefined ? ', which no DMA mapping covers' : ''}${why === undefined ? '' : `: ${why}`}`, a.site, { memory: a.what, memoryKind: owner.kind })
  }

  /** A kernel VA given to the device: the classic mix-up of a buffer's VA with its logical address. */
  private explainVirtualAddress(input: DeviceFinding, va: number): DeviceFinding {
    const pa = this.kernel.space.translate(va)
    const owner = pa < 0 ? undefined : this.frames.ownerOf(Math.floor(pa / PAGE_SIZE))
    const a = owner?.driver === true ? this.allocation(owner, pa) : undefined
    const of = a === undefined ? '' : ` of ${a.what}${allocatedAt(a.site)}`
    return explained(input, `${hex(va)} is a kernel virtual address${of}, not a device address: give the device the logical address AllocateCommonBuffer (NdisMAllocateSharedMemory) returned, or an S/G list's`, a?.site, a === undefined ? {} : { memory: a.what })
  }

  /** The live mapping covering physical address `pa`, if any. */
  private mappingAt(pa: number): LiveMapping | undefined {
    const entry = this.byFrame.get(Math.floor(pa / PAGE_SIZE))
    if (entry === undefined) return undefined
    for (const r of entry) if (pa >= r.start && pa < r.end) return r.mapping
    return undefined
  }

  /** The driver allocation a frame of driver memory belongs to, from the kernel's records. */
  private allocation(owner: FrameOwner, pa: number): DriverAllocation {
    const k = this.kernel
    const pfn = Math.floor(pa / PAGE_SIZE)
    const found = (what: string, site: CallSite | undefined): DriverAllocation => ({ what, site: owner.site ?? siteText(site) })
    switch (owner.kind) {
      case 'contiguous':
      case 'noncached':
        for (const a of k.contiguous.allocations) if (a.memory.owner === owner) return found(`${owner.label} at VA ${hex(a.va)}`, a.site)
        break
      case 'mdl-pages':
        for (const p of k.mdlPages.allocations) if (p.owner === owner) return found(owner.label, p.site)
        break
      case 'pool':
      case 'paged-pool':
      case 'special-pool':
        for (const b of k.pool.liveBlocks) {
          if (!b.driver) continue
          const start = k.space.translate(b.va)
          const inBlock = b.memory === null ? start >= 0 && pa >= start && pa < start + b.bytes : b.memory.pfns.includes(pfn)
          if (inBlock) return found(`${describeBlock(b)} at VA ${hex(b.va)}`, b.site)
        }
        break
    }
    return { what: owner.label, site: owner.site }
  }

  private once(kind: ReportedKind, owner: FrameOwner | undefined, message: string, site: string | undefined, requester: string, deviceAddress: number, pa: number, access: DeviceAccess): void {
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
      ...(site === undefined ? {} : { site }),
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

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

/** Why a buffer's physical address is the wrong one to give the device when a DMA mapping covers it. */
function mappedElsewhere(mapping: LiveMapping): string {
  return `it has a DMA mapping (the ${mapping.label}), and the device must be given that mapping's logical addresses, not MmGetPhysicalAddress (S26)`
}

function explained(input: DeviceFinding, why: string, site: string | undefined, details: Record<string, string>): DeviceFinding {
  return {
    ...input,
    message: `${input.message}. ${why}`,
    ...(site === undefined || input.site !== undefined ? {} : { site }),
    details: { ...input.details, ...details },
  }
}

function allocatedAt(site: string | undefined): string {
  return site === undefined ? '' : ` (allocated at ${site})`
}

