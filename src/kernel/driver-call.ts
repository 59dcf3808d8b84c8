// Calling into driver code. NDIS runs each miniport handler at a documented IRQL; the driver
// must return at that IRQL (a spin lock acquired and never released is the classic miss).
// Whatever the driver throws is caught here: a `BugCheck` means the machine has already
// stopped; anything else is the driver's own exception, fatal as on Windows (bug check 0x7E,
// `driver-exception`), with the driver line that threw. Nothing escapes to the host except
// through the host API's crash-mode rethrow, so a broken driver can never crash the emulator.
import { BugCheck, BUGCHECK } from './bugcheck.js'
import { irqlName, type Irql } from './irql.js'
import type { Kernel } from './kernel.js'
import { driverFrames } from './sites.js'
import { DMALAB_P1 } from './kinds.js'

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
    k.irql = irql
    this.current = handler
    try {
      const value = fn(a, b, c, d)
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
      if (!(error instanceof BugCheck) && !k.log.stopped) this.driverException(handler, error)
      return DRIVER_FAILED
    } finally {
      k.irql = savedIrql
      this.current = savedHandler
    }
  }

  private driverException(handler: string, error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error))
    // A thrown value that is not an Error carries no stack; the wrapper's stack would point at
    // dmalab's caller, not the driver, so such a throw names no site.
    const site = error instanceof Error ? driverFrames(err.stack)[0] : undefined
    const trap = error instanceof DriverTrap ? error : undefined
    try {
      this.kernel.log.fatal({
        kind: 'driver-exception',
        code: trap?.bugCheck?.code ?? BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED,
        params: trap?.bugCheck?.params ?? [trap?.exceptionCode ?? JS_EXCEPTION_CODE, 0, 0, 0],
        message: trap !== undefined ? `${handler}: ${err.message}` : `${handler} threw ${err.name}: ${err.message}`,
        ...(site === undefined ? {} : { site }),
        details: { handler, exception: err.name, exceptionMessage: err.message },
      })
    } catch {
      // fatal() throws the BugCheck for driver code to unwind; here we are the boundary.
    }
  }
}
