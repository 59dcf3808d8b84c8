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
import { PAGE_SIZE, hex, type LogicalAddress, type PhysicalAddress } from '../hw/address.js'
import { parseBdf } from '../hw/pci.js'
import type { DeviceFinding } from '../hw/finding.js'
import type { ReportedKind } from '../kernel/kinds.js'
import { siteText, type CallSite } from '../kernel/calls.js'
import type { FindingsLog } from '../kernel/findings.js'
import type { FrameDatabase, FrameOwner } from '../kernel/frames.js'
import type { Kernel } from '../kernel/kernel.js'
import { describeBlock } from '../kernel/pool.js'
import { BUGCHECK } from '../kernel/bugcheck.js'
import { ALLOW_READ, ALLOW_WRITE, MappingIndex, type LiveMapping, type Overlap } from './coverage.js'
import { DMA_OUTSIDE, DMA_VIOLATION, type DmaParams } from './violations.js'

export { ALLOW_BOTH, ALLOW_READ, ALLOW_WRITE, type LiveMapping, type MappingKind, type Overlap } from './coverage.js'

export type DeviceAccess = 'read' | 'write'

/** A physical guard frame around a common buffer (dmaGuard without an IOMMU). */
interface Guard {
  readonly what: string
  readonly bufferVa: number
  readonly guardVa: number
  readonly after: boolean
}

/** Why each kind of driver memory is not a DMA address (the "why" every finding carries). */
const NOT_DMA_MEMORY: Record<string, string> = {
  contiguous:
    'MmAllocateContiguousMemory[SpecifyCache] + MmGetPhysicalAddress gives a CPU physical address, not a DMA address: it reaches the device only while no IOMMU, bounce buffer or translation sits between them. Allocate DMA memory with AllocateCommonBuffer (NdisMAllocateSharedMemory) or map it with an S/G list',
  noncached:
    'MmAllocateNonCachedMemory memory must not be used for DMA; its physical address is not a DMA address',
  'mdl-pages':
    'MmAllocatePagesForMdl pages are not for DMA: even from a range below 4 GiB, their physical addresses are not DMA addresses',
  pool:
    'pool memory handed to the device by its physical address rather than through an S/G list (GetScatterGatherList / NdisMAllocateNetBufferSGList; for NDIS 5, NdisMStartBufferPhysicalMapping or the ScatterGatherListPacketInfo NDIS builds), so no DMA mapping covers it',
  'paged-pool':
    'pageable pool handed to the device: it can be paged out under the device, and no DMA mapping covers it',
  'special-pool':
    'special-pool memory handed to the device by its physical address rather than through an S/G list',
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
  private readonly index = new MappingIndex()
  private readonly reported = new Map<string, { count: number }>()
  /** Physical guard frames around common buffers (dmaGuard), with what they guard. */
  private readonly guards = new Map<number, Guard>()
  private readonly devices = new Map<string, number>()
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

  /** Registers a live mapping; for a transfer, returns a live transfer that already maps some of its bytes (0xE6/0x1D). */
  add(mapping: LiveMapping): Overlap | null {
    return this.index.add(mapping)
  }

  remove(mapping: LiveMapping): void {
    this.index.remove(mapping)
  }

  /** An unmapped IOVA page guarding a common buffer (dmaGuard with the IOMMU on), by requester. */
  addGuardIova(requester: number, iova: number, what: string, site: string | undefined): void {
    this.guardIovas.set(`${requester}:${Math.floor(iova / PAGE_SIZE)}`, { what, site })
  }

  removeGuardIova(requester: number, iova: number): void {
    this.guardIovas.delete(`${requester}:${Math.floor(iova / PAGE_SIZE)}`)
  }

  /** A physical guard frame (dmaGuard, no IOMMU) before or after the buffer at `bufferVa`; its own VA is `guardVa`. */
  addGuard(pfn: number, what: string, bufferVa: number, guardVa: number, after: boolean): void {
    this.guards.set(pfn, { what, bufferVa, guardVa, after })
  }

  removeGuard(pfn: number): void {
    this.guards.delete(pfn)
  }

  /** True when live mappings let the device `access` every byte of [pa, pa + length). */
  covered(pa: number, length: number, access: DeviceAccess = 'read'): boolean {
    return this.index.firstUncovered(pa, length, access === 'write' ? ALLOW_WRITE : ALLOW_READ) < 0
  }

  /**
   * Checks one device access to RAM (after IOMMU translation). `deviceAddress` is what the
   * device put on the bus, for the message.
   */
  deviceAccess(requester: string, deviceAddress: LogicalAddress, pa: PhysicalAddress, length: number, access: DeviceAccess): void {
    this.checked++
    const bit = access === 'write' ? ALLOW_WRITE : ALLOW_READ
    // Fast path: one range on one frame covering the access in its direction.
    if (this.index.coversInPage(pa, length, bit)) return
    const bad = this.index.firstUncovered(pa, length, bit)
    if (bad < 0) return
    this.flagged++
    this.classify(requester, deviceAddress + (bad - pa), bad, access)
  }

  private classify(requester: string, deviceAddress: number, pa: number, access: DeviceAccess): void {
    const pfn = Math.floor(pa / PAGE_SIZE)
    const owner = this.frames.ownerOf(pfn)
    const guard = this.guards.get(pfn)
    const where = `the device (${requester}) ${access === 'write' ? 'wrote' : 'read'} ${hex(pa)} (device address ${hex(deviceAddress)})`
    const mapped = this.index.mappingAt(pa)
    if (mapped !== undefined) {
      // Mapped, but for the other direction: with the IOMMU on this access would fault.
      const site = typeof mapped.site === 'string' ? mapped.site : siteText(mapped.site)
      const toDevice = mapped.allow === ALLOW_READ
      this.once(
        'dma-wrong-direction',
        owner,
        `${where}, in the ${mapped.label}${allocatedAt(site)}, which was mapped for a transfer ${toDevice ? 'to the device (WriteToDevice TRUE, NDIS_SG_LIST_WRITE_TO_DEVICE): the device may only read it' : 'from the device (WriteToDevice FALSE): the device may only write it'}; with DMA remapping on the IOMMU refuses this ${access}, and a bounced transfer loses what the device ${toDevice ? 'wrote' : 'read'}`,
        site,
        requester,
        deviceAddress,
        pa,
        access,
      )
      return
    }
    if (guard !== undefined) {
      // 0xE6/0x0F: the padding around the buffer was modified (p3 buffer start, p4 the address).
      const params = access === 'write' ? ([DMA_VIOLATION.outsideBuffer, guard.after ? DMA_OUTSIDE.paddingAfter : DMA_OUTSIDE.paddingBefore, guard.bufferVa, guard.guardVa + (pa % PAGE_SIZE)] as const) : undefined
      this.once('dma-outside-buffer', owner, `${where}: ${guard.what} (the device ran past the ${guard.after ? 'end' : 'start'} of the buffer)`, owner?.site, requester, deviceAddress, pa, access, params)
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
    if (input.kind === 'iommu-fault') return this.withIommuParams(this.explainIommuFault(input, input.details?.['address']))
    if (input.kind === 'dma-address-truncated') return this.explainTruncation(input, input.details?.['intended'])
    return input
  }

  /** The device object of each requester (PCI bus:device.function), for 0xE6/0x26. */
  addDevice(bdf: string, deviceObject: number): void {
    this.devices.set(bdf, deviceObject)
  }

  /**
   * 0xE6/0x26 "IOMMU detected DMA violation": p2 the device object of the faulting device, p3
   * the faulting information (the address the device used), p4 the fault type (hardware
   * specific: the VT-d fault reason).
   */
  private withIommuParams(input: DeviceFinding): DeviceFinding {
    const d = input.details ?? {}
    const requester = d['requester']
    const address = d['address']
    const reason = d['reason']
    const device = typeof requester === 'string' ? (this.devices.get(requester) ?? 0) : 0
    return { ...input, code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, params: [DMA_VIOLATION.iommuViolation, device, typeof address === 'number' ? address : 0, typeof reason === 'number' ? reason : 0] }
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
    if (this.kernel.space.contains(intended)) return this.explainVirtualAddress(input, intended)
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
    return this.index.mappingAt(pa)
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

  private once(kind: ReportedKind, owner: FrameOwner | undefined, message: string, site: string | undefined, requester: string, deviceAddress: number, pa: number, access: DeviceAccess, params?: DmaParams): void {
    const key = `${kind}:${owner?.id ?? Math.floor(pa / PAGE_SIZE)}:${access}`
    const seen = this.reported.get(key)
    if (seen !== undefined) {
      seen.count++
      return
    }
    this.reported.set(key, { count: 1 })
    this.log.report({
      kind,
      ...(params === undefined ? {} : { code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, params }),
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
  return `it has a DMA mapping (the ${mapping.label}), and the device must be given that mapping's logical addresses, not MmGetPhysicalAddress`
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

