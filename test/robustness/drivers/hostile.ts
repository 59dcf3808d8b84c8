// A hostile miniport for the robustness tests: the bundled e1000, with one attack on dmalab
// chosen by the DMALAB_ATTACK environment variable (so the command line can run it as a file).
// Every attack is something a real driver's bug, or a driver written against dmalab, could do.
import path from 'node:path'
import { MessagePort, parentPort, workerData } from 'node:worker_threads'
import type { NdisApi } from '../../../src/ndis/api.js'
import { FindingsLog } from '../../../src/kernel/findings.js'
import { FINDING_KINDS } from '../../../src/kernel/kinds.js'
import type { NDIS_MINIPORT_DRIVER_CHARACTERISTICS } from '../../../src/ndis/types.js'
import { miniportCharacteristics } from '../../../examples/e1000/index.js'
import { ndisAdapterMemory } from '../../../examples/e1000/memory.js'
import type { Adapter } from '../../../examples/e1000/adapter.js'

/** 8254x STATUS (13.4.2); bit 31 is reserved, so it never reads as set. */
const STATUS = 0x0008
const NEVER_SET = 0x8000_0000

export const ATTACKS = [
  'spin-dpc', 'spin-isr', 'spin-init', 'stall-forever-dpc',
  'isr-undefined', 'restart-bigint', 'restart-symbol', 'entry-nan', 'entry-huge', 'init-nan', 'async-send',
  'throw-null-proto', 'throw-proxy', 'throw-getters', 'throw-symbol', 'throw-bigint',
  'forge-pfn', 'interrupt-left', 'register-twice',
  // Only through the command line (they reach for the process the driver runs in):
  'loop-forever', 'exit-in-send', 'patch-json', 'patch-tojson', 'define-tojson', 'timer-left', 'reject-left',
  'add-names', 'add-names-at-import', 'array-element', 'typed-species', 'replace-global', 'prepare-stack', 'iterator-next', 'to-primitive',
  'forge-heartbeat', 'really-exit', 'deaf-worker', 'forge-reply', 'patch-post', 'patch-path', 'patch-buffer', 'patch-dmalab', 'edit-kinds',
] as const
export type Attack = (typeof ATTACKS)[number]

function characteristics(ndis: NdisApi, attack: string): NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
  const c = miniportCharacteristics(withAttack(ndis, attack), () => ndisAdapterMemory)
  switch (attack) {
    case 'spin-init':
      return {
        ...c,
        InitializeHandlerEx: (handle, context, params) => {
          const status = c.InitializeHandlerEx(handle, context, params)
          const { virtualAddress } = ndis.NdisMMapIoSpace(handle, params.AllocatedResources.PartialDescriptors[0]!.u.Memory!.Start, 0x1000)
          // Waits for a bit that never comes, sleeping between reads, at PASSIVE_LEVEL.
          while ((ndis.NdisReadRegisterUlong(virtualAddress + STATUS) & NEVER_SET) === 0) ndis.NdisMSleep(1000)
          return status
        },
      }
    case 'forge-pfn':
      return {
        ...c,
        InitializeHandlerEx: (handle, context, params) => {
          const status = c.InitializeHandlerEx(handle, context, params)
          // Pages of its own, then a PFN of its choosing (a frame nobody gave it) mapped and written.
          const mdl = ndis.MmAllocatePagesForMdl(0, 0xffff_ffff, 0, 4096)!
          ndis.MmGetMdlPfnArray(mdl)[0] = 0x200
          const va = ndis.MmMapLockedPagesSpecifyCache(mdl, ndis.KernelMode, ndis.MmCached, 0, false, ndis.NormalPagePriority)
          if (va !== 0) ndis.memory.write32(va, 0xdeadbeef)
          ndis.MmFreePagesFromMdl(mdl)
          ndis.ExFreePool(mdl)
          return status
        },
      }
    case 'init-nan':
      return { ...c, InitializeHandlerEx: (handle, context, params) => (c.InitializeHandlerEx(handle, context, params), Number.NaN) }
    case 'restart-bigint':
      return { ...c, RestartHandler: () => 0n as unknown as number }
    case 'restart-symbol':
      return { ...c, RestartHandler: () => Symbol('ok') as unknown as number }
    case 'async-send':
      return {
        ...c,
        SendNetBufferListsHandler: (async (context: unknown, nbls: never, port: number, flags: number) => {
          await null
          c.SendNetBufferListsHandler(context, nbls, port, flags)
        }) as unknown as NDIS_MINIPORT_DRIVER_CHARACTERISTICS['SendNetBufferListsHandler'],
      }
    case 'loop-forever':
      // Never calls back: only the wall-clock watchdog can end it.
      return { ...c, RestartHandler: () => { for (;;) { /* spin */ } } }
    case 'exit-in-send':
      return { ...c, SendNetBufferListsHandler: () => process.exit(0) }
    case 'timer-left':
    case 'reject-left':
      return {
        ...c,
        InitializeHandlerEx: (handle, context, params) => {
          if (attack === 'timer-left') setInterval(() => ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolMustSucceed, 8, 'tseT'), 1)
          else void Promise.reject(new Error('left behind'))
          return c.InitializeHandlerEx(handle, context, params)
        },
      }
    case 'throw-null-proto':
    case 'throw-proxy':
    case 'throw-getters':
    case 'throw-symbol':
    case 'throw-bigint':
      return { ...c, RestartHandler: () => { throw oddity(attack) } }
    default:
      return c
  }
}

/** The `ndis` object the e1000 code is given: its interrupt registration changed by the attack. */
function withAttack(ndis: NdisApi, attack: string): NdisApi {
  const register = ndis.NdisMRegisterInterruptEx
  const spin = (a: Adapter): void => {
    // Polls a status bit the device never sets.
    for (;;) if ((ndis.NdisReadRegisterUlong(a.regs + STATUS) & NEVER_SET) !== 0) break
  }
  return {
    ...ndis,
    NdisMRegisterInterruptEx: (h, ctx, chars) => {
      const a = ctx as Adapter
      switch (attack) {
        case 'spin-dpc':
          return register(h, ctx, { ...chars, InterruptDpcHandler: () => spin(a) })
        case 'spin-isr':
          return register(h, ctx, { ...chars, InterruptHandler: () => (spin(a), true) })
        case 'stall-forever-dpc':
          return register(h, ctx, { ...chars, InterruptDpcHandler: () => { for (;;) ndis.NdisStallExecution(50) } })
        case 'isr-undefined':
          return register(h, ctx, { ...chars, InterruptHandler: () => undefined as unknown as boolean })
        default:
          return register(h, ctx, chars)
      }
    },
    NdisMDeregisterInterruptEx: (h) => {
      if (attack !== 'interrupt-left') ndis.NdisMDeregisterInterruptEx(h)
    },
  }
}

/** Thrown values that are not plain Errors, each with a way to crash a careless reporter. */
function oddity(attack: string): unknown {
  switch (attack) {
    case 'throw-null-proto':
      return Object.create(null)
    case 'throw-proxy':
      return new Proxy(new Error('proxied'), { get: () => { throw new Error('trap') }, getPrototypeOf: () => { throw new Error('trap') }, getOwnPropertyDescriptor: () => { throw new Error('trap') } })
    case 'throw-getters': {
      const e = new Error('plain')
      Object.defineProperty(e, 'stack', { get: () => { throw new Error('stack getter') } })
      Object.defineProperty(e, 'message', { get: () => { throw new Error('message getter') } })
      Object.defineProperty(e, 'toString', { value: () => { throw new Error('toString') } })
      return e
    }
    case 'throw-symbol':
      return Symbol('thrown')
    default:
      return 10n ** 30n
  }
}

/** A class a forger would have dmalab's own code construct. */
class Forged extends Uint8Array {}

// At import, before any run: every run of a sweep meets it, whichever worker runs it.
if (process.env.DMALAB_ATTACK === 'add-names-at-import') (Object.prototype as { verdict?: string }).verdict = 'clean'

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  const attack = process.env.DMALAB_ATTACK ?? ''
  if (attack === 'add-names') {
    // New names where every object looks: a missing option, and an empty list's first entry
    // (Array.prototype cannot take an element: its length is read-only).
    ;(Object.prototype as { verdict?: string }).verdict = 'clean'
    ;(Object.prototype as Record<number, unknown>)[0] = { kind: 'forged' }
  }
  if (attack === 'array-element') (Array.prototype as unknown as Record<number, unknown>)[0] = { kind: 'forged' }
  if (attack === 'typed-species') {
    // Every subarray dmalab takes of guest memory would be the driver's object.
    Object.defineProperty(Object.getPrototypeOf(Uint8Array), Symbol.species, { get: () => Forged })
  }
  if (attack === 'replace-global') (globalThis as { Uint8Array: unknown }).Uint8Array = Forged
  if (attack === 'prepare-stack') {
    // Every finding's site would name another driver's line.
    Error.prepareStackTrace = () => '    at elsewhere (examples/e1000/init.ts:1:1)'
  }
  if (attack === 'iterator-next') {
    // Every for...of over an array in dmalab would see an empty array.
    ;(Object.getPrototypeOf([][Symbol.iterator]()) as { next: unknown }).next = () => ({ done: true, value: undefined })
  }
  if (attack === 'forge-heartbeat') {
    // The run worker's progress counter, if a driver could reach it: a loop that looks busy.
    const beat = (workerData as { heartbeat?: SharedArrayBuffer } | null)?.heartbeat
    if (beat !== undefined) for (const b = new Float64Array(beat); ; ) b[0]! += 1
  }
  if (attack === 'really-exit') (process as unknown as { reallyExit: (code: number) => void }).reallyExit(0)
  if (attack === 'deaf-worker') {
    // The worker's port to its parent, silenced and closed: later tasks would never be taken up.
    parentPort?.removeAllListeners('message')
    parentPort?.close()
  }
  if (attack === 'forge-reply') {
    // A result posted to the parent for the next few task numbers, before the real one.
    for (let id = 0; id < 16; id++) parentPort?.postMessage({ id, result: { kind: 'report', report: { miniport: 'forged', outcome: 'clean', findings: [] } } })
  }
  if (attack === 'patch-post') {
    // Every result the worker sends back, rewritten clean.
    const post = MessagePort.prototype.postMessage
    MessagePort.prototype.postMessage = function (this: MessagePort, msg: unknown) {
      const r = (msg as { result?: { report?: { outcome: string; findings: unknown[] } } }).result?.report
      if (r !== undefined) Object.assign(r, { outcome: 'clean', findings: [] })
      post.call(this, msg)
    }
  }
  if (attack === 'patch-path') path.relative = () => 'examples/e1000/init.ts'
  if (attack === 'patch-buffer') Buffer.prototype.compare = () => 0
  // dmalab's own modules, imported as the examples import its constants: every finding dropped,
  // or a kind's severity lowered to a note.
  if (attack === 'patch-dmalab') FindingsLog.prototype.violation = () => undefined
  if (attack === 'edit-kinds') (FINDING_KINDS['pool-leak'] as { severity: string }).severity = 'info'
  if (attack === 'to-primitive') {
    ;(Object.prototype as Record<symbol, unknown>)[Symbol.toPrimitive] = () => 'clean'
  }
  if (attack === 'patch-json') {
    // Forging the report: what the host serializes it with, and what every object inherits.
    JSON.stringify = () => '{"outcome":"clean"}'
    ;(Object.prototype as { toJSON?: () => unknown }).toJSON = () => ({ outcome: 'clean' })
  }
  if (attack === 'patch-tojson') {
    // The same forgery without touching JSON: every object's toJSON, by assignment.
    ;(Object.prototype as { toJSON?: () => unknown }).toJSON = () => ({ outcome: 'clean' })
  }
  if (attack === 'define-tojson') {
    // By definition, on the typed arrays a report's buffers are (Object.prototype is extensible).
    Object.defineProperty(Uint8Array.prototype, 'toJSON', { value: () => 'clean' })
  }
  if (attack === 'entry-nan') return Number.NaN
  if (attack === 'entry-huge') return 1e308
  const c = characteristics(ndis, attack)
  const { status } = ndis.NdisMRegisterMiniportDriver(ndis.DriverObject, registryPath ?? '', null, c)
  if (attack === 'register-twice') {
    // A second registration, with handlers that would take over the adapter.
    ndis.NdisMRegisterMiniportDriver(ndis.DriverObject, registryPath ?? '', null, { ...c, SendNetBufferListsHandler: () => { throw new Error('the second registration ran') } })
  }
  return status
}
