// What the watched worker costs a run. `dmalab run` and each configuration of `dmalab check`
// execute on a worker thread (src/run-pool.ts) so that driver code which never returns can be
// stopped; that thread is started, imports dmalab and the miniport, and is ended once per
// command. The same run made in this thread is the limit: the difference is the worker's price.
//  - cold: a pool of one started, one run, the pool closed (what one `dmalab run` pays);
//  - warm: a further run on a pool already started and warmed by WARM_RUNS runs, as this thread
//    is by the rows before (what each later run of `check` or a sweep pays: the message round
//    trip and the report's structured clone);
//  - per frame: a long run (LONG_FRAMES frames) in the warm worker against the same run here,
//    in µs per frame: what the worker's guarded built-ins (src/intrinsics.ts) cost each frame
//    of a long `dmalab run`.
import { RunPool } from '../src/run-pool.js'
import { runScenario, type LoadableMiniport } from '../src/scenario.js'

const scenario = { packets: 100, size: 1500, rx: 0 }
const ROUNDS = 5
const WARM_RUNS = 50
const LONG_FRAMES = 20_000
const long = { packets: LONG_FRAMES, size: 64, rx: 0 }

export interface WorkerCost {
  /** Milliseconds per run made in this thread. */
  inThreadMs: number
  /** Milliseconds per run through a fresh pool of one (start, import, run, close). */
  coldMs: number
  /** Milliseconds per run on a pool already started. */
  warmMs: number
  /** µs per frame of a long run in this thread, and in the warm worker. */
  inThreadFrameUs: number
  workerFrameUs: number
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

export async function workerCost(miniport: LoadableMiniport): Promise<WorkerCost> {
  runScenario(miniport, {}, scenario) // warm this thread's code paths, as the warm pool's are
  const inThread: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now()
    const { report } = runScenario(miniport, {}, scenario)
    inThread.push(performance.now() - t)
    if (report.outcome !== 'clean') throw new Error(`worker bench: the in-thread run was not clean (${report.findings[0]?.kind ?? report.outcome})`)
  }
  const task = { kind: 'report', file: miniport.file, name: miniport.name, config: {}, scenario } as const
  const cold: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now()
    const pool = new RunPool(1)
    try {
      const r = await pool.run(task)
      if (r.kind !== 'report' || r.report.outcome !== 'clean') throw new Error('worker bench: the worker run was not clean')
    } finally {
      await pool.close()
    }
    cold.push(performance.now() - t)
  }
  const warm: number[] = []
  const longTask = { ...task, scenario: long }
  const workerLong: number[] = []
  const pool = new RunPool(1)
  try {
    for (let i = 0; i < WARM_RUNS; i++) await pool.run(task)
    for (let i = 0; i < ROUNDS; i++) {
      const t = performance.now()
      await pool.run(task)
      warm.push(performance.now() - t)
    }
    for (let i = 0; i < 3; i++) {
      const t = performance.now()
      await pool.run(longTask)
      workerLong.push(((performance.now() - t) * 1000) / LONG_FRAMES)
    }
  } finally {
    await pool.close()
  }
  const here: number[] = []
  for (let i = 0; i < 3; i++) {
    const t = performance.now()
    runScenario(miniport, {}, long)
    here.push(((performance.now() - t) * 1000) / LONG_FRAMES)
  }
  return { inThreadMs: median(inThread), coldMs: median(cold), warmMs: median(warm), inThreadFrameUs: Math.min(...here), workerFrameUs: Math.min(...workerLong) }
}
