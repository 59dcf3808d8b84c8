// Worker threads that runs execute in (run-worker.ts), and the wall-clock watchdog over them.
//
// Driver code that loops without ever calling back into the system cannot be stopped from
// inside: the virtual-time watchdog (kernel/cpu-time.ts) only sees code that spends time. So
// every run executes on a worker whose machine publishes a progress counter (every event, every
// stretch of CPU time) into shared memory; when a running task's counter has not moved for the
// driver timeout, the pool pauses the worker through the inspector protocol (node:inspector,
// NodeWorker domain), takes the stack it is stuck at, terminates that JavaScript execution
// (Runtime.terminateExecution: the worker and its machine stay, the driver's loop is gone), and
// asks the worker for the run's result with a `hang` finding at that driver line.
import inspector from 'node:inspector'
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads'
import { MiniportLoadError } from './driver/loader.js'
import type { HungMessage, RunReply, RunResult, RunTask } from './run-protocol.js'

/** How long a run may go without progress before its driver code is stopped (--driver-timeout). */
export const DEFAULT_DRIVER_TIMEOUT_MS = 10_000
/** How often the watchdog looks. */
const WATCH_MS = 100
/**
 * The least time a started worker may leave a posted task untaken, or a finished one unsent,
 * before the pool gives it up: a main thread busy for a moment (collecting garbage, printing)
 * must not make a short --driver-timeout misread a reply on its way as silence.
 */
const QUIET_MIN_MS = 5_000
/** How long the inspector and the worker get to answer once a hang is found. */
const ANSWER_MS = 5_000

const ownFile = new URL(import.meta.url)
const fromSource = ownFile.pathname.endsWith('.ts')
const WORKER_URL = new URL(fromSource ? './run-worker.ts' : './run-worker.js', ownFile)

/**
 * A worker for this module: compiled JavaScript starts directly; from a checkout the worker
 * first registers tsx's loader and then imports the TypeScript entry (Node 20 does not apply
 * `--import` loaders to a worker's own entry module).
 */
function startWorker(heartbeat: SharedArrayBuffer, port: MessagePort): Worker {
  const options = { workerData: { heartbeat, port }, transferList: [port], stdout: true, stderr: true }
  if (!fromSource) return new Worker(WORKER_URL, options)
  const tsx = import.meta.resolve('tsx/esm/api')
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(WORKER_URL.href)}) })`
  return new Worker(boot, { ...options, eval: true })
}

/**
 * The worker a run executed in ended, or stopped answering, before the run did: driver code
 * ended its thread, or the thread stopped answering. There is no result to report.
 */
export class WorkerLost extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'WorkerLost'
  }
}

interface Slot {
  readonly worker: Worker
  /**
   * The pool's end of the worker's own channel. Tasks and results go through it, never through
   * the worker's parentPort, which driver code in the worker can reach (and post forged results on).
   */
  readonly port: MessagePort
  readonly beat: Float64Array
  /** The worker has said it takes tasks (it has installed its message handler). */
  ready: boolean
  /** When the watchdog first saw the worker idle with a task pending (0: not seen so). */
  quietSince: number
  /** The output streams have ended (the worker is gone). */
  readonly drained: Promise<void>
  task: Pending | null
  lastProgress: number
  stalledSince: number
}

interface Pending {
  readonly id: number
  readonly task: RunTask
  readonly resolve: (r: RunResult) => void
  readonly reject: (e: Error) => void
  hung: boolean
}

export interface RunPoolOptions {
  /** Wall-clock bound on a run that makes no progress (default DEFAULT_DRIVER_TIMEOUT_MS). */
  readonly timeoutMs?: number
}

export class RunPool {
  readonly size: number
  readonly timeoutMs: number
  private readonly slots = new Set<Slot>()
  private readonly idle: Slot[] = []
  private readonly waiting: Array<(s: Slot) => void> = []
  private watch: NodeJS.Timeout | null = null
  private nextId = 0
  private closed = false

  constructor(size: number, options: RunPoolOptions = {}) {
    this.size = size
    this.timeoutMs = options.timeoutMs ?? DEFAULT_DRIVER_TIMEOUT_MS
    workerInspector.start()
    for (let i = 0; i < size; i++) this.idle.push(this.spawn())
  }

  private spawn(): Slot {
    const sab = new SharedArrayBuffer(16)
    const { port1, port2 } = new MessageChannel()
    const worker = startWorker(sab, port2)
    // What driver code prints goes to stderr: stdout carries the report, and nothing after it.
    const ended = (stream: NodeJS.ReadableStream | null): Promise<void> => new Promise((resolve) => {
      if (stream === null) return resolve()
      stream.on('end', resolve)
      stream.on('close', resolve)
    })
    worker.stdout.pipe(process.stderr, { end: false })
    worker.stderr.pipe(process.stderr, { end: false })
    const slot: Slot = { worker, port: port1, beat: new Float64Array(sab), drained: Promise.all([ended(worker.stdout), ended(worker.stderr)]).then(() => undefined), task: null, lastProgress: -1, stalledSince: 0, ready: false, quietSince: 0 }
    this.slots.add(slot)
    port1.on('message', (msg: RunReply) => this.reply(slot, msg))
    port1.unref()
    worker.on('error', (err) => this.failed(slot, err))
    worker.on('exit', (code) => {
      this.slots.delete(slot)
      slot.port.close()
      // Before it was ready no driver code had run in it: dmalab's own failure.
      if (slot.task !== null) this.failed(slot, slot.ready ? new WorkerLost(`driver code ended the worker thread its run executed in (exit code ${code}) before the run finished, so there is no report; a driver cannot end the system it runs in`) : new Error(`the run's worker exited with code ${code} while starting`))
    })
    return slot
  }

  /** Runs one task; rejects with a MiniportLoadError when the worker cannot import the miniport. */
  run(task: RunTask): Promise<RunResult> {
    if (this.closed) return Promise.reject(new Error('the run pool is closed'))
    return new Promise((resolve, reject) => {
      const start = (slot: Slot): void => {
        slot.task = { id: this.nextId++, task, resolve, reject, hung: false }
        slot.lastProgress = -1
        slot.stalledSince = Date.now()
        slot.quietSince = 0
        slot.port.postMessage({ id: slot.task.id, task })
        this.watchOn()
      }
      const slot = this.idle.pop()
      if (slot !== undefined) start(slot)
      else this.waiting.push(start)
    })
  }

  private reply(slot: Slot, msg: RunReply): void {
    if ('ready' in msg) {
      slot.ready = true
      return
    }
    const p = slot.task
    if (p === null || p.id !== msg.id) return
    slot.task = null
    if ('loadError' in msg) p.reject(new MiniportLoadError(p.task.file, msg.loadError))
    else p.resolve(msg.result)
    // A worker whose driver code was stopped mid-run is not reused: its modules' state is the
    // driver's last word. Nor is one whose built-ins the driver changed (run-worker.ts).
    this.release(slot, p.hung || msg.retire === true)
  }

  private failed(slot: Slot, error: Error): void {
    const p = slot.task
    if (p === null) return
    slot.task = null
    p.reject(error)
    this.release(slot, true)
  }

  private release(slot: Slot, dead: boolean): void {
    if (dead) {
      this.slots.delete(slot)
      void slot.worker.terminate()
    }
    if (this.closed) return
    const next = dead ? this.spawn() : slot
    const waiter = this.waiting.shift()
    if (waiter !== undefined) waiter(next)
    else this.idle.push(next)
    if (![...this.slots].some((s) => s.task !== null)) this.watchOff()
  }

  // ---- the watchdog ----------------------------------------------------------------------------

  private watchOn(): void {
    if (this.watch === null) this.watch = setInterval(() => this.check(), WATCH_MS)
  }

  private watchOff(): void {
    if (this.watch !== null) clearInterval(this.watch)
    this.watch = null
  }

  private check(): void {
    const now = Date.now()
    for (const slot of this.slots) {
      const p = slot.task
      if (p === null || p.hung) continue
      const progress = slot.beat[0]!
      const running = slot.beat[1] === 1
      // Not running (still starting, or posting its result), or it moved: no hang.
      if (!running || progress !== slot.lastProgress) {
        slot.lastProgress = progress
        slot.stalledSince = now
      }
      if (!running) {
        // A started worker takes a task up at once and posts as soon as it is done; one that
        // stays idle with a task pending has stopped answering.
        if (slot.ready) this.quiet(slot, now)
        continue
      }
      slot.quietSince = 0
      if (now - slot.stalledSince >= this.timeoutMs) void this.stop(slot, p)
    }
  }

  /** A started worker idle with a task pending: given up once that has lasted the quiet bound. */
  private quiet(slot: Slot, now: number): void {
    const bound = Math.max(this.timeoutMs, QUIET_MIN_MS)
    if (slot.quietSince === 0) slot.quietSince = now
    else if (now - slot.quietSince >= bound) this.failed(slot, new WorkerLost(`the worker thread of the run stopped answering for ${bound / 1000} s with the run not taken up or its result not sent, so there is no report (the thread is blocked or broken)`))
  }

  /** Stops the driver code a task is stuck in and asks the worker for the result with a hang. */
  private async stop(slot: Slot, p: Pending): Promise<void> {
    p.hung = true
    const stack = await workerInspector.stopExecution(slot.worker.threadId)
    if (slot.task !== p) return
    const msg: HungMessage = { hung: true, id: p.id, stack: stack ?? '', seconds: this.timeoutMs / 1000 }
    if (stack === null) {
      // No inspector to stop it with: the worker itself has to go, and the run with it.
      this.failed(slot, new Error(`the run made no progress for ${msg.seconds} s (driver code that never returns) and could not be stopped to report it`))
      return
    }
    slot.port.postMessage(msg)
    setTimeout(() => {
      if (slot.task === p) this.failed(slot, new Error(`the run made no progress for ${msg.seconds} s and its worker did not answer once stopped`))
    }, ANSWER_MS).unref()
  }

  /** Ends every worker; resolves once their output has been written out. */
  async close(): Promise<void> {
    this.closed = true
    this.watchOff()
    const slots = [...this.slots]
    await Promise.all(slots.map((s) => s.worker.terminate()))
    await Promise.race([Promise.all(slots.map((s) => s.drained)), new Promise((r) => setTimeout(r, 1000).unref())])
  }
}

/**
 * The inspector session that can stop a worker's JavaScript: connected once per process, it
 * attaches to every worker thread (NodeWorker.enable) without pausing them.
 */
class WorkerInspector {
  private session: inspector.Session | null = null
  private readonly sessions = new Map<number, string>()
  private readonly waiters = new Map<string, (msg: { result?: unknown; params?: unknown }) => void>()
  private nextId = 1

  start(): void {
    if (this.session !== null) return
    try {
      const session = new inspector.Session()
      session.connect()
      session.on('NodeWorker.attachedToWorker', (m: { params: { sessionId: string; workerInfo: { workerId: string } } }) => {
        this.sessions.set(Number(m.params.workerInfo.workerId), m.params.sessionId)
      })
      session.on('NodeWorker.detachedFromWorker', (m: { params: { sessionId: string } }) => {
        for (const [k, v] of this.sessions) if (v === m.params.sessionId) this.sessions.delete(k)
      })
      session.on('NodeWorker.receivedMessageFromWorker', (m: { params: { sessionId: string; message: string } }) => {
        const msg = JSON.parse(m.params.message) as { id?: number; method?: string; result?: unknown; params?: unknown }
        const key = msg.id !== undefined ? `${m.params.sessionId}:${msg.id}` : `${m.params.sessionId}:${msg.method}`
        const waiter = this.waiters.get(key)
        if (waiter !== undefined) {
          this.waiters.delete(key)
          waiter(msg)
        }
      })
      session.post('NodeWorker.enable', { waitForDebuggerOnStart: false })
      this.session = session
    } catch {
      this.session = null
    }
  }

  private send(sessionId: string, method: string, params: object = {}): Promise<{ result?: unknown }> {
    const id = this.nextId++
    const answer = this.waitFor(`${sessionId}:${id}`)
    this.session!.post('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id, method, params }) })
    return answer
  }

  private waitFor(key: string): Promise<{ result?: unknown; params?: unknown }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key)
        reject(new Error(`no answer to ${key}`))
      }, ANSWER_MS)
      timer.unref()
      this.waiters.set(key, (msg) => {
        clearTimeout(timer)
        resolve(msg)
      })
    })
  }

  /**
   * Pauses the worker's JavaScript, takes the stack (evaluated in the paused frame, so it is
   * source-mapped like any other), and terminates the running execution. Null when it cannot.
   */
  async stopExecution(threadId: number): Promise<string | null> {
    const sid = this.sessions.get(threadId)
    if (this.session === null || sid === undefined) return null
    try {
      await this.send(sid, 'Debugger.enable')
      const paused = this.waitFor(`${sid}:Debugger.paused`)
      void this.send(sid, 'Debugger.pause')
      const event = (await paused) as { params?: { callFrames?: Array<{ callFrameId: string }> } }
      let stack = ''
      const frame = event.params?.callFrames?.[0]
      if (frame !== undefined) {
        const r = (await this.send(sid, 'Debugger.evaluateOnCallFrame', { callFrameId: frame.callFrameId, expression: 'new Error().stack', silent: true })) as { result?: { result?: { value?: unknown } } }
        const value = r.result?.result?.value
        if (typeof value === 'string') stack = value
      }
      const terminated = this.send(sid, 'Runtime.terminateExecution')
      await this.send(sid, 'Debugger.resume')
      await terminated
      void this.send(sid, 'Debugger.disable').catch(() => undefined)
      return stack
    } catch {
      return null
    }
  }
}

const workerInspector = new WorkerInspector()
