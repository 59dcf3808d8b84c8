// Calling into driver code. NDIS runs each miniport handler at a documented IRQL; the driver
// must return at that IRQL (a spin lock acquired and never released is the classic miss).
// Whatever the driver throws is caught here: a `BugCheck` means the machine has already
// stopped; anything else is the driver's own exception, fatal as on Windows (bug check 0x7E,
// `driver-exception`), with the driver line that threw. Nothing escapes to the host except
// through the host API's crash-mode rethrow, so a broken driver can never crash the emulator.
import { BUGCHECK, isBugCheck } from './bugcheck.js'
import { irqlName, type Irql } from './irql.js'
import type { Kernel } from './kernel.js'
import { driverStack } from './sites.js'
import { DMALAB_P1 } from './kinds.js'
import { asStatus, describeThrown, describeValue, isInstance, isPromise, settleQuietly } from './driver-values.js'

/** Returned instead of the handler's value when the call ended the machine. */
export const DRIVER_FAILED: unique symbol = Symbol('driver call failed')
export type DriverResult<T> = T | typeof DRIVER_FAILED

/**
 * Exception code in bug check 0x7E's first parameter for an exception thrown by driver code
 * written in JavaScript (Windows puts the NTSTATUS exception code there; JavaScript has none,
 * so dmalab uses a customer-range code, 0xE… as software exceptions do).
 */
export const JS_EXCEPTION_CODE = 0xe000_0001

/**
 * An exception driver code raised the way a CPU raises one: a C driver's trap (integer divide by
 * zero, an invalid instruction, a kernel stack overflow). It carries the NTSTATUS exception code
 * Windows would put in bug check 0x7E's first parameter, or the bug check itself when Windows
 * raises another one (a kernel stack overflow is a double fault: 0x7F, parameter 1 = 8), and the
 * stack of the code that trapped.
 */
export class DriverTrap extends Error {
  readonly exceptionCode: number
  readonly bugCheck: { readonly code: number; readonly params: readonly [number, number, number, number] } | undefined

  constructor(message: string, exceptionCode: number, stack: string | undefined, bugCheck?: DriverTrap['bugCheck']) {
    super(message)
    this.name = 'DriverTrap'
    this.exceptionCode = exceptionCode
    this.bugCheck = bugCheck
    if (stack !== undefined) this.stack = stack
  }
}

/** dmalab's own parameter 1 for a handler (other than an ISR) that returned at another IRQL. */
export const IRQL_NOT_RESTORED = DMALAB_P1.irqlNotRestored

export class DriverCaller {
  private readonly kernel: Kernel
  /** The handler running now (innermost), for messages. */
  current: string | null = null

  constructor(kernel: Kernel) {
    this.kernel = kernel
    kernel.cpuTime.handler = () => this.current
  }

  /**
   * Runs `fn` (driver code for `handler`) at `irql`. Returns its value, or DRIVER_FAILED when
   * the machine stopped (a fatal finding, or an exception the driver threw).
   */
  call<T>(handler: string, irql: Irql, fn: () => T): DriverResult<T> {
    return this.call4(handler, irql, fn, undefined, undefined, undefined, undefined)
  }

  /**
   * `call` for a driver routine that takes its arguments directly, so the per-packet paths
   * (ProcessSGList, execution routines) allocate no closure per call.
   */
  call4<A, B, C, D, T>(handler: string, irql: Irql, fn: (a: A, b: B, c: C, d: D) => T, a: A, b: B, c: C, d: D): DriverResult<T> {
    const k = this.kernel
    if (k.log.stopped) return DRIVER_FAILED
    const savedIrql = k.irql
    const savedHandler = this.current
    const cpu = k.cpuTime
    // The outermost driver call starts the handler watchdog's count (cpu-time.ts).
    const outermost = cpu.callStart < 0
    if (outermost) cpu.callStart = k.clock.now
    k.irql = irql
    this.current = handler
    try {
      const value = fn(a, b, c, d)
      // An async handler returned at its first await; the rest runs later, outside NDIS's call.
      if (typeof value === 'object' && value !== null && isPromise(value)) this.asyncReturn(handler, value)
      if (k.irql !== irql && !k.log.stopped) {
        k.log.report({
          kind: 'irql-violation',
          code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
          params: [IRQL_NOT_RESTORED, k.irql, irql, 0],
          message: `${handler} was called at ${irqlName(irql)} and returned at ${irqlName(k.irql)}: a spin lock or KeRaiseIrql not undone`,
          details: { handler, expected: irql, actual: k.irql },
        })
      }
      return k.log.stopped ? DRIVER_FAILED : value
    } catch (error) {
      if (!isBugCheck(error) && !k.log.stopped) this.driverException(handler, error)
      return DRIVER_FAILED
    } finally {
      k.irql = savedIrql
      this.current = savedHandler
      if (outermost) cpu.callStart = -1
    }
  }

  private driverException(handler: string, error: unknown): void {
    // Described without running driver code: a thrown Proxy, Object.create(null), Symbol or
    // an Error whose getters throw is reported like any other exception (driver-values.ts).
    const thrown = describeThrown(error)
    // A thrown value that is not an Error carries no stack; the wrapper's stack would point at
    // dmalab's caller, not the driver, so such a throw names no site. An Error's (a C driver's
    // trap's) own stack is the driver's call stack at the throw: by the time it is caught here
    // those frames have unwound, so the finding takes them from the error, not from the stack now.
    const stack = thrown.isError ? driverStack(thrown.stack) : []
    const top = stack[0]
    const site = top === undefined ? undefined : `${top.file}:${top.line}`
    const trap = isInstance(error, DriverTrap) ? error : undefined
    try {
      this.kernel.log.fatal({
        kind: 'driver-exception',
        code: trap?.bugCheck?.code ?? BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED,
        params: trap?.bugCheck?.params ?? [trap?.exceptionCode ?? JS_EXCEPTION_CODE, 0, 0, 0],
        message: trap !== undefined ? `${handler}: ${thrown.message}` : `${handler} threw ${thrown.name}: ${thrown.message}`,
        ...(site === undefined ? {} : { site, stack }),
        details: { handler, exception: thrown.name, exceptionMessage: thrown.message },
      })
    } catch {
      // fatal() throws the BugCheck for driver code to unwind; here we are the boundary.
    }
  }

  /**
   * A handler's return value that is not what the WDK says it returns (`expected` says what
   * is) is `bad-return-value`.
   */
  badReturn(handler: string, value: unknown, expected: string): void {
    const k = this.kernel
    if (k.log.stopped) return
    k.log.report({
      kind: 'bad-return-value',
      code: BUGCHECK.BUGCODE_NDIS_DRIVER,
      params: [DMALAB_P1.badReturnValue, 0, 0, 0],
      message: `${handler} returned ${describeValue(value)}, which is not ${expected}; NDIS treats it as a failure`,
      details: { handler, returned: describeValue(value) },
    })
  }

  /**
   * A handler that returned a Promise: the rest of it runs after NDIS moved on. Its rejection
   * is this finding already, so it is not left to end the process as an unhandled rejection.
   */
  asyncReturn(handler: string, promise: Promise<unknown>): void {
    settleQuietly(promise)
    const k = this.kernel
    if (k.log.stopped) return
    k.log.report({
      kind: 'async-driver-code',
      code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
      params: [DMALAB_P1.asyncDriverCode, 0, 0, 0],
      message: `${handler} returned a Promise (an async handler): the code after its first await runs after the handler returned, outside any IRQL or lock NDIS holds for it; a Windows handler does its work before it returns`,
      details: { handler },
    })
  }

  /**
   * A status-returning handler (DriverEntry, MiniportInitializeEx, ...): its value as a 32-bit
   * status, or undefined after a `bad-return-value` finding. `allowPending` for the handlers
   * the WDK lets return NDIS_STATUS_PENDING.
   */
  status(handler: string, value: unknown, allowPending: boolean): number | undefined {
    const status = asStatus(value)
    if (status === undefined) {
      this.badReturn(handler, value, 'an NTSTATUS (a 32-bit whole number)')
      return undefined
    }
    if (!allowPending && status === STATUS_PENDING) {
      this.badReturn(handler, value, 'a final status (it cannot pend)')
      return undefined
    }
    return status
  }
}

const STATUS_PENDING = 0x103
