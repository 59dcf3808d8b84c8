// NDIS 5 interrupts: NdisMRegisterInterrupt / NdisMDeregisterInterrupt, and the delivery of the
// NIC's level-triggered INTx line. NDIS 5.1 reference (NdisMRegisterInterrupt, MiniportISR,
// MiniportHandleInterrupt, MiniportDisableInterrupt, MiniportEnableInterrupt,
// NdisMSynchronizeWithInterrupt):
//  - RequestIsr TRUE: MiniportISR runs at DIRQL on every interrupt and says whether it was the
//    NIC's and whether to queue MiniportHandleInterrupt; RequestIsr FALSE: NDIS dismisses the
//    interrupt itself by calling MiniportDisableInterrupt at DIRQL and always queues
//    MiniportHandleInterrupt (a shared line needs an ISR).
//  - MiniportHandleInterrupt runs at DISPATCH_LEVEL with the NIC's interrupts disabled; after
//    it returns NDIS calls MiniportEnableInterrupt (DIRQL) if the miniport has one.
// A line that stays asserted with nobody clearing it storms, as for NDIS 6 (interrupt.ts).
import type { Timer } from '../../hw/clock.js'
import { hex } from '../../hw/address.js'
import { BUGCHECK } from '../../kernel/bugcheck.js'
import { DRIVER_FAILED } from '../../kernel/driver-call.js'
import { DEVICE_IRQL, DISPATCH_LEVEL, PASSIVE_LEVEL } from '../../kernel/irql.js'
import { NDIS_STATUS } from '../constants.js'
import { NDIS_BUGCHECK } from '../context.js'
import { stormed, type StormCount } from '../interrupt.js'
import { NDIS5_STATUS, NDIS_INTERRUPT_MODE } from './constants.js'
import type { Ndis5State } from './state.js'
import type { MiniportSynchronizeFunction, NDIS_MINIPORT_INTERRUPT, NDIS_MINIPORT_CHARACTERISTICS } from './types.js'

interface Registration extends StormCount {
  readonly interrupt: NDIS_MINIPORT_INTERRUPT
  readonly requestIsr: boolean
  readonly isrTimer: Timer
  readonly dpcTimer: Timer
  readonly detach: () => void
  masked: boolean
}

export class Interrupts5 {
  private readonly s: Ndis5State
  private registration: Registration | null = null
  /** Interrupts the ISR recognized (or NDIS dismissed), and MiniportHandleInterrupt calls. */
  isrCalls = 0
  dpcCalls = 0

  constructor(state: Ndis5State) {
    this.s = state
  }

  get registered(): boolean {
    return this.registration !== null
  }

  private get chars(): NDIS_MINIPORT_CHARACTERISTICS {
    return this.s.characteristics!
  }

  /** NdisMRegisterInterrupt(&Interrupt, MiniportAdapterHandle, InterruptVector, InterruptLevel, RequestIsr, SharedInterrupt, InterruptMode). */
  NdisMRegisterInterrupt(MiniportAdapterHandle: unknown, InterruptVector: number, InterruptLevel: number, RequestIsr: boolean, SharedInterrupt: boolean, InterruptMode: number): { status: number; interrupt: NDIS_MINIPORT_INTERRUPT | null } {
    const s = this.s
    const ctx = s.ctx
    const fail = (status: number): { status: number; interrupt: null } => ({ status, interrupt: null })
    if (!s.enterAdapter('NdisMRegisterInterrupt', MiniportAdapterHandle)) return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    s.irqlAtMost('NdisMRegisterInterrupt', PASSIVE_LEVEL)
    s.initOnly('NdisMRegisterInterrupt')
    if (s.attributes === null) s.callOrder('NdisMRegisterInterrupt before NdisMSetAttributes[Ex]: MiniportInitialize sets its attributes before it claims hardware resources')
    if (this.registration !== null) {
      s.callOrder('NdisMRegisterInterrupt: the adapter already has an interrupt registered')
      return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    }
    const c = this.chars
    const missing: string[] = []
    if (typeof c.HandleInterruptHandler !== 'function') missing.push('HandleInterruptHandler')
    if (RequestIsr && typeof c.ISRHandler !== 'function') missing.push('ISRHandler (RequestIsr is TRUE)')
    if (!RequestIsr && (typeof c.DisableInterruptHandler !== 'function' || typeof c.EnableInterruptHandler !== 'function')) missing.push('DisableInterruptHandler and EnableInterruptHandler (RequestIsr is FALSE: NDIS dismisses the interrupt through them)')
    if (missing.length > 0) {
      ctx.violation('ndis-bad-argument', `NdisMRegisterInterrupt: the registered characteristics lack ${missing.join(', ')}`)
      return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    }
    if (SharedInterrupt && !RequestIsr) {
      ctx.violation('ndis-bad-argument', 'NdisMRegisterInterrupt: a shared interrupt needs RequestIsr TRUE (only MiniportISR can tell whether the NIC interrupted)')
      return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    }
    if (InterruptMode !== NDIS_INTERRUPT_MODE.NdisInterruptLevelSensitive && InterruptMode !== NDIS_INTERRUPT_MODE.NdisInterruptLatched) {
      ctx.violation('ndis-bad-argument', `NdisMRegisterInterrupt: InterruptMode ${String(InterruptMode)} is neither NdisInterruptLevelSensitive nor NdisInterruptLatched`)
      return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    }
    // The vector and level are the adapter's interrupt resource (NdisMQueryAdapterResources).
    const line = ctx.nic.pci.configRead32(0x3c) & 0xff
    if (InterruptVector !== line || InterruptLevel !== line) {
      ctx.violation('ndis-bad-argument', `NdisMRegisterInterrupt: vector ${hex(Number(InterruptVector))} / level ${hex(Number(InterruptLevel))} are not the adapter's interrupt resource (vector and level ${hex(line)}, from NdisMQueryAdapterResources)`)
      return fail(NDIS5_STATUS.NDIS_STATUS_RESOURCE_CONFLICT)
    }
    const interrupt: NDIS_MINIPORT_INTERRUPT = { kind: 'ndis5-interrupt', id: ctx.handleId() }
    const clock = ctx.kernel.clock
    const wire = ctx.nic.interrupt
    const isrTimer = clock.timer('MiniportISR', () => this.deliver(), { needsCpu: true })
    const dpcTimer = clock.timer('MiniportHandleInterrupt', () => this.runDpc(), { needsCpu: true })
    const detach = wire.onChange((asserted) => {
      if (asserted && !isrTimer.armed) clock.armAfter(isrTimer, 0)
    })
    this.registration = { interrupt, requestIsr: RequestIsr, isrTimer, dpcTimer, detach, stormAt: -1, stormCount: 0, masked: false }
    if (wire.asserted) clock.armAfter(isrTimer, 0)
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, interrupt }
  }

  NdisMDeregisterInterrupt(Interrupt: NDIS_MINIPORT_INTERRUPT): void {
    const s = this.s
    if (!s.enter('NdisMDeregisterInterrupt')) return
    const r = this.registration
    if (r === null || Interrupt !== r.interrupt) {
      s.ctx.violation('ndis-bad-handle', 'NdisMDeregisterInterrupt: not the interrupt NdisMRegisterInterrupt registered, or already deregistered')
      return
    }
    s.irqlAtMost('NdisMDeregisterInterrupt', PASSIVE_LEVEL)
    this.release(r)
  }

  /** NdisMSynchronizeWithInterrupt(Interrupt, SynchronizeFunction, SynchronizeContext): runs it at the interrupt's DIRQL. */
  NdisMSynchronizeWithInterrupt<T>(Interrupt: NDIS_MINIPORT_INTERRUPT, SynchronizeFunction: MiniportSynchronizeFunction<T>, SynchronizeContext: T): boolean {
    const s = this.s
    if (!s.enter('NdisMSynchronizeWithInterrupt')) return false
    const r = this.registration
    if (r === null || Interrupt !== r.interrupt) {
      s.ctx.violation('ndis-bad-handle', 'NdisMSynchronizeWithInterrupt: not a registered interrupt (NdisMRegisterInterrupt)')
      return false
    }
    if (typeof SynchronizeFunction !== 'function') {
      s.ctx.violation('ndis-bad-argument', 'NdisMSynchronizeWithInterrupt: SynchronizeFunction is not a function')
      return false
    }
    const k = s.ctx.kernel
    const saved = k.irql
    k.irql = Math.max(saved, DEVICE_IRQL)
    try {
      return SynchronizeFunction(SynchronizeContext) === true
    } finally {
      k.irql = saved
    }
  }

  /** The interrupt still registered when MiniportHalt returned or MiniportInitialize failed (0x7C/0x08, 0x0B). */
  checkDeregistered(after: 'halt' | 'init-failed'): void {
    const r = this.registration
    if (r === null) return
    const code = after === 'halt' ? NDIS_BUGCHECK.haltWithoutInterruptDeregister : NDIS_BUGCHECK.initFailedWithoutInterruptDeregister
    this.release(r)
    // A real NDIS bug check: the machine stops here.
    this.s.ctx.kernel.log.fatal({
      kind: 'interrupt-not-deregistered',
      code: BUGCHECK.BUGCODE_NDIS_DRIVER,
      params: [code, 0, r.interrupt.id, 0],
      message: `${after === 'halt' ? 'MiniportHalt returned' : 'MiniportInitialize failed'} with its interrupt still registered: call NdisMDeregisterInterrupt first, or NDIS bug checks (0x7C/${after === 'halt' ? '0x08 NDIS_BUGCHECK_HALT_WITHOUT_INTERRUPT_DEREGISTER' : '0x0B NDIS_BUGCHECK_INIT_FAILED_WITHOUT_INTERRUPT_DEREGISTER'})`,
    })
  }

  private release(r: Registration): void {
    const clock = this.s.ctx.kernel.clock
    r.detach()
    clock.cancel(r.isrTimer)
    clock.cancel(r.dpcTimer)
    this.registration = null
  }

  private deliver(): void {
    const r = this.registration
    const s = this.s
    const wire = s.ctx.nic.interrupt
    if (r === null || r.masked || !wire.asserted) return
    const clock = s.ctx.kernel.clock
    if (stormed(s.ctx, r, clock.now, r.requestIsr ? 'MiniportISR' : 'MiniportDisableInterrupt')) {
      r.masked = true
      return
    }
    const c = this.chars
    let queue: boolean
    if (r.requestIsr) {
      const result = s.ctx.caller.call4('MiniportISR', DEVICE_IRQL, c.ISRHandler!, s.adapterContext, undefined, undefined, undefined)
      if (result === DRIVER_FAILED) return
      if (typeof result !== 'object' || result === null || typeof result.interruptRecognized !== 'boolean') {
        s.ctx.kernel.log.report({ kind: 'bad-return-value', message: 'MiniportISR returned something other than { interruptRecognized, queueMiniportHandleInterrupt }: NDIS takes it as not recognized' })
        queue = false
      } else {
        queue = result.interruptRecognized && result.queueMiniportHandleInterrupt === true
        if (result.interruptRecognized) this.isrCalls++
      }
    } else {
      // NDIS's own ISR: dismiss through MiniportDisableInterrupt, always queue the DPC.
      const d = s.ctx.caller.call4('MiniportDisableInterrupt', DEVICE_IRQL, c.DisableInterruptHandler!, s.adapterContext, undefined, undefined, undefined)
      if (d === DRIVER_FAILED) return
      this.isrCalls++
      queue = true
    }
    if (queue && !r.dpcTimer.armed) clock.armAfter(r.dpcTimer, 0)
    if (wire.asserted && !r.masked && this.registration === r && !r.isrTimer.armed) clock.armAfter(r.isrTimer, 0)
  }

  private runDpc(): void {
    const r = this.registration
    if (r === null) return
    const s = this.s
    const c = this.chars
    this.dpcCalls++
    const done = s.ctx.caller.call4('MiniportHandleInterrupt', DISPATCH_LEVEL, c.HandleInterruptHandler!, s.adapterContext, undefined, undefined, undefined)
    if (done === DRIVER_FAILED || this.registration !== r) return
    // MiniportHandleInterrupt: NDIS re-enables the NIC's interrupts through MiniportEnableInterrupt after it returns.
    if (typeof c.EnableInterruptHandler === 'function') {
      s.ctx.caller.call4('MiniportEnableInterrupt', DEVICE_IRQL, c.EnableInterruptHandler, s.adapterContext, undefined, undefined, undefined)
    }
  }
}
