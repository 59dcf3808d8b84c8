// The worker thread every command-line run executes in (run, check, both sweep phases): its own
// V8 isolate, so driver code cannot reach the host's process, timers, prototypes or JSON, and a
// thread the run pool (run-pool.ts) can stop when driver code never calls back.
//
// Before any driver module is imported the worker takes away what driver code could use to end
// or outlive the run: process.exit/abort/kill throw into the driver (a driver cannot end the
// system it runs in: driver-exception, 0x7E); timers, immediates, ticks and promises the driver
// creates while it runs are `async-driver-code` findings, and its timers are cancelled; the
// built-ins dmalab's own code uses are made unchangeable (intrinsics.ts), and a name a driver
// added to one of them is a finding when the run ends. The pool ends the worker after the run.
import { writeSync } from 'node:fs'
import { MessagePort, workerData } from 'node:worker_threads'
import type { Machine } from './machine.js'
import { enumerateCalls, loadMiniport, runForSweep, runScenario, summarize, type LoadableMiniport } from './scenario.js'
import { DISPATCH_LEVEL, irqlName } from './kernel/irql.js'
import { BUGCHECK } from './kernel/bugcheck.js'
import { CLOCK_TICK_NS, DPC_TIME_LIMIT_TICKS } from './kernel/cpu-time.js'
import { driverFrames, driverStack, siteHere } from './kernel/sites.js'
import type { PcapWriter } from './hw/pcap.js'
import { attachRecorder, type Recorder } from './report/recorder.js'
import { importBuiltCDriver } from './driver/c/load.js'
import { guardIntrinsics, guardOwnModules } from './intrinsics.js'
import { emulatorError, type HungMessage, type RunReply, type RunResult, type RunTask } from './run-protocol.js'

/** [0] the machine's progress counter, [1] 1 while a task runs (the pool's watchdog reads both). */
const heartbeat = new Float64Array(workerData.heartbeat as SharedArrayBuffer)
const progress = new Float64Array(workerData.heartbeat as SharedArrayBuffer, 0, 1)
/**
 * The pool's private channel to this worker. Driver code can import node:worker_threads too: it
 * must reach neither the progress counter (written, a loop would look busy forever) nor the
 * channel (a forged result), so both leave workerData. parentPort is not used at all.
 */
const pool = workerData.port as MessagePort
delete (workerData as { heartbeat?: unknown }).heartbeat
delete (workerData as { port?: unknown }).port
/** The port's own postMessage, taken before a driver could replace it. */
const postMessage = MessagePort.prototype.postMessage

interface Current {
  readonly id: number
  readonly task: RunTask
  machine: Machine | null
  /** The --html picture being recorded, when the task asked for one. */
  recorder: Recorder | null
}
let current: Current | null = null
/** True while the synchronous run executes: anything async created then is the driver's. */
let executing = false

// ---- what driver code must not do -------------------------------------------------------------

class DriverEndedSystem extends Error {
  constructor(what: string) {
    super(`${what} called by driver code: a driver cannot end the system it runs in`)
    this.name = 'Error'
  }
}
process.exit = ((code?: number) => {
  throw new DriverEndedSystem(`process.exit(${typeof code === 'number' ? code : ''})`)
}) as typeof process.exit
process.abort = (() => {
  throw new DriverEndedSystem('process.abort()')
}) as typeof process.abort
process.kill = (() => {
  throw new DriverEndedSystem('process.kill()')
}) as typeof process.kill
// What process.exit and process.kill call underneath, within a driver's reach too.
Object.assign(process, {
  reallyExit: () => {
    throw new DriverEndedSystem('process.reallyExit()')
  },
  _kill: () => {
    throw new DriverEndedSystem('process._kill()')
  },
})

/** What driver code scheduled while it ran, reported once per kind. */
const seenAsync = new Set<string>()
let asyncFindings = 0

/**
 * Driver code scheduled something to run later: an `async-driver-code` finding (once per kind),
 * and it is not scheduled. (async_hooks would see promises too, but a hook enabled while the
 * pool terminates a hung execution aborts Node; an async handler's Promise is reported where it
 * is returned, and a rejection left behind below.)
 */
function driverAsync(what: string): void {
  const m = current?.machine
  if (m === null || m === undefined) return
  asyncFindings++
  if (seenAsync.has(what)) return
  seenAsync.add(what)
  const site = siteHere()
  m.kernel.log.report({
    kind: 'async-driver-code',
    message: `driver code ${what} in ${m.caller.current ?? 'a handler'}: it would run after the handler returned, outside any IRQL or lock NDIS holds for it; dmalab does not run it (a Windows driver defers work with NdisSetTimerObject or NdisQueueIoWorkItem)`,
    ...(site === undefined ? {} : { site }),
    details: { handler: m.caller.current ?? null, scheduled: what },
  })
}

const hostTimers = { setTimeout, setInterval, setImmediate, queueMicrotask, nextTick: process.nextTick.bind(process) }
/** A stand-in for a timer that was never armed (clearTimeout and unref accept it). */
const inert = { ref: () => inert, unref: () => inert, hasRef: () => false, refresh: () => inert, [Symbol.toPrimitive]: () => 0 }
globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => (executing ? (driverAsync('set a timer (setTimeout)'), inert) : hostTimers.setTimeout(...args))) as typeof setTimeout
globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => (executing ? (driverAsync('set a timer (setInterval)'), inert) : hostTimers.setInterval(...args))) as typeof setInterval
globalThis.setImmediate = ((...args: Parameters<typeof setImmediate>) => (executing ? (driverAsync('queued a setImmediate callback'), inert) : hostTimers.setImmediate(...args))) as typeof setImmediate
globalThis.queueMicrotask = ((cb: () => void) => (executing ? driverAsync('queued a microtask (queueMicrotask)') : hostTimers.queueMicrotask(cb))) as typeof queueMicrotask
process.nextTick = ((...args: Parameters<typeof process.nextTick>) => (executing ? driverAsync('queued a process.nextTick callback') : hostTimers.nextTick(...args))) as typeof process.nextTick
process.on('unhandledRejection', () => {
  if (current !== null) driverAsync('left a Promise rejected with no handler')
})
// None of these may be put back, nor what dmalab reads from process (the working directory its
// sites are relative to, the clock).
for (const name of ['exit', 'abort', 'kill', 'reallyExit', '_kill', 'cwd', 'hrtime', 'cpuUsage', 'memoryUsage', 'nextTick']) {
  if (Object.prototype.hasOwnProperty.call(process, name)) Object.defineProperty(process, name, { writable: false, configurable: false })
}

/** The built-ins made unchangeable before any driver code runs (intrinsics.ts). */
const intrinsics = guardIntrinsics()
await guardOwnModules(new URL('./', import.meta.url), import.meta.url.endsWith('.ts') ? '.ts' : '.js')

// ---- running tasks ------------------------------------------------------------------------------

const modules = new Map<string, Promise<LoadableMiniport>>()

/** The task's miniport: imported here (its top-level code runs watched), or a C driver's build compiled. */
function load(task: RunTask): Promise<LoadableMiniport> {
  if (task.wasm === undefined) return loadMiniport(task.file)
  return importBuiltCDriver(task.file, task.wasm, task.name).then((module) => ({ module, name: task.name, file: task.file }))
}

function post(reply: RunReply | { readonly ready: true }): void {
  Reflect.apply(postMessage, pool, [reply])
}

function execute(task: RunTask, miniport: LoadableMiniport, c: Current): RunResult {
  const mp = { ...miniport, name: task.name }
  const onMachine = (m: Machine): void => {
    c.machine = m
    m.clock.progress = progress
  }
  switch (task.kind) {
    case 'summary':
      return { kind: 'summary', summary: runForSweep(mp, task.config, task.scenario, { onMachine }) }
    case 'enumerate': {
      const { machine, report } = runScenario(mp, task.config, task.scenario, {
        onMachine: (m) => {
          onMachine(m)
          enumerateCalls(m, task.stacks)
        },
      })
      return { kind: 'enumerate', outcome: report.outcome, calls: machine.kernel.calls.injector.enumerated ?? [], config: machine.config }
    }
    case 'report': {
      let pcap: PcapWriter | undefined
      const fd = task.pcapFd
      const { report } = runScenario(mp, task.config, task.scenario, {
        onMachine: (m) => {
          onMachine(m)
          if (fd !== undefined) pcap = m.wire.capturePcap(undefined, (bytes) => writeAll(fd, bytes))
          if (task.picture === true) c.recorder = attachRecorder(m)
        },
      })
      pcap?.flush()
      return { kind: 'report', report: c.recorder?.finish(report) ?? report }
    }
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done)
}

async function handle(id: number, task: RunTask): Promise<void> {
  const c: Current = { id, task, machine: null, recorder: null }
  current = c
  heartbeat[1] = 1
  let loading = modules.get(task.file)
  const importing = loading === undefined
  if (loading === undefined) modules.set(task.file, (loading = load(task)))
  let miniport: LoadableMiniport
  try {
    miniport = await loading
  } catch (error) {
    heartbeat[1] = 0
    current = null
    post({ id, loadError: error instanceof Error ? error.message : String(error), ...(intrinsics.added().length > 0 ? { retire: true } : {}) })
    return
  }
  if (importing) intrinsics.settle()
  let result: RunResult
  executing = true
  try {
    result = execute(task, miniport, c)
  } catch (error) {
    result = { kind: 'summary', summary: emulatorError(error) }
  } finally {
    executing = false
  }
  // Microtasks the driver left (an async handler's continuation) run now, while the run can
  // still report them; a rejection among them is a finding. Then the result, rebuilt if so.
  const before = asyncFindings
  await new Promise((resolve) => hostTimers.setImmediate(resolve))
  const tamper = current === c && c.machine !== null ? tampered(c.machine) : 'none'
  if ((asyncFindings !== before || tamper !== 'none') && c.machine !== null && current === c) {
    try {
      result = resultOf(task, c.machine, c.recorder)
    } catch (error) {
      result = { kind: 'summary', summary: emulatorError(error) }
    }
  }
  if (current !== c) return
  heartbeat[1] = 0
  current = null
  post({ id, result, ...(tamper === 'stuck' ? { retire: true } : {}) })
}

/**
 * Names driver code added to a locked built-in (Object.prototype.x, Array.prototype[0]), when
 * it was imported or during this run: a `host-tampering` finding on the run's machine, and the
 * built-ins put back as the import left them, so every run of a sweep meets the same built-ins
 * whichever worker it lands on. `none` when nothing was added; `stuck` when they could not be
 * put back: the pool does not reuse the worker then.
 */
function tampered(m: Machine): 'none' | 'restored' | 'stuck' {
  const added = intrinsics.added()
  if (added.length === 0) return 'none'
  const restored = intrinsics.restore()
  try {
    m.kernel.log.fatal({
      kind: 'host-tampering',
      code: BUGCHECK.CRITICAL_STRUCTURE_CORRUPTION,
      params: [0, 0, 0, 0],
      message: `driver code added ${added.length === 1 ? 'a name' : `${added.length} names`} to JavaScript built-ins dmalab itself runs on (${added.slice(0, 8).join(', ')}${added.length > 8 ? ', ...' : ''}): what they answer could change what dmalab computes for the report. A driver may not modify code or data it does not own; Windows' kernel patch protection stops the machine with bug check 0x109 when it finds that`,
      details: { added: added.slice(0, 64).join(' ') },
    })
  } catch {
    // fatal() throws the BugCheck for driver code to unwind; the driver's code has returned.
  }
  return restored ? 'restored' : 'stuck'
}

/**
 * The pool stopped driver code that never called back (it terminated the execution, so the run
 * above never finished): the hang finding, with the driver line the stack was paused at, and
 * the result of the run as far as it got.
 */
function hung(msg: HungMessage): void {
  const c = current
  if (c === null || c.id !== msg.id) return
  executing = false
  heartbeat[1] = 0
  current = null
  const m = c.machine
  if (m === null) {
    post({ id: msg.id, loadError: `its top-level code did not finish within ${msg.seconds} s${siteOf(msg.stack)}` })
    return
  }
  const k = m.kernel
  const handler = m.caller.current ?? 'driver code'
  const irql = k.irql
  // The driver's frames where it was paused (gone once the execution is terminated, so taken
  // from the paused stack, not from the stack the finding is reported on).
  const stack = driverStack(msg.stack)
  const top = stack[0]
  const site = top === undefined ? undefined : `${top.file}:${top.line}`
  const where = site === undefined ? '' : ` (at ${site})`
  const atDispatch = irql >= DISPATCH_LEVEL && m.caller.current !== null
  try {
    k.log.fatal({
      kind: 'hang',
      ...(atDispatch ? { code: BUGCHECK.DPC_WATCHDOG_VIOLATION, params: [0, Math.round((msg.seconds * 1e9) / CLOCK_TICK_NS), DPC_TIME_LIMIT_TICKS, 0] as const } : {}),
      message: `${handler} did not return within ${msg.seconds} s of host time at ${irqlName(irql)}${where}: it never called back into the system (an endless loop), so dmalab stopped it (--driver-timeout)`,
      ...(site === undefined ? {} : { site, stack }),
      details: { handler, irql, hostSeconds: msg.seconds },
    })
  } catch {
    // fatal() throws the BugCheck for driver code to unwind; here nothing is left to unwind.
  }
  tampered(m) // the pool does not reuse a worker whose driver was stopped
  let result: RunResult
  try {
    result = resultOf(c.task, m, c.recorder)
  } catch (error) {
    result = { kind: 'summary', summary: emulatorError(error) }
  }
  post({ id: msg.id, result })
}

function resultOf(task: RunTask, m: Machine, recorder: Recorder | null): RunResult {
  const report = recorder?.finish() ?? m.report()
  switch (task.kind) {
    case 'summary':
      return { kind: 'summary', summary: summarize(report) }
    case 'enumerate':
      return { kind: 'enumerate', outcome: report.outcome, calls: m.kernel.calls.injector.enumerated ?? [], config: m.config }
    case 'report':
      return { kind: 'report', report }
  }
}

function siteOf(stack: string): string {
  const site = driverFrames(stack)[0]
  return site === undefined ? '' : ` (it was at ${site})`
}

pool.on('message', (msg: { id: number; task: RunTask } | HungMessage) => {
  if ('hung' in msg) hung(msg)
  else void handle(msg.id, msg.task)
})
// From here on a task the pool posts is taken up at once: a worker that stays idle with one
// pending has stopped answering, and the pool says so.
post({ ready: true })
