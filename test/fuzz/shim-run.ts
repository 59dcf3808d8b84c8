// Runs one shim program: the test miniport (test/support/test-miniport.ts) loaded on a fresh
// machine, with the fuzz driver's calls made from inside its handlers, protocol traffic in
// between, and the halt at the end. Besides the shared invariants (invariants.ts) it checks:
//  - a shim never throws anything into driver code but a BugCheck, an NtStatusError (a
//    routine that raises, as Windows does) or a TypeError/RangeError naming the routine whose
//    argument had the wrong type; anything else (a TypeError from inside the shim, a
//    RangeError from a typed array) is the emulator crashing, masked as a driver exception;
//  - the IRQL is PASSIVE_LEVEL whenever control is back with the host;
//  - in log mode only a fatal finding stops the machine;
//  - after the halt, unless the machine stopped, the driver is unloaded and every allocation
//    it still holds is reported (pool-leak, memory-leak, common-buffer-leak, sg-list-leak);
//  - the same program on the same configuration gives the same report, byte for byte.
import { createMachine, type Machine } from '../../src/machine.js'
import { BugCheck } from '../../src/index.js'
import { NtStatusError } from '../../src/kernel/wdm.js'
import { PASSIVE_LEVEL } from '../../src/kernel/irql.js'
import type { FindingKind } from '../../src/kernel/kinds.js'
import type { MiniportModule } from '../../src/ndis/miniport.js'
import type { NdisApi, DMA_ADAPTER } from '../../src/ndis/api.js'
import { REG, readReg, testMiniport, writeReg, type TestAdapter, type TestMiniportHooks } from '../support/test-miniport.js'
import { FuzzDriver } from './shim-driver.js'
import type { ShimProgram, Where, PlacedCall } from './shim-ops.js'
import {
  TimeWatch, checkFrameAccounting, checkHostMemory, checkInterruptLine, checkReportAccounting, describeError, hostCall, violated, watchDoorbells,
} from './invariants.js'

const SRC = new URL('../../src/', import.meta.url).pathname
/** Calls a handler makes per invocation (initialization and halt make all of theirs). */
const PER_HANDLER = 3
/** Wall time one driver call may take: a call that takes longer did unbounded work (500x a slow one). */
const SLOW_CALL_MS = 5_000

/** The file of the innermost frame with one: where an exception was thrown. */
function thrownIn(error: unknown): string {
  if (!(error instanceof Error) || error.stack === undefined) return ''
  for (const line of error.stack.split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):\d+:\d+\)?$/.exec(line.trim())
    if (m) return m[1]!.replace(/^file:\/\//, '')
  }
  return ''
}

/** What a shim may throw into driver code. */
function documented(error: unknown): boolean {
  if (error instanceof BugCheck || error instanceof NtStatusError) return true
  // Driver code the shim called back (a lookaside's Allocate routine) threw: the driver's own.
  if (!thrownIn(error).startsWith(SRC)) return true
  return (error instanceof TypeError || error instanceof RangeError) && /^(memory\.[a-z][A-Za-z0-9]*|[A-Z][A-Za-z0-9]+): /.test(error.message)
}

/** The `ndis` object with every routine (and `ndis.memory`, and DMA operations) watched. */
function watched(ndis: NdisApi, escapes: string[]): NdisApi {
  const guard = <F extends (...args: never[]) => unknown>(name: string, fn: F): F =>
    ((...args: never[]) => {
      try {
        return fn(...args)
      } catch (error) {
        if (!documented(error)) escapes.push(`${name} threw ${describeError(error)} at ${thrownIn(error).replace(SRC, 'src/')}\n${error instanceof Error ? error.stack?.split('\n').slice(1, 5).join('\n') : ''}`)
        throw error
      }
    }) as F
  const seen = new WeakSet<object>()
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(ndis)) {
    if (typeof value === 'function') out[key] = guard(key, value.bind(ndis) as (...args: never[]) => unknown)
    else out[key] = value
  }
  const memory = ndis.memory
  const mem: Record<string, unknown> = {}
  for (const key of ['read8', 'read16', 'read32', 'read64', 'write8', 'write16', 'write32', 'write64', 'readBytes', 'writeBytes', 'fill', 'copy', 'readInto', 'writeFrom'] as const) {
    mem[key] = guard(`memory.${key}`, (memory[key] as (...args: never[]) => unknown).bind(memory))
  }
  out.memory = mem
  const getAdapter = out.IoGetDmaAdapter as NdisApi['IoGetDmaAdapter']
  out.IoGetDmaAdapter = (pdo: object, description: Parameters<NdisApi['IoGetDmaAdapter']>[1]) => {
    const r = getAdapter(pdo, description)
    const adapter: DMA_ADAPTER | null = r.dmaAdapter
    if (adapter !== null && !seen.has(adapter)) {
      seen.add(adapter)
      const ops = adapter.DmaOperations as unknown as Record<string, (...args: never[]) => unknown>
      for (const key of Object.keys(ops)) ops[key] = guard(`DmaOperations.${key}`, ops[key]!)
    }
    return r
  }
  return out as unknown as NdisApi
}

interface Outcome {
  readonly calls: number
  readonly report: string
}

function runOnce(p: ShimProgram): Outcome {
  const c = p.config
  const m = createMachine({
    memory: { size: c.memory, policy: c.policy, fragmentation: c.fragmentation },
    iommu: c.iommu,
    verifier: { mode: c.mode, specialPool: c.specialPool, dmaGuard: c.dmaGuard },
    ...(c.faults === null ? {} : { faults: c.faults }),
    wire: 'loopback',
    maxEvents: 2_000_000,
    seed: 7,
  })
  const escapes: string[] = []
  const driver = new FuzzDriver()
  const queues = new Map<Where, PlacedCall[]>()
  for (const placed of p.calls) {
    let q = queues.get(placed.where)
    if (q === undefined) queues.set(placed.where, (q = []))
    q.push(placed)
  }
  const make = (where: Where, a: TestAdapter, all = false): void => {
    const q = queues.get(where)
    for (let n = 0; q !== undefined && q.length > 0 && (all || n < PER_HANDLER); n++) {
      const call = q.shift()!.call
      const started = performance.now()
      try {
        driver.run(a, call)
      } finally {
        // Reported after the host step: thrown here, driver code would be unwound instead.
        const ms = performance.now() - started
        if (ms > SLOW_CALL_MS) escapes.push(`${JSON.stringify(call)} took ${(ms / 1000).toFixed(1)} s: unbounded work in a shim`)
      }
    }
  }
  /** A handler returns what the driver's last `return-garbage` oddity chose, once. */
  const takeGarbage = (): unknown => {
    const g = driver.garbage
    driver.garbage = undefined
    return g
  }
  const hooks: TestMiniportHooks = {
    initialize: (a) => make('init', a, true),
    send: (a) => make('send', a),
    processSGList: (a) => make('sg', a),
    isr: (a) => {
      make('isr', a)
      if (driver.garbage !== undefined) return takeGarbage() as { interruptRecognized: boolean; queueDefaultInterruptDpc: boolean }
      const icr = readReg(a, REG.ICR)
      if (icr === 0) return { interruptRecognized: false, queueDefaultInterruptDpc: false }
      a.pendingIcr |= icr
      writeReg(a, REG.IMC, 0xffff_ffff)
      return { interruptRecognized: true, queueDefaultInterruptDpc: true }
    },
    dpc: (a) => make('dpc', a),
    oid: (a) => {
      make('oid', a)
      return driver.garbage === undefined ? undefined : (takeGarbage() as number)
    },
    pause: (a) => {
      make('pause', a)
      return driver.garbage === undefined ? undefined : (takeGarbage() as number)
    },
    halt: (a) => make('halt', a, true),
    sharedMemoryComplete: (a, va, logical, length) => {
      if (va !== 0) a.asyncShared.push({ va, logical, length })
      make('shared', a)
    },
  }
  const inner = testMiniport({ dma64: c.dma64, txDescriptors: 16, rxDescriptors: 32, hooks })
  const module: MiniportModule = { default: (ndis: never, registry?: string) => inner.default(watched(ndis as NdisApi, escapes) as never, registry) }
  const time = new TimeWatch()
  const doorbells = watchDoorbells(m)
  const step = (what: string, fn: () => void): void => {
    hostCall(m, what, fn)
    checkStep(m, what, escapes, time)
    doorbells(what)
  }
  // A driver that spins is ended by the handler watchdog; 50 ms of virtual time keeps runs short.
  m.kernel.cpuTime.limitNs = 50_000_000
  step('m.load', () => void m.load(module, 'fuzz-miniport'))
  p.steps.forEach((s, i) => {
    const what = `step ${i} ${JSON.stringify(s)}`
    if (m.ndis?.miniport.state !== 'running') return
    if (s.step === 'send') step(what, () => m.traffic.send({ count: s.count, size: s.size }))
    else if (s.step === 'receive') step(what, () => m.traffic.receive({ count: s.count, size: s.size }))
    else step(what, () => void m.run({ ns: s.ns }))
  })
  step('m.halt', () => m.halt())
  checkUnload(m)
  checkReportAccounting(m, 'the halt')
  let report = ''
  hostCall(m, 'm.report', () => {
    report = JSON.stringify(m.report())
  })
  return { calls: driver.calls, report }
}

function checkStep(m: Machine, what: string, escapes: string[], time: TimeWatch): void {
  if (escapes.length > 0) violated(`a shim misbehaved in driver code during ${what}: ${escapes[0]}`)
  const k = m.kernel
  if (k.irql !== PASSIVE_LEVEL) violated(`the IRQL is ${k.irql} after ${what}, with control back at the host`)
  if (k.log.stopped && m.config.verifier.mode === 'log' && k.log.stoppedBy?.severity !== 'fatal') {
    violated(`in log mode the machine stopped on a ${k.log.stoppedBy?.severity} ${k.log.stoppedBy?.kind} finding during ${what}`)
  }
  time.check(m, what)
  checkHostMemory(m, what)
  checkFrameAccounting(m, what)
  checkInterruptLine(m, what)
}

/** After the halt: unloaded, and everything the driver still holds reported as a leak. */
function checkUnload(m: Machine): void {
  const k = m.kernel
  if (k.log.stopped) return
  const state = m.ndis?.miniport.state
  if (state !== 'unloaded' && state !== 'init-failed') violated(`after m.halt the miniport is ${state}, not unloaded, and the machine did not stop`)
  const count = (kind: FindingKind): number => k.log.counts.get(kind) ?? 0
  const pool = [...k.pool.liveBlocks].filter((b) => b.driver).length
  if (count('pool-leak') < pool) violated(`the driver unloaded holding ${pool} pool blocks but ${count('pool-leak')} pool-leak findings were reported`)
  const other = [...k.contiguous.allocations, ...k.mdlPages.allocations, ...k.mappingAddresses.reservations].filter((x) => x.driver).length
  if (count('memory-leak') < other) violated(`the driver unloaded holding ${other} contiguous, noncached, MDL-page or mapping-address allocations but ${count('memory-leak')} memory-leak findings were reported`)
  const common = m.hal.adapters.reduce((n, a) => n + a.commonBuffers.size, 0)
  if (count('common-buffer-leak') < common) violated(`the driver unloaded holding ${common} common buffers but ${count('common-buffer-leak')} common-buffer-leak findings were reported`)
  const sgls = m.hal.adapters.reduce((n, a) => n + a.sgLists.size, 0)
  if (count('sg-list-leak') < sgls) violated(`the driver unloaded holding ${sgls} S/G lists but ${count('sg-list-leak')} sg-list-leak findings were reported`)
}

/** Runs the program (twice when its config says so); returns the driver calls it made. */
export function runShimProgram(p: ShimProgram): number {
  const first = runOnce(p)
  if (p.config.twice) {
    const second = runOnce(p)
    if (second.report !== first.report) {
      let i = 0
      while (i < first.report.length && first.report[i] === second.report[i]) i++
      violated(`the same program gave two different reports; they part at …${first.report.slice(Math.max(0, i - 80), i + 80)}… vs …${second.report.slice(Math.max(0, i - 80), i + 80)}…`)
    }
  }
  return first.calls
}
