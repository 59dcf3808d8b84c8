// NDIS 5 timers on virtual time: NdisMInitializeTimer, NdisMSetTimer, NdisMSetPeriodicTimer,
// NdisMCancelTimer (and NdisInitializeTimer / NdisSetTimer / NdisCancelTimer). A timer is
// initialized at PASSIVE_LEVEL (MiniportInitialize calls NdisMInitializeTimer; "Callers of
// NdisInitializeTimer run at IRQL = PASSIVE_LEVEL"), set and cancelled at IRQL <= DISPATCH_LEVEL,
// and the timer function runs at DISPATCH_LEVEL (NdisMInitializeTimer: "NDIS calls the
// MiniportTimer function ... at IRQL = DISPATCH_LEVEL"). Timers are background events:
// they fire as virtual time passes but do not keep the machine busy, so a driver's periodic
// watchdog does not look like a machine that never goes idle.
//
// A timer still set when MiniportHalt returns is BUGCODE_NDIS_DRIVER 0x7C/0x09
// (NDIS_BUGCHECK_HALT_WITHOUT_CANCEL_TIMER); when a failed MiniportInitialize returns, 0x7C/0x0C.
import type { Timer } from '../../hw/clock.js'
import { BUGCHECK } from '../../kernel/bugcheck.js'
import { DRIVER_FAILED } from '../../kernel/driver-call.js'
import { DISPATCH_LEVEL, PASSIVE_LEVEL } from '../../kernel/irql.js'
import { NDIS5_BUGCHECK, type Ndis5State } from './state.js'
import type { NDIS_MINIPORT_TIMER, NdisTimerFunction } from './types.js'

const NS_PER_MS = 1_000_000

interface TimerState {
  readonly timer: NDIS_MINIPORT_TIMER
  readonly fn: NdisTimerFunction
  readonly context: unknown
  readonly clockTimer: Timer
  readonly routine: string
  periodNs: number
}

export class Timers5 {
  private readonly s: Ndis5State
  private readonly timers = new Map<NDIS_MINIPORT_TIMER, TimerState>()
  /** Timer functions run (for tests and reports). */
  fired = 0

  constructor(state: Ndis5State) {
    this.s = state
  }

  /** NdisMInitializeTimer(&Timer, MiniportAdapterHandle, TimerFunction, FunctionContext). */
  NdisMInitializeTimer(MiniportAdapterHandle: unknown, TimerFunction: NdisTimerFunction, FunctionContext: unknown): { timer: NDIS_MINIPORT_TIMER | null } {
    const s = this.s
    if (!s.enterAdapter('NdisMInitializeTimer', MiniportAdapterHandle)) return { timer: null }
    s.irqlAtMost('NdisMInitializeTimer', PASSIVE_LEVEL)
    return { timer: this.create('NdisMInitializeTimer', TimerFunction, FunctionContext) }
  }

  /** NdisInitializeTimer(&Timer, TimerFunction, FunctionContext): the same timer without an adapter handle. */
  NdisInitializeTimer(TimerFunction: NdisTimerFunction, FunctionContext: unknown): { timer: NDIS_MINIPORT_TIMER | null } {
    const s = this.s
    if (!s.enter('NdisInitializeTimer')) return { timer: null }
    s.irqlAtMost('NdisInitializeTimer', PASSIVE_LEVEL)
    return { timer: this.create('NdisInitializeTimer', TimerFunction, FunctionContext) }
  }

  private create(routine: string, fn: NdisTimerFunction, context: unknown): NDIS_MINIPORT_TIMER | null {
    const s = this.s
    if (typeof fn !== 'function') {
      s.ctx.violation('ndis-bad-argument', `${routine}: TimerFunction is not a function`)
      return null
    }
    const timer: NDIS_MINIPORT_TIMER = { kind: 'ndis5-timer', id: s.ctx.handleId() }
    const clock = s.ctx.kernel.clock
    const state: TimerState = { timer, fn, context, routine, periodNs: 0, clockTimer: clock.timer(`MiniportTimer #${timer.id}`, () => this.fire(state), { background: true, needsCpu: true }) }
    this.timers.set(timer, state)
    return timer
  }

  NdisMSetTimer(Timer: NDIS_MINIPORT_TIMER, MillisecondsToDelay: number): void {
    this.set('NdisMSetTimer', Timer, MillisecondsToDelay, false)
  }

  NdisSetTimer(Timer: NDIS_MINIPORT_TIMER, MillisecondsToDelay: number): void {
    this.set('NdisSetTimer', Timer, MillisecondsToDelay, false)
  }

  NdisMSetPeriodicTimer(Timer: NDIS_MINIPORT_TIMER, MillisecondPeriod: number): void {
    this.set('NdisMSetPeriodicTimer', Timer, MillisecondPeriod, true)
  }

  /** NdisMCancelTimer(Timer, &TimerCancelled): TRUE when the timer was still queued. */
  NdisMCancelTimer(Timer: NDIS_MINIPORT_TIMER): { timerCancelled: boolean } {
    return this.cancel('NdisMCancelTimer', Timer)
  }

  NdisCancelTimer(Timer: NDIS_MINIPORT_TIMER): { timerCancelled: boolean } {
    return this.cancel('NdisCancelTimer', Timer)
  }

  private set(routine: string, timer: NDIS_MINIPORT_TIMER, ms: number, periodic: boolean): void {
    const s = this.s
    if (!s.enter(routine)) return
    s.dispatchOrBelow(routine)
    const t = this.lookup(routine, timer)
    if (t === null) return
    if (!(Number.isFinite(ms) && ms >= 0) || (periodic && ms === 0)) {
      s.ctx.violation('ndis-bad-argument', `${routine}: ${periodic ? 'MillisecondPeriod' : 'MillisecondsToDelay'} ${String(ms)} is not a ${periodic ? 'positive ' : ''}number of milliseconds`)
      return
    }
    const ns = Math.round(ms * NS_PER_MS)
    t.periodNs = periodic ? ns : 0
    // Setting a timer that is already queued moves it (KeSetTimer semantics).
    s.ctx.kernel.clock.armAfter(t.clockTimer, ns)
  }

  private cancel(routine: string, timer: NDIS_MINIPORT_TIMER): { timerCancelled: boolean } {
    const s = this.s
    if (!s.enter(routine)) return { timerCancelled: false }
    s.dispatchOrBelow(routine)
    const t = this.lookup(routine, timer)
    if (t === null) return { timerCancelled: false }
    const queued = t.clockTimer.armed
    s.ctx.kernel.clock.cancel(t.clockTimer)
    t.periodNs = 0
    return { timerCancelled: queued }
  }

  private lookup(routine: string, timer: unknown): TimerState | null {
    const t = this.timers.get(timer as NDIS_MINIPORT_TIMER)
    if (t !== undefined) return t
    this.s.ctx.violation('ndis-bad-argument', `${routine}: Timer is not a timer NdisMInitializeTimer initialized`)
    return null
  }

  private fire(t: TimerState): void {
    const k = this.s.ctx.kernel
    if (k.log.stopped) return
    // A periodic timer is queued again before its function runs, as KeSetTimerEx's DPC does.
    if (t.periodNs > 0) k.clock.armAfter(t.clockTimer, t.periodNs)
    this.fired++
    const r = this.s.ctx.caller.call4('MiniportTimer', DISPATCH_LEVEL, t.fn, null, t.context, null, null)
    if (r === DRIVER_FAILED) k.clock.cancel(t.clockTimer)
  }

  /** Timers still queued. */
  get armed(): number {
    let n = 0
    for (const t of this.timers.values()) if (t.clockTimer.armed) n++
    return n
  }

  /**
   * MiniportHalt returned (or a failed MiniportInitialize did): every timer still set is
   * reported as NDIS reports it, and cancelled so it cannot run in an unloaded driver.
   */
  checkCancelled(after: 'halt' | 'init-failed'): void {
    if (this.s.ctx.kernel.log.stopped) return
    const ctx = this.s.ctx
    const code = after === 'halt' ? NDIS5_BUGCHECK.haltWithoutCancelTimer : NDIS5_BUGCHECK.initFailedWithoutCancelTimer
    for (const t of this.timers.values()) {
      if (!t.clockTimer.armed) continue
      const periodic = t.periodNs > 0
      ctx.kernel.clock.cancel(t.clockTimer)
      t.periodNs = 0
      // A real NDIS bug check: the machine stops here.
      ctx.kernel.log.fatal({
        kind: 'timer-not-cancelled',
        code: BUGCHECK.BUGCODE_NDIS_DRIVER,
        params: [code, 0, t.timer.id, 0],
        message: `${after === 'halt' ? 'MiniportHalt returned' : 'MiniportInitialize failed'} with a timer still set (${t.routine}; ${periodic ? 'periodic' : 'one-shot'}): cancel every timer with NdisMCancelTimer first, or NDIS bug checks (0x7C/${code === 0x09 ? '0x09 NDIS_BUGCHECK_HALT_WITHOUT_CANCEL_TIMER' : '0x0C NDIS_BUGCHECK_INIT_FAILED_WITHOUT_CANCEL_TIMER'})`,
      })
    }
  }
}
