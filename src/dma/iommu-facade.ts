// `m.iommu`: the machine's bare-metal facade over IOMMU domain programming (DESIGN "Public
// API"). Requesters are named by bus:device.function and addresses are plain numbers, as the
// public API takes them; the facade brands them (device address, physical address) for IommuDomains.
import { asLogical, asPhysical } from '../hw/address.js'
import { parseBdf } from '../hw/pci.js'
import type { Iommu, IommuFault } from '../hw/iommu/iommu.js'
import type { IommuAccess, IommuDomains, UnmapOptions } from './iommu-domains.js'

export class MachineIommu {
  /** The DMA layer's table builder, for the HAL (common buffers, S/G mappings). */
  readonly domains: IommuDomains
  /** The remapping hardware: caches, statistics, the fault log. */
  readonly hardware: Iommu

  constructor(domains: IommuDomains, hardware: Iommu) {
    this.domains = domains
    this.hardware = hardware
  }

  /** True when device addresses are translated. */
  get enabled(): boolean {
    return this.domains.translationEnabled
  }

  /** Every recorded fault: `{ requester, address, access, reason, reasonText }`. */
  get faults(): readonly IommuFault[] {
    return this.hardware.faults
  }

  /** Maps [iova, iova + length) for `bdf` to the memory at `pa`. False when out of table frames. */
  map(bdf: string, iova: number, pa: number, length: number, access: IommuAccess): boolean {
    return this.domains.map(parseBdf(bdf), asLogical(iova), asPhysical(pa), length, access)
  }

  /** Unmaps and (unless `{ invalidate: false }`) invalidates. Returns the pages that were mapped. */
  unmap(bdf: string, iova: number, length: number, options: UnmapOptions = {}): number {
    return this.domains.unmap(parseBdf(bdf), asLogical(iova), length, options)
  }

  /** Flushes the IOTLB: all entries, or one requester's. */
  invalidate(bdf?: string): void {
    this.domains.invalidate(bdf === undefined ? undefined : parseBdf(bdf))
  }

  /** What the tables say a device address translates to (a physical address), or -1. */
  lookup(bdf: string, iova: number, access: 'read' | 'write' = 'read'): number {
    return this.domains.lookup(parseBdf(bdf), asLogical(iova), access)
  }
}
