// MiniportHalt (PASSIVE_LEVEL): stop the NIC first — no DMA may land in memory about to be
// freed — cancel the watchdog, deregister the interrupt, then give everything back in the
// reverse order of initialization, the context area last (NdisFreeMemory with the flags it was
// allocated with). release() is also the unwind of a failed MiniportInitialize, so every step
// copes with any prefix of the set-up. MiniportShutdown only stops the NIC: at shutdown nothing
// is freed (the NDIS 5.1 reference: it "should put the NIC in a known state").
import { CONTEXT_BYTES, CTX, adapterOf, get, set, type Adapter, type Driver } from './adapter.js'
import { DESC_SIZE } from '../e1000/hw.js'
import { stopDevice } from '../e1000/device.js'
import { abortTransmits, completeSends } from './send.js'
import { CONTEXT_FLAGS, freeStagingArea } from './memory.js'

export function halt(driver: Driver, context: unknown): void {
  const a = adapterOf(driver, context)
  const ndis = a.ndis
  set(a, CTX.halting, 1)
  if (get(a, CTX.removed) === 0) stopDevice(a)
  ndis.NdisAcquireSpinLock(a.lock!)
  const aborted = abortTransmits(a)
  ndis.NdisReleaseSpinLock(a.lock!)
  completeSends(a, aborted, ndis.NDIS_STATUS_REQUEST_ABORTED)
  release(a)
}

/**
 * MiniportPnPEventNotify (PASSIVE_LEVEL): after a surprise removal the NIC's registers are gone,
 * so halt must not touch them; a change of power source needs nothing from a wired NIC.
 */
export function pnpEventNotify(driver: Driver, context: unknown, event: number): void {
  const a = driver.adapters.get(context as number)
  if (a !== undefined && event === a.ndis.NdisDevicePnPEventSurpriseRemoved) set(a, CTX.removed, 1)
}

/** MiniportShutdown: the system is going down; the NIC must stop its DMA, nothing is freed. */
export function shutdown(driver: Driver, context: unknown): void {
  const a = driver.adapters.get(context as number)
  if (a !== undefined && get(a, CTX.halting) === 0) stopDevice(a)
}

/** Frees everything, in the reverse order of initialization. The NIC must be stopped. */
export function release(a: Adapter): void {
  const ndis = a.ndis
  if (a.watchdog !== null) ndis.NdisMCancelTimer(a.watchdog)
  a.watchdog = null
  if (a.interrupt !== null) ndis.NdisMDeregisterInterrupt(a.interrupt)
  a.interrupt = null
  freeStagingArea(a)
  for (let i = 0; i < a.rxPackets.length; i++) {
    const p = a.rxPackets[i]
    if (p !== null && p !== undefined) {
      ndis.NdisUnchainBufferAtFront(p)
      ndis.NdisFreePacket(p)
    }
    const b = a.rxBuffers[i]
    if (b !== null && b !== undefined) ndis.NdisFreeBuffer(b)
  }
  a.rxPackets = []
  a.rxBuffers = []
  for (const block of a.rxBlocks.reverse()) ndis.NdisMFreeSharedMemory(a.handle, block.length, true, block.va, block.logical)
  a.rxBlocks = []
  if (a.rxRing !== 0) ndis.NdisMFreeSharedMemory(a.handle, a.ringCount * DESC_SIZE, false, a.rxRing, a.rxRingLogical)
  if (a.txRing !== 0) ndis.NdisMFreeSharedMemory(a.handle, a.ringCount * DESC_SIZE, false, a.txRing, a.txRingLogical)
  a.rxRing = a.txRing = 0
  if (a.mapRegisters) ndis.NdisMFreeMapRegisters(a.handle)
  a.mapRegisters = false
  if (a.bufferPool !== null) ndis.NdisFreeBufferPool(a.bufferPool)
  if (a.packetPool !== null) ndis.NdisFreePacketPool(a.packetPool)
  a.bufferPool = a.packetPool = null
  if (a.ioPort !== 0) ndis.NdisMDeregisterIoPortRange(a.handle, a.ioPort, a.ioPorts, a.ioPort)
  a.ioPort = a.ioPorts = 0
  if (a.regs !== 0) ndis.NdisMUnmapIoSpace(a.handle, a.regs, a.regsLength)
  a.regs = 0
  if (a.lock !== null) ndis.NdisFreeSpinLock(a.lock)
  a.lock = null
  a.driver.adapters.delete(a.ctx)
  ndis.NdisFreeMemory(a.ctx, CONTEXT_BYTES, CONTEXT_FLAGS)
}
