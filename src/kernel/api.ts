// The kernel's driver-facing surface: the Ex, Ke, Mm and Io memory routines under their WDK
// names, with the constants a driver passes them. The NDIS layer spreads this object into the
// driver's `ndis` object, so every name here is WDK-exact and unique.
//
//   const k = createKernelApi(machine.kernel)
//   const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 256, 'tseT')   // 0 on failure
//   const { oldIrql } = k.KeRaiseIrql(k.DISPATCH_LEVEL)
import { PAGE_SIZE } from '../hw/address.js'
import { exRoutines } from './ex-api.js'
import { APC_LEVEL, DISPATCH_LEVEL, HIGH_LEVEL, PASSIVE_LEVEL } from './irql.js'
import type { Kernel } from './kernel.js'
import { LOOKASIDE_MINIMUM_BLOCK_SIZE } from './lookaside.js'
import { mmRoutines } from './mm-api.js'
import {
  EX_LOOKASIDE_LIST_EX_FLAGS, EX_POOL_PRIORITY, KPROCESSOR_MODE, LOCK_OPERATION, MDL_FLAGS, MEMORY_CACHING_TYPE, MM_ALLOCATE_FLAGS,
  MM_PAGE_PRIORITY, NTSTATUS, PAGE_PROTECTION, POOL_FLAG, POOL_MODIFIERS, POOL_TYPE,
} from './wdm.js'

/** The constants of wdm.h a driver needs with these routines. */
export const KERNEL_CONSTANTS = {
  ...POOL_TYPE,
  ...POOL_MODIFIERS,
  ...POOL_FLAG,
  ...EX_POOL_PRIORITY,
  ...EX_LOOKASIDE_LIST_EX_FLAGS,
  ...MEMORY_CACHING_TYPE,
  ...MDL_FLAGS,
  ...MM_ALLOCATE_FLAGS,
  ...MM_PAGE_PRIORITY,
  ...LOCK_OPERATION,
  ...PAGE_PROTECTION,
  ...KPROCESSOR_MODE,
  ...NTSTATUS,
  PASSIVE_LEVEL,
  APC_LEVEL,
  DISPATCH_LEVEL,
  HIGH_LEVEL,
  PAGE_SIZE,
  LOOKASIDE_MINIMUM_BLOCK_SIZE,
} as const

/** Every routine and constant, bound to one machine's kernel. */
export function createKernelApi(kernel: Kernel) {
  return { ...KERNEL_CONSTANTS, ...kernelRoutines(kernel) }
}

/** The routines alone, bound to one machine's kernel (the NDIS API adds the constants once, with its own). */
export function kernelRoutines(kernel: Kernel) {
  // Assigned into the Ex object rather than spread into a literal: a spread builds a hidden
  // class per name, every machine.
  return Object.assign(exRoutines(kernel), mmRoutines(kernel), {
    /** Busy-waits `MicrosecondsToStall` of virtual time while devices progress (cpu-time.ts). */
    KeStallExecutionProcessor: (MicrosecondsToStall: number): void => kernel.cpuTime.stall('KeStallExecutionProcessor', MicrosecondsToStall),
  })
}

export type KernelApi = ReturnType<typeof createKernelApi>
