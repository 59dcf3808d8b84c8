// A small NDIS 5.1 miniport that touches no hardware, for the NDIS 5 driver model's tests:
// every packet it is sent, it completes (at once, or later from a timer) and, unless told not
// to, loops back to the protocol — by NdisMEthIndicateReceive with a lookahead (the rest
// through MiniportTransferData) or by NdisMIndicateReceivePacket. Options choose serialized or
// deserialized, MiniportSend or MiniportSendPackets, NDIS_STATUS_RESOURCES pushback, and hooks
// let a test call routines from inside a handler.
import type { NdisApi } from '../../../src/ndis/api.js'
import type { NdisHandle } from '../../../src/ndis/types.js'
import type { NDIS_MINIPORT_CHARACTERISTICS, NDIS_MINIPORT_TIMER, NDIS_PACKET } from '../../../src/ndis/v5/types.js'

export interface LoopOptions {
  readonly serialized?: boolean
  readonly send?: 'send' | 'send-packets'
  /** Serialized only: return NDIS_STATUS_RESOURCES for every Nth packet, then NdisMSendResourcesAvailable from a timer. */
  readonly resourcesEvery?: number
  /** Complete sends at once (status from the handler), pending (from a timer), or pend them and never complete them. */
  readonly complete?: 'sync' | 'pending' | 'never'
  readonly loopback?: 'lookahead' | 'packets' | 'none'
  /** Bytes of lookahead NdisMEthIndicateReceive passes (default 128). */
  readonly lookahead?: number
  readonly transferPending?: boolean
  /** Status the loop indicates packets with. */
  readonly receiveStatus?: 'success' | 'resources'
  readonly shutdownHandler?: boolean
  /** CharacteristicsLength for NdisMRegisterMiniport (default 0xF0, sizeof(NDIS51_MINIPORT_CHARACTERISTICS) on x64). */
  readonly characteristicsLength?: number
  /** false: DriverEntry does not call NdisTerminateWrapper when registration fails. */
  readonly terminateWrapper?: boolean
  /** Extra attribute flags for NdisMSetAttributesEx. */
  readonly attributes?: number
  readonly hooks?: {
    readonly initialize?: (ndis: NdisApi, handle: NdisHandle, configurationContext: NdisHandle) => number | void
    readonly halt?: (ndis: NdisApi, handle: NdisHandle) => void
    readonly query?: (ndis: NdisApi, handle: NdisHandle, oid: number) => void
    /** Answers a set instead of the loop when it returns something. */
    readonly set?: (ndis: NdisApi, handle: NdisHandle, oid: number) => { status: number; bytesRead: number; bytesNeeded: number } | void
    readonly checkForHang?: () => boolean
    readonly reset?: (ndis: NdisApi, handle: NdisHandle) => { status: number; addressingReset: boolean }
    readonly characteristics?: (c: NDIS_MINIPORT_CHARACTERISTICS) => NDIS_MINIPORT_CHARACTERISTICS
  }
}

/** What the loop driver did, for assertions. */
export interface LoopLog {
  sendCalls: number
  packetsSeen: number
  resourcesReturned: number
  transfers: number
  returned: number
  resets: number
}

const FRAME = 2048

export function ndis5Loop(options: LoopOptions = {}): { DriverEntry: (ndis: NdisApi) => number; log: LoopLog } {
  const log: LoopLog = { sendCalls: 0, packetsSeen: 0, resourcesReturned: 0, transfers: 0, returned: 0, resets: 0 }
  const DriverEntry = (ndis: NdisApi): number => {
    let handle: NdisHandle = {}
    let frames = 0 // a receive area: one frame buffer per loop slot
    let timer: NDIS_MINIPORT_TIMER | null = null
    let transferTimer: NDIS_MINIPORT_TIMER | null = null
    const pendingTransfers: (() => void)[] = []
    let packetPool: NdisHandle | null = null
    let bufferPool: NdisHandle | null = null
    const slots: Array<{ va: number; packet: NDIS_PACKET | null; busy: boolean; length: number }> = []
    const pendingSends: NDIS_PACKET[] = []
    const echoes: number[] = []
    let resourcesOwed = false
    let sent = 0

    /** Copies a packet into a receive slot and schedules its echo. */
    const loop = (p: NDIS_PACKET): void => {
      if (options.loopback === 'none') return
      const i = slots.findIndex((s) => !s.busy)
      if (i < 0) return
      const { firstBuffer, totalPacketLength } = ndis.NdisQueryPacket(p)
      let at = slots[i]!.va
      for (let b = firstBuffer; b !== null; b = ndis.NdisGetNextBuffer(b).nextBuffer) {
        const { virtualAddress, length } = ndis.NdisQueryBufferSafe(b, ndis.NormalPagePriority)
        ndis.NdisMoveMemory(at, virtualAddress, length)
        at += length
      }
      slots[i]!.busy = true
      slots[i]!.length = totalPacketLength
      echoes.push(i)
    }

    /** The timer: completes pending sends, offers resources again, indicates the echoes. */
    const tick = (): void => {
      for (const p of pendingSends.splice(0)) ndis.NdisMSendComplete(handle, p, ndis.NDIS_STATUS_SUCCESS)
      if (resourcesOwed) {
        resourcesOwed = false
        ndis.NdisMSendResourcesAvailable(handle)
      }
      const batch: NDIS_PACKET[] = []
      for (const i of echoes.splice(0)) {
        const s = slots[i]!
        if (options.loopback === 'packets') {
          const buffer = s.packet!.Private.Head!
          ndis.NdisAdjustBufferLength(buffer, s.length)
          ndis.NdisRecalculatePacketCounts(s.packet!)
          ndis.NDIS_SET_PACKET_HEADER_SIZE(s.packet!, 14)
          ndis.NDIS_SET_PACKET_STATUS(s.packet!, options.receiveStatus === 'resources' ? ndis.NDIS_STATUS_RESOURCES : ndis.NDIS_STATUS_SUCCESS)
          batch.push(s.packet!)
        } else {
          const look = Math.min(options.lookahead ?? 128, s.length - 14)
          ndis.NdisMEthIndicateReceive(handle, i, s.va, 14, s.va + 14, look, s.length - 14)
          if (!options.transferPending) s.busy = false
        }
      }
      if (batch.length > 0) {
        ndis.NdisMIndicateReceivePacket(handle, batch, batch.length)
        for (const p of batch) if (ndis.NDIS_GET_PACKET_STATUS(p) !== ndis.NDIS_STATUS_PENDING) slots[p.MiniportReservedEx[0] as number]!.busy = false
      } else if (options.loopback !== 'packets' && options.loopback !== 'none') ndis.NdisMEthIndicateReceiveComplete(handle)
      if (pendingSends.length > 0 || echoes.length > 0 || resourcesOwed) ndis.NdisMSetTimer(timer!, 0)
    }

    const accept = (p: NDIS_PACKET): number => {
      log.packetsSeen++
      if (options.serialized && options.resourcesEvery !== undefined && ++sent % options.resourcesEvery === 0 && !resourcesOwed) {
        resourcesOwed = true
        log.resourcesReturned++
        ndis.NdisMSetTimer(timer!, 0)
        return ndis.NDIS_STATUS_RESOURCES
      }
      loop(p)
      if (options.complete === 'never') return ndis.NDIS_STATUS_PENDING
      if (options.complete === 'pending' || !options.serialized) {
        pendingSends.push(p)
        ndis.NdisMSetTimer(timer!, 0)
        return ndis.NDIS_STATUS_PENDING
      }
      ndis.NdisMSetTimer(timer!, 0)
      return ndis.NDIS_STATUS_SUCCESS
    }

    let chars: NDIS_MINIPORT_CHARACTERISTICS = {
      MajorNdisVersion: 5,
      MinorNdisVersion: 1,
      InitializeHandler: (media, _n, h, cfg) => {
        handle = h
        const medium = media.indexOf(ndis.NdisMedium802_3)
        ndis.NdisMSetAttributesEx(h, 'loop', 0, (options.serialized ? 0 : ndis.NDIS_ATTRIBUTE_DESERIALIZE) | (options.attributes ?? 0), ndis.NdisInterfacePci)
        const { status, virtualAddress } = ndis.NdisAllocateMemoryWithTag(FRAME * 64, 'pooL')
        if (status !== ndis.NDIS_STATUS_SUCCESS) return { status, selectedMediumIndex: medium }
        frames = virtualAddress
        const pp = ndis.NdisAllocatePacketPool(64, 0)
        const bp = ndis.NdisAllocateBufferPool(64)
        packetPool = pp.poolHandle
        bufferPool = bp.poolHandle
        for (let i = 0; i < 64; i++) {
          const slot: { va: number; packet: NDIS_PACKET | null; busy: boolean; length: number } = { va: frames + i * FRAME, packet: null, busy: false, length: 0 }
          const { packet } = ndis.NdisAllocatePacket(packetPool)
          const { buffer } = ndis.NdisAllocateBuffer(bufferPool, slot.va, FRAME)
          ndis.NdisChainBufferAtBack(packet!, buffer!)
          packet!.MiniportReservedEx[0] = i
          slot.packet = packet
          slots.push(slot)
        }
        timer = ndis.NdisMInitializeTimer(h, () => tick(), null).timer
        if (options.transferPending) transferTimer = ndis.NdisMInitializeTimer(h, () => { for (const complete of pendingTransfers.splice(0)) complete() }, null).timer
        const extra = options.hooks?.initialize?.(ndis, h, cfg)
        return { status: typeof extra === 'number' ? extra : ndis.NDIS_STATUS_SUCCESS, selectedMediumIndex: medium }
      },
      HaltHandler: () => {
        options.hooks?.halt?.(ndis, handle)
        if (timer !== null) ndis.NdisMCancelTimer(timer)
        for (const s of slots) {
          const { buffer } = ndis.NdisUnchainBufferAtFront(s.packet!)
          if (buffer !== null) ndis.NdisFreeBuffer(buffer)
          ndis.NdisFreePacket(s.packet!)
        }
        ndis.NdisFreePacketPool(packetPool)
        ndis.NdisFreeBufferPool(bufferPool)
        ndis.NdisFreeMemory(frames, FRAME * 64, 0)
      },
      QueryInformationHandler: (_c, oid, buffer, length) => {
        options.hooks?.query?.(ndis, handle, oid)
        const u32 = (v: number): { status: number; bytesWritten: number; bytesNeeded: number } => {
          if (length < 4) return { status: ndis.NDIS_STATUS_INVALID_LENGTH, bytesWritten: 0, bytesNeeded: 4 }
          ndis.memory.write32(buffer, v)
          return { status: ndis.NDIS_STATUS_SUCCESS, bytesWritten: 4, bytesNeeded: 0 }
        }
        switch (oid) {
          case ndis.OID_802_3_CURRENT_ADDRESS:
            ndis.memory.writeBytes(buffer, Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56))
            return { status: ndis.NDIS_STATUS_SUCCESS, bytesWritten: 6, bytesNeeded: 0 }
          case ndis.OID_GEN_MAXIMUM_SEND_PACKETS:
            return u32(8)
          case ndis.OID_GEN_MEDIA_CONNECT_STATUS:
            return u32(ndis.NdisMediaStateConnected)
          case ndis.OID_GEN_MAXIMUM_LOOKAHEAD:
          case ndis.OID_GEN_MAXIMUM_FRAME_SIZE:
            return u32(1500)
          case ndis.OID_GEN_LINK_SPEED:
            return u32(10_000_000)
          case ndis.OID_GEN_MAXIMUM_TOTAL_SIZE:
            return u32(1514)
          case ndis.OID_GEN_MAC_OPTIONS:
            return u32(ndis.NDIS_MAC_OPTION_NO_LOOPBACK)
          default:
            return { status: ndis.NDIS_STATUS_NOT_SUPPORTED, bytesWritten: 0, bytesNeeded: 0 }
        }
      },
      SetInformationHandler: (_c, oid, _buffer, length) => options.hooks?.set?.(ndis, handle, oid) ?? { status: ndis.NDIS_STATUS_SUCCESS, bytesRead: length, bytesNeeded: 0 },
      ResetHandler: () => {
        log.resets++
        return options.hooks?.reset?.(ndis, handle) ?? { status: ndis.NDIS_STATUS_SUCCESS, addressingReset: false }
      },
      TransferDataHandler: (packet, _c, receiveContext, offset, bytes) => {
        log.transfers++
        const s = slots[receiveContext as number]!
        const { firstBuffer } = ndis.NdisQueryPacket(packet)
        const { virtualAddress } = ndis.NdisQueryBufferSafe(firstBuffer!, ndis.NormalPagePriority)
        ndis.NdisMoveMemory(virtualAddress, s.va + 14 + offset, bytes)
        if (!options.transferPending) return { status: ndis.NDIS_STATUS_SUCCESS, bytesTransferred: bytes }
        // Timers are initialized at PASSIVE_LEVEL (MiniportInitialize); this one completes every
        // transfer pended since it last ran.
        pendingTransfers.push(() => {
          s.busy = false
          ndis.NdisMTransferDataComplete(handle, packet, ndis.NDIS_STATUS_SUCCESS, bytes)
        })
        ndis.NdisMSetTimer(transferTimer!, 0)
        return { status: ndis.NDIS_STATUS_PENDING, bytesTransferred: 0 }
      },
      ReturnPacketHandler: (_c, packet) => {
        log.returned++
        slots[packet.MiniportReservedEx[0] as number]!.busy = false
      },
      ...(options.hooks?.checkForHang === undefined ? {} : { CheckForHangHandler: () => options.hooks?.checkForHang?.() ?? false }),
      ...(options.shutdownHandler === false ? {} : { AdapterShutdownHandler: () => {} }),
    }
    if (options.send === 'send') chars.SendHandler = (_c, p) => {
      log.sendCalls++
      return accept(p)
    }
    else chars.SendPacketsHandler = (_c, packets, n) => {
      log.sendCalls++
      for (let i = 0; i < n; i++) {
        const p = packets[i]!
        const status = accept(p)
        ndis.NDIS_SET_PACKET_STATUS(p, status)
        if (status === ndis.NDIS_STATUS_RESOURCES) break
      }
    }
    if (options.hooks?.characteristics !== undefined) chars = options.hooks.characteristics(chars)
    const { ndisWrapperHandle } = ndis.NdisMInitializeWrapper(ndis.DriverObject, '', null)
    const status = ndis.NdisMRegisterMiniport(ndisWrapperHandle, chars, options.characteristicsLength ?? 0xf0)
    if (status !== ndis.NDIS_STATUS_SUCCESS && options.terminateWrapper !== false) ndis.NdisTerminateWrapper(ndisWrapperHandle, null)
    return status
  }
  return { DriverEntry, log }
}
