// The structures a miniport sees, with WDK field names (ndis.h, wdm.h), so porting C is
// mechanical: `nbl.FirstNetBuffer.DataLength`, `sgl.Elements[i].Address`. Structures a driver
// passes in are plain objects; objects the system hands out are created by the shims.
import type { Irql } from '../kernel/irql.js'

/** NDIS_HANDLE: an opaque value; drivers pass back what they were given. */
export type NdisHandle = object

/** A memory descriptor list: the kernel's MDL (wdm.h field names). */
export type { MDL } from '../kernel/mdl.js'
import type { MDL } from '../kernel/mdl.js'

export interface NET_BUFFER {
  Next: NET_BUFFER | null
  CurrentMdl: MDL
  CurrentMdlOffset: number
  DataLength: number
  DataOffset: number
  MdlChain: MDL
  /** Four pointer-sized slots the miniport may use while it owns the buffer. */
  MiniportReserved: unknown[]
  ProtocolReserved: unknown[]
}

export interface NET_BUFFER_LIST {
  Next: NET_BUFFER_LIST | null
  FirstNetBuffer: NET_BUFFER | null
  /** Completion status the miniport sets before NdisMSendNetBufferListsComplete. */
  Status: number
  SourceHandle: NdisHandle | null
  NblFlags: number
  MiniportReserved: unknown[]
  ProtocolReserved: unknown[]
  /** NET_BUFFER_LIST_INFO slots. */
  NetBufferListInfo: unknown[]
}

/** Scatter/gather lists and DEVICE_DESCRIPTION are the kernel's (wdm.h), re-exported for drivers. */
export type { SCATTER_GATHER_ELEMENT, SCATTER_GATHER_LIST, DEVICE_DESCRIPTION } from '../kernel/hal.js'
import type { SCATTER_GATHER_LIST } from '../kernel/hal.js'

export interface NDIS_OBJECT_HEADER {
  Type: number
  Revision: number
  Size: number
}

export type MiniportInitializeEx = (NdisMiniportHandle: NdisHandle, MiniportDriverContext: unknown, MiniportInitParameters: NDIS_MINIPORT_INIT_PARAMETERS) => number
export type MiniportHaltEx = (MiniportAdapterContext: unknown, HaltAction: number) => void
export type MiniportDriverUnload = (DriverObject: DRIVER_OBJECT) => void
export type MiniportPause = (MiniportAdapterContext: unknown, PauseParameters: object) => number
export type MiniportRestart = (MiniportAdapterContext: unknown, RestartParameters: object) => number
export type MiniportOidRequest = (MiniportAdapterContext: unknown, OidRequest: NDIS_OID_REQUEST) => number
export type MiniportSendNetBufferLists = (MiniportAdapterContext: unknown, NetBufferLists: NET_BUFFER_LIST, PortNumber: number, SendFlags: number) => void
export type MiniportReturnNetBufferLists = (MiniportAdapterContext: unknown, NetBufferLists: NET_BUFFER_LIST, ReturnFlags: number) => void
export type MiniportCancelSend = (MiniportAdapterContext: unknown, CancelId: unknown) => void
export type MiniportShutdownEx = (MiniportAdapterContext: unknown, ShutdownAction: number) => void
export type MiniportResetEx = (MiniportAdapterContext: unknown) => { status: number; addressingReset: boolean }
export type MiniportCheckForHangEx = (MiniportAdapterContext: unknown) => boolean

export interface NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
  Header?: NDIS_OBJECT_HEADER
  MajorNdisVersion: number
  MinorNdisVersion: number
  MajorDriverVersion?: number
  MinorDriverVersion?: number
  Flags?: number
  InitializeHandlerEx: MiniportInitializeEx
  HaltHandlerEx: MiniportHaltEx
  UnloadHandler?: MiniportDriverUnload
  PauseHandler: MiniportPause
  RestartHandler: MiniportRestart
  OidRequestHandler: MiniportOidRequest
  SendNetBufferListsHandler: MiniportSendNetBufferLists
  ReturnNetBufferListsHandler: MiniportReturnNetBufferLists
  CancelSendHandler?: MiniportCancelSend
  ShutdownHandlerEx?: MiniportShutdownEx
  ResetHandlerEx?: MiniportResetEx
  CheckForHangHandlerEx?: MiniportCheckForHangEx
}

/** What DriverEntry receives as its DriverObject. */
export interface DRIVER_OBJECT {
  readonly DriverName: string
  DriverUnload: MiniportDriverUnload | null
}

export interface CM_PARTIAL_RESOURCE_DESCRIPTOR {
  Type: number
  ShareDisposition: number
  Flags: number
  u: {
    Memory?: { Start: number; Length: number }
    Port?: { Start: number; Length: number }
    Interrupt?: { Level: number; Vector: number; Affinity: number }
  }
}

export interface CM_PARTIAL_RESOURCE_LIST {
  Version: number
  Revision: number
  Count: number
  PartialDescriptors: CM_PARTIAL_RESOURCE_DESCRIPTOR[]
}

export interface NDIS_MINIPORT_INIT_PARAMETERS {
  Header: NDIS_OBJECT_HEADER
  Flags: number
  AllocatedResources: CM_PARTIAL_RESOURCE_LIST
  IMDeviceInstanceContext: null
  MiniportAddDeviceContext: null
  IfIndex: number
  NetLuid: number
  PortNumber: number
}

export interface NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
  Header: NDIS_OBJECT_HEADER
  MiniportAdapterContext: unknown
  AttributeFlags: number
  CheckForHangTimeInSeconds: number
  InterfaceType: number
}

export interface NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
  Header: NDIS_OBJECT_HEADER
  MediaType?: number
  MtuSize: number
  MaxXmitLinkSpeed: number
  MaxRcvLinkSpeed: number
  XmitLinkSpeed?: number
  RcvLinkSpeed?: number
  MediaConnectState?: number
  LookaheadSize?: number
  MacAddressLength?: number
  PermanentMacAddress?: Uint8Array
  CurrentMacAddress?: Uint8Array
  SupportedPacketFilters?: number
  SupportedOidList?: number[]
}

export type NDIS_MINIPORT_ADAPTER_ATTRIBUTES = NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES | NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES | NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES
export type { NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES, NDIS_OFFLOAD, NDIS_TCP_IP_CHECKSUM_OFFLOAD, NDIS_TCP_LARGE_SEND_OFFLOAD_V1 } from './offload.js'
import type { NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES } from './offload.js'

export interface NDIS_OID_REQUEST {
  Header: NDIS_OBJECT_HEADER
  RequestType: number
  PortNumber: number
  Timeout: number
  RequestId: unknown
  DATA: {
    /** QUERY_INFORMATION and SET_INFORMATION share this shape. */
    Oid: number
    /** VA of the information buffer, in emulated memory. */
    InformationBuffer: number
    InformationBufferLength: number
    /** Set by the miniport: BytesWritten for a query, BytesRead for a set. */
    BytesWritten: number
    BytesRead: number
    BytesNeeded: number
  }
}

export type MiniportProcessSGList = (DeviceObject: unknown, Reserved: null, ScatterGatherListBuffer: SCATTER_GATHER_LIST, Context: unknown) => void
export type MiniportAllocateSharedMemoryComplete = (MiniportAdapterContext: unknown, VirtualAddress: number, PhysicalAddress: number, Length: number, Context: unknown) => void

export interface NDIS_SG_DMA_DESCRIPTION {
  Header?: NDIS_OBJECT_HEADER
  Flags: number
  MaximumPhysicalMapping: number
  ProcessSGListHandler: MiniportProcessSGList
  SharedMemAllocateCompleteHandler?: MiniportAllocateSharedMemoryComplete
  /** Out: the size of a scatter/gather list buffer NDIS needs for a maximal packet. */
  ScatterGatherListSize?: number
}

/** MiniportInterrupt: returns whether the interrupt was the device's and whether to queue the DPC. */
export type MiniportIsr = (MiniportInterruptContext: unknown) => { interruptRecognized: boolean; queueDefaultInterruptDpc: boolean; targetProcessors?: number } | boolean
export type MiniportInterruptDpc = (MiniportInterruptContext: unknown, MiniportDpcContext: unknown, ReceiveThrottleParameters: { MaxNblsToIndicate: number; MoreNblsPending: boolean }, NdisReserved2: null) => void
export type MiniportDisableInterrupt = (MiniportInterruptContext: unknown) => void
export type MiniportEnableInterrupt = (MiniportInterruptContext: unknown) => void

export interface NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS {
  Header?: NDIS_OBJECT_HEADER
  InterruptHandler: MiniportIsr
  InterruptDpcHandler: MiniportInterruptDpc
  DisableInterruptHandler?: MiniportDisableInterrupt
  EnableInterruptHandler?: MiniportEnableInterrupt
  MsiSupported?: boolean
}

export interface NET_BUFFER_LIST_POOL_PARAMETERS {
  Header?: NDIS_OBJECT_HEADER
  ProtocolId: number
  fAllocateNetBuffer: boolean
  ContextSize: number
  PoolTag: number | string
  DataSize: number
}

/** NDIS_SPIN_LOCK: the IRQL to return to is kept in the lock, as Windows does. */
export interface NDIS_SPIN_LOCK {
  readonly id: number
  held: boolean
  OldIrql: Irql
}
