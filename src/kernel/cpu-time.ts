// Time that passes like a machine's while driver code runs. Driver code costs no virtual time
// of its own (dmalab does not model instruction timing), except where a real CPU waits:
//  - a register access (MMIO) is a PCI transaction: a read is non-posted, the CPU waits for the
//    completion; a write is posted but still leaves the CPU one bus transaction at a time;
//  - KeStallExecutionProcessor / NdisStallExecution busy-wait, NdisMSleep blocks, for as long
//    as asked.
// Meanwhile the hardware goes on (Clock.advanceBusy), so a loop polling a status bit ends when
// the device is done, exactly as on hardware; software events (ISR, DPC, protocol) wait until
// the handler returns.
//
// A handler that never returns is Windows' verdict, judged on this virtual time:
//  - at DISPATCH_LEVEL or above, the DPC watchdog: DPC_WATCHDOG_VIOLATION (0x133) with
//    parameter 1 = 0, "a single DPC or ISR exceeded its time allotment", p2 the time it ran and
//    p3 the allotment, both in clock ticks (bug check 0x133 reference page; the allotment a
//    Windows 10/11 system reports is 0x500 ticks of 15.625 ms, 20 s);
//  - below DISPATCH_LEVEL Windows stops nothing, but a miniport handler that has run that long
//    has hung NDIS: a `hang` finding, with the same 20 s bound.
// Both name the handler, the driver line that was running and the register it last touched.
import { hex } from '../hw/address.js'
import type { SystemBus } from '../hw/bus.js'
import type { Clock } from '../hw/clock.js'
import { BUGCHECK } from './bugcheck.js'
import type { FindingsLog } from './findings.js'
import { DISPATCH_LEVEL, irqlName } from './irql.js'
import { siteHere } from './sites.js'

/**
 * A register read: non-posted, the CPU stalls until the completion returns. Measured round
 * trips of a device register read are about 1 µs on PCIe hosts and more on conventional PCI
 * behind a bridge (Miller, Moore et al., "Motivating future interconnects: a differential
 * measurement analysis of PCI latency", ANCS 2009; the PCI Local Bus Specification lets a
 * target take up to 16 clocks, 480 ns at 33 MHz, before its first data phase alone).
 */
export const MMIO_READ_NS = 1000
/** A posted register write: no completion, but one bus transaction (~8 PCI clocks at 33 MHz). */
export const MMIO_WRITE_NS = 250

/** The system clock tick the DPC watchdog counts in (the default 64 Hz timer: 15.625 ms). */
export const CLOCK_TICK_NS = 15_625_000
/** DPC_WATCHDOG_VIOLATION's single-DPC allotment, in ticks (p3 = 0x500 on Windows 10/11). */
export const DPC_TIME_LIMIT_TICKS = 0x500
export const DPC_TIME_LIMIT_NS = DPC_TIME_LIMIT_TICKS * CLOCK_TICK_NS
/** Longest a stall routine is asked for at once before the watchdog is checked: 1 s. */
const STALL_SLICE_NS = 1_000_000_000

export class CpuTime {
  private readonly clock: Clock
  private readonly bus: SystemBus
  private readonly log: FindingsLog
  private readonly irql: () => number
  /** The driver handler running now, for the verdict (set by the DriverCaller). */
  handler: () => string | null = () => null
  /** The single-handler bound (DPC_TIME_LIMIT_NS); tests may shorten it. */
  limitNs: number
  /** Virtual time the outermost driver call began; -1 outside driver code. */
  callStart = -1
  /** The last register the driver touched (physical address, -1 for none), for the verdict. */
  private lastPa = -1
  private lastValue = 0
  private lastWrite = false

  constructor(clock: Clock, bus: SystemBus, log: FindingsLog, irql: () => number) {
    this.clock = clock
    this.bus = bus
    this.log = log
    this.irql = irql
    this.limitNs = DPC_TIME_LIMIT_NS
  }

  /** A register read of `value` at `pa` has just been made. */
  mmioRead(pa: number, value: number): void {
    this.lastPa = pa
    this.lastValue = value
    this.lastWrite = false
    this.spend(MMIO_READ_NS)
  }

  mmioWrite(pa: number, value: number): void {
    this.lastPa = pa
    this.lastValue = value
    this.lastWrite = true
    this.spend(MMIO_WRITE_NS)
  }

  /**
   * KeStallExecutionProcessor / NdisStallExecution / NdisMSleep: `microseconds` of virtual time
   * (a ULONG; anything else is the driver's programming error, thrown to it as a TypeError).
   */
  stall(routine: string, microseconds: number): void {
    if (!Number.isSafeInteger(microseconds) || microseconds < 0 || microseconds > 0xffff_ffff) {
      throw new TypeError(`${routine}: ${typeof microseconds === 'number' ? String(microseconds) : typeof microseconds} is not a number of microseconds (a ULONG)`)
    }
    let left = microseconds * 1000
    // In slices, so a stall of an hour still ends at the watchdog's bound.
    while (left > 0) {
      const slice = left < STALL_SLICE_NS ? left : STALL_SLICE_NS
      left -= slice
      this.spend(slice)
    }
  }

  /** The CPU is busy for `ns`: hardware progresses; then the handler's time is judged. */
  spend(ns: number): void {
    this.log.throwIfStopped()
    this.clock.advanceBusy(ns)
    this.log.throwIfStopped()
    if (this.callStart >= 0 && this.clock.now - this.callStart > this.limitNs) this.overrun()
  }

  private overrun(): never {
    const ran = this.clock.now - this.callStart
    const irql = this.irql()
    const handler = this.handler() ?? 'driver code'
    const site = siteHere()
    const register = this.registerText()
    const seconds = (this.limitNs / 1e9).toLocaleString('en-US')
    const where = `${site === undefined ? '' : ` (at ${site})`}${register === '' ? '' : `; ${register}`}`
    const details = { handler, irql, ranNs: ran, limitNs: this.limitNs, register: this.lastPa >= 0 ? this.lastPa : null }
    if (irql >= DISPATCH_LEVEL) {
      this.log.fatal({
        kind: 'hang',
        code: BUGCHECK.DPC_WATCHDOG_VIOLATION,
        params: [0, Math.floor(ran / CLOCK_TICK_NS), Math.round(this.limitNs / CLOCK_TICK_NS), 0],
        message: `${handler} ran for over ${seconds} s at ${irqlName(irql)} without returning${where}: the DPC watchdog's single-DPC limit (DPC_WATCHDOG_VIOLATION)`,
        ...(site === undefined ? {} : { site }),
        details,
      })
    }
    this.log.fatal({
      kind: 'hang',
      message: `${handler} ran for over ${seconds} s at ${irqlName(irql)} without returning${where}: NDIS waits for its handlers, so the adapter has hung`,
      ...(site === undefined ? {} : { site }),
      details,
    })
  }

  /** "it last read register 0x00008 of 00:03.0 e1000 BAR0 (0x00000080)". */
  private registerText(): string {
    if (this.lastPa < 0) return ''
    const region = this.bus.regionAt(this.lastPa)
    const where = region === undefined ? `physical address ${hex(this.lastPa)}` : `register ${hex(this.lastPa - region.base)} of ${region.name}`
    return `it last ${this.lastWrite ? 'wrote' : 'read'} ${where} (${hex(this.lastValue >>> 0)})`
  }
}
