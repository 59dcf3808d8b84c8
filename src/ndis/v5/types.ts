// The structures an NDIS 5.1 miniport sees, with their ndis.h field names, in DESIGN's calling
// convention (objects the system hands out are objects; out-parameters of a routine come back
// as fields of its result). NDIS 5.1 reference: learn.microsoft.com/previous-versions/windows/
// hardware/network (the "NDIS 5.1" pages; ndis.h of the Windows XP/Server 2003 DDK).
import type { MDL } from '../../kernel/mdl.js'
import type { CM_PARTIAL_RESOURCE_LIST, NdisHandle, SCATTER_GATHER_LIST } from '../types.js'

/** ndis.h: `typedef MDL NDIS_BUFFER` on Windows NT-based systems. */
export type NDIS_BUFFER = MDL

/** NDIS_MEDIUM values a miniport finds in MiniportInitialize's MediumArray. */
export type NDIS_MEDIUM = number

/** NDIS_PACKET_PRIVATE: NDIS's part of a packet descriptor (ndis.h). */
export interface NDIS_PACKET_PRIVATE {
  PhysicalCount: number
  TotalLength: number
  Head: NDIS_BUFFER | null
  Tail: NDIS_BUFFER | null
  /** The packet pool the descriptor came from (NdisAllocatePacket). */
  readonly Pool: NdisHandle | null
  Count: number
  Flags: number
  ValidCounts: boolean
  NdisPacketFlags: number
  NdisPacketOobOffset: number
}

/** NDIS_PACKET_OOB_DATA: out-of-band data NDIS keeps beside each packet (ndis.h). */
export interface NDIS_PACKET_OOB_DATA {
  TimeToSend: number
  TimeReceived: number
  HeaderSize: number
  SizeMediaSpecificInfo: number
  MediaSpecificInformation: unknown
  Status: number
}

/** NDIS_PACKET_EXTENSION: the per-packet info slots (NDIS_PER_PACKET_INFO indexes). */
export interface NDIS_PACKET_EXTENSION {
  NdisPacketInfo: unknown[]
}

/**
 * NDIS_PACKET (ndis.h). MiniportReserved (2 pointers; MiniportReservedEx: 3) is the miniport's
 * while it owns the packet; ProtocolReserved is the protocol's. The OOB block and the packet
 * extension that follow a descriptor in memory are fields here, reached through the
 * NDIS_OOB_DATA_FROM_PACKET and NDIS_PER_PACKET_INFO_FROM_PACKET macros of the `ndis` object.
 */
export interface NDIS_PACKET {
  readonly Private: NDIS_PACKET_PRIVATE
  MiniportReserved: unknown[]
  MiniportReservedEx: unknown[]
  ProtocolReserved: unknown[]
  readonly OobData: NDIS_PACKET_OOB_DATA
  readonly Extension: NDIS_PACKET_EXTENSION
}

/** NDIS_PHYSICAL_ADDRESS_UNIT: one range of a buffer mapped for the device (a logical address). */
export interface NDIS_PHYSICAL_ADDRESS_UNIT {
  PhysicalAddress: number
  Length: number
}

/** NDIS_CONFIGURATION_PARAMETER (ndis.h), read from the adapter's registry key. */
export interface NDIS_CONFIGURATION_PARAMETER {
  ParameterType: number
  ParameterData: { IntegerData?: number; StringData?: string; BinaryData?: Uint8Array }
}

/** The NDIS_MINIPORT_INTERRUPT NDIS fills in NdisMRegisterInterrupt: opaque to the driver. */
export interface NDIS_MINIPORT_INTERRUPT {
  readonly kind: 'ndis5-interrupt'
  readonly id: number
}

/** The NDIS_MINIPORT_TIMER NDIS initializes in NdisMInitializeTimer: opaque to the driver. */
export interface NDIS_MINIPORT_TIMER {
  readonly kind: 'ndis5-timer'
  readonly id: number
}

/** NDIS_RESOURCE_LIST is CM_PARTIAL_RESOURCE_LIST (NdisMQueryAdapterResources). */
export type NDIS_RESOURCE_LIST = CM_PARTIAL_RESOURCE_LIST

// ---- the MiniportXxx functions (NDIS 5.1 signatures; outs come back as fields) ------------------

/** MiniportInitialize: picks a medium from MediumArray and sets up the adapter (PASSIVE_LEVEL). */
export type MiniportInitialize = (MediumArray: readonly NDIS_MEDIUM[], MediumArraySize: number, MiniportAdapterHandle: NdisHandle, WrapperConfigurationContext: NdisHandle) => {
  status: number
  /** Index into MediumArray of the medium the NIC uses. */
  selectedMediumIndex: number
  /** With NDIS_STATUS_OPEN_ERROR: more information. */
  openErrorStatus?: number
}
export type MiniportHalt = (MiniportAdapterContext: unknown) => void
export type MiniportShutdown = (ShutdownContext: unknown) => void
/** MiniportISR (DIRQL): whether the NIC interrupted, and whether to queue MiniportHandleInterrupt. */
export type MiniportIsr = (MiniportAdapterContext: unknown) => { interruptRecognized: boolean; queueMiniportHandleInterrupt: boolean }
export type MiniportHandleInterrupt = (MiniportAdapterContext: unknown) => void
export type MiniportEnableInterrupt = (MiniportAdapterContext: unknown) => void
export type MiniportDisableInterrupt = (MiniportAdapterContext: unknown) => void
export type MiniportQueryInformation = (MiniportAdapterContext: unknown, Oid: number, InformationBuffer: number, InformationBufferLength: number) => { status: number; bytesWritten: number; bytesNeeded: number }
export type MiniportSetInformation = (MiniportAdapterContext: unknown, Oid: number, InformationBuffer: number, InformationBufferLength: number) => { status: number; bytesRead: number; bytesNeeded: number }
export type MiniportReset = (MiniportAdapterContext: unknown) => { status: number; addressingReset: boolean }
export type MiniportCheckForHang = (MiniportAdapterContext: unknown) => boolean
export type MiniportSend = (MiniportAdapterContext: unknown, Packet: NDIS_PACKET, Flags: number) => number
export type MiniportSendPackets = (MiniportAdapterContext: unknown, PacketArray: NDIS_PACKET[], NumberOfPackets: number) => void
export type MiniportReturnPacket = (MiniportAdapterContext: unknown, Packet: NDIS_PACKET) => void
export type MiniportTransferData = (Packet: NDIS_PACKET, MiniportAdapterContext: unknown, MiniportReceiveContext: unknown, ByteOffset: number, BytesToTransfer: number) => { status: number; bytesTransferred: number }
export type MiniportAllocateComplete = (MiniportAdapterContext: unknown, VirtualAddress: number, PhysicalAddress: number, Length: number, Context: unknown) => void
export type MiniportCancelSendPackets = (MiniportAdapterContext: unknown, CancelId: unknown) => void
export type MiniportPnPEventNotify = (MiniportAdapterContext: unknown, DevicePnPEvent: number, InformationBuffer: number, InformationBufferLength: number) => void
export type NdisTimerFunction = (SystemSpecific1: unknown, FunctionContext: unknown, SystemSpecific2: unknown, SystemSpecific3: unknown) => void
export type MiniportSynchronizeFunction<T> = (SynchronizeContext: T) => boolean

/**
 * NDIS_MINIPORT_CHARACTERISTICS (NDIS50_ and NDIS51_MINIPORT_CHARACTERISTICS in ndis.h), the
 * handlers NdisMRegisterMiniport takes. 5.1 adds CancelSendPacketsHandler,
 * PnPEventNotifyHandler and AdapterShutdownHandler.
 */
export interface NDIS_MINIPORT_CHARACTERISTICS {
  MajorNdisVersion: number
  MinorNdisVersion: number
  Reserved?: number
  CheckForHangHandler?: MiniportCheckForHang
  DisableInterruptHandler?: MiniportDisableInterrupt
  EnableInterruptHandler?: MiniportEnableInterrupt
  HaltHandler: MiniportHalt
  HandleInterruptHandler?: MiniportHandleInterrupt
  InitializeHandler: MiniportInitialize
  ISRHandler?: MiniportIsr
  QueryInformationHandler: MiniportQueryInformation
  ReconfigureHandler?: unknown
  ResetHandler: MiniportReset
  SendHandler?: MiniportSend
  SetInformationHandler: MiniportSetInformation
  TransferDataHandler?: MiniportTransferData
  ReturnPacketHandler?: MiniportReturnPacket
  SendPacketsHandler?: MiniportSendPackets
  AllocateCompleteHandler?: MiniportAllocateComplete
  CancelSendPacketsHandler?: MiniportCancelSendPackets
  PnPEventNotifyHandler?: MiniportPnPEventNotify
  AdapterShutdownHandler?: MiniportShutdown
}

/** The per-packet S/G list NDIS builds for a miniport that called NdisMInitializeScatterGatherDma. */
export type { SCATTER_GATHER_LIST }
