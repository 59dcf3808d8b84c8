// Transmit for a deserialized NDIS 5.1 miniport: MiniportSendPackets marks every packet pending
// and queues it; the queue drains onto the ring while descriptors and map registers last. Each
// NDIS_BUFFER of a packet is mapped on its own map register with
// NdisMStartBufferPhysicalMapping (the HAL bounces a buffer beyond the NIC's 32 address lines);
// a packet of many small buffers, or a short one, is copied into a staging slot and that slot
// is mapped instead. When the NIC has written a packet's last descriptor back, every mapping is
// completed (NdisMCompleteBufferPhysicalMapping) and the packet goes back with NdisMSendComplete,
// in order ("Multipacket Sends from Deserialized Miniport Drivers").
import type { NDIS_PACKET } from '../../src/ndis/v5/types.js'
import {
  CTX, adapterOf, bump, get, set, writeReg, type Adapter, type Driver, type TxMapping, type TxPacket,
} from './adapter.js'
import { DESC_ADDR_HI, DESC_ADDR_LO, DESC_LENGTH, DESC_SIZE, REG, TXD_CMD, TXD_CMD_EOP, TXD_CMD_IFCS, TXD_CMD_RS, TXD_STA, TXD_STA_DD } from '../e1000/hw.js'
import { mapBuffer } from './memory.js'

/** MiniportSendPackets (IRQL <= DISPATCH_LEVEL). */
export function sendPackets(driver: Driver, context: unknown, packets: NDIS_PACKET[], count: number): void {
  const a = adapterOf(driver, context)
  const ndis = a.ndis
  a.driver.hooks.beforeSend(a)
  const refused: NDIS_PACKET[] = []
  ndis.NdisAcquireSpinLock(a.lock!)
  const up = get(a, CTX.linkUp) !== 0 && get(a, CTX.halting) === 0
  for (let i = 0; i < count; i++) {
    const p = packets[i]!
    ndis.NDIS_SET_PACKET_STATUS(p, ndis.NDIS_STATUS_PENDING)
    if (up) a.txQueue.push(p)
    else refused.push(p)
  }
  drainQueue(a)
  const failed = a.txFailed.splice(0)
  ndis.NdisReleaseSpinLock(a.lock!)
  const status = get(a, CTX.linkUp) === 0 ? ndis.NDIS_STATUS_MEDIA_DISCONNECT : ndis.NDIS_STATUS_FAILURE
  for (const p of refused) ndis.NdisMSendComplete(a.handle, p, status)
  completeSends(a, failed, ndis.NDIS_STATUS_RESOURCES)
}

/**
 * MiniportSend, for the variant that registers it instead of MiniportSendPackets: the packet
 * goes the same way. A deserialized miniport owns it until NdisMSendComplete, so NDIS_STATUS_PENDING.
 */
export function send(driver: Driver, context: unknown, packet: NDIS_PACKET): number {
  sendPackets(driver, context, [packet], 1)
  return driver.ndis.NDIS_STATUS_PENDING
}

/** Puts queued packets on the ring while descriptors and map registers last; one doorbell. Lock held. */
export function drainQueue(a: Adapter): void {
  const startTail = get(a, CTX.txNext)
  while (a.txQueue.length > 0) {
    if (!placePacket(a, a.txQueue[0]!)) break
    a.txQueue.shift()
  }
  const tail = get(a, CTX.txNext)
  if (tail !== startTail) writeReg(a, REG.TDT, tail)
}

/** Maps one packet and writes its descriptors; false when it must wait for resources. */
function placePacket(a: Adapter, packet: NDIS_PACKET): boolean {
  const ndis = a.ndis
  const { bufferCount, firstBuffer, totalPacketLength } = ndis.NdisQueryPacket(packet)
  const free = get(a, CTX.txFree)
  const stage = a.driver.hooks.stage(a, bufferCount, totalPacketLength)
  // Keep one descriptor unused: head == tail means an empty ring. A buffer of one frame spans at most two pages.
  const worst = stage ? 2 : bufferCount * 2
  if (free - worst < 1) return false
  const units: Array<{ PhysicalAddress: number; Length: number }> = []
  const mappings: TxMapping[] = []
  let slot = -1
  if (stage) {
    slot = a.freeSlots.pop() ?? -1
    if (slot < 0) {
      // No staging area at all (it could not be allocated): the packet cannot be sent.
      if (a.staging.length === 0) return failPacket(a, packet)
      return false
    }
    copyIntoSlot(a, packet, slot)
    const mapped = a.driver.hooks.mapStaged(a, slot, totalPacketLength)
    if (mapped === null) {
      a.freeSlots.push(slot)
      return false
    }
    units.push(...mapped.units)
    if (mapped.mapping !== null) mappings.push(mapped.mapping)
  } else {
    if (a.freeRegisters.length < bufferCount) return false
    for (let b = firstBuffer; b !== null; b = ndis.NdisGetNextBuffer(b).nextBuffer) {
      if (ndis.NdisBufferLength(b) === 0) continue
      const mapped = mapBuffer(a, b)
      if (mapped === null) {
        for (const m of mappings) a.driver.hooks.completeMapping(a, m)
        return false
      }
      units.push(...mapped.units)
      mappings.push(mapped.mapping)
    }
  }
  writeDescriptors(a, packet, units, mappings, slot)
  return true
}

/** A packet that can never be placed: completed with NDIS_STATUS_RESOURCES (S11) once the lock is dropped. */
function failPacket(a: Adapter, packet: NDIS_PACKET): boolean {
  bump(a, CTX.txDropped)
  a.txFailed.push(packet)
  return true
}

/** Copies a packet's buffers into staging slot `slot`. */
function copyIntoSlot(a: Adapter, packet: NDIS_PACKET, slot: number): void {
  const ndis = a.ndis
  let at = a.staging[slot]!.va
  for (let b = ndis.NdisQueryPacket(packet).firstBuffer; b !== null; b = ndis.NdisGetNextBuffer(b).nextBuffer) {
    const { virtualAddress, length } = ndis.NdisQueryBufferSafe(b, ndis.NormalPagePriority)
    if (virtualAddress === 0 || length === 0) continue
    ndis.NdisMoveMemory(at, virtualAddress, length)
    at += length
  }
}

/** One descriptor per mapped range; EOP and RS on the last (8254x manual 3.3.3). */
function writeDescriptors(a: Adapter, packet: NDIS_PACKET, units: ReadonlyArray<{ PhysicalAddress: number; Length: number }>, mappings: TxMapping[], slot: number): void {
  const m = a.ndis.memory
  const count = a.txPackets.length
  let index = get(a, CTX.txNext)
  let last = index
  for (let i = 0; i < units.length; i++) {
    const u = units[i]!
    const d = a.txRing + index * DESC_SIZE
    m.write32(d + DESC_ADDR_LO, u.PhysicalAddress >>> 0)
    m.write32(d + DESC_ADDR_HI, Math.floor(u.PhysicalAddress / 4294967296))
    m.write32(d + DESC_LENGTH, u.Length & 0xffff)
    m.write8(d + TXD_CMD, TXD_CMD_IFCS | (i === units.length - 1 ? TXD_CMD_EOP | TXD_CMD_RS : 0))
    m.write32(d + TXD_STA, 0)
    last = index
    index = (index + 1) % count
  }
  const record: TxPacket = { packet, mappings, slot, lastDescriptor: last, descriptors: units.length }
  a.txPackets[last] = record
  set(a, CTX.txNext, index)
  set(a, CTX.txFree, get(a, CTX.txFree) - units.length)
}

/**
 * Reaps finished packets (DD on their last descriptor): completes their mappings, frees their
 * staging slots, and returns them in order for NdisMSendComplete. Lock held.
 */
export function reapTransmits(a: Adapter): NDIS_PACKET[] {
  const m = a.ndis.memory
  const count = a.txPackets.length
  const done: NDIS_PACKET[] = []
  while (get(a, CTX.txFree) < count) {
    let last = get(a, CTX.txClean)
    let descriptors = 1
    while (a.txPackets[last] === null && descriptors < count) {
      last = (last + 1) % count
      descriptors++
    }
    const record = a.txPackets[last]
    if (record === null || record === undefined) break
    if ((m.read8(a.txRing + last * DESC_SIZE + TXD_STA) & TXD_STA_DD) === 0) break
    a.txPackets[last] = null
    finishRecord(a, record)
    set(a, CTX.txClean, (last + 1) % count)
    set(a, CTX.txFree, get(a, CTX.txFree) + descriptors)
    bump(a, CTX.txOk)
    done.push(record.packet)
  }
  return done
}

/** The NIC is done with a packet's buffers: give back its mappings and staging slot. */
export function finishRecord(a: Adapter, record: TxPacket): void {
  for (const mapping of record.mappings) a.driver.hooks.completeMapping(a, mapping)
  if (record.slot >= 0) a.freeSlots.push(record.slot)
}

/**
 * MiniportCancelSendPackets (IRQL <= DISPATCH_LEVEL): packets still queued with this cancel ID go
 * back with NDIS_STATUS_REQUEST_ABORTED; those on the ring are the NIC's and complete when it is
 * done with them.
 */
export function cancelSendPackets(driver: Driver, context: unknown, cancelId: unknown): void {
  const a = adapterOf(driver, context)
  const ndis = a.ndis
  const cancelled: NDIS_PACKET[] = []
  ndis.NdisAcquireSpinLock(a.lock!)
  const keep = a.txQueue.filter((p) => {
    if (ndis.NDIS_GET_PACKET_CANCEL_ID(p) !== cancelId) return true
    cancelled.push(p)
    return false
  })
  a.txQueue.length = 0
  a.txQueue.push(...keep)
  ndis.NdisReleaseSpinLock(a.lock!)
  completeSends(a, cancelled, ndis.NDIS_STATUS_REQUEST_ABORTED)
}

/** Completes packets to NDIS (lock not held). */
export function completeSends(a: Adapter, packets: readonly NDIS_PACKET[], status: number): void {
  for (const p of packets) a.ndis.NdisMSendComplete(a.handle, p, status)
}

/** Every packet on the ring or queued, taken back with its resources (reset, halt). Lock held. */
export function abortTransmits(a: Adapter): NDIS_PACKET[] {
  const out: NDIS_PACKET[] = []
  const count = a.txPackets.length
  for (let k = 0, i = get(a, CTX.txClean); k < count; k++, i = (i + 1) % count) {
    const record = a.txPackets[i]
    if (record === null || record === undefined) continue
    a.txPackets[i] = null
    finishRecord(a, record)
    bump(a, CTX.txDropped)
    out.push(record.packet)
  }
  out.push(...a.txQueue)
  a.txQueue.length = 0
  set(a, CTX.txNext, 0)
  set(a, CTX.txClean, 0)
  set(a, CTX.txFree, count)
  return out
}
