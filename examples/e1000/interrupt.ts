// Interrupts: the ISR (DIRQL) reads ICR — reading clears it and drops the line — masks the
// device and queues the DPC; the DPC (DISPATCH_LEVEL) reaps transmits, indicates receives,
// notes link changes and unmasks. ITR coalesces, so one interrupt serves a batch of frames.
import { readReg, writeReg, bumpStat, STAT, type Adapter } from './adapter.js'
import { ICR_LSC, ICR_RXO, IMS_ENABLE, REG, STATUS_LU } from './hw.js'
import { completeChain, drainQueue, reapTransmits } from './send.js'
import { completePause, receiveFrames } from './receive.js'

export function isr(context: unknown): { interruptRecognized: boolean; queueDefaultInterruptDpc: boolean } {
  const a = context as Adapter
  const icr = readReg(a, REG.ICR)
  if (icr === 0) return { interruptRecognized: false, queueDefaultInterruptDpc: false }
  a.pendingIcr |= icr
  writeReg(a, REG.IMC, 0xffff_ffff)
  return { interruptRecognized: true, queueDefaultInterruptDpc: true }
}

export function interruptDpc(context: unknown, _dpcContext: unknown, throttle: { MaxNblsToIndicate: number }): void {
  const a = context as Adapter
  const ndis = a.ndis
  const icr = a.pendingIcr
  a.pendingIcr = 0
  if ((icr & ICR_LSC) !== 0) a.linkUp = (readReg(a, REG.STATUS) & STATUS_LU) !== 0
  if ((icr & ICR_RXO) !== 0) bumpStat(a, STAT.rxNoBuffer)

  ndis.NdisDprAcquireSpinLock(a.lock!)
  const reaped = reapTransmits(a)
  const failed = drainQueue(a)
  const pauseDone = a.pausing && a.rxIndicated === 0 && a.txFree === a.txCount && a.txQueue.length === 0
  ndis.NdisDprReleaseSpinLock(a.lock!)
  completeChain(a, reaped, true)
  completeChain(a, failed, true)

  receiveFrames(a, throttle.MaxNblsToIndicate > 0 ? throttle.MaxNblsToIndicate : a.rxCount)
  if (pauseDone) completePause(a)
  if (!a.halting) writeReg(a, REG.IMS, IMS_ENABLE)
}
