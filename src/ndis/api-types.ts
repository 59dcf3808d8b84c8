// The NDIS and HAL routines a miniport calls, by their WDK names and WDK parameter order, in
// DESIGN's calling convention: out-parameters leave the argument list and come back as
// fields (`{ status, virtualAddress }`), pointers come back as numbers (0 = NULL), objects
// the system hands out as objects (null on failure).
import type { DriverMemory } from '../kernel/driver-memory.js'
import type {
  DRIVER_OBJECT, MDL, NDIS_MINIPORT_ADAPTER_ATTRIBUTES, NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
  NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS, NDIS_SG_DMA_DESCRIPTION, NDIS_SPIN_LOCK, NdisHandle, NET_BUFFER,
  NET_BUFFER_LIST, NET_BUFFER_LIST_POOL_PARAMETERS, CM_PARTIAL_RESOURCE_LIST,
} from './types.js'
import type { PoolTag } from '../kernel/tags.js'
import type { LookasideAllocate, LookasideFree } from '../kernel/lookaside.js'
import type { NbPoolHandle, NET_BUFFER_POOL_PARAMETERS, NetAllocateMdl, NetFreeMdl } from './net-buffers.js'
import type { NDIS_TIMER_CHARACTERISTICS, NdisTimerObject } from './timer-objects.js'
import type { NdisIoWorkItem, NdisIoWorkItemFunction } from './work-items.js'

/** The HAL's DMA types are the kernel's (kernel/hal.ts), re-exported where drivers found them. */
export type { DMA_ADAPTER, DMA_OPERATIONS, DriverListControl } from '../kernel/hal.js'
import type { DMA_ADAPTER, DEVICE_DESCRIPTION, SCATTER_GATHER_LIST } from '../kernel/hal.js'

/** The NDIS, HAL and I/O manager routines (the kernel's Ex/Mm routines are added to `ndis` too). */
export interface NdisRoutines {
  /** The driver's DRIVER_OBJECT, as DriverEntry's first parameter in C. */
  readonly DriverObject: DRIVER_OBJECT
  /** Translated, checked access to memory: the only way driver code touches it. */
  readonly memory: DriverMemory

  NdisMRegisterMiniportDriver(DriverObject: DRIVER_OBJECT, RegistryPath: string, MiniportDriverContext: unknown, MiniportDriverCharacteristics: NDIS_MINIPORT_DRIVER_CHARACTERISTICS): { status: number; ndisMiniportDriverHandle: NdisHandle | null }
  NdisMDeregisterMiniportDriver(NdisMiniportDriverHandle: unknown): void
  NdisMSetMiniportAttributes(NdisMiniportAdapterHandle: NdisHandle, MiniportAttributes: NDIS_MINIPORT_ADAPTER_ATTRIBUTES): number
  NdisMGetDeviceProperty(MiniportAdapterHandle: NdisHandle): { physicalDeviceObject: object; functionalDeviceObject: object; nextDeviceObject: object; allocatedResources: CM_PARTIAL_RESOURCE_LIST; allocatedResourcesTranslated: CM_PARTIAL_RESOURCE_LIST }
  NdisMPauseComplete(MiniportAdapterHandle: NdisHandle): void
  NdisMOidRequestComplete(MiniportAdapterHandle: NdisHandle, OidRequest: object, Status: number): void

  NdisMMapIoSpace(MiniportAdapterHandle: NdisHandle, PhysicalAddress: number, Length: number): { status: number; virtualAddress: number }
  NdisMUnmapIoSpace(MiniportAdapterHandle: NdisHandle, VirtualAddress: number, Length: number): void
  NdisReadRegisterUlong(Register: number): number
  NdisWriteRegisterUlong(Register: number, Data: number): void
  NdisReadRegisterUshort(Register: number): number
  NdisWriteRegisterUshort(Register: number, Data: number): void
  NdisReadRegisterUchar(Register: number): number
  NdisWriteRegisterUchar(Register: number, Data: number): void
  NdisMGetBusData(NdisMiniportHandle: NdisHandle, WhichSpace: number, Offset: number, Length: number): { bytesRead: number; buffer: Uint8Array }
  NdisMSetBusData(NdisMiniportHandle: NdisHandle, WhichSpace: number, Offset: number, Buffer: Uint8Array, Length: number): number

  NdisAllocateMemory(Length: number, MemoryFlags: number, HighestAcceptableAddress: number): { status: number; virtualAddress: number }
  NdisAllocateMemoryWithTag(Length: number, Tag: PoolTag): { status: number; virtualAddress: number }
  NdisAllocateMemoryWithTagPriority(NdisHandle: NdisHandle, Length: number, Tag: PoolTag, Priority: number): number
  NdisFreeMemory(VirtualAddress: number, Length: number, MemoryFlags: number): void
  NdisFreeMemoryWithTagPriority(NdisHandle: NdisHandle, VirtualAddress: number, Tag: PoolTag): void
  NdisZeroMemory(Destination: number, Length: number): void
  NdisMoveMemory(Destination: number, Source: number, Length: number): void
  NdisFillMemory(Destination: number, Length: number, Fill: number): void

  NdisMRegisterScatterGatherDma(MiniportAdapterHandle: NdisHandle, DmaDescription: NDIS_SG_DMA_DESCRIPTION): { status: number; ndisMiniportDmaHandle: NdisHandle | null }
  NdisMDeregisterScatterGatherDma(NdisMiniportDmaHandle: NdisHandle): void
  NdisMAllocateSharedMemory(MiniportAdapterHandle: NdisHandle, Length: number, Cached: boolean): { virtualAddress: number; physicalAddress: number }
  NdisMFreeSharedMemory(MiniportAdapterHandle: NdisHandle, Length: number, Cached: boolean, VirtualAddress: number, PhysicalAddress: number): void
  NdisMAllocateSharedMemoryAsyncEx(MiniportDmaHandle: NdisHandle, Length: number, Cached: boolean, Context: unknown): number
  NdisMAllocateNetBufferSGList(NdisMiniportDmaHandle: NdisHandle, NetBuffer: NET_BUFFER, Context: unknown, Flags: number, ScatterGatherListBuffer: SCATTER_GATHER_LIST | null, ScatterGatherListBufferSize: number): number
  NdisMFreeNetBufferSGList(NdisMiniportDmaHandle: NdisHandle, pSGL: SCATTER_GATHER_LIST, NetBuffer: NET_BUFFER): void
  NdisMGetDmaAlignment(MiniportAdapterHandle: NdisHandle): number

  NdisMRegisterInterruptEx(MiniportAdapterHandle: NdisHandle, MiniportInterruptContext: unknown, MiniportInterruptCharacteristics: NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS): { status: number; ndisInterruptHandle: NdisHandle | null }
  NdisMDeregisterInterruptEx(NdisInterruptHandle: NdisHandle): void
  NdisMSynchronizeWithInterruptEx<T>(NdisInterruptHandle: NdisHandle, MessageId: number, SynchronizeFunction: (SynchronizeContext: T) => boolean, SynchronizeContext: T): boolean

  NdisAllocateSpinLock(): { spinLock: NDIS_SPIN_LOCK }
  NdisFreeSpinLock(SpinLock: NDIS_SPIN_LOCK): void
  NdisAcquireSpinLock(SpinLock: NDIS_SPIN_LOCK): void
  NdisReleaseSpinLock(SpinLock: NDIS_SPIN_LOCK): void
  NdisDprAcquireSpinLock(SpinLock: NDIS_SPIN_LOCK): void
  NdisDprReleaseSpinLock(SpinLock: NDIS_SPIN_LOCK): void
  NdisStallExecution(MicrosecondsToStall: number): void
  NdisMSleep(MicrosecondsToSleep: number): void

  NdisAllocateNetBufferListPool(NdisHandle: NdisHandle, Parameters: NET_BUFFER_LIST_POOL_PARAMETERS): NdisHandle | null
  NdisFreeNetBufferListPool(PoolHandle: NdisHandle): void
  NdisAllocateNetBufferAndNetBufferList(PoolHandle: NdisHandle, ContextSize: number, ContextBackFill: number, MdlChain: MDL | null, DataOffset: number, DataLength: number): NET_BUFFER_LIST | null
  NdisFreeNetBufferList(NetBufferList: NET_BUFFER_LIST): void
  NdisAllocateMdl(NdisHandle: NdisHandle, VirtualAddress: number, Length: number): MDL | null
  NdisFreeMdl(Mdl: MDL): void
  NdisAllocateNetBufferList(PoolHandle: NdisHandle, ContextSize: number, ContextBackFill: number): NET_BUFFER_LIST | null
  NdisAllocateNetBufferPool(NdisHandle: NdisHandle | null, Parameters: NET_BUFFER_POOL_PARAMETERS): NbPoolHandle | null
  NdisFreeNetBufferPool(PoolHandle: NbPoolHandle): void
  NdisAllocateNetBuffer(PoolHandle: NbPoolHandle, MdlChain: MDL | null, DataOffset: number, DataLength: number): NET_BUFFER | null
  NdisFreeNetBuffer(NetBuffer: NET_BUFFER): void
  NdisRetreatNetBufferDataStart(NetBuffer: NET_BUFFER, DataOffsetDelta: number, DataBackFill: number, AllocateMdlHandler: NetAllocateMdl | null): number
  NdisAdvanceNetBufferDataStart(NetBuffer: NET_BUFFER, DataOffsetDelta: number, FreeMdl: boolean, FreeMdlHandler: NetFreeMdl | null): void
  NdisGetDataBuffer(NetBuffer: NET_BUFFER, BytesNeeded: number, Storage: number | null, AlignMultiple: number, AlignOffset: number): number
  NdisQueryNetBufferPhysicalCount(NetBuffer: NET_BUFFER): number
  NdisAllocateCloneNetBufferList(OriginalNetBufferList: NET_BUFFER_LIST, NetBufferListPoolHandle: NdisHandle | null, NetBufferPoolHandle: NbPoolHandle | null, AllocateCloneFlags: number): NET_BUFFER_LIST | null
  NdisFreeCloneNetBufferList(CloneNetBufferList: NET_BUFFER_LIST, FreeCloneFlags: number): void
  NdisAllocateFragmentNetBufferList(OriginalNetBufferList: NET_BUFFER_LIST, NetBufferListPool: NdisHandle | null, NetBufferPool: NbPoolHandle | null, StartOffset: number, MaximumLength: number, DataOffsetDelta: number, DataBackFill: number, AllocateFragmentFlags: number): NET_BUFFER_LIST | null
  NdisFreeFragmentNetBufferList(FragmentNetBufferList: NET_BUFFER_LIST, DataOffsetDelta: number, FreeFragmentFlags: number): void

  NdisInitializeNPagedLookasideList(Lookaside: number, Allocate: LookasideAllocate | null, Free: LookasideFree | null, Flags: number, Size: number, Tag: PoolTag, Depth: number): void
  NdisDeleteNPagedLookasideList(Lookaside: number): void
  NdisAllocateFromNPagedLookasideList(Lookaside: number): number
  NdisFreeToNPagedLookasideList(Lookaside: number, Entry: number): void

  NdisAllocateIoWorkItem(NdisObjectHandle: NdisHandle): NdisIoWorkItem | null
  NdisQueueIoWorkItem(NdisIoWorkItemHandle: NdisIoWorkItem, Routine: NdisIoWorkItemFunction, WorkItemContext: unknown): void
  NdisFreeIoWorkItem(NdisIoWorkItemHandle: NdisIoWorkItem): void
  NdisAllocateTimerObject(NdisHandle: NdisHandle, TimerCharacteristics: NDIS_TIMER_CHARACTERISTICS): { status: number; timerObject: NdisTimerObject | null }
  NdisSetTimerObject(TimerObject: NdisTimerObject, DueTime: number | bigint, MillisecondsPeriod: number, FunctionContext: unknown): boolean
  NdisCancelTimerObject(TimerObject: NdisTimerObject): boolean
  NdisFreeTimerObject(TimerObject: NdisTimerObject): void
  NdisMSendNetBufferListsComplete(MiniportAdapterHandle: NdisHandle, NetBufferLists: NET_BUFFER_LIST, SendCompleteFlags: number): void
  NdisMIndicateReceiveNetBufferLists(MiniportAdapterHandle: NdisHandle, NetBufferLists: NET_BUFFER_LIST, PortNumber: number, NumberOfNetBufferLists: number, ReceiveFlags: number): void
  NdisMIndicateStatusEx(MiniportAdapterHandle: NdisHandle, StatusIndication: { StatusCode: number; StatusBuffer?: unknown }): void

  IoGetDmaAdapter(PhysicalDeviceObject: object, DeviceDescription: DEVICE_DESCRIPTION): { dmaAdapter: DMA_ADAPTER | null; numberOfMapRegisters: number }
  KeFlushIoBuffers(Mdl: MDL, ReadOperation: boolean, DmaOperation: boolean): void
}
