// The WDK structures a C driver and dmalab exchange, in their 32-bit (x86) layouts, declared
// field by field from the WDK documentation (each cites its reference page). include/ndis.h and
// include/wdm.h declare the same structures for the driver; test/driver/c/layout.test.ts
// compiles the headers against every offset and size here.
import { array, struct, union } from './layout.js'
import { NDIS_OBJECT_HEADER, NET_LAYOUTS } from './structs-net.js'

export * from './structs-net.js'

// ---- wdm.h -------------------------------------------------------------------------------------

/** UNICODE_STRING (ntdef.h): Length and MaximumLength in bytes, Buffer of WCHARs. */
export const UNICODE_STRING = struct('UNICODE_STRING', [
  ['Length', 'USHORT'],
  ['MaximumLength', 'USHORT'],
  ['Buffer', 'PVOID'],
])

/**
 * DRIVER_OBJECT (wdm.h, "DRIVER_OBJECT structure"): what DriverEntry receives. dmalab fills
 * Type (IO_TYPE_DRIVER = 4), Size, DriverName; DriverUnload is the driver's to set.
 */
export const DRIVER_OBJECT = struct('DRIVER_OBJECT', [
  ['Type', 'USHORT'],
  ['Size', 'USHORT'],
  ['DeviceObject', 'PVOID'],
  ['Flags', 'ULONG'],
  ['DriverStart', 'PVOID'],
  ['DriverSize', 'ULONG'],
  ['DriverSection', 'PVOID'],
  ['DriverExtension', 'PVOID'],
  ['DriverName', UNICODE_STRING],
  ['HardwareDatabase', 'PVOID'],
  ['FastIoDispatch', 'PVOID'],
  ['DriverInit', 'PVOID'],
  ['DriverStartIo', 'PVOID'],
  ['DriverUnload', 'PVOID'],
  // IRP_MJ_MAXIMUM_FUNCTION + 1 dispatch routines.
  ['MajorFunction', array('PVOID', 28)],
])

/**
 * CM_PARTIAL_RESOURCE_DESCRIPTOR (wdm.h, "CM_PARTIAL_RESOURCE_DESCRIPTOR structure"), declared
 * under 4-byte packing as the WDK's resource lists are: the union starts at offset 4.
 */
const CM_RESOURCE_UNION = union('CM_RESOURCE_UNION', [
  ['Memory', struct('CM_RESOURCE_MEMORY', [['Start', 'LARGE_INTEGER'], ['Length', 'ULONG']], { pack: 4 })],
  ['Port', struct('CM_RESOURCE_PORT', [['Start', 'LARGE_INTEGER'], ['Length', 'ULONG']], { pack: 4 })],
  ['Interrupt', struct('CM_RESOURCE_INTERRUPT', [['Level', 'ULONG'], ['Vector', 'ULONG'], ['Affinity', 'ULONG']], { pack: 4 })],
], { pack: 4 })

export const CM_PARTIAL_RESOURCE_DESCRIPTOR = struct('CM_PARTIAL_RESOURCE_DESCRIPTOR', [
  ['Type', 'UCHAR'],
  ['ShareDisposition', 'UCHAR'],
  ['Flags', 'USHORT'],
  ['u', CM_RESOURCE_UNION],
], { pack: 4 })

/** CM_PARTIAL_RESOURCE_LIST (wdm.h); NDIS's NDIS_RESOURCE_LIST is the same structure. */
export const CM_PARTIAL_RESOURCE_LIST = struct('CM_PARTIAL_RESOURCE_LIST', [
  ['Version', 'USHORT'],
  ['Revision', 'USHORT'],
  ['Count', 'ULONG'],
  ['PartialDescriptors', array(CM_PARTIAL_RESOURCE_DESCRIPTOR, 1)],
], { pack: 4 })

/** CM_RESOURCE_LIST (wdm.h): full descriptors, each an interface type, a bus and a partial list. */
export const CM_FULL_RESOURCE_DESCRIPTOR = struct('CM_FULL_RESOURCE_DESCRIPTOR', [
  ['InterfaceType', 'ULONG'],
  ['BusNumber', 'ULONG'],
  ['PartialResourceList', CM_PARTIAL_RESOURCE_LIST],
], { pack: 4 })

export const CM_RESOURCE_LIST = struct('CM_RESOURCE_LIST', [
  ['Count', 'ULONG'],
  ['List', array(CM_FULL_RESOURCE_DESCRIPTOR, 1)],
], { pack: 4 })

/**
 * DEVICE_DESCRIPTION (wdm.h, "DEVICE_DESCRIPTION structure") through version 3, what
 * IoGetDmaAdapter reads.
 */
export const DEVICE_DESCRIPTION = struct('DEVICE_DESCRIPTION', [
  ['Version', 'ULONG'],
  ['Master', 'UCHAR'],
  ['ScatterGather', 'UCHAR'],
  ['DemandMode', 'UCHAR'],
  ['AutoInitialize', 'UCHAR'],
  ['Dma32BitAddresses', 'UCHAR'],
  ['IgnoreCount', 'UCHAR'],
  ['Reserved1', 'UCHAR'],
  ['Dma64BitAddresses', 'UCHAR'],
  ['BusNumber', 'ULONG'],
  ['DmaChannel', 'ULONG'],
  ['InterfaceType', 'ULONG'],
  ['DmaWidth', 'ULONG'],
  ['DmaSpeed', 'ULONG'],
  ['MaximumLength', 'ULONG'],
  ['DmaPort', 'ULONG'],
  ['DmaAddressWidth', 'ULONG'],
  ['DmaControllerInstance', 'ULONG'],
  ['DmaRequestLine', 'ULONG'],
  ['DeviceAddress', 'LARGE_INTEGER'],
])

/** MDL (wdm.h, "MDL structure"): 28 bytes on x86, followed by its PFN_NUMBER (ULONG) array. */
export const MDL = struct('MDL', [
  ['Next', 'PVOID'],
  ['Size', 'USHORT'],
  ['MdlFlags', 'USHORT'],
  ['Process', 'PVOID'],
  ['MappedSystemVa', 'PVOID'],
  ['StartVa', 'PVOID'],
  ['ByteCount', 'ULONG'],
  ['ByteOffset', 'ULONG'],
])

/** SCATTER_GATHER_ELEMENT / SCATTER_GATHER_LIST (wdm.h): the list's Elements start at 8. */
export const SCATTER_GATHER_ELEMENT = struct('SCATTER_GATHER_ELEMENT', [
  ['Address', 'LARGE_INTEGER'],
  ['Length', 'ULONG'],
  ['Reserved', 'PVOID'],
])

export const SCATTER_GATHER_LIST = struct('SCATTER_GATHER_LIST', [
  ['NumberOfElements', 'ULONG'],
  ['Reserved', 'PVOID'],
  ['Elements', array(SCATTER_GATHER_ELEMENT, 1)],
])

/** DMA_ADAPTER (wdm.h): Version, Size, and the DMA_OPERATIONS a driver calls through. */
export const DMA_ADAPTER = struct('DMA_ADAPTER', [
  ['Version', 'USHORT'],
  ['Size', 'USHORT'],
  ['DmaOperations', 'PVOID'],
])

/** DMA_OPERATIONS (wdm.h, "DMA_OPERATIONS structure"), version 1 through AllocateCommonBufferEx (version 3). */
export const DMA_OPERATIONS = struct('DMA_OPERATIONS', [
  ['Size', 'ULONG'],
  ['PutDmaAdapter', 'PVOID'],
  ['AllocateCommonBuffer', 'PVOID'],
  ['FreeCommonBuffer', 'PVOID'],
  ['AllocateAdapterChannel', 'PVOID'],
  ['FlushAdapterBuffers', 'PVOID'],
  ['FreeAdapterChannel', 'PVOID'],
  ['FreeMapRegisters', 'PVOID'],
  ['MapTransfer', 'PVOID'],
  ['GetDmaAlignment', 'PVOID'],
  ['ReadDmaCounter', 'PVOID'],
  ['GetScatterGatherList', 'PVOID'],
  ['PutScatterGatherList', 'PVOID'],
  ['CalculateScatterGatherList', 'PVOID'],
  ['BuildScatterGatherList', 'PVOID'],
  ['BuildMdlFromScatterGatherList', 'PVOID'],
  ['GetDmaAdapterInfo', 'PVOID'],
  ['GetDmaTransferInfo', 'PVOID'],
  ['InitializeDmaTransferContext', 'PVOID'],
  ['AllocateCommonBufferEx', 'PVOID'],
])

// ---- ndis.h ------------------------------------------------------------------------------------

/** NDIS_MINIPORT_DRIVER_CHARACTERISTICS (ndis.h), through the NDIS 6.0 handlers. */
export const NDIS_MINIPORT_DRIVER_CHARACTERISTICS = struct('NDIS_MINIPORT_DRIVER_CHARACTERISTICS', [
  ['Header', NDIS_OBJECT_HEADER],
  ['MajorNdisVersion', 'UCHAR'],
  ['MinorNdisVersion', 'UCHAR'],
  ['MajorDriverVersion', 'UCHAR'],
  ['MinorDriverVersion', 'UCHAR'],
  ['Flags', 'ULONG'],
  ['SetOptionsHandler', 'PVOID'],
  ['InitializeHandlerEx', 'PVOID'],
  ['HaltHandlerEx', 'PVOID'],
  ['UnloadHandler', 'PVOID'],
  ['PauseHandler', 'PVOID'],
  ['RestartHandler', 'PVOID'],
  ['OidRequestHandler', 'PVOID'],
  ['SendNetBufferListsHandler', 'PVOID'],
  ['ReturnNetBufferListsHandler', 'PVOID'],
  ['CancelSendHandler', 'PVOID'],
  ['CheckForHangHandlerEx', 'PVOID'],
  ['ResetHandlerEx', 'PVOID'],
  ['DevicePnPEventNotifyHandler', 'PVOID'],
  ['ShutdownHandlerEx', 'PVOID'],
  ['CancelOidRequestHandler', 'PVOID'],
])

/** NDIS_MINIPORT_INIT_PARAMETERS (ndis.h): NetLuid is a 64-bit union, 8-aligned. */
export const NDIS_MINIPORT_INIT_PARAMETERS = struct('NDIS_MINIPORT_INIT_PARAMETERS', [
  ['Header', NDIS_OBJECT_HEADER],
  ['Flags', 'ULONG'],
  ['AllocatedResources', 'PVOID'],
  ['IMDeviceInstanceContext', 'PVOID'],
  ['MiniportAddDeviceContext', 'PVOID'],
  ['IfIndex', 'ULONG'],
  ['NetLuid', 'ULONG64'],
  ['DefaultPortAuthStates', 'PVOID'],
  ['PciDeviceCustomProperties', 'PVOID'],
])

/** NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES (ndis.h). */
export const NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES = struct('NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES', [
  ['Header', NDIS_OBJECT_HEADER],
  ['MiniportAdapterContext', 'PVOID'],
  ['AttributeFlags', 'ULONG'],
  ['CheckForHangTimeInSeconds', 'ULONG'],
  ['InterfaceType', 'ULONG'],
])

/** NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES (ndis.h), NDIS 6.0 revision 1. */
export const NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES = struct('NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES', [
  ['Header', NDIS_OBJECT_HEADER],
  ['Flags', 'ULONG'],
  ['MediaType', 'ULONG'],
  ['PhysicalMediumType', 'ULONG'],
  ['MtuSize', 'ULONG'],
  ['MaxXmitLinkSpeed', 'ULONG64'],
  ['XmitLinkSpeed', 'ULONG64'],
  ['MaxRcvLinkSpeed', 'ULONG64'],
  ['RcvLinkSpeed', 'ULONG64'],
  ['MediaConnectState', 'ULONG'],
  ['MediaDuplexState', 'ULONG'],
  ['LookaheadSize', 'ULONG'],
  ['PowerManagementCapabilities', 'PVOID'],
  ['MacOptions', 'ULONG'],
  ['SupportedPacketFilters', 'ULONG'],
  ['MaxMulticastListSize', 'ULONG'],
  ['MacAddressLength', 'USHORT'],
  ['PermanentMacAddress', array('UCHAR', 32)],
  ['CurrentMacAddress', array('UCHAR', 32)],
  ['RecvScaleCapabilities', 'PVOID'],
  ['AccessType', 'ULONG'],
  ['DirectionType', 'ULONG'],
  ['ConnectionType', 'ULONG'],
  ['IfType', 'USHORT'],
  ['IfConnectorPresent', 'UCHAR'],
  ['SupportedStatistics', 'ULONG'],
  ['SupportedPauseFunctions', 'ULONG'],
  ['DataBackFillSize', 'ULONG'],
  ['ContextBackFillSize', 'ULONG'],
  ['SupportedOidList', 'PVOID'],
  ['SupportedOidListLength', 'ULONG'],
  ['AutoNegotiationFlags', 'ULONG'],
])

/** NDIS_MINIPORT_PAUSE_PARAMETERS and NDIS_MINIPORT_RESTART_PARAMETERS (ndis.h). */
export const NDIS_MINIPORT_PAUSE_PARAMETERS = struct('NDIS_MINIPORT_PAUSE_PARAMETERS', [
  ['Header', NDIS_OBJECT_HEADER],
  ['Flags', 'ULONG'],
  ['PauseReason', 'ULONG'],
])

export const NDIS_MINIPORT_RESTART_PARAMETERS = struct('NDIS_MINIPORT_RESTART_PARAMETERS', [
  ['Header', NDIS_OBJECT_HEADER],
  ['RestartAttributes', 'PVOID'],
  ['PortNumber', 'ULONG'],
  ['Flags', 'ULONG'],
])

const OID_QUERY = struct('NDIS_OID_QUERY', [
  ['Oid', 'ULONG'], ['InformationBuffer', 'PVOID'], ['InformationBufferLength', 'ULONG'], ['BytesWritten', 'ULONG'], ['BytesNeeded', 'ULONG'],
])
const OID_SET = struct('NDIS_OID_SET', [
  ['Oid', 'ULONG'], ['InformationBuffer', 'PVOID'], ['InformationBufferLength', 'ULONG'], ['BytesRead', 'ULONG'], ['BytesNeeded', 'ULONG'],
])
const OID_METHOD = struct('NDIS_OID_METHOD', [
  ['Oid', 'ULONG'], ['InformationBuffer', 'PVOID'], ['InputBufferLength', 'ULONG'], ['OutputBufferLength', 'ULONG'], ['MethodId', 'ULONG'],
  ['BytesWritten', 'ULONG'], ['BytesRead', 'ULONG'], ['BytesNeeded', 'ULONG'],
])

/** NDIS_OID_REQUEST (ndis.h, "NDIS_OID_REQUEST structure"), NDIS 6.0 revision 1. */
export const NDIS_OID_REQUEST = struct('NDIS_OID_REQUEST', [
  ['Header', NDIS_OBJECT_HEADER],
  ['RequestType', 'ULONG'],
  ['PortNumber', 'ULONG'],
  ['Timeout', 'ULONG'],
  ['RequestId', 'PVOID'],
  ['RequestHandle', 'PVOID'],
  ['DATA', union('NDIS_OID_REQUEST_DATA', [['QUERY_INFORMATION', OID_QUERY], ['SET_INFORMATION', OID_SET], ['METHOD_INFORMATION', OID_METHOD]])],
  // NDIS_OID_REQUEST_NDIS_RESERVED_SIZE (16) pointers.
  ['NdisReserved', array('PVOID', 16)],
  ['MiniportReserved', array('PVOID', 2)],
  ['SourceReserved', array('PVOID', 2)],
  ['SupportedRevision', 'UCHAR'],
  ['Reserved1', 'UCHAR'],
  ['Reserved2', 'USHORT'],
])

/** Every layout, for the header-agreement test. */
export const ALL_LAYOUTS = [
  UNICODE_STRING, DRIVER_OBJECT, CM_PARTIAL_RESOURCE_DESCRIPTOR, CM_PARTIAL_RESOURCE_LIST, CM_FULL_RESOURCE_DESCRIPTOR, CM_RESOURCE_LIST, DEVICE_DESCRIPTION, MDL, SCATTER_GATHER_ELEMENT, SCATTER_GATHER_LIST,
  DMA_ADAPTER, DMA_OPERATIONS, NDIS_OBJECT_HEADER, NDIS_MINIPORT_DRIVER_CHARACTERISTICS, NDIS_MINIPORT_INIT_PARAMETERS,
  NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES, NDIS_MINIPORT_PAUSE_PARAMETERS,
  NDIS_MINIPORT_RESTART_PARAMETERS, NDIS_OID_REQUEST, ...NET_LAYOUTS,
] as const
