// Systematic fault injection (DESIGN "Fault injection"): run the scenario clean to enumerate
// every allocation call, then once per call with exactly that call failed (`routine=X,nth=N`),
// and classify each run. In stack mode, one run per unique driver call stack, as Driver
// Verifier's systematic low-resources simulation does. Runs spread over worker threads and
// come back in call order whatever order they finish in.
import os from 'node:os'
import type { MachineConfig } from './config.js'
import { classify, planSweep, runOrdered, summarize as summarizeRuns, type PlannedRun, type ScenarioSummary, type SweepMode, type SweepRun, type SweepSummary } from './faults/sweep.js'
import type { EnumeratedCall } from './faults/injector.js'
import { isFindingKind, isLeakKind } from './kernel/kinds.js'
import { BUGCHECK, bugCheckName } from './kernel/bugcheck.js'
import { enumerateCalls, runForSweep, runScenario, type LoadableMiniport, type ScenarioOptions } from './scenario.js'
import { resolveConfig, type ResolvedConfig } from './config.js'
import { RunPool, WorkerLost } from './run-pool.js'
import { emulatorError, type RunResult, type RunTask } from './run-protocol.js'
import { planDigest, shardPositions, type Shard } from './faults/shard.js'
import { MiniportLoadError } from './driver/loader.js'
import { isCMiniport } from './driver/c/module.js'

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

/** The miniport a sweep runs: its file (workers import it) and, for an in-process sweep, its module. */
export interface SweepTarget {
  readonly name: string
  readonly file: string
  readonly module?: LoadableMiniport['module']
  /** A C driver's build, for the workers (taken from `module` when that is a C driver). */
  readonly wasm?: Uint8Array
}

/** What a worker task names the miniport by: its file and name, and a C driver's build. */
function workerTarget(miniport: SweepTarget): { file: string; name: string; wasm?: Uint8Array } {
  const wasm = miniport.wasm ?? (isCMiniport(miniport.module) ? miniport.module.cDriver.wasm : undefined)
  return { file: miniport.file, name: miniport.name, ...(wasm === undefined ? {} : { wasm }) }
}

export async function sweep(miniport: SweepTarget, options: SweepOptions): Promise<SweepResult> {
  const mode = options.mode ?? 'call'
  const requested = Math.max(1, options.jobs ?? defaultJobs())
  // Workers unless asked for one job in this thread with the module at hand (the API's tests).
  const inProcess = options.pool === undefined && requested === 1 && options.inWorkers !== true && miniport.module !== undefined
  const pool = inProcess ? null : (options.pool ?? new SweepPool(requested, options.runTimeoutMs))
  const target = workerTarget(miniport)
  try {
    const clean = inProcess ? enumerateHere({ ...miniport, module: miniport.module! }, options, mode) : await pool!.enumerate({ kind: 'enumerate', ...target, config: sweepConfig(options.config), scenario: options.scenario, stacks: mode === 'stack' })
    const planned = planSweep(clean.calls, mode)
    const positions = options.shard === undefined ? undefined : shardPositions(planned.length, options.shard)
    const plan = positions === undefined ? planned : positions.map((k) => planned[k]!)
    const progress = options.onProgress === undefined ? undefined : (done: number): void => options.onProgress!(done, plan.length)
    const results = pool === null
      ? await runOrdered(plan.length, 1, async (i) => runOne({ ...miniport, module: miniport.module! }, options, plan[i]!), progress)
      : await runOrdered(plan.length, pool.size, (i) => pool.run({ ...target, config: sweepConfig(options.config, plan[i]!.replay), scenario: options.scenario }), progress)
    const runs = plan.map((p, i) => {
      const c = classify(results[i]!, isLeak)
      return { ...p, outcome: c.outcome, findings: c.decisive }
    })
    const shard = positions === undefined ? {} : { shard: { ...options.shard!, planned: planned.length, positions, digest: planDigest(planned) } }
    return { miniport: miniport.name, mode, calls: clean.calls.length, runs, summary: summarizeRuns(runs), baseline: clean.outcome, config: clean.config, scenario: options.scenario, ...shard }
  } finally {
    if (pool !== null && options.pool === undefined) await pool.close()
  }
}

/** The clean run that counts every allocation call, in this thread. */
function enumerateHere(miniport: LoadableMiniport, options: SweepOptions, mode: SweepMode): { outcome: ScenarioSummary['outcome']; calls: EnumeratedCall[]; config: ResolvedConfig } {
  let calls: EnumeratedCall[] = []
  const clean = runScenario(miniport, sweepConfig(options.config), options.scenario, {
    onMachine: (m) => {
      enumerateCalls(m, mode === 'stack')
      calls = m.kernel.calls.injector.enumerated!
    },
  })
  return { outcome: clean.report.outcome, calls, config: clean.machine.config }
}

function runOne(miniport: LoadableMiniport, options: SweepOptions, run: PlannedRun): ScenarioSummary {
  try {
    return runForSweep(miniport, sweepConfig(options.config, run.replay), options.scenario)
  } catch (error) {
    return emulatorError(error)
  }
}

export { emulatorError }

// ---- worker threads ----------------------------------------------------------------------------

/** One sweep run for a worker. */
export interface WorkerTask {
  readonly file: string
  readonly name: string
  readonly wasm?: Uint8Array
  readonly config: MachineConfig
  readonly scenario: ScenarioOptions
}

/**
 * A sweep run whose worker driver code ended (or deafened): the driver ending the system it runs
 * in, as process.exit in a driver is (driver-exception, 0x7E).
 */
function workerLost(error: WorkerLost): ScenarioSummary {
  return { outcome: 'bugcheck', findings: [{ kind: 'driver-exception', message: error.message }], bugcheck: { code: BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, name: bugCheckName(BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED) } }
}

/**
 * Worker threads that run sweep scenarios (run-pool.ts: each imports dmalab and the miniport
 * once, under the wall-clock watchdog); the clean enumeration run goes through them too.
 */
export class SweepPool {
  readonly size: number
  private readonly pool: RunPool

  constructor(size: number, timeoutMs?: number) {
    this.size = size
    this.pool = new RunPool(size, timeoutMs === undefined ? {} : { timeoutMs })
  }

  /** Runs one task; rejects with a MiniportLoadError when the worker cannot import the miniport. */
  async run(task: WorkerTask): Promise<ScenarioSummary> {
    let r: RunResult
    try {
      r = await this.pool.run({ kind: 'summary', ...task })
    } catch (error) {
      if (error instanceof MiniportLoadError) throw error
      if (error instanceof WorkerLost) return workerLost(error)
      return emulatorError(error)
    }
    return r.kind === 'summary' ? r.summary : emulatorError(new Error(`a sweep run answered with a ${r.kind}`))
  }

  async enumerate(task: Extract<RunTask, { kind: 'enumerate' }>): Promise<{ outcome: ScenarioSummary['outcome']; calls: EnumeratedCall[]; config: ResolvedConfig }> {
    let r: RunResult
    try {
      r = await this.pool.run(task)
    } catch (error) {
      if (!(error instanceof WorkerLost)) throw error
      r = { kind: 'summary', summary: workerLost(error) }
    }
    if (r.kind === 'enumerate') return r
    // The clean run itself hung or crashed the emulator: no calls to sweep, and its outcome says why.
    if (r.kind === 'summary') return { outcome: r.summary.outcome, calls: [], config: resolveConfig({ ...task.config, wire: 'loopback' }) }
    return { outcome: r.report.outcome, calls: [], config: r.report.config }
  }

  close(): Promise<void> {
    return this.pool.close()
  }
}
