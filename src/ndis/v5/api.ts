// The NDIS 5.1 routines and constants of the `ndis` object, by their WDK names, in DESIGN's
// calling convention (out-parameters come back as fields of the result; caller-supplied
// arrays and structures are filled in place). They sit beside the NDIS 6 routines: the routine
// a driver registers with (NdisMRegisterMiniport or NdisMRegisterMiniportDriver) decides which
// driver model NDIS runs it under.
import type { CM_PARTIAL_RESOURCE_LIST, DRIVER_OBJECT, NdisHandle } from '../types.js'
import * as C from './constants.js'
import type { BufferPoolHandle, PacketPoolHandle } from './packets.js'
import type { ConfigurationHandle } from './config.js'
import type { WrapperHandle } from './state.js'
import type {
  MiniportShutdown, MiniportSynchronizeFunction, NDIS_BUFFER, NDIS_CONFIGURATION_PARAMETER, NDIS_MINIPORT_CHARACTERISTICS,
  NDIS_MINIPORT_INTERRUPT, NDIS_MINIPORT_TIMER, NDIS_PACKET, NDIS_PACKET_EXTENSION, NDIS_PACKET_OOB_DATA, NDIS_PHYSICAL_ADDRESS_UNIT, NdisTimerFunction,
} from './types.js'

export const NDIS5_CONSTANTS = {
  ...C.NDIS5_STATUS,
  ...C.NDIS_ATTRIBUTE,
  ...C.NDIS_INTERFACE_TYPE,
  ...C.NDIS_DMA_SIZE,
  ...C.NDIS5_MEDIUM,
  ...C.NDIS_PARAMETER_TYPE,
  ...C.NDIS_INTERRUPT_MODE,
  ...C.NDIS_PER_PACKET_INFO,
  ...C.NDIS_DEVICE_PNP_EVENT,
  ...C.NDIS_POWER_PROFILE,
  ...C.NDIS_MAC_OPTION,
  ...C.NDIS_MEDIA_STATE,
  ...C.OID5,
  ...C.NDIS_HARDWARE_STATUS,
} as const

export type Ndis5Constants = typeof NDIS5_CONSTANTS

export interface Ndis5Routines {
  // Registration and initialization
  NdisMInitializeWrapper(SystemSpecific1: DRIVER_OBJECT, SystemSpecific2: string, SystemSpecific3: unknown): { ndisWrapperHandle: WrapperHandle | null }
  NdisMRegisterMiniport(NdisWrapperHandle: WrapperHandle | null, MiniportCharacteristics: NDIS_MINIPORT_CHARACTERISTICS, CharacteristicsLength: number): number
  NdisTerminateWrapper(NdisWrapperHandle: WrapperHandle | null, SystemSpecific: unknown): void
  NdisMRegisterUnloadHandler(NdisWrapperHandle: WrapperHandle | null, UnloadHandler: (DriverObject: unknown) => void): void
  NdisMRegisterAdapterShutdownHandler(MiniportHandle: object, ShutdownContext: unknown, ShutdownHandler: MiniportShutdown): void
  NdisMDeregisterAdapterShutdownHandler(MiniportHandle: object): void
  NdisMSetAttributes(MiniportAdapterHandle: object, MiniportAdapterContext: unknown, BusMaster: boolean, AdapterType: number): void
  NdisMSetAttributesEx(MiniportAdapterHandle: object, MiniportAdapterContext: unknown, CheckForHangTimeInSeconds: number, AttributeFlags: number, AdapterType: number): void
  NdisOpenConfiguration(WrapperConfigurationContext: object): { status: number; configurationHandle: ConfigurationHandle | null }
  NdisReadConfiguration(ConfigurationHandle: ConfigurationHandle | null, Keyword: string, ParameterType: number): { status: number; parameterValue: NDIS_CONFIGURATION_PARAMETER | null }
  NdisWriteConfiguration(ConfigurationHandle: ConfigurationHandle | null, Keyword: string, ParameterValue: NDIS_CONFIGURATION_PARAMETER): number
  NdisCloseConfiguration(ConfigurationHandle: ConfigurationHandle | null): void
  NdisReadNetworkAddress(ConfigurationHandle: ConfigurationHandle | null): { status: number; networkAddress: Uint8Array | null; networkAddressLength: number }
  NdisMQueryAdapterResources(WrapperConfigurationContext: object, BufferSize: number): { status: number; resourceList: CM_PARTIAL_RESOURCE_LIST | null; bufferSize: number }
  NdisReadPciSlotInformation(NdisAdapterHandle: object, SlotNumber: number, Offset: number, Length: number): { bytesRead: number; buffer: Uint8Array }
  NdisWritePciSlotInformation(NdisAdapterHandle: object, SlotNumber: number, Offset: number, Buffer: Uint8Array, Length: number): number

  // DMA
  NdisMAllocateMapRegisters(MiniportAdapterHandle: object, DmaChannel: number, DmaSize: number, BaseMapRegistersNeeded: number, MaximumPhysicalMapping: number): number
  NdisMStartBufferPhysicalMapping(MiniportAdapterHandle: object, Buffer: NDIS_BUFFER, PhysicalMapRegister: number, WriteToDevice: boolean, PhysicalAddressArray: NDIS_PHYSICAL_ADDRESS_UNIT[]): { arraySize: number }
  NdisMCompleteBufferPhysicalMapping(MiniportAdapterHandle: object, Buffer: NDIS_BUFFER, PhysicalMapRegister: number): void
  NdisMFreeMapRegisters(MiniportAdapterHandle: object): void
  NdisMInitializeScatterGatherDma(MiniportAdapterHandle: object, Dma64BitAddresses: boolean, MaximumPhysicalMapping: number): number
  NdisMAllocateSharedMemoryAsync(MiniportAdapterHandle: object, Length: number, Cached: boolean, Context: unknown): number

  // Packets and buffers
  NdisAllocatePacketPool(NumberOfDescriptors: number, ProtocolReservedLength: number): { status: number; poolHandle: PacketPoolHandle | null }
  NdisAllocatePacketPoolEx(NumberOfDescriptors: number, NumberOfOverflowDescriptors: number, ProtocolReservedLength: number): { status: number; poolHandle: PacketPoolHandle | null }
  NdisFreePacketPool(PoolHandle: NdisHandle | null): void
  NdisPacketPoolUsage(PoolHandle: NdisHandle | null): number
  NdisAllocatePacket(PoolHandle: NdisHandle | null): { status: number; packet: NDIS_PACKET | null }
  NdisDprAllocatePacket(PoolHandle: NdisHandle | null): { status: number; packet: NDIS_PACKET | null }
  NdisFreePacket(Packet: NDIS_PACKET): void
  NdisDprFreePacket(Packet: NDIS_PACKET): void
  NdisReinitializePacket(Packet: NDIS_PACKET): void
  NdisChainBufferAtFront(Packet: NDIS_PACKET, Buffer: NDIS_BUFFER): void
  NdisChainBufferAtBack(Packet: NDIS_PACKET, Buffer: NDIS_BUFFER): void
  NdisUnchainBufferAtFront(Packet: NDIS_PACKET): { buffer: NDIS_BUFFER | null }
  NdisUnchainBufferAtBack(Packet: NDIS_PACKET): { buffer: NDIS_BUFFER | null }
  NdisQueryPacket(Packet: NDIS_PACKET): { physicalBufferCount: number; bufferCount: number; firstBuffer: NDIS_BUFFER | null; totalPacketLength: number }
  NdisQueryPacketLength(Packet: NDIS_PACKET): { totalPacketLength: number }
  NdisRecalculatePacketCounts(Packet: NDIS_PACKET): void
  NdisGetFirstBufferFromPacketSafe(Packet: NDIS_PACKET, Priority: number): { firstBuffer: NDIS_BUFFER | null; firstBufferVA: number; firstBufferLength: number; totalBufferLength: number }
  NdisAllocateBufferPool(NumberOfDescriptors: number): { status: number; poolHandle: BufferPoolHandle | null }
  NdisFreeBufferPool(PoolHandle: NdisHandle | null): void
  NdisAllocateBuffer(PoolHandle: NdisHandle | null, VirtualAddress: number, Length: number): { status: number; buffer: NDIS_BUFFER | null }
  NdisFreeBuffer(Buffer: NDIS_BUFFER): void
  NdisQueryBuffer(Buffer: NDIS_BUFFER): { virtualAddress: number; length: number }
  NdisQueryBufferSafe(Buffer: NDIS_BUFFER, Priority: number): { virtualAddress: number; length: number }
  NdisQueryBufferOffset(Buffer: NDIS_BUFFER): { offset: number; length: number }
  NdisGetNextBuffer(CurrentBuffer: NDIS_BUFFER): { nextBuffer: NDIS_BUFFER | null }
  NdisBufferLength(Buffer: NDIS_BUFFER): number
  NdisBufferVirtualAddressSafe(Buffer: NDIS_BUFFER, Priority: number): number
  NdisAdjustBufferLength(Buffer: NDIS_BUFFER, Length: number): void
  NdisGetBufferPhysicalArraySize(Buffer: NDIS_BUFFER): { arraySize: number }
  NDIS_OOB_DATA_FROM_PACKET(Packet: NDIS_PACKET): NDIS_PACKET_OOB_DATA
  NDIS_GET_PACKET_STATUS(Packet: NDIS_PACKET): number
  NDIS_SET_PACKET_STATUS(Packet: NDIS_PACKET, Status: number): void
  NDIS_GET_PACKET_HEADER_SIZE(Packet: NDIS_PACKET): number
  NDIS_SET_PACKET_HEADER_SIZE(Packet: NDIS_PACKET, HeaderSize: number): void
  NDIS_PACKET_EXTENSION_FROM_PACKET(Packet: NDIS_PACKET): NDIS_PACKET_EXTENSION
  NDIS_PER_PACKET_INFO_FROM_PACKET(Packet: NDIS_PACKET, InfoType: number): unknown
  NDIS_SET_PACKET_CANCEL_ID(Packet: NDIS_PACKET, CancelId: unknown): void
  NDIS_GET_PACKET_CANCEL_ID(Packet: NDIS_PACKET): unknown
  NdisGeneratePartialCancelId(): number

  // Sends and receives
  NdisMSendComplete(MiniportAdapterHandle: object, Packet: NDIS_PACKET, Status: number): void
  NdisMSendResourcesAvailable(MiniportAdapterHandle: object): void
  NdisMEthIndicateReceive(MiniportAdapterHandle: object, MiniportReceiveContext: unknown, HeaderBuffer: number, HeaderBufferSize: number, LookaheadBuffer: number, LookaheadBufferSize: number, PacketSize: number): void
  NdisMEthIndicateReceiveComplete(MiniportAdapterHandle: object): void
  NdisMTransferDataComplete(MiniportAdapterHandle: object, Packet: NDIS_PACKET, Status: number, BytesTransferred: number): void
  NdisMIndicateReceivePacket(MiniportAdapterHandle: object, ReceivePackets: NDIS_PACKET[], NumberOfPackets: number): void

  // Interrupts and time
  NdisMRegisterInterrupt(MiniportAdapterHandle: object, InterruptVector: number, InterruptLevel: number, RequestIsr: boolean, SharedInterrupt: boolean, InterruptMode: number): { status: number; interrupt: NDIS_MINIPORT_INTERRUPT | null }
  NdisMDeregisterInterrupt(Interrupt: NDIS_MINIPORT_INTERRUPT | null): void
  NdisMSynchronizeWithInterrupt<T>(Interrupt: NDIS_MINIPORT_INTERRUPT | null, SynchronizeFunction: MiniportSynchronizeFunction<T>, SynchronizeContext: T): boolean
  NdisMInitializeTimer(MiniportAdapterHandle: object, TimerFunction: NdisTimerFunction, FunctionContext: unknown): { timer: NDIS_MINIPORT_TIMER | null }
  NdisMSetTimer(Timer: NDIS_MINIPORT_TIMER | null, MillisecondsToDelay: number): void
  NdisMSetPeriodicTimer(Timer: NDIS_MINIPORT_TIMER | null, MillisecondPeriod: number): void
  NdisMCancelTimer(Timer: NDIS_MINIPORT_TIMER | null): { timerCancelled: boolean }
  NdisInitializeTimer(TimerFunction: NdisTimerFunction, FunctionContext: unknown): { timer: NDIS_MINIPORT_TIMER | null }
  NdisSetTimer(Timer: NDIS_MINIPORT_TIMER | null, MillisecondsToDelay: number): void
  NdisCancelTimer(Timer: NDIS_MINIPORT_TIMER | null): { timerCancelled: boolean }

  // Requests and status
  NdisMQueryInformationComplete(MiniportAdapterHandle: object, Status: number): void
  NdisMSetInformationComplete(MiniportAdapterHandle: object, Status: number): void
  NdisMIndicateStatus(MiniportAdapterHandle: object, GeneralStatus: number, StatusBuffer: number, StatusBufferSize: number): void
  NdisMIndicateStatusComplete(MiniportAdapterHandle: object): void
  NdisMResetComplete(MiniportAdapterHandle: object, Status: number, AddressingReset: boolean): void
}
