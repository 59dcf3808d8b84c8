// NdisMRegisterInterruptEx and the delivery of the NIC's INTx line to the miniport.
//
// The line is level-triggered: when it asserts, MiniportInterrupt runs at DIRQL as its own
// event (after the device has finished what it was doing); if it asks, MiniportInterruptDPC
// runs at DISPATCH_LEVEL next. While the line stays asserted the ISR runs again, as on real
// hardware; an ISR that never clears the cause storms. Windows would hang; dmalab counts
// deliveries that make no progress, reports `interrupt-storm`, and masks the line.
import type { Clock, Timer } from '../hw/clock.js'
import { BUGCHECK } from '../kernel/bugcheck.js'
import { DEVICE_IRQL, DISPATCH_LEVEL, PASSIVE_LEVEL } from '../kernel/irql.js'
import { DRIVER_FAILED } from '../kernel/driver-call.js'
import { asBoolean, returnedField } from '../kernel/driver-values.js'
import { NDIS_BUGCHECK, type InterruptHandle, type NdisContext } from './context.js'
import type { NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS } from './types.js'
import { requireIrql } from '../kernel/irql-checks.js'

/** Deliveries at one instant of virtual time without the line dropping: a storm. */
export const STORM_LIMIT = 10_000

/** Deliveries counted per instant of virtual time (NDIS 6 and NDIS 5 interrupts share it). */
export interface StormCount {
  stormAt: number
  stormCount: number
}

/**
 * Counts one delivery at `now`; true once the line has been taken more than STORM_LIMIT times at
 * the same instant, when the storm is reported (bug check 0xF2 reference: p1 the ISR, p2 its
 * context, p3 the interrupt object, p4 0x1, not chained; a JavaScript ISR has no address to give).
 */
export function stormed(ctx: NdisContext, r: StormCount, now: number, isr: string): boolean {
  if (r.stormAt === now) r.stormCount++
  else {
    r.stormAt = now
    r.stormCount = 1
  }
  if (r.stormCount <= STORM_LIMIT) return false
  ctx.kernel.log.report({
    kind: 'interrupt-storm',
    code: BUGCHECK.HARDWARE_INTERRUPT_STORM,
    params: [0, 0, 0, 1],
    message: `the NIC's interrupt line stayed asserted through ${STORM_LIMIT} calls of ${isr} at the same instant: the ISR does not clear or mask the cause (read ICR / write IMC); the line is masked`,
    details: { deliveries: STORM_LIMIT },
  })
  return true
}
/** NDIS_INDICATE_ALL_NBLS: no receive throttling. */
const INDICATE_ALL = 0xffff_ffff

interface Registration extends StormCount {
  readonly handle: InterruptHandle
  readonly context: unknown
  readonly chars: NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS
  readonly isrTimer: Timer
  readonly dpcTimer: Timer
  readonly detach: () => void
  masked: boolean
}

export class Interrupts {
  private readonly ctx: NdisContext
  private readonly clock: Clock
  private registration: Registration | null = null
  /** Interrupts the ISR claimed, and DPCs run (for reports and tests). */
  isrCalls = 0
  dpcCalls = 0
  private readonly throttle = { MaxNblsToIndicate: INDICATE_ALL, MoreNblsPending: false }

  constructor(ctx: NdisContext, clock: Clock) {
    this.ctx = ctx
    this.clock = clock
  }

  get registered(): boolean {
    return this.registration !== null
  }

  register(context: unknown, chars: NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS): InterruptHandle | null {
    if (this.registration !== null) {
      this.ctx.callOrder('NdisMRegisterInterruptEx: the adapter already has an interrupt registered')
      return null
    }
    if (typeof chars?.InterruptHandler !== 'function' || typeof chars.InterruptDpcHandler !== 'function') {
      this.ctx.violation('ndis-bad-argument', 'NdisMRegisterInterruptEx: the characteristics need InterruptHandler and InterruptDpcHandler')
      return null
    }
    const handle: InterruptHandle = { kind: 'interrupt', id: this.ctx.handleId() }
    const line = this.ctx.nic.interrupt
    const isrTimer = this.clock.timer('MiniportInterrupt', () => this.deliver(), { needsCpu: true })
    const dpcTimer = this.clock.timer('MiniportInterruptDPC', () => this.runDpc(), { needsCpu: true })
    const detach = line.onChange((asserted) => {
      if (asserted && !isrTimer.armed) this.clock.armAfter(isrTimer, 0)
    })
    this.registration = { handle, context, chars, isrTimer, dpcTimer, detach, stormAt: -1, stormCount: 0, masked: false }
    if (line.asserted) this.clock.armAfter(isrTimer, 0)
    return handle
  }

  deregister(handle: unknown): void {
    const r = this.registration
    if (r === null || handle !== r.handle) {
      this.ctx.violation('ndis-bad-handle', 'NdisMDeregisterInterruptEx: not the handle NdisMRegisterInterruptEx returned, or already deregistered')
      return
    }
    requireIrql(this.ctx.kernel, 'NdisMDeregisterInterruptEx', PASSIVE_LEVEL)
    this.release(r)
  }

  /**
   * MiniportHaltEx returned, or MiniportInitializeEx failed, with the interrupt still
   * registered: NDIS bug checks (bug check 0x7C reference: 0x08
   * NDIS_BUGCHECK_HALT_WITHOUT_INTERRUPT_DEREGISTER, 0x0B
   * NDIS_BUGCHECK_INIT_FAILED_WITHOUT_INTERRUPT_DEREGISTER). The registration is dropped first
   * so nothing calls into the driver after the stop.
   */
  checkDeregistered(after: 'halt' | 'init-failed'): void {
    const r = this.registration
    if (r === null) return
    this.release(r)
    const code = after === 'halt' ? NDIS_BUGCHECK.haltWithoutInterruptDeregister : NDIS_BUGCHECK.initFailedWithoutInterruptDeregister
    this.ctx.kernel.log.fatal({
      kind: 'interrupt-not-deregistered',
      code: BUGCHECK.BUGCODE_NDIS_DRIVER,
      params: [code, 0, r.handle.id, 0],
      message: `${after === 'halt' ? 'MiniportHaltEx returned' : 'MiniportInitializeEx failed'} with its interrupt still registered: call NdisMDeregisterInterruptEx first, or NDIS bug checks (0x7C/${after === 'halt' ? '0x08 NDIS_BUGCHECK_HALT_WITHOUT_INTERRUPT_DEREGISTER' : '0x0B NDIS_BUGCHECK_INIT_FAILED_WITHOUT_INTERRUPT_DEREGISTER'})`,
    })
  }

  private release(r: Registration): void {
    r.detach()
    this.clock.cancel(r.isrTimer)
    this.clock.cancel(r.dpcTimer)
    this.registration = null
  }

  /** NdisMSynchronizeWithInterruptEx: run `fn` at the interrupt's DIRQL, as the ISR would. */
  synchronize<T>(handle: unknown, fn: (context: T) => boolean, context: T): boolean {
    const r = this.registration
    if (r === null || handle !== r.handle) {
      this.ctx.violation('ndis-bad-handle', 'NdisMSynchronizeWithInterruptEx: not a registered interrupt handle')
      return false
    }
    if (typeof fn !== 'function') {
      this.ctx.violation('ndis-bad-argument', `NdisMSynchronizeWithInterruptEx: SynchronizeFunction is not a function (got ${fn === null ? 'NULL' : typeof fn})`)
      return false
    }
    const k = this.ctx.kernel
    const saved = k.irql
    k.irql = Math.max(saved, DEVICE_IRQL)
    try {
      return fn(context)
    } finally {
      k.irql = saved
    }
  }

  private deliver(): void {
    const r = this.registration
    const line = this.ctx.nic.interrupt
    if (r === null || r.masked || !line.asserted) return
    if (stormed(this.ctx, r, this.clock.now, 'MiniportInterrupt')) {
      r.masked = true
      return
    }
    const result = this.ctx.caller.call('MiniportInterrupt', DEVICE_IRQL, () => r.chars.InterruptHandler(r.context))
    if (result === DRIVER_FAILED) return
    const { recognized, queueDpc } = this.isrResult(result)
    if (recognized) this.isrCalls++
    if (queueDpc && !r.dpcTimer.armed) this.clock.armAfter(r.dpcTimer, 0)
    // Level-triggered: still asserted after the ISR means it will be taken again.
    if (line.asserted && !r.masked && this.registration === r && !r.isrTimer.armed) this.clock.armAfter(r.isrTimer, 0)
  }

  /**
   * MiniportInterrupt returns BOOLEAN InterruptRecognized and sets QueueDefaultInterruptDpc
   * (here `true`/`false` for both, or `{ interruptRecognized, queueDefaultInterruptDpc }`).
   * Anything else (undefined, a number, a Proxy) is `bad-return-value` and claims nothing.
   */
  private isrResult(result: unknown): { recognized: boolean; queueDpc: boolean } {
    if (typeof result === 'boolean') return { recognized: result, queueDpc: result }
    const recognized = asBoolean(returnedField(result, 'interruptRecognized'))
    const queueDpc = asBoolean(returnedField(result, 'queueDefaultInterruptDpc'))
    if (recognized !== undefined && queueDpc !== undefined) return { recognized, queueDpc }
    this.ctx.caller.badReturn('MiniportInterrupt', result, 'TRUE/FALSE, or { interruptRecognized, queueDefaultInterruptDpc } of booleans')
    return { recognized: false, queueDpc: false }
  }

  private runDpc(): void {
    const r = this.registration
    if (r === null) return
    this.dpcCalls++
    this.throttle.MaxNblsToIndicate = INDICATE_ALL
    this.throttle.MoreNblsPending = false
    this.ctx.caller.call('MiniportInterruptDPC', DISPATCH_LEVEL, () => r.chars.InterruptDpcHandler(r.context, null, this.throttle, null))
  }
}
