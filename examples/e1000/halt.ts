// MiniportHaltEx: stop the device first — no DMA may land in memory about to be freed — then
// give everything back in the reverse order of initialization. release() is also the unwind
// path of a failed MiniportInitializeEx, so every step copes with any prefix of the set-up.
import { STATS_SIZE, TX_TABLE_ENTRY, RX_TABLE_ENTRY, ring, type Adapter } from './adapter.js'
import { stopDevice } from './device.js'
import { flushQueue, completeChain } from './send.js'

export function haltEx(a: Adapter, _haltAction: number): void {
  a.halting = true
  stopDevice(a)
  completeChain(a, flushQueue(a, a.ndis.NDIS_STATUS_SEND_ABORTED), false)
  release(a)
}

export { stopDevice } from './device.js'

/** Frees everything, in the reverse order of initialization. The device must be stopped. */
export function release(a: Adapter): void {
  releaseInterrupt(a)
  releaseReceiveBuffers(a)
  releaseRings(a)
  a.memory.disableDma(a)
  releaseRegisters(a)
  releaseNblPool(a)
  releaseStatistics(a)
}

export function releaseInterrupt(a: Adapter): void {
  if (a.interruptHandle !== null) a.ndis.NdisMDeregisterInterruptEx(a.interruptHandle)
  a.interruptHandle = null
}

/** The receive NBLs and MDLs, then the shared memory they describe. */
export function releaseReceiveBuffers(a: Adapter): void {
  const ndis = a.ndis
  for (let i = 0; i < a.rxNbls.length; i++) {
    const nbl = a.rxNbls[i]
    if (nbl !== null && nbl !== undefined) ndis.NdisFreeNetBufferList(nbl)
    const mdl = a.rxMdls[i]
    if (mdl !== null && mdl !== undefined) ndis.NdisFreeMdl(mdl)
  }
  a.rxNbls = []
  a.rxMdls = []
  for (const block of a.rxBlocks.reverse()) a.memory.freeShared(a, block.length, true, block.va, block.logical)
  a.rxBlocks = []
}

/** The tracking tables, then the descriptor rings. */
export function releaseRings(a: Adapter): void {
  const mem = a.memory
  if (a.rxTable !== 0) mem.freeTable(a, a.rxTable, a.rxCount * RX_TABLE_ENTRY)
  if (a.txTable !== 0) mem.freeTable(a, a.txTable, a.txCount * TX_TABLE_ENTRY)
  a.rxTable = a.txTable = 0
  if (a.rxRing !== 0) mem.freeShared(a, ring(a.rxCount), false, a.rxRing, a.rxRingLogical)
  if (a.txRing !== 0) mem.freeShared(a, ring(a.txCount), false, a.txRing, a.txRingLogical)
  a.rxRing = a.txRing = 0
}

export function releaseRegisters(a: Adapter): void {
  if (a.regs !== 0) a.ndis.NdisMUnmapIoSpace(a.handle, a.regs, a.regsLength)
  a.regs = 0
}

/** The NBL pool and the spin lock. */
export function releaseNblPool(a: Adapter): void {
  const ndis = a.ndis
  if (a.nblPool !== null) ndis.NdisFreeNetBufferListPool(a.nblPool)
  a.nblPool = null
  if (a.lock !== null) ndis.NdisFreeSpinLock(a.lock)
  a.lock = null
}

export function releaseStatistics(a: Adapter): void {
  if (a.stats !== 0) a.memory.freeStatistics(a, a.stats, STATS_SIZE)
  a.stats = 0
}
