// dmalab's public API (DESIGN "Public API"). Tests outside this repository import exactly
// these names; add, never rename.
export { createMachine, Machine, type Cpu } from './machine.js'
export { ConfigError, type MachineConfig, type ResolvedConfig } from './config.js'
export type { FindingDetails, BugCheckParams, Severity, DeviceFindingKind } from './hw/finding.js'
export { FINDING_KINDS, DMALAB_P1_RANGE, type Finding, type FindingKind, type KindInfo, type KindBugCheck } from './kernel/kinds.js'
export { BugCheck, BUGCHECK, bugCheckName, type BugCheckInfo } from './kernel/bugcheck.js'
export type { VirtualAddress, PhysicalAddress, LogicalAddress } from './hw/address.js'
export { PASSIVE_LEVEL, APC_LEVEL, DISPATCH_LEVEL, DEVICE_IRQL, HIGH_LEVEL } from './kernel/irql.js'
// Kernel memory routines (Ex, Mm, Io) as a driver sees them, and what they report.
export { createKernelApi, KERNEL_CONSTANTS, type KernelApi } from './kernel/api.js'
export type { MDL } from './kernel/mdl.js'
export { NtStatusError } from './kernel/wdm.js'
export type { TagUsage } from './kernel/pool-tracker.js'
export type { LeakSummary } from './kernel/leaks.js'
// Emulated hardware (bare metal): the NIC, its DMA engine and interrupt line, the IOMMU and
// the DMA layer's domain programming behind `m.iommu`, PCI, the wire and its pcap writer.
export type { E1000 } from './hw/e1000/e1000.js'
export type { Nic, NicCounters, NicTxCounters, NicRxCounters } from './hw/nic.js'
export { DMA_STATUS, type DmaEngine, type DmaObserver, type DmaStatus } from './hw/dma-engine.js'
export { InterruptLine } from './hw/interrupt.js'
export type { Iommu, IommuFault, DmaAccessKind } from './hw/iommu/iommu.js'
export { MachineIommu } from './dma/iommu-facade.js'
export type { IommuDomains, IommuAccess, UnmapOptions } from './dma/iommu-domains.js'
export { parseBdf, formatBdf, type PciBus, type PciFunction } from './hw/pci.js'
export type { Wire, WireMode } from './hw/wire.js'
export { PcapWriter } from './hw/pcap.js'
export type { TrafficGenerator, TrafficOptions } from './hw/traffic.js'
// The driver model: what a miniport receives and the structures it sees, the host API around
// a loaded miniport, reports, and the scenario and sweep runners behind the command line.
export type { NdisApi, NdisRoutines, DMA_ADAPTER, DMA_OPERATIONS } from './ndis/api.js'
export type * from './ndis/types.js'
export type { LoadedMiniport, TrafficOptions as MachineTrafficOptions } from './machine.js'
export type { MiniportModule, MiniportState } from './ndis/miniport.js'
export type { Report, Outcome, DroppedFrames } from './report.js'
export { runScenario, loadMiniport, DEFAULT_SCENARIO, type ScenarioOptions, type LoadableMiniport } from './scenario.js'
export { sweep, type SweepOptions, type SweepResult } from './sweep.js'
export { FaultSpecError, parseFaultSpec } from './faults/spec.js'
