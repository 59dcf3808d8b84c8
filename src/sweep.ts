// Systematic fault injection (DESIGN "Fault injection"): run the scenario clean to enumerate
// every allocation call, then once per call with exactly that call failed (`routine=X,nth=N`),
// and classify each run. In stack mode, one run per unique driver call stack, as Driver
// Verifier's systematic low-resources simulation does. Runs spread over worker threads and
// come back in call order whatever order they finish in.
import os from 'node:os'
import { Worker } from 'node:worker_threads'
import type { MachineConfig } from './config.js'
import { classify, planSweep, runOrdered, summarize as summarizeRuns, type PlannedRun, type ScenarioSummary, type SweepMode, type SweepRun, type SweepSummary } from './faults/sweep.js'
import type { EnumeratedCall } from './faults/injector.js'
import { isFindingKind, isLeakKind } from './kernel/kinds.js'
import { enumerateCalls, runForSweep, runScenario, type LoadableMiniport, type ScenarioOptions } from './scenario.js'
import type { ResolvedConfig } from './config.js'
import { planDigest, shardPositions, type Shard } from './faults/shard.js'
import { MiniportLoadError } from './driver/loader.js'

export interface SweepOptions {
  readonly config: MachineConfig
  readonly scenario: ScenarioOptions
  readonly mode?: SweepMode
  /** Worker threads (default: the machine's cores); 1 runs in this thread unless `inWorkers`. */
  readonly jobs?: number
  /** Run even a single job on a worker thread (benchmarks compare like with like). */
  readonly inWorkers?: boolean
  /** Workers to use (and leave running), e.g. warmed up by an earlier sweep; else made and closed here. */
  readonly pool?: SweepPool
  /** Wall-clock limit per run in a worker, for driver code that never returns (default 60 s). */
  readonly runTimeoutMs?: number
  readonly onProgress?: (done: number, total: number) => void
  /** Run only this slice of the planned runs (a CI matrix job); the plan is the same everywhere. */
  readonly shard?: Shard
}

/** Which slice of which plan a sharded sweep ran: what a merge checks and reassembles. */
export interface ShardInfo extends Shard {
  /** Runs in the whole plan. */
  readonly planned: number
  /** Each run's position in the whole plan (parallel to `runs`). */
  readonly positions: number[]
  readonly digest: string
}

export interface SweepResult {
  readonly miniport: string
  readonly mode: SweepMode
  /** Allocation calls the clean run made. */
  readonly calls: number
  readonly runs: SweepRun[]
  readonly summary: SweepSummary
  /** The clean run's outcome: a sweep of a driver that is not clean to begin with says so. */
  readonly baseline: ScenarioSummary['outcome']
  /** The machine every run started from (before its one injected failure), and the scenario. */
  readonly config: ResolvedConfig
  readonly scenario: ScenarioOptions
  /** Present when only a shard of the plan ran. */
  readonly shard?: ShardInfo
}

/** Whether a finding kind (as a sweep run reports it) names something the driver kept past unload. */
export const isLeak = (kind: string): boolean => isFindingKind(kind) && isLeakKind(kind)

export const defaultJobs = (): number => Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length)

/** The config every sweep run uses: log mode (a run reports, never throws), the given faults kept. */
function sweepConfig(config: MachineConfig, spec?: string): MachineConfig {
  const base = typeof config.faults === 'string' ? [config.faults] : (config.faults ?? [])
  return { ...config, verifier: { ...config.verifier, mode: 'log' }, faults: spec === undefined ? base : [...base, spec] }
}

export async function sweep(miniport: LoadableMiniport, options: SweepOptions): Promise<SweepResult> {
  const mode = options.mode ?? 'call'
  let calls: EnumeratedCall[] = []
  const clean = runScenario(miniport, sweepConfig(options.config), options.scenario, {
    onMachine: (m) => {
      enumerateCalls(m, mode === 'stack')
      calls = m.kernel.calls.injector.enumerated!
    },
  })
  const planned = planSweep(calls, mode)
  const positions = options.shard === undefined ? undefined : shardPositions(planned.length, options.shard)
  const plan = positions === undefined ? planned : positions.map((k) => planned[k]!)
  const jobs = Math.max(1, Math.min(options.jobs ?? defaultJobs(), plan.length || 1))
  const progress = options.onProgress === undefined ? undefined : (done: number): void => options.onProgress!(done, plan.length)
  let results: ScenarioSummary[]
  if (options.pool === undefined && jobs === 1 && options.inWorkers !== true) {
    results = await runOrdered(plan.length, 1, async (i) => runOne(miniport, options, plan[i]!), progress)
  } else {
    const pool = options.pool ?? new SweepPool(jobs, options.runTimeoutMs ?? 60_000)
    try {
      results = await runOrdered(plan.length, options.pool?.size ?? jobs, (i) => pool.run({ file: miniport.file, name: miniport.name, config: sweepConfig(options.config, plan[i]!.replay), scenario: options.scenario }), progress)
    } finally {
      if (options.pool === undefined) await pool.close()
    }
  }
  const runs = plan.map((p, i) => {
    const c = classify(results[i]!, isLeak)
    return { ...p, outcome: c.outcome, findings: c.decisive }
  })
  const shard = positions === undefined ? {} : { shard: { ...options.shard!, planned: planned.length, positions, digest: planDigest(planned) } }
  return { miniport: miniport.name, mode, calls: calls.length, runs, summary: summarizeRuns(runs), baseline: clean.report.outcome, config: clean.machine.config, scenario: options.scenario, ...shard }
}

function runOne(miniport: LoadableMiniport, options: SweepOptions, run: PlannedRun): ScenarioSummary {
  try {
    return runForSweep(miniport, sweepConfig(options.config, run.replay), options.scenario)
  } catch (error) {
    return emulatorError(error)
  }
}

/** An exception from the emulator itself (not the driver): reported, never swallowed. */
export function emulatorError(error: unknown): ScenarioSummary {
  const e = error instanceof Error ? error : new Error(String(error))
  return { outcome: 'bugcheck', findings: [{ kind: 'emulator-error', message: `${e.name}: ${e.message}` }], bugcheck: null }
}

// ---- worker threads ----------------------------------------------------------------------------

export interface WorkerTask {
  readonly file: string
  readonly name: string
  readonly config: MachineConfig
  readonly scenario: ScenarioOptions
}

/** What a worker posts back: the run's summary, or why it could not import the miniport. */
export type WorkerReply = { readonly id: number; readonly summary: ScenarioSummary } | { readonly id: number; readonly loadError: string }

interface Pending {
  readonly resolve: (s: ScenarioSummary) => void
  readonly reject: (e: Error) => void
  readonly timer: NodeJS.Timeout
  readonly file: string
}

const ownFile = new URL(import.meta.url)
const fromSource = ownFile.pathname.endsWith('.ts')
const WORKER_URL = new URL(fromSource ? './sweep-worker.ts' : './sweep-worker.js', ownFile)

/**
 * A worker for this module: compiled JavaScript starts directly; from a checkout the worker
 * first registers tsx's loader and then imports the TypeScript entry (Node 20 does not apply
 * `--import` loaders to a worker's own entry module).
 */
function startWorker(): Worker {
  if (!fromSource) return new Worker(WORKER_URL)
  const tsx = import.meta.resolve('tsx/esm/api')
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(WORKER_URL.href)}) })`
  return new Worker(boot, { eval: true })
}

/** Worker threads that run sweep scenarios; each imports dmalab and the miniport once. */
export class SweepPool {
  readonly size: number
  private readonly idle: Worker[] = []
  private readonly waiting: Array<(w: Worker) => void> = []
  private readonly pending = new Map<Worker, Pending>()
  private readonly all = new Set<Worker>()
  private readonly timeoutMs: number
  private nextId = 0
  private closed = false

  constructor(size: number, timeoutMs = 60_000) {
    this.size = size
    this.timeoutMs = timeoutMs
    for (let i = 0; i < size; i++) this.idle.push(this.spawn())
  }

  private spawn(): Worker {
    const w = startWorker()
    this.all.add(w)
    w.on('message', (msg: WorkerReply) => {
      if ('loadError' in msg) this.failLoad(w, msg.loadError)
      else this.finish(w, msg.summary)
    })
    w.on('error', (err) => this.finish(w, emulatorError(err), true))
    w.on('exit', (code) => {
      this.all.delete(w)
      if (this.pending.has(w)) this.finish(w, emulatorError(new Error(`sweep worker exited with code ${code}`)), true)
    })
    return w
  }

  /** Runs one task; rejects with a MiniportLoadError when the worker cannot import the miniport. */
  run(task: WorkerTask): Promise<ScenarioSummary> {
    if (this.closed) return Promise.reject(new Error('the sweep pool is closed'))
    return new Promise((resolve, reject) => {
      const start = (w: Worker): void => {
        const timer = setTimeout(() => {
          // Driver code that never returns cannot be preempted: end the worker, call it a hang.
          this.finish(w, { outcome: 'findings', findings: [{ kind: 'hang', message: `the run did not finish within ${this.timeoutMs / 1000} s of host time (driver code that never returns?)` }], bugcheck: null }, true)
          void w.terminate()
        }, this.timeoutMs)
        this.pending.set(w, { resolve, reject, timer, file: task.file })
        w.postMessage({ id: this.nextId++, task })
      }
      const w = this.idle.pop()
      if (w !== undefined) start(w)
      else this.waiting.push(start)
    })
  }

  private failLoad(w: Worker, message: string): void {
    const p = this.pending.get(w)
    if (p === undefined) return
    clearTimeout(p.timer)
    this.pending.delete(w)
    p.reject(new MiniportLoadError(p.file, message))
    this.release(w, false)
  }

  private finish(w: Worker, summary: ScenarioSummary, dead = false): void {
    const p = this.pending.get(w)
    if (p === undefined) return
    clearTimeout(p.timer)
    this.pending.delete(w)
    p.resolve(summary)
    this.release(w, dead)
  }

  /** The worker is free again (or, dead, replaced) for the next waiting task. */
  private release(w: Worker, dead: boolean): void {
    if (this.closed) return
    const next = dead ? this.spawn() : w
    if (dead) void w.terminate()
    const waiter = this.waiting.shift()
    if (waiter !== undefined) waiter(next)
    else this.idle.push(next)
  }

  async close(): Promise<void> {
    this.closed = true
    for (const p of this.pending.values()) clearTimeout(p.timer)
    await Promise.all([...this.all].map((w) => w.terminate()))
  }
}
