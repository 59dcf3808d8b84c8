// A C driver's traps as Windows would see them. WebAssembly traps where an x86 CPU raises an
// exception; the exception, unhandled in a kernel thread, is bug check 0x7E
// (SYSTEM_THREAD_EXCEPTION_NOT_HANDLED) with the exception code as parameter 1. A kernel stack
// overflow is a double fault instead (0x7F, parameter 1 = 8).
import { BUGCHECK } from '../../kernel/bugcheck.js'
import { DriverTrap } from '../../kernel/driver-call.js'
import { driverStack } from '../../kernel/sites.js'

/** NTSTATUS exception codes (ntstatus.h) for what a CPU raises. */
export const EXCEPTION = {
  STATUS_ACCESS_VIOLATION: 0xc000_0005,
  STATUS_ILLEGAL_INSTRUCTION: 0xc000_001d,
  STATUS_FLOAT_INVALID_OPERATION: 0xc000_0090,
  STATUS_INTEGER_DIVIDE_BY_ZERO: 0xc000_0094,
  STATUS_INTEGER_OVERFLOW: 0xc000_0095,
} as const

/** V8's trap messages (WebAssembly.RuntimeError) and what the x86 instruction would raise. */
const TRAPS: ReadonlyArray<readonly [RegExp, number, string]> = [
  // div/idiv by zero raise #DE: STATUS_INTEGER_DIVIDE_BY_ZERO.
  [/divide by zero|remainder by zero/, EXCEPTION.STATUS_INTEGER_DIVIDE_BY_ZERO, 'integer divide by zero'],
  // INT_MIN / -1 overflows idiv, also #DE, which Windows reports as STATUS_INTEGER_OVERFLOW.
  [/divide result unrepresentable/, EXCEPTION.STATUS_INTEGER_OVERFLOW, 'integer overflow in a division (INT_MIN / -1)'],
  // __builtin_trap() and unreachable code compile to ud2 on x86: #UD.
  [/unreachable/, EXCEPTION.STATUS_ILLEGAL_INSTRUCTION, 'illegal instruction (__builtin_trap or code marked unreachable)'],
  [/float unrepresentable|invalid conversion to integer/, EXCEPTION.STATUS_FLOAT_INVALID_OPERATION, 'floating-point value out of the integer range'],
  // A call through a pointer that is not one of the driver's functions executes garbage or
  // jumps to an unmapped address.
  [/null function|function signature mismatch|table index is out of bounds|index out of bounds/, EXCEPTION.STATUS_ACCESS_VIOLATION, 'call through a function pointer that is not one of the driver\'s functions'],
]

const STATUS_NAMES = new Map<number, string>(Object.entries(EXCEPTION).map(([name, code]) => [code, name]))

/**
 * The DriverTrap for what C code threw, or undefined when it is something else (a BugCheck
 * unwinding, a host error): those pass through unchanged.
 */
export function trapOf(error: unknown): DriverTrap | undefined {
  if (error instanceof DriverTrap) return error
  if (error instanceof RangeError && /call stack size/i.test(error.message)) {
    // The C code's own recursion: each x86 call pushes a return address, so the kernel stack
    // (12 KiB on x86) overflows into its guard page and the CPU double-faults.
    return new DriverTrap('kernel stack overflow (recursion deeper than the kernel stack holds): double fault', EXCEPTION.STATUS_ACCESS_VIOLATION, error.stack, {
      code: BUGCHECK.UNEXPECTED_KERNEL_MODE_TRAP,
      params: [8, 0, 0, 0],
    })
  }
  if (!(error instanceof WebAssembly.RuntimeError)) return undefined
  // The C function that trapped (the site names its file and line).
  const top = driverStack(error.stack)[0]
  const where = top === undefined ? '' : ` in ${top.function}()`
  for (const [pattern, code, what] of TRAPS) {
    if (pattern.test(error.message)) return new DriverTrap(`${what}${where}: exception ${STATUS_NAMES.get(code)} (0x${code.toString(16).toUpperCase()})`, code, error.stack)
  }
  return new DriverTrap(`trap${where}: ${error.message}`, EXCEPTION.STATUS_ILLEGAL_INSTRUCTION, error.stack)
}
