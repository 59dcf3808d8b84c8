// MiniportHaltEx: stop the device first — no DMA may land in memory about to be freed — then
// give everything back in the reverse order of initialization. release() is also the unwind
// path of a failed MiniportInitializeEx, so it copes with any prefix of the set-up.
import { REG, CTRL_RST } from './hw.js'
import { STATS_SIZE, TX_TABLE_ENTRY, RX_TABLE_ENTRY, ring, readReg, writeReg, type Adapter } from './adapter.js'
import { flushQueue, completeChain } from './send.js'

export function haltEx(a: Adapter, _haltAction: number): void {
  a.halting = true
  stopDevice(a)
  completeChain(a, flushQueue(a, a.ndis.NDIS_STATUS_SEND_ABORTED), false)
  release(a)
}

function stopDevice(a: Adapter): void {
  if (a.regs === 0) return
  writeReg(a, REG.IMC, 0xffff_ffff)
  writeReg(a, REG.RCTL, 0)
  writeReg(a, REG.TCTL, 0)
  writeReg(a, REG.CTRL, readReg(a, REG.CTRL) | CTRL_RST)
  readReg(a, REG.ICR)
}

export function release(a: Adapter): void {
  const ndis = a.ndis
  if (a.interruptHandle !== null) {
    stopDevice(a)
    ndis.NdisMDeregisterInterruptEx(a.interruptHandle)
    a.interruptHandle = null
  }
  for (let i = 0; i < a.rxNbls.length; i++) {
    const nbl = a.rxNbls[i]
    if (nbl !== null && nbl !== undefined) ndis.NdisFreeNetBufferList(nbl)
    const mdl = a.rxMdls[i]
    if (mdl !== null && mdl !== undefined) ndis.NdisFreeMdl(mdl)
  }
  a.rxNbls = []
  a.rxMdls = []
  for (const block of a.rxBlocks.reverse()) ndis.NdisMFreeSharedMemory(a.handle, block.length, true, block.va, block.logical)
  a.rxBlocks = []
  if (a.rxTable !== 0) ndis.NdisFreeMemory(a.rxTable, a.rxCount * RX_TABLE_ENTRY, 0)
  if (a.txTable !== 0) ndis.NdisFreeMemory(a.txTable, a.txCount * TX_TABLE_ENTRY, 0)
  a.rxTable = a.txTable = 0
  if (a.rxRing !== 0) ndis.NdisMFreeSharedMemory(a.handle, ring(a.rxCount), false, a.rxRing, a.rxRingLogical)
  if (a.txRing !== 0) ndis.NdisMFreeSharedMemory(a.handle, ring(a.txCount), false, a.txRing, a.txRingLogical)
  a.rxRing = a.txRing = 0
  if (a.dmaHandle !== null) ndis.NdisMDeregisterScatterGatherDma(a.dmaHandle)
  a.dmaHandle = null
  if (a.regs !== 0) ndis.NdisMUnmapIoSpace(a.handle, a.regs, a.regsLength)
  a.regs = 0
  if (a.nblPool !== null) ndis.NdisFreeNetBufferListPool(a.nblPool)
  a.nblPool = null
  if (a.lock !== null) ndis.NdisFreeSpinLock(a.lock)
  a.lock = null
  if (a.stats !== 0) ndis.NdisFreeMemory(a.stats, STATS_SIZE, 0)
  a.stats = 0
}
