// NDIS 5.1 constants with their ndis.h / ntddndis.h names and values (Windows XP / Server 2003
// DDK). They join the `ndis` object beside the NDIS 6 ones, so a ported NDIS 5 driver writes
// `ndis.NDIS_ATTRIBUTE_BUS_MASTER` where its C said NDIS_ATTRIBUTE_BUS_MASTER.

/** Status values NDIS 5 adds to those NDIS 6 shares (ndis.h). */
export const NDIS5_STATUS = {
  NDIS_STATUS_NOT_ACCEPTED: 0x0001_0003,
  NDIS_STATUS_RESET_START: 0x4001_0004,
  NDIS_STATUS_RESET_END: 0x4001_0005,
  NDIS_STATUS_BAD_VERSION: 0xc001_0004,
  NDIS_STATUS_BAD_CHARACTERISTICS: 0xc001_0005,
  NDIS_STATUS_OPEN_FAILED: 0xc001_0007,
  NDIS_STATUS_DEVICE_FAILED: 0xc001_0008,
  NDIS_STATUS_MULTICAST_FULL: 0xc001_0009,
  NDIS_STATUS_REQUEST_ABORTED: 0xc001_000c,
  NDIS_STATUS_RESET_IN_PROGRESS: 0xc001_000d,
  NDIS_STATUS_INVALID_PACKET: 0xc001_000f,
  NDIS_STATUS_ADAPTER_NOT_READY: 0xc001_0011,
  NDIS_STATUS_INVALID_DATA: 0xc001_0015,
  NDIS_STATUS_UNSUPPORTED_MEDIA: 0xc001_0019,
  NDIS_STATUS_RESOURCE_CONFLICT: 0xc001_001e,
} as const

/** NdisMSetAttributesEx AttributeFlags (ndis.h). */
export const NDIS_ATTRIBUTE = {
  NDIS_ATTRIBUTE_IGNORE_PACKET_TIMEOUT: 0x0000_0001,
  NDIS_ATTRIBUTE_IGNORE_REQUEST_TIMEOUT: 0x0000_0002,
  NDIS_ATTRIBUTE_IGNORE_TOKEN_RING_ERRORS: 0x0000_0004,
  NDIS_ATTRIBUTE_BUS_MASTER: 0x0000_0008,
  NDIS_ATTRIBUTE_INTERMEDIATE_DRIVER: 0x0000_0010,
  NDIS_ATTRIBUTE_DESERIALIZE: 0x0000_0020,
  NDIS_ATTRIBUTE_NO_HALT_ON_SUSPEND: 0x0000_0040,
  NDIS_ATTRIBUTE_SURPRISE_REMOVE_OK: 0x0000_0080,
  NDIS_ATTRIBUTE_NOT_CO_NDIS: 0x0000_0100,
  NDIS_ATTRIBUTE_USES_SAFE_BUFFER_APIS: 0x0000_0200,
} as const

/** NDIS_INTERFACE_TYPE: the HAL's INTERFACE_TYPE values (wdm.h). */
export const NDIS_INTERFACE_TYPE = {
  NdisInterfaceInternal: 0,
  NdisInterfaceIsa: 1,
  NdisInterfaceEisa: 2,
  NdisInterfaceMca: 3,
  NdisInterfaceTurboChannel: 4,
  NdisInterfacePci: 5,
  NdisInterfacePcMcia: 8,
} as const

/** NdisMAllocateMapRegisters DmaSize (ndis.h). */
export const NDIS_DMA_SIZE = {
  NDIS_DMA_24BITS: 0,
  NDIS_DMA_32BITS: 1,
  NDIS_DMA_64BITS: 2,
} as const

/** NDIS_MEDIUM (ntddndis.h): the media MiniportInitialize may be offered. */
export const NDIS5_MEDIUM = {
  NdisMedium802_3: 0,
  NdisMedium802_5: 1,
  NdisMediumFddi: 2,
  NdisMediumWan: 3,
  NdisMediumLocalTalk: 4,
  NdisMediumDix: 5,
  NdisMediumWirelessWan: 9,
} as const

/** NDIS_PARAMETER_TYPE (ndis.h) for NdisReadConfiguration. */
export const NDIS_PARAMETER_TYPE = {
  NdisParameterInteger: 0,
  NdisParameterHexInteger: 1,
  NdisParameterString: 2,
  NdisParameterMultiString: 3,
  NdisParameterBinary: 4,
} as const

/** NDIS_INTERRUPT_MODE: KINTERRUPT_MODE (wdm.h). */
export const NDIS_INTERRUPT_MODE = {
  NdisInterruptLevelSensitive: 0,
  NdisInterruptLatched: 1,
} as const

/** NDIS_PER_PACKET_INFO indexes (ndis.h). */
export const NDIS_PER_PACKET_INFO = {
  TcpIpChecksumPacketInfo: 0,
  IpSecPacketInfo: 1,
  TcpLargeSendPacketInfo: 2,
  ClassificationHandlePacketInfo: 3,
  NdisReserved: 4,
  ScatterGatherListPacketInfo: 5,
  Ieee8021QInfo: 6,
  OriginalPacketInfo: 7,
  PacketCancelId: 8,
  MaxPerPacketInfo: 9,
} as const

/** NDIS_DEVICE_PNP_EVENT (ndis.h): what MiniportPnPEventNotify is told. */
export const NDIS_DEVICE_PNP_EVENT = {
  NdisDevicePnPEventQueryRemoved: 0,
  NdisDevicePnPEventRemoved: 1,
  NdisDevicePnPEventSurpriseRemoved: 2,
  NdisDevicePnPEventQueryStopped: 3,
  NdisDevicePnPEventStopped: 4,
  NdisDevicePnPEventPowerProfileChanged: 5,
} as const

/** NDIS_POWER_PROFILE (ndis.h): the ULONG NdisDevicePnPEventPowerProfileChanged carries. */
export const NDIS_POWER_PROFILE = {
  NdisPowerProfileBattery: 0,
  NdisPowerProfileAcOnLine: 1,
} as const

/** OID_GEN_MAC_OPTIONS bits (ntddndis.h). */
export const NDIS_MAC_OPTION = {
  NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA: 0x0000_0001,
  NDIS_MAC_OPTION_RECEIVE_SERIALIZED: 0x0000_0002,
  NDIS_MAC_OPTION_TRANSFERS_NOT_PEND: 0x0000_0004,
  NDIS_MAC_OPTION_NO_LOOPBACK: 0x0000_0008,
  NDIS_MAC_OPTION_FULL_DUPLEX: 0x0000_0010,
  NDIS_MAC_OPTION_EOTX_INDICATION: 0x0000_0020,
  NDIS_MAC_OPTION_8021P_PRIORITY: 0x0000_0040,
} as const

/** NDIS_MEDIA_STATE for OID_GEN_MEDIA_CONNECT_STATUS. */
export const NDIS_MEDIA_STATE = {
  NdisMediaStateConnected: 0,
  NdisMediaStateDisconnected: 1,
} as const

/** The OIDs NDIS and a binding protocol send an NDIS 5 Ethernet miniport (ntddndis.h). */
export const OID5 = {
  OID_GEN_SUPPORTED_LIST: 0x0001_0101,
  OID_GEN_HARDWARE_STATUS: 0x0001_0102,
  OID_GEN_MEDIA_SUPPORTED: 0x0001_0103,
  OID_GEN_MEDIA_IN_USE: 0x0001_0104,
  OID_GEN_MAXIMUM_LOOKAHEAD: 0x0001_0105,
  OID_GEN_MAXIMUM_FRAME_SIZE: 0x0001_0106,
  OID_GEN_LINK_SPEED: 0x0001_0107,
  OID_GEN_TRANSMIT_BUFFER_SPACE: 0x0001_0108,
  OID_GEN_RECEIVE_BUFFER_SPACE: 0x0001_0109,
  OID_GEN_TRANSMIT_BLOCK_SIZE: 0x0001_010a,
  OID_GEN_RECEIVE_BLOCK_SIZE: 0x0001_010b,
  OID_GEN_VENDOR_ID: 0x0001_010c,
  OID_GEN_VENDOR_DESCRIPTION: 0x0001_010d,
  OID_GEN_CURRENT_PACKET_FILTER: 0x0001_010e,
  OID_GEN_CURRENT_LOOKAHEAD: 0x0001_010f,
  OID_GEN_DRIVER_VERSION: 0x0001_0110,
  OID_GEN_MAXIMUM_TOTAL_SIZE: 0x0001_0111,
  OID_GEN_MAC_OPTIONS: 0x0001_0113,
  OID_GEN_MEDIA_CONNECT_STATUS: 0x0001_0114,
  OID_GEN_MAXIMUM_SEND_PACKETS: 0x0001_0115,
  OID_GEN_VENDOR_DRIVER_VERSION: 0x0001_0116,
  OID_GEN_PHYSICAL_MEDIUM: 0x0001_0202,
  OID_GEN_XMIT_OK: 0x0002_0101,
  OID_GEN_RCV_OK: 0x0002_0102,
  OID_GEN_XMIT_ERROR: 0x0002_0103,
  OID_GEN_RCV_ERROR: 0x0002_0104,
  OID_GEN_RCV_NO_BUFFER: 0x0002_0105,
  OID_802_3_PERMANENT_ADDRESS: 0x0101_0101,
  OID_802_3_CURRENT_ADDRESS: 0x0101_0102,
  OID_802_3_MULTICAST_LIST: 0x0101_0103,
  OID_802_3_MAXIMUM_LIST_SIZE: 0x0101_0104,
  OID_802_3_RCV_ERROR_ALIGNMENT: 0x0102_0101,
  OID_802_3_XMIT_ONE_COLLISION: 0x0102_0102,
  OID_802_3_XMIT_MORE_COLLISIONS: 0x0102_0103,
  OID_PNP_CAPABILITIES: 0xfd01_0100,
} as const

/** NDIS_HARDWARE_STATUS (ntddndis.h). */
export const NDIS_HARDWARE_STATUS = {
  NdisHardwareStatusReady: 0,
  NdisHardwareStatusInitializing: 1,
  NdisHardwareStatusReset: 2,
  NdisHardwareStatusClosing: 3,
  NdisHardwareStatusNotReady: 4,
} as const
