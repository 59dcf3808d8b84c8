// A C miniport's side of the NDIS 5.1 driver model: its NDIS51_MINIPORT_CHARACTERISTICS (or
// NDIS50_, by CharacteristicsLength) read from emulated memory into the handlers NDIS calls, each
// a call through the driver's function pointer in the NDIS 5.1 C signature
// ("NDIS_MINIPORT_CHARACTERISTICS structure" and the MiniportXxx pages). Out-parameters
// (SelectedMediumIndex, BytesWritten, InterruptRecognized, AddressingReset, BytesTransferred)
// are in a block of system memory NDIS owns, read after the call; packets are written into
// memory as NDIS hands them over (net-packets.ts).
import type { NDIS_MINIPORT_CHARACTERISTICS, NDIS_PACKET } from '../../ndis/v5/types.js'
import type { CDriverInstance } from './instance.js'
import { write64 } from './imports.js'
import { readField } from './layout.js'
import type { CMiniportBridge } from './miniport.js'
import type { CPackets } from './net-packets.js'
import { NDIS51_MINIPORT_CHARACTERISTICS as CHARS } from './structs-ndis5.js'

const u = (x: unknown): number => Number(x ?? 0) >>> 0

/** Handlers a connectionless NDIS 5.1 miniport may register (the CoXxx ones are CoNDIS's). */
const HANDLERS = [
  'CheckForHangHandler', 'DisableInterruptHandler', 'EnableInterruptHandler', 'HaltHandler', 'HandleInterruptHandler', 'InitializeHandler',
  'ISRHandler', 'QueryInformationHandler', 'ResetHandler', 'SendHandler', 'SetInformationHandler', 'TransferDataHandler',
  'ReturnPacketHandler', 'SendPacketsHandler', 'AllocateCompleteHandler', 'CancelSendPacketsHandler', 'PnPEventNotifyHandler',
  'AdapterShutdownHandler',
] as const
type Handler = (typeof HANDLERS)[number]

/** Out-parameter slots in the scratch block, one range per handler (handlers may nest: an ISR inside a send). */
const SLOT = { init: 0, query: 8, set: 16, isr: 24, reset: 32, transfer: 36, allocate: 40, size: 48 } as const

export class CMiniport5 {
  private readonly c: CDriverInstance
  private readonly bridge: CMiniportBridge
  private readonly packets: CPackets
  private scratchVa = 0
  /** MiniportSendPackets' PacketArray, grown as needed and reused. */
  private arrayVa = 0
  private arrayCapacity = 0

  constructor(c: CDriverInstance, bridge: CMiniportBridge, packets: CPackets) {
    this.c = c
    this.bridge = bridge
    this.packets = packets
  }

  private scratch(): number {
    if (this.scratchVa === 0) this.scratchVa = this.c.allocate(SLOT.size)
    if (this.scratchVa === 0) throw new Error('no memory for NDIS\'s handler parameters')
    return this.scratchVa
  }

  /** A PacketArray of `packets` in memory (PPNDIS_PACKET). */
  packetArray(packets: readonly NDIS_PACKET[], count: number): number {
    if (count > this.arrayCapacity) {
      this.c.free(this.arrayVa)
      this.arrayCapacity = Math.max(count, 64)
      this.arrayVa = this.c.allocate(4 * this.arrayCapacity)
      if (this.arrayVa === 0) throw new Error('no memory for a PacketArray')
    }
    const m = this.c.kernel.memory
    for (let i = 0; i < count; i++) m.write32(this.arrayVa + 4 * i, this.packets.toC(packets[i]))
    return this.arrayVa
  }

  /**
   * NDIS_MINIPORT_CHARACTERISTICS at `va`, `length` bytes of it (an NDIS 5.0 driver's structure
   * ends before CancelSendPacketsHandler), as NdisMRegisterMiniport reads it.
   */
  characteristics(va: number, length: number): NDIS_MINIPORT_CHARACTERISTICS {
    const m = this.c.kernel.memory
    const within = (field: string): boolean => CHARS.offset[field]! + 4 <= length
    const field = (f: string): number => (within(f) ? readField(m, va, CHARS, f) : 0)
    const ptr = {} as Record<Handler, number>
    for (const h of HANDLERS) ptr[h] = field(h)
    const call = (h: Handler): ((...args: number[]) => number) => this.bridge.callable(ptr[h], h)
    const c = this.c
    const mem = m
    const packets = this.packets
    const out = (slot: number): number => this.scratch() + slot
    const chars: Record<string, unknown> = { MajorNdisVersion: field('MajorNdisVersion'), MinorNdisVersion: field('MinorNdisVersion') }
    const set = (h: Handler, fn: unknown): void => {
      if (ptr[h] !== 0) chars[h] = fn
    }
    // NDIS_STATUS MiniportInitialize(PNDIS_STATUS OpenErrorStatus, PUINT SelectedMediumIndex, PNDIS_MEDIUM MediumArray,
    //                                UINT MediumArraySize, NDIS_HANDLE MiniportAdapterHandle, NDIS_HANDLE WrapperConfigurationContext)
    set('InitializeHandler', (media: readonly number[], count: number, handle: unknown, configuration: unknown) => {
      const array = c.allocate(4 * Math.max(1, count))
      if (array === 0) throw new Error('no memory for MiniportInitialize\'s MediumArray')
      try {
        for (let i = 0; i < count; i++) mem.write32(array + 4 * i, media[i]! >>> 0)
        const o = out(SLOT.init)
        mem.write32(o, 0)
        mem.write32(o + 4, 0)
        const status = call('InitializeHandler')(o, o + 4, array, count, c.handle(handle as object), c.handle(configuration as object)) >>> 0
        return { status, selectedMediumIndex: mem.read32(o + 4), openErrorStatus: mem.read32(o) }
      } finally {
        c.free(array)
      }
    })
    set('HaltHandler', (context: unknown) => void call('HaltHandler')(u(context)))
    // NDIS_STATUS MiniportQueryInformation(ctx, NDIS_OID, PVOID Buffer, ULONG Length, PULONG BytesWritten, PULONG BytesNeeded)
    set('QueryInformationHandler', (context: unknown, oid: number, buffer: number, length: number) => {
      const o = out(SLOT.query)
      mem.write32(o, 0)
      mem.write32(o + 4, 0)
      const status = call('QueryInformationHandler')(u(context), oid >>> 0, buffer >>> 0, length >>> 0, o, o + 4) >>> 0
      return { status, bytesWritten: mem.read32(o), bytesNeeded: mem.read32(o + 4) }
    })
    set('SetInformationHandler', (context: unknown, oid: number, buffer: number, length: number) => {
      const o = out(SLOT.set)
      mem.write32(o, 0)
      mem.write32(o + 4, 0)
      const status = call('SetInformationHandler')(u(context), oid >>> 0, buffer >>> 0, length >>> 0, o, o + 4) >>> 0
      return { status, bytesRead: mem.read32(o), bytesNeeded: mem.read32(o + 4) }
    })
    // NDIS_STATUS MiniportReset(PBOOLEAN AddressingReset, NDIS_HANDLE MiniportAdapterContext)
    set('ResetHandler', (context: unknown) => {
      const o = out(SLOT.reset)
      mem.write8(o, 0)
      const status = call('ResetHandler')(o, u(context)) >>> 0
      return { status, addressingReset: mem.read8(o) !== 0 }
    })
    set('CheckForHangHandler', (context: unknown) => (call('CheckForHangHandler')(u(context)) & 0xff) !== 0)
    // VOID MiniportISR(PBOOLEAN InterruptRecognized, PBOOLEAN QueueMiniportHandleInterrupt, NDIS_HANDLE MiniportAdapterContext)
    set('ISRHandler', (context: unknown) => {
      const o = out(SLOT.isr)
      mem.write8(o, 0)
      mem.write8(o + 4, 0)
      call('ISRHandler')(o, o + 4, u(context))
      return { interruptRecognized: mem.read8(o) !== 0, queueMiniportHandleInterrupt: mem.read8(o + 4) !== 0 }
    })
    set('HandleInterruptHandler', (context: unknown) => void call('HandleInterruptHandler')(u(context)))
    set('EnableInterruptHandler', (context: unknown) => void call('EnableInterruptHandler')(u(context)))
    set('DisableInterruptHandler', (context: unknown) => void call('DisableInterruptHandler')(u(context)))
    // NDIS_STATUS MiniportSend(ctx, PNDIS_PACKET Packet, UINT Flags)
    set('SendHandler', (context: unknown, packet: NDIS_PACKET, flags: number) => {
      const status = call('SendHandler')(u(context), packets.toC(packet), flags >>> 0) >>> 0
      packets.afterHandler(packet)
      return status
    })
    // VOID MiniportSendPackets(ctx, PPNDIS_PACKET PacketArray, UINT NumberOfPackets)
    set('SendPacketsHandler', (context: unknown, array: NDIS_PACKET[], count: number) => {
      const n = Math.min(count, array.length)
      call('SendPacketsHandler')(u(context), this.packetArray(array, n), n)
      // A serialized miniport answers through each packet's status (NDIS_SET_PACKET_STATUS).
      for (let i = 0; i < n; i++) packets.afterHandler(array[i]!)
    })
    // NDIS_STATUS MiniportTransferData(PNDIS_PACKET, PUINT BytesTransferred, ctx, NDIS_HANDLE ReceiveContext, UINT ByteOffset, UINT BytesToTransfer)
    set('TransferDataHandler', (packet: NDIS_PACKET, context: unknown, receiveContext: unknown, offset: number, bytes: number) => {
      const o = out(SLOT.transfer)
      mem.write32(o, 0)
      const status = call('TransferDataHandler')(packets.toC(packet), o, u(context), u(receiveContext), offset >>> 0, bytes >>> 0) >>> 0
      return { status, bytesTransferred: mem.read32(o) }
    })
    set('ReturnPacketHandler', (context: unknown, packet: NDIS_PACKET) => void call('ReturnPacketHandler')(u(context), packets.toC(packet)))
    // VOID MiniportAllocateComplete(ctx, PVOID VirtualAddress, PNDIS_PHYSICAL_ADDRESS, ULONG Length, PVOID Context)
    set('AllocateCompleteHandler', (context: unknown, virtualAddress: number, physicalAddress: number, length: number, ctx: unknown) => {
      const pa = out(SLOT.allocate)
      write64(c, pa, virtualAddress === 0 ? 0 : physicalAddress)
      call('AllocateCompleteHandler')(u(context), virtualAddress >>> 0, pa, length >>> 0, u(ctx))
    })
    // VOID MiniportCancelSendPackets(ctx, PVOID CancelId): the ID as NDIS_GET_PACKET_CANCEL_ID reads it.
    set('CancelSendPacketsHandler', (context: unknown, cancelId: unknown) =>
      void call('CancelSendPacketsHandler')(u(context), typeof cancelId === 'number' ? cancelId >>> 0 : c.handle(cancelId as object | null)))
    // VOID MiniportPnPEventNotify(ctx, NDIS_DEVICE_PNP_EVENT, PVOID InformationBuffer, ULONG InformationBufferLength)
    set('PnPEventNotifyHandler', (context: unknown, event: number, buffer: number, length: number) =>
      void call('PnPEventNotifyHandler')(u(context), event >>> 0, u(buffer), u(length)))
    set('AdapterShutdownHandler', (context: unknown) => void call('AdapterShutdownHandler')(u(context)))
    return chars as unknown as NDIS_MINIPORT_CHARACTERISTICS
  }
}
