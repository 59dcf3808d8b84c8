// Assembles a Machine from a MachineConfig: the hardware (clock, RAM, system bus, PCI, the
// IOMMU, the NIC and its wire), the kernel on top of it, and the host API a test or the
// command line drives it with. The firmware step (BAR assignment, interrupt routing) happens
// here, when the machine is created; so does the OS's IOMMU bring-up when it is configured on.
import { resolveConfig, type MachineConfig, type ResolvedConfig } from './config.js'
import { IommuDomains } from './dma/iommu-domains.js'
import { MachineIommu } from './dma/iommu-facade.js'
import { SystemBus } from './hw/bus.js'
import { Clock, type RunResult } from './hw/clock.js'
import type { Finding } from './hw/finding.js'
import { Iommu } from './hw/iommu/iommu.js'
import { MMIO_HOLE_BASE, PhysicalMemory } from './hw/memory.js'
import { E1000 } from './hw/nic/e1000.js'
import { PciBus, assignResources } from './hw/pci.js'
import { Wire } from './hw/wire.js'
import { Kernel } from './kernel/kernel.js'
import { parseFaultSpecs } from './faults/spec.js'

/** Where the NIC sits (DESIGN "The machine"). */
export const NIC_BDF = '00:03.0'
/** Firmware places BARs top-down below the I/O APIC and the local APIC at 0xFEC0_0000. */
export const PCI_MMIO_TOP = 0xfec0_0000
/** The ISA IRQ the firmware routes INTA# of slot 3 to (what SeaBIOS gives QEMU's e1000). */
export const NIC_IRQ_LINE = 11

/** Bare-metal access to physical addresses, as a device test drives the machine. */
export interface Cpu {
  read8(pa: number): number
  read16(pa: number): number
  read32(pa: number): number
  read64(pa: number): number
  write8(pa: number, value: number): void
  write16(pa: number, value: number): void
  write32(pa: number, value: number): void
  write64(pa: number, value: number): void
  readBytes(pa: number, length: number): Uint8Array
  writeBytes(pa: number, bytes: Uint8Array): void
}

export class Machine {
  readonly config: ResolvedConfig
  readonly clock: Clock
  readonly ram: PhysicalMemory
  readonly bus: SystemBus
  readonly kernel: Kernel
  readonly cpu: Cpu
  readonly pci: PciBus
  /** The Intel 82540EM-model NIC at 00:03.0. */
  readonly nic: E1000
  /** The machine's facade over IOMMU domain programming; `m.iommu.hardware` is the unit itself. */
  readonly iommu: MachineIommu
  readonly wire: Wire

  constructor(config: ResolvedConfig) {
    this.config = config
    this.clock = new Clock()
    this.ram = new PhysicalMemory(config.memory.size)
    this.bus = new SystemBus(this.ram)
    this.kernel = new Kernel(this.clock, this.bus, {
      seed: config.seed,
      policy: config.memory.policy,
      fragmentation: config.memory.fragmentation,
      verifierMode: config.verifier.mode,
      specialPool: config.verifier.specialPool,
      dmaGuard: config.verifier.dmaGuard,
      faults: parseFaultSpecs(config.faults),
    })
    const bus = this.bus
    const log = this.kernel.log
    const iommu = new Iommu(this.ram, log, { iotlbEntries: config.iommu.iotlbEntries })
    this.iommu = new MachineIommu(new IommuDomains(this.kernel.frames, this.ram, iommu), iommu)
    this.wire = new Wire(this.clock, { mode: config.wire, linkMbps: config.nic.linkMbps })
    this.pci = new PciBus()
    this.nic = new E1000(this.clock, bus, iommu, this.wire, log, {
      bdf: NIC_BDF,
      mac: config.nic.mac,
      dmaAddressBits: config.nic.dmaAddressBits,
      linkMbps: config.nic.linkMbps,
    })
    this.pci.add(this.nic.pci)
    // Firmware: BARs in the MMIO hole, memory decoding on, INTA# routed.
    assignResources(this.pci, { base: MMIO_HOLE_BASE, top: PCI_MMIO_TOP }, () => NIC_IRQ_LINE)
    // The OS turns DMA remapping on at boot and gives the NIC its own (empty) domain.
    if (config.iommu.enabled) {
      if (!this.iommu.domains.enable() || !this.iommu.domains.attach(this.nic.pci.requesterId)) {
        throw new RangeError('not enough memory for the IOMMU tables')
      }
    }
    this.cpu = {
      read8: (pa) => bus.read8(pa),
      read16: (pa) => bus.read16(pa),
      read32: (pa) => bus.read32(pa),
      read64: (pa) => bus.read64(pa),
      write8: (pa, v) => bus.write8(pa, v),
      write16: (pa, v) => bus.write16(pa, v),
      write32: (pa, v) => bus.write32(pa, v),
      write64: (pa, v) => bus.write64(pa, v),
      readBytes: (pa, length) => bus.readBytes(pa, length),
      writeBytes: (pa, bytes) => bus.writeBytes(pa, bytes),
    }
  }

  /** Everything the verifier and the devices reported, in order. */
  get findings(): readonly Finding[] {
    return this.kernel.log.findings
  }

  /** Runs virtual time forward by `ns` nanoseconds. */
  run(options: { ns: number }): RunResult {
    if (!(options.ns >= 0)) throw new RangeError(`run: ns must be a number >= 0, got ${options.ns}`)
    return this.afterRun(this.clock.run(options.ns, this.config.maxEvents))
  }

  /** Runs until no event is pending (or the event bound is hit, which is a `hang` finding). */
  runUntilIdle(): RunResult {
    return this.afterRun(this.clock.runUntilIdle(this.config.maxEvents))
  }

  private afterRun(result: RunResult): RunResult {
    if (result.boundHit) {
      this.kernel.log.report({
        kind: 'hang',
        message: `the machine was still busy after ${result.events} events (${this.clock.pending} pending, next "${this.nextEventName()}"): a device or driver that never goes idle`,
        details: { events: result.events, pending: this.clock.pending },
      })
    }
    this.throwIfCrashed()
    return result
  }

  private nextEventName(): string {
    return this.clock.nextEventAt() === Infinity ? 'none' : 'timer'
  }

  /** In crash mode, a stopped machine throws its BugCheck to the host caller. */
  throwIfCrashed(): void {
    if (this.kernel.log.stopped && this.config.verifier.mode === 'crash') throw this.kernel.log.bugCheckError()
  }
}

export function createMachine(config: MachineConfig = {}): Machine {
  return new Machine(resolveConfig(config))
}
