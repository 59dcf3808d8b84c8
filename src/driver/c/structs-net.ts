// The NDIS data-path structures in their 32-bit (x86) layouts: what a C miniport and NDIS
// exchange per packet (NET_BUFFER_LIST, NET_BUFFER), and what it hands NDIS to set the data
// path up (the NBL pool parameters, the scatter/gather DMA description, the interrupt
// characteristics, an NDIS_SPIN_LOCK). Declared field by field from the WDK documentation; each
// cites its page. include/ndis.h declares the same structures and test/driver/c/layout.test.ts
// compiles one against the other.
import { aligned, array, struct, union } from './layout.js'

/** NDIS_OBJECT_HEADER (ntddndis.h): Type, Revision, Size of every NDIS 6 structure. */
export const NDIS_OBJECT_HEADER = struct('NDIS_OBJECT_HEADER', [
  ['Type', 'UCHAR'],
  ['Revision', 'UCHAR'],
  ['Size', 'USHORT'],
])

/** SLIST_HEADER on x86: 8 bytes, 8-aligned (its ULONGLONG Alignment member). */
const SLIST_HEADER = struct('SLIST_HEADER', [['Alignment', 'ULONG64']])

/**
 * NET_BUFFER (ndis/nbl.h, "NET_BUFFER structure"): Next, CurrentMdl, CurrentMdlOffset,
 * DataLength, MdlChain, DataOffset in an anonymous structure unioned with the SLIST_HEADER.
 */
export const NET_BUFFER = struct('NET_BUFFER', [
  ['', union('NET_BUFFER_HEADER_UNION', [
    ['', struct('NET_BUFFER_DATA_FIELDS', [
      ['Next', 'PVOID'],
      ['CurrentMdl', 'PVOID'],
      ['CurrentMdlOffset', 'ULONG'],
      ['DataLength', 'ULONG'],
      ['MdlChain', 'PVOID'],
      ['DataOffset', 'ULONG'],
    ])],
    ['Link', SLIST_HEADER],
  ])],
  ['ChecksumBias', 'USHORT'],
  ['Reserved', 'USHORT'],
  ['NdisPoolHandle', 'PVOID'],
  ['NdisReserved', aligned(8, array('PVOID', 2))],
  ['ProtocolReserved', aligned(8, array('PVOID', 6))],
  ['MiniportReserved', aligned(8, array('PVOID', 4))],
  ['DataPhysicalAddress', 'LARGE_INTEGER'],
  ['ScatterGatherList', 'PVOID'],
])

/** MaxNetBufferListInfo for NDIS 6.0 (ndis/nblinfo.h: TcpIpChecksum... through WfpNetBufferListInfo). */
export const MAX_NET_BUFFER_LIST_INFO = 12

/**
 * NET_BUFFER_LIST (ndis/nbl.h, "NET_BUFFER_LIST structure"); the reserved areas are
 * DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT), 8 on x86.
 */
export const NET_BUFFER_LIST = struct('NET_BUFFER_LIST', [
  ['', union('NET_BUFFER_LIST_HEADER_UNION', [
    ['', struct('NET_BUFFER_LIST_DATA_FIELDS', [['Next', 'PVOID'], ['FirstNetBuffer', 'PVOID']])],
    ['Link', SLIST_HEADER],
  ])],
  ['Context', 'PVOID'],
  ['ParentNetBufferList', 'PVOID'],
  ['NdisPoolHandle', 'PVOID'],
  ['NdisReserved', aligned(8, array('PVOID', 2))],
  ['ProtocolReserved', aligned(8, array('PVOID', 4))],
  ['MiniportReserved', aligned(8, array('PVOID', 2))],
  ['Scratch', 'PVOID'],
  ['SourceHandle', 'PVOID'],
  ['NblFlags', 'ULONG'],
  ['ChildRefCount', 'LONG'],
  ['Flags', 'ULONG'],
  ['Status', 'ULONG'],
  ['NetBufferListInfo', array('PVOID', MAX_NET_BUFFER_LIST_INFO)],
])

/**
 * NET_BUFFER_LIST_POOL_PARAMETERS (ndis/nblapi.h): revision 1 ends at DataSize; Flags came
 * later and is declared, as newer headers do.
 */
export const NET_BUFFER_LIST_POOL_PARAMETERS = struct('NET_BUFFER_LIST_POOL_PARAMETERS', [
  ['Header', NDIS_OBJECT_HEADER],
  ['ProtocolId', 'UCHAR'],
  ['fAllocateNetBuffer', 'UCHAR'],
  ['ContextSize', 'USHORT'],
  ['PoolTag', 'ULONG'],
  ['DataSize', 'ULONG'],
  ['Flags', 'ULONG'],
])

/** NDIS_SG_DMA_DESCRIPTION (ndis.h, as the NdisMRegisterScatterGatherDma page defines it). */
export const NDIS_SG_DMA_DESCRIPTION = struct('NDIS_SG_DMA_DESCRIPTION', [
  ['Header', NDIS_OBJECT_HEADER],
  ['Flags', 'ULONG'],
  ['MaximumPhysicalMapping', 'ULONG'],
  ['ProcessSGListHandler', 'PVOID'],
  ['SharedMemAllocateCompleteHandler', 'PVOID'],
  ['ScatterGatherListSize', 'ULONG'],
])

/** NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS (ndis.h, "NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS structure"). */
export const NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS = struct('NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS', [
  ['Header', NDIS_OBJECT_HEADER],
  ['InterruptHandler', 'PVOID'],
  ['InterruptDpcHandler', 'PVOID'],
  ['DisableInterruptHandler', 'PVOID'],
  ['EnableInterruptHandler', 'PVOID'],
  ['MsiSupported', 'UCHAR'],
  ['MsiSyncWithAllMessages', 'UCHAR'],
  ['MessageInterruptHandler', 'PVOID'],
  ['MessageInterruptDpcHandler', 'PVOID'],
  ['DisableMessageInterruptHandler', 'PVOID'],
  ['EnableMessageInterruptHandler', 'PVOID'],
  ['InterruptType', 'ULONG'],
  ['MessageInfoTable', 'PVOID'],
])

/**
 * NDIS_RECEIVE_THROTTLE_PARAMETERS (ndis.h): MaxNblsToIndicate, then MoreNblsPending as bit 0 of
 * the next ULONG (a bit-field, so not in the offset assertions; the layout test checks sizeof).
 */
export const RECEIVE_THROTTLE = { MaxNblsToIndicate: 0, MoreNblsPending: 4, size: 8 } as const

/** NDIS_SPIN_LOCK (ndis.h): the KSPIN_LOCK and the IRQL NdisAcquireSpinLock raised from. */
export const NDIS_SPIN_LOCK = struct('NDIS_SPIN_LOCK', [
  ['SpinLock', 'ULONG'],
  ['OldIrql', 'UCHAR'],
])

/** The data-path layouts, for the header-agreement test. */
export const NET_LAYOUTS = [
  NDIS_OBJECT_HEADER, NET_BUFFER, NET_BUFFER_LIST, NET_BUFFER_LIST_POOL_PARAMETERS, NDIS_SG_DMA_DESCRIPTION,
  NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS, NDIS_SPIN_LOCK,
] as const
