// Receive: MiniportHandleInterrupt walks the descriptors the NIC has written back (DD set),
// sets each frame's length on its packet's buffer (NdisAdjustBufferLength, then
// NdisRecalculatePacketCounts), and indicates them in one array with NdisMIndicateReceivePacket.
// While enough descriptors remain with the NIC, packets go up with NDIS_STATUS_SUCCESS and the
// protocol may keep them (MiniportReturnPacket brings them back); when few remain, with
// NDIS_STATUS_RESOURCES, so the protocol copies them and they are reusable at once. Nothing is
// indicated while the packet filter is 0 (the protocol has not set it, or cleared it).
import type { NDIS_PACKET } from '../../src/ndis/v5/types.js'
import { CTX, RX_LOW_WATER, adapterOf, bump, get, set, writeReg, type Adapter, type Driver } from './adapter.js'
import { DESC_LENGTH, DESC_SIZE, REG, RXD_ERRORS, RXD_STATUS, RXD_STA_DD, RXD_STA_EOP } from '../e1000/hw.js'

/** Indicates every frame the NIC has written back. DPC (DISPATCH_LEVEL), lock not held. */
export function receiveFrames(a: Adapter): void {
  const ndis = a.ndis
  const m = ndis.memory
  const count = a.rxPackets.length
  const batch: NDIS_PACKET[] = []
  const filter = get(a, CTX.packetFilter)
  const halting = get(a, CTX.halting) !== 0
  for (let n = 0; n < count; n++) {
    const i = get(a, CTX.rxNext)
    const d = a.rxRing + i * DESC_SIZE
    const status = m.read8(d + RXD_STATUS)
    if ((status & RXD_STA_DD) === 0) break
    const length = m.read16(d + DESC_LENGTH)
    const errors = m.read8(d + RXD_ERRORS)
    set(a, CTX.rxNext, (i + 1) % count)
    const packet = a.rxPackets[i]
    // Frames that span descriptors cannot happen with 2 KiB buffers and a 1514-byte MTU; drop
    // them, errored frames, and everything while the filter is 0 or the adapter halts.
    if (packet === null || packet === undefined || errors !== 0 || (status & RXD_STA_EOP) === 0 || halting || filter === 0) {
      if (errors !== 0 || (status & RXD_STA_EOP) === 0) bump(a, CTX.rxErrors)
      m.write8(d + RXD_STATUS, 0)
      a.rxReady[i] = true
      continue
    }
    ndis.NdisAdjustBufferLength(a.rxBuffers[i]!, length)
    ndis.NdisRecalculatePacketCounts(packet)
    // Descriptors the NIC still has to receive into: low, and the protocol must copy.
    const withNic = count - 1 - get(a, CTX.rxHeld) - batch.length
    ndis.NDIS_SET_PACKET_STATUS(packet, withNic < RX_LOW_WATER ? ndis.NDIS_STATUS_RESOURCES : ndis.NDIS_STATUS_SUCCESS)
    ndis.NDIS_SET_PACKET_HEADER_SIZE(packet, 14)
    batch.push(packet)
  }
  if (batch.length > 0) {
    bump(a, CTX.rxOk, batch.length)
    ndis.NdisMIndicateReceivePacket(a.handle, batch, batch.length)
    // NDIS_GET_PACKET_STATUS after the call: PENDING means the protocol kept the packet.
    for (const p of batch) {
      const i = p.MiniportReservedEx[0] as number
      if (ndis.NDIS_GET_PACKET_STATUS(p) === ndis.NDIS_STATUS_PENDING) set(a, CTX.rxHeld, get(a, CTX.rxHeld) + 1)
      else {
        m.write8(a.rxRing + i * DESC_SIZE + RXD_STATUS, 0)
        a.rxReady[i] = true
      }
    }
  }
  postReady(a)
}

/** MiniportReturnPacket (DISPATCH_LEVEL): the protocol is done with a packet; its buffer goes back to the NIC. */
export function returnPacket(driver: Driver, context: unknown, packet: NDIS_PACKET): void {
  const a = adapterOf(driver, context)
  const ndis = a.ndis
  ndis.NdisDprAcquireSpinLock(a.lock!)
  const i = packet.MiniportReservedEx[0] as number
  ndis.memory.write8(a.rxRing + i * DESC_SIZE + RXD_STATUS, 0)
  a.rxReady[i] = true
  set(a, CTX.rxHeld, get(a, CTX.rxHeld) - 1)
  postReady(a)
  ndis.NdisDprReleaseSpinLock(a.lock!)
}

/**
 * Hands finished descriptors back in ring order: the NIC owns head..tail-1, so the tail moves
 * only over a run of ready descriptors, and one descriptor always stays with the driver (head
 * == tail means an empty ring, 8254x manual 3.2.6).
 */
export function postReady(a: Adapter): void {
  const count = a.rxPackets.length
  const next = get(a, CTX.rxNext)
  let tail = get(a, CTX.rxTail)
  const start = tail
  while (a.rxReady[tail] === true && (tail + 1) % count !== next) {
    a.rxReady[tail] = false
    tail = (tail + 1) % count
  }
  if (tail !== start) {
    set(a, CTX.rxTail, tail)
    if (get(a, CTX.halting) === 0) writeReg(a, REG.RDT, tail)
  }
}
