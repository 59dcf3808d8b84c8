// NDIS 6 timer objects on virtual time: NdisAllocateTimerObject, NdisSetTimerObject,
// NdisCancelTimerObject, NdisFreeTimerObject (WDK pages of those names; all at IRQL <=
// DISPATCH_LEVEL, except that cancelling a periodic timer is PASSIVE_LEVEL: "If the caller of
// NdisCancelTimerObject is canceling a periodic timer, it must be running at IRQL =
// PASSIVE_LEVEL"). The NetTimerCallback runs at DISPATCH_LEVEL (NDIS_TIMER_FUNCTION).
//
// NdisAllocateTimerObject allocates memory under the characteristics' AllocationTag ("NDIS uses
// this tag when it allocates memory for the timer"): a real pool block (a KTIMER and a KDPC), so
// a timer object never freed is a pool leak with the allocating line, and NDIS reports it at
// unload as an NDIS resource still held. A timer still queued at unload is cancelled there (it
// would fire into an unloaded driver) and reported.
//
// Timers are background events, as NDIS 5's are (v5/timers.ts): they fire as virtual time
// passes but do not keep the machine busy, so a periodic watchdog does not look like a hang.
import type { Timer } from '../hw/clock.js'
import { DRIVER_FAILED } from '../kernel/driver-call.js'
import { DISPATCH_LEVEL, PASSIVE_LEVEL } from '../kernel/irql.js'
import { requireIrql } from '../kernel/irql-checks.js'
import { tagName, tagValue } from '../kernel/tags.js'
import { POOL_TYPE } from '../kernel/wdm.js'
import { NDIS_OBJECT_TYPE, NDIS_STATUS } from './constants.js'
import type { NdisContext } from './context.js'

/** NDIS_TIMER_CHARACTERISTICS (ndis.h). */
export interface NDIS_TIMER_CHARACTERISTICS {
  Header: { Type: number; Revision: number; Size: number }
  AllocationTag: number | string
  TimerFunction: NetTimerCallback
  FunctionContext?: unknown
}

/** NDIS_TIMER_FUNCTION: (SystemSpecific1, FunctionContext, SystemSpecific2, SystemSpecific3). */
export type NetTimerCallback = (SystemSpecific1: unknown, FunctionContext: unknown, SystemSpecific2: unknown, SystemSpecific3: unknown) => void

/** The handle NdisAllocateTimerObject hands out. */
export interface NdisTimerObject { readonly kind: 'timer-object'; readonly id: number }

/** Bytes NDIS spends on a timer object: a KTIMER and a KDPC (x64). */
export const TIMER_OBJECT_BYTES = 0x80
/** NDIS_TIMER_CHARACTERISTICS_REVISION_1 (ndis.h). */
export const NDIS_TIMER_CHARACTERISTICS_REVISION_1 = 1
/** NdisSetTimerObject's DueTime is in 100-nanosecond units; MillisecondsPeriod in milliseconds. */
const NS_PER_TICK = 100
const NS_PER_MS = 1_000_000
const MAXLONG = 0x7fff_ffff

interface TimerState {
  readonly handle: NdisTimerObject
  readonly fn: NetTimerCallback
  readonly defaultContext: unknown
  readonly block: number
  readonly tag: number
  readonly clockTimer: Timer
  context: unknown
  periodNs: number
}

export class TimerObjects {
  private readonly ctx: NdisContext
  private readonly timers = new Map<NdisTimerObject, TimerState>()
  /** NetTimerCallback calls made (tests and reports). */
  fired = 0

  constructor(ctx: NdisContext) {
    this.ctx = ctx
  }

  NdisAllocateTimerObject(NdisHandle: unknown, TimerCharacteristics: NDIS_TIMER_CHARACTERISTICS): { status: number; timerObject: NdisTimerObject | null } {
    const ctx = this.ctx
    const k = ctx.kernel
    const r = 'NdisAllocateTimerObject'
    k.log.throwIfStopped()
    const failed = (status: number): { status: number; timerObject: null } => ({ status, timerObject: null })
    if (!ctx.isAdapterOrDriverHandle(NdisHandle)) {
      ctx.violation('ndis-bad-handle', `${r}: NdisHandle is neither the MiniportAdapterHandle nor the NdisMiniportDriverHandle NDIS gave the driver`)
      return failed(NDIS_STATUS.NDIS_STATUS_FAILURE)
    }
    requireIrql(k, r, DISPATCH_LEVEL)
    const c = TimerCharacteristics as Partial<NDIS_TIMER_CHARACTERISTICS> | null
    const tag = tagValue(c?.AllocationTag as number | string)
    const problem =
      typeof c !== 'object' || c === null ? 'TimerCharacteristics is not an NDIS_TIMER_CHARACTERISTICS structure'
      : c.Header?.Type !== NDIS_OBJECT_TYPE.NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS || c.Header.Revision !== NDIS_TIMER_CHARACTERISTICS_REVISION_1 ? 'Header must be NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS, NDIS_TIMER_CHARACTERISTICS_REVISION_1'
      : typeof c.TimerFunction !== 'function' ? 'TimerFunction is not a function'
      : Number.isNaN(tag) || tag === 0 ? 'AllocationTag must be a pool tag ("You must provide this tag")'
      : null
    if (problem !== null) {
      ctx.violation('ndis-bad-argument', `${r}: ${problem}: NDIS_STATUS_BAD_CHARACTERISTICS`)
      return failed(NDIS_STATUS.NDIS_STATUS_BAD_CHARACTERISTICS)
    }
    const call = k.calls.allocation(r, TIMER_OBJECT_BYTES, tagName(tag))
    if (call.fail) return failed(NDIS_STATUS.NDIS_STATUS_RESOURCES)
    const block = k.pool.allocate(POOL_TYPE.NonPagedPoolNx, TIMER_OBJECT_BYTES, tag, call.site === undefined ? {} : { site: call.site })
    if (block === 0) return failed(NDIS_STATUS.NDIS_STATUS_RESOURCES)
    const handle: NdisTimerObject = { kind: 'timer-object', id: ctx.handleId() }
    const chars = c as NDIS_TIMER_CHARACTERISTICS
    const state: TimerState = {
      handle, fn: chars.TimerFunction, defaultContext: chars.FunctionContext, context: chars.FunctionContext, block, tag, periodNs: 0,
      clockTimer: k.clock.timer(`NetTimerCallback #${handle.id}`, () => this.fire(state), { background: true, needsCpu: true }),
    }
    this.timers.set(handle, state)
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, timerObject: handle }
  }

  /**
   * DueTime negative: relative, in 100 ns units; positive: absolute system time (virtual time
   * starts at 0 here, so an absolute time already past fires at once). TRUE when the timer was
   * already queued (setting it again moves it).
   */
  NdisSetTimerObject(TimerObject: NdisTimerObject, DueTime: number | bigint, MillisecondsPeriod = 0, FunctionContext?: unknown): boolean {
    const r = 'NdisSetTimerObject'
    const k = this.ctx.kernel
    k.log.throwIfStopped()
    requireIrql(k, r, DISPATCH_LEVEL)
    const t = this.lookup(r, TimerObject)
    if (t === null) return false
    const due = typeof DueTime === 'bigint' ? Number(DueTime) : DueTime
    if (!Number.isSafeInteger(due) || !Number.isSafeInteger(MillisecondsPeriod) || MillisecondsPeriod < 0 || MillisecondsPeriod > MAXLONG) {
      this.ctx.violation('ndis-bad-argument', `${r}: DueTime ${String(DueTime)} must be a LARGE_INTEGER of 100 ns units and MillisecondsPeriod ${String(MillisecondsPeriod)} a count of milliseconds no larger than MAXLONG`)
      return false
    }
    const delayNs = due < 0 ? -due * NS_PER_TICK : Math.max(0, due * NS_PER_TICK - k.clock.now)
    const queued = t.clockTimer.armed
    t.periodNs = MillisecondsPeriod * NS_PER_MS
    // "If this parameter is NULL, NDIS uses the default value that is specified in the NDIS_TIMER_CHARACTERISTICS structure."
    t.context = FunctionContext ?? t.defaultContext
    k.clock.armAfter(t.clockTimer, delayNs)
    return queued
  }

  /** TRUE when the timer was queued (its callback will not run for this setting). */
  NdisCancelTimerObject(TimerObject: NdisTimerObject): boolean {
    const r = 'NdisCancelTimerObject'
    const k = this.ctx.kernel
    k.log.throwIfStopped()
    const t = this.lookup(r, TimerObject)
    requireIrql(k, r, t !== null && t.periodNs > 0 ? PASSIVE_LEVEL : DISPATCH_LEVEL)
    if (t === null) return false
    const queued = t.clockTimer.armed
    k.clock.cancel(t.clockTimer)
    t.periodNs = 0
    return queued
  }

  NdisFreeTimerObject(TimerObject: NdisTimerObject): void {
    const r = 'NdisFreeTimerObject'
    const k = this.ctx.kernel
    k.log.throwIfStopped()
    requireIrql(k, r, DISPATCH_LEVEL)
    const t = this.lookup(r, TimerObject)
    if (t === null) return
    if (t.clockTimer.armed) {
      // Freeing a queued timer leaves a KTIMER in the timer queue inside freed pool.
      this.ctx.violation('ndis-call-order', `${r} of a timer object that is still queued: cancel it with NdisCancelTimerObject first`)
      k.clock.cancel(t.clockTimer)
    }
    this.timers.delete(t.handle)
    k.pool.free(t.block, { routine: r })
  }

  /** What the driver still holds at unload (each also cancelled, so nothing fires into an unloaded driver). */
  leftovers(): string[] {
    const out: string[] = []
    for (const t of this.timers.values()) {
      const queued = t.clockTimer.armed
      this.ctx.kernel.clock.cancel(t.clockTimer)
      out.push(`timer object #${t.handle.id} ('${tagName(t.tag)}')${queued ? ', still queued,' : ''} allocated (NdisFreeTimerObject not called)`)
    }
    return out
  }

  private lookup(routine: string, handle: unknown): TimerState | null {
    const t = this.timers.get(handle as NdisTimerObject)
    if (t !== undefined) return t
    this.ctx.violation('ndis-bad-handle', `${routine}: TimerObject is not a timer object from NdisAllocateTimerObject, or it was freed`)
    return null
  }

  private fire(t: TimerState): void {
    const k = this.ctx.kernel
    if (k.log.stopped) return
    // A periodic timer is queued again before its callback runs, as KeSetTimerEx's DPC does.
    if (t.periodNs > 0) k.clock.armAfter(t.clockTimer, t.periodNs)
    this.fired++
    const r = this.ctx.caller.call4('NetTimerCallback', DISPATCH_LEVEL, t.fn, null, t.context, null, null)
    if (r === DRIVER_FAILED) k.clock.cancel(t.clockTimer)
  }
}
