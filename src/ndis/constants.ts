// NDIS and HAL constants a miniport uses, with their WDK names and values (ndis.h, wdm.h,
// ntstatus.h). They are part of the `ndis` object a driver receives, so a ported driver
// writes `ndis.NDIS_STATUS_SUCCESS` where the C said `NDIS_STATUS_SUCCESS`.
import { DEVICE_DESCRIPTION_VERSION } from '../kernel/hal.js'
import { NTSTATUS } from '../kernel/wdm.js'
import { NDIS5_STATUS } from './v5/constants.js'

export const NDIS_STATUS = {
  NDIS_STATUS_SUCCESS: 0x0000_0000,
  NDIS_STATUS_PENDING: 0x0000_0103,
  NDIS_STATUS_FAILURE: 0xc000_0001,
  NDIS_STATUS_RESOURCES: 0xc000_009a,
  NDIS_STATUS_NOT_SUPPORTED: 0xc000_00bb,
  NDIS_STATUS_INVALID_PARAMETER: 0xc000_000d,
  NDIS_STATUS_INVALID_LENGTH: 0xc001_0014,
  NDIS_STATUS_BUFFER_TOO_SHORT: 0xc001_0016,
  NDIS_STATUS_INVALID_OID: 0xc001_0017,
  NDIS_STATUS_ADAPTER_NOT_FOUND: 0xc001_0006,
  NDIS_STATUS_MEDIA_CONNECT: 0x4001_000b,
  NDIS_STATUS_MEDIA_DISCONNECT: 0x4001_000c,
  NDIS_STATUS_PAUSED: 0xc023_002a,
  /** STATUS_NDIS_REQUEST_ABORTED in NDIS 6 (0xC0010013 is NDIS 5's NDIS_STATUS_NOT_INDICATING). */
  NDIS_STATUS_SEND_ABORTED: 0xc023_000c,
  NDIS_STATUS_LINK_STATE: 0x4001_0017,
  NDIS_STATUS_BAD_VERSION: 0xc001_0004,
  NDIS_STATUS_BAD_CHARACTERISTICS: 0xc001_0005,
} as const

/** NTSTATUS values: the kernel's one table (kernel/wdm.ts), under the name NDIS code uses. */
export const NT_STATUS = NTSTATUS

export const NDIS_MEMORY = {
  NDIS_MEMORY_CONTIGUOUS: 0x1,
  NDIS_MEMORY_NONCACHED: 0x2,
} as const

export const NDIS_SG_DMA = {
  NDIS_SG_DMA_64_BIT_ADDRESS: 0x1,
  NDIS_SG_DMA_V3_HAL_API: 0x2,
  NDIS_SG_DMA_HYBRID_DMA: 0x4,
  /** NDIS_SG_DMA_DESCRIPTION Header.Revision values (ndis.h; revision 2 is NDIS 6.85). */
  NDIS_SG_DMA_DESCRIPTION_REVISION_1: 1,
  NDIS_SG_DMA_DESCRIPTION_REVISION_2: 2,
  /**
   * NdisMAllocateNetBufferSGList Flags: set, the transfer goes from the NET_BUFFER to the
   * device (the send path); clear, from the device into the NET_BUFFER (ndis.h).
   */
  NDIS_SG_LIST_WRITE_TO_DEVICE: 0x1,
} as const

/** NDIS_OBJECT_HEADER types for the attribute and parameter structures. */
export const NDIS_OBJECT_TYPE = {
  NDIS_OBJECT_TYPE_DEFAULT: 0x80,
  NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS: 0x81,
  NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION: 0x83,
  NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT: 0x84,
  NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS: 0x8a,
  NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES: 0x9e,
  NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES: 0x9f,
  NDIS_OBJECT_TYPE_OID_REQUEST: 0x96,
  NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS: 0x97,
} as const

export const NDIS_HALT_ACTION = {
  NdisHaltDeviceDisabled: 0,
  NdisHaltDeviceInstanceDeInitialized: 1,
  NdisHaltDevicePoweredDown: 2,
  NdisHaltDeviceSurpriseRemoved: 3,
  NdisHaltDeviceFailed: 4,
  NdisHaltDeviceInitializationFailed: 5,
  NdisHaltDeviceStopped: 6,
} as const

export const NDIS_REQUEST_TYPE = {
  NdisRequestQueryInformation: 0,
  NdisRequestSetInformation: 1,
  NdisRequestQueryStatistics: 2,
  NdisRequestMethod: 12,
} as const

/** The OIDs the protocol side queries; drivers may support more. */
export const OID = {
  OID_GEN_SUPPORTED_LIST: 0x0001_0101,
  OID_GEN_HARDWARE_STATUS: 0x0001_0102,
  OID_GEN_MEDIA_SUPPORTED: 0x0001_0103,
  OID_GEN_MAXIMUM_FRAME_SIZE: 0x0001_0106,
  OID_GEN_LINK_SPEED: 0x0001_0107,
  OID_GEN_CURRENT_PACKET_FILTER: 0x0001_010e,
  OID_GEN_MAXIMUM_TOTAL_SIZE: 0x0001_0111,
  OID_GEN_MEDIA_CONNECT_STATUS: 0x0001_0114,
  OID_GEN_XMIT_OK: 0x0002_0101,
  OID_GEN_RCV_OK: 0x0002_0102,
  OID_GEN_XMIT_ERROR: 0x0002_0103,
  OID_GEN_RCV_ERROR: 0x0002_0104,
  OID_GEN_RCV_NO_BUFFER: 0x0002_0105,
  OID_GEN_STATISTICS: 0x0002_0106,
  OID_802_3_PERMANENT_ADDRESS: 0x0101_0101,
  OID_802_3_CURRENT_ADDRESS: 0x0101_0102,
  OID_802_3_MULTICAST_LIST: 0x0101_0103,
} as const

export const NDIS_PACKET_TYPE = {
  NDIS_PACKET_TYPE_DIRECTED: 0x0001,
  NDIS_PACKET_TYPE_MULTICAST: 0x0002,
  NDIS_PACKET_TYPE_ALL_MULTICAST: 0x0004,
  NDIS_PACKET_TYPE_BROADCAST: 0x0008,
  NDIS_PACKET_TYPE_PROMISCUOUS: 0x0020,
} as const

export const NDIS_FLAGS = {
  NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL: 0x1,
  NDIS_RECEIVE_FLAGS_RESOURCES: 0x2,
  NDIS_SEND_FLAGS_DISPATCH_LEVEL: 0x1,
  NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL: 0x1,
  NDIS_RETURN_FLAGS_DISPATCH_LEVEL: 0x1,
  NDIS_DEFAULT_PORT_NUMBER: 0,
  NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE: 0x1,
  /** 0x40 in ndis.h; 0x8 is NDIS_MINIPORT_ATTRIBUTES_NOT_CO_NDIS. */
  NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER: 0x40,
  NDIS_INTERFACE_TYPE_PCI: 5,
} as const

export const NDIS_MEDIUM = { NdisMedium802_3: 0 } as const

/** NET_BUFFER and timer-object constants (nblapi.h, ndis.h). */
export const NDIS_NB_CONSTANTS = {
  NDIS_CLONE_FLAGS_RESERVED: 0x1,
  NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS: 0x2,
  NET_BUFFER_POOL_PARAMETERS_REVISION_1: 1,
  NDIS_TIMER_CHARACTERISTICS_REVISION_1: 1,
  /** ContextSize and ContextBackFill of NdisAllocateNetBufferList are multiples of it (x64). */
  MEMORY_ALLOCATION_ALIGNMENT: 16,
} as const

/** Page priorities for NdisAllocateMemoryWithTagPriority and MmGetSystemAddressForMdlSafe. */
export const MM_PAGE_PRIORITY = {
  LowPagePriority: 0,
  NormalPagePriority: 16,
  HighPagePriority: 32,
} as const

/** CM_PARTIAL_RESOURCE_DESCRIPTOR types (wdm.h). */
export const CM_RESOURCE_TYPE = {
  CmResourceTypePort: 1,
  CmResourceTypeInterrupt: 2,
  CmResourceTypeMemory: 3,
} as const

/** CM_PARTIAL_RESOURCE_DESCRIPTOR Flags of a port resource: the range is in I/O space (wdm.h CM_RESOURCE_PORT_IO). */
export const CM_RESOURCE_PORT_IO = 0x0001

/** DEVICE_DESCRIPTION versions and INTERFACE_TYPE values the HAL accepts (the kernel's, kernel/hal.ts). */
export { DEVICE_DESCRIPTION_VERSION }

export type NdisStatus = number

/** Name of a status value for reports: 0xC000009A → NDIS_STATUS_RESOURCES. */
export function statusName(status: number): string {
  for (const [name, value] of Object.entries(NDIS_STATUS)) if (value === status >>> 0) return name
  for (const [name, value] of Object.entries(NDIS5_STATUS)) if (value === status >>> 0) return name
  return `0x${(status >>> 0).toString(16).padStart(8, '0')}`
}

export const isSuccess = (status: number): boolean => status >>> 0 < 0x8000_0000
