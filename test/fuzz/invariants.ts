// Invariants both fuzzers check after every step (issue 9): nothing escapes the emulator but
// a crash-mode BugCheck or a refusal of host-API misuse; virtual time never goes backwards;
// every frame put on the wire toward the NIC is received or counted in a named drop counter;
// the emulator's own host memory stays bounded (findings kept, IOMMU fault records, timers,
// the wire's in-flight buffer). A broken invariant is an `InvariantViolation`, the one error
// the fuzz properties let through to fast-check.
import { BugCheck } from '../../src/index.js'
import type { Machine } from '../../src/machine.js'
import { e1000 } from '../support/e1000-driver.js'
import { DEFAULT_FINDINGS_PER_KIND } from '../../src/kernel/findings.js'
import { FAULT_LOG_LIMIT } from '../../src/hw/iommu/iommu.js'
import { MAX_BUFFER_RECORDS } from '../../src/dma/adapter.js'

export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InvariantViolation'
  }
}

export function violated(message: string): never {
  throw new InvariantViolation(message)
}

/** What an exception is, in one line: its class and message. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return `a thrown ${typeof error} (${String(error)})`
}

/**
 * Runs one host-API call. In log mode nothing may escape it; in crash mode only the machine's
 * BugCheck may, and then the machine must have stopped with that bug check.
 */
export function hostCall<T>(m: Machine, what: string, fn: () => T): T | undefined {
  try {
    return fn()
  } catch (error) {
    if (error instanceof InvariantViolation) throw error
    if (error instanceof BugCheck && m.config.verifier.mode === 'crash') {
      if (!m.kernel.log.stopped) violated(`${what} threw ${describeError(error)} but the machine has not stopped`)
      if (m.kernel.log.bugcheck?.code !== error.code) violated(`${what} threw bug check ${error.code} but the machine stopped with ${m.kernel.log.bugcheck?.code}`)
      return undefined
    }
    violated(`${what} let an exception escape: ${describeError(error)}${error instanceof Error && error.stack ? `\n${error.stack.split('\n').slice(1, 6).join('\n')}` : ''}`)
  }
}

/**
 * A host-API call the fuzzer makes wrong on purpose (a zero-byte frame, a mapping whose page
 * offsets differ): it must be refused with a RangeError or TypeError, not crash elsewhere.
 */
export function misuseCall(what: string, fn: () => void): void {
  try {
    fn()
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) return
    violated(`${what} (host-API misuse) threw ${describeError(error)} instead of a RangeError or TypeError`)
  }
  violated(`${what} (host-API misuse) was accepted`)
}

/** Virtual time, remembered between steps. */
export class TimeWatch {
  private last = 0

  check(m: Machine, step: string): void {
    const now = m.clock.now
    if (!(now >= this.last)) violated(`virtual time went backwards at ${step}: ${this.last} → ${now}`)
    this.last = now
  }
}

/** Timers a machine may hold armed at once: the devices' own plus a few one-shots. */
export const MAX_PENDING_TIMERS = 64
/** The wire's in-flight buffer: it doubles only for bursts larger than it. */
export const MAX_WIRE_BUFFER = 64 * 1024 * 1024

/** Host memory the emulator keeps for itself stays bounded, whatever the guest does. */
export function checkHostMemory(m: Machine, step: string): void {
  const log = m.kernel.log
  const kinds = log.counts.size
  // One stopping finding may be kept beyond its kind's limit.
  if (log.findings.length > kinds * DEFAULT_FINDINGS_PER_KIND + 1) {
    violated(`${log.findings.length} findings kept for ${kinds} kinds after ${step}: the log is unbounded`)
  }
  if (m.iommu.faults.length > FAULT_LOG_LIMIT) violated(`${m.iommu.faults.length} IOMMU fault records kept after ${step} (limit ${FAULT_LOG_LIMIT})`)
  if (m.dmaStats.commonBuffers.length > MAX_BUFFER_RECORDS) violated(`${m.dmaStats.commonBuffers.length} DMA buffer records kept after ${step} (limit ${MAX_BUFFER_RECORDS})`)
  if (m.clock.pending > MAX_PENDING_TIMERS) violated(`${m.clock.pending} timers armed after ${step}`)
  if (m.wire.buffer.length > MAX_WIRE_BUFFER) violated(`the wire's buffer grew to ${m.wire.buffer.length} bytes after ${step}`)
}

/**
 * Every frame that reached the NIC's receive side is received or dropped under a name: the
 * receive counters the report's `traffic.dropped` is built from must add up, and the report
 * must show every drop counter that is not zero.
 */
export function checkFrameAccounting(m: Machine, step: string): void {
  const w = m.wire.counters
  const rx = m.nic.counters.rx
  const sent = w.injected + (m.wire.mode === 'loopback' ? w.txFrames : 0)
  if (sent !== w.rxFrames + m.wire.inFlight) {
    violated(`after ${step} the wire carried ${sent} frames toward the NIC but delivered ${w.rxFrames} and holds ${m.wire.inFlight}`)
  }
  const accounted = rx.frames + rx.filtered + rx.ignored + rx.noBuffers + rx.waiting + rx.undersize + rx.oversize + rx.refused
  if (accounted !== w.rxFrames) {
    violated(`after ${step} the NIC was handed ${w.rxFrames} frames but accounts for ${accounted} (${JSON.stringify(rx)})`)
  }
  if (m.nic.counters.tx.frames !== w.txFrames) violated(`after ${step} the NIC counts ${m.nic.counters.tx.frames} frames sent, the wire ${w.txFrames}`)
}

/** The interrupt line is level-triggered: asserted only while ICR & IMS is set and INTx is enabled. */
export function checkInterruptLine(m: Machine, step: string): void {
  const c = e1000(m).causes
  if (m.nic.interruptAsserted && ((c.icr & c.ims) === 0 || m.nic.pci.interruptDisabled)) {
    violated(`after ${step} INTA# is asserted with ICR ${c.icr.toString(16)} IMS ${c.ims.toString(16)}, interrupt disable ${m.nic.pci.interruptDisabled}`)
  }
}

/**
 * The report's `traffic.dropped` names every frame the NIC was handed and did not deliver:
 * the NIC-side drop counters there add up with the frames received to what the wire handed it.
 */
export function checkReportAccounting(m: Machine, step: string): void {
  const dropped = m.report().traffic.dropped
  const rx = m.nic.counters.rx
  // The receive-side fields of DroppedFrames, each named: a new drop counter the NIC fills must
  // be added here, or this check fails for the frames it holds.
  const named = dropped.nicNoBuffer + dropped.nicWaiting + dropped.nicFiltered + dropped.nicUndersize + dropped.nicOversize + dropped.nicRefused + dropped.nicReceiverOff
  if (rx.frames + named !== m.wire.counters.rxFrames) {
    violated(`after ${step} the report accounts for ${rx.frames} frames received and ${named} dropped by the NIC (${JSON.stringify(dropped)}), but the wire handed it ${m.wire.counters.rxFrames}`)
  }
}

/**
 * Watches the NIC's transmit doorbell: the descriptors it walks never exceed one ring's worth
 * per TDT write (REFERENCE §6). Returns the check to run after each step.
 */
export function watchDoorbells(m: Machine): (step: string) => void {
  const tx = e1000(m).tx
  let budget = 0
  const writeTail = tx.writeTail.bind(tx)
  tx.writeTail = (value: number): void => {
    writeTail(value)
    budget += tx.ring.count
  }
  return (step) => {
    const walked = tx.counters.descriptors
    if (walked > budget) violated(`the NIC walked ${walked} transmit descriptors by ${step}, more than one ring's worth per doorbell allows (${budget})`)
  }
}
