// The NDIS 5.1 structures a C miniport and NDIS exchange, in their 32-bit (x86) layouts,
// declared field by field from the NDIS 5.1 reference (learn.microsoft.com/previous-versions/
// windows/hardware/network; each cites its page). include/ndis51.h declares the same structures
// and test/driver/c/layout.test.ts compiles one against the other.
import { array, struct, union } from './layout.js'

/** NDIS_PACKET_PRIVATE ("NDIS_PACKET_PRIVATE structure"): NDIS's part of a packet descriptor. */
export const NDIS_PACKET_PRIVATE = struct('NDIS_PACKET_PRIVATE', [
  ['PhysicalCount', 'ULONG'],
  ['TotalLength', 'ULONG'],
  ['Head', 'PVOID'],
  ['Tail', 'PVOID'],
  ['Pool', 'PVOID'],
  ['Count', 'ULONG'],
  ['Flags', 'ULONG'],
  ['ValidCounts', 'UCHAR'],
  ['NdisPacketFlags', 'UCHAR'],
  ['NdisPacketOobOffset', 'USHORT'],
])

/**
 * NDIS_PACKET ("NDIS_PACKET structure"): Private, the union of MiniportReserved[2*sizeof(PVOID)]
 * / MiniportReservedEx[3*sizeof(PVOID)] / MacReserved[4*sizeof(PVOID)], Reserved[2], then the
 * variable ProtocolReserved.
 */
export const NDIS_PACKET = struct('NDIS_PACKET', [
  ['Private', NDIS_PACKET_PRIVATE],
  ['', union('NDIS_PACKET_RESERVED_UNION', [
    ['', struct('NDIS_PACKET_MINIPORT_RESERVED', [['MiniportReserved', array('UCHAR', 8)], ['WrapperReserved', array('UCHAR', 8)]])],
    ['', struct('NDIS_PACKET_MINIPORT_RESERVED_EX', [['MiniportReservedEx', array('UCHAR', 12)], ['WrapperReservedEx', array('UCHAR', 4)]])],
    ['', struct('NDIS_PACKET_MAC_RESERVED', [['MacReserved', array('UCHAR', 16)]])],
  ])],
  ['Reserved', array('PVOID', 2)],
  ['ProtocolReserved', array('UCHAR', 1)],
])

/** Where ProtocolReserved starts (sizeof(NDIS_PACKET) counts one byte of it, padded). */
export const PROTOCOL_RESERVED_OFFSET = NDIS_PACKET.offset.ProtocolReserved!

/**
 * NDIS_PACKET_OOB_DATA ("NDIS_PACKET_OOB_DATA structure"): TimeToSend/TimeSent, TimeReceived,
 * HeaderSize, SizeMediaSpecificInfo, MediaSpecificInformation, Status. NDIS_OOB_DATA_FROM_PACKET
 * finds it at Private.NdisPacketOobOffset from the descriptor.
 */
export const NDIS_PACKET_OOB_DATA = struct('NDIS_PACKET_OOB_DATA', [
  ['TimeToSend', 'ULONG64'],
  ['TimeReceived', 'ULONG64'],
  ['HeaderSize', 'ULONG'],
  ['SizeMediaSpecificInfo', 'ULONG'],
  ['MediaSpecificInformation', 'PVOID'],
  ['Status', 'LONG'],
])

/** MaxPerPacketInfo of NDIS 5.1 (the NDIS_PER_PACKET_INFO enumeration). */
export const MAX_PER_PACKET_INFO = 9

/** NDIS_PACKET_EXTENSION ("NDIS_PACKET_EXTENSION structure"): follows the OOB block. */
export const NDIS_PACKET_EXTENSION = struct('NDIS_PACKET_EXTENSION', [['NdisPacketInfo', array('PVOID', MAX_PER_PACKET_INFO)]])

/**
 * NDIS51_MINIPORT_CHARACTERISTICS ("NDIS_MINIPORT_CHARACTERISTICS structure", NDIS 5.1): the
 * 3.0 handlers, the 4.0 ones (ReturnPacket, SendPackets, AllocateComplete), 5.0's six
 * connection-oriented ones, 5.1's CancelSendPackets, PnPEventNotify and AdapterShutdown, then
 * four reserved pointers.
 */
export const NDIS51_MINIPORT_CHARACTERISTICS = struct('NDIS51_MINIPORT_CHARACTERISTICS', [
  ['MajorNdisVersion', 'UCHAR'],
  ['MinorNdisVersion', 'UCHAR'],
  ['Filler', 'USHORT'],
  ['Reserved', 'ULONG'],
  ['CheckForHangHandler', 'PVOID'],
  ['DisableInterruptHandler', 'PVOID'],
  ['EnableInterruptHandler', 'PVOID'],
  ['HaltHandler', 'PVOID'],
  ['HandleInterruptHandler', 'PVOID'],
  ['InitializeHandler', 'PVOID'],
  ['ISRHandler', 'PVOID'],
  ['QueryInformationHandler', 'PVOID'],
  ['ReconfigureHandler', 'PVOID'],
  ['ResetHandler', 'PVOID'],
  ['SendHandler', 'PVOID'],
  ['SetInformationHandler', 'PVOID'],
  ['TransferDataHandler', 'PVOID'],
  ['ReturnPacketHandler', 'PVOID'],
  ['SendPacketsHandler', 'PVOID'],
  ['AllocateCompleteHandler', 'PVOID'],
  ['CoCreateVcHandler', 'PVOID'],
  ['CoDeleteVcHandler', 'PVOID'],
  ['CoActivateVcHandler', 'PVOID'],
  ['CoDeactivateVcHandler', 'PVOID'],
  ['CoSendPacketsHandler', 'PVOID'],
  ['CoRequestHandler', 'PVOID'],
  ['CancelSendPacketsHandler', 'PVOID'],
  ['PnPEventNotifyHandler', 'PVOID'],
  ['AdapterShutdownHandler', 'PVOID'],
  ['Reserved1', 'PVOID'],
  ['Reserved2', 'PVOID'],
  ['Reserved3', 'PVOID'],
  ['Reserved4', 'PVOID'],
])

/** sizeof(NDIS50_MINIPORT_CHARACTERISTICS): through CoRequestHandler. */
export const NDIS50_CHARACTERISTICS_BYTES = NDIS51_MINIPORT_CHARACTERISTICS.offset.CancelSendPacketsHandler!

/** NDIS_PHYSICAL_ADDRESS_UNIT ("NdisMStartBufferPhysicalMapping"): a logical address and a length. */
export const NDIS_PHYSICAL_ADDRESS_UNIT = struct('NDIS_PHYSICAL_ADDRESS_UNIT', [
  ['PhysicalAddress', 'LARGE_INTEGER'],
  ['Length', 'ULONG'],
])

/**
 * NDIS_CONFIGURATION_PARAMETER ("NDIS_CONFIGURATION_PARAMETER structure"): the type, then a
 * union of IntegerData, StringData (an NDIS_STRING) and BinaryData (USHORT Length, PVOID Buffer).
 */
export const NDIS_CONFIGURATION_PARAMETER = struct('NDIS_CONFIGURATION_PARAMETER', [
  ['ParameterType', 'ULONG'],
  ['ParameterData', union('NDIS_CONFIGURATION_PARAMETER_DATA', [
    ['IntegerData', 'ULONG'],
    ['StringData', struct('UNICODE_STRING', [['Length', 'USHORT'], ['MaximumLength', 'USHORT'], ['Buffer', 'PVOID']])],
    ['BinaryData', struct('BINARY_DATA', [['Length', 'USHORT'], ['Buffer', 'PVOID']])],
  ])],
])

/** The NDIS 5 layouts, for the header-agreement test. */
export const NDIS5_LAYOUTS = [
  NDIS_PACKET_PRIVATE, NDIS_PACKET, NDIS_PACKET_OOB_DATA, NDIS_PACKET_EXTENSION, NDIS51_MINIPORT_CHARACTERISTICS, NDIS_PHYSICAL_ADDRESS_UNIT,
  NDIS_CONFIGURATION_PARAMETER,
] as const
