// dmalab's public API (DESIGN "Public API"). Tests outside this repository import exactly
// these names; add, never rename.
export { createMachine, Machine, type Cpu } from './machine.js'
export { ConfigError, type MachineConfig, type ResolvedConfig } from './config.js'
export type { Finding, FindingDetails, BugCheckParams, Severity } from './hw/finding.js'
export { BugCheck, BUGCHECK, bugCheckName, type BugCheckInfo } from './kernel/bugcheck.js'
export type { VirtualAddress, PhysicalAddress, LogicalAddress } from './hw/address.js'
export { PASSIVE_LEVEL, APC_LEVEL, DISPATCH_LEVEL, DEVICE_IRQL, HIGH_LEVEL } from './kernel/irql.js'
// Kernel memory routines (Ex, Mm, Io) as a driver sees them, and what they report.
export { createKernelApi, KERNEL_CONSTANTS, type KernelApi } from './kernel/api.js'
export type { MDL } from './kernel/mdl.js'
export { NtStatusError } from './kernel/wdm.js'
export type { TagUsage } from './kernel/pool-tracker.js'
export type { LeakSummary } from './kernel/leaks.js'
