// The JavaScript built-ins a run worker (run-worker.ts) shares with the driver it runs: made
// unchangeable before the driver's module is imported, so that nothing a driver does to them can
// change what dmalab computes or reports.
//
// Two ways, chosen per object by what V8 does with it:
//  - **Frozen**: namespaces (JSON, Math, Reflect, ...), constructors, and the prototypes hot
//    code does not store elements through (Function, String, Map, Promise, iterators, ...).
//  - **Locked**: Object.prototype, Array.prototype, the typed-array prototypes and
//    Buffer.prototype (a Uint8Array's). Every own
//    property is made read-only and non-configurable, and the names JSON.stringify, promise
//    resolution and conversions look up on any object (`toJSON`, `then`, `Symbol.toPrimitive`)
//    are defined read-only `undefined`, but the objects stay extensible. V8 checks the whole
//    prototype chain for read-only elements on every store that adds an element: with
//    Array.prototype frozen, filling or growing an array cost 6.6 times as much, with the
//    typed-array prototypes frozen every `bytes[i] = v` cost 24 times as much (a micro-benchmark,
//    `node` 20). Redefining their properties one by one leaves V8 keeping them as slow
//    dictionaries, so each is then made a fast prototype again.
// What a lock gives up: a driver can add a new name to a locked object. `toJSON`, `then` and
// `Symbol.toPrimitive` are taken; any other addition is found when the run ends (`added`), the
// run reports it (bug check 0x109, as Windows' kernel patch protection does), and the object is
// put back as the driver's import left it before the next run.
//
// The Node modules dmalab's own code calls during a run (path, url, fs, util, crypto, ...) are
// frozen as well, and what dmalab's own modules export (`guardOwnModules`): a driver can import
// them too.

import { Buffer } from 'node:buffer'
import buffer from 'node:buffer'
import crypto from 'node:crypto'
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import url from 'node:url'
import util from 'node:util'
import workerThreads from 'node:worker_threads'

/** A built-in object and the name a finding calls it by. */
interface Named {
  readonly name: string
  readonly object: object
}

/** The key list of each locked object, as dmalab left it. */
interface Locked extends Named {
  readonly keys: ReadonlySet<PropertyKey>
}

/** Names any object answers through Object.prototype: taken, so a driver cannot add them. */
const TAKEN: readonly PropertyKey[] = ['toJSON', 'then', Symbol.toPrimitive]

const typedArray = Object.getPrototypeOf(Uint8Array) as { prototype: object; name: string }
const TYPED = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array]

function lockedObjects(): Named[] {
  return [
    { name: 'Object.prototype', object: Object.prototype },
    { name: 'Array.prototype', object: Array.prototype },
    { name: '%TypedArray%.prototype', object: typedArray.prototype },
    ...TYPED.map((t) => ({ name: `${t.name}.prototype`, object: t.prototype as object })),
    // A Uint8Array too: the protocol compares received bytes with Buffer.prototype.compare.
    { name: 'Buffer.prototype', object: Buffer.prototype },
  ]
}

function frozenObjects(): object[] {
  const proto = (o: object): object => Object.getPrototypeOf(o) as object
  const arrayIterator = proto([][Symbol.iterator]())
  const generator = proto(function* () {}) as { prototype: object }
  const asyncGenerator = proto(async function* () {}) as { prototype: object }
  return [
    JSON, Math, Reflect, Atomics, WebAssembly,
    Object, Array, Number, String, Boolean, Symbol, BigInt, Map, Set, WeakMap, WeakSet, Promise, RegExp, Date,
    ArrayBuffer, SharedArrayBuffer, DataView, typedArray, ...TYPED, Function, Proxy, WeakRef, FinalizationRegistry,
    Function.prototype, String.prototype, Number.prototype, Boolean.prototype, Symbol.prototype, BigInt.prototype,
    Map.prototype, Set.prototype, WeakMap.prototype, WeakSet.prototype, Promise.prototype, RegExp.prototype, Date.prototype,
    ArrayBuffer.prototype, SharedArrayBuffer.prototype, DataView.prototype, WeakRef.prototype, FinalizationRegistry.prototype,
    // The iterators for...of, spread and destructuring call `next` on.
    proto(arrayIterator), arrayIterator, proto(new Map().entries()), proto(new Set().values()), proto(''[Symbol.iterator]()),
    proto(/x/[Symbol.matchAll]('')), generator, generator.prototype, asyncGenerator, asyncGenerator.prototype,
    WebAssembly.Module, WebAssembly.Instance, WebAssembly.Memory, WebAssembly.Table, WebAssembly.Global,
    WebAssembly.Module.prototype, WebAssembly.Instance.prototype, WebAssembly.Memory.prototype, WebAssembly.Table.prototype, WebAssembly.Global.prototype,
    // The Node modules dmalab's code calls in a run (a driver can import them too; freezing a
    // module's exports also keeps module.syncBuiltinESMExports from changing named imports).
    Buffer, buffer, crypto, fs, os, path, path.posix, path.win32, url, util, util.types, workerThreads,
    // The worker's channel to the pool is a MessagePort: how it posts and dispatches.
    ...protoChain(workerThreads.MessagePort.prototype),
  ]
}

/** An object's prototype and the prototypes above it, up to Object.prototype. */
function protoChain(o: object): object[] {
  const chain: object[] = []
  for (let p: object | null = o; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) chain.push(p)
  return chain
}

/** EventEmitter's methods (process and dmalab's ports are emitters); its state fields stay writable. */
const EMITTER_METHODS = ['emit', 'on', 'addListener', 'once', 'prependListener', 'prependOnceListener', 'off', 'removeListener', 'removeAllListeners', 'listeners', 'rawListeners', 'listenerCount', 'eventNames', 'setMaxListeners', 'getMaxListeners']

/** Globals Node defines as accessors that dmalab's code reads: fixed as read-only values. */
const ACCESSOR_GLOBALS = ['process', 'Buffer', 'TextEncoder', 'TextDecoder', 'performance', 'MessagePort', 'MessageChannel']

/** Every own property read-only (data) and non-configurable, the object itself left extensible. */
function lock(o: object): void {
  for (const key of TAKEN) {
    if (!Object.prototype.hasOwnProperty.call(o, key)) Object.defineProperty(o, key, { value: undefined, writable: false, configurable: false, enumerable: false })
  }
  for (const key of Reflect.ownKeys(o)) {
    const d = Object.getOwnPropertyDescriptor(o, key)!
    Object.defineProperty(o, key, 'value' in d ? { writable: false, configurable: false } : { configurable: false })
  }
  // Redefining properties one by one left `o` a dictionary; a constructor's prototype is made
  // fast again when it is assigned (V8's OptimizeAsPrototype).
  const Fast = function (): void {} as unknown as { prototype: object; new (): object }
  Fast.prototype = o
  void new Fast()
}

/**
 * The globals a driver could replace to reach dmalab's code (`globalThis.Uint8Array = ...`):
 * every data property of the global object made read-only and non-configurable, and the
 * accessors dmalab reads turned into such values. Other accessors (Node defines some globals
 * lazily) keep their getters. Error.stackTraceLimit stays writable (dmalab sets it to capture
 * driver stacks) but Error.prepareStackTrace and captureStackTrace,
 * which decide what a captured stack says, do not.
 */
function lockGlobals(): void {
  for (const key of ACCESSOR_GLOBALS) {
    const d = Object.getOwnPropertyDescriptor(globalThis, key)
    if (d !== undefined && d.configurable === true) Object.defineProperty(globalThis, key, { value: (globalThis as Record<string, unknown>)[key], writable: false, configurable: false, enumerable: d.enumerable ?? false })
  }
  for (const key of Reflect.ownKeys(globalThis)) {
    const d = Object.getOwnPropertyDescriptor(globalThis, key)!
    if ('value' in d && d.configurable === true) Object.defineProperty(globalThis, key, { writable: false, configurable: false })
  }
  for (const key of ['prepareStackTrace', 'captureStackTrace']) {
    const d = Object.getOwnPropertyDescriptor(Error, key)
    Object.defineProperty(Error, key, d === undefined ? { value: undefined, writable: false, configurable: false } : { writable: false, configurable: false })
  }
}

export interface IntrinsicsGuard {
  /** Names a driver added to a locked built-in since the guard was set (`Object.prototype.x`). */
  added(): string[]
  /**
   * Takes what driver modules added while they were imported as the state every run starts
   * from: a worker imports a module once and runs it many times, and each run must meet the
   * built-ins as any other worker that imported it would.
   */
  settle(): void
  /**
   * Puts the built-ins back as `settle` left them: names added since are deleted, names added
   * at import get their values back. False when something could not be put back (the driver
   * made it non-configurable).
   */
  restore(): boolean
}

/** Makes the built-ins unchangeable (see the top of this file); call once, before any driver code. */
export function guardIntrinsics(): IntrinsicsGuard {
  const locked: Locked[] = lockedObjects().map((n) => {
    lock(n.object)
    return { ...n, keys: new Set(Reflect.ownKeys(n.object)) }
  })
  for (const o of frozenObjects()) Object.freeze(o)
  for (const key of EMITTER_METHODS) Object.defineProperty(EventEmitter.prototype, key, { writable: false, configurable: false })
  lockGlobals()
  const extra = (l: Locked): PropertyKey[] => Reflect.ownKeys(l.object).filter((k) => !l.keys.has(k))
  /** What import added, per locked object: the descriptor each name had then. */
  let settled = locked.map(() => new Map<PropertyKey, PropertyDescriptor>())
  return {
    added: () => locked.flatMap((l) => extra(l).map((k) => `${l.name}${propertyName(k)}`)),
    settle: () => {
      settled = locked.map((l) => new Map(extra(l).map((k) => [k, Object.getOwnPropertyDescriptor(l.object, k)!])))
    },
    restore: () => {
      let all = true
      locked.forEach((l, i) => {
        const keep = settled[i]!
        for (const k of extra(l)) {
          const then = keep.get(k)
          if (then === undefined) all = Reflect.deleteProperty(l.object, k) && all
          else if (!sameDescriptor(Object.getOwnPropertyDescriptor(l.object, k)!, then)) all = Reflect.defineProperty(l.object, k, then) && all
        }
        for (const [k, then] of keep) if (!Object.prototype.hasOwnProperty.call(l.object, k)) all = Reflect.defineProperty(l.object, k, then) && all
      })
      return all
    },
  }
}

function propertyName(k: PropertyKey): string {
  if (typeof k === 'symbol') return `[${k.description ?? 'symbol'}]`
  const name = String(k)
  return /^\d+$/.test(name) ? `[${name}]` : `.${name}`
}

function sameDescriptor(a: PropertyDescriptor, b: PropertyDescriptor): boolean {
  return Object.is(a.value, b.value) && a.get === b.get && a.set === b.set && a.writable === b.writable && a.enumerable === b.enumerable && a.configurable === b.configurable
}

/**
 * dmalab's own modules no run loads: the command line, the pools, the worker itself, the HTML
 * pages (drawn in the command's thread), the public API's index and the README generators. A
 * driver that imports one of these gets an instance no run uses (dmalab imports nothing
 * dynamically but drivers), so leaving them out keeps the worker's start short.
 */
const NOT_IN_A_RUN = /^(cli\/|report\/html\/|run-pool\.|run-worker\.|sweep-worker\.|sweep\.|index\.|kernel\/kinds-doc\.|driver\/c\/headers-doc\.)/

/**
 * dmalab's own code, as the built-ins are: a driver can import dmalab's modules (the examples
 * import constants from them) and would share their instances with the run. Every module a run
 * loads (all but NOT_IN_A_RUN) is imported here, and what each exports is made
 * unchangeable: a class's prototype frozen (`FindingsLog.prototype.record` replaced would drop
 * every finding), a table frozen to its leaves (`FINDING_KINDS` edited would turn leaks into
 * notes). A module's bindings themselves cannot be assigned from outside it. Maps, Sets and
 * class instances a module exports are its state, left as they are.
 */
export async function guardOwnModules(srcDir: URL, extension: '.js' | '.ts'): Promise<void> {
  const root = url.fileURLToPath(srcDir)
  const files = (fs.readdirSync(root, { recursive: true }) as string[])
    .map((f) => f.split(path.sep).join('/'))
    .filter((f) => f.endsWith(extension) && !f.endsWith('.d.ts') && !NOT_IN_A_RUN.test(f))
    .sort()
  for (const f of files) {
    const ns = (await import(new URL(f, srcDir).href)) as Record<string, unknown>
    for (const value of Object.values(ns)) freezeExport(value)
  }
}

function freezeExport(value: unknown): void {
  if (typeof value === 'function') {
    const proto = (value as { prototype?: unknown }).prototype
    if (typeof proto === 'object' && proto !== null && !Object.isFrozen(proto)) Object.freeze(proto)
    return
  }
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) return
  Object.freeze(value)
  for (const key of Reflect.ownKeys(value)) freezeExport((value as Record<PropertyKey, unknown>)[key])
}
