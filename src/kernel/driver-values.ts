// Values that come out of driver code (what a handler throws or returns) are described and
// checked here without ever running driver code: no toString, valueOf, Symbol.toPrimitive,
// getter or Proxy trap is called, so an `Object.create(null)`, a Proxy, an object whose
// `toString` or `stack` getter throws, a Symbol or a BigInt is a value like any other.
//
// The intrinsics used are taken when this module loads, before any driver is imported, so a
// driver that patches `Object.getOwnPropertyDescriptor`, `Reflect` or `String` later does not
// reach them.
import { types } from 'node:util'

const isProxy = types.isProxy
const isNativeError = types.isNativeError
export const isPromise = types.isPromise
const ownDescriptor = Object.getOwnPropertyDescriptor
const protoOf = Object.getPrototypeOf
const isArray = Array.isArray
const apply = Reflect.apply
const symbolDescription = Object.getOwnPropertyDescriptor(Symbol.prototype, 'description')!.get!
const stringSlice = String.prototype.slice
const promiseThen = Promise.prototype.then
const ignore = (): void => {}

/** Longest text taken from a driver's string (a message, a name). */
const TEXT_LIMIT = 160

function clip(s: string): string {
  return s.length > TEXT_LIMIT ? `${apply(stringSlice, s, [0, TEXT_LIMIT - 1]) as string}…` : s
}

/** A data property's value, or undefined for accessors, Proxies and anything that throws. */
function dataProperty(o: object, key: string): unknown {
  try {
    let at: object | null = o
    for (let depth = 0; at !== null && depth < 8; depth++) {
      if (isProxy(at)) return undefined
      const d = ownDescriptor(at, key)
      if (d !== undefined) return 'value' in d ? d.value : undefined
      at = protoOf(at) as object | null
    }
  } catch {
    // A revoked Proxy in the chain, or something stranger: nothing to read.
  }
  return undefined
}

function textProperty(o: object, key: string): string | undefined {
  const v = dataProperty(o, key)
  return typeof v === 'string' ? clip(v) : undefined
}

/** One phrase for any value: `undefined`, `NaN`, `1e+308`, `12n`, `Symbol(x)`, `a Proxy`, … */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'undefined': return 'undefined'
    case 'boolean': return value ? 'true' : 'false'
    case 'number': return `${value}`
    case 'bigint': return `the BigInt ${value}n`
    case 'string': return `the string "${clip(value)}"`
    case 'symbol': {
      let d: unknown
      try {
        d = apply(symbolDescription, value, [])
      } catch {
        d = undefined
      }
      return `Symbol(${typeof d === 'string' ? clip(d) : ''})`
    }
    case 'function': return isProxy(value) ? 'a Proxy' : 'a function'
    default:
      break
  }
  if (value === null) return 'null'
  const o = value as object
  if (isProxy(o)) return 'a Proxy'
  if (isNativeError(o)) {
    const { name, message } = describeError(o)
    return `${name}: ${message}`
  }
  if (isPromise(o)) return 'a Promise'
  try {
    if (isArray(o)) return 'an array'
    if (protoOf(o) === null) return 'an object with no prototype'
  } catch {
    return 'an object'
  }
  return 'an object'
}

/** What a thrown value says about itself, read safely. */
export interface ThrownValue {
  readonly name: string
  readonly message: string
  /** The V8 stack text when it is a plain data property (never a getter's result). */
  readonly stack: string | undefined
  readonly isError: boolean
}

function describeError(o: object): { name: string; message: string } {
  return { name: textProperty(o, 'name') ?? 'Error', message: textProperty(o, 'message') ?? '' }
}

export function describeThrown(error: unknown): ThrownValue {
  if (typeof error === 'object' && error !== null && !isProxy(error) && isNativeError(error)) {
    const { name, message } = describeError(error)
    let stack: string | undefined
    try {
      // Reading the data property may format the stack (Error.prepareStackTrace); a driver
      // that patched it to throw leaves the finding without a site, nothing worse.
      const d = ownDescriptor(error, 'stack')
      stack = d !== undefined && 'value' in d && typeof d.value === 'string' ? d.value : undefined
    } catch {
      stack = undefined
    }
    return { name, message, stack, isError: true }
  }
  return { name: 'a value that is not an Error', message: describeValue(error), stack: undefined, isError: false }
}

/** True for a Promise or any object with a callable `then` read without running a getter. */
export function isThenable(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (isPromise(value)) return true
  return typeof dataProperty(value, 'then') === 'function'
}

/**
 * An NTSTATUS / NDIS_STATUS as a 32-bit value: a whole number that fits 32 bits signed
 * (C's LONG, as `return STATUS_...` in C gives it) or unsigned (as the constants are written
 * here). Anything else (NaN, 1e308, 1.5, a BigInt, undefined, an object) is no status at all.
 */
export function asStatus(value: unknown): number | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -0x8000_0000 || value > 0xffff_ffff) return undefined
  return value >>> 0
}

/** A BOOLEAN as a handler returns it: true/false, or 0/1 as C code would. */
export function asBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value
  if (value === 0 || value === 1) return value === 1
  return undefined
}

/** An own data property of a value a handler returned, read without running driver code. */
export function returnedField(value: unknown, key: string): unknown {
  if (typeof value !== 'object' || value === null) return undefined
  return dataProperty(value, key)
}

/** Marks a driver's Promise handled (its rejection is reported as a finding, not by the host). */
export function settleQuietly(promise: Promise<unknown>): void {
  try {
    apply(promiseThen, promise, [ignore, ignore])
  } catch {
    // A Promise subclass whose species constructor throws: nothing more to do.
  }
}

/** `value instanceof C` that runs no driver code: false for a Proxy or a prototype chain that traps. */
export function isInstance<T>(value: unknown, C: abstract new (...args: never[]) => T): value is T {
  if (typeof value !== 'object' || value === null || isProxy(value)) return false
  try {
    return value instanceof C
  } catch {
    return false
  }
}
