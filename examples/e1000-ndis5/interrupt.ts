// Interrupts and time. MiniportISR (DIRQL) reads ICR — reading clears it and drops the line —
// and, when the cause is the NIC's, masks it and asks for MiniportHandleInterrupt. That DPC
// (DISPATCH_LEVEL) reaps transmits, drains the send queue, indicates receives and notes link
// changes; NDIS then calls MiniportEnableInterrupt, which unmasks. A periodic watchdog timer
// reaps transmits too (an interrupt can be coalesced away at the end of a burst), and
// MiniportCheckForHang reports a transmitter that made no progress with work pending for two
// checks; MiniportReset then restarts the transmit ring.
import { CTX, adapterOf, bump, get, readReg, set, writeReg, type Adapter, type Driver } from './adapter.js'
import { ICR_LSC, ICR_RXO, IMS_ENABLE, REG, STATUS_LU, TCTL_CT_COLD, TCTL_EN, TCTL_PSP } from '../e1000/hw.js'
import { abortTransmits, completeSends, drainQueue, reapTransmits } from './send.js'
import { receiveFrames } from './receive.js'

/** MiniportISR. */
export function isr(driver: Driver, context: unknown): { interruptRecognized: boolean; queueMiniportHandleInterrupt: boolean } {
  const a = adapterOf(driver, context)
  const icr = readReg(a, REG.ICR)
  if (icr === 0) return { interruptRecognized: false, queueMiniportHandleInterrupt: false }
  set(a, CTX.pendingIcr, get(a, CTX.pendingIcr) | icr)
  writeReg(a, REG.IMC, 0xffff_ffff)
  return { interruptRecognized: true, queueMiniportHandleInterrupt: true }
}

/**
 * MiniportHandleInterrupt. With MiniportISR the causes were read there; without it (RequestIsr
 * FALSE) MiniportDisableInterrupt only masked the NIC, and the causes are read here.
 */
export function handleInterrupt(driver: Driver, context: unknown): void {
  const a = adapterOf(driver, context)
  const icr = a.driver.hooks.requestIsr ? takePendingCauses(a) : readReg(a, REG.ICR)
  if ((icr & ICR_LSC) !== 0) linkChanged(a)
  if ((icr & ICR_RXO) !== 0) bump(a, CTX.rxNoBuffer)
  serviceTransmits(a)
  receiveFrames(a)
}

/**
 * The causes MiniportISR saved, taken and cleared at DIRQL: the ISR writes them, and on a shared
 * line it can run while this DPC does (for the other device's interrupt, reading causes the NIC
 * latched while masked). MiniportHandleInterrupt (NDIS 5.1): what it shares with MiniportISR it
 * touches only through NdisMSynchronizeWithInterrupt.
 */
function takePendingCauses(a: Adapter): number {
  let icr = 0
  a.ndis.NdisMSynchronizeWithInterrupt(a.interrupt, (ad: Adapter) => {
    icr = get(ad, CTX.pendingIcr)
    set(ad, CTX.pendingIcr, 0)
    return true
  }, a)
  return icr
}

/** MiniportEnableInterrupt / MiniportDisableInterrupt (DIRQL). */
export function enableInterrupt(driver: Driver, context: unknown): void {
  const a = adapterOf(driver, context)
  if (get(a, CTX.halting) === 0) writeReg(a, REG.IMS, IMS_ENABLE)
}

export function disableInterrupt(driver: Driver, context: unknown): void {
  writeReg(adapterOf(driver, context), REG.IMC, 0xffff_ffff)
}

/** Reaps finished sends and puts queued ones on the ring; completes outside the lock. */
function serviceTransmits(a: Adapter): void {
  const ndis = a.ndis
  ndis.NdisDprAcquireSpinLock(a.lock!)
  const done = reapTransmits(a)
  drainQueue(a)
  const failed = a.txFailed.splice(0)
  ndis.NdisDprReleaseSpinLock(a.lock!)
  completeSends(a, done, ndis.NDIS_STATUS_SUCCESS)
  completeSends(a, failed, ndis.NDIS_STATUS_RESOURCES)
}

/** The link went up or down: tell the protocol (NdisMIndicateStatus + Complete). */
function linkChanged(a: Adapter): void {
  const ndis = a.ndis
  const up = (readReg(a, REG.STATUS) & STATUS_LU) !== 0 ? 1 : 0
  if (up === get(a, CTX.linkUp)) return
  set(a, CTX.linkUp, up)
  ndis.NdisMIndicateStatus(a.handle, up === 1 ? ndis.NDIS_STATUS_MEDIA_CONNECT : ndis.NDIS_STATUS_MEDIA_DISCONNECT, 0, 0)
  ndis.NdisMIndicateStatusComplete(a.handle)
}

/** The watchdog's TimerFunction (NdisMSetPeriodicTimer, DISPATCH_LEVEL); its FunctionContext is the context area. */
export function watchdogOf(driver: Driver): (s1: unknown, context: unknown) => void {
  return (_s1, context) => {
    const a = driver.adapters.get(context as number)
    if (a === undefined || get(a, CTX.halting) !== 0) return
    serviceTransmits(a)
  }
}

/** MiniportCheckForHang (DISPATCH_LEVEL): TRUE when transmits are pending and none finished for two checks. */
export function checkForHang(driver: Driver, context: unknown): boolean {
  const a = adapterOf(driver, context)
  const pending = get(a, CTX.txFree) < a.txPackets.length
  const clean = get(a, CTX.txClean)
  if (!pending || clean !== get(a, CTX.lastTxClean)) {
    set(a, CTX.lastTxClean, clean)
    set(a, CTX.stalledChecks, 0)
    return false
  }
  set(a, CTX.stalledChecks, get(a, CTX.stalledChecks) + 1)
  return get(a, CTX.stalledChecks) >= 2
}

/**
 * MiniportReset (DISPATCH_LEVEL): restarts the transmitter. Packets on the ring or queued come
 * back with NDIS_STATUS_REQUEST_ABORTED (a deserialized miniport completes what it holds);
 * the receive side and the addresses are untouched, so AddressingReset is FALSE.
 */
export function reset(driver: Driver, context: unknown): { status: number; addressingReset: boolean } {
  const a = adapterOf(driver, context)
  const ndis = a.ndis
  ndis.NdisDprAcquireSpinLock(a.lock!)
  writeReg(a, REG.TCTL, 0)
  const aborted = abortTransmits(a)
  ndis.NdisZeroMemory(a.txRing, a.txPackets.length * 16)
  writeReg(a, REG.TDH, 0)
  writeReg(a, REG.TDT, 0)
  writeReg(a, REG.TCTL, TCTL_EN | TCTL_PSP | TCTL_CT_COLD)
  set(a, CTX.stalledChecks, 0)
  ndis.NdisDprReleaseSpinLock(a.lock!)
  completeSends(a, aborted, ndis.NDIS_STATUS_REQUEST_ABORTED)
  return { status: ndis.NDIS_STATUS_SUCCESS, addressingReset: false }
}
