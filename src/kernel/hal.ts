// The WDM types of the HAL's DMA interface (wdm.h), as a driver sees them: the DMA_ADAPTER that
// IoGetDmaAdapter returns and the DMA_OPERATIONS called through it, the DEVICE_DESCRIPTION a
// driver describes its device with, scatter/gather lists, and the callbacks the HAL calls.
// They belong to the kernel's vocabulary, not NDIS's: the DMA layer (dma/) implements them and
// NDIS (ndis/) builds on them, so neither has to reach sideways or up for a type.
//
// Field and parameter names are the WDK's; out-parameters come back as fields of the returned
// object (DESIGN "Driver model").
import type { MDL } from './mdl.js'

/** DEVICE_DESCRIPTION versions (wdm.h) and the INTERFACE_TYPE and DMA_WIDTH values the HAL uses here. */
export const DEVICE_DESCRIPTION_VERSION = {
  DEVICE_DESCRIPTION_VERSION: 0,
  DEVICE_DESCRIPTION_VERSION1: 1,
  DEVICE_DESCRIPTION_VERSION2: 2,
  DEVICE_DESCRIPTION_VERSION3: 3,
  PCIBus: 5,
  Width32Bits: 2,
} as const

/** The highest DEVICE_DESCRIPTION version the HAL knows; IoGetDmaAdapter refuses a higher one. */
export const DEVICE_DESCRIPTION_MAX_VERSION = DEVICE_DESCRIPTION_VERSION.DEVICE_DESCRIPTION_VERSION3

/** IO_ALLOCATION_ACTION (wdm.h): what an AdapterControl routine tells the system to keep. */
export const IO_ALLOCATION_ACTION = {
  KeepObject: 1,
  DeallocateObject: 2,
  DeallocateObjectKeepRegisters: 3,
} as const

/** Flags of GetScatterGatherListEx / BuildScatterGatherListEx (wdm.h). */
export const DMA_FLAGS = {
  DMA_SYNCHRONOUS_CALLBACK: 0x1,
  /** The size of the DMA_TRANSFER_CONTEXT a driver gives InitializeDmaTransferContext (version 1). */
  DMA_TRANSFER_CONTEXT_SIZE_V1: 128,
} as const

/** DEVICE_DESCRIPTION (wdm.h) for IoGetDmaAdapter. */
export interface DEVICE_DESCRIPTION {
  Version: number
  Master: boolean
  ScatterGather: boolean
  DemandMode?: boolean
  AutoInitialize?: boolean
  Dma32BitAddresses: boolean
  IgnoreCount?: boolean
  Dma64BitAddresses: boolean
  BusNumber?: number
  DmaChannel?: number
  InterfaceType: number
  DmaWidth?: number
  DmaSpeed?: number
  MaximumLength: number
  DmaPort?: number
  /** Version 3: the device's address width in bits, overriding the two flags. */
  DmaAddressWidth?: number
}

export interface SCATTER_GATHER_ELEMENT {
  /** A logical (device) address. */
  Address: number
  Length: number
  Reserved: number
}

export interface SCATTER_GATHER_LIST {
  NumberOfElements: number
  Reserved: number
  Elements: SCATTER_GATHER_ELEMENT[]
}

/** DRIVER_LIST_CONTROL: an AdapterListControl routine, called at DISPATCH_LEVEL with the list. */
export type DriverListControl = (DeviceObject: unknown, Irp: unknown, ScatterGather: SCATTER_GATHER_LIST, Context: unknown) => void

/**
 * DRIVER_CONTROL: an AdapterControl routine, called at DISPATCH_LEVEL once AllocateAdapterChannel
 * has the adapter and the map registers; returns an IO_ALLOCATION_ACTION.
 */
export type DriverControl = (DeviceObject: unknown, Irp: unknown, MapRegisterBase: MapRegisterBase, Context: unknown) => number

/** The opaque value an AdapterControl routine receives and passes back to MapTransfer and friends. */
export type MapRegisterBase = object

/** A DMA_TRANSFER_CONTEXT: driver storage InitializeDmaTransferContext prepares (opaque here). */
export type DmaTransferContext = object

/** The DMA_ADAPTER a driver gets from IoGetDmaAdapter; operations are called adapter first, as in C. */
export interface DMA_ADAPTER {
  readonly Version: number
  readonly Size: number
  readonly DmaOperations: DMA_OPERATIONS
}

/**
 * DMA_OPERATIONS (wdm.h). The routines of version 3 (the `Ex` ones, InitializeDmaTransferContext,
 * FreeAdapterObject) are present only on an adapter from a DEVICE_DESCRIPTION_VERSION3
 * description, as on Windows, where an older DMA_OPERATIONS ends before them.
 */
export interface DMA_OPERATIONS {
  PutDmaAdapter(DmaAdapter: DMA_ADAPTER): void
  AllocateCommonBuffer(DmaAdapter: DMA_ADAPTER, Length: number, CacheEnabled: boolean): { virtualAddress: number; logicalAddress: number }
  FreeCommonBuffer(DmaAdapter: DMA_ADAPTER, Length: number, LogicalAddress: number, VirtualAddress: number, CacheEnabled: boolean): void
  AllocateCommonBufferEx(DmaAdapter: DMA_ADAPTER, MaximumAddress: number | null, Length: number, CacheEnabled: boolean, PreferredNode?: number): { virtualAddress: number; logicalAddress: number }
  AllocateAdapterChannel(DmaAdapter: DMA_ADAPTER, DeviceObject: unknown, NumberOfMapRegisters: number, ExecutionRoutine: DriverControl, Context: unknown): number
  FreeAdapterChannel(DmaAdapter: DMA_ADAPTER): void
  FreeMapRegisters(DmaAdapter: DMA_ADAPTER, MapRegisterBase: MapRegisterBase, NumberOfMapRegisters: number): void
  /** Length is in/out in C: the bytes mapped come back as `length`. */
  MapTransfer(DmaAdapter: DMA_ADAPTER, Mdl: MDL, MapRegisterBase: MapRegisterBase, CurrentVa: number, Length: number, WriteToDevice: boolean): { logicalAddress: number; length: number }
  FlushAdapterBuffers(DmaAdapter: DMA_ADAPTER, Mdl: MDL, MapRegisterBase: MapRegisterBase, CurrentVa: number, Length: number, WriteToDevice: boolean): boolean
  GetScatterGatherList(DmaAdapter: DMA_ADAPTER, DeviceObject: unknown, Mdl: MDL, CurrentVa: number, Length: number, ExecutionRoutine: DriverListControl, Context: unknown, WriteToDevice: boolean): number
  PutScatterGatherList(DmaAdapter: DMA_ADAPTER, ScatterGather: SCATTER_GATHER_LIST, WriteToDevice: boolean): void
  BuildScatterGatherList(DmaAdapter: DMA_ADAPTER, DeviceObject: unknown, Mdl: MDL, CurrentVa: number, Length: number, ExecutionRoutine: DriverListControl, Context: unknown, WriteToDevice: boolean, ScatterGatherBuffer: SCATTER_GATHER_LIST | null, ScatterGatherLength: number): number
  CalculateScatterGatherList(DmaAdapter: DMA_ADAPTER, Mdl: MDL | null, CurrentVa: number, Length: number): { status: number; scatterGatherListSize: number; numberOfMapRegisters: number }
  GetDmaAlignment(DmaAdapter: DMA_ADAPTER): number
  InitializeDmaTransferContext?(DmaAdapter: DMA_ADAPTER, DmaTransferContext: DmaTransferContext): number
  GetScatterGatherListEx?(DmaAdapter: DMA_ADAPTER, DeviceObject: unknown, DmaTransferContext: DmaTransferContext, Mdl: MDL, Offset: number, Length: number, Flags: number, ExecutionRoutine: DriverListControl | null, Context: unknown, WriteToDevice: boolean, DmaCompletionRoutine?: null, CompletionContext?: null): { status: number; scatterGatherList: SCATTER_GATHER_LIST | null }
  BuildScatterGatherListEx?(DmaAdapter: DMA_ADAPTER, DeviceObject: unknown, DmaTransferContext: DmaTransferContext, Mdl: MDL, Offset: number, Length: number, Flags: number, ExecutionRoutine: DriverListControl | null, Context: unknown, WriteToDevice: boolean, ScatterGatherBuffer: SCATTER_GATHER_LIST | null, ScatterGatherLength: number, DmaCompletionRoutine?: null, CompletionContext?: null): { status: number; scatterGatherList: SCATTER_GATHER_LIST | null }
  FreeAdapterObject?(DmaAdapter: DMA_ADAPTER, AllocationAction: number): void
}
