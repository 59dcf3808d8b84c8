// Every constant the `ndis` object exposes for NDIS 6 and the HAL has the value the WDK headers
// give it (ndis.h, ntddndis.h, wdm.h, ntstatus.h). The values are facts of the headers; where a
// reference page states the value, it is named. The table below must name every constant
// NDIS_CONSTANTS exposes, so a constant added without being checked fails here. The C headers
// dmalab ships (include/ndis.h) must agree too: a C driver and a TypeScript one see one value.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { NDIS_CONSTANTS } from '../../src/ndis/api.js'

const DOCUMENTED: Record<string, number> = {
  // Status values (ndis.h; NDIS 6 maps several onto ntstatus.h's STATUS_NDIS_* values).
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
  NDIS_STATUS_PAUSED: 0xc023_002a, // STATUS_NDIS_PAUSED
  NDIS_STATUS_SEND_ABORTED: 0xc023_000c, // STATUS_NDIS_REQUEST_ABORTED (not 0xC0010013, NDIS_STATUS_NOT_INDICATING)
  NDIS_STATUS_LINK_STATE: 0x4001_0017,
  NDIS_STATUS_BAD_VERSION: 0xc001_0004,
  NDIS_STATUS_BAD_CHARACTERISTICS: 0xc001_0005,
  NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG: 0x4002_000b,
  // NdisAllocateMemory MemoryFlags.
  NDIS_MEMORY_CONTIGUOUS: 0x1,
  NDIS_MEMORY_NONCACHED: 0x2,
  // NDIS_SG_DMA_DESCRIPTION Flags and revisions; NdisMAllocateNetBufferSGList Flags.
  NDIS_SG_DMA_64_BIT_ADDRESS: 0x1,
  NDIS_SG_DMA_V3_HAL_API: 0x2,
  NDIS_SG_DMA_HYBRID_DMA: 0x4,
  NDIS_SG_DMA_DESCRIPTION_REVISION_1: 1,
  NDIS_SG_DMA_DESCRIPTION_REVISION_2: 2,
  NDIS_SG_LIST_WRITE_TO_DEVICE: 0x1,
  // NDIS_OBJECT_HEADER Type values.
  NDIS_OBJECT_TYPE_DEFAULT: 0x80,
  NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS: 0x81,
  NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION: 0x83,
  NDIS_OBJECT_TYPE_MINIPORT_INTERRUPT: 0x84,
  NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS: 0x8a,
  NDIS_OBJECT_TYPE_OID_REQUEST: 0x96,
  NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS: 0x97,
  NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES: 0x9e,
  NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES: 0x9f,
  NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES: 0xa0,
  NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES: 0xa2, // include/ndis.h only
  NDIS_OBJECT_TYPE_OFFLOAD: 0xa7,
  // NDIS_HALT_ACTION (enumeration order).
  NdisHaltDeviceDisabled: 0,
  NdisHaltDeviceInstanceDeInitialized: 1,
  NdisHaltDevicePoweredDown: 2,
  NdisHaltDeviceSurpriseRemoved: 3,
  NdisHaltDeviceFailed: 4,
  NdisHaltDeviceInitializationFailed: 5,
  NdisHaltDeviceStopped: 6,
  // NDIS_REQUEST_TYPE.
  NdisRequestQueryInformation: 0,
  NdisRequestSetInformation: 1,
  NdisRequestQueryStatistics: 2,
  NdisRequestMethod: 12,
  // OIDs (ntddndis.h).
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
  OID_TCP_OFFLOAD_CURRENT_CONFIG: 0xfc01_020b,
  OID_TCP_OFFLOAD_PARAMETERS: 0xfc01_020c,
  OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES: 0xfc01_020d,
  // Packet filter bits (ntddndis.h).
  NDIS_PACKET_TYPE_DIRECTED: 0x01,
  NDIS_PACKET_TYPE_MULTICAST: 0x02,
  NDIS_PACKET_TYPE_ALL_MULTICAST: 0x04,
  NDIS_PACKET_TYPE_BROADCAST: 0x08,
  NDIS_PACKET_TYPE_PROMISCUOUS: 0x20,
  // Send, receive and return flags; registration attribute flags.
  NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL: 0x1,
  NDIS_RECEIVE_FLAGS_RESOURCES: 0x2,
  NDIS_SEND_FLAGS_DISPATCH_LEVEL: 0x1,
  NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL: 0x1,
  NDIS_RETURN_FLAGS_DISPATCH_LEVEL: 0x1,
  NDIS_DEFAULT_PORT_NUMBER: 0,
  NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE: 0x01,
  // 0x40; 0x08 is NDIS_MINIPORT_ATTRIBUTES_NOT_CO_NDIS (NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES).
  NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER: 0x40,
  NDIS_INTERFACE_TYPE_PCI: 5, // NdisInterfacePci
  NdisMedium802_3: 0,
  // NdisAllocateCloneNetBufferList flags, pool and timer revisions (nblapi.h, ndis.h);
  // MEMORY_ALLOCATION_ALIGNMENT is 16 on x64 (ntdef.h).
  NDIS_CLONE_FLAGS_RESERVED: 0x1,
  NDIS_CLONE_FLAGS_USE_ORIGINAL_MDLS: 0x2,
  NET_BUFFER_POOL_PARAMETERS_REVISION_1: 1,
  NDIS_TIMER_CHARACTERISTICS_REVISION_1: 1,
  MEMORY_ALLOCATION_ALIGNMENT: 16,
  // CM_PARTIAL_RESOURCE_DESCRIPTOR Type (wdm.h).
  CmResourceTypePort: 1,
  CmResourceTypeInterrupt: 2,
  CmResourceTypeMemory: 3,
  // DEVICE_DESCRIPTION (wdm.h): versions, INTERFACE_TYPE PCIBus, DMA_WIDTH Width32Bits.
  DEVICE_DESCRIPTION_VERSION: 0,
  DEVICE_DESCRIPTION_VERSION1: 1,
  DEVICE_DESCRIPTION_VERSION2: 2,
  DEVICE_DESCRIPTION_VERSION3: 3,
  PCIBus: 5,
  Width32Bits: 2,
  // Task offload (ntddndis.h): NDIS_OFFLOAD and NDIS_OFFLOAD_PARAMETERS.
  NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1: 1,
  NDIS_OFFLOAD_REVISION_1: 1,
  NDIS_OFFLOAD_PARAMETERS_REVISION_1: 1,
  TcpIpChecksumNetBufferListInfo: 0,
  TcpLargeSendNetBufferListInfo: 2,
  NDIS_ENCAPSULATION_NOT_SUPPORTED: 0,
  NDIS_ENCAPSULATION_IEEE_802_3: 2,
  NDIS_OFFLOAD_NOT_SUPPORTED: 0,
  NDIS_OFFLOAD_SUPPORTED: 1,
  NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE: 0,
  NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE: 1,
  NDIS_OFFLOAD_PARAMETERS_NO_CHANGE: 0,
  NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED: 1,
  NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED: 2,
  NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED: 3,
  NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED: 4,
  NDIS_OFFLOAD_PARAMETERS_LSOV1_DISABLED: 1,
  NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED: 2,
  // IO_ALLOCATION_ACTION and GetScatterGatherListEx Flags (wdm.h).
  KeepObject: 1,
  DeallocateObject: 2,
  DeallocateObjectKeepRegisters: 3,
  DMA_SYNCHRONOUS_CALLBACK: 0x1,
  DMA_TRANSFER_CONTEXT_SIZE_V1: 128,
}

describe('NDIS and HAL constants have the WDK headers\' values', () => {
  it('every constant NDIS_CONSTANTS exposes is in the documented table, with its value', () => {
    const exposed = NDIS_CONSTANTS as Record<string, unknown>
    const unchecked = Object.keys(exposed).filter((name) => !Object.hasOwn(DOCUMENTED, name))
    expect(unchecked, 'constants with no documented value to check them against').toEqual([])
    const wrong = Object.keys(exposed).filter((name) => exposed[name] !== DOCUMENTED[name]).map((name) => `${name}: ${String(exposed[name])} (ndis.h/wdm.h: ${DOCUMENTED[name]})`)
    expect(wrong).toEqual([])
  })

  it('include/ndis.h, the header C miniports compile against, defines the same values', () => {
    const header = readFileSync(new URL('../../include/ndis.h', import.meta.url), 'utf8')
    const mismatches: string[] = []
    let compared = 0
    for (const m of header.matchAll(/^#define\s+(\w+)\s+(?:\(\(\w+\))?(0x[0-9A-Fa-f]+|\d+)L?\)?\s*$/gm)) {
      const [, name, literal] = m
      if (name === undefined || literal === undefined || !Object.hasOwn(DOCUMENTED, name)) continue
      compared++
      if (Number(literal) !== DOCUMENTED[name]) mismatches.push(`${name} ${literal}, documented ${DOCUMENTED[name]}`)
    }
    expect(mismatches).toEqual([])
    expect(compared).toBeGreaterThan(40)
  })
})
