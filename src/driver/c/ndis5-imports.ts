// The NDIS 5.1 routines a C miniport imports (include/ndis51.h), adapted to the `ndis` object
// every driver gets, in the C calling convention of imports.ts: out-parameters (NDIS 5's
// PNDIS_STATUS first, the handle or descriptor after) written through the driver's pointers,
// packets in memory as net-packets.ts keeps them, buffer descriptors as MDLs (net-objects.ts).
// The storage of an NDIS_MINIPORT_INTERRUPT or NDIS_MINIPORT_TIMER is the driver's; NDIS's
// object is found by its address, as for an NDIS_SPIN_LOCK. Function pointers the driver hands
// over (the timer function, the unload and shutdown handlers, a synchronize function) are called
// through its table.
import type { MDL } from '../../kernel/mdl.js'
import type { SCATTER_GATHER_LIST } from '../../ndis/types.js'
import { NDIS_PER_PACKET_INFO } from '../../ndis/v5/constants.js'
import type { NDIS_MINIPORT_INTERRUPT, NDIS_MINIPORT_TIMER, NDIS_PACKET, NDIS_PHYSICAL_ADDRESS_UNIT } from '../../ndis/v5/types.js'
import { routine, write64, type CRoutines } from './imports.js'
import type { CDriverInstance } from './instance.js'
import { writeField } from './layout.js'
import type { CMiniportBridge } from './miniport.js'
import { writeResourceList } from './miniport.js'
import type { CMiniport5 } from './miniport5.js'
import type { CNetObjects } from './net-objects.js'
import type { CPackets } from './net-packets.js'
import { NDIS_CONFIGURATION_PARAMETER as PARAMETER, NDIS_PHYSICAL_ADDRESS_UNIT as UNIT } from './structs-ndis5.js'
import { CM_PARTIAL_RESOURCE_DESCRIPTOR, CM_PARTIAL_RESOURCE_LIST } from './structs.js'
import { unicodeString } from './ndis-imports.js'

const u = (x: number): number => x >>> 0
const NDIS_STATUS_SUCCESS = 0
const NDIS_STATUS_RESOURCES = 0xc000_009a
const NdisParameterString = 2
const NdisParameterBinary = 4
/** A map register maps at most this many pages of one buffer (NdisMStartBufferPhysicalMapping's array). */
const MAX_UNITS = 64

export interface Ndis5Parts {
  readonly bridge: CMiniportBridge
  readonly objects: CNetObjects
  readonly packets: CPackets
  readonly miniport: CMiniport5
}

export function ndis5Routines(c: CDriverInstance, p: Ndis5Parts): CRoutines {
  const n = (): CDriverInstance['ndis'] => c.ndis
  const mem = c.kernel.memory
  const { bridge, objects, packets, miniport } = p
  /** An out-parameter the caller may pass as NULL (the PNDIS_STATUS first, the others after). */
  const out = (va: number, value: number): void => {
    if (u(va) !== 0) mem.write32(u(va), value >>> 0)
  }
  const packet = (va: number): NDIS_PACKET => packets.packet(va) as NDIS_PACKET
  const buffer = (va: number): MDL => objects.mdl(va) as MDL
  /** NDIS_MINIPORT_INTERRUPT and NDIS_MINIPORT_TIMER objects by the address of the driver's storage. */
  const interrupts = new Map<number, NDIS_MINIPORT_INTERRUPT>()
  const timers = new Map<number, NDIS_MINIPORT_TIMER>()
  const timerAt = (va: number): NDIS_MINIPORT_TIMER => (timers.get(u(va)) ?? u(va)) as NDIS_MINIPORT_TIMER
  /** What NdisReadConfiguration and NdisReadNetworkAddress handed out, freed at NdisCloseConfiguration. */
  const configurationMemory = new Map<unknown, number[]>()
  const keep = (handle: unknown, va: number): number => {
    if (va !== 0) configurationMemory.get(handle)?.push(va)
    return va
  }
  const unicode = (va: number): string => unicodeString(c, u(va))
  const timerFunction = (fn: number) => {
    const call = bridge.callable(fn, 'NdisTimerFunction')
    // VOID (PVOID SystemSpecific1, PVOID FunctionContext, PVOID SystemSpecific2, PVOID SystemSpecific3)
    return (timerVa: number) => (_s1: unknown, context: unknown) => void call(timerVa, u(Number(context ?? 0)), 0, 0)
  }
  const afterPacketChange = (pk: NDIS_PACKET): void => {
    if (typeof pk === 'object' && pk !== null) packets.writePrivate(pk)
  }

  return {
    // ---- registration and initialization ----
    NdisMInitializeWrapper: routine('iiii', '', (handleOut: number, s1: number, s2: number, _s3: number) => {
      const object = u(s1) === bridge.driverObjectVa ? bridge.driverObject : u(s1)
      const { ndisWrapperHandle } = n().NdisMInitializeWrapper(object as never, unicode(s2), null)
      out(handleOut, c.handle(ndisWrapperHandle))
    }),
    NdisMRegisterMiniport: routine('iii', 'i', (wrapper: number, chars: number, length: number) =>
      n().NdisMRegisterMiniport(c.object(wrapper) as never, miniport.characteristics(u(chars), u(length)), u(length))),
    NdisTerminateWrapper: routine('ii', '', (wrapper: number) => n().NdisTerminateWrapper(c.object(wrapper) as never, null)),
    NdisMRegisterUnloadHandler: routine('ii', '', (wrapper: number, fn: number) => {
      const call = bridge.callable(fn, 'Unload')
      n().NdisMRegisterUnloadHandler(c.object(wrapper) as never, () => void call(bridge.driverObjectVa))
    }),
    NdisMRegisterAdapterShutdownHandler: routine('iii', '', (handle: number, context: number, fn: number) => {
      const call = bridge.callable(fn, 'AdapterShutdownHandler')
      n().NdisMRegisterAdapterShutdownHandler(c.object(handle) as never, u(context), (ctx) => void call(u(Number(ctx ?? 0))))
    }),
    NdisMDeregisterAdapterShutdownHandler: routine('i', '', (handle: number) => n().NdisMDeregisterAdapterShutdownHandler(c.object(handle) as never)),
    NdisMSetAttributes: routine('iiii', '', (handle: number, context: number, busMaster: number, type: number) =>
      n().NdisMSetAttributes(c.object(handle) as never, u(context), (busMaster & 0xff) !== 0, type)),
    NdisMSetAttributesEx: routine('iiiii', '', (handle: number, context: number, seconds: number, flags: number, type: number) =>
      n().NdisMSetAttributesEx(c.object(handle) as never, u(context), u(seconds), u(flags), type)),
    NdisOpenConfiguration: routine('iii', '', (statusOut: number, handleOut: number, wrapperContext: number) => {
      const r = n().NdisOpenConfiguration(c.object(wrapperContext) as never)
      if (r.configurationHandle !== null) configurationMemory.set(r.configurationHandle, [])
      out(handleOut, c.handle(r.configurationHandle))
      out(statusOut, r.status)
    }),
    // VOID NdisReadConfiguration(PNDIS_STATUS, PNDIS_CONFIGURATION_PARAMETER *, NDIS_HANDLE, PNDIS_STRING Keyword, NDIS_PARAMETER_TYPE)
    NdisReadConfiguration: routine('iiiii', '', (statusOut: number, valueOut: number, handle: number, keyword: number, type: number) => {
      const object = c.object(handle)
      const r = n().NdisReadConfiguration(object as never, unicode(keyword), u(type))
      let va = 0
      if (r.parameterValue !== null) {
        // The parameter lives in NDIS's memory until NdisCloseConfiguration.
        const v = r.parameterValue
        const text = v.ParameterData.StringData ?? ''
        const bytes = v.ParameterData.BinaryData ?? new Uint8Array(0)
        const extra = v.ParameterType === NdisParameterBinary ? bytes.length : text.length * 2 + 2
        va = keep(object, c.allocate(PARAMETER.size + extra))
        if (va !== 0) {
          const data = va + PARAMETER.size
          writeField(mem, va, PARAMETER, 'ParameterType', v.ParameterType)
          if (v.ParameterType === NdisParameterBinary) {
            writeField(mem, va, PARAMETER, 'ParameterData.BinaryData.Length', bytes.length)
            writeField(mem, va, PARAMETER, 'ParameterData.BinaryData.Buffer', data)
            mem.writeFrom(data, bytes, 0, bytes.length)
          } else if (v.ParameterType >= NdisParameterString) {
            writeField(mem, va, PARAMETER, 'ParameterData.StringData.Length', text.length * 2)
            writeField(mem, va, PARAMETER, 'ParameterData.StringData.MaximumLength', text.length * 2 + 2)
            writeField(mem, va, PARAMETER, 'ParameterData.StringData.Buffer', data)
            for (let i = 0; i < text.length; i++) mem.write16(data + 2 * i, text.charCodeAt(i))
          } else writeField(mem, va, PARAMETER, 'ParameterData.IntegerData', v.ParameterData.IntegerData ?? 0)
        }
      }
      out(valueOut, va)
      out(statusOut, r.parameterValue !== null && va === 0 ? NDIS_STATUS_RESOURCES : r.status)
    }),
    NdisCloseConfiguration: routine('i', '', (handle: number) => {
      const object = c.object(handle)
      n().NdisCloseConfiguration(object as never)
      for (const va of configurationMemory.get(object) ?? []) c.free(va)
      configurationMemory.delete(object)
    }),
    // VOID NdisReadNetworkAddress(PNDIS_STATUS, PVOID *NetworkAddress, PUINT NetworkAddressLength, NDIS_HANDLE)
    NdisReadNetworkAddress: routine('iiii', '', (statusOut: number, addressOut: number, lengthOut: number, handle: number) => {
      const object = c.object(handle)
      const r = n().NdisReadNetworkAddress(object as never)
      let va = 0
      if (r.networkAddress !== null) {
        va = keep(object, c.allocate(Math.max(1, r.networkAddress.length)))
        if (va !== 0) mem.writeFrom(va, r.networkAddress, 0, r.networkAddress.length)
      }
      out(addressOut, va)
      out(lengthOut, va === 0 ? 0 : r.networkAddressLength)
      out(statusOut, r.networkAddress !== null && va === 0 ? NDIS_STATUS_RESOURCES : r.status)
    }),
    // VOID NdisMQueryAdapterResources(PNDIS_STATUS, NDIS_HANDLE, PNDIS_RESOURCE_LIST, PUINT BufferSize): sizes in x86's layout.
    NdisMQueryAdapterResources: routine('iiii', '', (statusOut: number, wrapperContext: number, list: number, sizeIn: number) => {
      const r = n().NdisMQueryAdapterResources(c.object(wrapperContext) as never, 0x10000)
      if (r.resourceList === null) {
        out(statusOut, r.status)
        return
      }
      const needed = CM_PARTIAL_RESOURCE_LIST.offset.PartialDescriptors! + r.resourceList.PartialDescriptors.length * CM_PARTIAL_RESOURCE_DESCRIPTOR.size
      const have = u(sizeIn) === 0 ? 0 : mem.read32(u(sizeIn))
      out(sizeIn, needed)
      if (have < needed || u(list) === 0) {
        out(statusOut, NDIS_STATUS_RESOURCES)
        return
      }
      writeResourceList(c, u(list), r.resourceList)
      out(statusOut, NDIS_STATUS_SUCCESS)
    }),
    NdisReadPciSlotInformation: routine('iiiii', 'i', (handle: number, slot: number, offset: number, buf: number, length: number) => {
      const r = n().NdisReadPciSlotInformation(c.object(handle) as never, u(slot), u(offset), Math.min(u(length), 256))
      mem.writeFrom(u(buf), r.buffer, 0, Math.min(r.bytesRead, r.buffer.length))
      return r.bytesRead
    }),
    NdisWritePciSlotInformation: routine('iiiii', 'i', (handle: number, slot: number, offset: number, buf: number, length: number) =>
      n().NdisWritePciSlotInformation(c.object(handle) as never, u(slot), u(offset), mem.readBytes(u(buf), Math.min(u(length), 256)), u(length))),
    NdisMRegisterIoPortRange: routine('iiii', 'i', (portOut: number, handle: number, first: number, count: number) => {
      const r = n().NdisMRegisterIoPortRange(c.object(handle) as never, u(first), u(count))
      out(portOut, r.portOffset)
      return r.status
    }),
    NdisMDeregisterIoPortRange: routine('iiii', '', (handle: number, first: number, count: number, port: number) =>
      n().NdisMDeregisterIoPortRange(c.object(handle) as never, u(first), u(count), u(port))),
    NdisRawReadPortUlong: routine('ii', '', (port: number, data: number) => mem.write32(u(data), n().NdisRawReadPortUlong(u(port)) >>> 0)),
    NdisRawWritePortUlong: routine('ii', '', (port: number, data: number) => n().NdisRawWritePortUlong(u(port), u(data))),

    // ---- DMA ----
    NdisMAllocateMapRegisters: routine('iiiii', 'i', (handle: number, channel: number, size: number, count: number, maximum: number) =>
      n().NdisMAllocateMapRegisters(c.object(handle) as never, u(channel), size & 0xff, u(count), u(maximum))),
    // VOID NdisMStartBufferPhysicalMapping(NDIS_HANDLE, PNDIS_BUFFER, ULONG Register, BOOLEAN WriteToDevice, PNDIS_PHYSICAL_ADDRESS_UNIT, PUINT ArraySize)
    NdisMStartBufferPhysicalMapping: routine('iiiiii', '', (handle: number, buf: number, register: number, toDevice: number, array: number, sizeOut: number) => {
      const units: NDIS_PHYSICAL_ADDRESS_UNIT[] = []
      const { arraySize } = n().NdisMStartBufferPhysicalMapping(c.object(handle) as never, buffer(buf), u(register), (toDevice & 0xff) !== 0, units)
      const count = Math.min(arraySize, units.length, MAX_UNITS)
      for (let i = 0; i < count; i++) {
        const at = u(array) + i * UNIT.size
        write64(c, at + UNIT.offset.PhysicalAddress!, units[i]!.PhysicalAddress)
        mem.write32(at + UNIT.offset.Length!, units[i]!.Length >>> 0)
      }
      out(sizeOut, count)
    }),
    NdisMCompleteBufferPhysicalMapping: routine('iii', '', (handle: number, buf: number, register: number) =>
      n().NdisMCompleteBufferPhysicalMapping(c.object(handle) as never, buffer(buf), u(register))),
    NdisMFreeMapRegisters: routine('i', '', (handle: number) => n().NdisMFreeMapRegisters(c.object(handle) as never)),
    NdisMInitializeScatterGatherDma: routine('iii', 'i', (handle: number, wide: number, maximum: number) =>
      n().NdisMInitializeScatterGatherDma(c.object(handle) as never, (wide & 0xff) !== 0, u(maximum))),
    NdisMAllocateSharedMemoryAsync: routine('iiii', 'i', (handle: number, length: number, cached: number, context: number) =>
      n().NdisMAllocateSharedMemoryAsync(c.object(handle) as never, u(length), (cached & 0xff) !== 0, u(context))),

    // ---- packets ----
    NdisAllocatePacketPool: routine('iiii', '', (statusOut: number, poolOut: number, count: number, reserved: number) => {
      const r = n().NdisAllocatePacketPool(u(count), u(reserved))
      out(poolOut, c.handle(r.poolHandle))
      out(statusOut, r.status)
    }),
    NdisAllocatePacketPoolEx: routine('iiiii', '', (statusOut: number, poolOut: number, count: number, overflow: number, reserved: number) => {
      const r = n().NdisAllocatePacketPoolEx(u(count), u(overflow), u(reserved))
      out(poolOut, c.handle(r.poolHandle))
      out(statusOut, r.status)
    }),
    NdisFreePacketPool: routine('i', '', (pool: number) => n().NdisFreePacketPool(c.object(pool) as never)),
    NdisPacketPoolUsage: routine('i', 'i', (pool: number) => n().NdisPacketPoolUsage(c.object(pool) as never)),
    NdisAllocatePacket: routine('iii', '', (statusOut: number, packetOut: number, pool: number) => {
      const r = n().NdisAllocatePacket(c.object(pool) as never)
      out(packetOut, packets.toC(r.packet))
      out(statusOut, r.status)
    }),
    NdisDprAllocatePacket: routine('iii', '', (statusOut: number, packetOut: number, pool: number) => {
      const r = n().NdisDprAllocatePacket(c.object(pool) as never)
      out(packetOut, packets.toC(r.packet))
      out(statusOut, r.status)
    }),
    NdisFreePacket: routine('i', '', (pk: number) => n().NdisFreePacket(packet(pk))),
    NdisDprFreePacket: routine('i', '', (pk: number) => n().NdisDprFreePacket(packet(pk))),
    NdisReinitializePacket: routine('i', '', (pk: number) => {
      const x = packet(pk)
      n().NdisReinitializePacket(x)
      afterPacketChange(x)
    }),
    NdisChainBufferAtFront: routine('ii', '', (pk: number, buf: number) => {
      const x = packet(pk)
      n().NdisChainBufferAtFront(x, buffer(buf))
      afterPacketChange(x)
    }),
    NdisChainBufferAtBack: routine('ii', '', (pk: number, buf: number) => {
      const x = packet(pk)
      n().NdisChainBufferAtBack(x, buffer(buf))
      afterPacketChange(x)
    }),
    NdisUnchainBufferAtFront: routine('ii', '', (pk: number, bufOut: number) => {
      const x = packet(pk)
      const r = n().NdisUnchainBufferAtFront(x)
      afterPacketChange(x)
      if (r.buffer !== null) objects.writeMdl(r.buffer)
      out(bufOut, objects.mdlAddress(r.buffer))
    }),
    NdisUnchainBufferAtBack: routine('ii', '', (pk: number, bufOut: number) => {
      const x = packet(pk)
      const r = n().NdisUnchainBufferAtBack(x)
      afterPacketChange(x)
      if (r.buffer !== null) objects.writeMdl(r.buffer)
      out(bufOut, objects.mdlAddress(r.buffer))
    }),
    // VOID NdisQueryPacket(PNDIS_PACKET, PUINT PhysicalBufferCount, PUINT BufferCount, PNDIS_BUFFER *FirstBuffer, PUINT TotalPacketLength)
    NdisQueryPacket: routine('iiiii', '', (pk: number, physicalOut: number, countOut: number, firstOut: number, lengthOut: number) => {
      const x = packet(pk)
      const r = n().NdisQueryPacket(x)
      afterPacketChange(x)
      out(physicalOut, r.physicalBufferCount)
      out(countOut, r.bufferCount)
      out(firstOut, objects.mdlAddress(r.firstBuffer))
      out(lengthOut, r.totalPacketLength)
    }),
    NdisQueryPacketLength: routine('ii', '', (pk: number, lengthOut: number) => {
      const x = packet(pk)
      const r = n().NdisQueryPacketLength(x)
      afterPacketChange(x)
      out(lengthOut, r.totalPacketLength)
    }),
    NdisRecalculatePacketCounts: routine('i', '', (pk: number) => {
      const x = packet(pk)
      n().NdisRecalculatePacketCounts(x)
      afterPacketChange(x)
    }),
    NdisGetFirstBufferFromPacketSafe: routine('iiiiii', '', (pk: number, firstOut: number, vaOut: number, lengthOut: number, totalOut: number, priority: number) => {
      const x = packet(pk)
      const r = n().NdisGetFirstBufferFromPacketSafe(x, u(priority))
      afterPacketChange(x)
      out(firstOut, objects.mdlAddress(r.firstBuffer))
      out(vaOut, r.firstBufferVA)
      out(lengthOut, r.firstBufferLength)
      out(totalOut, r.totalBufferLength)
    }),
    NdisGeneratePartialCancelId: routine('', 'i', () => n().NdisGeneratePartialCancelId() & 0xff),

    // ---- buffers ----
    NdisAllocateBufferPool: routine('iii', '', (statusOut: number, poolOut: number, count: number) => {
      const r = n().NdisAllocateBufferPool(u(count))
      out(poolOut, c.handle(r.poolHandle))
      out(statusOut, r.status)
    }),
    NdisFreeBufferPool: routine('i', '', (pool: number) => n().NdisFreeBufferPool(c.object(pool) as never)),
    NdisAllocateBuffer: routine('iiiii', '', (statusOut: number, bufOut: number, pool: number, va: number, length: number) => {
      const r = n().NdisAllocateBuffer(c.object(pool) as never, u(va), u(length))
      out(bufOut, r.buffer === null ? 0 : objects.writeMdl(r.buffer))
      out(statusOut, r.status)
    }),
    NdisFreeBuffer: routine('i', '', (buf: number) => n().NdisFreeBuffer(buffer(buf))),
    NdisQueryBuffer: routine('iii', '', (buf: number, vaOut: number, lengthOut: number) => {
      const r = n().NdisQueryBuffer(buffer(buf))
      out(vaOut, r.virtualAddress)
      out(lengthOut, r.length)
    }),
    NdisQueryBufferSafe: routine('iiii', '', (buf: number, vaOut: number, lengthOut: number, priority: number) => {
      const r = n().NdisQueryBufferSafe(buffer(buf), u(priority))
      out(vaOut, r.virtualAddress)
      out(lengthOut, r.length)
    }),
    NdisQueryBufferOffset: routine('iii', '', (buf: number, offsetOut: number, lengthOut: number) => {
      const r = n().NdisQueryBufferOffset(buffer(buf))
      out(offsetOut, r.offset)
      out(lengthOut, r.length)
    }),
    NdisGetNextBuffer: routine('ii', '', (buf: number, nextOut: number) => out(nextOut, objects.mdlAddress(n().NdisGetNextBuffer(buffer(buf)).nextBuffer))),
    NdisBufferLength: routine('i', 'i', (buf: number) => n().NdisBufferLength(buffer(buf))),
    NdisBufferVirtualAddressSafe: routine('ii', 'i', (buf: number, priority: number) => n().NdisBufferVirtualAddressSafe(buffer(buf), u(priority))),
    NdisAdjustBufferLength: routine('ii', '', (buf: number, length: number) => {
      const b = buffer(buf)
      n().NdisAdjustBufferLength(b, u(length))
      if (typeof b === 'object' && b !== null) objects.writeMdl(b)
    }),
    NdisGetBufferPhysicalArraySize: routine('ii', '', (buf: number, sizeOut: number) => out(sizeOut, n().NdisGetBufferPhysicalArraySize(buffer(buf)).arraySize)),

    // ---- sends and receives ----
    NdisMSendComplete: routine('iii', '', (handle: number, pk: number, st: number) => {
      const x = packet(pk)
      // NDIS frees the scatter/gather list of a completed send; its x86 copy goes with it.
      const sgl = typeof x === 'object' && x !== null ? x.Extension.NdisPacketInfo[NDIS_PER_PACKET_INFO.ScatterGatherListPacketInfo] : null
      n().NdisMSendComplete(c.object(handle) as never, x, u(st))
      if (sgl !== null && sgl !== undefined && (typeof x !== 'object' || x === null || x.Extension.NdisPacketInfo[NDIS_PER_PACKET_INFO.ScatterGatherListPacketInfo] !== sgl)) {
        objects.releaseSgl(sgl as SCATTER_GATHER_LIST)
      }
    }),
    NdisMSendResourcesAvailable: routine('i', '', (handle: number) => n().NdisMSendResourcesAvailable(c.object(handle) as never)),
    NdisMEthIndicateReceive: routine('iiiiiii', '', (handle: number, context: number, header: number, headerSize: number, lookahead: number, lookaheadSize: number, size: number) =>
      n().NdisMEthIndicateReceive(c.object(handle) as never, u(context), u(header), u(headerSize), u(lookahead), u(lookaheadSize), u(size))),
    NdisMEthIndicateReceiveComplete: routine('i', '', (handle: number) => n().NdisMEthIndicateReceiveComplete(c.object(handle) as never)),
    NdisMTransferDataComplete: routine('iiii', '', (handle: number, pk: number, st: number, bytes: number) =>
      n().NdisMTransferDataComplete(c.object(handle) as never, packet(pk), u(st), u(bytes))),
    // VOID NdisMIndicateReceivePacket(NDIS_HANDLE, PPNDIS_PACKET ReceivePackets, UINT NumberOfPackets)
    NdisMIndicateReceivePacket: routine('iii', '', (handle: number, array: number, count: number) => {
      const k = Math.min(u(count), 4096)
      const list = Array.from({ length: k }, (_, i) => packet(mem.read32(u(array) + 4 * i)))
      n().NdisMIndicateReceivePacket(c.object(handle) as never, list, k)
      // NDIS_GET_PACKET_STATUS after the call says whether the protocol kept the packet.
      for (const x of list) if (typeof x === 'object' && x !== null) packets.writeStatus(x)
    }),

    // ---- interrupts and timers ----
    NdisMRegisterInterrupt: routine('iiiiiii', 'i', (storage: number, handle: number, vector: number, level: number, requestIsr: number, shared: number, mode: number) => {
      const r = n().NdisMRegisterInterrupt(c.object(handle) as never, u(vector), u(level), (requestIsr & 0xff) !== 0, (shared & 0xff) !== 0, u(mode))
      if (r.interrupt !== null) interrupts.set(u(storage), r.interrupt)
      return r.status
    }),
    NdisMDeregisterInterrupt: routine('i', '', (storage: number) => {
      n().NdisMDeregisterInterrupt((interrupts.get(u(storage)) ?? u(storage)) as never)
      interrupts.delete(u(storage))
    }),
    // BOOLEAN NdisMSynchronizeWithInterrupt(PNDIS_MINIPORT_INTERRUPT, PVOID SynchronizeFunction, PVOID SynchronizeContext)
    NdisMSynchronizeWithInterrupt: routine('iii', 'i', (storage: number, fn: number, context: number) => {
      const sync = bridge.callable(fn, 'SynchronizeFunction')
      return n().NdisMSynchronizeWithInterrupt((interrupts.get(u(storage)) ?? u(storage)) as never, (ctx: number) => (sync(ctx) & 0xff) !== 0, u(context)) ? 1 : 0
    }),
    NdisMInitializeTimer: routine('iiii', '', (storage: number, handle: number, fn: number, context: number) => {
      const r = n().NdisMInitializeTimer(c.object(handle) as never, timerFunction(fn)(u(storage)), u(context))
      if (r.timer !== null) timers.set(u(storage), r.timer)
    }),
    NdisMSetTimer: routine('ii', '', (storage: number, ms: number) => n().NdisMSetTimer(timerAt(storage), u(ms))),
    NdisMSetPeriodicTimer: routine('ii', '', (storage: number, ms: number) => n().NdisMSetPeriodicTimer(timerAt(storage), u(ms))),
    NdisMCancelTimer: routine('ii', '', (storage: number, cancelledOut: number) => {
      const r = n().NdisMCancelTimer(timerAt(storage))
      if (u(cancelledOut) !== 0) mem.write8(u(cancelledOut), r.timerCancelled ? 1 : 0)
    }),
    NdisInitializeTimer: routine('iii', '', (storage: number, fn: number, context: number) => {
      const r = n().NdisInitializeTimer(timerFunction(fn)(u(storage)), u(context))
      if (r.timer !== null) timers.set(u(storage), r.timer)
    }),
    NdisSetTimer: routine('ii', '', (storage: number, ms: number) => n().NdisSetTimer(timerAt(storage), u(ms))),
    NdisCancelTimer: routine('ii', '', (storage: number, cancelledOut: number) => {
      const r = n().NdisCancelTimer(timerAt(storage))
      if (u(cancelledOut) !== 0) mem.write8(u(cancelledOut), r.timerCancelled ? 1 : 0)
    }),

    // ---- requests and status ----
    NdisMQueryInformationComplete: routine('ii', '', (handle: number, st: number) => n().NdisMQueryInformationComplete(c.object(handle) as never, u(st))),
    NdisMSetInformationComplete: routine('ii', '', (handle: number, st: number) => n().NdisMSetInformationComplete(c.object(handle) as never, u(st))),
    NdisMIndicateStatus: routine('iiii', '', (handle: number, st: number, buf: number, size: number) =>
      n().NdisMIndicateStatus(c.object(handle) as never, u(st), u(buf), u(size))),
    NdisMIndicateStatusComplete: routine('i', '', (handle: number) => n().NdisMIndicateStatusComplete(c.object(handle) as never)),
    NdisMResetComplete: routine('iii', '', (handle: number, st: number, addressing: number) =>
      n().NdisMResetComplete(c.object(handle) as never, u(st), (addressing & 0xff) !== 0)),
  }
}
